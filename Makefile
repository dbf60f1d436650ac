# Two commands for a fresh machine:  make demo   and   make test
# Both create .venv, install rewardscope with torch 2.13.0 (constraints.txt pins the version, not
# the build: see README "Two commands" for the CPU or your own CUDA build), then run.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_OUT ?= demo-output

.PHONY: install demo test bench clean

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	$(BIN)/python -m compileall -q src  # what pip does for a regular install: no compiling at every start
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/rewardscope demo --out $(DEMO_OUT) --overwrite

# the test suite (tests/) and every docstring example (src/): pyproject's testpaths and --doctest-modules
test: install
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache

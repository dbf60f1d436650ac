"""Settings of the docstring examples (``pytest --doctest-modules src``, part of ``make test``).

Each example runs in its own temporary folder, so examples may write files ("mask.tif")
as a user would; plotting is headless and numerical libraries use one thread, as in tests/.
This file sits outside the package (``src/rewardscope``) and is not installed.
"""

import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("OMP_NUM_THREADS", "1")

# the napari plugin's modules import napari and Qt: examples there run only where the
# optional extra rewardscope[napari] is installed (``make test`` installs it)
try:
    import magicgui  # noqa: F401
    import napari  # noqa: F401
except ImportError:
    collect_ignore_glob = ["rewardscope/napari/*"]


@pytest.fixture(autouse=True)
def _examples_run_in_a_temporary_folder(request: pytest.FixtureRequest, tmp_path, monkeypatch) -> None:
    if isinstance(request.node, pytest.DoctestItem):
        monkeypatch.chdir(tmp_path)

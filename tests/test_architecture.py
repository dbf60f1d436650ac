"""The package's shape: no import cycles, the core never imports the CLI or the plots, a light top level.

Imports are read from the source with :mod:`ast` (nothing is imported to find them), so a
cycle or a forbidden import is reported with the module and line that makes it.
"""

from __future__ import annotations

import ast
import fnmatch
import json
import pkgutil
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import rewardscope

ROOT = Path(rewardscope.__file__).resolve().parent
#: Layers that may draw figures or parse command lines; nothing else imports them.
TOP_LAYERS = ("rewardscope.cli", "rewardscope.report", "rewardscope.napari")
#: Heavy packages ``import rewardscope`` must not load.
HEAVY = ("torch", "optuna", "matplotlib", "sklearn", "skimage", "dask")


@dataclass(frozen=True)
class Import:
    """One imported name: the module it loads, the module the statement names, where, and when it runs."""

    target: str
    source: str
    line: int
    module_level: bool


def _modules() -> dict[str, Path]:
    """Every module of the package (name -> file), found on disk without importing anything."""
    found = {"rewardscope": ROOT / "__init__.py"}

    def walk(path: Path, prefix: str) -> None:
        for info in pkgutil.iter_modules([str(path)]):
            name = f"{prefix}.{info.name}"
            if info.ispkg:
                found[name] = path / info.name / "__init__.py"
                walk(path / info.name, name)
            else:
                found[name] = path / f"{info.name}.py"

    walk(ROOT, "rewardscope")
    return found


MODULES = _modules()


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _resolve(module: str, node: ast.ImportFrom) -> str:
    """Absolute name of the module a ``from ... import`` statement reads from."""
    if not node.level:
        return node.module or ""
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
    return f"{base}.{node.module}" if node.module else base


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> list[tuple[str, str]]:
    """(module loaded, module named) per rewardscope name of an import statement.

    ``from a import b`` loads ``a.b`` when that is a module, else ``a``; either way it names ``a``.
    """
    if isinstance(node, ast.Import):
        pairs = [(alias.name, alias.name) for alias in node.names]
    else:
        source = _resolve(module, node)
        pairs = [(f"{source}.{a.name}" if f"{source}.{a.name}" in MODULES else source, source) for a in node.names]
    return [p for p in dict.fromkeys(pairs) if p[1] == "rewardscope" or p[1].startswith("rewardscope.")]


def imports_of(module: str) -> list[Import]:
    """Every rewardscope import of ``module``: module level (run on import) or inside functions.

    Imports under ``if TYPE_CHECKING:`` count as function level (they never run on import).
    """
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"), filename=str(MODULES[module]))
    found: list[Import] = []

    def visit(node: ast.AST, module_level: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                found.extend(Import(t, s, child.lineno, module_level) for t, s in _targets(module, child))
            deferred = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) or (
                isinstance(child, ast.If) and _is_type_checking(child))
            visit(child, module_level and not deferred)

    visit(tree, True)
    return found


def _known(target: str) -> str:
    """``target`` or the closest package of it that exists (``import a.b.name`` of a missing module)."""
    while target not in MODULES and "." in target:
        target = target.rpartition(".")[0]
    return target


def _graph(*, deferred: bool = False) -> dict[str, set[str]]:
    """Import edges between rewardscope modules: module level, or also those inside functions."""
    return {m: {_known(i.target) for i in imports_of(m) if i.module_level or deferred} - {m} for m in MODULES}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component with more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return [_cycle_in(graph, set(c)) for c in sorted(components)]


def _cycle_in(graph: dict[str, set[str]], component: set[str]) -> list[str]:
    """A closed path ``a -> b -> ... -> a`` inside one strongly connected component."""
    start = min(component)
    path, seen = [start], {start: 0}
    while True:
        nxt = min(w for w in graph[path[-1]] if w in component)
        if nxt in seen:
            return path[seen[nxt]:] + [nxt]
        seen[nxt] = len(path)
        path.append(nxt)


def _in_layer(module: str, layers: tuple[str, ...]) -> bool:
    return any(module == layer or module.startswith(layer + ".") for layer in layers)


# --- the checker itself must be able to fail -------------------------------------------------

def test_find_cycles_reports_a_cycle_and_ignores_a_chain():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_imports_are_read_from_every_place_they_can_hide():
    found = {(i.target, i.module_level) for i in imports_of("rewardscope.cli.cmd_bench")}
    assert ("rewardscope.cli.common", True) in found          # module level, absolute
    assert ("rewardscope.report.bench", False) in found       # inside a command function
    assert ("rewardscope.bench", True) in found
    assert len(MODULES) > 60 and "rewardscope.optimize.settings" in MODULES


# --- the rules -------------------------------------------------------------------------------

def test_no_import_cycle_among_rewardscope_modules():
    cycles = find_cycles(_graph())
    assert not cycles, "module-level import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_no_cycle_hidden_in_function_level_imports():
    """A cycle through imports inside functions works at run time but tangles the layers."""
    cycles = find_cycles(_graph(deferred=True))
    assert not cycles, "import cycles (some imports inside functions):\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_core_never_imports_cli_or_report():
    bad = [f"{m} (line {i.line}) imports {i.target}"
           for m in MODULES if not _in_layer(m, TOP_LAYERS)
           for i in imports_of(m) if _in_layer(i.target, TOP_LAYERS[:2])]
    assert not bad, "the core imports the CLI or the plots:\n" + "\n".join(bad)


def test_every_import_names_a_module_that_exists():
    missing = [f"{m} (line {i.line}) imports from {i.source}" for m in MODULES for i in imports_of(m)
               if i.source not in MODULES]
    assert not missing, "imports of modules that do not exist:\n" + "\n".join(missing)


def _loaded_after(code: str) -> set[str]:
    """Names in ``sys.modules`` after running ``code`` in a fresh interpreter."""
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_import_rewardscope_is_light():
    loaded = _loaded_after("import rewardscope as rs; rs.__all__; dir(rs)")
    heavy = {m.split(".")[0] for m in loaded} & set(HEAVY)
    assert not heavy, f"import rewardscope loads {sorted(heavy)}"
    assert not any(m.startswith("rewardscope.workflows") for m in loaded)


def test_a_public_name_loads_its_module_only_when_used():
    loaded = _loaded_after("import rewardscope as rs; rs.run_workflow")
    assert "rewardscope.workflows.base" in loaded and "rewardscope.workflows.atoms" not in loaded


# --- the public API --------------------------------------------------------------------------

def test_public_api_lists_the_entry_points():
    expected = {"find_atoms", "classify_atoms", "map_amorphous", "segment_image", "segment_movie",
                "correct_drift", "read_image", "load_input", "simulate_haadf", "simulate_movie",
                "run_workflow", "Workflow", "StudySettings"}
    assert expected <= set(rewardscope.__all__)
    assert expected <= set(dir(rewardscope))
    assert len(set(rewardscope.__all__)) == len(rewardscope.__all__)


@pytest.mark.parametrize("name", rewardscope.__all__)
def test_every_public_name_resolves(name):
    obj = getattr(rewardscope, name)
    assert obj is not None
    module = rewardscope._PUBLIC.get(name)
    if module is not None:  # the lazy name is the object of its home module, not a copy
        import importlib

        assert getattr(importlib.import_module(module), name) is obj


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_thing"):
        rewardscope.no_such_thing  # noqa: B018


# --- the README's package layout is the truth about what exists ------------------------------

README = ROOT.parents[1] / "README.md"


def _layout_rows() -> dict[str, str]:
    """First cell (``io/``, ``units``, ``datasets``, ...) -> the whole row, from the README's table."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## Package layout", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = line.split("|")
        if line.startswith("| `") and len(cells) > 2:
            for name in re.findall(r"`([^`]+)`", cells[1]):
                rows[name.rstrip("/")] = line
    return rows


def test_readme_layout_lists_every_module_that_exists_and_no_other():
    rows = _layout_rows()
    top = {m.split(".")[1] for m in MODULES if m.count(".") >= 1}
    data = {p.name for p in ROOT.iterdir() if p.is_dir() and not (p / "__init__.py").exists()} - {"__pycache__"}
    assert top | data | {"__init__"} == set(rows), "README 'Package layout' rows vs src/rewardscope"
    missing = []
    for module in MODULES:
        parts = module.split(".")[1:]
        if len(parts) < 2:
            continue
        row = rows[parts[0]]
        for name in parts[1:]:  # each sub-module or sub-package named in its package's row
            names = {n.rstrip("/") for n in re.findall(r"`([^`]+)`", row)}
            if name not in names and not any(fnmatch.fnmatch(name, n) for n in names):
                missing.append(module)
    assert not missing, "modules the README's layout table does not name:\n" + "\n".join(sorted(set(missing)))


# --- the command line starts light (issue 14: whole-command speed) ---------------------------

#: Packages the CLI loads only inside the command that needs them (figures, the study, networks, clusters).
CLI_HEAVY = ("torch", "optuna", "matplotlib", "dask", "sklearn")
#: Packages the CLI should not load before a command runs either (``rewardscope.track`` loads its
#: sub-modules lazily and ``TrackConfig`` lives in the light ``workflows.tracking_config``).
CLI_HEAVY_TOO = ("pandas", "skimage")


def _cli_packages() -> set[str]:
    """Top-level packages in ``sys.modules`` after ``import rewardscope.cli.main`` in a fresh interpreter."""
    return {m.split(".")[0] for m in _loaded_after("import rewardscope.cli.main")}


def test_importing_the_cli_loads_no_heavy_package():
    """Every command's options come from light config modules; torch, optuna, matplotlib, dask load later."""
    loaded = _cli_packages()
    assert "typer" in loaded and "pydantic" in loaded
    assert not loaded & set(CLI_HEAVY), sorted(loaded & set(CLI_HEAVY))


def test_importing_the_cli_loads_no_pandas_or_skimage():
    loaded = _cli_packages()
    assert not loaded & set(CLI_HEAVY_TOO), sorted(loaded & set(CLI_HEAVY_TOO))


@pytest.mark.parametrize("module", ["rewardscope.workflows.atoms_config", "rewardscope.workflows.windows_config",
                                    "rewardscope.workflows.amorphous_config", "rewardscope.workflows.classify_config",
                                    "rewardscope.workflows.particles_config", "rewardscope.workflows.atoms_dcnn_config",
                                    "rewardscope.segment.dataset_config", "rewardscope.simulate.haadf_config",
                                    "rewardscope.simulate.movie_config", "rewardscope.bench.noise_config",
                                    "rewardscope.bench.speed_config", "rewardscope.workflows.tracking_config",
                                    "rewardscope.track.config", "rewardscope.defaults"])
def test_config_modules_import_neither_numpy_nor_the_workflows(module):
    """The light homes of the config models (re-exported by their workflows) need pydantic and units only."""
    loaded = _loaded_after(f"import {module}")
    assert not {m.split(".")[0] for m in loaded} & {"numpy", "pandas", "scipy", *CLI_HEAVY}
    assert not any(m.startswith("rewardscope.workflows.base") or m == "rewardscope.workflows.atoms_base" for m in loaded)

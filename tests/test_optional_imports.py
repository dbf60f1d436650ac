"""The napari plugin and hyperspy are optional: the CLI and the demo never import Qt or napari (issue 16)."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import rewardscope

#: Top-level modules that only the plugin (or a user) may load.
GUI = ("napari", "PyQt6", "PyQt5", "PySide6", "PySide2", "qtpy", "magicgui", "vispy", "superqt", "hyperspy")


def _loaded_after(code: str) -> set[str]:
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                          env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"})  # no MPLBACKEND: matplotlib picks its own
    return {m.split(".")[0] for m in json.loads(done.stdout.splitlines()[-1])}


def test_rewardscope_help_imports_no_qt_or_napari():
    loaded = _loaded_after("from rewardscope.cli.main import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n"
                           "    pass")
    assert "typer" in loaded and not loaded & set(GUI), sorted(loaded & set(GUI))


def test_every_module_the_demo_can_reach_imports_no_qt_or_napari():
    """The demo runs the CLI's commands, workflows and figures: every module but the plugin, and a figure drawn."""
    names = [m.name for m in pkgutil.walk_packages(rewardscope.__path__, "rewardscope.")
             if not m.name.startswith("rewardscope.napari")]
    code = ("import importlib, numpy as np\n"
            f"for name in {names!r}:\n    importlib.import_module(name)\n"
            "from rewardscope.report.common import save_figure\nimport matplotlib.pyplot as plt\n"
            "save_figure(plt.figure(), '/tmp/rewardscope-optional-imports.png')\n"
            "import matplotlib\nprint(matplotlib.get_backend(), file=sys.stderr)")
    loaded = _loaded_after(code)
    assert "rewardscope" in loaded and "matplotlib" in loaded
    assert not loaded & set(GUI), sorted(loaded & set(GUI))

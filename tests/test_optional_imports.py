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
    """Top-level names in ``sys.modules`` after ``code`` ran in a fresh interpreter (no MPLBACKEND set)."""
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                          env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"})
    return {m.split(".")[0] for m in json.loads(done.stdout.splitlines()[-1])}


def test_help_and_every_module_the_demo_can_reach_import_no_qt_or_napari():
    """``rewardscope --help``, then every module but the plugin (the demo's commands, workflows, figures) and a figure."""
    help_only = _loaded_after("from rewardscope.cli.main import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n"
                              "    pass")
    assert "typer" in help_only and not help_only & set(GUI), sorted(help_only & set(GUI))
    names = [m.name for m in pkgutil.walk_packages(rewardscope.__path__, "rewardscope.")
             if not m.name.startswith("rewardscope.napari")]
    code = ("import importlib\n"
            f"for name in {names!r}:\n    importlib.import_module(name)\n"
            "import tempfile\nfrom pathlib import Path\nfrom rewardscope.report.common import save_figure\n"
            "import matplotlib.pyplot as plt\nsave_figure(plt.figure(), Path(tempfile.mkdtemp()) / 'figure.png')")
    loaded = _loaded_after(code)
    assert {"rewardscope", "matplotlib", "torch"} <= loaded
    assert not loaded & set(GUI), sorted(loaded & set(GUI))

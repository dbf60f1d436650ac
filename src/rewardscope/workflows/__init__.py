"""Workflows: a search space, prepare/run and rewards, optimized by one generic loop.

The names below load on first access (PEP 562, :func:`rewardscope.lazy_names`), so that a
light module of this package (``atoms_config``, ``windows_config``) imports without the loop.

Examples
--------
>>> import rewardscope.workflows as wf
>>> "run_workflow" in dir(wf) and wf.StudySettings(trials=5).trials
5
"""

from __future__ import annotations

from rewardscope import lazy_names

#: Public name -> the module that defines it (imported on first access: importing the package is light).
_NAMES: dict[str, str] = {
    "StudySettings": "rewardscope.optimize.settings",
    **{name: "rewardscope.workflows.base"
       for name in ("Optimized", "Reward", "Workflow", "optimize", "run_workflow", "study_summary")},
}

__all__ = sorted(_NAMES)

__getattr__, __dir__ = lazy_names(__name__, _NAMES)

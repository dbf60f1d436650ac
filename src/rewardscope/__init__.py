"""rewardscope: reward-driven analysis of electron-microscopy images and movies.

Every analysis is one loop (see the README's "Package layout")::

    source --load_input--> image --prepare--> state --run(params)--> output --rewards--> objectives
                                                 ^                                  |
                                                 +-------- optimizer (Pareto) ------+
                                                            |
                                                     finish(output) --> Result

The entry points below are loaded on first use (PEP 562), so ``import rewardscope`` stays
light: torch, optuna and matplotlib load only when a workflow that needs them is called.
:mod:`rewardscope.report` (figures) and :mod:`rewardscope.cli` sit on top and are never
imported by the core.

Examples
--------
>>> import rewardscope as rs
>>> "find_atoms" in rs.__all__ and "find_atoms" in dir(rs)
True
>>> rs.StudySettings(trials=20).trials
20
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from rewardscope.errors import InputError, RewardscopeError
from rewardscope.units import Length, parse_length

__version__ = "0.1.0"

#: Public name -> the module that defines it (imported on first access).
_PUBLIC: dict[str, str] = {
    "find_atoms": "rewardscope.workflows.atoms",
    "find_atoms_batch": "rewardscope.workflows.atoms",
    "classify_atoms": "rewardscope.workflows.classify",
    "map_amorphous": "rewardscope.workflows.amorphous",
    "segment_image": "rewardscope.workflows.particles",
    "segment_movie": "rewardscope.workflows.movie",
    "segment_movie_parallel": "rewardscope.workflows.movie_parallel",
    "sliding_particles": "rewardscope.workflows.windows",
    "correct_drift": "rewardscope.workflows.drift",
    "track_particles": "rewardscope.workflows.tracking",
    "get_segmenter": "rewardscope.workflows.segmenters",
    "read_image": "rewardscope.io.read",
    "load_input": "rewardscope.io.load",
    "simulate_haadf": "rewardscope.simulate.haadf",
    "simulate_movie": "rewardscope.simulate.movie",
    "run_workflow": "rewardscope.workflows.base",
    "Workflow": "rewardscope.workflows.base",
    "StudySettings": "rewardscope.optimize.settings",
}

__all__ = [*_PUBLIC, "InputError", "Length", "RewardscopeError", "__version__", "parse_length"]


def lazy_names(package: str, names: dict[str, str]) -> tuple[Any, Any]:
    """``__getattr__`` and ``__dir__`` (PEP 562) for a package whose public names load on first access.

    ``names`` maps each name to the module defining it; a name is imported when first used
    and then cached in the package, so importing the package itself stays light (the
    sub-packages ``io``, ``detect``, ``rewards``, ``optimize`` and this one use it).

    Examples
    --------
    >>> get, names = lazy_names("rewardscope", {"Length": "rewardscope.units"})
    >>> get("Length").__name__, "Length" in names()
    ('Length', True)
    """

    def __getattr__(name: str) -> Any:
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(names[name]), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *names})

    return __getattr__, __dir__


__getattr__, __dir__ = lazy_names(__name__, _PUBLIC)

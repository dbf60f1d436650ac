"""Multi-objective optimization of workflow parameters: search spaces, Optuna studies,
Pareto fronts, hypervolume and the choice of one point.

Examples
--------
>>> from rewardscope.optimize import FloatParam, SearchSpace, run_study
>>> space = SearchSpace([FloatParam("x", 0.0, 1.0)])
>>> res = run_study(lambda p: [p["x"], (1 - p["x"]) ** 2], space, objective_names=["a", "b"],
...                 trials=20, seed=0, progress=False)
>>> sorted(res.best_values)
['a', 'b']
"""

from __future__ import annotations

from rewardscope import lazy_names

#: Public name -> the module that defines it (imported on first access: importing the package is light).
_NAMES: dict[str, str] = {
    "hypervolume": "rewardscope.optimize.pareto",
    "normalize": "rewardscope.optimize.pareto",
    "pareto_mask": "rewardscope.optimize.pareto",
    "SELECTION_RULES": "rewardscope.optimize.select",
    "select_point": "rewardscope.optimize.select",
    "selection_distances": "rewardscope.optimize.select",
    "StudySettings": "rewardscope.optimize.settings",
    "CategoricalParam": "rewardscope.optimize.space",
    "FloatParam": "rewardscope.optimize.space",
    "IntParam": "rewardscope.optimize.space",
    "Param": "rewardscope.optimize.space",
    "SearchSpace": "rewardscope.optimize.space",
    "SAMPLERS": "rewardscope.optimize.study",
    "StudyResult": "rewardscope.optimize.study",
    "make_sampler": "rewardscope.optimize.study",
    "run_study": "rewardscope.optimize.study",
    "summarise_study": "rewardscope.optimize.study",
}

__all__ = [
    "SAMPLERS", "SELECTION_RULES", "CategoricalParam", "FloatParam", "IntParam", "Param", "SearchSpace",
    "StudyResult", "StudySettings", "hypervolume", "make_sampler", "normalize", "pareto_mask", "run_study",
    "select_point", "selection_distances", "summarise_study",
]

__getattr__, __dir__ = lazy_names(__name__, _NAMES)

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

from rewardscope.optimize.pareto import hypervolume, normalize, pareto_mask
from rewardscope.optimize.select import SELECTION_RULES, select_point, selection_distances
from rewardscope.optimize.settings import StudySettings
from rewardscope.optimize.space import CategoricalParam, FloatParam, IntParam, Param, SearchSpace
from rewardscope.optimize.study import SAMPLERS, StudyResult, make_sampler, run_study, summarise_study

__all__ = [
    "SAMPLERS", "SELECTION_RULES", "CategoricalParam", "FloatParam", "IntParam", "Param", "SearchSpace",
    "StudyResult", "StudySettings", "hypervolume", "make_sampler", "normalize", "pareto_mask", "run_study",
    "select_point", "selection_distances", "summarise_study",
]

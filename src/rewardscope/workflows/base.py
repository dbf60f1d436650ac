"""The generic workflow loop: search space + prepare + run + rewards, optimized by Optuna.

A workflow (atoms, particles, amorphous regions, your own) says what to tune
(:meth:`Workflow.search_space`), does the parameter-independent work once
(:meth:`Workflow.prepare`), produces an output cheaply per parameter set
(:meth:`Workflow.run`) and scores it with reward functions ``(output, context) -> float``
(all minimised). :func:`optimize` runs that loop with :func:`rewardscope.optimize.run_study`
and returns the study plus the output at the chosen parameters.

Examples
--------
>>> import numpy as np
>>> from rewardscope.optimize import FloatParam, SearchSpace
>>> class Threshold(Workflow):
...     objective_names = ["too_many", "too_few"]
...     def search_space(self): return SearchSpace([FloatParam("t", 0.0, 1.0)])
...     def prepare(self, image): return np.asarray(image, float)
...     def run(self, state, params): return state > params["t"]
>>> wf = Threshold(rewards={"too_many": lambda m, c: abs(m.mean() - c) if m.mean() > c else 0.0,
...                         "too_few": lambda m, c: abs(m.mean() - c) if m.mean() < c else 0.0}, context=0.25)
>>> out = optimize(wf, np.linspace(0, 1, 64).reshape(8, 8), n_trials=20, progress=False)
>>> bool(abs(out.output.mean() - 0.25) < 0.1)
True
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rewardscope.errors import ParameterError
from rewardscope.optimize import SearchSpace, StudyResult, run_study
from rewardscope.progress import ProgressArg, ProgressCallback, progress_scope

Reward = Callable[[Any, Any], float]


@dataclass
class Workflow:
    """Base class of a reward-driven workflow.

    Attributes
    ----------
    rewards : mapping of str to callable
        ``name -> reward(output, context)``; every reward is minimised.
    context : object
        What the rewards compare against (physics prior, pixel size).
    reference_point : sequence of float, optional
        Hypervolume reference on raw reward values (None: normalized space).
    """

    rewards: Mapping[str, Reward]
    context: Any = None
    reference_point: Sequence[float] | None = None

    def __post_init__(self) -> None:
        if not self.rewards:
            raise ParameterError("a workflow needs at least one reward")
        bad = [name for name, fn in self.rewards.items() if not callable(fn)]
        if bad:
            raise ParameterError(f"rewards {bad} are not callable; a reward is a function (output, context) -> float")

    @property
    def objective_names(self) -> list[str]:
        """Names of the rewards, in order."""
        return list(self.rewards)

    def search_space(self) -> SearchSpace:
        """Parameters to tune."""
        raise NotImplementedError

    def prepare(self, image: Any) -> Any:
        """Parameter-independent, expensive work; done once per image.

        A subclass whose preparation takes long may accept a keyword ``progress`` (a
        callback ``progress(stage, done, total)``, :mod:`rewardscope.progress`);
        :func:`optimize` then passes its progress callback on.
        """
        return image

    def run(self, state: Any, params: dict[str, Any]) -> Any:
        """Cheap work for one parameter set; returns the output the rewards score."""
        raise NotImplementedError

    def describe(self, output: Any) -> dict[str, float]:
        """Extra numbers recorded per trial (e.g. ``n_atoms``); none by default."""
        return {}

    def evaluate(self, output: Any) -> dict[str, float]:
        """Every reward of ``output`` plus :meth:`describe`'s numbers."""
        values = {name: float(fn(output, self.context)) for name, fn in self.rewards.items()}
        values.update(self.describe(output))
        return values


@dataclass
class Optimized:
    """What :func:`optimize` returns.

    Attributes
    ----------
    study : StudyResult
        Trials, Pareto front, chosen parameters, hypervolume.
    state : object
        The prepared state (reusable, e.g. to run other Pareto points).
    output : object
        The workflow's output at the chosen parameters.
    seconds : dict of str to float
        ``prepare``, ``optimize`` and ``total`` wall times.
    """

    study: StudyResult
    state: Any
    output: Any
    seconds: dict[str, float] = field(default_factory=dict)


def optimize(workflow: Workflow, image: Any, *, n_trials: int = 200, sampler: str = "tpe", seed: int | None = 0,
             selection: str = "euclidean", storage: str | Path | None = None, study_name: str | None = None,
             warm_start: Sequence[Mapping[str, Any]] | None = None, progress: ProgressArg = True,
             sampler_options: Mapping[str, Any] | None = None, state: Any = None,
             stage: str | None = None) -> Optimized:
    """Prepare once, optimize the workflow's rewards, and run it at the chosen point.

    Parameters
    ----------
    workflow : Workflow
    image : object
        Whatever :meth:`Workflow.prepare` takes (usually a 2-D array).
    n_trials, sampler, seed, selection, storage, study_name, warm_start, sampler_options, stage
        As in :func:`rewardscope.optimize.run_study`.
    progress : bool or callable
        ``True``: progress on stderr; ``False``/``None``: silent; or a callback
        ``progress(stage, done, total)`` (:mod:`rewardscope.progress`), which gets the
        preparation's stages (where :meth:`Workflow.prepare` reports any) and the trials.
    state : object, optional
        An already prepared state (skips :meth:`Workflow.prepare`).

    Returns
    -------
    Optimized
    """
    t0 = time.perf_counter()
    with progress_scope(progress) as report:
        state = _prepare(workflow, image, report) if state is None else state
        t1 = time.perf_counter()
        study = run_study(lambda params: workflow.evaluate(workflow.run(state, params)), workflow.search_space(),
                          objective_names=workflow.objective_names, n_trials=n_trials, sampler=sampler, seed=seed,
                          selection=selection, storage=storage, study_name=study_name, warm_start=warm_start,
                          progress=report, reference_point=workflow.reference_point,
                          sampler_options=sampler_options, stage=stage)
    t2 = time.perf_counter()
    output = workflow.run(state, study.best_params)
    t3 = time.perf_counter()
    return Optimized(study=study, state=state, output=output,
                     seconds={"prepare": t1 - t0, "optimize": t2 - t1, "total": t3 - t0})


def _prepare(workflow: Workflow, image: Any, progress: ProgressCallback) -> Any:
    """``workflow.prepare(image)``, passing ``progress`` when its ``prepare`` takes that keyword."""
    if "progress" in inspect.signature(workflow.prepare).parameters:
        return workflow.prepare(image, progress=progress)
    return workflow.prepare(image)

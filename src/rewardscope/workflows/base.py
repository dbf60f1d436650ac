"""The generic workflow loop: search space + prepare + run + rewards, optimized by Optuna.

A workflow (atoms, particles, amorphous regions, your own) says what to tune
(:meth:`Workflow.search_space`), does the parameter-independent work once
(:meth:`Workflow.prepare`), produces an output cheaply per parameter set
(:meth:`Workflow.run`) and scores it with reward functions ``(output, context) -> float``
(all minimised); an optional :meth:`Workflow.finish` refines the chosen output (Gaussian
fits, the lattice prior, a second study) and :meth:`Workflow.to_result` packs it into a
:class:`~rewardscope.result.Result`.

:func:`run_workflow` is the one driver: it loads the input (:func:`rewardscope.io.load_input`),
prepares, runs the study with the config's :class:`~rewardscope.optimize.StudySettings`,
finishes, and writes the summary with one schema (:func:`study_summary`).
:func:`optimize` is the loop alone (prepare + study + the output at the chosen point).

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
>>> res = run_workflow(wf, np.linspace(0, 1, 64).reshape(8, 8), StudySettings(trials=20), progress=False)
>>> bool(abs(res.arrays["output"].mean() - 0.25) < 0.1), res.summary["objectives"]
(True, ['too_many', 'too_few'])
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rewardscope.errors import ParameterError
from rewardscope.io.load import Input, load_input
from rewardscope.optimize import SearchSpace, StudyResult, run_study
from rewardscope.optimize.settings import StudySettings
from rewardscope.result import Result
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
    reward_scales : mapping of str to float, optional
        Smallest span of a reward when the Pareto point is chosen (its scale: a
        difference that matters); rewards not named, or None, are min-max normalized.
    reward_gates : mapping of str to float, optional
        Per reward, a factor: the point is chosen among the Pareto points where that
        (non-negative) reward is at most the factor times its best value on the front.
    """

    rewards: Mapping[str, Reward]
    context: Any = None
    reference_point: Sequence[float] | None = None
    reward_scales: Mapping[str, float] | None = None
    reward_gates: Mapping[str, float] | None = None

    #: Label of the trials' progress stage in :func:`run_workflow` (None: ``"optimizing (<sampler>)"``).
    stage = None

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

    def score(self, state: Any, params: dict[str, Any]) -> dict[str, float]:
        """What one trial records: :meth:`evaluate` of :meth:`run` (a subclass may take a cheaper path to the same numbers)."""
        return self.evaluate(self.run(state, params))

    def study_settings(self, settings: StudySettings) -> StudySettings:
        """The settings :func:`run_workflow` runs the study with, given the config's.

        By default the config's; with nothing to tune (every parameter fixed) one trial at
        the config's seed and selection rule (no sampler options, no storage to resume).
        """
        if self.search_space().tunable_names:
            return settings
        return StudySettings(trials=1, seed=settings.seed, selection=settings.selection)

    def load(self, source: Any, pixel_size: Any = None) -> Input:
        """The input as :func:`rewardscope.io.load_input` gives it (one 2-D image by default)."""
        return load_input(source, pixel_size)

    def finish(self, output: Any, *, state: Any, inp: Input, progress: ProgressCallback) -> tuple[Any, dict[str, Any]]:
        """Work after the study on the chosen output (refinement, lattice prior, a second study).

        Returns the final output and extra summary entries; by default both unchanged / empty.
        """
        return output, {}

    def to_result(self, output: Any, *, study: StudyResult, inp: Input, summary: dict[str, Any]) -> Result:
        """Pack the final output into a :class:`~rewardscope.result.Result`.

        By default: a DataFrame output becomes the table ``output``, an array the array
        ``output``; the tables ``trials`` and ``pareto`` and the study are always kept.
        """
        tables: dict[str, pd.DataFrame] = {"trials": study.trials, "pareto": study.pareto}
        arrays: dict[str, np.ndarray] = {}
        if isinstance(output, pd.DataFrame):
            tables = {"output": output, **tables}
        elif isinstance(output, np.ndarray):
            arrays["output"] = output
        image = inp.image if isinstance(inp.image, np.ndarray) else None
        return Result(tables=tables, arrays=arrays, summary=summary, image=image, pixel_size=inp.pixel_size,
                      extras={"study": study, "output": output})


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


def optimize(workflow: Workflow, image: Any, settings: StudySettings | None = None, *,
             warm_start: Sequence[Mapping[str, Any]] | None = None, progress: ProgressArg = True,
             state: Any = None, stage: str | None = None) -> Optimized:
    """Prepare once, optimize the workflow's rewards, and run it at the chosen point.

    Parameters
    ----------
    workflow : Workflow
    image : object
        Whatever :meth:`Workflow.prepare` takes (usually a 2-D array).
    settings : StudySettings, optional
        Trials, sampler, selection rule, seed, storage (default: ``StudySettings()``).
    warm_start : sequence of dict, optional
        Parameter sets tried first (e.g. the previous frame's Pareto set).
    progress : bool or callable
        ``True``: progress on stderr; ``False``/``None``: silent; or a callback
        ``progress(stage, done, total)`` (:mod:`rewardscope.progress`), which gets the
        preparation's stages (where :meth:`Workflow.prepare` reports any) and the trials.
    state : object, optional
        An already prepared state (skips :meth:`Workflow.prepare`).
    stage : str, optional
        Label of the trials' progress stage.

    Returns
    -------
    Optimized
    """
    settings = settings or StudySettings()
    t0 = time.perf_counter()
    with progress_scope(progress) as report:
        state = _prepare(workflow, image, report) if state is None else state
        t1 = time.perf_counter()
        study = run_study(lambda params: workflow.score(state, params), workflow.search_space(),
                          objective_names=workflow.objective_names, warm_start=warm_start, progress=report,
                          reference_point=workflow.reference_point, stage=stage,
                          selection_scales=_per_reward(workflow, workflow.reward_scales, 0.0),
                          selection_gates=_per_reward(workflow, workflow.reward_gates, float("nan")),
                          **settings.study_kwargs())
    t2 = time.perf_counter()
    output = workflow.run(state, study.best_params)
    t3 = time.perf_counter()
    return Optimized(study=study, state=state, output=output,
                     seconds={"prepare": t1 - t0, "optimize": t2 - t1, "total": t3 - t0})


def _per_reward(workflow: Workflow, values: Mapping[str, float] | None, default: float) -> list[float] | None:
    """A per-reward setting (scales, gates) in objective order, ``default`` where unnamed (None without any)."""
    return [float(values.get(name, default)) for name in workflow.objective_names] if values else None


def _prepare(workflow: Workflow, image: Any, progress: ProgressCallback) -> Any:
    """``workflow.prepare(image)``, passing ``progress`` when its ``prepare`` takes that keyword."""
    if "progress" in inspect.signature(workflow.prepare).parameters:
        return workflow.prepare(image, progress=progress)
    return workflow.prepare(image)


def study_summary(study: StudyResult, settings: StudySettings) -> dict[str, Any]:
    """The summary entries every study writes, with one schema for every workflow.

    Keys: ``objectives`` (reward names), ``best_params``, ``best_values`` (reward values at
    the chosen point), ``hypervolume`` with ``hypervolume_reference`` (None: min-max
    normalized space), ``n_trials``, ``n_pareto`` and ``study`` (the settings).

    Examples
    --------
    >>> from rewardscope.optimize import FloatParam, SearchSpace, run_study
    >>> st = run_study(lambda p: [p["x"], 1 - p["x"]], SearchSpace([FloatParam("x", 0.0, 1.0)]),
    ...                objective_names=["a", "b"], trials=5, progress=False)
    >>> study_summary(st, StudySettings(trials=5))["objectives"]
    ['a', 'b']
    """
    return {"objectives": list(study.objective_names), "best_params": dict(study.best_params),
            "best_values": dict(study.best_values), "hypervolume": study.hypervolume,
            "hypervolume_reference": study.reference_point, "n_trials": int(len(study.trials)),
            "n_pareto": int(len(study.pareto)), "study": settings.model_dump(mode="json")}


def _settings_of(config: Any) -> StudySettings:
    if config is None:
        return StudySettings()
    if isinstance(config, StudySettings):
        return config
    settings = getattr(config, "study", None)
    if not isinstance(settings, StudySettings):
        raise ParameterError(f"{type(config).__name__} has no 'study' settings (StudySettings)")
    return settings


def run_workflow(workflow: Workflow, source: Any, config: Any = None, *,
                 warm_start: Sequence[Mapping[str, Any]] | None = None, progress: ProgressArg = False,
                 state: Any = None) -> Result:
    """Load, prepare, optimize, finish and summarise one workflow on one input.

    The same as :func:`start_workflow` followed by :func:`finish_workflow`.

    Parameters
    ----------
    workflow : Workflow
        Search space, prepare/run (+ finish) and rewards.
    source : path, array, ImageData, Input, ...
        Anything :meth:`Workflow.load` takes (by default what :func:`rewardscope.io.load_input` takes).
    config : pydantic model with ``study`` (and optionally ``pixel_size``), or StudySettings, optional
        The workflow's config; its ``study`` settings drive the optimizer.
    warm_start : sequence of dict, optional
        Parameter sets tried first.
    progress : bool or callable
        As in :func:`optimize`; :meth:`Workflow.finish` gets it too.
    state : object, optional
        An already prepared state.

    Returns
    -------
    Result
        Whatever :meth:`Workflow.to_result` builds; ``summary`` holds :func:`study_summary`'s
        keys, ``pixel_size_angstrom``, ``image_shape``, ``seconds`` and ``config``.
    """
    with progress_scope(progress) as report:
        started = start_workflow(workflow, source, config, warm_start=warm_start, progress=report, state=state)
        return finish_workflow(started, progress=report)


@dataclass
class Started:
    """A workflow whose study has run, before :meth:`Workflow.finish` (:func:`start_workflow`).

    Attributes
    ----------
    workflow : Workflow
    optimized : Optimized
        The study, the prepared state and the output at the chosen point.
    input : Input
    settings : StudySettings
    config : object
        The config given to :func:`start_workflow`.
    """

    workflow: Workflow
    optimized: Optimized
    input: Any
    settings: StudySettings
    config: Any = None

    @property
    def study(self) -> StudyResult:
        """The study (its Pareto set can warm-start the next image while this one finishes)."""
        return self.optimized.study


def start_workflow(workflow: Workflow, source: Any, config: Any = None, *,
                   warm_start: Sequence[Mapping[str, Any]] | None = None, progress: ProgressArg = False,
                   state: Any = None) -> Started:
    """The first half of :func:`run_workflow`: load, prepare and optimize (parameters as there).

    The :func:`on_study` listeners are called with the study at its end. The second half,
    :func:`finish_workflow`, needs nothing from the next image, so a chain of images (each
    warm-started from the previous study) can finish one image while the next one's study runs.

    Returns
    -------
    Started
    """
    settings = workflow.study_settings(_settings_of(config))
    inp = workflow.load(source, getattr(config, "pixel_size", None))
    opt = optimize(workflow, inp.image, settings, warm_start=warm_start, progress=progress, state=state,
                   stage=workflow.stage)
    for listener in _ON_STUDY.get():
        listener(opt.study)
    return Started(workflow=workflow, optimized=opt, input=inp, settings=settings, config=config)


def finish_workflow(started: Started, *, progress: ProgressArg = False) -> Result:
    """The second half of :func:`run_workflow`: :meth:`Workflow.finish`, the summary and the result.

    Returns
    -------
    Result
        As :func:`run_workflow`.
    """
    workflow, opt, inp, config = started.workflow, started.optimized, started.input, started.config
    t0 = time.perf_counter()
    with progress_scope(progress) as report:
        output, extra = workflow.finish(opt.output, state=opt.state, inp=inp, progress=report)
    seconds = dict(opt.seconds)
    seconds["finish"] = time.perf_counter() - t0
    seconds["total"] += seconds["finish"]
    summary = {"workflow": type(workflow).__name__,
               "pixel_size_angstrom": None if inp.pixel_size is None else inp.pixel_size.angstrom,
               "image_shape": list(getattr(inp.image, "shape", ())), **study_summary(opt.study, started.settings),
               "seconds": seconds, **extra}
    if config is not None and hasattr(config, "model_dump") and not isinstance(config, StudySettings):
        summary["config"] = config.model_dump(mode="json")
    result = workflow.to_result(output, study=opt.study, inp=inp, summary=summary)
    if _KEEP_STATE.get():
        result.extras["trial_runner"] = functools.partial(_run_trial, workflow, opt.state)
    return result


#: Set by :func:`keeping_state`: results of :func:`run_workflow` then keep their prepared state.
_KEEP_STATE: ContextVar[bool] = ContextVar("rewardscope_keep_state", default=False)


@contextlib.contextmanager
def keeping_state() -> Iterator[None]:
    """Inside this block, results of :func:`run_workflow` can re-run any trial (:func:`trial_output`).

    They keep the workflow and its prepared state (the LoG scale space, the denoised
    image, ...), which costs memory, hence opt-in. Used by the napari plugin's Pareto
    widget: a click on a point of the front shows that trial's output, exactly as the
    rewards scored it. The setting is per thread (a context variable).

    Examples
    --------
    >>> import numpy as np
    >>> from rewardscope.optimize import FloatParam, SearchSpace
    >>> class Threshold(Workflow):
    ...     def search_space(self): return SearchSpace([FloatParam("t", 0.0, 1.0)])
    ...     def run(self, state, params): return state > params["t"]
    >>> wf = Threshold(rewards={"far": lambda m, c: abs(m.mean() - 0.5)})
    >>> with keeping_state():
    ...     res = run_workflow(wf, np.linspace(0, 1, 64).reshape(8, 8), StudySettings(trials=5), progress=False)
    >>> int(trial_output(res, {"t": 0.25}).sum())
    48
    """
    token = _KEEP_STATE.set(True)
    try:
        yield
    finally:
        _KEEP_STATE.reset(token)


#: Set by :func:`on_study`: called with each study of :func:`run_workflow` before its finish.
_ON_STUDY: ContextVar[tuple[Callable[[StudyResult], Any], ...]] = ContextVar("rewardscope_on_study", default=())


@contextlib.contextmanager
def on_study(listener: Callable[[StudyResult], Any]) -> Iterator[None]:
    """Inside this block, :func:`run_workflow` calls ``listener(study)`` as soon as a study ends.

    The call comes before :meth:`Workflow.finish` (e.g. the lattice prior), so a caller can
    start on the study (the CLI draws the Pareto plot in a second process) while the
    workflow finishes. Per thread (a context variable); blocks nest.

    Examples
    --------
    >>> import numpy as np
    >>> from rewardscope.optimize import FloatParam, SearchSpace
    >>> class Square(Workflow):  # the image is ignored: the output is x squared
    ...     def run(self, state, params): return params["x"] ** 2
    ...     def search_space(self): return SearchSpace([FloatParam("x", -1.0, 1.0)])
    >>> seen = []
    >>> with on_study(lambda study: seen.append(len(study.trials))):
    ...     _ = run_workflow(Square(rewards={"sq": lambda v, c: v}), np.eye(8), StudySettings(trials=4), progress=False)
    >>> seen
    [4]
    """
    token = _ON_STUDY.set((*_ON_STUDY.get(), listener))
    try:
        yield
    finally:
        _ON_STUDY.reset(token)


def _run_trial(workflow: Workflow, state: Any, params: Mapping[str, Any]) -> Any:
    return workflow.run(state, dict(params))


def trial_output(result: Result, params: Mapping[str, Any]) -> Any:
    """The workflow's output at ``params`` (e.g. another point of the Pareto front), before ``finish``.

    Parameters
    ----------
    result : Result
        Made by :func:`run_workflow` inside :func:`keeping_state`.
    params : mapping
        A trial's parameters (a row of ``result.tables["pareto"]`` has them).

    Returns
    -------
    object
        What :meth:`Workflow.run` returns (the output the rewards scored).

    Raises
    ------
    ParameterError
        The result does not keep its state.
    """
    runner = result.extras.get("trial_runner")
    if runner is None:
        raise ParameterError("this result keeps no prepared state; run the workflow inside keeping_state()")
    return runner(params)

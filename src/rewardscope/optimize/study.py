"""Run a multi-objective Optuna study and summarise it: trials, Pareto front, choice.

:func:`run_study` is the one place where rewardscope talks to Optuna. It turns a
:class:`~rewardscope.optimize.space.SearchSpace` and a plain objective function
(``params -> objective values``, all minimised) into a :class:`StudyResult`: every trial
as a table, the non-dominated trials, one chosen point (Euclidean or Chebyshev distance to
the ideal on min-max normalized objectives) and the hypervolume. Studies can live in a
SQLite file so that an interrupted run resumes where it stopped, and can be warm-started
from parameter sets of an earlier run (movies, tiles).
"""

from __future__ import annotations

import contextlib
import math
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rewardscope.errors import ParameterError
from rewardscope.optimize.fastmath import vectorised_tpe_math
from rewardscope.optimize.pareto import hypervolume as _hypervolume
from rewardscope.optimize.pareto import normalize, pareto_mask
from rewardscope.optimize.select import SELECTION_RULES, select_point, selection_distances
from rewardscope.optimize.space import SearchSpace
from rewardscope.progress import ProgressArg, progress_scope, start_stage

SAMPLERS = ("tpe", "gp", "nsga2")
#: Reference point of the default hypervolume, in min-max normalized objective space.
NORMALISED_REFERENCE = 1.1

Objective = Callable[[dict[str, Any]], Sequence[float] | Mapping[str, float]]


@dataclass
class StudyResult:
    """Outcome of :func:`run_study`.

    Attributes
    ----------
    trials : pandas.DataFrame
        One row per completed trial: ``trial``, the parameters, the objectives, any extra
        numbers the objective returned, ``seconds`` and ``pareto`` (bool).
    pareto : pandas.DataFrame
        The non-dominated rows of ``trials`` (by trial number) plus ``distance`` (to the
        ideal point, normalized) and ``selected`` (bool, exactly one True).
    best_params, best_values : dict
        Parameters and objective values of the selected point.
    hypervolume : float
        Hypervolume of the front. With ``reference_point`` given, computed on raw
        objective values against it; otherwise on objectives min-max normalized over all
        completed trials, reference 1.1 in each (then only comparable within one study;
        use :meth:`hypervolume_in` to compare studies).
    seconds : float
        Wall time of this call (not counting earlier runs of a resumed study).
    objective_names, param_names : list of str
    best_trial : int
        Trial number of the selected point.
    sampler, selection : str
    reference_point : tuple of float or None
    study : optuna.Study
        The underlying study (for Optuna's own plots).

    Examples
    --------
    >>> from rewardscope.optimize import FloatParam, SearchSpace, run_study
    >>> res = run_study(lambda p: [p["x"], (1 - p["x"]) ** 2], SearchSpace([FloatParam("x", 0, 1)]),
    ...                 objective_names=["a", "b"], trials=5, progress=False)
    >>> len(res.trials)
    5
    """

    trials: pd.DataFrame
    pareto: pd.DataFrame
    best_params: dict[str, Any]
    best_values: dict[str, float]
    hypervolume: float
    seconds: float
    objective_names: list[str]
    param_names: list[str]
    best_trial: int
    sampler: str
    selection: str
    reference_point: tuple[float, ...] | None = None
    study: Any = field(default=None, repr=False)

    def values(self, *, pareto_only: bool = False) -> np.ndarray:
        """Objective values, shape (n_trials or n_pareto, n_objectives)."""
        table = self.pareto if pareto_only else self.trials
        return table[self.objective_names].to_numpy(float)

    def hypervolume_in(self, lower: Sequence[float], upper: Sequence[float], *,
                       reference: float | Sequence[float] = NORMALISED_REFERENCE) -> float:
        """Hypervolume after normalizing objectives with given bounds.

        Use the same ``lower``/``upper`` (e.g. the min and max over several studies) for
        every study to compare their hypervolumes.

        Parameters
        ----------
        lower, upper : sequence of float, length n_objectives
            Values mapped to 0 and 1.
        reference : float or sequence of float
            Reference point in the normalized space.
        """
        norm = normalize(self.values(pareto_only=True), lower=np.asarray(lower, float),
                         upper=np.asarray(upper, float))
        return _hypervolume(norm, reference)

    def summary(self) -> dict[str, Any]:
        """JSON-able digest (chosen point, hypervolume, counts, timing)."""
        return {
            "best_params": self.best_params, "best_values": self.best_values,
            "best_trial": self.best_trial, "hypervolume": self.hypervolume,
            "reference_point": list(self.reference_point) if self.reference_point else None,
            "n_trials": len(self.trials), "n_pareto": len(self.pareto),
            "sampler": self.sampler, "selection": self.selection, "seconds": self.seconds,
        }


def make_sampler(name: str, *, seed: int | None, options: Mapping[str, Any] | None = None) -> Any:
    """Build an Optuna sampler by name.

    Parameters
    ----------
    name : {"tpe", "gp", "nsga2"}
        Multivariate TPE (Optuna's, with per-trial bookkeeping cached:
        :class:`~rewardscope.optimize.tpe.CachedTPESampler`, same trials for the same
        seed; option ``batch``: trials per fit of its model), Gaussian-process BO, or NSGA-II.
    seed : int or None
    options : mapping, optional
        Extra keyword arguments of the sampler (e.g. ``{"population_size": 100}``).
    """
    import optuna

    opts = dict(options or {})
    if name == "tpe":
        from rewardscope.optimize.tpe import CachedTPESampler, cached_tpe_available

        opts.setdefault("multivariate", True)
        if not cached_tpe_available():
            opts.pop("batch", None)
            return optuna.samplers.TPESampler(seed=seed, **opts)
        return CachedTPESampler(seed=seed, **opts)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed, **opts)
    if name == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, **opts)
    raise ParameterError(f"unknown sampler {name!r}; use one of {list(SAMPLERS)}")


def _storage(path: str | Path | None) -> Any:
    if path is None:
        return None
    text = str(path)
    if "://" in text:
        return text
    file = Path(text)
    file.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{file.resolve()}"


@contextlib.contextmanager
def _quiet_optuna() -> Iterator[None]:
    """Silence Optuna's per-trial log lines and warnings (errors still show), then restore."""
    import optuna

    old = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            warnings.filterwarnings("ignore", message=".*(independent|fallback).*")
            yield
    finally:
        optuna.logging.set_verbosity(old)


def _split_output(out: Any, names: Sequence[str]) -> tuple[list[float], dict[str, float]]:
    """Objective values and extra numbers from what the user objective returned."""
    if isinstance(out, Mapping):
        missing = [n for n in names if n not in out]
        if missing:
            raise ParameterError(f"objective returned {sorted(out)}, missing objectives {missing}")
        extras = {k: float(v) for k, v in out.items() if k not in names and np.isscalar(v)}
        return [float(out[n]) for n in names], extras
    vals = [float(v) for v in np.atleast_1d(np.asarray(out, float))]
    if len(vals) != len(names):
        raise ParameterError(f"objective returned {len(vals)} values for {len(names)} objectives {list(names)}")
    return vals, {}


def _check_args(trials: int, objective_names: Sequence[str], selection: str,
                reference_point: Sequence[float] | None) -> None:
    if not isinstance(trials, (int, np.integer)) or trials < 1:
        raise ParameterError(f"trials must be a positive integer, got {trials!r}")
    if not objective_names or len(set(objective_names)) != len(objective_names):
        raise ParameterError(f"objective names must be unique and non-empty, got {list(objective_names)}")
    if selection not in SELECTION_RULES:
        raise ParameterError(f"unknown selection rule {selection!r}; use one of {list(SELECTION_RULES)}")
    if reference_point is not None and len(reference_point) != len(objective_names):
        raise ParameterError(f"reference point needs {len(objective_names)} values, got {list(reference_point)}")


def run_study(objective: Objective, space: SearchSpace, *, objective_names: Sequence[str],
              trials: int = 200, sampler: str | Any = "tpe", seed: int | None = 0,
              selection: str = "euclidean", storage: str | Path | None = None,
              study_name: str | None = None, warm_start: Sequence[Mapping[str, Any]] | None = None,
              progress: ProgressArg = True, reference_point: Sequence[float] | None = None,
              sampler_options: Mapping[str, Any] | None = None, stage: str | None = None,
              selection_scales: Sequence[float] | None = None,
              selection_gates: Sequence[float] | None = None) -> StudyResult:
    """Minimise several objectives over a search space with Optuna.

    Parameters
    ----------
    objective : callable
        ``objective(params: dict) -> sequence of floats`` (one per objective, minimised),
        or a mapping holding the objective names plus extra numbers to record (e.g.
        ``n_atoms``). A NaN/inf value marks the trial failed (left out of the tables).
    space : SearchSpace
        Parameters to tune.
    objective_names : sequence of str
        Names of the objectives (columns of the tables).
    trials : int
        Total number of trials of the study. A resumed study only runs the ones missing
        (completed trials count; failed or interrupted ones are run again).
    sampler : {"tpe", "gp", "nsga2"} or optuna sampler
        Multivariate TPE (default), Gaussian-process BO or NSGA-II.
    seed : int or None
        Seed of the sampler; same seed, same trials.
    selection : {"euclidean", "chebyshev"}
        Rule that picks one Pareto point (distance to the ideal, normalized objectives).
    storage : str or Path, optional
        SQLite file (or an SQLAlchemy URL) holding the study; re-running with the same
        file and ``study_name`` resumes it.
    study_name : str, optional
        Name of the study inside ``storage`` (default ``"rewardscope"``).
    warm_start : sequence of dict, optional
        Parameter sets evaluated first (clipped into the space), e.g. the Pareto set of
        the previous frame; they count towards ``trials``.
    progress : bool or callable
        ``True``: progress on stderr (a bar on a terminal, log lines elsewhere);
        ``False``/``None``: silent; or a callback ``progress(stage, done, total)``
        called after every trial (see :mod:`rewardscope.progress`).
    reference_point : sequence of float, optional
        Hypervolume reference on raw objective values (comparable across studies).
    sampler_options : mapping, optional
        Extra keyword arguments for the sampler (e.g. ``{"population_size": 100}``).
    stage : str, optional
        Name of the progress stage (default ``"optimizing (<sampler>)"``, e.g. ``"optimizing (tpe)"``).
    selection_scales : sequence of float, optional
        Smallest span per objective when the Pareto point is chosen
        (:func:`~rewardscope.optimize.select.selection_distances`; default plain min-max).
    selection_gates : sequence of float, optional
        Per objective, a factor (NaN: none): the point is chosen among the Pareto points whose
        value is at most that factor times the front's best (:func:`~rewardscope.optimize.select.gated`).

    Returns
    -------
    StudyResult

    Raises
    ------
    ParameterError
        Bad ``trials``, sampler, selection, names, or no trial produced finite values.

    Examples
    --------
    >>> from rewardscope.optimize import FloatParam, SearchSpace
    >>> space = SearchSpace([FloatParam("x", 0.0, 1.0)])
    >>> res = run_study(lambda p: [p["x"], 1 - p["x"]], space, objective_names=["a", "b"],
    ...                 trials=10, progress=False)
    >>> bool(res.pareto["selected"].sum() == 1)
    True
    """
    import optuna

    _check_args(trials, objective_names, selection, reference_point)
    names = list(objective_names)
    sampler_obj = make_sampler(sampler, seed=seed, options=sampler_options) if isinstance(sampler, str) else sampler
    start = time.perf_counter()
    with _quiet_optuna(), vectorised_tpe_math():
        study = optuna.create_study(
            directions=["minimize"] * len(names), sampler=sampler_obj, storage=_storage(storage),
            study_name=study_name or "rewardscope", load_if_exists=storage is not None)
        _check_resumed(study, names, space)
        study.set_metric_names(names)
        done = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))
        remaining = max(0, int(trials) - done)
        for params in list(warm_start or [])[:remaining]:
            clipped = space.clip(params)
            study.enqueue_trial({n: clipped[n] for n in space.tunable_names}, skip_if_exists=True)

        def _objective(trial: Any) -> list[float]:
            params = space.suggest(trial)
            vals, extras = _split_output(objective(params), names)
            for key, value in extras.items():
                trial.set_user_attr(key, value)
            advance()  # here, not as an Optuna callback: those get a deep copy of every trial
            return [v if math.isfinite(v) else float("nan") for v in vals]

        with progress_scope(progress) as report:
            label = stage or f"optimizing ({sampler if isinstance(sampler, str) else 'custom'})"
            advance = start_stage(report, label, total=remaining, unit="trials")
            study.optimize(_objective, n_trials=remaining, catch=())
    seconds = time.perf_counter() - start
    return summarise_study(study, space, objective_names=names, selection=selection, seconds=seconds,
                           reference_point=reference_point, selection_scales=selection_scales,
                           selection_gates=selection_gates,
                           sampler_name=sampler if isinstance(sampler, str) else type(sampler).__name__)


def _check_resumed(study: Any, names: list[str], space: SearchSpace) -> None:
    old = study.metric_names
    if old is not None and list(old) != names:
        raise ParameterError(f"stored study has objectives {old}, not {names}; use another study name")
    for t in study.get_trials(deepcopy=False):
        if t.params and set(t.params) != set(space.tunable_names):
            raise ParameterError(f"stored study has parameters {sorted(t.params)}, not {sorted(space.tunable_names)}")
        break


def trials_table(study: Any, space: SearchSpace, objective_names: Sequence[str]) -> pd.DataFrame:
    """One row per completed trial: trial, params, objectives, extras, seconds."""
    import optuna

    rows = []
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        row: dict[str, Any] = {"trial": t.number}
        row.update({p.name: t.params[p.name] if p.name in t.params else p.suggest(None) for p in space})
        row.update(dict(zip(objective_names, t.values, strict=True)))
        row.update({k: v for k, v in t.user_attrs.items() if np.isscalar(v)})
        row["seconds"] = t.duration.total_seconds() if t.duration else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def summarise_study(study: Any, space: SearchSpace, *, objective_names: Sequence[str],
                    selection: str = "euclidean", seconds: float = float("nan"),
                    reference_point: Sequence[float] | None = None, sampler_name: str = "",
                    selection_scales: Sequence[float] | None = None,
                    selection_gates: Sequence[float] | None = None) -> StudyResult:
    """Build a :class:`StudyResult` from an Optuna study (also a stored one).

    Parameters
    ----------
    study : optuna.Study
    space : SearchSpace
    objective_names : sequence of str
    selection : {"euclidean", "chebyshev"}
    seconds : float
        Time to report.
    reference_point : sequence of float, optional
        Raw-space hypervolume reference; default: normalized space, reference 1.1.
    sampler_name : str
    selection_scales, selection_gates : sequence of float, optional
        Smallest span and eligibility factor per objective in the choice of the point (see :func:`run_study`).
    """
    names = list(objective_names)
    trials = trials_table(study, space, names)
    if trials.empty:
        raise ParameterError("no trial produced finite objective values; check the objective and the search space")
    vals = trials[names].to_numpy(float)
    trials["pareto"] = pareto_mask(vals)
    pareto = trials[trials["pareto"]].drop(columns="pareto").reset_index(drop=True)
    pvals = pareto[names].to_numpy(float)
    choice = {"rule": selection, "scales": selection_scales, "gates": selection_gates}
    pareto["distance"] = selection_distances(pvals, **choice)
    best = _plateau_centre(pareto, select_point(pvals, **choice), names, space)
    pareto["selected"] = np.arange(len(pareto)) == best
    if reference_point is not None:
        hv = _hypervolume(pvals, np.asarray(reference_point, float))
    else:
        lo, hi = vals.min(axis=0), vals.max(axis=0)
        hv = _hypervolume(normalize(pvals, lower=lo, upper=hi), NORMALISED_REFERENCE)
    row = pareto.iloc[best]
    return StudyResult(
        trials=trials, pareto=pareto,
        best_params={n: _plain(row[n]) for n in space.names},
        best_values={n: float(row[n]) for n in names},
        hypervolume=float(hv), seconds=float(seconds), objective_names=names, param_names=space.names,
        best_trial=int(row["trial"]), sampler=sampler_name, selection=selection,
        reference_point=tuple(float(r) for r in reference_point) if reference_point is not None else None,
        study=study)


def _plateau_centre(pareto: pd.DataFrame, best: int, names: list[str], space: SearchSpace) -> int:
    """Among the Pareto points with exactly the selected point's rewards, the one nearest their parameters' centre.

    When the rewards cannot tell parameters apart (a plateau: e.g. every split depth
    from 1 to 3 px cuts the same necks), the middle of the plateau is the choice least
    likely to fall off it on the next frame or image; its edge is not. Distances are on
    each range parameter's span (log scale for log parameters); categorical parameters
    are not compared.
    """
    tied = np.flatnonzero(np.all(pareto[names].to_numpy(float) == pareto[names].to_numpy(float)[best], axis=1))
    ranges = [q for q in space if hasattr(q, "log") and q.name in pareto and q.high > q.low]
    if len(tied) < 2 or not ranges:
        return best
    cols = []
    for q in ranges:
        x = pareto[q.name].to_numpy(float)[tied]
        x = np.log(x) if q.log else x
        lo, hi = (np.log(q.low), np.log(q.high)) if q.log else (q.low, q.high)
        cols.append((x - (x.min() + x.max()) / 2) / (hi - lo))
    return int(tied[np.argmin(np.hypot.reduce(cols, axis=0) if len(cols) > 1 else np.abs(cols[0]))])


def _plain(value: Any) -> Any:
    """numpy scalar -> Python scalar (for JSON)."""
    return value.item() if isinstance(value, np.generic) else value

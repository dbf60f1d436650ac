"""Optuna's multivariate TPE sampler, with what it recomputes every trial remembered.

Before each trial Optuna's :class:`~optuna.samplers.TPESampler` walks over *all* past
trials twice: once to test each one for constraint violations while splitting them into
"below" and "above", and once per group to turn every parameter value back into its
internal (float, log-space) representation. In a 200-trial study whose trials cost ~3 ms
(LoG* on a 256 px image) that bookkeeping alone took about 0.5 s, a seventh of the study.
A finished trial never changes, so :class:`CachedTPESampler` keeps its internal
representation and its infeasibility score and only computes them for trials it has not
seen (and it does not deep-copy the search space for every trial). The TPE math itself
(split, Parzen estimators, candidates, acquisition, random stream) is Optuna's, unchanged, so the same seed gives exactly the same trials as
``TPESampler`` (a test checks it).

``batch=k`` (k > 1) fits the Parzen estimators once for ``k`` consecutive trials: the
``k x n_ei_candidates`` candidates are drawn in one call and scored by one acquisition
call, and each trial takes the best of its own ``n_ei_candidates`` (exactly what
sequential TPE would pick if the model did not change within the batch). It is the
cheap form of batch TPE (no "constant liar"): the model lags by at most ``k - 1``
trials, which costs little when trials are many and cheap, and it cuts the sampler's
time about ``k``-fold. ``batch=1`` is Optuna's sampler, trial for trial.

Why a subclass and not a sampler of our own: the split rule (non-domination rank plus
hypervolume subset selection), the Parzen estimator and the candidate draw are Optuna's
tested code; re-implementing them would trade a known algorithm for an unknown one. The
subclass only overrides two private hooks (``_get_internal_repr`` and ``_sample``); if a
future Optuna renames them, :func:`cached_tpe_available` is False and
:func:`~rewardscope.optimize.study.make_sampler` falls back to the plain sampler.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from optuna.samplers import TPESampler
from optuna.trial import TrialState

try:  # private helpers of Optuna's TPE (4.x / 5.x layout)
    from optuna.samplers._tpe import sampler as _tpe
    from optuna.search_space import intersection as _intersection
    _HOOKS = all(hasattr(_tpe, n) for n in ("_split_complete_trials", "_split_pruned_trials",
                                             "_split_infeasible_trials", "default_gamma",
                                             "default_gamma_multiobjective"))
    _HOOKS = _HOOKS and all(hasattr(TPESampler, n) for n in ("_get_internal_repr", "_sample", "_get_params"))
    _HOOKS = _HOOKS and hasattr(_intersection, "_calculate")
except ImportError:  # pragma: no cover - other Optuna layouts
    _tpe, _HOOKS = None, False


def cached_tpe_available() -> bool:
    """Whether the installed Optuna has the private hooks :class:`CachedTPESampler` overrides.

    Examples
    --------
    >>> isinstance(cached_tpe_available(), bool)
    True
    """
    return bool(_HOOKS)


class _ShallowIntersection(_intersection.IntersectionSearchSpace if _HOOKS else object):  # type: ignore[misc]
    """Optuna's intersection search space, returned as a shallow copy (TPE only reads the distributions)."""

    def calculate(self, study: Any, use_cache: bool = False) -> dict[str, Any]:
        self._search_space, self._cached_trial_number = _intersection._calculate(
            study._get_trials(deepcopy=False, use_cache=use_cache), self._include_pruned, self._search_space,
            self._cached_trial_number)
        return dict(sorted((self._search_space or {}).items(), key=lambda x: x[0]))


class CachedTPESampler(TPESampler):
    """:class:`optuna.samplers.TPESampler` that remembers per-trial bookkeeping of finished trials.

    Takes exactly ``TPESampler``'s arguments and samples exactly the same points.

    Examples
    --------
    >>> import optuna
    >>> optuna.logging.set_verbosity(optuna.logging.ERROR)
    >>> study = optuna.create_study(sampler=CachedTPESampler(seed=0, n_startup_trials=3))
    >>> study.optimize(lambda t: (t.suggest_float("x", -1, 1) - 0.5) ** 2, n_trials=15)
    >>> len(study.trials)
    15
    """

    def __init__(self, *args: Any, batch: int = 1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if int(batch) < 1:
            raise ValueError(f"batch must be at least 1, got {batch!r}")
        self._batch = int(batch)
        if isinstance(self._search_space, _intersection.IntersectionSearchSpace):  # not in group mode
            self._search_space = _ShallowIntersection(include_pruned=True)
        self._queued: list[dict[str, Any]] = []
        self._queued_key: tuple[Any, ...] | None = None
        self._owner: tuple[Any, int] | None = None
        self._repr_cache: dict[tuple[Any, ...], dict[int, tuple[float, ...] | None]] = {}
        self._infeasible: dict[int, float] = {}

    def _check_owner(self, study: Any) -> None:
        """Forget everything when the sampler is used on another study."""
        owner = (study._storage, study._study_id)
        if self._owner is None or self._owner[0] is not owner[0] or self._owner[1] != owner[1]:
            self._owner = owner
            self._repr_cache.clear()
            self._infeasible.clear()
            self._queued.clear()

    def _get_internal_repr(self, trials: list[Any], search_space: dict[str, Any],
                           study: Any) -> dict[str, np.ndarray]:
        self._check_owner(study)
        items = tuple(search_space.items())
        cache = self._repr_cache.setdefault(items, {})
        rows = []
        for trial in trials:
            finished = trial.state.is_finished()
            row = cache.get(trial._trial_id) if finished else None
            if row is None and not (finished and trial._trial_id in cache):
                params = self._get_params(trial, study)
                row = (tuple(dist.to_internal_repr(params[name]) for name, dist in items)
                       if search_space.keys() <= params.keys() else None)
                if finished:
                    cache[trial._trial_id] = row
            if row is not None:
                rows.append(row)
        return {name: np.asarray([r[i] for r in rows]) for i, (name, _) in enumerate(items)}

    def _infeasible_score(self, trial: Any) -> float:
        score = self._infeasible.get(trial._trial_id)
        if score is None:
            score = _tpe._get_infeasible_trial_score(trial)
            if trial.state.is_finished():
                self._infeasible[trial._trial_id] = score
        return score

    def _split(self, trials: list[Any], n_below: int, study: Any) -> tuple[list[Any], list[Any]]:
        """Optuna's ``_split_trials``, with the infeasibility score of finished trials remembered."""
        groups: dict[str, list[Any]] = {"running": [], "infeasible": [], "complete": [], "pruned": []}
        for trial in trials:
            if trial.state == TrialState.RUNNING:
                groups["running"].append(trial)
            elif self._infeasible_score(trial) > 0:
                groups["infeasible"].append(trial)
            elif trial.state == TrialState.COMPLETE:
                groups["complete"].append(trial)
            else:
                groups["pruned"].append(trial)
        below_c, above_c = _tpe._split_complete_trials(groups["complete"], study, n_below)
        n_below = max(0, n_below - len(below_c))
        below_p, above_p = _tpe._split_pruned_trials(groups["pruned"], study, n_below)
        n_below = max(0, n_below - len(below_p))
        below_i, above_i = _tpe._split_infeasible_trials(groups["infeasible"], n_below)
        below = sorted(below_c + below_p + below_i, key=lambda t: t.number)
        above = sorted(above_c + above_p + above_i + groups["running"], key=lambda t: t.number)
        return below, above

    def _sample(self, study: Any, trial: Any, search_space: dict[str, Any]) -> dict[str, Any]:
        self._check_owner(study)
        key = tuple(search_space.items())
        if self._queued and self._queued_key == key:
            return self._queued.pop(0)
        states = [TrialState.COMPLETE, TrialState.PRUNED] + ([TrialState.RUNNING] if self._constant_liar else [])
        trials = study._get_trials(deepcopy=False, states=states, use_cache=not self._constant_liar)
        if self._constant_liar:
            trials = [t for t in trials if trial.number != t.number]
        if self._gamma is None:
            self._gamma = _tpe.default_gamma if len(study.directions) <= 1 else _tpe.default_gamma_multiobjective
        n = sum(t.state != TrialState.RUNNING for t in trials)
        below, above = self._split(trials, self._gamma(n), study)
        mpe_below = self._build_parzen_estimator(study, search_space, below, handle_below=True)
        mpe_above = self._build_parzen_estimator(study, search_space, above, handle_below=False)
        picks = self._best_candidates(mpe_below, mpe_above)
        out = [{name: dist.to_external_repr(p[name]) for name, dist in search_space.items()} for p in picks]
        self._queued, self._queued_key = out[1:], key
        return out[0]

    def _best_candidates(self, mpe_below: Any, mpe_above: Any) -> list[dict[str, Any]]:
        """The best of each of ``batch`` groups of ``n_ei_candidates`` candidates (internal repr)."""
        n_cand = self._n_ei_candidates
        samples = mpe_below.sample(self._rng.rng, n_cand * self._batch)
        if self._batch == 1:
            return [TPESampler._compare(samples, self._compute_acquisition_func(samples, mpe_below, mpe_above))]
        score = np.asarray(self._compute_acquisition_func(samples, mpe_below, mpe_above)).reshape(self._batch, n_cand)
        best = np.argmax(score, axis=1) + n_cand * np.arange(self._batch)
        return [{name: vals[i].item() for name, vals in samples.items()} for i in best]

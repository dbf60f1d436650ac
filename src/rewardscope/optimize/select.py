"""Choose one point of a Pareto front: closest to the ideal point.

Objectives are min-max normalized over the candidate points (optionally with a
smallest span per objective, its scale, so that a reward that hardly varies is not
stretched as much as one that does), so the ideal (utopia) point is the origin, and the chosen point minimises either the Euclidean distance
(a balanced compromise) or the Chebyshev distance (the worst normalized objective) to
it. Ties go to the earliest point, so the choice is deterministic.
"""

from __future__ import annotations

import numpy as np

from rewardscope.errors import ParameterError
from rewardscope.optimize.pareto import _as_values, normalize

SELECTION_RULES = ("euclidean", "chebyshev")


def selection_distances(values: np.ndarray, *, rule: str = "euclidean", weights: np.ndarray | None = None,
                        scales: np.ndarray | None = None, gates: np.ndarray | None = None) -> np.ndarray:
    """Distance of every point to the ideal point on min-max normalized objectives.

    Parameters
    ----------
    values : array_like, shape (n, m)
        Objective values of the candidates (usually the Pareto front), minimised.
    rule : {"euclidean", "chebyshev"}
    weights : array_like, shape (m,), optional
        Non-negative weight per objective (default all 1).
    scales : array_like, shape (m,), optional
        Smallest span per objective in the normalisation (:func:`normalize`'s
        ``min_span``; default 0: plain min-max): differences far below an objective's
        scale are near-ties and do not outweigh another objective's real spread.
    gates : array_like, shape (m,), optional
        Per objective, a factor (>= 1; NaN: none): only points whose value is at most that
        factor times the best value of the objective (a non-negative reward) are eligible; the
        others get distance ``inf`` and the normalization spans the eligible points alone.

    Returns
    -------
    numpy.ndarray, shape (n,)

    Examples
    --------
    >>> selection_distances([[0, 1], [1, 0], [0.4, 0.4]], rule="chebyshev").tolist()
    [1.0, 1.0, 0.4]
    >>> selection_distances([[0.1, 1.0], [0.5, 0.0], [0.15, 0.6]], gates=[2.0, np.nan]).round(2).tolist()
    [1.0, inf, 1.0]
    """
    if rule not in SELECTION_RULES:
        raise ParameterError(f"unknown selection rule {rule!r}; use one of {list(SELECTION_RULES)}")
    arr = _as_values(values)
    eligible = gated(arr, gates)
    if not eligible.all():
        dist = np.full(len(arr), np.inf)
        dist[eligible] = selection_distances(arr[eligible], rule=rule, weights=weights, scales=scales)
        return dist
    norm = normalize(arr, min_span=scales)
    w = np.ones(arr.shape[1]) if weights is None else np.asarray(weights, float)
    if w.shape != (arr.shape[1],) or (w < 0).any():
        raise ParameterError(f"weights must be {arr.shape[1]} non-negative numbers, got {weights}")
    scaled = norm * w
    if rule == "euclidean":
        return np.sqrt((scaled ** 2).sum(axis=1))
    return np.abs(scaled).max(axis=1)


def gated(values: np.ndarray, gates: np.ndarray | None) -> np.ndarray:
    """Which points pass every gate: value <= factor x the column's best (NaN factor: no gate).

    Examples
    --------
    >>> gated(np.array([[0.1, 5.0], [0.3, 1.0]]), [2.0, np.nan]).tolist()
    [True, False]
    """
    arr = _as_values(values)
    if gates is None or len(arr) == 0:
        return np.ones(len(arr), bool)
    factor = np.asarray(gates, float)
    if factor.shape != (arr.shape[1],) or (factor[np.isfinite(factor)] < 1).any():
        raise ParameterError(f"gates must be {arr.shape[1]} factors >= 1 (NaN: none), got {list(gates)}")
    limit = np.where(np.isfinite(factor), factor * np.nanmin(arr, axis=0), np.inf)
    return np.all(arr <= limit, axis=1)


def select_point(values: np.ndarray, *, rule: str = "euclidean", weights: np.ndarray | None = None,
                 scales: np.ndarray | None = None, gates: np.ndarray | None = None) -> int:
    """Index of the point closest to the ideal point.

    Parameters
    ----------
    values : array_like, shape (n, m)
        Objective values of the candidates (minimised); n >= 1.
    rule : {"euclidean", "chebyshev"}
        Distance used on min-max normalized objectives.
    weights : array_like, shape (m,), optional
        Weight per objective.
    scales : array_like, shape (m,), optional
        Smallest span per objective (see :func:`selection_distances`).
    gates : array_like, shape (m,), optional
        Eligibility factors per objective (see :func:`selection_distances`).

    Returns
    -------
    int
        Row index into ``values``.

    Examples
    --------
    >>> select_point([[0, 1], [1, 0], [0.4, 0.4]])
    2
    """
    arr = _as_values(values)
    if len(arr) == 0:
        raise ParameterError("cannot select a point from an empty set")
    dist = selection_distances(arr, rule=rule, weights=weights, scales=scales, gates=gates)
    dist = np.where(np.isnan(dist), np.inf, dist)
    return int(np.argmin(dist))

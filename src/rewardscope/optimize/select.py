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


def selection_distances(values: np.ndarray, *, rule: str = "euclidean",
                        weights: np.ndarray | None = None, scales: np.ndarray | None = None) -> np.ndarray:
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

    Returns
    -------
    numpy.ndarray, shape (n,)

    Examples
    --------
    >>> selection_distances([[0, 1], [1, 0], [0.4, 0.4]], rule="chebyshev").tolist()
    [1.0, 1.0, 0.4]
    """
    if rule not in SELECTION_RULES:
        raise ParameterError(f"unknown selection rule {rule!r}; use one of {list(SELECTION_RULES)}")
    arr = _as_values(values)
    norm = normalize(arr, min_span=scales)
    w = np.ones(arr.shape[1]) if weights is None else np.asarray(weights, float)
    if w.shape != (arr.shape[1],) or (w < 0).any():
        raise ParameterError(f"weights must be {arr.shape[1]} non-negative numbers, got {weights}")
    scaled = norm * w
    if rule == "euclidean":
        return np.sqrt((scaled ** 2).sum(axis=1))
    return np.abs(scaled).max(axis=1)


def select_point(values: np.ndarray, *, rule: str = "euclidean",
                 weights: np.ndarray | None = None, scales: np.ndarray | None = None) -> int:
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
    dist = selection_distances(arr, rule=rule, weights=weights, scales=scales)
    dist = np.where(np.isnan(dist), np.inf, dist)
    return int(np.argmin(dist))

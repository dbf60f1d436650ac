"""Pareto fronts and hypervolume for minimisation problems.

Non-dominated sorting and the exact hypervolume are written here (a few lines of numpy)
rather than taken from Optuna's private ``optuna._hypervolume`` module, whose API is not
public and has changed between releases. The 2-D hypervolume is an exact sweep; for more
objectives an exact recursive slicing (HSO) is used, fine for the few hundred points of a
study.
"""

from __future__ import annotations

import numpy as np

from rewardscope.errors import ParameterError


def _as_values(values: np.ndarray) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ParameterError(f"objective values must be (n_points, n_objectives); got shape {arr.shape}")
    return arr


def pareto_mask(values: np.ndarray) -> np.ndarray:
    """Which points are not dominated (all objectives minimised).

    A point is dominated when another is no worse in every objective and strictly
    better in at least one. Identical points do not dominate each other, so all copies
    of a non-dominated point are kept. Rows with NaN are never on the front.

    Parameters
    ----------
    values : array_like, shape (n, m)
        Objective values.

    Returns
    -------
    numpy.ndarray of bool, shape (n,)

    Examples
    --------
    >>> pareto_mask([[1, 2], [2, 1], [2, 2], [1, 2]]).tolist()
    [True, True, False, True]
    """
    arr = _as_values(values)
    ok = ~np.isnan(arr).any(axis=1)
    mask = np.zeros(len(arr), bool)
    pts = arr[ok]
    if len(pts) == 0:
        return mask
    le = (pts[:, None, :] >= pts[None, :, :]).all(axis=2)  # le[i, j]: j no worse than i everywhere
    lt = (pts[:, None, :] > pts[None, :, :]).any(axis=2)   # lt[i, j]: j strictly better somewhere
    dominated = (le & lt).any(axis=1)
    mask[np.flatnonzero(ok)] = ~dominated
    return mask


def hypervolume(values: np.ndarray, reference: np.ndarray | float) -> float:
    """Exact hypervolume dominated by ``values`` and bounded by ``reference``.

    Parameters
    ----------
    values : array_like, shape (n, m)
        Objective values (minimised). Points not strictly better than the reference in
        every objective add nothing.
    reference : array_like, shape (m,) or float
        Reference (nadir) point.

    Returns
    -------
    float
        The measure of the region dominated by the points and dominating the reference.

    Examples
    --------
    >>> hypervolume([[0, 1], [1, 0]], [2, 2])
    3.0
    """
    arr = _as_values(values)
    ref = np.broadcast_to(np.asarray(reference, float), (arr.shape[1],)).copy()
    arr = arr[~np.isnan(arr).any(axis=1)]
    arr = arr[(arr < ref).all(axis=1)]
    if len(arr) == 0:
        return 0.0
    arr = arr[pareto_mask(arr)]
    return float(_hv(np.unique(arr, axis=0), ref))


def _hv(pts: np.ndarray, ref: np.ndarray) -> float:
    if pts.shape[1] == 1:
        return float(ref[0] - pts[:, 0].min())
    if pts.shape[1] == 2:
        return _hv2(pts, ref)
    # slice along the last objective: between consecutive levels the dominated region is
    # the (m-1)-D hypervolume of the points below the slice
    order = np.argsort(pts[:, -1])
    pts = pts[order]
    levels = np.append(pts[:, -1], ref[-1])
    total = 0.0
    for i in range(len(pts)):
        depth = levels[i + 1] - levels[i]
        if depth > 0:
            sub = pts[: i + 1, :-1]
            total += depth * _hv(sub[pareto_mask(sub)], ref[:-1])
    return total


def _hv2(pts: np.ndarray, ref: np.ndarray) -> float:
    order = np.lexsort((pts[:, 1], pts[:, 0]))
    total, best_y = 0.0, ref[1]
    for x, y in pts[order]:
        if y < best_y:
            total += (ref[0] - x) * (best_y - y)
            best_y = y
    return total


def normalize(values: np.ndarray, *, lower: np.ndarray | None = None,
              upper: np.ndarray | None = None, min_span: np.ndarray | None = None) -> np.ndarray:
    """Min-max normalize each objective to [0, 1] (a constant objective maps to 0).

    Parameters
    ----------
    values : array_like, shape (n, m)
    lower, upper : array_like, shape (m,), optional
        Bounds to use instead of the columns' min and max (to compare several studies in
        one space).
    min_span : array_like, shape (m,), optional
        Smallest span an objective is divided by (its scale): an objective that varies
        less than this over the points stays below 1 instead of being stretched to [0, 1].

    Returns
    -------
    numpy.ndarray, shape (n, m)

    Examples
    --------
    >>> normalize([[0, 5], [2, 5], [4, 5]]).tolist()
    [[0.0, 0.0], [0.5, 0.0], [1.0, 0.0]]
    >>> normalize([[0.0], [0.1]], min_span=[1.0]).tolist()
    [[0.0], [0.1]]
    """
    arr = _as_values(values)
    lo = np.nanmin(arr, axis=0) if lower is None else np.asarray(lower, float)
    hi = np.nanmax(arr, axis=0) if upper is None else np.asarray(upper, float)
    span = hi - lo
    if min_span is not None:
        span = np.maximum(span, np.asarray(min_span, float))
    return (arr - lo) / np.where(span > 0, span, 1.0)

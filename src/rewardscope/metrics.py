"""Scores against known truth: point matching (F1, RMSE) and mask overlap (IoU, Dice).

Used by tests and benchmarks, never by the label-free rewards. One-to-one matching uses
scipy's linear_sum_assignment on KD-tree candidate pairs, so it stays fast for
thousands of points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree


@dataclass(frozen=True)
class PointMatch:
    """Result of matching predicted points to true points.

    Attributes
    ----------
    tp, fp, fn : int
        True positives, false positives, false negatives.
    precision, recall, f1 : float
    rmse_px : float
        Root-mean-square distance of matched pairs, pixels (NaN if none matched).
    pairs : numpy.ndarray, shape (tp, 2)
        Index into predicted, index into truth, for each matched pair.
    """

    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float
    rmse_px: float
    pairs: np.ndarray


def match_points(predicted: np.ndarray, truth: np.ndarray, *, tolerance_px: float) -> PointMatch:
    """Match points one-to-one within a distance and score the match.

    Parameters
    ----------
    predicted : array_like, shape (n, 2)
        Found positions (x, y) in pixels.
    truth : array_like, shape (m, 2)
        True positions (x, y) in pixels.
    tolerance_px : float
        Largest distance of a match, pixels.

    Returns
    -------
    PointMatch

    Examples
    --------
    >>> m = match_points([[0, 0], [5, 5]], [[0.1, 0], [9, 9]], tolerance_px=1)
    >>> m.tp, m.fp, m.fn
    (1, 1, 1)
    """
    pred = np.asarray(predicted, float).reshape(-1, 2)
    true = np.asarray(truth, float).reshape(-1, 2)
    pairs = np.zeros((0, 2), int)
    if len(pred) and len(true):
        pairs = _assign(pred, true, tolerance_px)
    tp = len(pairs)
    fp, fn = len(pred) - tp, len(true) - tp
    precision = tp / len(pred) if len(pred) else 0.0
    recall = tp / len(true) if len(true) else 0.0
    f1 = 2 * tp / (len(pred) + len(true)) if (len(pred) + len(true)) else 1.0
    rmse = float(np.sqrt(np.mean(np.sum((pred[pairs[:, 0]] - true[pairs[:, 1]]) ** 2, 1)))) if tp else float("nan")
    return PointMatch(tp, fp, fn, precision, recall, f1, rmse, pairs)


def _assign(pred: np.ndarray, true: np.ndarray, tol: float) -> np.ndarray:
    sparse = cKDTree(pred).sparse_distance_matrix(cKDTree(true), tol, output_type="coo_matrix")
    if sparse.nnz == 0:
        return np.zeros((0, 2), int)
    if sparse.nnz < 2_000_000 and len(pred) * len(true) < 4_000_000:
        cost = np.full((len(pred), len(true)), 1e6)
        cost[sparse.row, sparse.col] = sparse.data
        rows, cols = linear_sum_assignment(cost)
        keep = cost[rows, cols] <= tol
        return np.column_stack([rows[keep], cols[keep]])
    # large sets: greedy nearest pairs (distances are unique almost surely)
    order = np.argsort(sparse.data)
    used_p, used_t, out = set(), set(), []
    for i in order:
        p, t = int(sparse.row[i]), int(sparse.col[i])
        if p not in used_p and t not in used_t:
            used_p.add(p), used_t.add(t), out.append((p, t))
    return np.asarray(out, int).reshape(-1, 2)


def mask_iou(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Intersection over union of two binary masks (1.0 when both are empty)."""
    p, t = np.asarray(predicted, bool), np.asarray(truth, bool)
    union = np.logical_or(p, t).sum()
    return float(np.logical_and(p, t).sum() / union) if union else 1.0


def dice(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Dice coefficient of two binary masks (1.0 when both are empty)."""
    p, t = np.asarray(predicted, bool), np.asarray(truth, bool)
    total = p.sum() + t.sum()
    return float(2 * np.logical_and(p, t).sum() / total) if total else 1.0

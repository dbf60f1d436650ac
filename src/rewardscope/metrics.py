"""Scores against known truth: point matching (F1, RMSE) and mask overlap (IoU, Dice).

Used by tests and benchmarks, never by the label-free rewards. One-to-one matching uses
scipy's linear_sum_assignment on KD-tree candidate pairs, so it stays fast for
thousands of points.

The one rule for atomic columns (:func:`score_atoms`): detections and true columns are
matched one-to-one within :data:`MATCH_TOLERANCE_NN` x the crystal's smallest ideal
column distance, and a border of ``margin_px`` is ignored (:func:`score_detections`):
columns cut by the frame edge are ambiguous (half a probe visible). ``margin_nn=1`` sets the
border to one smallest ideal column distance instead, as a user judging the interior would
(the benchmarks score so). Points are matched
over the whole image first; then a matched pair counts when its *true* column lies
inside the margin, an unmatched true column counts as a miss when inside, and an
unmatched detection counts as a false positive when inside, so a detection just inside
the margin that matches a true column just outside is neither rewarded nor punished.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

from rewardscope.units import parse_length

#: Matching radius of :func:`score_atoms`, times the smallest ideal column distance.
MATCH_TOLERANCE_NN = 0.3
#: Border ignored by :func:`score_atoms`, pixels.
MARGIN_PX = 2.0


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


def score_detections(predicted: np.ndarray, truth: np.ndarray, *, shape: tuple[int, int],
                     tolerance_px: float, margin_px: float) -> PointMatch:
    """One-to-one F1 and RMSE of detections inside a border margin.

    Parameters
    ----------
    predicted, truth : numpy.ndarray, shape (n, 2) and (m, 2)
        (x, y) pixels.
    shape : (rows, cols)
        Image size.
    tolerance_px : float
        Largest matching distance, pixels.
    margin_px : float
        Width of the ignored border, pixels.

    Returns
    -------
    PointMatch
        Counts, precision, recall, F1 and RMSE over the scored points (``pairs`` index
        the full input arrays).

    Examples
    --------
    >>> t = np.array([[0.5, 5.0], [10.0, 10.0], [20.0, 20.0]])
    >>> p = np.array([[10.2, 10.0], [20.0, 19.9], [15.0, 15.0]])
    >>> m = score_detections(p, t, shape=(32, 32), tolerance_px=1.0, margin_px=2.0)
    >>> m.tp, m.fp, m.fn
    (2, 1, 0)
    """
    pred = np.asarray(predicted, float).reshape(-1, 2)
    true = np.asarray(truth, float).reshape(-1, 2)
    full = match_points(pred, true, tolerance_px=tolerance_px)

    def inside(xy: np.ndarray) -> np.ndarray:
        return ((xy[:, 0] >= margin_px) & (xy[:, 0] <= shape[1] - 1 - margin_px)
                & (xy[:, 1] >= margin_px) & (xy[:, 1] <= shape[0] - 1 - margin_px))

    pairs = full.pairs
    pairs_in = pairs[inside(true[pairs[:, 1]])] if len(pairs) else pairs
    matched_p = np.zeros(len(pred), bool)
    matched_t = np.zeros(len(true), bool)
    matched_p[pairs[:, 0]] = True
    matched_t[pairs[:, 1]] = True
    tp = len(pairs_in)
    fp = int((~matched_p & inside(pred)).sum())
    fn = int((~matched_t & inside(true)).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0
    d2 = np.sum((pred[pairs_in[:, 0]] - true[pairs_in[:, 1]]) ** 2, 1) if tp else np.zeros(0)
    rmse = float(np.sqrt(d2.mean())) if tp else float("nan")
    return PointMatch(tp, fp, fn, precision, recall, f1, rmse, pairs_in)


def atom_tolerance_px(crystal: Any, pixel_size: Any) -> float:
    """Matching radius of :func:`score_atoms`, pixels: 0.3 x the smallest ideal column distance."""
    return MATCH_TOLERANCE_NN * crystal.min_nn_distance_angstrom / parse_length(pixel_size).angstrom


def score_atoms(predicted: Any, truth: Any, *, shape: tuple[int, int] | None = None, crystal: Any = None,
                pixel_size: Any = None, margin_px: float = MARGIN_PX, margin_nn: float | None = None) -> PointMatch:
    """Score detected columns against true columns with the one rule of this module.

    Parameters
    ----------
    predicted : numpy.ndarray (n, 2) or DataFrame with x, y columns
        Detections, (x, y) pixels.
    truth : numpy.ndarray (m, 2), DataFrame with x, y, or a simulation
        True columns. A simulation (:func:`rewardscope.simulate.simulate_haadf`'s result)
        also gives ``shape``, ``crystal`` and ``pixel_size`` when they are not passed.
    shape : (rows, cols), optional
        Image size.
    crystal : ProjectedCrystal, optional
        Gives the smallest ideal column distance (the matching radius is 0.3 x that).
    pixel_size : str or Length, optional
        Pixel size of the image.
    margin_px : float
        Border ignored, pixels.
    margin_nn : float, optional
        Border ignored in units of the crystal's smallest ideal column distance; replaces
        ``margin_px`` (``margin_nn=1``: one nearest-neighbour distance).

    Returns
    -------
    PointMatch

    Examples
    --------
    >>> from rewardscope.physics import get_lattice
    >>> xtal = get_lattice("srtio3-001")
    >>> t = np.array([[10.0, 10.0], [20.0, 20.0], [3.0, 20.0]])
    >>> score_atoms(t[:2] + 0.1, t, shape=(32, 32), crystal=xtal, pixel_size="0.35A").fn
    1
    >>> score_atoms(t[:2] + 0.1, t, shape=(32, 32), crystal=xtal, pixel_size="0.35A", margin_nn=1).f1
    1.0
    """
    if hasattr(truth, "positions"):  # a simulation carries its own frame, crystal and calibration
        shape = shape or truth.image.shape
        crystal = crystal or truth.crystal
        pixel_size = pixel_size or truth.pixel_size
        truth = truth.positions
    if shape is None or crystal is None or pixel_size is None:
        raise TypeError("score_atoms needs shape, crystal and pixel_size (or a simulation as truth)")
    if margin_nn is not None:
        margin_px = margin_nn * crystal.min_nn_distance_angstrom / parse_length(pixel_size).angstrom
    return score_detections(_xy(predicted), _xy(truth), shape=tuple(shape),
                            tolerance_px=atom_tolerance_px(crystal, pixel_size), margin_px=margin_px)


def _xy(points: Any) -> np.ndarray:
    if hasattr(points, "columns"):
        return points[["x", "y"]].to_numpy(float)
    return np.asarray(points, float).reshape(-1, 2)

"""Score detected columns against simulated truth, with one rule for the frame border.

Used by tests and benchmarks only (the rewards never see truth). Columns cut by the
frame edge are ambiguous (half a probe visible), so scoring ignores a border of
``margin_px``: points are matched one-to-one over the whole image
(:func:`rewardscope.metrics.match_points`), then a matched pair counts when its *true*
column lies inside the margin, an unmatched true column counts as a miss when inside,
and an unmatched detection counts as a false positive when inside. Truth and detections
are treated alike, and a detection just inside the margin that matches a true column
just outside is neither rewarded nor punished.
"""

from __future__ import annotations

import numpy as np

from rewardscope.metrics import PointMatch, match_points


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

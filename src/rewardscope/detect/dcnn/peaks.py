"""Atoms from heat maps: sub-pixel peaks of a probability map, and their spread over ensemble views.

Positions are local maxima of the probability map refined along x and y by the vertex of
the parabola through the logarithms of three neighbouring values (exact for a Gaussian
peak). With several dihedral views, :func:`ensemble_peaks` reports each peak of the mean
map with the RMS spread of the per-view peaks around it and the share of views that found it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import ndimage
from scipy.spatial import cKDTree

from rewardscope.defaults import DEFAULT_THRESHOLD  # noqa: F401  (re-exported; DcnnFilesConfig reads it there)

#: Largest distance (heat-map pixels) of a view's peak from the mean map's peak it belongs to.
VIEW_MATCH_PX = 1.5


def peak_positions(prob: np.ndarray, *, threshold: float = DEFAULT_THRESHOLD,
                   min_distance_px: float = 2.0) -> pd.DataFrame:
    """Sub-pixel peaks of a probability map.

    Local maxima (3x3 neighbourhood, at least ``threshold``) are refined along x and y by
    the vertex of the parabola through the logarithms of three neighbouring values, which
    is exact for a Gaussian peak. Of two maxima closer than ``min_distance_px`` the weaker
    is dropped.

    Parameters
    ----------
    prob : numpy.ndarray, shape (rows, cols)
        Values in (0, 1].
    threshold : float
        Smallest peak value.
    min_distance_px : float
        Smallest distance between two peaks, pixels.

    Returns
    -------
    pandas.DataFrame
        ``x``, ``y`` (pixels, x = column), ``probability`` (peak value).

    Examples
    --------
    >>> yy, xx = np.mgrid[:32, :32]
    >>> m = np.exp(-((xx - 10.3) ** 2 + (yy - 20.6) ** 2) / 2)
    >>> peak_positions(m).round(3).values.tolist()
    [[10.3, 20.6, 0.882]]
    """
    p = np.asarray(prob, np.float64)
    peaks = (p >= ndimage.maximum_filter(p, size=3, mode="constant", cval=-np.inf)) & (p >= threshold)
    iy, ix = np.nonzero(peaks)
    val = p[iy, ix]
    order = np.argsort(-val, kind="stable")
    iy, ix, val = iy[order], ix[order], val[order]
    keep = _suppress(np.column_stack([ix, iy]).astype(float), min_distance_px)
    iy, ix, val = iy[keep], ix[keep], val[keep]
    logp = np.log(np.clip(p, 1e-12, None))
    dx = _log_parabola(logp, iy, ix, axis=1)
    dy = _log_parabola(logp, iy, ix, axis=0)
    return pd.DataFrame({"x": ix + dx, "y": iy + dy, "probability": val})


def _suppress(xy: np.ndarray, min_distance: float) -> np.ndarray:
    """Indices of points (sorted strongest first) with no stronger point within ``min_distance``."""
    if len(xy) == 0 or min_distance <= 0:
        return np.arange(len(xy))
    alive = np.ones(len(xy), bool)
    for i, j in sorted(cKDTree(xy).query_pairs(min_distance)):
        if alive[i]:
            alive[j] = False
    return np.nonzero(alive)[0]


def _log_parabola(logp: np.ndarray, iy: np.ndarray, ix: np.ndarray, *, axis: int) -> np.ndarray:
    """Sub-pixel offset (within +-0.5) of each peak along one axis; 0 at the border."""
    n = logp.shape[axis]
    i = iy if axis == 0 else ix
    inner = (i > 0) & (i < n - 1)
    lo, hi = np.clip(i - 1, 0, n - 1), np.clip(i + 1, 0, n - 1)
    if axis == 0:
        a, b, c = logp[lo, ix], logp[iy, ix], logp[hi, ix]
    else:
        a, b, c = logp[iy, lo], logp[iy, ix], logp[iy, hi]
    denom = a - 2 * b + c
    with np.errstate(divide="ignore", invalid="ignore"):
        off = np.where(inner & (denom < 0), 0.5 * (a - c) / denom, 0.0)
    return np.clip(off, -0.5, 0.5)


def ensemble_peaks(maps: np.ndarray, *, threshold: float = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """Peaks of the mean of per-view maps; with several views, each peak's spread over the views.

    Parameters
    ----------
    maps : numpy.ndarray, shape (n_views, rows, cols)
        Probability maps of the dihedral views of one image, in its orientation.
    threshold : float
        Smallest peak value.

    Returns
    -------
    pandas.DataFrame
        :func:`peak_positions` of the mean map; with more than one view also
        ``uncertainty_px`` (RMS distance of the views' peaks within :data:`VIEW_MATCH_PX`,
        map pixels) and ``support`` (share of views with such a peak).

    Examples
    --------
    >>> yy, xx = np.mgrid[:32, :32]
    >>> maps = np.stack([np.exp(-((xx - 10.0 - d) ** 2 + (yy - 20.0) ** 2) / 2) for d in (-0.2, 0.2)])
    >>> ensemble_peaks(maps)[["uncertainty_px", "support"]].round(3).values.tolist()
    [[0.2, 1.0]]
    """
    atoms = peak_positions(maps.mean(0), threshold=threshold)
    if len(maps) == 1:
        return atoms
    xy = atoms[["x", "y"]].to_numpy()
    sq = np.zeros(len(xy))
    hits = np.zeros(len(xy))
    for m in maps:
        member = peak_positions(m, threshold=threshold)[["x", "y"]].to_numpy()
        if len(member) and len(xy):
            d, j = cKDTree(member).query(xy, distance_upper_bound=VIEW_MATCH_PX)
            ok = np.isfinite(d)
            sq[ok] += np.sum((member[j[ok]] - xy[ok]) ** 2, axis=1)
            hits[ok] += 1
    atoms["uncertainty_px"] = np.sqrt(sq / np.maximum(hits, 1))
    atoms["support"] = hits / len(maps)
    return atoms

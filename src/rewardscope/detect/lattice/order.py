"""Do detections form a given lattice at all? :func:`lattice_order`, a plausibility score of any atom finder.

Detections on pure noise score near 0, a perfect crystal near 1, whatever its orientation
in the image; :data:`MIN_LATTICE_ORDER` separates the two.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from rewardscope.detect.lattice.fit import _ideal_vectors, _min_nn
from rewardscope.units import Length

#: :func:`lattice_order` below this: the detections do not form the lattice (noise scores < 0.05,
#: simulated crystals at noise <= 0.5 score > 0.25). Fewer detections need more: :func:`min_lattice_order`.
MIN_LATTICE_ORDER = 0.1
#: Chance level of :func:`lattice_order` times sqrt(n detections): LoG blobs in pure noise reached
#: 0.21 at 12-138 blobs (64 px frames), 0.12 at 35-530, 0.04 at 221-2091 (6 seeds x 3 sigmas each).
CHANCE_ORDER_SQRT_N = 1.5


def min_lattice_order(n_detections: int) -> float:
    """Lattice order that ``n_detections`` must reach to count as a crystal: the chance level's bound.

    ``max(MIN_LATTICE_ORDER, CHANCE_ORDER_SQRT_N / sqrt(n))``: the best orientation's share
    of matching vectors rises above the median by chance by about ``1 / sqrt(n)``, so a
    few dozen detections in noise (a vacuum window) can score 0.15 and must not pass.

    Examples
    --------
    >>> round(min_lattice_order(40), 3), min_lattice_order(1000)
    (0.237, 0.1)
    """
    return float(max(MIN_LATTICE_ORDER, CHANCE_ORDER_SQRT_N / np.sqrt(max(int(n_detections), 1))))


def lattice_order(xy: np.ndarray, crystal: object, *, pixel_size: Length, k: int = 4, max_points: int = 500,
                  step_deg: float = 2.0, seed: int = 0) -> float:
    """How well the detections' neighbour vectors follow the crystal's, above chance.

    For every orientation of the crystal (rotations on a ``step_deg`` grid, and their
    mirror images) the share ``s`` of the vectors from each detection to its ``k``
    nearest detections (those no longer than twice the crystal's longest ``k``-th
    neighbour distance, so that a detected sublattice counts as ordered) that end within
    0.15 x the smallest column distance (at least 1 px) of an ideal neighbour vector is
    counted. The score is
    ``(max s - median s) / (1 - median s)``: the median over orientations is what
    vectors of the right lengths but no common direction reach by chance, so the score is
    near 0 for detections in noise and near 1 for a perfect crystal, whatever the
    orientation of the crystal in the image.

    Parameters
    ----------
    xy : numpy.ndarray, shape (n, 2)
        Detected columns, pixels.
    crystal : ProjectedCrystal
    pixel_size : Length
    k : int
        Neighbours per detection.
    max_points : int
        Detections whose neighbour vectors are scored (a seeded random subset of larger sets).
    step_deg : float
        Orientation grid, degrees (the match tolerance spans about 5 degrees at the
        longest neighbour distances).
    seed : int
        Seed of the subset.

    Returns
    -------
    float
        In about [0, 1]; NaN with fewer than ``k + 2`` detections or no neighbour vector to score.

    Examples
    --------
    >>> from rewardscope.physics import get_lattice
    >>> crystal, ps = get_lattice("srtio3-001"), Length(0.35, "A")
    >>> xy = crystal.positions(shape=(96, 96), pixel_size=ps, rotation_deg=20, visible_only=True)[["x", "y"]].to_numpy()
    >>> noise = np.random.default_rng(0).uniform(0, 96, xy.shape)
    >>> round(lattice_order(xy, crystal, pixel_size=ps), 2), lattice_order(noise, crystal, pixel_size=ps) < 0.1
    (1.0, True)
    """
    xy = np.asarray(xy, float).reshape(-1, 2)
    if len(xy) < k + 2:
        return float("nan")
    site_frac = np.asarray(crystal.frac)[crystal.visible]
    basis = crystal.basis / pixel_size.angstrom
    tol = max(0.15 * _min_nn(basis, site_frac), 1.0)
    r_max = 2.0 * float(crystal.nn_distances_angstrom(k=k).max()) / pixel_size.angstrom + tol
    ideal = _ideal_vectors(basis, site_frac, r_max + tol)
    rows = np.arange(len(xy))
    if len(xy) > max_points:
        rows = np.sort(np.random.default_rng(seed).choice(len(xy), max_points, replace=False))
    dist, idx = cKDTree(xy).query(xy[rows], k=k + 1, distance_upper_bound=r_max)
    near = np.isfinite(dist[:, 1:])  # longer vectors (edges, gaps) are not scored
    vec = (xy[np.where(near, idx[:, 1:], 0)] - xy[rows, None, :])[near]
    if len(vec) == 0:
        return float("nan")
    shares = _orientation_shares(vec, ideal, tol, np.deg2rad(np.arange(0.0, 180.0, step_deg)))
    chance = float(np.median(shares))
    return float((shares.max() - chance) / (1.0 - chance)) if chance < 1 else 1.0


def _orientation_shares(vec: np.ndarray, ideal: np.ndarray, tol: float, theta: np.ndarray) -> np.ndarray:
    """Share of ``vec`` within ``tol`` of an ideal vector rotated by each ``theta``, then of the mirror image.

    In polar form, ``|v - R(t) u| < tol`` holds for ``t`` within ``arccos((|v|^2 + |u|^2 - tol^2) /
    (2 |v| |u|))`` of ``angle(v) - angle(u)``, so every (vector, ideal vector) pair of
    similar length marks an interval of angles; a vector matches at an angle when any of
    its intervals covers it. ``theta`` may span half a turn: ideal sets are centrosymmetric.

    Returns
    -------
    numpy.ndarray, shape (2 * len(theta),)
    """
    r, phi = np.hypot(*vec.T), np.arctan2(vec[:, 1], vec[:, 0])
    order = np.argsort(np.hypot(*ideal.T))
    rho, psi = np.hypot(*ideal[order].T), np.arctan2(ideal[order, 1], ideal[order, 0])
    lo, hi = np.searchsorted(rho, r - tol), np.searchsorted(rho, r + tol, side="right")
    i = np.repeat(np.arange(len(r)), hi - lo)  # pairs of similar length, grouped by vector
    j = np.arange(len(i)) - np.repeat(np.cumsum(hi - lo) - (hi - lo), hi - lo) + np.repeat(lo, hi - lo)
    if len(i) == 0:
        return np.zeros(2 * len(theta))
    with np.errstate(divide="ignore", invalid="ignore"):
        width = np.arccos(np.clip((r[i] ** 2 + rho[j] ** 2 - tol ** 2) / (2 * r[i] * rho[j]), -1.0, 1.0))
    width = np.nan_to_num(width, nan=0.0)
    shares = []
    for sign in (1.0, -1.0):  # rotations, then mirror images (angle(u) -> -angle(u))
        covered = _covered(i, phi[i] - sign * psi[j], width, theta, n_vectors=len(r))
        shares.append(covered.sum(0) / len(r))
    return np.concatenate(shares)


def _covered(i: np.ndarray, centre: np.ndarray, width: np.ndarray, theta: np.ndarray, *,
             n_vectors: int) -> np.ndarray:
    """``covered[v, t]``: some pair ``p`` of vector ``v = i[p]`` has ``theta[t]`` within ``width[p]`` of ``centre[p]``.

    The angle test is the circular distance ``|(theta - centre + pi) mod 2 pi - pi| < width``.
    On an evenly spaced ``theta`` only the few grid angles near each interval are tested
    (the same test, so the same answer as testing all of them); otherwise all are.

    Examples
    --------
    >>> theta = np.deg2rad(np.arange(0.0, 180.0, 2.0))
    >>> cov = _covered(np.array([0, 0, 1]), np.array([0.0, 3.0, -1.0]), np.array([0.05, 0.1, 0.02]), theta,
    ...                n_vectors=2)
    >>> np.flatnonzero(cov[0]).tolist(), np.flatnonzero(cov[1]).tolist()
    ([0, 1, 84, 85, 86, 87, 88], [])
    """
    def hits(p: np.ndarray, t: np.ndarray) -> np.ndarray:
        return np.abs((theta[t] - centre[p] + np.pi) % (2 * np.pi) - np.pi) < width[p]

    covered = np.zeros((n_vectors, len(theta)), bool)
    step = (theta[-1] - theta[0]) / max(len(theta) - 1, 1)
    if len(theta) < 3 or step <= 0 or not np.allclose(np.diff(theta), step, rtol=1e-9, atol=0):
        p, t = np.divmod(np.arange(len(centre) * len(theta)), len(theta))
        ok = hits(p, t)
        covered[i[p[ok]], t[ok]] = True
        return covered
    for shift in (-2 * np.pi, 0.0, 2 * np.pi):  # the interval and its copies a turn away
        first = np.clip(np.floor((centre + shift - width - theta[0]) / step).astype(np.int64) - 1, 0, len(theta))
        last = np.clip(np.ceil((centre + shift + width - theta[0]) / step).astype(np.int64) + 1, -1, len(theta) - 1)
        n = np.maximum(last - first + 1, 0)
        p = np.repeat(np.arange(len(centre)), n)
        t = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n) + np.repeat(first, n)
        ok = hits(p, t)
        covered[i[p[ok]], t[ok]] = True
    return covered

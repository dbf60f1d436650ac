"""Local order of each atom: how far its neighbours sit from the ideal lattice vectors.

The ideal lattice is learnt from the atoms themselves, with no labels and no registration:
the vectors from every atom to its neighbours pile up on a few sharp peaks in a crystal
(the projected lattice's neighbour vectors) and scatter in disordered regions. The peaks
of their 2-D histogram are the reference vectors; an atom's *lattice deviation* is the
median distance from its neighbour vectors to the nearest reference vector. Ordered
atoms score ~ their position error; displaced (amorphous) atoms score a sizeable part of
the neighbour distance. Written here because no library offers this label-free score.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from rewardscope.errors import ParameterError
from rewardscope.units import Length


def neighbour_pairs(xy: np.ndarray, *, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Ordered pairs (i, j), i != j, closer than ``radius`` pixels (both directions).

    Returns
    -------
    i, j : numpy.ndarray of int, shape (n_pairs,)
    """
    pairs = cKDTree(xy).query_pairs(radius, output_type="ndarray")
    if len(pairs) == 0:
        return np.zeros(0, int), np.zeros(0, int)
    return np.r_[pairs[:, 0], pairs[:, 1]], np.r_[pairs[:, 1], pairs[:, 0]]


def reference_vectors(vectors: np.ndarray, *, radius: float, n_atoms: int, bin_px: float = 0.5,
                      min_share: float = 0.15) -> np.ndarray:
    """Peaks of the 2-D histogram of neighbour vectors: the lattice's neighbour vectors.

    Parameters
    ----------
    vectors : numpy.ndarray, shape (n_pairs, 2)
        Neighbour vectors (dx, dy), pixels.
    radius : float
        Largest vector length considered, pixels.
    n_atoms : int
        Number of atoms (a peak must hold at least ``min_share * n_atoms`` vectors).
    bin_px : float
        Histogram bin, pixels.
    min_share : float
        Smallest peak height as a share of the atoms.

    Returns
    -------
    numpy.ndarray, shape (n_refs, 2)
        Reference vectors, pixels (centroids of the vectors near each peak).
    """
    if len(vectors) == 0:
        return np.zeros((0, 2))
    edges = np.arange(-radius, radius + bin_px, bin_px)
    hist, _, _ = np.histogram2d(vectors[:, 0], vectors[:, 1], bins=[edges, edges])
    smooth = ndimage.gaussian_filter(hist, 1.0)
    peaks = (smooth == ndimage.maximum_filter(smooth, size=5)) & (smooth > 0)
    centres = (edges[:-1] + edges[1:]) / 2
    ix, iy = np.nonzero(peaks)
    cand = np.column_stack([centres[ix], centres[iy]])
    tree = cKDTree(vectors)
    refs = []
    for c in cand:
        near = tree.query_ball_point(c, 1.5)
        if len(near) >= min_share * n_atoms:
            refs.append(vectors[near].mean(axis=0))
    return np.asarray(refs, float).reshape(-1, 2)


def lattice_deviation(xy: np.ndarray, *, nn_px: float, radius_nn: float = 1.6) -> np.ndarray:
    """Median distance of each atom's neighbour vectors to the learnt lattice vectors.

    Parameters
    ----------
    xy : numpy.ndarray, shape (n, 2)
        Atom positions (x, y), pixels.
    nn_px : float
        Nearest-neighbour distance of the lattice, pixels (sets the neighbourhood and the
        unit of the result).
    radius_nn : float
        Neighbourhood radius in units of ``nn_px``.

    Returns
    -------
    numpy.ndarray, shape (n,)
        Deviation in units of ``nn_px`` (ordered ~0.05-0.15, disordered ~0.3 or more);
        atoms with no neighbour get 1.0.

    Examples
    --------
    >>> g = np.stack(np.meshgrid(np.arange(10.0), np.arange(10.0)), -1).reshape(-1, 2) * 5
    >>> float(np.median(lattice_deviation(g, nn_px=5.0))) < 0.05
    True
    """
    radius = radius_nn * nn_px
    i, j = neighbour_pairs(xy, radius=radius)
    out = np.ones(len(xy))
    if len(i) == 0:
        return out
    vec = xy[j] - xy[i]
    refs = reference_vectors(vec, radius=radius, n_atoms=len(xy))
    if len(refs) == 0:
        return out
    dist, _ = cKDTree(refs).query(vec)
    order = np.argsort(i, kind="stable")
    i_sorted, d_sorted = i[order], dist[order]
    starts = np.searchsorted(i_sorted, np.arange(len(xy)))
    ends = np.searchsorted(i_sorted, np.arange(len(xy)), side="right")
    for k in np.flatnonzero(ends > starts):
        out[k] = np.median(d_sorted[starts[k]:ends[k]]) / nn_px
    return out


def neighbourhood_mean(xy: np.ndarray, values: np.ndarray, *, radius: float) -> np.ndarray:
    """Mean of ``values`` over the atoms within ``radius`` pixels of each atom (itself included).

    Parameters
    ----------
    xy : numpy.ndarray, shape (n, 2)
    values : numpy.ndarray, shape (n,) or (n, m)
    radius : float
        Pixels; <= 0 returns ``values`` unchanged.

    Returns
    -------
    numpy.ndarray, same shape as ``values``
    """
    if radius <= 0:
        return np.asarray(values, float)
    vals = np.asarray(values, float)
    i, j = neighbour_pairs(xy, radius=radius)
    total = vals.copy()
    count = np.ones(len(xy))
    np.add.at(total, i, vals[j])
    np.add.at(count, i, 1.0)
    return total / (count if vals.ndim == 1 else count[:, None])


def ordered_atoms(deviation: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """Which atoms are ordered: the low-deviation component of a 2-Gaussian mixture.

    When the two components are not clearly apart (means closer than 3 standard deviations
    of the low one: a fully crystalline or fully disordered field), every atom counts.

    Parameters
    ----------
    deviation : numpy.ndarray, shape (n,)
        Lattice deviation (e.g. from :func:`lattice_deviation`, neighbourhood-averaged).
    seed : int

    Returns
    -------
    numpy.ndarray of bool, shape (n,)
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.mixture import GaussianMixture

    d = np.asarray(deviation, float).reshape(-1, 1)
    if len(d) < 10:
        return np.ones(len(d), bool)
    with warnings.catch_warnings():  # a slow EM on a nearly degenerate split is harmless here
        warnings.simplefilter("ignore", ConvergenceWarning)
        gmm = GaussianMixture(2, random_state=seed).fit(d)
    means = gmm.means_.ravel()
    low = int(np.argmin(means))
    sd_low = float(np.sqrt(gmm.covariances_.ravel()[low]))
    if means.max() - means.min() < 3 * sd_low:
        return np.ones(len(d), bool)
    return gmm.predict_proba(d)[:, low] > 0.5


def neighbour_distance_px(xy: np.ndarray, *, lattice: Any = None, pixel_size: Length | None = None) -> float:
    """Nearest-neighbour distance in pixels: from the lattice, else the atoms' median NN distance.

    Parameters
    ----------
    xy : numpy.ndarray, shape (n, 2)
        Atom positions, pixels.
    lattice : str or ProjectedCrystal, optional
        Preset name or crystal; used together with ``pixel_size``.
    pixel_size : Length, optional

    Returns
    -------
    float
        Pixels.

    Raises
    ------
    ParameterError
        No lattice and fewer than 2 atoms.

    Examples
    --------
    >>> neighbour_distance_px(np.array([[0.0, 0.0], [3.0, 4.0], [9.0, 4.0]]))
    5.0
    >>> round(neighbour_distance_px(np.zeros((0, 2)), lattice="srtio3-001", pixel_size=Length(0.5, "A")), 3)
    5.523
    """
    if lattice is not None and pixel_size is not None:
        from rewardscope.physics import ProjectedCrystal, get_lattice

        crystal = lattice if isinstance(lattice, ProjectedCrystal) else get_lattice(lattice)
        return crystal.min_nn_distance_angstrom / pixel_size.angstrom
    if len(xy) < 2:
        raise ParameterError("need at least 2 atoms to estimate the neighbour distance")
    dist, _ = cKDTree(xy).query(xy, k=2)
    return float(np.median(dist[:, 1]))

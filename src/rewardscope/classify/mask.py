"""Pixel mask of a region from the atoms that belong to it.

The mask is the union of discs of radius ``radius_px`` around the selected atoms, cut
where another (unselected) atom is nearer: a pixel belongs to the region when it lies within
``radius_px`` of a selected atom *and* its nearest atom is selected. With a radius of about
one neighbour distance the region's edge therefore falls half-way between the last atom in
and the first atom out, whatever the radius, while the radius still decides how far the
region reaches into atom-free space (image corners, holes where no column was found).
A Euclidean distance transform gives both tests for all pixels at once.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def _nearest_atom_maps(shape: tuple[int, int], xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance (pixels) to the nearest atom and its index, for every pixel."""
    rows, cols = shape
    seeds = np.ones(shape, bool)
    ix = np.clip(np.round(xy[:, 0]).astype(int), 0, cols - 1)
    iy = np.clip(np.round(xy[:, 1]).astype(int), 0, rows - 1)
    seeds[iy, ix] = False
    label = np.full(shape, -1, int)
    label[iy, ix] = np.arange(len(xy))
    dist, (ri, ci) = ndimage.distance_transform_edt(seeds, return_indices=True)
    return dist, label[ri, ci]


def region_mask(shape: tuple[int, int], xy: np.ndarray, selected: np.ndarray, *,
                radius_px: float) -> np.ndarray:
    """Mask of the region formed by the selected atoms.

    Parameters
    ----------
    shape : (rows, cols)
        Image shape.
    xy : numpy.ndarray, shape (n, 2)
        All atom positions (x = column, y = row), pixels.
    selected : numpy.ndarray of bool, shape (n,)
        Atoms inside the region.
    radius_px : float
        Dilation radius, pixels: largest distance of a region pixel from its atom.

    Returns
    -------
    numpy.ndarray of bool, shape (rows, cols)

    Examples
    --------
    >>> xy = np.array([[5.0, 5.0], [15.0, 5.0]])
    >>> m = region_mask((10, 20), xy, np.array([True, False]), radius_px=3)
    >>> bool(m[5, 5]), bool(m[5, 15]), int(m.sum())
    (True, False, 29)
    """
    return MaskBuilder(shape, xy).mask(selected, radius_px=radius_px)


class MaskBuilder:
    """Region masks for many atom selections on one image (the distance map is computed once).

    Parameters
    ----------
    shape : (rows, cols)
    xy : numpy.ndarray, shape (n, 2)
        Atom positions, pixels.

    Examples
    --------
    >>> b = MaskBuilder((10, 20), np.array([[5.0, 5.0], [15.0, 5.0]]))
    >>> int(b.mask(np.array([False, True]), radius_px=3).sum())
    29
    """

    def __init__(self, shape: tuple[int, int], xy: np.ndarray) -> None:
        self.shape = tuple(shape)
        self.xy = np.asarray(xy, float)
        if len(self.xy):
            self._dist, self._owner = _nearest_atom_maps(self.shape, self.xy)

    def mask(self, selected: np.ndarray, *, radius_px: float) -> np.ndarray:
        """Mask for ``selected`` atoms and a dilation radius (see :func:`region_mask`)."""
        sel = np.asarray(selected, bool)
        if len(self.xy) == 0 or not sel.any():
            return np.zeros(self.shape, bool)
        return sel[self._owner] & (self._dist <= radius_px)

"""Shape rewards of a region mask: compactness and total normalized perimeter (minimised).

Physically, damaged (amorphised) regions are compact blobs with smooth borders; a noisy
segmentation is a spray of small, ragged pieces. Two numbers say which: the compactness
``4 pi A / P^2`` of the whole mask (1 for a disc, pi/4 for a square, 1/k for k equal discs)
and the total perimeter relative to the image border. The perimeter is the length of the
marching-squares contour at level 0.5 of the mask smoothed by a 1-pixel Gaussian, so straight
and round edges are measured without the staircase bias of pixel edges; parts of a region cut by the image border do not
count (the border is not a physical boundary). Both are written here (a few lines of
scikit-image) because the rewards must treat the image border and empty masks our way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage
from skimage import measure

#: Gaussian smoothing (pixels) of the mask before contouring: removes the staircase of a
#: pixelated edge (a digital disc then measures 2 pi r within ~1 %).
SMOOTH_PX = 1.0


def perimeter_px(mask: np.ndarray) -> float:
    """Length of the boundary of a binary mask, pixels (image border excluded).

    Parameters
    ----------
    mask : numpy.ndarray of bool, shape (rows, cols)

    Returns
    -------
    float
        Length of the level-0.5 contours of the lightly smoothed mask; 0 for an empty or full mask.

    Examples
    --------
    >>> m = np.zeros((40, 40), bool); m[10:30, 10:30] = True
    >>> round(perimeter_px(m))
    77
    """
    m = np.asarray(mask, bool)
    if not m.any() or m.all():
        return 0.0
    pad = 3
    padded = ndimage.gaussian_filter(np.pad(m.astype(float), pad, mode="edge"), SMOOTH_PX, mode="nearest")
    upper = np.array(m.shape) + pad - 0.5
    total = 0.0
    for contour in measure.find_contours(padded, 0.5):
        inside = np.clip(contour, pad - 0.5, upper)  # the run-out into the padding collapses to the border
        total += float(np.sqrt((np.diff(inside, axis=0) ** 2).sum(axis=1)).sum())
    return total


def compactness(mask: np.ndarray) -> float:
    """Isoperimetric quotient ``4 pi A / P^2`` of the whole mask, in [0, 1].

    ``A`` is the total area and ``P`` the total perimeter (all pieces together), so k equal
    discs score 1/k and ragged shapes score low. Pieces cut by the image border can exceed
    1 and are clipped to 1.

    Parameters
    ----------
    mask : numpy.ndarray of bool, shape (rows, cols)

    Returns
    -------
    float
        1 for a disc, pi/4 for a square; 0 for an empty mask.

    Examples
    --------
    >>> yy, xx = np.mgrid[:101, :101]
    >>> round(compactness((xx - 50) ** 2 + (yy - 50) ** 2 <= 30 ** 2), 2)
    0.99
    """
    m = np.asarray(mask, bool)
    area = float(m.sum())
    if area == 0:
        return 0.0
    per = perimeter_px(m)
    if per == 0:
        return 1.0
    return float(min(1.0, 4 * np.pi * area / per ** 2))


def compactness_loss(mask: np.ndarray, context: dict[str, Any] | None = None) -> float:
    """Reward to minimise: ``1 - compactness(mask)`` (0 for one disc, 1 for an empty mask)."""
    return 1.0 - compactness(mask)


def normalized_perimeter(mask: np.ndarray, context: dict[str, Any] | None = None) -> float:
    """Reward to minimise: total perimeter divided by the length of the image border.

    Parameters
    ----------
    mask : numpy.ndarray of bool, shape (rows, cols)
    context : dict, optional
        Unused; part of the reward signature ``(output, context) -> float``.

    Examples
    --------
    >>> m = np.zeros((100, 100), bool); m[:, :50] = True   # one straight cut
    >>> round(normalized_perimeter(m), 3)
    0.25
    """
    m = np.asarray(mask, bool)
    rows, cols = m.shape
    return perimeter_px(m) / (2.0 * (rows + cols))


def _mask_of(output: Any) -> np.ndarray:
    """The mask itself, or the ``mask`` attribute of a workflow output."""
    return np.asarray(getattr(output, "mask", output), bool)


def compactness_reward(output: Any, context: Any = None) -> float:
    """:func:`compactness_loss` of an output's ``mask`` (or of a mask)."""
    return compactness_loss(_mask_of(output))


def perimeter_reward(output: Any, context: Any = None) -> float:
    """:func:`normalized_perimeter` of an output's ``mask`` (or of a mask)."""
    return normalized_perimeter(_mask_of(output))


#: Default rewards of region workflows (name -> reward(output, context)), all minimised.
REGION_REWARDS = {"compactness": compactness_reward, "perimeter": perimeter_reward}

"""Shape rewards of a region mask: compactness and total normalized perimeter (minimised).

Physically, damaged (amorphised) regions are compact blobs with smooth borders; a noisy
segmentation is a spray of small, ragged pieces. Two numbers say which: the compactness
``4 pi A / P^2`` of the whole mask (1 for a disc, pi/4 for a square, 1/k for k equal discs)
and the total perimeter relative to the image border. The perimeter is the length of the
marching-squares contour at level 0.5 of the mask smoothed by a 1-pixel Gaussian, so straight
and round edges are measured without the staircase bias of pixel edges. :func:`perimeter_px`
leaves out the parts of a region cut by the image border; the perimeter reward
(:func:`normalized_perimeter`) counts them, so running along the frame is not free.

Compactness of regions cut by the frame: each piece that touches the frame is completed by
mirroring it across the frame edges it touches (a half disc on an edge becomes a disc, a
quarter disc in a corner a disc), and the quotient is taken over the completed pieces, whose
outer boundary now counts. Without this, a band hugging one edge and swallowing the crystal
between several patches scored as perfectly compact (its long side along the frame was free),
so the study picked it over the true patches. Both are written here (a few lines of
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
    discs score 1/k and ragged shapes score low. Pieces that touch the image border are first
    completed by reflection across the edges they touch (:func:`mirror_completed`), so a half
    disc on an edge scores like a disc, and a band along an edge like the long strip it is.

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
    if not m.any():
        return 0.0
    area = per = 0.0
    for piece in mirror_completed(m):
        area += float(piece.sum())
        per += _closed_perimeter_px(piece)
    if per == 0:  # only specks thinner than the smoothing
        return 1.0
    return float(min(1.0, 4 * np.pi * area / per ** 2))


def _closed_perimeter_px(mask: np.ndarray) -> float:
    """Length of the level-0.5 contours of the smoothed mask, the array's own edge counting as boundary."""
    padded = ndimage.gaussian_filter(np.pad(mask.astype(float), 3), SMOOTH_PX, mode="constant")
    return float(sum(np.sqrt((np.diff(c, axis=0) ** 2).sum(axis=1)).sum() for c in measure.find_contours(padded, 0.5)))


def mirror_completed(mask: np.ndarray) -> list[np.ndarray]:
    """The mask's pieces, those touching the image border mirrored across the edges they touch.

    Pieces (8-connected) are grouped by which of the four edges they touch; each group is
    padded by one image size with a mirror copy (``numpy.pad`` ``symmetric``) on each edge it
    touches (cropped to its bounding box first), so a region cut by the frame is continued as
    its mirror image would continue it.

    Parameters
    ----------
    mask : numpy.ndarray of bool, shape (rows, cols)

    Returns
    -------
    list of numpy.ndarray of bool
        One array per group, cropped to its bounding box (then mirrored where it touches the frame).

    Examples
    --------
    >>> m = np.zeros((10, 10), bool); m[0:3, 4:6] = True     # touches the top edge only
    >>> [p.shape for p in mirror_completed(m)], int(mirror_completed(m)[0].sum())
    ([(6, 2)], 12)
    """
    m = np.asarray(mask, bool)
    labels, n = ndimage.label(m, structure=np.ones((3, 3), bool))
    if n == 0:
        return []
    ids = np.arange(1, n + 1)
    touch = np.zeros((n + 1, 4), bool)  # top, bottom, left, right
    for k, edge in enumerate((labels[0], labels[-1], labels[:, 0], labels[:, -1])):
        touch[np.unique(edge[edge > 0]), k] = True
    code = touch[:, 0] * 1 + touch[:, 1] * 2 + touch[:, 2] * 4 + touch[:, 3] * 8
    pieces = []
    for c in np.unique(code[ids]):
        group = np.isin(labels, ids[code[ids] == c])
        rr, cc = np.flatnonzero(group.any(axis=1)), np.flatnonzero(group.any(axis=0))
        group = group[rr[0]:rr[-1] + 1, cc[0]:cc[-1] + 1]  # its bounding box still meets the edges it touches
        h, w = group.shape
        t, b, l, r = (bool(c & bit) for bit in (1, 2, 4, 8))
        if c:
            group = np.pad(group, ((h * t, h * b), (w * l, w * r)), mode="symmetric")
        pieces.append(group)
    return pieces


def compactness_loss(mask: np.ndarray, context: dict[str, Any] | None = None) -> float:
    """Reward to minimise: ``1 - compactness(mask)`` (0 for one disc, 1 for an empty mask)."""
    return 1.0 - compactness(mask)


def normalized_perimeter(mask: np.ndarray, context: dict[str, Any] | None = None) -> float:
    """Reward to minimise: total perimeter, frame edges of the region included, over the border length.

    The stretch of the image border that a region covers counts as its boundary here, so a
    region cannot shorten its perimeter by running along the frame (a band hugging one edge
    that swallows the crystal between several patches would otherwise win); the full mask
    scores 1.

    Parameters
    ----------
    mask : numpy.ndarray of bool, shape (rows, cols)
    context : dict, optional
        Unused; part of the reward signature ``(output, context) -> float``.

    Examples
    --------
    >>> m = np.zeros((100, 100), bool); m[:, :50] = True   # 100 + 200 on the frame, corners rounded
    >>> round(normalized_perimeter(m), 2)
    0.74
    """
    m = np.asarray(mask, bool)
    rows, cols = m.shape
    return (_closed_perimeter_px(m) if m.any() else 0.0) / (2.0 * (rows + cols))


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

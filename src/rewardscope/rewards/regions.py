"""Rewards of a region mask (minimised): compactness, total perimeter, separation of the atoms' disorder.

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

Shape alone cannot tell a true region from a wrong one of nicer shape: on damaged YBCO the
two shape rewards preferred a band that swallowed the crystal between three patches (more
compact than the patches, IoU 0.61 instead of 0.88) and masks that dropped small patches
(fewer pieces, less perimeter). The compactness reward is therefore taken per region and
area-weighted (:func:`region_compactness`: k discs score 1, not 1/k), and the third reward,
:func:`separation_loss`, asks the data: the region must split the atoms by their own
disorder score (the lattice deviation, measured per atom without any window), i.e. the
in/out split must explain that score's variance (``1 - eta^2``, the criterion of Otsu's
threshold). Crystal swallowed by the region, or disordered atoms left out of it, both leave
variance unexplained.
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
        pieces.append(_mirror(group, tuple(bool(c & bit) for bit in (1, 2, 4, 8))))
    return pieces


def _mirror(piece: np.ndarray, touches: tuple[bool, ...]) -> np.ndarray:
    """A piece (cropped to its bounding box) padded by its mirror image on the edges it touches (t, b, l, r)."""
    h, w = piece.shape
    t, b, l, r = touches
    return np.pad(piece, ((h * t, h * b), (w * l, w * r)), mode="symmetric") if any(touches) else piece


def region_compactness(mask: np.ndarray) -> float:
    """Area-weighted mean isoperimetric quotient of the mask's regions, in [0, 1].

    Each 8-connected region is scored on its own, ``4 pi A / P^2`` after completing it by
    reflection where it touches the frame (as :func:`compactness` does), and the scores are
    averaged with the regions' areas as weights. Unlike :func:`compactness` of the whole
    mask (1/k for k discs; a disc of radius R with one of radius r scores
    ``(R^2 + r^2) / (R + r)^2``), the number of regions does not count: a small round true
    patch next to a large one costs nothing, so the study is not pushed to drop it. Ragged
    regions still score low; specks are left to the perimeter and separation rewards.

    Parameters
    ----------
    mask : numpy.ndarray of bool, shape (rows, cols)

    Returns
    -------
    float
        1 for discs of any number and size, pi/4 for squares; 0 for an empty mask.

    Examples
    --------
    >>> yy, xx = np.mgrid[:120, :120]
    >>> two = ((xx - 30) ** 2 + (yy - 30) ** 2 <= 20 ** 2) | ((xx - 90) ** 2 + (yy - 90) ** 2 <= 8 ** 2)
    >>> round(region_compactness(two), 2), round(compactness(two), 2)
    (0.99, 0.59)
    """
    m = np.asarray(mask, bool)
    labels, _ = ndimage.label(m, structure=np.ones((3, 3), bool))
    total = weighted = 0.0
    for k, box in enumerate(ndimage.find_objects(labels), start=1):
        piece = labels[box] == k
        area = float(piece.sum())
        touches = (box[0].start == 0, box[0].stop == m.shape[0], box[1].start == 0, box[1].stop == m.shape[1])
        completed = _mirror(piece, touches)
        per = _closed_perimeter_px(completed)
        weighted += area * (1.0 if per == 0 else min(1.0, 4 * np.pi * completed.sum() / per ** 2))
        total += area
    return float(weighted / total) if total else 0.0


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


def separation_loss(score: np.ndarray, inside: np.ndarray) -> float:
    """Share of the variance of a per-atom score not explained by the in/out split, ``1 - eta^2``.

    ``eta^2 = p (1 - p) (mean_in - mean_out)^2 / var`` with ``p`` the share of atoms inside
    (Otsu's between-class variance over the total): 0 when the split separates two constant
    groups, 1 when it explains nothing (and for an empty or full region, or a constant score).

    Parameters
    ----------
    score : numpy.ndarray, shape (n,)
        Per-atom disorder score (larger = more disordered), e.g. the lattice deviation.
    inside : numpy.ndarray of bool, shape (n,)
        Which atoms lie in the region.

    Returns
    -------
    float
        In [0, 1]; minimised.

    Examples
    --------
    >>> score = np.array([0.1, 0.1, 0.1, 2.0, 2.0])
    >>> round(separation_loss(score, score > 1), 3), round(separation_loss(score, np.arange(5) < 2), 3)
    (0.0, 0.556)
    """
    x = np.asarray(score, float)
    m = np.asarray(inside, bool)
    var = float(x.var()) if len(x) else 0.0
    if m.all() or not m.any() or var <= 0:
        return 1.0
    p = float(m.mean())
    eta2 = p * (1.0 - p) * float(x[m].mean() - x[~m].mean()) ** 2 / var
    return float(max(0.0, 1.0 - eta2))


def _mask_of(output: Any) -> np.ndarray:
    """The mask itself, or the ``mask`` attribute of a workflow output."""
    return np.asarray(getattr(output, "mask", output), bool)


def compactness_reward(output: Any, context: Any = None) -> float:
    """``1 - region_compactness`` of an output's ``mask`` (or of a mask): 0 for discs, 1 for an empty mask.

    Per region (:func:`region_compactness`), not of the whole mask (:func:`compactness_loss`,
    which is the same for one region): the whole-mask quotient made the study drop small
    true patches (benchmark image 4).
    """
    return 1.0 - region_compactness(_mask_of(output))


def perimeter_reward(output: Any, context: Any = None) -> float:
    """:func:`normalized_perimeter` of an output's ``mask`` (or of a mask)."""
    return normalized_perimeter(_mask_of(output))


def separation_reward(output: Any, context: Any = None) -> float:
    """:func:`separation_loss` of an output's per-atom ``disorder`` split by its ``in_region``.

    The output (e.g. :class:`~rewardscope.workflows.amorphous.AmorphousOutput`) carries both:
    ``disorder``, a window-independent disorder score per atom, and ``in_region``, whether
    each atom lies in the mask.
    """
    return separation_loss(output.disorder, output.in_region)


#: Default rewards of region workflows (name -> reward(output, context)), all minimised.
#: ``separation`` needs an output with per-atom ``disorder`` and ``in_region``.
REGION_REWARDS = {"compactness": compactness_reward, "perimeter": perimeter_reward,
                  "separation": separation_reward}

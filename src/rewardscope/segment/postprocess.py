"""Clean-up of a thresholded mask and watershed split of touching particles.

One job: turn a raw binary mask into labelled particles. Speckle smaller than the smallest
stated particle is removed and holes are filled (a projected particle has none). A
touching pair is split with a marker watershed on the Euclidean distance transform
(EDT), markers being the EDT maxima whose dynamic is at least ``depth_px``: two discs of
radii R1 <= R2 joined by a neck of half-width w are split when R1 - w >= depth_px. A
convex region has a concave EDT with a single maximum, so only clearly non-convex
regions (solidity below :data:`CONVEX_SOLIDITY`) are examined, each in its own
bounding box; that keeps the split cheap enough for movies.

The split reports the length of the cuts that go through particle *bodies*: a cut
between two pieces counts only when it is wider than :data:`NECK_RATIO` times the
smaller piece's equivalent diameter. A cut across a narrow neck (two particles that
touch, or that the smoothing bridged) separates particles and costs nothing; a cut
across a wide waist halves one particle. The split study's ``cuts`` reward
(:func:`~rewardscope.rewards.particles.cut_fraction`) counts these, so it opposes
cutting bodies, not cutting necks. With ``necks_only`` the same test decides per region:
the region is cut at the shallowest depth whose cuts are all necks. One depth for a whole
movie cannot be right when a bridged pair needs a shallow one and an irregular particle
elsewhere a deep one.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage.morphology import h_maxima
from skimage.segmentation import watershed

#: Regions at least this convex (area / convex-hull area) are never split.
CONVEX_SOLIDITY = 0.95
#: A cut wider than this times the smaller piece's equivalent diameter goes through a body, not a neck.
NECK_RATIO = 0.5
#: ``necks_only`` splits try depths growing by this factor until every cut is a neck.
NECK_LADDER = 1.5
#: ``necks_only``: a cut narrower than this times the smaller piece's equivalent diameter is a neck (a waist
#: clearly narrower than the pieces; a cut through a lumpy particle is about as wide as its smaller piece or wider).
NECK_SPLIT_RATIO = 0.75


def clean_labels(mask: np.ndarray, *, min_area_px: float = 0.0) -> np.ndarray:
    """Label the regions of ``mask``, dropping those smaller than ``min_area_px`` and filling holes.

    Holes are the background components that do not touch the image border (one
    labelling of the background, much faster than iterative hole filling); the regions
    are labelled once and relabelled only when a hole had to be filled.

    Parameters
    ----------
    mask : numpy.ndarray, shape (rows, cols), bool
    min_area_px : float
        Smallest kept region, pixels.

    Returns
    -------
    numpy.ndarray, shape (rows, cols), int32
        Labels 1..n (0 = background).

    Examples
    --------
    >>> m = np.zeros((9, 9), bool); m[1:6, 1:6] = True; m[3, 3] = False; m[8, 8] = True
    >>> out = clean_labels(m, min_area_px=2)
    >>> int(out[3, 3]), int(out[8, 8]), int(out.max())
    (1, 0, 1)
    """
    lab, n = ndi.label(np.asarray(mask, bool))
    if n and min_area_px > 1:
        keep = np.bincount(lab.ravel(), minlength=n + 1) >= min_area_px
        keep[0] = False
        lab = (np.cumsum(keep) * keep).astype(lab.dtype)[lab]
    background, n_bg = ndi.label(lab == 0)
    outside = np.zeros(n_bg + 1, bool)
    for edge in (background[0], background[-1], background[:, 0], background[:, -1]):
        outside[edge] = True
    outside[0] = True
    holes = ~outside[background]
    if holes.any():
        lab, _ = ndi.label((lab > 0) | holes)
    return lab.astype(np.int32, copy=False)


def solidities(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Area and solidity (area / convex-hull area) of every label 1..max.

    The hull is taken over the end pixels of each row run (qhull), and its pixel count
    is estimated with Pick's theorem (area + perimeter / 2 + 1), which is what counting
    the pixels inside the hull gives for digital convex shapes; far cheaper than
    rasterising each hull as ``regionprops(...).solidity`` does.

    Parameters
    ----------
    labels : numpy.ndarray, shape (rows, cols), int

    Returns
    -------
    area : numpy.ndarray, shape (n,)
        Pixels per label.
    solidity : numpy.ndarray, shape (n,)
        In (0, 1]; 1 for regions too thin for a hull.

    Examples
    --------
    >>> yy, xx = np.mgrid[:40, :40]
    >>> area, sol = solidities(((yy - 20) ** 2 + (xx - 20) ** 2 < 100).astype(int))
    >>> bool(sol[0] > 0.95)
    True
    """
    from scipy.spatial import ConvexHull, QhullError

    labels = np.asarray(labels)
    slices = ndi.find_objects(labels)
    area = np.zeros(len(slices))
    solidity = np.ones(len(slices))
    for k, sl in enumerate(slices):
        if sl is None:
            continue
        region = labels[sl] == k + 1
        area[k] = np.count_nonzero(region)
        rows = np.flatnonzero(region.any(axis=1))
        if area[k] < 3 or rows.size < 2:
            continue
        sub = region[rows]
        pts = np.empty((2 * rows.size, 2))
        pts[:rows.size, 0] = pts[rows.size:, 0] = rows
        pts[:rows.size, 1] = sub.argmax(axis=1)
        pts[rows.size:, 1] = sub.shape[1] - 1 - sub[:, ::-1].argmax(axis=1)
        try:
            hull = ConvexHull(pts)
        except (QhullError, ValueError):
            continue
        solidity[k] = min(1.0, area[k] / (hull.volume + hull.area / 2 + 1))
    return area, solidity


def _split_region(region: np.ndarray, depth_px: float) -> np.ndarray | None:
    """Watershed labels (1..k) of one cropped region, or None if it stays whole."""
    dist = ndi.distance_transform_edt(np.pad(region, 1))[1:-1, 1:-1]
    markers, n = ndi.label(h_maxima(dist, depth_px))
    if n < 2:
        return None
    return watershed(-dist, markers, mask=region)


def _neck_split(region: np.ndarray, depth_px: float) -> np.ndarray | None:
    """Pieces at the shallowest depth >= ``depth_px`` (steps of NECK_LADDER) that a neck separates, or None.

    The watershed pieces that touch along a body cut (wider than :data:`NECK_SPLIT_RATIO`
    times the smaller one's equivalent diameter) are joined again first: a lumpy particle
    next to a small one is one particle and a neck, not a reason to leave the pair joined.
    """
    dist = ndi.distance_transform_edt(np.pad(region, 1))[1:-1, 1:-1]
    depth = float(depth_px)
    while True:
        markers, n = ndi.label(h_maxima(dist, depth))
        if n < 2:
            return None
        pieces = _rejoined(watershed(-dist, markers, mask=region), ratio=NECK_SPLIT_RATIO)
        if pieces.max() >= 2:
            return pieces
        depth *= NECK_LADDER


def _rejoined(pieces: np.ndarray, *, ratio: float) -> np.ndarray:
    """``pieces`` with every pair that touches along a body cut (:func:`_body_contacts`) joined, labelled 1..k.

    Examples
    --------
    >>> lumps = np.array([[1, 1, 2, 2, 0, 3], [1, 1, 2, 2, 3, 3]])  # 1 | 2 a body cut, 2 - 3 a neck
    >>> _rejoined(lumps, ratio=0.75).tolist()
    [[1, 1, 1, 1, 0, 2], [1, 1, 1, 1, 2, 2]]
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = int(pieces.max())
    pairs, _, body = _body_contacts(pieces, ratio=ratio, euclidean=True)
    graph = coo_matrix((np.ones(int(body.sum())), (pairs[body, 0], pairs[body, 1])), shape=(n + 1, n + 1))
    _, group = connected_components(graph, directed=False)
    present = np.unique(group[1:])
    lut = np.zeros(n + 1, np.int32)
    lut[1:] = np.searchsorted(present, group[1:]) + 1
    return np.where(pieces > 0, lut[pieces], 0)


def _body_contacts(labels: np.ndarray, *, ratio: float,
                   euclidean: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of touching labels (m, 2), their contact pixels (m,) and which are body cuts (m,) (see :func:`_body_cut_pixels`)."""
    found = []
    for a, b in ((labels[:, :-1], labels[:, 1:]), (labels[:-1], labels[1:])):
        touch = (a != b) & (a > 0) & (b > 0)
        found.append(np.stack([np.minimum(a[touch], b[touch]), np.maximum(a[touch], b[touch])], 1))
    both = np.concatenate(found)
    if not len(both):
        return np.zeros((0, 2), int), np.zeros(0, int), np.zeros(0, bool)
    pairs, index = np.unique(both, axis=0, return_inverse=True)
    index = index.ravel()
    horizontal = np.bincount(index[: len(found[0])], minlength=len(pairs))
    vertical = np.bincount(index[len(found[0]):], minlength=len(pairs))
    length = np.hypot(horizontal, vertical) if euclidean else horizontal + vertical
    diameter = np.sqrt(4 * np.bincount(labels.ravel()) / np.pi)
    return pairs, horizontal + vertical, length > ratio * np.minimum(diameter[pairs[:, 0]], diameter[pairs[:, 1]])


def _body_cut_pixels(labels: np.ndarray, *, ratio: float = NECK_RATIO, euclidean: bool = False) -> int:
    """Contact pixels (right or below neighbours of another non-zero label) of the body cuts.

    A pair of pieces counts its contact length only when that is wider than ``ratio``
    (default :data:`NECK_RATIO`) times the smaller piece's equivalent diameter. The length
    is the number of contacts, horizontal plus vertical; with ``euclidean`` it is
    ``hypot(horizontal, vertical)`` instead, the length of a straight cut at any angle (the
    sum counts a diagonal cut sqrt(2) times too long: a 45-degree neck 8.5 px wide has 12
    contacts).

    Examples
    --------
    >>> halves = np.ones((10, 20), int); halves[:, 10:] = 2  # a straight 10-px cut through a body
    >>> dumbbell = halves.copy(); dumbbell[:4] = dumbbell[6:] = 0; dumbbell[1:9, 2:8] = 1; dumbbell[1:9, 12:18] = 2
    >>> _body_cut_pixels(halves), _body_cut_pixels(dumbbell)  # the 2-px neck of the dumbbell is free
    (10, 0)
    >>> diagonal = np.where(np.add.outer(np.arange(12), np.arange(12)) < 12, 1, 2)  # a 45-degree cut, 15.6 px
    >>> _body_cut_pixels(diagonal, ratio=2.0), _body_cut_pixels(diagonal, ratio=2.0, euclidean=True)
    (22, 0)
    """
    _, counts, body = _body_contacts(labels, ratio=ratio, euclidean=euclidean)
    return int(counts[body].sum())


def split_touching(labels: np.ndarray, *, depth_px: float, min_solidity: float = CONVEX_SOLIDITY,
                   necks_only: bool = False) -> tuple[np.ndarray, int, int]:
    """Split touching particles by a distance-transform watershed.

    Parameters
    ----------
    labels : numpy.ndarray, shape (rows, cols), int
        Connected regions (0 = background).
    depth_px : float
        Smallest dynamic of a distance-transform maximum that seeds its own particle, pixels.
    min_solidity : float
        Regions with solidity at or above this are left whole.
    necks_only : bool
        Each region is cut at the shallowest depth, from ``depth_px`` up in steps of
        :data:`NECK_LADDER`, whose cuts all go through necks (narrower than
        :data:`NECK_SPLIT_RATIO` times the smaller piece's equivalent diameter), or left
        whole when there is none: the depth is chosen per region, not one for all.

    Returns
    -------
    labels : numpy.ndarray, shape (rows, cols), int32
        Relabelled 1..n.
    n_split : int
        Regions that were cut.
    cut_px : int
        Length of the cuts through particle bodies (wider than :data:`NECK_RATIO` times the
        smaller piece's equivalent diameter), pixels; cuts across necks are not counted.

    Examples
    --------
    >>> yy, xx = np.mgrid[:40, :70]
    >>> pair = ((yy - 20) ** 2 + (xx - 20) ** 2 < 225) | ((yy - 20) ** 2 + (xx - 47) ** 2 < 225)
    >>> out, n_split, _ = split_touching(pair.astype(int), depth_px=3.0)
    >>> int(out.max()), n_split
    (2, 1)

    With ``necks_only``, a pair joined by a narrow neck is cut there and a lumpy particle,
    whose only cut would cross its body, is left whole, from the same shallow depth:

    >>> narrow = ((yy - 20) ** 2 + (xx - 20) ** 2 < 225) | ((yy - 20) ** 2 + (xx - 49) ** 2 < 225)
    >>> lumpy = ((yy - 20) ** 2 + (xx - 30) ** 2 < 225) | ((yy - 20) ** 2 + (xx - 50) ** 2 < 81)
    >>> [split_touching(m.astype(int), depth_px=1.0)[1:] for m in (narrow, lumpy)]  # (n_split, body cut px)
    [(1, 0), (1, 13)]
    >>> [split_touching(m.astype(int), depth_px=1.0, necks_only=True)[1:] for m in (narrow, lumpy)]
    [(1, 0), (0, 0)]
    """
    if not np.isfinite(depth_px) or depth_px <= 0:
        from rewardscope.errors import ParameterError

        raise ParameterError(f"split depth must be a positive number of pixels, got {depth_px}")
    out = np.asarray(labels).astype(np.int32, copy=True)
    next_label = int(out.max()) + 1
    n_split, cut_px = 0, 0
    area, solidity = solidities(out)
    slices = ndi.find_objects(out)
    for k in np.flatnonzero((area >= 16) & (solidity < min_solidity)):
        window = out[slices[k]]
        region = window == k + 1
        pieces = (_neck_split if necks_only else _split_region)(region, depth_px)
        if pieces is None:
            continue
        for j in range(2, int(pieces.max()) + 1):
            window[pieces == j] = next_label
            next_label += 1
        n_split += 1
        cut_px += _body_cut_pixels(np.where(region, window, 0))
    if n_split:
        from skimage.segmentation import relabel_sequential

        out = relabel_sequential(out)[0].astype(np.int32)
    return out, n_split, cut_px

"""Fitting a known projected lattice to detected columns: orientation, origin, affine map, correction field.

:func:`fit_lattice` finds the orientation by matching the detections' neighbour vectors
to the crystal's (rotations and the mirror image are tried), the origin by voting in the
cell, then an affine map cell -> pixels by least squares on matched pairs (absorbs
calibration error, shear and linear drift), and a smooth correction field interpolated
from the residuals of the neighbouring sites (slow scan distortion). With the image,
candidate orientations are compared by :func:`lattice_contrast` (the sites' column
amplitudes, :func:`site_amplitudes`, against the gaps between them). The result,
:class:`LatticeFit`, lists the sites of the fitted lattice in any image
(:meth:`LatticeFit.sites`); :mod:`rewardscope.detect.lattice.prior` tests each of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import ndimage, optimize
from scipy.spatial import cKDTree

from rewardscope.errors import ParameterError
from rewardscope.units import Length

#: Share of the detections that must lie on the fitted lattice (else the lattice is wrong).
MIN_MATCHED_FRACTION = 0.3
#: Grid step of the orientation histogram and final tolerance of the orientation search, degrees.
ANGLE_STEPS_DEG = (0.5, 0.05)


@dataclass
class LatticeFit:
    """A projected lattice fitted to an image.

    Attributes
    ----------
    affine : numpy.ndarray, shape (3, 2)
        ``[u, v, 1] @ affine = [x, y]`` (pixels) for cell coordinates (u, v) (cell index
        plus the site's fraction).
    site_frac : numpy.ndarray, shape (m, 2)
        Fractions of the visible columns in one cell.
    site_species : tuple of str
        Their labels.
    rms_residual_px : float
        RMS distance of matched detections from their (corrected) sites, pixels.
    matched_fraction : float
        Share of the detections that lie on a site.
    correction_length_px : float
        Smoothing length of the correction field, pixels.
    site_offsets_px : numpy.ndarray, shape (m, 2)
        Mean offset of each site type from its affine position, pixels (a sublattice
        shift, e.g. a polar displacement, stays in the sites instead of being shrunk away).
    anchors : numpy.ndarray, shape (k, 2)
        Matched detections (x, y) the correction field is interpolated from.
    residuals : numpy.ndarray, shape (k, 2)
        Their offsets from the sites (affine + site offset), pixels.
    contrast : float
        :func:`lattice_contrast` of the fit in its image (NaN when fitted without the image).
    """

    affine: np.ndarray
    site_frac: np.ndarray
    site_species: tuple[str, ...]
    rms_residual_px: float
    matched_fraction: float
    correction_length_px: float
    site_offsets_px: np.ndarray = field(repr=False)
    anchors: np.ndarray = field(repr=False)
    residuals: np.ndarray = field(repr=False)
    contrast: float = float("nan")

    def sites(self, shape: tuple[int, int], *, correct: bool = True) -> pd.DataFrame:
        """Sites whose centre lies in the image, ``0 <= x < cols``, ``0 <= y < rows``.

        Parameters
        ----------
        shape : (rows, cols)
        correct : bool
            Apply the smooth correction field.

        Returns
        -------
        pandas.DataFrame
            ``x``, ``y`` (pixels), ``site`` (index into ``site_frac``), ``species``, ``u``, ``v``.
        """
        uv, site = _cell_coordinates(self.affine, self.site_frac, shape, margin_px=2.0)
        xy = _apply(self.affine, uv) + self.site_offsets_px[site]
        if correct and len(self.anchors):
            xy = xy + smooth_field(xy, self.anchors, self.residuals, length_px=self.correction_length_px)
        rows, cols = shape
        keep = (xy[:, 0] >= 0) & (xy[:, 0] < cols) & (xy[:, 1] >= 0) & (xy[:, 1] < rows)
        return pd.DataFrame({"x": xy[keep, 0], "y": xy[keep, 1], "site": site[keep],
                             "species": np.asarray(self.site_species, object)[site[keep]],
                             "u": uv[keep, 0], "v": uv[keep, 1]})


def _apply(affine: np.ndarray, uv: np.ndarray) -> np.ndarray:
    return np.column_stack([uv, np.ones(len(uv))]) @ affine


def _cell_coordinates(affine: np.ndarray, site_frac: np.ndarray, shape: tuple[int, int], *,
                      margin_px: float) -> tuple[np.ndarray, np.ndarray]:
    """Cell coordinates (u, v) and site index of every site covering the image (plus margin)."""
    rows, cols = shape
    corners = np.array([[-margin_px, -margin_px], [cols + margin_px, -margin_px],
                        [-margin_px, rows + margin_px], [cols + margin_px, rows + margin_px]])
    lin, off = affine[:2], affine[2]
    uv_corners = np.linalg.solve(lin.T, (corners - off).T).T
    lo, hi = np.floor(uv_corners.min(0)) - 1, np.ceil(uv_corners.max(0)) + 1
    ii, jj = np.meshgrid(np.arange(lo[0], hi[0] + 1), np.arange(lo[1], hi[1] + 1), indexing="ij")
    cells = np.column_stack([ii.ravel(), jj.ravel()])
    uv = (cells[:, None, :] + site_frac[None, :, :]).reshape(-1, 2)
    site = np.tile(np.arange(len(site_frac)), len(cells))
    xy = _apply(affine, uv)
    keep = ((xy[:, 0] >= -margin_px) & (xy[:, 0] < cols + margin_px)
            & (xy[:, 1] >= -margin_px) & (xy[:, 1] < rows + margin_px))
    return uv[keep], site[keep]


def _rotation(theta_deg: float, mirror: bool) -> np.ndarray:
    t = np.deg2rad(theta_deg)
    rot = np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])
    return (np.diag([1.0, -1.0]) @ rot) if mirror else rot


def _ideal_vectors(basis_px: np.ndarray, site_frac: np.ndarray, r_max: float) -> np.ndarray:
    """Vectors from the sites of one cell to all sites within ``r_max`` pixels (row vectors)."""
    shifts = np.array([(i, j) for i in range(-3, 4) for j in range(-3, 4)], float)
    cloud = ((site_frac[None] + shifts[:, None]).reshape(-1, 2)) @ basis_px
    vec = (cloud[None, :, :] - (site_frac @ basis_px)[:, None, :]).reshape(-1, 2)
    d = np.hypot(*vec.T)
    return np.unique(np.round(vec[(d > 1e-6) & (d <= r_max)], 3), axis=0)


def _detected_vectors(xy: np.ndarray, r_max: float, k: int = 8) -> np.ndarray:
    dist, idx = cKDTree(xy).query(xy, k=min(k + 1, len(xy)))
    vec = xy[idx[:, 1:]] - xy[:, None, :]
    return vec[(dist[:, 1:] <= r_max) & np.isfinite(dist[:, 1:])]


def fit_orientation(xy: np.ndarray, basis_px: np.ndarray, site_frac: np.ndarray, *,
                    tolerance_px: float, n_candidates: int = 3) -> list[np.ndarray]:
    """Candidate 2 x 2 matrices ``M`` (rotation, possibly mirrored) so that ``basis_px @ M`` fits ``xy``.

    Parameters
    ----------
    xy : numpy.ndarray, shape (n, 2)
        Detected columns, pixels.
    basis_px : numpy.ndarray, shape (2, 2)
        Cell vectors (rows), pixels, unrotated.
    site_frac : numpy.ndarray, shape (m, 2)
        Visible columns of one cell.
    tolerance_px : float
        How close a detected neighbour vector must come to an ideal one.
    n_candidates : int
        How many of the best-scoring orientations to return, best first.

    Returns
    -------
    list of numpy.ndarray, shape (2, 2)

    Examples
    --------
    >>> from rewardscope.physics import get_lattice
    >>> from rewardscope.units import Length
    >>> crystal = get_lattice("ybco-100")
    >>> xy = crystal.positions(shape=(128, 128), pixel_size=Length(0.35, "A"), rotation_deg=30, visible_only=True)
    >>> basis = crystal.basis / 0.35
    >>> m = fit_orientation(xy[["x", "y"]].to_numpy(), basis, crystal.frac[crystal.visible], tolerance_px=1.0)[0]
    >>> round(float(np.degrees(np.arctan2(m[0, 1], m[0, 0]))) % 180, 1)
    30.0
    """
    r_max = 1.6 * _min_nn(basis_px, site_frac)
    ideal = _ideal_vectors(basis_px, site_frac, r_max)
    found = _detected_vectors(xy, r_max + tolerance_px)

    def cost(theta: float, mirror: bool) -> float:  # truncated squared distance to the nearest ideal vector
        return _truncated_cost(found, ideal @ _rotation(theta, mirror), tolerance_px)

    coarse, fine = ANGLE_STEPS_DEG
    peaks = []
    for mirror in (False, True):
        score = _angle_scores(found, ideal, r_max + 2 * tolerance_px, tolerance_px, coarse, mirror)
        is_peak = (score >= np.roll(score, 1)) & (score > np.roll(score, -1))
        peaks += [(score[i], i * coarse, mirror) for i in np.flatnonzero(is_peak)]
    out = []
    for _, theta, mirror in sorted(peaks, key=lambda p: -p[0])[:n_candidates]:
        res = optimize.minimize_scalar(lambda t, m=mirror: cost(t, m), bounds=(theta - 2 * coarse, theta + 2 * coarse),
                                       method="bounded", options={"xatol": fine / 5})
        out.append(_rotation(float(res.x) if res.fun <= cost(theta, mirror) else theta, mirror))
    return out


#: Above this many (found x ideal) vector pairs :func:`_truncated_cost` queries a k-d tree instead.
_BRUTE_FORCE_PAIRS = 2_000_000


def _truncated_cost(found: np.ndarray, ideal: np.ndarray, tolerance_px: float) -> float:
    """Sum over ``found`` of ``min(distance to the nearest ideal vector, tolerance)^2``.

    The ideal vectors are few (tens), so all pairs at once beat building and querying a tree
    (~1 ms against 2.5 ms for 8000 found vectors); a tree above :data:`_BRUTE_FORCE_PAIRS`.

    Examples
    --------
    >>> _truncated_cost(np.array([[0.0, 0.0], [3.0, 0.0]]), np.array([[0.5, 0.0]]), 1.0)
    1.25
    """
    if len(found) * len(ideal) > _BRUTE_FORCE_PAIRS:
        d, _ = cKDTree(ideal).query(found, distance_upper_bound=tolerance_px)
        return float((np.minimum(d, tolerance_px) ** 2).sum())
    dx = found[:, 0:1] - ideal[None, :, 0]
    dy = found[:, 1:2] - ideal[None, :, 1]
    return float(np.minimum((dx * dx + dy * dy).min(1), tolerance_px ** 2).sum())


def _angle_scores(found: np.ndarray, ideal: np.ndarray, r_max: float, tolerance_px: float, step_deg: float,
                  mirror: bool) -> np.ndarray:
    """Agreement of the found neighbour vectors with the ideal ones rotated by each angle on a grid.

    A histogram of the found vectors over (length, direction), smoothed, is read at the
    ideal vectors' (length, direction + angle) for every angle at once.
    """
    n_ang, dl = int(round(360 / step_deg)), 0.25
    length_edges = np.arange(0.0, r_max + dl, dl)
    angle = np.degrees(np.arctan2(found[:, 1], found[:, 0])) % 360
    hist, _, _ = np.histogram2d(np.hypot(*found.T), angle, bins=[length_edges, np.linspace(0, 360, n_ang + 1)])
    hist = ndimage.gaussian_filter(hist, sigma=(0.5 * tolerance_px / dl, 1.0 / step_deg), mode=("constant", "wrap"))
    vec = ideal * np.array([1.0, -1.0]) if mirror else ideal
    li = np.clip(np.digitize(np.hypot(*vec.T), length_edges) - 1, 0, len(length_edges) - 2)
    ai = np.round((np.degrees(np.arctan2(vec[:, 1], vec[:, 0])) % 360) / step_deg).astype(int)
    shifts = np.arange(n_ang)
    return hist[li[:, None], (ai[:, None] + shifts[None, :]) % n_ang].sum(0)


def _min_nn(basis_px: np.ndarray, site_frac: np.ndarray) -> float:
    vec = _ideal_vectors(basis_px, site_frac, np.abs(basis_px).sum() * 2)
    return float(np.hypot(*vec.T).min())


def fit_origin(xy: np.ndarray, basis_px: np.ndarray, site_frac: np.ndarray, *, bins: int = 48) -> np.ndarray:
    """Cell origin (pixels) by voting: every detection votes once per site type.

    The right origin gets a vote from every detected column; wrong ones only from the
    columns whose site type happens to fit.

    Parameters
    ----------
    xy : numpy.ndarray, shape (n, 2)
        Detected columns, pixels.
    basis_px : numpy.ndarray, shape (2, 2)
        Oriented cell vectors (rows), pixels.
    site_frac : numpy.ndarray, shape (m, 2)
        Visible columns of one cell.
    bins : int
        Histogram bins per cell axis.

    Returns
    -------
    numpy.ndarray, shape (2,)

    Examples
    --------
    >>> cell = np.eye(2) * 10
    >>> xy = (np.stack(np.meshgrid(np.arange(5), np.arange(5)), -1).reshape(-1, 2) * 10.0) + [3.0, 4.0]
    >>> (fit_origin(xy, cell, np.array([[0.0, 0.0]])) % 10).round(1).tolist()
    [3.0, 4.0]
    """
    frac = ((xy @ np.linalg.inv(basis_px))[:, None, :] - site_frac[None]).reshape(-1, 2) % 1.0
    hist, _, _ = np.histogram2d(frac[:, 0], frac[:, 1], bins=bins, range=[[0, 1], [0, 1]])
    hist = ndimage.uniform_filter(hist, size=3, mode="wrap")
    peak = (np.array(np.unravel_index(hist.argmax(), hist.shape)) + 0.5) / bins
    delta = (frac - peak + 0.5) % 1.0 - 0.5
    near = np.abs(delta).max(1) < 1.5 / bins
    return (peak + delta[near].mean(0)) @ basis_px


def smooth_field(points: np.ndarray, anchors: np.ndarray, values: np.ndarray, *, length_px: float) -> np.ndarray:
    """Gaussian-weighted mean of ``values`` at ``anchors``, evaluated at ``points``.

    Normalized convolution on a grid of ``length_px / 4`` cells (values and weights are
    binned, both smoothed with the same Gaussian, divided, and read back by bilinear
    interpolation), so the cost grows with the number of points, not its square.

    Parameters
    ----------
    points : numpy.ndarray, shape (n, 2)
    anchors : numpy.ndarray, shape (k, 2)
    values : numpy.ndarray, shape (k, 2)
    length_px : float
        Gaussian sigma of the weights, pixels.

    Returns
    -------
    numpy.ndarray, shape (n, 2)
        Zero where no anchor is within about three ``length_px``.

    Examples
    --------
    >>> anchors = np.random.default_rng(0).uniform(0, 100, (400, 2))
    >>> out = smooth_field(np.array([[50.0, 50.0]]), anchors, np.tile([0.3, -0.1], (400, 1)), length_px=20)
    >>> out.round(3).tolist()
    [[0.3, -0.1]]
    """
    points, anchors = np.asarray(points, float).reshape(-1, 2), np.asarray(anchors, float).reshape(-1, 2)
    if len(anchors) == 0 or len(points) == 0:
        return np.zeros((len(points), 2))
    step = max(length_px / 4, 0.5)
    lo = np.minimum(points.min(0), anchors.min(0)) - 4 * length_px
    size = np.ceil((np.maximum(points.max(0), anchors.max(0)) + 4 * length_px - lo) / step).astype(int) + 1
    cell = np.clip(np.round((anchors - lo) / step).astype(int), 0, size - 1)
    planes = np.zeros((3, size[1], size[0]))
    np.add.at(planes[0], (cell[:, 1], cell[:, 0]), 1.0)
    for k in (0, 1):
        np.add.at(planes[k + 1], (cell[:, 1], cell[:, 0]), values[:, k])
    planes = np.stack([ndimage.gaussian_filter(p, length_px / step, mode="constant") for p in planes])
    at = ((points - lo) / step)[:, ::-1].T
    w, vx, vy = (ndimage.map_coordinates(p, at, order=1) for p in planes)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.column_stack([vx, vy]) / w[:, None]
    return np.where(w[:, None] > 1e-3 * planes[0].max(), out, 0.0)


def _match(points: np.ndarray, sites: np.ndarray, tolerance_px: float) -> tuple[np.ndarray, np.ndarray]:
    """One-to-one pairs (point index, site index) closer than ``tolerance_px`` (closest wins)."""
    dist, idx = cKDTree(sites).query(points, distance_upper_bound=tolerance_px)
    ok = np.isfinite(dist)
    pts, sts, d = np.flatnonzero(ok), idx[ok], dist[ok]
    order = np.argsort(d)
    _, first = np.unique(sts[order], return_index=True)
    keep = order[first]
    return pts[keep], sts[keep]


def fit_lattice(xy: np.ndarray, crystal: object, *, pixel_size: Length, shape: tuple[int, int],
                image: np.ndarray | None = None, width_px: float | None = None, iterations: int = 3) -> LatticeFit:
    """Fit the crystal's projected lattice to detected column positions.

    Parameters
    ----------
    xy : numpy.ndarray, shape (n, 2)
        Detected columns (x, y), pixels; most of them should be real.
    crystal : ProjectedCrystal
        The structure (only visible columns are used).
    pixel_size : Length
        Nominal calibration (errors of a few per cent are absorbed by the affine fit).
    shape : (rows, cols)
        Image size.
    image : numpy.ndarray, shape (rows, cols), optional
        With the image, the candidate orientations are compared by :func:`lattice_contrast`
        (brightness at the sites against the gaps), else by the share of detections on sites.
    width_px : float, optional
        Column width (Gaussian sigma, px) for the contrast (default 0.17 x smallest column distance).
    iterations : int
        Match / least-squares rounds.

    Returns
    -------
    LatticeFit

    Raises
    ------
    ParameterError
        Too few detections, or too few of them on any fit of the lattice.

    Examples
    --------
    >>> from rewardscope.physics import get_lattice
    >>> from rewardscope.units import Length
    >>> crystal, ps = get_lattice("srtio3-001"), Length(0.35, "A")
    >>> truth = crystal.positions(shape=(96, 96), pixel_size=ps, rotation_deg=12, visible_only=True)
    >>> fit = fit_lattice(truth[["x", "y"]].to_numpy(), crystal, pixel_size=ps, shape=(96, 96))
    >>> len(fit.sites((96, 96))) == len(truth), fit.rms_residual_px < 1e-6
    (True, True)
    """
    xy = np.asarray(xy, float).reshape(-1, 2)
    site_frac = np.asarray(crystal.frac)[crystal.visible]
    species = tuple(np.asarray(crystal.species, object)[crystal.visible])
    if len(xy) < 3 * max(len(site_frac), 3):
        raise ParameterError(f"{len(xy)} columns are too few to fit the {crystal.name} lattice")
    basis = crystal.basis / pixel_size.angstrom
    min_nn = _min_nn(basis, site_frac)
    tol = max(0.3 * min_nn, 1.0)
    fits = [_lattice_fit(xy, _fit_affine(xy, basis @ m, site_frac, shape, tol, iterations), site_frac, species,
                         length_px=2.0 * float(np.hypot(*basis.T).max()))
            for m in fit_orientation(xy, basis, site_frac, tolerance_px=max(0.15 * min_nn, 1.0))]
    fits = [f for f in fits if f.matched_fraction >= MIN_MATCHED_FRACTION and len(f.anchors) >= 3]
    if not fits:
        raise ParameterError(f"fewer than {MIN_MATCHED_FRACTION:.0%} of the {len(xy)} columns lie on any fit of the "
                             f"{crystal.name} lattice; is the lattice right, or is the field of view not one crystal?")
    if image is None:
        return max(fits, key=lambda f: f.matched_fraction)
    width = width_px or max(0.17 * min_nn, 0.7)
    for f in fits:
        f.contrast = lattice_contrast(image, f, width_px=width, radius_px=int(np.clip(round(0.5 * min_nn), 2, 4)))
    return max(fits, key=lambda f: f.contrast)


def _lattice_fit(xy: np.ndarray, affine_fit: tuple, site_frac: np.ndarray, species: tuple[str, ...], *,
                 length_px: float) -> LatticeFit:
    """A LatticeFit from the matched inliers of one affine fit (site offsets, correction field)."""
    affine, uv, site_of, det, inlier = affine_fit
    det, uv, site_of = det[inlier], uv[inlier], site_of[inlier]
    residual = xy[det] - _apply(affine, uv)
    offsets = np.zeros((len(site_frac), 2))
    for s in np.unique(site_of):
        offsets[s] = residual[site_of == s].mean(0)
    residual = residual - offsets[site_of]
    corrected = residual - smooth_field(xy[det], xy[det], residual, length_px=length_px)
    return LatticeFit(affine=affine, site_frac=site_frac, site_species=species,
                      rms_residual_px=float(np.sqrt(np.mean(np.sum(corrected ** 2, 1)))) if len(det) else np.inf,
                      matched_fraction=len(det) / len(xy), correction_length_px=length_px,
                      site_offsets_px=offsets, anchors=xy[det], residuals=residual)


def interstitial_fraction(site_frac: np.ndarray, basis_px: np.ndarray, *, grid: int = 40) -> np.ndarray:
    """Fractional offset, within the cell, of the point farthest from every column.

    Examples
    --------
    >>> interstitial_fraction(np.array([[0.0, 0.0]]), np.eye(2) * 10).round(2).tolist()
    [0.5, 0.5]
    """
    g = np.stack(np.meshgrid(np.arange(grid), np.arange(grid), indexing="ij"), -1).reshape(-1, 2) / grid
    shifts = np.array([(i, j) for i in (-1, 0, 1) for j in (-1, 0, 1)], float)
    cloud = ((site_frac[None] + shifts[:, None]).reshape(-1, 2)) @ basis_px
    dist, _ = cKDTree(cloud).query(g @ basis_px)
    return g[np.argmax(dist)]


def lattice_contrast(image: np.ndarray, fit: LatticeFit, *, width_px: float, radius_px: int) -> float:
    """How much brighter the fitted sites are than the emptiest places between them.

    ``(mean A_site - mean A_gap) / pooled std`` of the Gaussian amplitudes at the sites and
    at the same sites moved to the cell's interstitial point: large (> 2) for the right
    lattice, near 0 for a wrong one.
    """
    sites = fit.sites(np.shape(image))
    if len(sites) < 3:
        return 0.0
    gap = interstitial_fraction(fit.site_frac, fit.affine[:2]) - fit.site_frac[sites["site"].to_numpy()]
    decoy = _apply(fit.affine, sites[["u", "v"]].to_numpy() + gap)
    rows, cols = np.shape(image)
    decoy = decoy[(decoy[:, 0] >= 0) & (decoy[:, 0] < cols) & (decoy[:, 1] >= 0) & (decoy[:, 1] < rows)]
    a_site, _, _ = site_amplitudes(image, sites[["x", "y"]].to_numpy(), width_px=width_px, radius_px=radius_px)
    a_gap, _, _ = site_amplitudes(image, decoy, width_px=width_px, radius_px=radius_px)
    pooled = np.sqrt(0.5 * (np.var(a_site) + np.var(a_gap))) + 1e-12
    return float((np.mean(a_site) - np.mean(a_gap)) / pooled)


def _fit_affine(xy: np.ndarray, basis: np.ndarray, site_frac: np.ndarray, shape: tuple[int, int], tol: float,
                iterations: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Origin vote, then trimmed least squares of the affine map on matched pairs.

    Each site type may sit off its ideal fraction by a common offset (its median
    residual); the affine map is fitted to the positions less those offsets. Returns the
    affine map and, per matched detection: cell coordinates, site index, detection index
    and whether it is an inlier (within 3 robust sigmas of its site, at least 0.5 px).
    """
    affine = np.vstack([basis, fit_origin(xy, basis, site_frac)])
    for _ in range(max(int(iterations), 1)):
        uv, site_of = _cell_coordinates(affine, site_frac, shape, margin_px=tol)
        det, idx = _match(xy, _apply(affine, uv), tol)
        uv, site_of = uv[idx], site_of[idx]
        residual = xy[det] - _apply(affine, uv)
        offsets = np.zeros((len(site_frac), 2))
        for s in np.unique(site_of):
            offsets[s] = np.median(residual[site_of == s], axis=0)
        dist = np.hypot(*(residual - offsets[site_of]).T)
        inlier = dist <= max(3 * 1.4826 * np.median(dist) if len(dist) else 0.0, 0.5)
        if inlier.sum() < 3:
            break
        target = xy[det[inlier]] - offsets[site_of[inlier]]
        affine = np.linalg.lstsq(np.column_stack([uv[inlier], np.ones(inlier.sum())]), target, rcond=None)[0]
    return affine, uv, site_of, det, inlier


def site_amplitudes(image: np.ndarray, xy: np.ndarray, *, width_px: float,
                    radius_px: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Amplitude of a Gaussian column at fixed positions, by linear least squares.

    Model in a (2r+1)^2 window: ``background + amplitude * exp(-d^2 / (2 width^2))``.

    Parameters
    ----------
    image : numpy.ndarray, shape (rows, cols)
    xy : numpy.ndarray, shape (n, 2)
        Positions, pixels.
    width_px : float
        Gaussian sigma of a column, pixels.
    radius_px : int
        Window half-size, pixels (clipped at the image edge).

    Returns
    -------
    amplitude : numpy.ndarray, shape (n,)
    residual_ss : numpy.ndarray, shape (n,)
        Sum of squared residuals of each fit.
    variance_factor : numpy.ndarray, shape (n,)
        Amplitude variance per unit noise variance, ``(G^-1)_aa`` (G = normal matrix).

    Examples
    --------
    >>> yy, xx = np.mgrid[0:21, 0:21]
    >>> img = 0.2 + 0.7 * np.exp(-((xx - 10.3) ** 2 + (yy - 9.6) ** 2) / 2.0)
    >>> amp, _, _ = site_amplitudes(img, np.array([[10.3, 9.6]]), width_px=1.0, radius_px=4)
    >>> round(float(amp[0]), 6)
    0.7
    """
    img = np.asarray(image, float)
    r = max(int(radius_px), 1)
    off = np.arange(-r, r + 1)
    cx, cy = np.round(xy[:, 0]).astype(int), np.round(xy[:, 1]).astype(int)
    gx = np.broadcast_to(cx[:, None, None] + off[None, None, :], (len(xy), 2 * r + 1, 2 * r + 1))
    gy = np.broadcast_to(cy[:, None, None] + off[None, :, None], gx.shape)
    inside = ((gx >= 0) & (gx < img.shape[1]) & (gy >= 0) & (gy < img.shape[0])).reshape(len(xy), -1)
    data = img[np.clip(gy, 0, img.shape[0] - 1), np.clip(gx, 0, img.shape[1] - 1)].reshape(len(xy), -1)
    d2 = ((gx - xy[:, 0, None, None]) ** 2 + (gy - xy[:, 1, None, None]) ** 2).reshape(len(xy), -1)
    g = np.exp(-d2 / (2 * width_px ** 2)) * inside
    w = inside.astype(float)
    s_w, s_g, s_gg = w.sum(1), g.sum(1), (g * g).sum(1)
    s_d, s_gd = (w * data).sum(1), (g * data).sum(1)
    det = s_w * s_gg - s_g ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        amp = (s_w * s_gd - s_g * s_d) / det
        bg = (s_gg * s_d - s_g * s_gd) / det
        var = s_w / det
    res = (w * (data - bg[:, None] - amp[:, None] * g) ** 2).sum(1)
    return np.nan_to_num(amp), np.nan_to_num(res), np.nan_to_num(var, nan=np.inf)

"""Lattice prior: complete and refine detected columns with a fitted lattice, testing every site.

Detection alone (LoG*, any finder) treats each column on its own, so at high noise it
misses dim columns and at any noise its positions cannot beat the Cramér-Rao bound of a
single column. When the field of view is one crystal of a known structure, the lattice
is a much stronger statement: columns sit on sites of a (slightly distorted) lattice
whose cell is known. :func:`apply_lattice_prior` uses that, in four steps:

1. the lattice is fitted to the detections (:func:`~rewardscope.detect.lattice.fit.fit_lattice`)
   and refused when its cell is far off the nominal one or its sites are not brighter
   than the gaps;
2. each site's column amplitude by a linear least-squares fit of a Gaussian of the
   columns' width plus background at the predicted position
   (:func:`~rewardscope.detect.lattice.fit.site_amplitudes`);
3. presence per site by Bayes' rule: amplitude ~ N(A_site, s^2) if a column is there
   (A_site: median amplitude of detected columns on that site type), N(0, s^2) if not,
   with prior probability ``vacancy_prior`` of an empty site; ``s`` from the fit
   residuals. Off-lattice detections are dropped;
4. positions: a Gaussian fit per column (started at its site), shrunk towards its site by the Bayes weight
   ``d^2 / (d^2 + e^2)`` (``d`` = ``displacement_sigma``, the prior spread of columns
   about their sites; ``e`` = the fit's own Cramér-Rao error).

What this costs, on purpose: where noise hides a vacancy, the site is reported as a
column (the data cannot tell, the prior decides), and real displacements are shrunk by
the same weight; both are measured in ``benchmarks/atoms_logstar.py``. Atomap refines
atoms per sublattice and can add atoms along zone vectors from hand-picked
sublattices; no library fits a structure given as a preset or CIF to a detection set
and tests each site, so this is written here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rewardscope.detect.lattice.fit import LatticeFit, _match, fit_lattice, site_amplitudes
from rewardscope.detect.refine import fit_gaussians
from rewardscope.errors import ParameterError
from rewardscope.progress import ProgressArg, as_progress, start_stage
from rewardscope.units import Length

#: Largest stretch of the fitted cell against the nominal one (calibration error, strain).
MAX_CELL_STRAIN = 0.04
#: Smallest :func:`~rewardscope.detect.lattice.fit.lattice_contrast` accepted as a fit of the image.
MIN_CONTRAST = 1.0
#: Smallest displacement spread the empirical-Bayes estimate returns, Å.
MIN_DISPLACEMENT_ANGSTROM = 0.02


@dataclass(frozen=True)
class LatticePriorInfo:
    """What the lattice prior did (for the summary)."""

    n_sites: int
    n_present: int
    n_added: int
    n_dropped_off_lattice: int
    n_dropped_empty_site: int
    rms_residual_px: float
    matched_fraction: float
    contrast: float
    noise_sigma: float
    displacement_sigma_px: float
    shrink_weight_median: float

    def as_dict(self) -> dict[str, float]:
        """Plain dict (JSON-ready)."""
        return dict(self.__dict__)


def apply_lattice_prior(image: np.ndarray, atoms: pd.DataFrame, crystal: object, *, pixel_size: Length,
                        displacement_sigma_px: float | None = None, vacancy_prior: float = 0.01,
                        min_nn_distance_px: float | None = None,
                        progress: ProgressArg = None) -> tuple[pd.DataFrame, LatticePriorInfo]:
    """Complete and refine detected columns with the crystal's lattice.

    Parameters
    ----------
    image : numpy.ndarray, shape (rows, cols)
    atoms : pandas.DataFrame
        Detections with ``x``, ``y`` (pixels); ``fit_sigma`` is used for the column width if present.
    crystal : ProjectedCrystal
    pixel_size : Length
    displacement_sigma_px : float, optional
        Prior spread of columns about their sites, per axis, pixels (large = no shrinking).
        None: estimated from the image (empirical Bayes: the spread of the detected
        columns about their sites minus their fit errors, at least
        :data:`MIN_DISPLACEMENT_ANGSTROM`).
    vacancy_prior : float
        Prior probability that a site holds no column, in (0, 1).
    min_nn_distance_px : float, optional
        Smallest column distance (default: from the crystal).
    progress : bool or callable, optional
        Stage ``"lattice prior"``: fit, column fits, site test (:mod:`rewardscope.progress`).

    Returns
    -------
    atoms : pandas.DataFrame
        One row per site judged occupied: ``x``, ``y`` (pixels), ``site``, ``species``,
        ``site_probability``, ``source`` (``detected`` / ``lattice``), ``site_x``, ``site_y``,
        ``amplitude``, ``position_error_px`` (fit's Cramér-Rao estimate), ``shrink_weight``.
    info : LatticePriorInfo

    Raises
    ------
    ParameterError
        Impossible prior values, or the detections do not fit the lattice.
    """
    if not 0 < vacancy_prior < 1:
        raise ParameterError(f"vacancy prior must be in (0, 1), got {vacancy_prior}")
    if displacement_sigma_px is not None and not displacement_sigma_px > 0:
        raise ParameterError(f"displacement sigma must be positive, got {displacement_sigma_px}")
    img = np.asarray(image, float)
    xy = atoms[["x", "y"]].to_numpy(float)
    nn = min_nn_distance_px or crystal.min_nn_distance_angstrom / pixel_size.angstrom
    width = float(np.nanmedian(atoms["fit_sigma"])) if "fit_sigma" in atoms else max(0.17 * nn, 0.7)
    advance = start_stage(as_progress(progress), "lattice prior", total=3, unit="steps")
    fit = _checked_fit(img, xy, crystal, pixel_size, width)
    advance()
    sites = fit.sites(img.shape)
    site_xy = sites[["x", "y"]].to_numpy()
    det, idx = _match(xy, site_xy, max(0.3 * nn, 1.0))
    detected = np.isin(np.arange(len(sites)), idx)
    radius = int(np.clip(round(0.5 * nn), 2, 4))
    pos, fit_width = _fitted_positions(img, site_xy, width, radius)
    advance()
    width = float(np.median(fit_width[idx])) if len(idx) else width
    amp, res_fit, var = site_amplitudes(img, pos, width_px=width, radius_px=radius)  # at the fitted positions
    noise = float(np.sqrt(np.median(res_fit[idx]) / ((2 * radius + 1) ** 2 - 2))) if len(idx) else float(np.std(img))
    site_type = _label_by_brightness(amp[idx], sites["site"].to_numpy()[idx], fit.site_frac,
                                     np.asarray(crystal.weight)[crystal.visible])[sites["site"].to_numpy()]
    sites["site"], sites["species"] = site_type, np.asarray(fit.site_species, object)[site_type]
    prob = _presence_probability(amp, site_type, idx, noise * np.sqrt(var), vacancy_prior)
    present = prob > 0.5
    error = np.sqrt(2 / np.pi) * noise / np.maximum(np.abs(amp), 1e-12)
    sigma = displacement_sigma_px or estimate_displacement_sigma(
        pos[present] - site_xy[present], error[present], floor_px=MIN_DISPLACEMENT_ANGSTROM / pixel_size.angstrom)
    out = _shrunk(sites, pos, amp, error, present, sigma)
    out["site_probability"] = prob[present]
    out["source"] = np.where(detected[present], "detected", "lattice")
    info = LatticePriorInfo(
        n_sites=len(sites), n_present=int(present.sum()), n_added=int((present & ~detected).sum()),
        n_dropped_off_lattice=int(len(xy) - len(det)), n_dropped_empty_site=int((~present & detected).sum()),
        rms_residual_px=fit.rms_residual_px, matched_fraction=fit.matched_fraction, contrast=fit.contrast,
        noise_sigma=noise, displacement_sigma_px=float(sigma),
        shrink_weight_median=float(np.median(out["shrink_weight"])) if len(out) else float("nan"))
    advance()
    return out.reset_index(drop=True), info


def _checked_fit(img: np.ndarray, xy: np.ndarray, crystal: object, pixel_size: Length, width: float) -> LatticeFit:
    """:func:`fit_lattice` with the image; a clear error when the cell is far off or the sites are dim."""
    fit = fit_lattice(xy, crystal, pixel_size=pixel_size, shape=img.shape, image=img, width_px=width)
    stretch = np.linalg.svd(np.linalg.solve(crystal.basis / pixel_size.angstrom, fit.affine[:2]), compute_uv=False)
    if np.abs(stretch - 1).max() > MAX_CELL_STRAIN:
        raise ParameterError(f"the cell fitted to the columns is {100 * np.abs(stretch - 1).max():.0f} % off the "
                             f"{crystal.name} cell; check the lattice and the pixel size")
    if not fit.contrast >= MIN_CONTRAST:
        raise ParameterError(f"the fitted {crystal.name} lattice does not match the image (site contrast "
                             f"{fit.contrast:.2f} < {MIN_CONTRAST}); check the lattice and pixel size, or find atoms "
                             "without the lattice prior")
    return fit


def shift_symmetries(site_frac: np.ndarray) -> list[np.ndarray]:
    """Site relabellings under translations that map the visible columns onto themselves.

    Parameters
    ----------
    site_frac : numpy.ndarray, shape (m, 2)

    Returns
    -------
    list of numpy.ndarray of int, shape (m,)
        ``perm[s]``: the site that site ``s`` lands on (the identity first).

    Examples
    --------
    >>> [p.tolist() for p in shift_symmetries(np.array([[0.0, 0.0], [0.5, 0.5]]))]
    [[0, 1], [1, 0]]
    """
    perms = []
    for t in site_frac - site_frac[0]:
        moved = (site_frac + t) % 1.0
        d = np.abs((moved[:, None, :] - site_frac[None] + 0.5) % 1.0 - 0.5).max(-1)
        if (d.min(1) < 1e-6).all():
            perms.append(d.argmin(1))
    return perms


def _label_by_brightness(amp: np.ndarray, site: np.ndarray, site_frac: np.ndarray,
                         weight: np.ndarray) -> np.ndarray:
    """Relabelling of the fitted site types whose HAADF weights best follow the amplitudes.

    Positions cannot tell apart origins related by a translation symmetry of the visible
    columns (in SrTiO3 [001], Sr and TiO swap); the Z^1.7 weights can.
    """
    median = np.array([np.median(amp[site == s]) if np.any(site == s) else np.nan for s in range(len(site_frac))])
    ok = np.isfinite(median)

    def fit(perm: np.ndarray) -> float:
        w = weight[perm][ok]
        return float(np.corrcoef(w, median[ok])[0, 1]) if ok.sum() > 1 and np.ptp(w) > 0 else 0.0

    return max(shift_symmetries(site_frac), key=fit)


def _presence_probability(amp: np.ndarray, site: np.ndarray, matched: np.ndarray, amp_sigma: np.ndarray,
                          vacancy_prior: float) -> np.ndarray:
    """Posterior probability of a column at each site (equal-variance Gaussians, 0 vs A_site)."""
    typical = np.zeros(site.max() + 1)
    for s in np.unique(site):
        on = matched[site[matched] == s]
        typical[s] = np.median(amp[on]) if len(on) >= 5 else np.median(amp[matched]) if len(matched) else amp.max()
    a_site = np.maximum(typical[site], 1e-12)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_odds = np.log((1 - vacancy_prior) / vacancy_prior) + (2 * amp * a_site - a_site ** 2) / (2 * amp_sigma ** 2)
    return 1.0 / (1.0 + np.exp(-np.clip(np.nan_to_num(log_odds, nan=-50.0), -50, 50)))


def estimate_displacement_sigma(residual: np.ndarray, error: np.ndarray, *, floor_px: float) -> float:
    """Spread of true column displacements about their sites, per axis (method of moments).

    The observed offset of a fitted column from its site is the true displacement plus
    the fit error, so ``var(offset) = sigma^2 + error^2`` per axis; both variances are
    taken robustly (median absolute offset, median squared error), so that the few fits
    that wander off at high noise do not inflate the spread.

    Parameters
    ----------
    residual : numpy.ndarray, shape (n, 2)
        Fitted position minus site, pixels.
    error : numpy.ndarray, shape (n,)
        Per-axis standard error of each fit, pixels.
    floor_px : float
        Smallest value returned.

    Returns
    -------
    float

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> err = np.full(20000, 0.3)
    >>> res = rng.normal(0, np.hypot(0.2, 0.3), (20000, 2))
    >>> round(estimate_displacement_sigma(res, err, floor_px=0.01), 2)
    0.2
    """
    if len(residual) == 0:
        return float(floor_px)
    spread = (1.4826 * np.median(np.abs(residual), axis=0)) ** 2  # robust per-axis variance
    var = float(spread.mean() - np.median(np.asarray(error) ** 2))
    return float(np.sqrt(max(var, floor_px ** 2)))


def _fitted_positions(img: np.ndarray, start: np.ndarray, width: float, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian fits started at ``start`` (moves capped at max(1, radius / 2) px): positions and widths.

    Where a fit fails, the start and ``width`` are returned.
    """
    if len(start) == 0:
        return start.copy(), np.zeros(0)
    fit = fit_gaussians(img, start, radius_px=radius, sigma_px=width, iterations=10, max_shift_px=max(1.0, radius / 2))
    return np.column_stack([fit["x"], fit["y"]]), np.where(fit["converged"], fit["sigma"], width)


def _shrunk(sites: pd.DataFrame, pos: np.ndarray, amp: np.ndarray, error: np.ndarray, present: np.ndarray,
            sigma: float) -> pd.DataFrame:
    """Occupied sites with positions shrunk towards the site by ``sigma^2 / (sigma^2 + error^2)``."""
    site_xy = sites[["x", "y"]].to_numpy()
    weight = sigma ** 2 / (sigma ** 2 + error ** 2)
    final = site_xy + weight[:, None] * (pos - site_xy)
    out = sites.loc[present, ["site", "species"]].copy()
    out.insert(0, "x", final[present, 0])
    out.insert(1, "y", final[present, 1])
    out["site_x"], out["site_y"] = site_xy[present, 0], site_xy[present, 1]
    out["amplitude"] = amp[present]
    out["position_error_px"] = error[present]
    out["shrink_weight"] = weight[present]
    return out

"""HAADF-STEM image simulator with exact truth.

Incoherent imaging: each atomic column is a Gaussian probe image weighted by the sum of
Z^1.7 of its atoms. On top: lattice rotation, scan distortion (smooth row drift plus line
jitter), amorphous patches (columns displaced and dimmed), vacancies, Poisson (dose) and
Gaussian noise on the image scaled to [0, 1]. A full multislice simulation (abTEM) would
be far slower and is not needed for column positions; this simple model is ours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import ndimage

from rewardscope.config import make_config
from rewardscope.physics import ProjectedCrystal, get_lattice
from rewardscope.units import Length, parse_length
from rewardscope.simulate.haadf_config import HaadfConfig  # noqa: F401  (re-exported)


@dataclass
class SimulatedImage:
    """A simulated image and its truth.

    Attributes
    ----------
    image : numpy.ndarray, shape (rows, cols), float64
        Clean image scaled to [0, 1] plus noise.
    truth : pandas.DataFrame
        Visible columns inside the image: ``x``, ``y`` (pixels, x = column), ``species``,
        ``amorphous`` (bool), ``weight``.
    amorphous_mask : numpy.ndarray of bool, shape (rows, cols)
    pixel_size : Length
    crystal : ProjectedCrystal
    config : HaadfConfig
    contamination_mask : numpy.ndarray of bool, shape (rows, cols)
        The contaminated corner (all False without ``contamination``); ``truth`` has
        ``contaminated`` for its columns.
    """

    image: np.ndarray
    truth: pd.DataFrame
    amorphous_mask: np.ndarray
    pixel_size: Length
    crystal: ProjectedCrystal
    config: HaadfConfig
    contamination_mask: np.ndarray | None = None

    @property
    def positions(self) -> np.ndarray:
        """(n, 2) array of true (x, y) positions, pixels."""
        return self.truth[["x", "y"]].to_numpy()


def amorphous_patches(shape: tuple[int, int], *, fraction: float, correlation_px: float,
                      rng: np.random.Generator) -> np.ndarray:
    """Random compact blobs covering ``fraction`` of the field (smoothed noise, thresholded).

    Returns
    -------
    numpy.ndarray of bool, shape ``shape``
    """
    if fraction <= 0:
        return np.zeros(shape, bool)
    field = ndimage.gaussian_filter(rng.standard_normal(shape), correlation_px, mode="wrap")
    return field > np.quantile(field, 1.0 - fraction)


def render_columns(shape: tuple[int, int], x: np.ndarray, y: np.ndarray, weight: np.ndarray, *,
                   sigma_px: float, row_shift_px: np.ndarray | None = None) -> np.ndarray:
    """Sum of Gaussians of width ``sigma_px`` at (x, y), each scaled by ``weight``.

    Parameters
    ----------
    shape : (rows, cols)
    x, y : numpy.ndarray, shape (n,)
        Column positions, pixels.
    weight : numpy.ndarray, shape (n,)
    sigma_px : float
        Gaussian sigma, pixels.
    row_shift_px : numpy.ndarray, shape (rows,), optional
        Horizontal scan offset of each row (scan distortion): row r samples x + shift[r].

    Returns
    -------
    numpy.ndarray, shape (rows, cols)
    """
    rows, cols = shape
    r = int(np.ceil(4 * sigma_px)) + 2
    off = np.arange(-r, r + 1)
    ix = np.floor(x).astype(int)[:, None, None] + off[None, None, :]
    iy = np.floor(y).astype(int)[:, None, None] + off[None, :, None]
    iy_c = np.clip(iy, 0, rows - 1)
    shift = np.zeros(rows) if row_shift_px is None else row_shift_px
    dx = ix + shift[iy_c] - x[:, None, None]
    dy = iy - y[:, None, None]
    val = weight[:, None, None] * np.exp(-(dx ** 2 + dy ** 2) / (2 * sigma_px ** 2))
    ok = (ix >= 0) & (ix < cols) & (iy >= 0) & (iy < rows)
    ok, (ix, iy) = ok & np.ones_like(val, bool), np.broadcast_arrays(ix, iy)
    out = np.zeros(rows * cols)
    np.add.at(out, (iy[ok] * cols + ix[ok]), val[ok])
    return out.reshape(rows, cols)


def _scan_shift(rows: int, amplitude: float, rng: np.random.Generator) -> np.ndarray:
    """Row-wise horizontal offsets: a smooth drift plus line jitter, peak ~ ``amplitude``."""
    if amplitude <= 0:
        return np.zeros(rows)
    smooth = ndimage.gaussian_filter1d(rng.standard_normal(rows), rows / 8, mode="nearest")
    smooth *= amplitude / (np.abs(smooth).max() + 1e-12)
    return smooth + 0.25 * amplitude * rng.standard_normal(rows)


def _disorder(cols_df: pd.DataFrame, mask: np.ndarray, crystal: ProjectedCrystal, ps: float,
              rng: np.random.Generator) -> pd.DataFrame:
    """Displace and dim the columns that fall in amorphous patches."""
    rows, ncols = mask.shape
    iy = np.clip(np.round(cols_df["y"]).astype(int), 0, rows - 1)
    ix = np.clip(np.round(cols_df["x"]).astype(int), 0, ncols - 1)
    amorph = mask[iy, ix]
    n = int(amorph.sum())
    step = 0.35 * crystal.min_nn_distance_angstrom / ps
    df = cols_df.copy()
    df["amorphous"] = amorph
    df.loc[amorph, "x"] += rng.normal(0, step, n)
    df.loc[amorph, "y"] += rng.normal(0, step, n)
    df.loc[amorph, "weight"] *= rng.uniform(0.35, 0.75, n)
    return df


def _resolve_config(config: HaadfConfig | None, overrides: dict[str, object]) -> HaadfConfig:
    if isinstance(overrides.get("pixel_size"), Length):
        ps = overrides["pixel_size"]
        overrides["pixel_size"] = ps.text  # type: ignore[union-attr]
    cfg = make_config(HaadfConfig, config, **overrides)
    parse_length(cfg.pixel_size)  # raises CalibrationError for a bad length
    return cfg


def simulate_haadf(lattice: str | ProjectedCrystal | None = None, *, config: HaadfConfig | None = None,
                   **overrides: object) -> SimulatedImage:
    """Simulate a HAADF-STEM image with exact column positions.

    Parameters
    ----------
    lattice : str or ProjectedCrystal, optional
        Preset name or a projected crystal (e.g. from :func:`rewardscope.physics.from_cif`);
        default ``config.lattice``.
    config : HaadfConfig, optional
        All parameters; keyword ``overrides`` (e.g. ``noise=0.3, pixel_size="0.3A", size=128``)
        replace single fields.

    Returns
    -------
    SimulatedImage
        Image, truth table (visible columns inside the frame), amorphous mask.

    Examples
    --------
    >>> sim = simulate_haadf("srtio3-001", size=64, noise=0.0, seed=1)
    >>> sim.image.shape, len(sim.truth) > 50
    ((64, 64), True)
    """
    if isinstance(lattice, str):
        overrides["lattice"] = lattice
    cfg = _resolve_config(config, overrides)
    crystal = lattice if isinstance(lattice, ProjectedCrystal) else get_lattice(cfg.lattice)
    pixel_size = parse_length(cfg.pixel_size)
    ps = pixel_size.angstrom
    rng = np.random.default_rng(cfg.seed)
    shape = (cfg.size, cfg.size)
    sigma_px = cfg.probe_fwhm_angstrom / 2.3548 / ps
    origin = rng.uniform(0, 1, 2) * np.linalg.norm(crystal.a_vec) / ps
    cols_df = crystal.positions(shape=shape, pixel_size=pixel_size, rotation_deg=cfg.rotation_deg,
                                origin_px=origin, margin_px=5 * sigma_px)
    mask = amorphous_patches(shape, fraction=cfg.amorphous_fraction, correlation_px=cfg.size / 10, rng=rng)
    cols_df = _disorder(cols_df, mask, crystal, ps, rng)
    vacant = cols_df["visible"].to_numpy() & (rng.random(len(cols_df)) < cfg.vacancy_fraction)
    cols_df = cols_df[~vacant].reset_index(drop=True)
    shift = _scan_shift(cfg.size, cfg.scan_distortion_px, rng)
    clean = render_columns(shape, cols_df["x"].to_numpy(), cols_df["y"].to_numpy(),
                           cols_df["weight"].to_numpy(), sigma_px=sigma_px, row_shift_px=shift)
    clean = clean / clean.max() + cfg.background
    clean /= clean.max()
    clean, noise_scale, dirty = _non_uniform(clean, cfg, rng)
    image = clean
    if cfg.dose is not None:
        image = rng.poisson(image * cfg.dose) / cfg.dose
    if cfg.noise > 0:
        image = image + (rng.normal(0.0, cfg.noise, shape) if noise_scale is None
                         else rng.normal(0.0, 1.0, shape) * (cfg.noise * noise_scale))
    truth = _truth_table(cols_df, shift, shape)
    iy = np.clip(np.round(truth["y"]).astype(int), 0, shape[0] - 1)
    ix = np.clip(np.round(truth["x"]).astype(int), 0, shape[1] - 1)
    truth["contaminated"] = dirty[iy, ix]
    return SimulatedImage(image=image, truth=truth, amorphous_mask=mask, pixel_size=pixel_size,
                          crystal=crystal, config=cfg, contamination_mask=dirty)


def _non_uniform(clean: np.ndarray, cfg: HaadfConfig,
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """The thickness gradient and the contaminated corner: (image, noise scale per pixel or None, corner mask).

    Left to right, the column contrast and the noise fall from 1 to ``1 - g`` times their
    value (so one LoG threshold cannot fit both sides: the signal-to-noise ratio stays, the
    response does not) and a background up to ``g / 2`` grows in; in the corner (a quarter disk of
    radius ``contamination`` x side at the top right, soft edge) a smooth amorphous layer
    (correlated noise, 0.2-0.6 of the peak) covers columns dimmed to 20 %.
    """
    rows, cols = clean.shape
    dirty = np.zeros(clean.shape, bool)
    if cfg.thickness_gradient <= 0 and cfg.contamination <= 0:
        return clean, None, dirty
    g = cfg.thickness_gradient
    ramp = np.linspace(0.0, 1.0, cols)[None, :]
    out = clean * (1.0 - g * ramp) + 0.5 * g * ramp
    if cfg.contamination > 0:
        yy, xx = np.mgrid[:rows, :cols]
        radius = cfg.contamination * max(rows, cols)
        dist = np.hypot(yy, xx - (cols - 1))
        dirty = dist < radius
        soft = np.clip((radius - dist) / (0.05 * radius + 1.0), 0.0, 1.0)
        texture = ndimage.gaussian_filter(rng.standard_normal(clean.shape), 3.0)
        texture = (texture - texture.min()) / (np.ptp(texture) + 1e-12)
        out = out * (1.0 - 0.8 * soft) + soft * (0.2 + 0.4 * texture)
    return out, np.broadcast_to(1.0 - g * ramp, clean.shape), dirty


def _truth_table(cols_df: pd.DataFrame, shift: np.ndarray, shape: tuple[int, int]) -> pd.DataFrame:
    """Visible columns where they appear in the image (scan shift applied), inside the frame."""
    rows, cols = shape
    vis = cols_df[cols_df["visible"]].copy()
    iy = np.clip(np.round(vis["y"]).astype(int), 0, rows - 1)
    vis["x"] = vis["x"] - shift[iy]
    inside = (vis["x"] >= 0) & (vis["x"] <= cols - 1) & (vis["y"] >= 0) & (vis["y"] <= rows - 1)
    out = vis[inside][["x", "y", "species", "amorphous", "weight"]].reset_index(drop=True)
    out["amorphous"] = out["amorphous"].astype(bool)
    return out

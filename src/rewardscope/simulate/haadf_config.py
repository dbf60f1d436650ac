"""Parameters of a simulated HAADF-STEM image, :class:`HaadfConfig`, in a light module (pydantic only).

The single source of defaults of :func:`~rewardscope.simulate.haadf.simulate_haadf` and
``rewardscope simulate haadf``, read by the command line without numpy;
:mod:`rewardscope.simulate.haadf` re-exports it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class HaadfConfig(BaseModel):
    """Parameters of a simulated HAADF-STEM image (defaults shared by API and CLI)."""

    model_config = ConfigDict(extra="forbid")

    lattice: str = Field("ybco-100", description="Preset lattice name (ybco-100, ybco-010, srtio3-001, si-110, au-001).")
    pixel_size: str = Field("0.35A", description="Pixel size with unit, e.g. 0.35A or 0.035nm.")
    size: int = Field(256, ge=16, le=8192, description="Image side in pixels (square image).")
    noise: float = Field(0.1, ge=0, le=10, description="Gaussian noise sigma on the image scaled to [0, 1].")
    dose: float | None = Field(None, gt=0, description="Electron dose per unit of peak intensity for Poisson noise; none = no shot noise.")
    rotation_deg: float = Field(0.0, description="Counter-clockwise lattice rotation, degrees.")
    probe_fwhm_angstrom: float = Field(1.0, gt=0, description="Full width at half maximum of the probe, Å.")
    scan_distortion_px: float = Field(0.0, ge=0, description="Amplitude of row-wise scan distortion, pixels.")
    amorphous_fraction: float = Field(0.0, ge=0, lt=0.9, description="Share of the field covered by amorphous patches.")
    vacancy_fraction: float = Field(0.0, ge=0, lt=0.5, description="Share of visible columns removed.")
    background: float = Field(0.05, ge=0, description="Constant background relative to the brightest column.")
    thickness_gradient: float = Field(0.0, ge=0, lt=1, description="Thickness rising from left to right: "
                                      "column contrast and noise fall by this share (the signal-to-noise ratio "
                                      "stays), a background of half of it grows in (0 = uniform).")
    contamination: float = Field(0.0, ge=0, le=1, description="Radius of a contaminated top-right corner, as a "
                                 "share of the image side: a bright amorphous layer that hides 80 % of the column "
                                 "contrast (0 = none).")
    seed: int = Field(0, description="Random seed; the same seed gives the same image.")


__all__ = ["HaadfConfig"]

"""Parameters of a simulated in-situ TEM movie, :class:`MovieConfig`, in a light module (pydantic only).

The single source of defaults of :func:`~rewardscope.simulate.movie.simulate_movie` and
``rewardscope simulate movie``, read by the command line without numpy;
:mod:`rewardscope.simulate.movie` re-exports it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class MovieConfig(BaseModel):
    """Parameters of :func:`simulate_movie` (single source of defaults for API and CLI)."""

    model_config = ConfigDict(extra="forbid")

    frames: int = Field(50, ge=2, le=100_000, description="Number of frames.")
    size: int = Field(256, ge=32, le=8192, description="Frame side length, pixels (square frames).")
    n_particles: int = Field(20, ge=0, le=10_000, description="Particles on the support area swept by the field of view.")
    pixel_size: str = Field("0.5A", description="Pixel size with unit, e.g. 0.5A or 0.05nm.")
    radius_px: float = Field(9.0, gt=1.0, description="Mean initial particle radius, pixels.")
    radius_spread: float = Field(0.35, ge=0.0, le=1.0, description="Relative spread (std/mean) of initial radii.")
    drift_speed: float = Field(0.4, ge=0.0, description="Mean stage drift speed, pixels per frame.")
    jump_probability: float = Field(0.04, ge=0.0, le=1.0, description="Probability per frame of a stage jump.")
    jump_size: float = Field(12.0, ge=0.0, description="Typical stage jump length, pixels (0.5x to 1.5x of this).")
    growth_rate: float = Field(0.04, description="Radius growth from deposition, pixels per frame (all particles).")
    ripening_rate: float = Field(3.0, ge=0.0, description="Ostwald ripening constant K in dR/dt = K/R (1/<R> - 1/R), px^2 per frame.")
    diffusion: float = Field(0.15, ge=0.0, description="Particle random walk on the support, pixels per frame (std per axis).")
    min_radius_px: float = Field(1.5, gt=0.0, description="Particles below this radius dissolve, pixels.")
    noise: float = Field(0.05, ge=0.0, description="Gaussian noise sigma (support level 0.6, speckle std 0.08, particle contrast ~0.18).")
    dose: float | None = Field(None, gt=0.0, description="Electron dose, counts per pixel at the support level 1.0: "
                               "Poisson noise replaces the Gaussian noise (None: Gaussian noise).")
    flicker: float = Field(0.0, ge=0.0, le=0.5, description="Frame-to-frame brightness flicker, relative std of each "
                           "frame's intensity.")
    merge_pairs: int = Field(0, ge=0, le=1000, description="Planted pairs of particles that approach each other "
                             "and merge during the movie.")
    merge_triples: int = Field(0, ge=0, le=1000, description="Planted groups of three particles that converge and "
                               "merge during the movie.")
    approach_speed: float = Field(0.3, ge=0.0, description="Speed of each particle of a planted pair or triple "
                                  "towards its partners, pixels per frame.")
    crossing: int = Field(0, ge=0, le=1000, description="Particles gliding across the field of view's edge (half "
                          "enter, half leave).")
    crossing_speed: float = Field(0.8, ge=0.0, description="Speed of the crossing particles, pixels per frame.")
    seed: int = Field(0, description="Random seed; same seed, same movie.")


__all__ = ["MovieConfig"]

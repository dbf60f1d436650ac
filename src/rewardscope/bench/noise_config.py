"""The settings of the noise benchmark, :class:`NoiseBenchConfig`, in a light module (pydantic only).

Read by ``rewardscope bench noise`` for its option defaults without loading the benchmark;
:mod:`rewardscope.bench.noise` re-exports it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class NoiseBenchConfig(BaseModel):
    """Settings of the noise benchmark (defaults shared by API and CLI)."""

    model_config = ConfigDict(extra="forbid")

    lattice: str = Field("ybco-100", description="Preset lattice of the simulated images.")
    pixel_size: str = Field("0.35A", description="Pixel size of the simulated images.")
    size: int = Field(256, ge=32, description="Image side, pixels.")
    images: int = Field(10, ge=1, description="Images (seeds) per noise level; the DCNN runs on all.")
    logstar_images: int = Field(10, ge=0, description="Images per level also analysed by LoG* (about 2 s each).")
    levels: tuple[float, ...] = Field(tuple(round(0.1 * i, 1) for i in range(11)),
                                      description="Gaussian noise sigmas (image scaled to [0, 1]).")
    pareto_levels: tuple[float, ...] = Field((0.0, 0.5, 1.0), description="Levels whose LoG* trials are kept for Pareto plots.")
    trials: int = Field(200, ge=1, description="LoG* trials per image.")
    ensemble: int = Field(1, ge=1, le=8, description="DCNN test-time views.")
    seed: int = Field(1000, description="Seed of the first image (image i uses seed + i).")


__all__ = ["NoiseBenchConfig"]

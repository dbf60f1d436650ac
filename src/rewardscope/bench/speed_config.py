"""The settings of the speed benchmark, :class:`SpeedBenchConfig`, in a light module (pydantic only).

Read by ``rewardscope bench speed`` for its option defaults without loading the benchmark;
:mod:`rewardscope.bench.speed` re-exports it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SpeedBenchConfig(BaseModel):
    """Settings of the speed benchmark."""

    model_config = ConfigDict(extra="forbid")

    lattice: str = Field("ybco-100", description="Preset lattice.")
    pixel_size: str = Field("0.35A", description="Pixel size.")
    noise: float = Field(0.1, ge=0, description="Gaussian noise sigma.")
    images: int = Field(10, ge=1, le=64, description="256 x 256 sub-images timed.")
    trials: int = Field(200, ge=1, description="Trials of the full LoG* optimization.")
    warm_trials: int = Field(50, ge=1, description="Trials of warm-started LoG* (previous image's Pareto set first).")
    threads: tuple[int, ...] = Field((1, 2), description="torch CPU thread counts the DCNN is timed with.")
    seed: int = Field(2000, description="Seed of the large simulated image.")


__all__ = ["SpeedBenchConfig"]

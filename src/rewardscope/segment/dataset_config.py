"""How ``rewardscope dataset`` cuts frames into crops, :class:`DatasetConfig`, in a light module (pydantic only).

The single source of defaults of :func:`~rewardscope.segment.dataset.make_crops` and the command,
read by the command line without numpy; :mod:`rewardscope.segment.dataset` re-exports it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DatasetConfig(BaseModel):
    """How ``rewardscope dataset`` cuts frames into crops (defaults shared by the API and the CLI)."""

    model_config = ConfigDict(extra="forbid")

    crop: int = Field(256, ge=8, description="Crop side, px.")
    stride: int = Field(128, ge=1, description="Step between crops, px (the last crop of a row or column is "
                        "flush with the frame's edge).")
    rotations: int = Field(4, ge=1, le=4, description="Orientations per crop: 1-4 quarter turns (0, 90, 180, 270 "
                           "degrees).")
    flips: bool = Field(False, description="Also the mirror image of every orientation.")
    jitter: float = Field(0.0, ge=0, le=1, description="Intensity / noise jitter of the crops (0: none): gain "
                          "1 +- jitter, offset +- jitter std, Gaussian noise up to jitter std.")
    seed: int = Field(0, description="Seed of the jitter.")


__all__ = ["DatasetConfig"]

"""The settings of drift measurement and correction (one model, shared by the API and ``rewardscope drift``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rewardscope.units import LengthValue


class DriftConfig(BaseModel):
    """Parameters of drift estimation and correction (single source of defaults).

    Registration (:mod:`rewardscope.track.registration`) reads ``reference``, ``upsample``,
    ``taper``, ``normalization``, ``coarse_factor``, ``batch`` and ``workers``; jump
    detection (:mod:`rewardscope.track.jumps`) the ``jump_*`` and ``trend_frames`` fields;
    alignment (:mod:`rewardscope.track.align`) ``border``.

    Examples
    --------
    >>> DriftConfig(reference="first", pixel_size="0.5A").pixel_size.angstrom
    0.5
    >>> DriftConfig().model_dump(mode="json")["border"]
    'crop'
    """

    model_config = ConfigDict(extra="forbid")

    reference: Literal["first", "previous", "mean"] = Field(
        "mean", description="Register each frame to the first frame, the previous frame (errors accumulate), or "
        "the mean of the aligned frames (running mean, then a second pass against the full mean; least noise).")
    upsample: int = Field(20, ge=1, le=1000, description="Sub-pixel precision 1/upsample px (local upsampled DFT).")
    taper: float = Field(0.15, ge=0.0, le=0.5, description="Fraction of each side given a cosine edge taper before the FFT.")
    normalization: Literal["none", "phase"] = Field(
        "none", description="'none': plain cross-correlation (robust to noise); 'phase': phase correlation (whitened).")
    jump_threshold_px: float = Field(3.0, gt=0.0, description="A step deviating from the recent trend by more than "
                                     "this (px) plus jump_factor x the typical recent step is a stage jump.")
    jump_factor: float = Field(4.0, ge=0.0, description="See jump_threshold_px.")
    trend_frames: int = Field(5, ge=1, description="Number of preceding steps that define the recent trend.")
    border: Literal["crop", "nan"] = Field("crop", description="'crop': keep the field of view common to all frames; "
                                          "'nan': keep the frame size, pad with NaN.")
    coarse_factor: int = Field(2, ge=1, le=8, description="The first pass of the 'mean' reference (which only builds "
                               "the template) registers frames downsampled by this factor in Fourier space.")
    batch: int = Field(8, ge=1, le=256, description="Frames read and Fourier-transformed together.")
    workers: int = Field(2, ge=1, le=64, description="Threads for the FFTs.")
    pixel_size: LengthValue | None = Field(None, description="Pixel size with unit, e.g. 0.5A (default: from the "
                                           "file); only for the figures and the aligned stack's calibration.")

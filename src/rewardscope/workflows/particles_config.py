"""The settings of particle segmentation, :class:`SegmentConfig`, in a light module (pydantic and units only).

The single source of defaults of :func:`~rewardscope.workflows.particles.segment_image`,
:func:`~rewardscope.workflows.movie.segment_movie` and ``rewardscope segment``, read by the command
line without numpy or scikit-image; :mod:`rewardscope.workflows.particles` re-exports it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rewardscope.defaults import AMBIGUITY_BAND
from rewardscope.optimize.settings import StudySettings
from rewardscope.units import LengthOrPixels, LengthValue, Pixels


def _segment_study() -> StudySettings:
    """The foreground study's default: 60 trials."""
    return StudySettings(trials=60)


class SegmentConfig(BaseModel):
    """Settings of particle segmentation (defaults shared by the API and ``rewardscope segment``).

    Examples
    --------
    >>> from rewardscope.config import make_config
    >>> cfg = make_config(SegmentConfig, trials=30, min_diameter="1nm")
    >>> cfg.study.trials, cfg.min_diameter.nm, SegmentConfig().model_dump(mode="json")["min_diameter"]
    (30, 1.0, '4px')
    """

    model_config = ConfigDict(extra="forbid")

    method: Literal["classical", "autoencoder", "unet"] = Field(
        "classical", description="Segmentation method: classical (Gaussian denoising, Otsu threshold, clean-up, "
        "watershed split; label-free), autoencoder (your autoencoder's simplified image, then the same reward-"
        "tuned steps; label-free; needs --model), unet (the supervised U-Net, shipped weights by default).")
    network: str | None = Field(None, description="Weights file of the learned segmenter (rewardscope train "
                                "segment-unet / segment-ae); unet default: the shipped weights.")
    device: Literal["cpu", "cuda"] = Field("cpu", description="Where the network runs: cpu or cuda.")
    tta: int = Field(1, ge=1, le=8, description="U-Net: dihedral test-time views averaged (1: none, 8: all).")
    refine_from_px: int = Field(2048, ge=0, description="U-Net: frames whose longer side has at least this many "
                                "px are segmented fast-then-refine (particles found at 1/4 scale, each refined "
                                "at full resolution); 0: never.")
    pixel_size: LengthValue | None = Field(None, description="Pixel size with unit, e.g. 0.05nm (default: from the "
                                           "file; without one, sizes are given in pixels only).")
    polarity: Literal["dark", "bright"] = Field("dark", description="dark: particles darker than the support "
                                                "(bright-field TEM); bright: brighter (HAADF).")
    study: StudySettings = Field(default_factory=_segment_study, description="The foreground study (smoothing "
                                 "width): trials, sampler, selection rule, seed; the split study and "
                                 "re-optimizations use the same sampler, rule and seed.")
    split_trials: int = Field(16, ge=0, le=10_000, description="Trials of the split study (0: do not split "
                              "touching particles, by either split_rule).")
    split_rule: Literal["study", "necks"] = Field("study", description="How touching particles are split: study "
                                                 "(one watershed depth, chosen by the split study's rewards) or "
                                                 "necks (no study: each region is cut at the shallowest depth, "
                                                 "from the range's low end up, whose cuts all cross necks).")
    sigma_range_px: tuple[float, float] = Field((0.5, 16.0), description="Search range of the Gaussian width, px.")
    split_depth_range_px: tuple[float, float] = Field((1.0, 16.0), description="Search range of the watershed "
                                                      "split depth, px.")
    min_diameter: LengthOrPixels = Field(Pixels(4.0), description="Smallest particle diameter: px (e.g. 4px) or a "
                                         "length (e.g. 1nm, needs a pixel size). Smaller regions are removed as "
                                         "speckle.")
    max_diameter: LengthOrPixels | None = Field(None, description="Largest particle diameter (px or length); used "
                                                "by the size_outliers number only.")
    ambiguity_band: float = Field(AMBIGUITY_BAND, gt=0, lt=0.5, description="Half-width of the ambiguous band "
                                  "around the threshold, in units of the particle/support mean gap.")
    reoptimize_tolerance: float = Field(0.25, gt=0, description="Movies: re-optimize when a frame's overlap or "
                                        "ambiguity is this much (relative) worse than on the frame the "
                                        "parameters were chosen on.")
    reoptimize_trials: int = Field(20, ge=2, le=10_000, description="Movies: trials of a re-optimization "
                                   "(warm-started from the current parameters).")
    drift: bool = Field(True, description="Movies: measure stage drift and add frame-0 coordinates "
                        "x_aligned, y_aligned.")

    def stage_settings(self, trials: int) -> StudySettings:
        """The study settings with ``trials`` trials and no storage (split study, re-optimizations)."""
        return self.study.model_copy(update={"trials": trials, "storage": None, "study_name": None})

    def split_settings(self) -> StudySettings:
        """The split study's settings (``split_trials``, at least 2)."""
        return self.stage_settings(max(2, self.split_trials))


__all__ = ["SegmentConfig"]

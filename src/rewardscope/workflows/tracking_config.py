"""Settings of particle tracking (:class:`TrackConfig`): pydantic and units only, so the CLI starts light.

Re-exported by :mod:`rewardscope.workflows.tracking`, which runs them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rewardscope.optimize.settings import StudySettings
from rewardscope.units import LengthOrPixels, LengthValue, Pixels
from rewardscope.workflows.particles_config import SegmentConfig


def _track_study() -> StudySettings:
    return StudySettings(trials=40)


class TrackConfig(BaseModel):
    """Settings of particle tracking (defaults shared by the API and ``rewardscope track``).

    Examples
    --------
    >>> from rewardscope.config import make_config
    >>> cfg = make_config(TrackConfig, trials=10, max_step="2nm", pixel_size="0.5A")
    >>> cfg.study.trials, cfg.max_step.nm, TrackConfig().model_dump(mode="json")["max_step"]
    (10, 2.0, '20px')
    """

    model_config = ConfigDict(extra="forbid")

    pixel_size: LengthValue | None = Field(None, description="Pixel size with unit, e.g. 0.5A (default: from the "
                                           "file; without one, sizes are given in pixels only).")
    segmenter: Literal["classical", "autoencoder", "unet"] = Field(
        "classical", description="Per-frame segmentation: classical (label-free, optimized threshold pipeline), "
        "autoencoder (your model, --model) or unet (shipped weights or --model); ignored with masks.")
    segment: SegmentConfig = Field(default_factory=lambda: SegmentConfig(split_rule="necks"),
                                   description="Settings of the per-frame segmenter, its model file in network "
                                   "(its own drift step is not used); touching particles are split at necks "
                                   "(split_rule=necks: no single depth suits a movie's bridged pairs and its "
                                   "lumpy particles alike).")
    drift: bool = Field(True, description="Measure stage drift and link on drift-corrected positions.")
    linker: Literal["lap", "overlap"] = Field("lap", description="lap: laptrack LapTrack on centroid + area "
                                              "features, cut-offs tuned; overlap: laptrack OverLapTrack on mask "
                                              "overlap (only the gap length is tuned).")
    study: StudySettings = Field(default_factory=_track_study, description="The linking study: trials, sampler, "
                                 "selection rule, seed.")
    max_step: LengthOrPixels = Field(Pixels(20.0), description="Upper end of the searched link, gap-closing and "
                                     "merge distances: px (e.g. 20px) or a length (needs a pixel size).")
    max_gap_frames: int = Field(2, ge=0, le=50, description="Most missed frames a gap-closing link may bridge "
                                "(searched from 0).")
    tune_frames: int = Field(48, ge=0, description="The linking study scores its cut-offs on this many frames, "
                             "blocks of 12 spread from the movie's start to its end (0: all), then the whole movie "
                             "is linked once with the chosen ones.")
    link_window_frames: int = Field(500, ge=0, description="A movie longer than this is linked in windows of this "
                                    "many frames (with 16 frames of context on each side) while its later frames "
                                    "are still being segmented and measured; the linking study then tunes on the "
                                    "first window (0: the whole movie at once, after its last frame; the overlap "
                                    "linker always does).")
    out_of_view_frames: int = Field(100, ge=0, description="A track that ends cut by the frame's edge resumes in "
                                    "one that starts up to this many frames later at the same "
                                    "drift-corrected place, if its predicted place lay at the edge or beyond in "
                                    "every frame between (the stage moved it out of view and back; 0: next frame "
                                    "only).")
    merges: bool = Field(True, description="Allow merges (coalescence) in the linking.")
    splits: bool = Field(False, description="Allow splits in the linking.")
    edge_margin: LengthOrPixels = Field(Pixels(2.0), description="A particle this close to the frame's edge "
                                        "touches it (its track may start or end there).")
    vanish_diameter: LengthOrPixels = Field(Pixels(6.0), description="Tracks that start or end with a smaller "
                                            "equivalent diameter may nucleate or dissolve (not fragments).")
    touch_frames: int = Field(2, ge=0, le=20, description="A particle cut in two, or two particles joined, for at "
                              "most this many frames is a segmentation flicker or a touch: undone before linking "
                              "(rewardscope.track.consistency; 0: labels linked as they are).")


__all__ = ["TrackConfig"]

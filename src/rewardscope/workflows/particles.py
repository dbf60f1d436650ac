"""Label-free particle segmentation of one image, tuned by multi-objective BO.

:func:`segment_image` chooses the parameters of the classical pipeline of
:mod:`rewardscope.segment.classical` with the one driver
(:func:`~rewardscope.workflows.base.run_workflow`) and two small studies:

1. **foreground** (:class:`ForegroundWorkflow`, the study of the loop): the Gaussian width
   ``sigma_px`` (log scale) against the rewards ``overlap`` and ``ambiguity`` of
   :mod:`rewardscope.rewards.particles` (the threshold is Otsu's level of the smoothed
   image, i.e. the one that maximises the particle/support contrast at that width);
2. **split** (the workflow's ``finish`` step, :class:`SplitWorkflow`): with that foreground
   fixed, the watershed depth ``split_depth_px`` against ``concavity`` and ``cuts``
   (skipped when every region is convex).

Each study keeps its Pareto front and picks one point (Euclidean or Chebyshev distance
to the ideal on min-max normalized objectives). No annotation is used anywhere. Movies
(:func:`rewardscope.workflows.movie.segment_movie`) reuse these two studies frame by frame.

Sizes: pixel columns are always given; ``area_nm2`` and ``equivalent_diameter_nm``
only with a pixel size (from the file or ``pixel_size``); ``summary["size_units"]``
says which.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from rewardscope.config import make_config
from rewardscope.errors import ParameterError
from rewardscope.io.load import Input, load_input
from rewardscope.optimize import FloatParam, SearchSpace, StudyResult
from rewardscope.optimize.settings import StudySettings
from rewardscope.progress import ProgressArg, ProgressCallback, silent
from rewardscope.result import Result
from rewardscope.rewards.particles import (FOREGROUND_REWARDS, SPLIT_REWARDS, ParticleReward, ParticleRewardContext,
                                           size_outliers)
from rewardscope.segment import classical
from rewardscope.segment.classical import ClassicalState, Segmentation
from rewardscope.segment.learned import UNET_THRESHOLD, learned_state, load_method_model
from rewardscope.segment.measure import measure_particles
from rewardscope.segment.postprocess import CONVEX_SOLIDITY, solidities, split_touching
from rewardscope.units import Length, size_in_px
from rewardscope.workflows.base import Workflow, optimize, run_workflow, study_summary
from rewardscope.workflows.particles_config import SegmentConfig  # noqa: F401  (re-exported)


# --------------------------------------------------------------------------- results


@dataclass
class ParticleResult(Result):
    """Particles of an image or movie with the optimization that chose the parameters.

    Tables: ``particles`` (frame, label, x, y px, area_px, equivalent_diameter_px,
    [area_nm2, equivalent_diameter_nm], eccentricity, mean_intensity, touches_border),
    ``trials`` and ``pareto`` (column ``stage``: foreground or split; for movies also
    ``frame``), for movies ``timeseries`` (count and mean size per frame). Arrays:
    ``masks`` (label image(s); for movies only when not streamed to a file). ``extras``:
    ``segmentation`` (last frame's :class:`Segmentation`), ``studies`` (stage -> StudyResult),
    ``context``.
    """

    @property
    def particles(self) -> pd.DataFrame:
        """One row per particle (per frame)."""
        return self.tables["particles"]

    @property
    def labels(self) -> np.ndarray | None:
        """Label image (rows, cols) or stack (frames, rows, cols), if kept in memory."""
        return self.arrays.get("masks")

    @property
    def best_params(self) -> dict[str, Any]:
        """The chosen parameters of both stages (of the first frame for movies): sigma_px, split_depth_px."""
        split = self.summary.get("split")
        return {**self.summary["best_params"],
                "split_depth_px": split["best_params"]["split_depth_px"] if split else None}


# --------------------------------------------------------------------------- workflows


@dataclass
class Chosen:
    """A chosen segmentation and the studies that chose it.

    Attributes
    ----------
    output : Segmentation
        The labels at the chosen parameters (after the optional split).
    studies : dict of str to StudyResult
        ``"foreground"`` (when known) and ``"split"`` (when the split study ran).
    fixed_split : dict, optional
        The split parameters when no study chose them (``split_rule="necks"``).
    """

    output: Segmentation
    studies: dict[str, StudyResult] = field(default_factory=dict)
    fixed_split: dict[str, Any] | None = None

    @property
    def params(self) -> dict[str, Any]:
        """``sigma_px`` and ``split_depth_px`` (None without a split), and ``split_necks`` by the neck rule."""
        params = dict(self.studies["foreground"].best_params)
        split = self.studies.get("split")
        params["split_depth_px"] = split.best_params["split_depth_px"] if split is not None else None
        params.update(self.fixed_split or {})
        return params

    @property
    def reference(self) -> dict[str, float]:
        """The foreground rewards at the chosen point."""
        return {k: float(v) for k, v in self.studies["foreground"].best_values.items()}

    def table(self, which: Literal["trials", "pareto"]) -> pd.DataFrame:
        """Trials or Pareto points of every stage, with a ``stage`` column."""
        parts = []
        for stage, study in self.studies.items():
            part = (study.trials if which == "trials" else study.pareto).copy()
            part.insert(0, "stage", stage)
            parts.append(part)
        return pd.concat(parts, ignore_index=True)


class ForegroundWorkflow(Workflow):
    """Gaussian width against ``overlap`` and ``ambiguity``; ``finish`` runs the split study.

    Parameters
    ----------
    config : SegmentConfig
    context : ParticleRewardContext
        The prior (from :func:`reward_context`).
    rewards : mapping of str to callable, optional
        Foreground rewards ``(segmentation, context) -> float`` (default ``overlap``, ``ambiguity``).
    split_rewards : mapping of str to callable, optional
        Rewards of the split study (default ``concavity``, ``cuts``).
    """

    def __init__(self, *, config: SegmentConfig, context: ParticleRewardContext,
                 rewards: Mapping[str, ParticleReward] | None = None,
                 split_rewards: Mapping[str, ParticleReward] | None = None, model: Any = None) -> None:
        super().__init__(rewards=dict(rewards or FOREGROUND_REWARDS), context=context)
        self.config = config
        self.splitter = SplitWorkflow(config=config, context=context, rewards=split_rewards)
        self.model = load_method_model(config.method, model if model is not None else config.network)
        #: Which weights ran: the file, "in memory" (a model object), "shipped", or None (classical).
        self.model_label = (config.network if config.network is not None and model is None
                            else "in memory" if model is not None else "shipped" if self.model is not None else None)

    def search_space(self) -> SearchSpace:
        """``sigma_px`` on a log scale; the U-Net: its probability at the fixed level 0.5, unsmoothed."""
        if self.config.method == "unet":
            return SearchSpace([FloatParam("sigma_px", 0.0, 0.0), FloatParam("threshold", UNET_THRESHOLD,
                                                                             UNET_THRESHOLD)])
        lo, hi = self.config.sigma_range_px
        return SearchSpace([FloatParam("sigma_px", lo, hi, log=True)])

    def prepare(self, image: np.ndarray, *, name: str = "image") -> ClassicalState:
        """Validate and normalize (particles bright); a learned method puts its network's image in the state."""
        state = classical.prepare(image, polarity=self.config.polarity, name=name)
        if self.model is None:
            return state
        return learned_state(state, self.model, device=self.config.device, tta=self.config.tta,
                             refine_from_px=self.config.refine_from_px)

    def run(self, state: ClassicalState, params: dict[str, Any]) -> Segmentation:
        """Smooth, threshold, clean up; split too when ``params`` hold ``split_depth_px`` (chosen parameters)."""
        return classical.run(state, params, min_area_px=self.context.min_area_px)

    def describe(self, output: Segmentation) -> dict[str, float]:
        """Particle count, foreground fraction, threshold, size outliers."""
        return {"n_particles": float(output.n_particles), "foreground_fraction": float(output.foreground.mean()),
                "threshold": output.threshold, "size_outliers": size_outliers(output, self.context)}

    def split(self, output: Segmentation, *, warm: Mapping[str, Any] | None = None,
              progress: ProgressCallback = silent) -> Chosen:
        """The split study on a chosen foreground (skipped without concave regions or with ``split_trials=0``).

        With ``split_rule="necks"`` no study: every region is cut at its necks only, from the
        depth range's low end up (also on a movie's later frames, through :attr:`Chosen.params`);
        ``split_trials=0`` still means no split.
        """
        if self.config.split_trials <= 0:
            return Chosen(output)
        if self.config.split_rule == "necks":
            fixed = {"split_depth_px": self.config.split_depth_range_px[0], "split_necks": True}
            return Chosen(self.splitter.run(output, fixed), fixed_split=fixed)
        if not _has_concave_region(output.labels):
            return Chosen(output)
        depth = warm.get("split_depth_px") if warm else None
        opt = optimize(self.splitter, output, self.config.split_settings(),
                       warm_start=[{"split_depth_px": depth}] if depth else None, progress=progress,
                       stage=f"optimizing split depth ({self.config.study.sampler})")
        return Chosen(opt.output, {"split": opt.study})

    def choose(self, state: ClassicalState, settings: StudySettings, *, warm: Mapping[str, Any] | None = None,
               progress: ProgressCallback = silent) -> Chosen:
        """Both studies on one prepared frame (the foreground warm-started from ``warm``'s width)."""
        tunable = self.search_space().tunable_names
        fg = optimize(self, None, self.study_settings(settings), state=state, progress=progress,
                      warm_start=[{k: warm[k] for k in tunable}] if warm and tunable else None)
        chosen = self.split(fg.output, warm=warm, progress=progress)
        return Chosen(chosen.output, {"foreground": fg.study, **chosen.studies}, fixed_split=chosen.fixed_split)

    def finish(self, output: Segmentation, *, state: ClassicalState, inp: Input,
               progress: ProgressCallback) -> tuple[Chosen, dict[str, Any]]:
        """The split study; its numbers go to the summary's ``split`` entry (None when skipped)."""
        chosen = self.split(output, progress=progress)
        return chosen, split_summary(chosen, self.config)

    def to_result(self, output: Chosen, *, study: StudyResult, inp: Input,
                  summary: dict[str, Any]) -> ParticleResult:
        """Particles table, label image, both stages' trials and Pareto points."""
        chosen = Chosen(output.output, {"foreground": study, **output.studies}, fixed_split=output.fixed_split)
        seg = chosen.output
        particles = measure_particles(seg.labels, inp.image, pixel_size=inp.pixel_size)
        summary.update(segmentation_summary(self.config, self.context, inp.pixel_size, model=self.model_label))
        summary.update({"n_particles": int(len(particles)), "n_split": seg.n_split,
                        "foreground_fraction": float(seg.foreground.mean()), "threshold": seg.threshold})
        return ParticleResult(tables={"particles": particles, "trials": chosen.table("trials"),
                                      "pareto": chosen.table("pareto")},
                              arrays={"masks": seg.labels}, summary=summary, image=inp.image,
                              pixel_size=inp.pixel_size,
                              extras={"segmentation": seg, "studies": chosen.studies, "context": self.context})


class SplitWorkflow(Workflow):
    """Watershed split depth against ``concavity`` and ``cuts`` on a fixed foreground."""

    def __init__(self, *, config: SegmentConfig, context: ParticleRewardContext,
                 rewards: Mapping[str, ParticleReward] | None = None) -> None:
        super().__init__(rewards=dict(rewards or SPLIT_REWARDS), context=context)
        self.config = config

    def search_space(self) -> SearchSpace:
        """``split_depth_px`` on a log scale."""
        lo, hi = self.config.split_depth_range_px
        return SearchSpace([FloatParam("split_depth_px", lo, hi, log=True)])

    def prepare(self, image: Segmentation) -> Segmentation:
        """The foreground segmentation is the state."""
        return image

    def run(self, state: Segmentation, params: dict[str, Any]) -> Segmentation:
        """Split the state's regions at this depth."""
        necks = bool(params.get("split_necks", False))
        labels, n_split, cut_px = split_touching(state.labels, depth_px=float(params["split_depth_px"]),
                                                 necks_only=necks)
        return replace(state, labels=labels, n_split=n_split, cut_px=cut_px,
                       params={**state.params, "split_depth_px": float(params["split_depth_px"]),
                               **({"split_necks": True} if necks else {})})

    def describe(self, output: Segmentation) -> dict[str, float]:
        """Particle count and number of regions cut."""
        return {"n_particles": float(output.n_particles), "n_split": float(output.n_split),
                "size_outliers": size_outliers(output, self.context)}


def _has_concave_region(labels: np.ndarray) -> bool:
    area, solidity = solidities(labels)
    return bool(np.any((area >= 16) & (solidity < CONVEX_SOLIDITY)))


# --------------------------------------------------------------------------- helpers


def reward_context(config: SegmentConfig, pixel_size: Length | None) -> ParticleRewardContext:
    """The rewards' prior from the config (diameters converted to pixels).

    Examples
    --------
    >>> reward_context(SegmentConfig(min_diameter="1nm"), Length(0.5, "A")).min_diameter_px
    20.0
    """
    lo, hi = config.sigma_range_px
    if not 0 < lo < hi:
        raise ParameterError(f"sigma_range_px must be 0 < low < high, got {config.sigma_range_px}")
    lo, hi = config.split_depth_range_px
    if not 0 < lo < hi:
        raise ParameterError(f"split_depth_range_px must be 0 < low < high, got {config.split_depth_range_px}")
    return ParticleRewardContext(
        min_diameter_px=size_in_px(config.min_diameter, pixel_size, "min_diameter"),
        max_diameter_px=(None if config.max_diameter is None
                         else size_in_px(config.max_diameter, pixel_size, "max_diameter")),
        band=config.ambiguity_band, pixel_size=pixel_size)


def _size_units(pixel_size: Length | None) -> str:
    if pixel_size is None:
        return "px only (no pixel size: give --pixel-size for area_nm2 and equivalent_diameter_nm)"
    return f"px and nm (pixel size {pixel_size.value:g} {pixel_size.unit})"


def segmentation_summary(config: SegmentConfig, context: ParticleRewardContext, pixel_size: Length | None, *,
                         model: str | None = None) -> dict[str, Any]:
    """Summary entries of every segmentation: method, model (which weights ran), size units, the diameter prior in px."""
    return {"method": config.method, "model": model, "size_units": _size_units(pixel_size),
            "min_diameter_px": context.min_diameter_px, "max_diameter_px": context.max_diameter_px}


def split_summary(chosen: Chosen, config: SegmentConfig) -> dict[str, Any]:
    """``{"split": ...}``: the split study in the one summary schema, or None when it was skipped."""
    study = chosen.studies.get("split")
    if chosen.fixed_split is not None:
        return {"split": {"rule": "necks", **chosen.fixed_split}}
    return {"split": study_summary(study, config.split_settings()) if study is not None else None}


def make_workflow(config: SegmentConfig, pixel_size: Length | None, *,
                  rewards: Mapping[str, ParticleReward] | None = None,
                  split_rewards: Mapping[str, ParticleReward] | None = None, model: Any = None) -> ForegroundWorkflow:
    """The segmentation workflow for images of this pixel size (its reward prior in pixels).

    ``model``: a loaded :class:`~rewardscope.segment.networks.SegmenterModel` instead of ``config.network``.
    """
    return ForegroundWorkflow(config=config, context=reward_context(config, pixel_size), rewards=rewards,
                              split_rewards=split_rewards, model=model)


# --------------------------------------------------------------------------- images


def segment_image(image: Any, *, config: SegmentConfig | None = None,
                  rewards: Mapping[str, ParticleReward] | None = None,
                  split_rewards: Mapping[str, ParticleReward] | None = None, progress: ProgressArg = False,
                  model: Any = None, **overrides: Any) -> ParticleResult:
    """Segment the particles of one image: classical or autoencoder (label-free, optimized) or the U-Net.

    Parameters
    ----------
    image : numpy.ndarray (rows, cols), path, ImageData, Input, ...
        The micrograph: anything :func:`~rewardscope.io.load_input` reads as one image.
    config : SegmentConfig, optional
        Settings; keyword ``overrides`` replace single fields (e.g. ``trials=30``,
        ``min_diameter="1nm"``).
    rewards : mapping of str to callable, optional
        Foreground rewards ``(segmentation, context) -> float``, all minimised (default
        ``overlap`` and ``ambiguity``).
    split_rewards : mapping of str to callable, optional
        Rewards of the split study (default ``concavity`` and ``cuts``).
    progress : bool or callable
        ``True``: progress of both studies on stderr (bars on a terminal, log lines
        elsewhere); or a callback ``progress(stage, done, total)`` (:mod:`rewardscope.progress`).
    model : path or SegmenterModel, optional
        The network of ``method="autoencoder"`` or ``"unet"`` (a path is the same as
        ``config.network``; a loaded model skips reading the file).

    Returns
    -------
    ParticleResult
        ``particles``, ``trials``, ``pareto`` tables; ``masks`` label image (int32);
        summary in the one schema (:func:`~rewardscope.workflows.base.study_summary`) for the
        foreground study, the split study under ``split``, and ``n_particles``, ``n_split``,
        ``size_units``.

    Raises
    ------
    InputError
        Unreadable file, not a 2-D image, constant image, bad settings, or a diameter
        given as a length without a pixel size.

    Examples
    --------
    >>> yy, xx = np.mgrid[:96, :96]
    >>> img = 1.0 - ((yy - 48) ** 2 + (xx - 40) ** 2 < 15 ** 2) + np.random.default_rng(0).normal(0, .3, (96, 96))
    >>> res = segment_image(img, trials=12, split_trials=0)
    >>> len(res.particles), res.summary["objectives"]
    (1, ['overlap', 'ambiguity'])
    """
    cfg, model = config_and_model(config, model, overrides)
    inp = load_input(image, cfg.pixel_size)
    workflow = make_workflow(cfg, inp.pixel_size, rewards=rewards, split_rewards=split_rewards, model=model)
    return run_workflow(workflow, inp, cfg, progress=progress)


def config_and_model(config: SegmentConfig | None, model: Any, overrides: Mapping[str, Any]) -> tuple[SegmentConfig, Any]:
    """The config with ``overrides`` (a model path goes into ``config.network``) and a loaded model, if one was given."""
    if isinstance(model, (str, Path)):
        overrides, model = {**overrides, "network": str(model)}, None
    return make_config(SegmentConfig, config, **overrides), model

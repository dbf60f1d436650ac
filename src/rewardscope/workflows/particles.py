"""Label-free particle segmentation of images and movies, tuned by multi-objective BO.

:func:`segment_image` chooses the parameters of the classical pipeline of
:mod:`rewardscope.segment.classical` in two small studies on the generic optimizer:

1. **foreground**: the Gaussian width ``sigma_px`` (log scale) against the rewards
   ``overlap`` and ``ambiguity`` of :mod:`rewardscope.rewards.particles` (the threshold is
   Otsu's level of the smoothed image, i.e. the one that maximises the particle/support
   contrast at that width);
2. **split**: with that foreground fixed, the watershed depth ``split_depth_px`` against
   ``concavity`` and ``cuts`` (skipped when every region is convex).

Each study keeps its Pareto front and picks one point (Euclidean or Chebyshev distance
to the ideal on min-max normalized objectives). No annotation is used anywhere.

:func:`segment_movie` optimizes on the first frame, reuses the parameters on later
frames (cheap: one smoothing, threshold and label per frame), and re-optimizes (warm
started from the current parameters) only when a frame's foreground rewards get worse
than ``reoptimize_tolerance`` relative to the frame they were chosen on and a probe at
25 % smaller and larger widths shows that the parameters, not only the scene, went
stale (otherwise the reference values are just updated). Frames are read
lazily (:func:`rewardscope.io.open_stack`) and label images can be streamed to a TIFF,
so memory stays bounded for movies larger than RAM. With ``drift=True`` the stage drift
is measured (:func:`rewardscope.track.drift.estimate_drift`) and particle positions are
also given in frame-0 coordinates (``x_aligned, y_aligned``).

Sizes: pixel columns are always given; ``area_nm2`` and ``equivalent_diameter_nm``
only with a pixel size (from the file or ``pixel_size``); ``summary["size_units"]``
says which.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from rewardscope.config import make_config
from rewardscope.errors import CalibrationError, ParameterError
from rewardscope.io.lazy import LazyStack, open_stack
from rewardscope.optimize import FloatParam, SearchSpace
from rewardscope.progress import ProgressArg, ProgressCallback, progress_scope, silent, start_stage
from rewardscope.result import Result
from rewardscope.rewards.particles import (AMBIGUITY_BAND, FOREGROUND_REWARDS, SPLIT_REWARDS, ParticleReward,
                                           ParticleRewardContext, size_outliers)
from rewardscope.segment import classical
from rewardscope.segment.classical import ClassicalState, Segmentation
from rewardscope.segment.measure import measure_particles
from rewardscope.segment.postprocess import CONVEX_SOLIDITY, solidities, split_touching
from rewardscope.units import Length, parse_length
from rewardscope.optimize.settings import StudySettings
from rewardscope.workflows.base import Optimized, Workflow, optimize


class SegmentConfig(BaseModel):
    """Settings of particle segmentation (defaults shared by the API and ``rewardscope segment``)."""

    model_config = ConfigDict(extra="forbid")

    method: Literal["threshold"] = Field("threshold", description="Segmentation method: threshold (Gaussian "
                                         "denoising, Otsu threshold, clean-up, watershed split).")
    pixel_size: str | None = Field(None, description="Pixel size with unit, e.g. 0.05nm (default: from the file; "
                                   "without one, sizes are given in pixels only).")
    polarity: Literal["dark", "bright"] = Field("dark", description="dark: particles darker than the support "
                                                "(bright-field TEM); bright: brighter (HAADF).")
    trials: int = Field(60, ge=2, le=100_000, description="Trials of the foreground study (smoothing width).")
    split_trials: int = Field(16, ge=0, le=10_000, description="Trials of the split study (0: do not split "
                              "touching particles).")
    sampler: Literal["tpe", "gp", "nsga2"] = Field("tpe", description="Optuna sampler: tpe, gp or nsga2.")
    select: Literal["euclidean", "chebyshev"] = Field("euclidean", description="Rule choosing one Pareto point.")
    seed: int = Field(0, description="Random seed of the optimizer.")
    sigma_range_px: tuple[float, float] = Field((0.5, 16.0), description="Search range of the Gaussian width, px.")
    split_depth_range_px: tuple[float, float] = Field((1.0, 16.0), description="Search range of the watershed "
                                                      "split depth, px.")
    min_diameter: str = Field("4px", description="Smallest particle diameter: px (e.g. 4px) or a length (e.g. "
                              "1nm, needs a pixel size). Smaller regions are removed as speckle.")
    max_diameter: str | None = Field(None, description="Largest particle diameter (px or length); used by the "
                                     "size_outliers number only.")
    ambiguity_band: float = Field(AMBIGUITY_BAND, gt=0, lt=0.5, description="Half-width of the ambiguous band "
                                  "around the threshold, in units of the particle/support mean gap.")
    reoptimize_tolerance: float = Field(0.25, gt=0, description="Movies: re-optimize when a frame's overlap or "
                                        "ambiguity is this much (relative) worse than on the frame the "
                                        "parameters were chosen on.")
    reoptimize_trials: int = Field(20, ge=2, le=10_000, description="Movies: trials of a re-optimization "
                                   "(warm-started from the current parameters).")
    drift: bool = Field(True, description="Movies: measure stage drift and add frame-0 coordinates "
                        "x_aligned, y_aligned.")


# --------------------------------------------------------------------------- results


@dataclass
class ParticleResult(Result):
    """Particles of an image or movie with the optimization that chose the parameters.

    Tables: ``particles`` (frame, label, x, y px, area_px, equivalent_diameter_px,
    [area_nm2, equivalent_diameter_nm], eccentricity, mean_intensity, touches_border),
    ``trials`` and ``pareto`` (column ``stage``: foreground or split; for movies also
    ``frame``), for movies ``timeseries`` (count and mean size per frame). Arrays:
    ``masks`` (label image(s); for movies only when not streamed to a file). ``extras``:
    ``segmentation`` (last frame's :class:`Segmentation`), ``studies``.
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
        """The chosen parameters (of the first frame for movies)."""
        return dict(self.summary["best_params"])


# --------------------------------------------------------------------------- workflows


class ForegroundWorkflow(Workflow):
    """Stage 1: Gaussian width against ``overlap`` and ``ambiguity``."""

    def __init__(self, *, config: SegmentConfig, context: ParticleRewardContext,
                 rewards: Mapping[str, ParticleReward] | None = None) -> None:
        super().__init__(rewards=dict(rewards or FOREGROUND_REWARDS), context=context)
        self.config = config

    def search_space(self) -> SearchSpace:
        """``sigma_px`` on a log scale."""
        lo, hi = self.config.sigma_range_px
        return SearchSpace([FloatParam("sigma_px", lo, hi, log=True)])

    def prepare(self, image: np.ndarray) -> ClassicalState:
        """Validate and normalize (particles bright)."""
        return classical.prepare(image, polarity=self.config.polarity)

    def run(self, state: ClassicalState, params: dict[str, Any]) -> Segmentation:
        """Smooth, threshold, clean up (no split)."""
        return classical.run(state, {"sigma_px": params["sigma_px"]}, min_area_px=self.context.min_area_px)

    def describe(self, output: Segmentation) -> dict[str, float]:
        """Particle count, foreground fraction, threshold, size outliers."""
        return {"n_particles": float(output.n_particles), "foreground_fraction": float(output.foreground.mean()),
                "threshold": output.threshold, "size_outliers": size_outliers(output, self.context)}


class SplitWorkflow(Workflow):
    """Stage 2: watershed split depth against ``concavity`` and ``cuts`` on a fixed foreground."""

    def __init__(self, *, config: SegmentConfig, context: ParticleRewardContext,
                 rewards: Mapping[str, ParticleReward] | None = None) -> None:
        super().__init__(rewards=dict(rewards or SPLIT_REWARDS), context=context)
        self.config = config

    def search_space(self) -> SearchSpace:
        """``split_depth_px`` on a log scale."""
        lo, hi = self.config.split_depth_range_px
        return SearchSpace([FloatParam("split_depth_px", lo, hi, log=True)])

    def prepare(self, image: Segmentation) -> Segmentation:
        """The stage-1 segmentation is the state."""
        return image

    def run(self, state: Segmentation, params: dict[str, Any]) -> Segmentation:
        """Split the state's regions at this depth."""
        labels, n_split, cut_px = split_touching(state.labels, depth_px=float(params["split_depth_px"]))
        return replace(state, labels=labels, n_split=n_split, cut_px=cut_px,
                       params={**state.params, "split_depth_px": float(params["split_depth_px"])})

    def describe(self, output: Segmentation) -> dict[str, float]:
        """Particle count and number of regions cut."""
        return {"n_particles": float(output.n_particles), "n_split": float(output.n_split),
                "size_outliers": size_outliers(output, self.context)}


def _has_concave_region(labels: np.ndarray) -> bool:
    area, solidity = solidities(labels)
    return bool(np.any((area >= 16) & (solidity < CONVEX_SOLIDITY)))


# --------------------------------------------------------------------------- helpers


def _diameter_px(text: str | None, pixel_size: Length | None, what: str) -> float | None:
    """'4px' -> 4.0; '1nm' -> pixels via the pixel size."""
    if text is None:
        return None
    value = str(text).strip()
    if value.lower().endswith("px"):
        try:
            px = float(value[:-2])
        except ValueError:
            raise ParameterError(f"{what} {text!r} is not a number of pixels, e.g. 4px") from None
    else:
        length = parse_length(value)
        if pixel_size is None:
            raise CalibrationError(f"{what} {text} is a length but the image has no pixel size; give "
                                   "--pixel-size or state the diameter in px (e.g. 4px)")
        px = length.nm / pixel_size.nm
    if not np.isfinite(px) or px < 0:
        raise ParameterError(f"{what} must be a non-negative size, got {text!r}")
    return px


def reward_context(config: SegmentConfig, pixel_size: Length | None) -> ParticleRewardContext:
    """The rewards' prior from the config (diameters converted to pixels)."""
    lo, hi = config.sigma_range_px
    if not 0 < lo < hi:
        raise ParameterError(f"sigma_range_px must be 0 < low < high, got {config.sigma_range_px}")
    lo, hi = config.split_depth_range_px
    if not 0 < lo < hi:
        raise ParameterError(f"split_depth_range_px must be 0 < low < high, got {config.split_depth_range_px}")
    return ParticleRewardContext(
        min_diameter_px=_diameter_px(config.min_diameter, pixel_size, "min_diameter") or 0.0,
        max_diameter_px=_diameter_px(config.max_diameter, pixel_size, "max_diameter"),
        band=config.ambiguity_band, pixel_size=pixel_size)


def _pixel_size(config: SegmentConfig, file_ps: Length | None) -> Length | None:
    return parse_length(config.pixel_size) if config.pixel_size is not None else file_ps


@dataclass
class _Chosen:
    """Parameters chosen on one frame, their reward values and the studies."""

    params: dict[str, Any]
    reference: dict[str, float]
    segmentation: Segmentation
    trials: pd.DataFrame
    pareto: pd.DataFrame
    studies: dict[str, Optimized]
    seconds: float


def _stage_table(opt: Optimized, stage: str, which: str) -> pd.DataFrame:
    table = (opt.study.trials if which == "trials" else opt.study.pareto).copy()
    table.insert(0, "stage", stage)
    return table


def _choose(state: ClassicalState, config: SegmentConfig, context: ParticleRewardContext, *,
            n_trials: int, warm: dict[str, Any] | None, progress: ProgressCallback = silent) -> _Chosen:
    """Run the foreground study, then the split study, on one prepared frame (their trials go to ``progress``)."""
    t0 = time.perf_counter()
    fg_wf = ForegroundWorkflow(config=config, context=context)
    warm_fg = [{"sigma_px": warm["sigma_px"]}] if warm else None
    fg = optimize(fg_wf, None, StudySettings(trials=n_trials, sampler=config.sampler, seed=config.seed,
                                        selection=config.select), state=state, warm_start=warm_fg, progress=progress,
                  stage=f"optimizing smoothing ({config.sampler})")
    seg: Segmentation = fg.output
    studies = {"foreground": fg}
    params = dict(fg.study.best_params)
    if config.split_trials > 0 and _has_concave_region(seg.labels):
        sp_wf = SplitWorkflow(config=config, context=context)
        warm_sp = [{"split_depth_px": warm["split_depth_px"]}] if warm and warm.get("split_depth_px") else None
        sp = optimize(sp_wf, seg, StudySettings(trials=max(2, config.split_trials), sampler=config.sampler,
                                          seed=config.seed, selection=config.select), warm_start=warm_sp, progress=progress,
                      stage=f"optimizing split depth ({config.sampler})")
        seg = sp.output
        studies["split"] = sp
        params.update(sp.study.best_params)
    else:
        params["split_depth_px"] = None
    trials = pd.concat([_stage_table(o, name, "trials") for name, o in studies.items()], ignore_index=True)
    pareto = pd.concat([_stage_table(o, name, "pareto") for name, o in studies.items()], ignore_index=True)
    reference = {k: float(v) for k, v in fg.study.best_values.items()}
    return _Chosen(params=params, reference=reference, segmentation=seg, trials=trials, pareto=pareto,
                   studies=studies, seconds=time.perf_counter() - t0)


def _size_units(pixel_size: Length | None) -> str:
    if pixel_size is None:
        return "px only (no pixel size: give --pixel-size for area_nm2 and equivalent_diameter_nm)"
    return f"px and nm (pixel size {pixel_size.value:g} {pixel_size.unit})"


def _common_summary(config: SegmentConfig, context: ParticleRewardContext, pixel_size: Length | None,
                    chosen: _Chosen) -> dict[str, Any]:
    return {
        "method": config.method, "best_params": chosen.params, "best_values": chosen.reference,
        "hypervolume": chosen.studies["foreground"].study.hypervolume,
        "objectives": {name: list(o.study.objective_names) for name, o in chosen.studies.items()},
        "pixel_size_angstrom": pixel_size.angstrom if pixel_size else None,
        "size_units": _size_units(pixel_size), "min_diameter_px": context.min_diameter_px,
        "max_diameter_px": context.max_diameter_px, "config": config.model_dump(),
    }


# --------------------------------------------------------------------------- images


def segment_image(image: Any, *, config: SegmentConfig | None = None, progress: ProgressArg = False,
                  **overrides: Any) -> ParticleResult:
    """Segment the particles of one image with label-free, optimized parameters.

    Parameters
    ----------
    image : numpy.ndarray (rows, cols), str or Path
        The micrograph, or a file :func:`rewardscope.io.read_image` reads.
    config : SegmentConfig, optional
        Settings; keyword ``overrides`` replace single fields (e.g. ``trials=30``).
    progress : bool or callable
        ``True``: progress of both studies on stderr (bars on a terminal, log lines
        elsewhere); or a callback ``progress(stage, done, total)`` (:mod:`rewardscope.progress`).

    Returns
    -------
    ParticleResult
        ``particles``, ``trials``, ``pareto`` tables; ``masks`` label image (int32);
        summary with the chosen parameters and reward values.

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
    >>> len(res.particles)
    1
    """
    cfg = make_config(SegmentConfig, config, **overrides)
    arr, file_ps = _read_single(image)
    pixel_size = _pixel_size(cfg, file_ps)
    context = reward_context(cfg, pixel_size)
    t0 = time.perf_counter()
    state = classical.prepare(arr, polarity=cfg.polarity)
    with progress_scope(progress) as report:
        chosen = _choose(state, cfg, context, n_trials=cfg.trials, warm=None, progress=report)
    seg = chosen.segmentation
    particles = measure_particles(seg.labels, state.raw, pixel_size=pixel_size)
    summary = _common_summary(cfg, context, pixel_size, chosen)
    summary.update({"n_particles": int(len(particles)), "n_split": seg.n_split,
                    "foreground_fraction": float(seg.foreground.mean()), "threshold": seg.threshold,
                    "seconds": {"optimize": chosen.seconds, "total": time.perf_counter() - t0}})
    return ParticleResult(tables={"particles": particles, "trials": chosen.trials, "pareto": chosen.pareto},
                          arrays={"masks": seg.labels}, summary=summary, image=state.raw, pixel_size=pixel_size,
                          extras={"segmentation": seg, "studies": chosen.studies, "context": context})


def _read_single(image: Any) -> tuple[np.ndarray, Length | None]:
    if isinstance(image, (str, Path)):
        from rewardscope.io import read_image

        img = read_image(image)
        if img.is_stack and img.n_frames > 1:
            raise ParameterError(f"{Path(image).name} is a movie of {img.n_frames} frames; use segment_movie")
        return img.data, img.pixel_size
    return np.asarray(image), None


# --------------------------------------------------------------------------- movies


class _MaskSink:
    """Collects label frames in memory or streams them to a TIFF file."""

    def __init__(self, path: str | Path | None, pixel_size: Length | None) -> None:
        self.frames: list[np.ndarray] = []
        self._writer = None
        if path is not None:
            import tifffile

            self._writer = tifffile.TiffWriter(path, imagej=True)
            self._res = None if pixel_size is None else (1.0 / pixel_size.nm, 1.0 / pixel_size.nm)

    def add(self, labels: np.ndarray) -> None:
        if self._writer is None:
            self.frames.append(labels)
            return
        kwargs: dict[str, Any] = {"metadata": {"unit": "nm"} if self._res else {}}
        if self._res:
            kwargs["resolution"] = self._res
        self._writer.write(np.clip(labels, 0, 65535).astype(np.uint16), contiguous=True, **kwargs)

    def close(self) -> np.ndarray | None:
        if self._writer is not None:
            self._writer.close()
            return None
        return np.stack(self.frames) if self.frames else None


def _worse(values: Mapping[str, float], reference: Mapping[str, float], tolerance: float) -> bool:
    """True when any reward is more than ``tolerance`` (relative) above its reference."""
    return any(values[k] > reference[k] * (1.0 + tolerance) + 1e-12 for k in reference)


def _locally_optimal(state: ClassicalState, params: Mapping[str, Any], values: Mapping[str, float],
                     context: ParticleRewardContext, config: SegmentConfig) -> bool:
    """True when neither a 25 % smaller nor a 25 % larger width beats ``params`` on every reward.

    Rewards also change when the scene does (particles grow, more edge pixels); this
    cheap probe (two extra runs) tells that apart from parameters gone stale.
    """
    lo, hi = config.sigma_range_px
    for factor in (1 / 1.25, 1.25):
        sigma = float(np.clip(params["sigma_px"] * factor, lo, hi))
        seg = classical.run(state, {"sigma_px": sigma}, min_area_px=context.min_area_px)
        probe = {k: float(fn(seg, context)) for k, fn in FOREGROUND_REWARDS.items()}
        if all(probe[k] <= values[k] for k in values) and any(probe[k] < values[k] for k in values):
            return False
    return True


def _frame_row(frame: int, table: pd.DataFrame, seg: Segmentation, values: Mapping[str, float],
               params: Mapping[str, Any], reoptimized: bool, pixel_size: Length | None) -> dict[str, Any]:
    inner = table[~table["touches_border"]]
    row: dict[str, Any] = {
        "frame": frame, "n_particles": int(len(table)), "n_interior": int(len(inner)),
        "mean_area_px": float(inner["area_px"].mean()) if len(inner) else float("nan"),
        "mean_equivalent_diameter_px": float(inner["equivalent_diameter_px"].mean()) if len(inner) else float("nan"),
        "foreground_fraction": float(seg.foreground.mean()), **values,
        "sigma_px": float(params["sigma_px"]), "split_depth_px": params.get("split_depth_px"),
        "reoptimized": reoptimized,
    }
    if pixel_size is not None:
        nm = pixel_size.nm
        row["mean_area_nm2"] = row["mean_area_px"] * nm * nm
        row["mean_equivalent_diameter_nm"] = row["mean_equivalent_diameter_px"] * nm
    return row


def segment_movie(movie: LazyStack | np.ndarray | Sequence[np.ndarray] | str | Path, *,
                  config: SegmentConfig | None = None, masks_path: str | Path | None = None,
                  progress: ProgressArg = None, **overrides: Any) -> ParticleResult:
    """Segment every frame of a movie, optimizing on the first and re-optimizing when needed.

    Parameters
    ----------
    movie : LazyStack, numpy.ndarray (frames, rows, cols), list of 2-D arrays, or path
        Paths are opened lazily (:func:`rewardscope.io.open_stack`).
    config : SegmentConfig, optional
        Settings; keyword ``overrides`` replace single fields.
    masks_path : str or Path, optional
        Stream the label images to this TIFF (one uint16 page per frame) instead of
        keeping them in memory.
    progress : bool or callable, optional
        Progress of the drift passes and of ``"segmenting frames"`` (one unit per
        frame), on stderr with ``True``, or to a callback ``progress(stage, done, total)``
        (:mod:`rewardscope.progress`).

    Returns
    -------
    ParticleResult
        Tables ``particles`` (all frames; with drift also ``x_aligned, y_aligned``),
        ``timeseries`` (per frame: count, interior count, mean area and diameter of
        particles not cut by the border, rewards, parameters, ``reoptimized``, ``rechecked``), ``trials``
        and ``pareto`` (with ``frame``), optionally ``drift``; ``masks`` when not streamed.

    Raises
    ------
    InputError
        Unreadable file, frames of different sizes, a constant frame, bad settings.

    Examples
    --------
    >>> yy, xx = np.mgrid[:64, :64]
    >>> rng = np.random.default_rng(0)
    >>> frames = [1.0 - ((yy - 32) ** 2 + (xx - 30 - k) ** 2 < (8 + k) ** 2) + rng.normal(0, .2, (64, 64))
    ...           for k in range(3)]
    >>> res = segment_movie(np.stack(frames), trials=10, split_trials=0, drift=False)
    >>> res.tables["timeseries"]["n_particles"].tolist()
    [1, 1, 1]
    """
    cfg = make_config(SegmentConfig, config, **overrides)
    stack = movie if isinstance(movie, LazyStack) else open_stack(movie)
    pixel_size = _pixel_size(cfg, stack.pixel_size)
    context = reward_context(cfg, pixel_size)
    t0, c0 = time.perf_counter(), time.process_time()
    with progress_scope(progress) as report:
        drift = _drift(stack, cfg, report)
        t_drift, c_drift = time.perf_counter() - t0, time.process_time() - c0
        sink = _MaskSink(masks_path, pixel_size)
        try:
            out = _segment_frames(stack, cfg, context, pixel_size, sink, report)
        finally:
            masks = sink.close()
    particles, rows, chosen_first, trials, pareto, last, n_reopt, t_seg = out
    if drift is not None:
        particles = particles.merge(drift[["frame", "dx", "dy"]], on="frame", how="left")
        particles["x_aligned"] = particles["x"] - particles.pop("dx")
        particles["y_aligned"] = particles["y"] - particles.pop("dy")
    timeseries = pd.DataFrame(rows)
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    summary = _common_summary(cfg, context, pixel_size, chosen_first)
    summary.update({
        "n_frames": len(stack), "frame_shape": list(stack.frame_shape), "n_reoptimizations": n_reopt,
        "mean_particles_per_frame": float(timeseries["n_particles"].mean()),
        "masks": "streamed to file" if masks_path is not None else "in memory",
        "seconds": {"drift": t_drift, "segmentation": t_seg, "total": total},
        "frames_per_second": len(stack) / total if total > 0 else None,
        "cpu_seconds": {"drift": c_drift, "total": cpu},
    })
    tables = {"particles": particles, "timeseries": timeseries, "trials": trials, "pareto": pareto}
    if drift is not None:
        tables["drift"] = drift
    return ParticleResult(tables=tables, arrays={"masks": masks} if masks is not None else {}, summary=summary,
                          image=None, pixel_size=pixel_size,
                          extras={"segmentation": last, "studies": chosen_first.studies, "context": context,
                                  "stack": stack})


def _drift(stack: LazyStack, cfg: SegmentConfig, progress: ProgressCallback) -> pd.DataFrame | None:
    if not cfg.drift or len(stack) < 2:
        return None
    from rewardscope.track.drift import estimate_drift

    return estimate_drift(stack, progress=progress)


def _segment_frames(stack: LazyStack, cfg: SegmentConfig, context: ParticleRewardContext,
                    pixel_size: Length | None, sink: _MaskSink, progress: ProgressCallback) -> tuple:
    """The per-frame loop: reuse parameters, re-optimize when the rewards drop; one progress unit per frame."""
    t0 = time.perf_counter()
    tables, rows, trials, pareto = [], [], [], []
    chosen_first: _Chosen | None = None
    chosen: _Chosen | None = None
    n_reopt = 0
    seg: Segmentation | None = None
    advance = start_stage(progress, "segmenting frames", total=len(stack), unit="frames")
    for i in range(len(stack)):
        state = classical.prepare(stack[i], polarity=cfg.polarity, name=f"frame {i} of {stack.name}")
        reoptimized = rechecked = False
        if chosen is None:
            chosen = chosen_first = _choose(state, cfg, context, n_trials=cfg.trials, warm=None)
            seg, values = chosen.segmentation, dict(chosen.reference)
        else:
            seg = classical.run(state, chosen.params, min_area_px=context.min_area_px)
            values = {k: float(fn(seg, context)) for k, fn in FOREGROUND_REWARDS.items()}
            if _worse(values, chosen.reference, cfg.reoptimize_tolerance) and \
                    _locally_optimal(state, chosen.params, values, context, cfg):
                chosen = replace(chosen, reference=dict(values))  # the scene changed, not the best width
                rechecked = True
            elif _worse(values, chosen.reference, cfg.reoptimize_tolerance):
                chosen = _choose(state, cfg, context, n_trials=cfg.reoptimize_trials, warm=chosen.params)
                seg, values, reoptimized = chosen.segmentation, dict(chosen.reference), True
                n_reopt += 1
        if i == 0 or reoptimized:
            trials.append(chosen.trials.assign(frame=i))
            pareto.append(chosen.pareto.assign(frame=i))
        table = measure_particles(seg.labels, state.raw, pixel_size=pixel_size, frame=i)
        tables.append(table)
        rows.append(_frame_row(i, table, seg, values, chosen.params, reoptimized, pixel_size))
        rows[-1]["rechecked"] = rechecked
        sink.add(seg.labels)
        advance()
    assert chosen_first is not None
    particles = pd.concat(tables, ignore_index=True)
    return (particles, rows, chosen_first, pd.concat(trials, ignore_index=True),
            pd.concat(pareto, ignore_index=True), seg, n_reopt, time.perf_counter() - t0)

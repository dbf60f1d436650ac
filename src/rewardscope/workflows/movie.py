"""Movies: optimize on the first frame, reuse the parameters, re-optimize when they go stale.

:class:`MoviePolicy` is the frame loop's rule for any workflow that can ``choose``
parameters on one prepared frame: it chooses on frame 0, then scores every later frame
at the same parameters (``workflow.evaluate(workflow.run(state, params))``: cheap) and
re-optimizes (warm-started from the current parameters) only when a reward gets worse
than ``tolerance`` relative to the frame the parameters were chosen on, unless a probe
shows that the scene changed, not the best parameters (then the reference values are
just updated).

:func:`segment_movie` applies it to particle segmentation
(:class:`~rewardscope.workflows.particles.ForegroundWorkflow` with its split study); its
probe runs 25 % smaller and larger widths. Frames are read lazily
(:func:`~rewardscope.io.load_input` with ``movie=True``) and label images can be streamed
to a TIFF (:class:`~rewardscope.io.sink.MaskSink`), so memory stays bounded for movies
larger than RAM. With ``drift=True`` the stage drift is measured
(:func:`~rewardscope.track.estimate_drift`) and particle positions are also given in
frame-0 coordinates (``x_aligned, y_aligned``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rewardscope.io.lazy import LazyStack
from rewardscope.io.load import load_input
from rewardscope.io.sink import MaskSink
from rewardscope.optimize.settings import StudySettings
from rewardscope.progress import ProgressArg, ProgressCallback, progress_scope, silent, start_stage
from rewardscope.rewards.particles import ParticleReward
from rewardscope.segment.classical import ClassicalState, Segmentation
from rewardscope.segment.measure import measure_particles
from rewardscope.units import Length
from rewardscope.workflows.base import Workflow, optimize, study_summary
from rewardscope.workflows.particles import (ForegroundWorkflow, ParticleResult, SegmentConfig, config_and_model,
                                             make_workflow, segmentation_summary, split_summary)

#: ``probe(state, params, values) -> True`` when the parameters are still the best on this frame.
Probe = Callable[[Any, Mapping[str, Any], Mapping[str, float]], bool]


def worse(values: Mapping[str, float], reference: Mapping[str, float], tolerance: float) -> bool:
    """True when any reward is more than ``tolerance`` (relative) above its reference.

    Examples
    --------
    >>> worse({"a": 1.3}, {"a": 1.0}, 0.25), worse({"a": 1.2}, {"a": 1.0}, 0.25)
    (True, False)
    """
    return any(values[k] > reference[k] * (1.0 + tolerance) + 1e-12 for k in reference)


def reward_values(workflow: Workflow, output: Any) -> dict[str, float]:
    """The workflow's rewards of ``output`` (:meth:`Workflow.evaluate` without the described extras)."""
    return {k: v for k, v in workflow.evaluate(output).items() if k in workflow.rewards}


@dataclass
class Optimum:
    """Parameters chosen by one study on one frame (what :func:`choose_by_study` returns).

    Attributes
    ----------
    output : object
        The workflow's output at ``params``.
    params : dict
        The chosen parameters.
    reference : dict of str to float
        The rewards at the chosen point.
    """

    output: Any
    params: dict[str, Any]
    reference: dict[str, float]


def choose_by_study(workflow: Workflow, state: Any, settings: StudySettings, *,
                    warm: Mapping[str, Any] | None = None) -> Optimum:
    """One study on a prepared frame (warm-started from ``warm``): the choice of a workflow without ``choose``."""
    opt = optimize(workflow, None, settings, state=state, progress=silent, warm_start=[dict(warm)] if warm else None)
    return Optimum(opt.output, dict(opt.study.best_params), {k: float(v) for k, v in opt.study.best_values.items()})


@dataclass
class FrameStep:
    """What :meth:`MoviePolicy.step` did on one frame.

    Attributes
    ----------
    output : object
        The workflow's output on the frame.
    values : dict of str to float
        Its rewards.
    reoptimized : bool
        The parameters were chosen again on this frame.
    rechecked : bool
        The rewards got worse, but the probe kept the parameters (the reference was updated).
    """

    output: Any
    values: dict[str, float]
    reoptimized: bool = False
    rechecked: bool = False


class MoviePolicy:
    """Choose parameters on the first frame, reuse them, re-optimize when a reward worsens.

    Parameters
    ----------
    workflow : Workflow
        Scores frames with ``workflow.evaluate(workflow.run(state, params))``. Parameters
        are chosen by its ``choose(state, settings, *, warm)`` when it has one (returning an
        object with ``output``, ``params`` and ``reference``, the rewards at the chosen point,
        as :meth:`~rewardscope.workflows.particles.ForegroundWorkflow.choose` does with its
        split study), else by one study (:func:`choose_by_study`).
    first, again : StudySettings
        The study on the first frame, and a re-optimization's.
    tolerance : float
        Relative worsening of any reward that triggers a re-optimization.
    probe : callable, optional
        ``probe(state, params, values)``: True when ``params`` are still locally best,
        i.e. the scene changed rather than the parameters went stale.
    """

    def __init__(self, workflow: Workflow, *, first: StudySettings, again: StudySettings, tolerance: float,
                 probe: Probe | None = None) -> None:
        self.workflow, self.first, self.again, self.tolerance, self.probe = workflow, first, again, tolerance, probe
        self.choose: Callable[..., Any] = getattr(workflow, "choose", None) or partial(choose_by_study, workflow)
        self.chosen: Any = None
        self.first_chosen: Any = None
        self.reference: dict[str, float] = {}
        self.n_reoptimizations = 0

    def step(self, state: Any) -> FrameStep:
        """Segment (or analyse) one prepared frame by the policy."""
        if self.chosen is None:
            self.chosen = self.first_chosen = self.choose(state, self.first)
            self.reference = dict(self.chosen.reference)
            return FrameStep(self.chosen.output, dict(self.reference))
        output = self.workflow.run(state, self.chosen.params)
        values = reward_values(self.workflow, output)
        if not worse(values, self.reference, self.tolerance):
            return FrameStep(output, values)
        if self.probe is not None and self.probe(state, self.chosen.params, values):
            self.reference = dict(values)  # the scene changed, not the best parameters
            return FrameStep(output, values, rechecked=True)
        self.chosen = self.choose(state, self.again, warm=self.chosen.params)
        self.reference = dict(self.chosen.reference)
        self.n_reoptimizations += 1
        return FrameStep(self.chosen.output, dict(self.reference), reoptimized=True)


def width_probe(workflow: ForegroundWorkflow) -> Probe:
    """Probe: neither a 25 % smaller nor a 25 % larger width beats the chosen one on every reward.

    Rewards also change when the scene does (particles grow, more edge pixels); this
    cheap probe (two extra runs) tells that apart from parameters gone stale.
    """
    lo, hi = workflow.config.sigma_range_px

    def still_best(state: ClassicalState, params: Mapping[str, Any], values: Mapping[str, float]) -> bool:
        for factor in (1 / 1.25, 1.25):
            sigma = float(np.clip(params["sigma_px"] * factor, lo, hi))
            probe = reward_values(workflow, workflow.run(state, {"sigma_px": sigma}))
            if all(probe[k] <= values[k] for k in values) and any(probe[k] < values[k] for k in values):
                return False
        return True

    return still_best


# --------------------------------------------------------------------------- particle movies


def _frame_row(frame: int, table: pd.DataFrame, seg: Segmentation, step: FrameStep, params: Mapping[str, Any],
               pixel_size: Length | None) -> dict[str, Any]:
    inner = table[~table["touches_border"]]
    row: dict[str, Any] = {
        "frame": frame, "n_particles": int(len(table)), "n_interior": int(len(inner)),
        "mean_area_px": float(inner["area_px"].mean()) if len(inner) else float("nan"),
        "mean_equivalent_diameter_px": float(inner["equivalent_diameter_px"].mean()) if len(inner) else float("nan"),
        "foreground_fraction": float(seg.foreground.mean()), **step.values,
        "sigma_px": float(params.get("sigma_px", 0.0)), "split_depth_px": params.get("split_depth_px"),
        "reoptimized": step.reoptimized,
    }
    if pixel_size is not None:
        nm = pixel_size.nm
        row["mean_area_nm2"] = row["mean_area_px"] * nm * nm
        row["mean_equivalent_diameter_nm"] = row["mean_equivalent_diameter_px"] * nm
    row["rechecked"] = step.rechecked
    return row


@dataclass
class _Frames:
    """The tables of the per-frame loop."""

    particles: pd.DataFrame
    timeseries: pd.DataFrame
    trials: pd.DataFrame
    pareto: pd.DataFrame
    policy: MoviePolicy
    last: Segmentation | None
    seconds: float


def _segment_frames(stack: LazyStack, workflow: ForegroundWorkflow, cfg: SegmentConfig, sink: MaskSink,
                    progress: ProgressCallback) -> _Frames:
    """The per-frame loop: the policy per frame, one progress unit per frame."""
    t0 = time.perf_counter()
    tunes_width = "sigma_px" in workflow.search_space().tunable_names  # not the U-Net: nothing to re-optimize
    policy = MoviePolicy(workflow, first=cfg.study, again=cfg.stage_settings(cfg.reoptimize_trials),
                         tolerance=cfg.reoptimize_tolerance if tunes_width else float("inf"),
                         probe=width_probe(workflow) if tunes_width else None)
    pixel_size = workflow.context.pixel_size
    tables, rows, trials, pareto = [], [], [], []
    seg: Segmentation | None = None
    advance = start_stage(progress, "segmenting frames", total=len(stack), unit="frames")
    for i in range(len(stack)):
        state = workflow.prepare(stack[i], name=f"frame {i} of {stack.name}")
        step = policy.step(state)
        seg = step.output
        if i == 0 or step.reoptimized:
            trials.append(policy.chosen.table("trials").assign(frame=i))
            pareto.append(policy.chosen.table("pareto").assign(frame=i))
        table = measure_particles(seg.labels, state.raw, pixel_size=pixel_size, frame=i)
        tables.append(table)
        rows.append(_frame_row(i, table, seg, step, policy.chosen.params, pixel_size))
        sink.add(seg.labels)
        advance()
    return _Frames(particles=pd.concat(tables, ignore_index=True), timeseries=pd.DataFrame(rows),
                   trials=pd.concat(trials, ignore_index=True), pareto=pd.concat(pareto, ignore_index=True),
                   policy=policy, last=seg, seconds=time.perf_counter() - t0)


def _drift(stack: LazyStack, cfg: SegmentConfig, progress: ProgressCallback) -> pd.DataFrame | None:
    if not cfg.drift or len(stack) < 2:
        return None
    from rewardscope.track.registration import estimate_drift

    return estimate_drift(stack, progress=progress)


def _aligned(particles: pd.DataFrame, drift: pd.DataFrame | None) -> pd.DataFrame:
    """Particles with frame-0 coordinates ``x_aligned, y_aligned`` (unchanged without drift)."""
    if drift is None:
        return particles
    particles = particles.merge(drift[["frame", "dx", "dy"]], on="frame", how="left")
    particles["x_aligned"] = particles["x"] - particles.pop("dx")
    particles["y_aligned"] = particles["y"] - particles.pop("dy")
    return particles


def _movie_summary(workflow: ForegroundWorkflow, cfg: SegmentConfig, stack: LazyStack, frames: _Frames,
                   masks_path: str | Path | None) -> dict[str, Any]:
    first = frames.policy.first_chosen
    pixel_size = workflow.context.pixel_size
    return {"workflow": type(workflow).__name__, "pixel_size_angstrom": pixel_size.angstrom if pixel_size else None,
            **study_summary(first.studies["foreground"], cfg.study), **split_summary(first, cfg),
            **segmentation_summary(cfg, workflow.context, pixel_size, model=workflow.model_label),
            "config": cfg.model_dump(mode="json"),
            "n_frames": len(stack), "frame_shape": list(stack.frame_shape),
            "n_reoptimizations": frames.policy.n_reoptimizations,
            "mean_particles_per_frame": float(frames.timeseries["n_particles"].mean()),
            "masks": "streamed to file" if masks_path is not None else "in memory"}


def segment_movie(movie: LazyStack | np.ndarray | Sequence[np.ndarray] | str | Path | Any, *,
                  config: SegmentConfig | None = None, rewards: Mapping[str, ParticleReward] | None = None,
                  split_rewards: Mapping[str, ParticleReward] | None = None, masks_path: str | Path | None = None,
                  progress: ProgressArg = None, model: Any = None, **overrides: Any) -> ParticleResult:
    """Segment every frame of a movie, optimizing on the first and re-optimizing when needed.

    Parameters
    ----------
    movie : LazyStack, numpy.ndarray (frames, rows, cols), list of 2-D arrays, path, ...
        Anything :func:`~rewardscope.io.load_input` reads as a movie (files lazily).
    config : SegmentConfig, optional
        Settings; keyword ``overrides`` replace single fields (e.g. ``trials=20``).
    rewards, split_rewards : mapping of str to callable, optional
        Foreground and split rewards, as in :func:`~rewardscope.workflows.particles.segment_image`;
        the foreground rewards also decide when to re-optimize.
    model : path or SegmenterModel, optional
        The network of ``method="autoencoder"`` or ``"unet"``, as in
        :func:`~rewardscope.workflows.particles.segment_image`.
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
        The summary has the first frame's studies in the one schema (split under ``split``).

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
    cfg, model = config_and_model(config, model, overrides)
    inp = load_input(movie, cfg.pixel_size, movie=True, name="movie")
    stack: LazyStack = inp.image
    workflow = make_workflow(cfg, inp.pixel_size, rewards=rewards, split_rewards=split_rewards, model=model)
    t0, c0 = time.perf_counter(), time.process_time()
    with progress_scope(progress) as report:
        drift = _drift(stack, cfg, report)
        t_drift, c_drift = time.perf_counter() - t0, time.process_time() - c0
        with MaskSink(masks_path, shape=(len(stack), *stack.frame_shape), pixel_size=inp.pixel_size) as sink:
            frames = _segment_frames(stack, workflow, cfg, sink, report)
    total, cpu = time.perf_counter() - t0, time.process_time() - c0
    summary = _movie_summary(workflow, cfg, stack, frames, masks_path)
    summary.update({"seconds": {"drift": t_drift, "segmentation": frames.seconds, "total": total},
                    "frames_per_second": len(stack) / total if total > 0 else None,
                    "cpu_seconds": {"drift": c_drift, "total": cpu}})
    tables = {"particles": _aligned(frames.particles, drift), "timeseries": frames.timeseries,
              "trials": frames.trials, "pareto": frames.pareto}
    if drift is not None:
        tables["drift"] = drift
    masks = sink.stack
    return ParticleResult(tables=tables, arrays={"masks": masks} if masks is not None else {}, summary=summary,
                          image=None, pixel_size=inp.pixel_size,
                          extras={"segmentation": frames.last, "studies": frames.policy.first_chosen.studies,
                                  "context": workflow.context, "stack": stack})

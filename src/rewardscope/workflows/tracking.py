"""Particle tracking through motion, growth and coalescence, with reward-chosen linking cut-offs.

:func:`track_particles` chains four steps on a movie:

1. **drift**: the stage drift of every frame (:func:`~rewardscope.track.estimate_drift`,
   the measurement of :func:`~rewardscope.workflows.drift.correct_drift`; the frames
   themselves are not resampled, so every output stays in the input movie's pixel grid);
2. **segmentation**, a pluggable step (:data:`SEGMENTERS`, ``segmenter="classical"``:
   ``"autoencoder"``, ``"unet"``: :func:`~rewardscope.workflows.movie.segment_movie`), or label masks given by the caller;
3. **detections**: centroid and area of every label in every frame (once), with
   drift-corrected positions ``x_aligned, y_aligned``;
4. **linking** (:class:`TrackingWorkflow`, the study of the loop): laptrack
   (:mod:`rewardscope.track.linking`) with the cut-offs (maximum displacement, missed
   frames and distance of gap closing, merge distance, area weight) chosen on the shared
   optimiser by the label-free rewards of :mod:`rewardscope.rewards.tracks`
   (fragmentation, area conservation at merges, motion plausibility), Pareto front and
   selection as in every workflow.

Default engine: ``linker="lap"`` (LapTrack on centroid + area features, with our merge
completion) scored higher than ``"overlap"`` (OverLapTrack) on the same masks in
``benchmarks/tracking.py`` (merge F1 0.20 vs 0.17, identity 0.53 vs 0.52, mean of the easy
movies that ran; see the README).

Lineage convention: a merge ends both parent tracks and starts a new track whose parents
are the two; a split ends the parent and starts two children; more than two particles
merging in one frame give one multi-parent merge.

Speed and memory: the linking study scores its cut-offs on ``tune_frames`` frames, blocks
spread over the movie (a link costs about 10 ms per frame of 40 particles, so 40 trials on
a whole 200-frame movie would take minutes), and the whole movie is then linked once at
the chosen point. A movie longer than ``link_window_frames`` is a
:class:`~rewardscope.workflows.tracking_state.TrackingStream`: the study's blocks lie in
its first window, which is tuned as soon as it is measured, and the movie is then linked
window by window (:mod:`rewardscope.track.windows`) while its later frames are still being
segmented and measured, e.g. by dask workers. With ``masks_path`` the per-frame labels go
to a temporary TIFF and the track-id masks straight to ``masks_path`` (memory-mapped,
frame by frame), so memory does
not grow with the movie's length; only the detection table (a few numbers per particle
per frame) does. The ``overlap`` linker reads all label frames into memory (laptrack's
``OverLapTrack`` needs the whole stack).
"""

from __future__ import annotations

import dataclasses

import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rewardscope.config import make_config
from rewardscope.errors import FileFormatError, ImageShapeError, ImageValueError
from rewardscope.io.lazy import LazyStack
from rewardscope.io.load import Input, load_input
from rewardscope.io.sink import MaskSink
from rewardscope.optimize import FloatParam, IntParam, SearchSpace, StudyResult
from rewardscope.optimize.settings import StudySettings
from rewardscope.progress import ProgressArg, ProgressCallback, progress_scope, start_stage
from rewardscope.result import Result
from rewardscope.rewards.tracks import TRACK_REWARD_SCALES, TRACK_REWARDS, TrackReward, TrackRewardContext, step_scale_px
from rewardscope.track.linking import Linked, LinkParams, link_overlap, link_tracks
from rewardscope.units import Length, size_in_px
from rewardscope.workflows.base import Workflow, run_workflow
from rewardscope.workflows.tracking_config import TrackConfig
from rewardscope.workflows.tracking_state import (MeasuredFrames, TrackingState, TrackingStream, tracking_state,
                                                 tune_blocks)


# --------------------------------------------------------------------------- results


@dataclass
class TracksResult(Result):
    """Tracks, lineage, merge/split events and track-id masks of a movie.

    Tables: ``tracks`` (frame, track_id, x, y, x_aligned, y_aligned, area_px [, area_nm2,
    equivalent_diameter_nm]; px in the input movie's grid), ``lineage`` (track_id, start,
    end, parents), ``events`` (frame, event, parents, child), ``trials``, ``pareto``,
    ``drift`` (with drift). Arrays: ``masks`` (frames, rows, cols), value = track id.
    Figures: :func:`rewardscope.report.tracks.save_track_figures` (the core does not draw).
    """

    @property
    def tracks(self) -> pd.DataFrame:
        """One row per particle per frame."""
        return self.tables["tracks"]

    @property
    def lineage(self) -> pd.DataFrame:
        """One row per track: ``track_id, start, end, parents``."""
        return self.tables["lineage"]

    @property
    def events(self) -> pd.DataFrame:
        """``frame, event, parents, child``: merges and splits."""
        return self.tables["events"]

    @property
    def masks(self) -> np.ndarray:
        """(frames, rows, cols) label stack, value = track id, 0 = background."""
        return self.arrays["masks"]


# --------------------------------------------------------------------------- segmenters

#: ``segmenter(movie, config, progress, *, masks_path) -> labels (frames, rows, cols)``: with a
#: ``masks_path`` the segmenter streams its label frames to that TIFF and returns it memory-mapped.
Segmenter = Callable[..., Any]


def movie_segmenter(movie: Input, config: TrackConfig, progress: ProgressCallback, *,
                    masks_path: Path | None = None) -> Any:
    """Label masks of every frame by :func:`~rewardscope.workflows.movie.segment_movie` (drift off).

    ``config.segmenter`` picks the method (classical, autoencoder, unet) and
    ``config.segment.network`` the model file (unet: default the shipped weights).
    """
    from rewardscope.segment.learned import load_method_model
    from rewardscope.workflows.movie import segment_movie

    seg_cfg = _segment_config(config)
    net = load_method_model(seg_cfg.method, seg_cfg.network)
    result = segment_movie(movie, config=seg_cfg, model=net, progress=progress, masks_path=masks_path)
    return _labels(result, masks_path)


def _segment_config(config: TrackConfig) -> Any:
    """The per-frame segmentation settings of a tracking run: its method and pixel size, drift off (tracking aligns)."""
    return config.segment.model_copy(update={"drift": False, "pixel_size": config.pixel_size,
                                             "method": config.segmenter})


def _labels(result: Any, masks_path: Path | None) -> Any:
    """A segmentation result's label stack: in memory, or the TIFF it streamed to ``masks_path``, read per frame."""
    if masks_path is None:
        return np.asarray(result.arrays["masks"])
    from rewardscope.io.frames import tiff_frames

    return tiff_frames(masks_path)


def parallel_segmenter(movie: Input, config: TrackConfig, progress: ProgressCallback, *,
                       masks_path: Path | None = None, scheduler: Any = "local", workers: int | None = None) -> Any:
    """Label masks of every frame with the frames as dask tasks, taken as they arrive.

    The classical segmenter only (the learned ones need their network on every worker).
    Chunks of frames are segmented on the workers (files read there) at the parameters
    chosen on frame 0 (:class:`~rewardscope.workflows.movie_parallel.ParallelSegmentation`).
    The labels are returned as :class:`~rewardscope.workflows.movie_parallel.ArrivingFrames`:
    frame ``i`` is there as soon as it and the frames before it are back, so the tracker's
    consistency and measurement run here, in frame order, while the workers segment the
    later frames (``masks_path`` is not used: the tracker keeps the frames it has corrected).
    """
    from rewardscope.errors import ParameterError
    from rewardscope.workflows.movie_parallel import ArrivingFrames, ParallelSegmentation

    if config.segmenter != "classical":
        raise ParameterError(f"--scheduler segments with the classical segmenter, not {config.segmenter!r}")
    run = ParallelSegmentation(movie.image, config=_segment_config(config), scheduler=scheduler, workers=workers,
                               progress=progress)
    return ArrivingFrames(run.frames(), n_frames=len(movie.image), run=run)


#: The segmenters ``segmenter=`` names: the classical one and the learned ones (:mod:`rewardscope.segment.learned`).
SEGMENTERS: dict[str, Segmenter] = {"classical": movie_segmenter, "autoencoder": movie_segmenter,
                                    "unet": movie_segmenter}


# --------------------------------------------------------------------------- the linking workflow


class TrackingWorkflow(Workflow):
    """Linking cut-offs against the tracking rewards.

    The study's trials link with the plain edge stitching only (``stitch_jumps=False``:
    an end and a start both cut by the edge, a frame apart); the chosen cut-offs then link
    the movie with the joins across stage jumps and out of view as well. Those joins mend
    breaks that no cut-off can link; counted as mended in the trials, they hid from the
    fragmentation reward the breaks that too-small cut-offs make, and the study chose such
    cut-offs (tracking benchmark, hard-2 over study seeds 0 and 1: identity 0.78 and 0.72,
    merge F1 0.67 and 0.62 with them in the trials; 0.84 and 0.82, 0.89 both, without).

    Parameters
    ----------
    config : TrackConfig
    context : TrackRewardContext
        From the movie's detections (:func:`reward_context`).
    rewards : mapping of str to callable, optional
        ``(linked, context) -> float`` (default ``fragmentation``, ``area_conservation``, ``motion``).
    """

    stage = "optimizing linking"

    def __init__(self, *, config: TrackConfig, context: TrackRewardContext, max_step_px: float,
                 rewards: Mapping[str, TrackReward] | None = None) -> None:
        super().__init__(rewards=dict(rewards or TRACK_REWARDS), context=context, reward_scales=TRACK_REWARD_SCALES)
        self.config, self.max_step_px = config, max(float(max_step_px), 1.0)

    def search_space(self) -> SearchSpace:
        """Link and gap distances, missed frames, merge distance and reach (with merges), area weight (lap linker)."""
        hi, cfg = self.max_step_px, self.config
        params: list[Any] = [IntParam("gap_frames", 0, cfg.max_gap_frames)]
        if cfg.linker == "lap":
            params += [FloatParam("max_displacement_px", 1.0, hi, log=True),
                       FloatParam("gap_distance_px", 1.0, hi, log=True), FloatParam("area_weight", 0.0, 2.0)]
            if cfg.merges or cfg.splits:
                params.append(FloatParam("merge_distance_px", 1.0, hi, log=True))
            if cfg.merges:
                params.append(FloatParam("merge_reach", 1.0, 2.0))
        return SearchSpace(params)

    def load(self, source: Any, pixel_size: Any = None) -> Input:
        """The prepared :class:`TrackingState` is the input (no file is read here)."""
        return Input(image=source, pixel_size=getattr(source, "pixel_size", None))

    def params(self, params: Mapping[str, Any]) -> LinkParams:
        """The study's parameters as :class:`LinkParams` (defaults for what is not searched).

        The trials link without ``stitch_jumps`` (see the class docstring); :meth:`finish` adds it.
        """
        full = {"max_displacement_px": self.max_step_px, "gap_distance_px": self.max_step_px,
                "merge_distance_px": self.max_step_px, **params}
        link = LinkParams.from_params(full, merges=self.config.merges, splits=self.config.splits)
        return dataclasses.replace(link, out_of_view_frames=self.config.out_of_view_frames,
                                   frame_shape=tuple(self.context.frame_shape), stitch_jumps=False)

    def prepare(self, image: TrackingState) -> TrackingState:
        """The study's blocks of the state prepared by :func:`track_particles` (itself for the whole movie)."""
        return image.tuning

    def run(self, state: TrackingState | list[TrackingState], params: dict[str, Any]) -> Linked | list[Linked]:
        """Link the detections (of every block of the study) with these cut-offs."""
        if isinstance(state, list):
            return [self.link(block, self.params(params)) for block in state]
        return self.link(state, self.params(params))

    def evaluate(self, output: Linked | list[Linked]) -> dict[str, float]:
        """The rewards and counts, summed over the study's blocks."""
        if not isinstance(output, list):
            return super().evaluate(output)
        values = [super(TrackingWorkflow, self).evaluate(block) for block in output]
        return {k: float(sum(v[k] for v in values)) for k in values[0]}

    def link(self, state: TrackingState, link: LinkParams) -> Linked:
        """One linking of ``state`` with the configured engine."""
        if self.config.linker == "overlap":
            output = link_overlap(state.labels, state.detections, link)
        else:
            output = link_tracks(state.detections, link)
        output.params = link
        return output

    def finish(self, output: Linked | list[Linked], *, state: TrackingState | list[TrackingState], inp: Input,
               progress: ProgressCallback) -> tuple[Linked, dict[str, Any]]:
        """Link the whole movie at the chosen cut-offs, with the joins across stage jumps (``stitch_jumps``).

        A :class:`TrackingStream` is linked window by window as its later frames are measured.
        """
        full: TrackingState | TrackingStream = inp.image
        tuned: dict[str, Any] = {"tune_frames": int(sum(b - a for a, b in full.blocks)),
                                 "tune_blocks": [list(b) for b in full.blocks]}
        chosen = output[0].params if isinstance(output, list) else output.params
        chosen = dataclasses.replace(chosen, stitch_jumps=True)
        if isinstance(full, TrackingStream):
            linked = full.link(chosen, progress, max_gap_frames=self.config.max_gap_frames)
            linked.params = chosen
            return linked, {**tuned, "link_window_frames": full.window}
        advance = start_stage(progress, "linking the movie", total=1, unit="linkings")
        output = self.link(full, chosen)
        advance()
        return output, tuned

    def describe(self, output: Linked) -> dict[str, float]:
        """Number of tracks, merges and splits."""
        events = output.events
        return {"n_tracks": float(len(output.lineage)), "n_merges": float((events["event"] == "merge").sum()),
                "n_splits": float((events["event"] == "split").sum())}

    def to_result(self, output: Linked, *, study: StudyResult, inp: Input, summary: dict[str, Any]) -> TracksResult:
        """Tracks, lineage, events, track-id masks, trials and Pareto points."""
        state: TrackingState = inp.image
        summary.update({k: int(v) for k, v in self.describe(output).items()})
        return TracksResult(tables={"tracks": tracks_table(output.tracks, state.pixel_size),
                                    "lineage": output.lineage, "events": output.events,
                                    "trials": study.trials, "pareto": study.pareto},
                            summary=summary, pixel_size=state.pixel_size, extras={"study": study, "linked": output})


def reward_context(detections: pd.DataFrame, *, n_frames: int, frame_shape: tuple[int, int],
                   config: TrackConfig, pixel_size: Length | None) -> TrackRewardContext:
    """The rewards' context from the movie's detections and the config (sizes in px)."""
    vanish_px = size_in_px(config.vanish_diameter, pixel_size, "vanish_diameter")
    return TrackRewardContext(frame_shape=frame_shape, n_frames=n_frames, step_scale_px=step_scale_px(detections),
                              detections_per_frame=len(detections) / max(n_frames, 1),
                              edge_margin_px=size_in_px(config.edge_margin, pixel_size, "edge_margin"),
                              vanish_area_px=np.pi * vanish_px ** 2 / 4)


# --------------------------------------------------------------------------- tables and masks


def tracks_table(tracks: pd.DataFrame, pixel_size: Length | None) -> pd.DataFrame:
    """``frame, track_id, x, y, x_aligned, y_aligned, area_px`` [+ ``area_nm2, equivalent_diameter_nm``]."""
    table = tracks[["frame", "track_id", "x", "y", "x_aligned", "y_aligned", "area_px"]].copy()
    if pixel_size is not None:
        table["area_nm2"] = table["area_px"] * pixel_size.nm ** 2
        table["equivalent_diameter_nm"] = 2 * np.sqrt(table["area_nm2"] / np.pi)
    return table.sort_values(["frame", "track_id"], kind="stable").reset_index(drop=True)


def track_masks(labels: Any, tracks: pd.DataFrame, sink: MaskSink | None = None) -> np.ndarray | None:
    """The label stack with every label replaced by its track id (0 = background).

    Frame by frame: into ``sink`` when given (e.g. streamed to a TIFF; returns None),
    else into a new array.

    Examples
    --------
    >>> lab = np.array([[[0, 1, 2]], [[2, 0, 1]]])
    >>> t = pd.DataFrame({"frame": [0, 0, 1, 1], "label": [1, 2, 1, 2], "track_id": [5, 6, 6, 7]})
    >>> track_masks(lab, t).tolist()
    [[[0, 5, 6]], [[7, 0, 6]]]
    """
    dtype = np.uint16 if len(tracks) == 0 or tracks["track_id"].max() < 65536 else np.int32
    out = None if sink is not None else np.zeros(np.shape(labels), dtype)
    groups = dict(tuple(tracks.groupby("frame")))
    for frame in range(len(labels)):
        lab = np.asarray(labels[frame])
        lut = np.zeros(int(lab.max()) + 1, dtype)
        if frame in groups:
            group = groups[frame]
            lut[group["label"].to_numpy(int)] = group["track_id"].to_numpy()
        if sink is None:
            out[frame] = lut[lab]
        else:
            sink.add(lut[lab])
    return out


# --------------------------------------------------------------------------- inputs


def _read_masks(masks: Any) -> np.ndarray:
    """The given masks as an array (a path: .tif/.tiff or .npy)."""
    if not isinstance(masks, (str, Path)):
        return np.asarray(masks)
    path = Path(masks)
    if not path.exists():
        raise FileFormatError(f"masks file {path} does not exist")
    try:
        if path.suffix.lower() == ".npy":
            return np.load(path, allow_pickle=False, mmap_mode="r")
        if path.suffix.lower() in (".tif", ".tiff"):
            import tifffile

            return tifffile.imread(path)
    except (ValueError, OSError, KeyError) as exc:
        raise FileFormatError(f"cannot read masks {path.name}: {exc}") from None
    raise FileFormatError(f"masks {path.name}: give a .tif/.tiff or .npy label stack")


def check_masks(masks: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Validated integer label masks of the movie's shape (frames, rows, cols).

    Raises
    ------
    ImageShapeError
        A shape other than the movie's.
    ImageValueError
        Values that are not non-negative integer labels.
    """
    arr = _read_masks(masks)
    if arr.ndim == 2 and len(shape) == 3 and shape[0] == 1:
        arr = arr[None]
    if tuple(arr.shape) != tuple(shape):
        raise ImageShapeError(f"masks have shape {tuple(arr.shape)} but the movie is {tuple(shape)} "
                              "(frames, rows, cols); give one label image per frame of the movie's size")
    if arr.dtype.kind not in "iu":
        arr = np.asarray(arr)
        whole = arr.dtype.kind == "f" and bool(np.all(np.isfinite(arr))) and bool(np.all(arr == np.round(arr)))
        if not whole:
            raise ImageValueError(f"masks must be integer labels (0 = background), got {arr.dtype} values that "
                                  "are not whole numbers")
    if arr.dtype.kind == "i" and any(np.asarray(frame).min() < 0 for frame in arr):
        raise ImageValueError("masks must be non-negative integer labels (0 = background)")
    return arr if arr.dtype.kind in "iu" else arr.astype(np.int32)


def _movie(movie: Any, pixel_size: Length | None) -> Input:
    inp = load_input(movie, pixel_size, movie=True, name="movie")
    if len(inp.image) < 2:
        raise ImageShapeError("tracking needs a movie of at least 2 frames; got a single image")
    return inp


# --------------------------------------------------------------------------- entry point


def track_particles(movie: LazyStack | np.ndarray | Sequence[np.ndarray] | str | Path | Any, *,
                    config: TrackConfig | None = None, masks: np.ndarray | str | Path | None = None,
                    rewards: Mapping[str, TrackReward] | None = None, masks_path: str | Path | None = None,
                    progress: ProgressArg = False, scheduler: Any = None, workers: int | None = None,
                    **overrides: Any) -> TracksResult:
    """Track the particles of a movie: drift, segmentation (or given masks), reward-tuned linking.

    Parameters
    ----------
    movie : LazyStack, numpy.ndarray (frames, rows, cols), list of 2-D arrays, path, ...
        Anything :func:`~rewardscope.io.load_input` reads as a movie of >= 2 frames.
    config : TrackConfig, optional
        Settings; keyword ``overrides`` replace single fields (e.g. ``trials=20``, ``drift=False``).
    masks : numpy.ndarray (frames, rows, cols) of int, or path (.tif, .npy), optional
        Label masks to link instead of segmenting (0 = background).
    rewards : mapping of str to callable, optional
        Linking rewards ``(linked, context) -> float``, all minimised (default
        :data:`~rewardscope.rewards.tracks.TRACK_REWARDS`).
    masks_path : str or Path, optional
        Stream the track-id masks to this TIFF (uint16, one page per frame) instead of
        keeping them in memory; the per-frame segmentation then goes through a temporary
        TIFF too, so memory does not grow with the movie's length.
    progress : bool or callable
        Progress of drift, segmentation, measurement and the linking study.
    scheduler : str or distributed.Client, optional
        Segment the frames as dask tasks (``"local"``, ``"serial"``, ``"tcp://HOST:PORT"``;
        :func:`parallel_segmenter`, classical segmenter only); linking stays here. Default:
        one chain in this process.
    workers : int, optional
        Workers of a ``"local"`` cluster.

    Returns
    -------
    TracksResult
        ``tracks``, ``lineage``, ``events``, ``masks`` (track ids; not kept with
        ``masks_path``), ``trials``, ``pareto`` (and ``drift``); the summary in the one
        schema (:func:`~rewardscope.workflows.base.study_summary`) with ``n_tracks``,
        ``n_merges``, ``n_splits``, ``n_frames``, ``segmenter``, ``linker``, ``tune_frames``,
        ``frames_per_second`` (with a scheduler also ``segmentation_workers``: chunks, frames,
        peak memory in MiB and seconds per worker); ``seconds["segmentation"]`` covers the
        temporal consistency and the measurement too (they run as the frames arrive). With a
        scheduler the workers segment while the drift is measured here (the frames that arrive
        meanwhile wait in a temporary file), so ``seconds["drift"]`` lies inside ``seconds["segmentation"]``.
        A movie longer than ``link_window_frames`` (lap linker) is linked window by window
        while its later frames are measured: ``seconds["segmentation"]`` then ends at the
        last frame's measurement and the linking study and windows lie partly inside it;
        ``seconds["linking_after_last_frame"]`` is what linking adds after the last frame
        (with summary ``link_window_frames``; the study's ``tune_blocks`` lie in the first window).

    Raises
    ------
    InputError
        A single image or 1-frame movie, masks of another shape or not integer labels, no
        particle in any frame, bad settings.

    Examples
    --------
    >>> yy, xx = np.mgrid[:48, :64]
    >>> masks = np.stack([((yy - 24) ** 2 + (xx - 20 - 2 * f) ** 2 < 25).astype(int) for f in range(4)])
    >>> res = track_particles(masks.astype(float), masks=masks, drift=False, trials=8)
    >>> res.lineage.to_dict("records")
    [{'track_id': 1, 'start': 0, 'end': 3, 'parents': ''}]
    """
    cfg = make_config(TrackConfig, config, **overrides)
    inp = _movie(movie, cfg.pixel_size)
    stack: LazyStack = inp.image
    cfg = cfg.model_copy(update={"pixel_size": inp.pixel_size})
    t0 = time.perf_counter()
    labels = None if masks is None else check_masks(masks, stack.shape)
    with progress_scope(progress) as report, tempfile.TemporaryDirectory(prefix="rewardscope-track-") as work:
        arriving = None
        if labels is None and scheduler is not None:
            labels = arriving = parallel_segmenter(inp, cfg, report, scheduler=scheduler, workers=workers)
        try:  # the labels are corrected, measured and linked frame by frame, as they arrive from a scheduler
            if arriving is not None:  # the workers segment while the drift is measured here
                drift, t_drift = _drift_while_arriving(stack, cfg, report, arriving, Path(work) / "arrived.raw")
            else:
                drift = _drift(stack, cfg, report)
                t_drift = time.perf_counter() - t0
            if labels is None:
                path = None if masks_path is None else Path(work) / "labels.tif"
                labels = SEGMENTERS[cfg.segmenter](inp, cfg, report, masks_path=path)
            measured = MeasuredFrames(labels, drift, cfg.touch_frames, stack, inp.pixel_size,
                                      None if masks_path is None else Path(work) / "consistent.tif", progress=report)
            del labels
            state = tracking_state(measured, window=cfg.link_window_frames if cfg.linker == "lap" else 0,
                                   tune_frames=cfg.tune_frames)
            t_measured = time.perf_counter()
            head = state.head if isinstance(state, TrackingStream) else state
            (a, b), *_ = head.blocks
            context = dataclasses.replace(reward_context(head.detections, n_frames=head.frames,
                                                         frame_shape=stack.frame_shape, config=cfg,
                                                         pixel_size=inp.pixel_size), n_frames=b - a)
            workflow = TrackingWorkflow(config=cfg, context=context, rewards=rewards,
                                        max_step_px=size_in_px(cfg.max_step, inp.pixel_size, "max_step"))
            result = run_workflow(workflow, state, cfg, progress=report, state=head.tuning)
            t_linked = time.perf_counter()
            t_measured = getattr(state, "last_frame_at", None) or t_measured
            t_seg = t_measured - t0 - (t_drift if arriving is None else 0.0)
        finally:
            getattr(arriving, "close", lambda: None)()  # an unfinished scheduler run stops here
        workers = _segmentation_workers(arriving)
        det = state.detections
        t_masks = time.perf_counter()
        with MaskSink(masks_path, shape=stack.shape, pixel_size=inp.pixel_size) as sink:
            track_masks(measured.labels, result.extras["linked"].tracks, sink)
        if masks_path is None:
            result.arrays["masks"] = sink.stack
        del measured, state
    total = time.perf_counter() - t0
    result.summary["image_shape"] = list(stack.shape)
    result.summary.update({"n_frames": len(stack), "frame_shape": list(stack.frame_shape),
                           "segmenter": "given masks" if masks is not None else cfg.segmenter,
                           "scheduler": None if scheduler is None or masks is not None else (
                               scheduler if isinstance(scheduler, str) else "client"),
                           "linker": cfg.linker, "step_scale_px": context.step_scale_px,
                           "n_detections": int(len(det)), "frames_per_second": len(stack) / total,
                           **({"segmentation_workers": workers} if workers else {}),
                           "masks": "streamed to file" if masks_path is not None else "in memory"})
    result.summary["seconds"].update({"drift": t_drift, "segmentation": t_seg,
                                      "linking_after_last_frame": t_linked - t_measured,
                                      "masks": time.perf_counter() - t_masks, "all": total})
    if drift is not None:
        result.tables["drift"] = drift
    result.extras["stack"] = stack
    return result


def _segmentation_workers(labels: Any) -> dict[str, Any] | None:
    """Per worker of a scheduler run (chunks, frames, peak memory in MiB, seconds); None without one."""
    run = getattr(labels, "run", None)
    return run.workers if run is not None and run.finished else None  # not the whole result: its tables


def _drift_while_arriving(stack: LazyStack, cfg: TrackConfig, progress: ProgressCallback, labels: Any,
                          spool: Path) -> tuple[pd.DataFrame | None, float]:
    """The drift, measured in a second thread while the label frames arriving meanwhile are spooled to ``spool``.

    The temporal consistency needs the drift from frame 1 on; without this the workers
    would stop after the chunks in flight and wait for it. Returns the drift and its seconds.
    """
    import contextvars
    from concurrent.futures import ThreadPoolExecutor

    if not cfg.drift:
        return None, 0.0

    def timed() -> tuple[pd.DataFrame | None, float]:
        t0 = time.perf_counter()
        return _drift(stack, cfg, progress), time.perf_counter() - t0

    pool = ThreadPoolExecutor(1, thread_name_prefix="rewardscope-drift")
    try:
        future = pool.submit(contextvars.copy_context().run, timed)
        labels.spool(spool, until=future.done)
        return future.result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _drift(stack: LazyStack, cfg: TrackConfig, progress: ProgressCallback) -> pd.DataFrame | None:
    if not cfg.drift:
        return None
    from rewardscope.track.registration import estimate_drift

    return estimate_drift(stack, progress=progress)


__all__ = ["SEGMENTERS", "TrackConfig", "TrackingState", "TrackingStream", "TrackingWorkflow", "TracksResult",
           "check_masks", "track_particles", "tune_blocks"]

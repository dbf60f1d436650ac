"""Movies through dask: the frames of a movie as tasks of chunks, read lazily on the workers.

:func:`segment_movie_parallel` is :func:`~rewardscope.workflows.movie.segment_movie` for
movies that outgrow one process. The parameters are chosen on frame 0 (both studies, in
this process); the frames are then cut into chunks of ``chunk_frames`` and each chunk is a
task (:class:`~rewardscope.parallel.Engine`: ``serial``, a ``local`` dask cluster or an
existing one at ``tcp://HOST:PORT``) that opens the movie itself (a file is read frame by
frame on the worker, never sent; in-memory frames travel with their chunk) and runs the
movie policy (:class:`~rewardscope.workflows.movie.MoviePolicy`) from frame 0's
parameters: reuse, re-optimize when a reward worsens. So a re-optimization carries on
to the end of its chunk, not beyond; the result is the same for every scheduler and
worker count (``serial`` computes it in this process: the reference), and differs from
:func:`~rewardscope.workflows.movie.segment_movie`, whose one chain runs through the whole
movie, only after a re-optimization.

Results are taken as they arrive (:meth:`~rewardscope.parallel.Engine.map`, a bounded
number of chunks in flight, so memory does not grow with the movie's length): tables
are kept per frame, label frames go to ``masks_path``: a ``.zarr`` folder is written by the
workers themselves, chunk by chunk (the path must be reachable from them), a ``.tif`` by
this process in frame order (chunks that arrive early wait, at most ``in_flight`` of them).
Each chunk also reports its worker's peak memory (``summary["workers"]``).
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rewardscope.config import make_config
from rewardscope.defaults import CHUNK_FRAMES
from rewardscope.io.lazy import LazyStack, open_stack
from rewardscope.io.load import load_input
from rewardscope.io.sink import MaskSink
from rewardscope.parallel import Engine, ParallelConfig
from rewardscope.progress import ProgressArg, progress_scope, start_stage
from rewardscope.rewards.particles import ParticleReward
from rewardscope.segment.measure import measure_particles
from rewardscope.workflows.base import study_summary
from rewardscope.workflows.movie import FrameStep, MoviePolicy, width_probe
from rewardscope.workflows.particles import (ForegroundWorkflow, ParticleResult, SegmentConfig, make_workflow,
                                             segmentation_summary, split_summary)


@dataclass
class ChunkJob:
    """One chunk of frames: where to read them, the chosen parameters to start from, where labels go."""

    start: int
    stop: int
    source: Any  # a path (read on the worker) or the chunk's frames (frames, rows, cols)
    pixel_size: Any
    config: SegmentConfig
    rewards: Mapping[str, ParticleReward] | None
    split_rewards: Mapping[str, ParticleReward] | None
    chosen: Any
    masks_zarr: str | None = None


@dataclass
class ChunkResult:
    """What a chunk task returns: per-frame tables, label frames (unless written to zarr), its worker's memory."""

    start: int
    stop: int
    particles: pd.DataFrame
    timeseries: pd.DataFrame
    trials: list[pd.DataFrame] = field(default_factory=list)
    pareto: list[pd.DataFrame] = field(default_factory=list)
    labels: np.ndarray | None = None
    n_reoptimizations: int = 0
    worker: str = ""
    peak_rss_mib: float = 0.0
    seconds: float = 0.0


def _peak_rss_mib() -> float:
    """This process's peak resident memory, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def segment_chunk(job: ChunkJob) -> ChunkResult:
    """Task: segment frames ``start:stop`` by the movie policy, starting from the chosen parameters."""
    from rewardscope.workflows.movie import _frame_row  # the one per-frame row of the timeseries

    t0 = time.perf_counter()
    workflow = make_workflow(job.config, job.pixel_size, rewards=job.rewards, split_rewards=job.split_rewards)
    cfg = job.config
    policy = MoviePolicy(workflow, first=cfg.study, again=cfg.stage_settings(cfg.reoptimize_trials),
                         tolerance=cfg.reoptimize_tolerance, probe=width_probe(workflow))
    policy.chosen = policy.first_chosen = job.chosen
    policy.reference = dict(job.chosen.reference)
    if isinstance(job.source, (str, Path)):
        stack = open_stack(job.source, pixel_size=job.pixel_size)
        frames = (stack[i] for i in range(job.start, job.stop))
    else:
        stack, frames = None, iter(job.source)
    store = None
    if job.masks_zarr is not None:
        import zarr

        store = zarr.open_array(job.masks_zarr, mode="r+")
    tables, rows, trials, pareto, labels = [], [], [], [], []
    for i, frame in zip(range(job.start, job.stop), frames):
        state = workflow.prepare(frame, name=f"frame {i}")
        step: FrameStep = policy.step(state)
        seg = step.output
        if step.reoptimized:
            trials.append(policy.chosen.table("trials").assign(frame=i))
            pareto.append(policy.chosen.table("pareto").assign(frame=i))
        table = measure_particles(seg.labels, state.raw, pixel_size=job.pixel_size, frame=i)
        tables.append(table)
        rows.append(_frame_row(i, table, seg, step, policy.chosen.params, job.pixel_size))
        lab = np.clip(seg.labels, 0, 65535).astype(np.uint16)
        if store is not None:
            store[i] = lab
        else:
            labels.append(lab)
    if stack is not None:
        stack.close()
    return ChunkResult(start=job.start, stop=job.stop, particles=pd.concat(tables, ignore_index=True),
                       timeseries=pd.DataFrame(rows), trials=trials, pareto=pareto,
                       labels=np.stack(labels) if labels else None, n_reoptimizations=policy.n_reoptimizations,
                       worker=f"{os.uname().nodename}:{os.getpid()}", peak_rss_mib=_peak_rss_mib(),
                       seconds=time.perf_counter() - t0)


def _sources(stack: LazyStack, chunk: int) -> list[tuple[int, int, Any]]:
    """(start, stop, source) per chunk: the file's path when the stack has one, else the frames themselves."""
    out = []
    for start in range(0, len(stack), chunk):
        stop = min(start + chunk, len(stack))
        out.append((start, stop, str(stack.path) if stack.path is not None else stack.read(start, stop)))
    return out


def _zarr_masks(path: Path, shape: tuple[int, int, int]) -> str:
    import zarr

    zarr.open_array(str(path), mode="w", shape=shape, chunks=(1, *shape[1:]), dtype="uint16", fill_value=0)
    return str(path)


def segment_movie_parallel(movie: Any, *, config: SegmentConfig | None = None, scheduler: Any = "local",
                           workers: int | None = None, chunk_frames: int = CHUNK_FRAMES,
                           masks_path: str | Path | None = None, in_flight: int | None = None,
                           rewards: Mapping[str, ParticleReward] | None = None,
                           split_rewards: Mapping[str, ParticleReward] | None = None, progress: ProgressArg = None,
                           **overrides: Any) -> ParticleResult:
    """Segment every frame of a movie as dask tasks of ``chunk_frames`` frames (see the module text).

    Parameters
    ----------
    movie : path, LazyStack, numpy.ndarray (frames, rows, cols), ...
        Anything :func:`~rewardscope.io.load_input` reads as a movie; files are read on the workers.
    config : SegmentConfig, optional
        Settings; keyword ``overrides`` replace fields (e.g. ``trials=20``).
    scheduler : str or distributed.Client
        ``"local"`` (default), ``"serial"`` or ``"tcp://HOST:PORT"`` (:mod:`rewardscope.parallel`).
    workers : int, optional
        Workers of a local cluster (default: one per core).
    chunk_frames : int
        Frames per task.
    masks_path : str or Path, optional
        ``*.zarr`` (written by the workers) or ``*.tif`` (written here, in order); None: in memory.
    in_flight : int, optional
        Chunks queued at once (default twice the workers).
    rewards, split_rewards : mapping, optional
        As for :func:`~rewardscope.workflows.particles.segment_image`.
    progress : bool or callable, optional
        Stages ``"drift"`` (with ``drift=True``) and ``"segmenting frames"``.

    Returns
    -------
    ParticleResult
        As :func:`~rewardscope.workflows.movie.segment_movie` (tables ``particles``,
        ``timeseries``, ``trials``, ``pareto``, ``drift``); the summary adds
        ``scheduler``, ``chunk_frames`` and ``workers`` (per worker: chunks, frames, peak
        memory in MiB).

    Examples
    --------
    >>> yy, xx = np.mgrid[:64, :64]
    >>> rng = np.random.default_rng(0)
    >>> frames = np.stack([1.0 - ((yy - 32) ** 2 + (xx - 30 - k) ** 2 < (8 + k) ** 2) + rng.normal(0, .2, (64, 64))
    ...                    for k in range(5)])
    >>> res = segment_movie_parallel(frames, scheduler="serial", chunk_frames=2, trials=10, split_trials=0, drift=False)
    >>> res.tables["timeseries"]["n_particles"].tolist(), res.summary["n_chunks"]
    ([1, 1, 1, 1, 1], 3)
    """
    from rewardscope.errors import ParameterError

    if chunk_frames < 1:
        raise ParameterError(f"chunk_frames must be at least 1, got {chunk_frames}")
    par = make_config(ParallelConfig, scheduler=scheduler if isinstance(scheduler, str) else "local",
                      workers=workers)
    cfg = make_config(SegmentConfig, config, **overrides)
    inp = load_input(movie, cfg.pixel_size, movie=True, name="movie")
    stack: LazyStack = inp.image
    shape = (len(stack), *stack.frame_shape)
    workflow = make_workflow(cfg, inp.pixel_size, rewards=rewards, split_rewards=split_rewards)
    t0 = time.perf_counter()
    engine = Engine(scheduler if not isinstance(scheduler, str) else par.scheduler, workers=par.workers)
    zarr_path = None
    if masks_path is not None and Path(masks_path).suffix.lower() == ".zarr":
        zarr_path = _zarr_masks(Path(masks_path), shape)
    with engine, progress_scope(progress) as report:
        t_start = time.perf_counter() - t0
        drift = None
        if cfg.drift and len(stack) > 1:
            from rewardscope.track.registration import estimate_drift

            drift = estimate_drift(stack, progress=report)
        chosen = workflow.choose(workflow.prepare(stack[0], name=f"frame 0 of {stack.name}"), cfg.study)
        jobs = [ChunkJob(a, b, src, inp.pixel_size, cfg, rewards, split_rewards, chosen, zarr_path)
                for a, b, src in _sources(stack, chunk_frames)]
        advance = start_stage(report, "segmenting frames", total=len(stack), unit="frames")
        t_frames = time.perf_counter()
        results: dict[int, ChunkResult] = {}
        sink = None if zarr_path is not None else MaskSink(masks_path, shape=shape, pixel_size=inp.pixel_size)
        written = 0
        for _, res in engine.map(segment_chunk, jobs, in_flight=in_flight):
            results[res.start] = res
            advance(res.stop - res.start)
            while sink is not None and written in results and results[written].labels is not None:
                done = results[written]
                for lab in done.labels:
                    sink.add(lab)
                done.labels = None  # written: free it
                written = done.stop
        if sink is not None:
            sink.close()
        n_workers = engine.n_workers
    seconds_frames = time.perf_counter() - t_frames
    total = time.perf_counter() - t0
    ordered = [results[k] for k in sorted(results)]
    particles = pd.concat([r.particles for r in ordered], ignore_index=True)
    if drift is not None:
        particles = particles.merge(drift[["frame", "dx", "dy"]], on="frame", how="left")
        particles["x_aligned"] = particles["x"] - particles.pop("dx")
        particles["y_aligned"] = particles["y"] - particles.pop("dy")
    timeseries = pd.concat([r.timeseries for r in ordered], ignore_index=True)
    trials = pd.concat([chosen.table("trials").assign(frame=0)] + [t for r in ordered for t in r.trials],
                       ignore_index=True)
    pareto = pd.concat([chosen.table("pareto").assign(frame=0)] + [p for r in ordered for p in r.pareto],
                       ignore_index=True)
    per_worker: dict[str, dict[str, float]] = {}
    for r in ordered:
        w = per_worker.setdefault(r.worker, {"chunks": 0, "frames": 0, "peak_rss_mib": 0.0, "seconds": 0.0})
        w["chunks"] += 1
        w["frames"] += r.stop - r.start
        w["peak_rss_mib"] = max(w["peak_rss_mib"], r.peak_rss_mib)
        w["seconds"] += r.seconds
    pixel_size = inp.pixel_size
    summary = {"workflow": type(workflow).__name__, "pixel_size_angstrom": pixel_size.angstrom if pixel_size else None,
               **study_summary(chosen.studies["foreground"], cfg.study), **split_summary(chosen, cfg),
               **segmentation_summary(cfg, workflow.context, pixel_size), "config": cfg.model_dump(mode="json"),
               "n_frames": len(stack), "frame_shape": list(stack.frame_shape),
               "n_reoptimizations": int(sum(r.n_reoptimizations for r in ordered)),
               "mean_particles_per_frame": float(timeseries["n_particles"].mean()),
               "masks": ("zarr written by the workers" if zarr_path else
                         "streamed to file" if masks_path is not None else "in memory"),
               "scheduler": engine.scheduler, "n_workers": n_workers, "chunk_frames": chunk_frames,
               "n_chunks": len(jobs), "workers": per_worker,
               "seconds": {"start": t_start, "segmentation": seconds_frames, "total": total},
               "frames_per_second": len(stack) / seconds_frames if seconds_frames > 0 else None}
    tables = {"particles": particles, "timeseries": timeseries, "trials": trials, "pareto": pareto}
    if drift is not None:
        tables["drift"] = drift
    masks = sink.stack if sink is not None else None
    return ParticleResult(tables=tables, arrays={"masks": masks} if masks is not None else {}, summary=summary,
                          image=None, pixel_size=pixel_size,
                          extras={"studies": chosen.studies, "context": workflow.context, "stack": stack})


__all__ = ["CHUNK_FRAMES", "ChunkJob", "ChunkResult", "segment_chunk", "segment_movie_parallel"]

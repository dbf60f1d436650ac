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

import contextlib
import os
import resource
import time
from collections.abc import Callable, Iterator, Mapping
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
    """This process's own peak resident memory, MiB.

    Linux's ``VmHWM``: ``ru_maxrss`` of a process started by another one begins at the
    starter's peak (the kernel keeps the larger of the two across ``exec``), so a worker
    spawned by a large process would report that process's memory. ``ru_maxrss`` elsewhere.
    """
    with contextlib.suppress(OSError, StopIteration, ValueError):
        with open("/proc/self/status") as status:
            line = next(row for row in status if row.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024.0
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
    zarr = masks_path is not None and Path(masks_path).suffix.lower() == ".zarr"
    run = ParallelSegmentation(movie, config=config, scheduler=scheduler, workers=workers, chunk_frames=chunk_frames,
                               masks_zarr=masks_path if zarr else None, in_flight=in_flight, rewards=rewards,
                               split_rewards=split_rewards, progress=progress, **overrides)
    if zarr:
        for _ in run.frames():  # the workers write the labels
            pass
        return run.result()
    with MaskSink(masks_path, shape=run.shape, pixel_size=run.pixel_size) as sink:
        for labels in run.frames():
            sink.add(labels)
    return run.result(masks=sink.stack)


class ParallelSegmentation:
    """One run of :func:`segment_movie_parallel`: its label frames in frame order as they arrive, then its result.

    The set-up (config, movie, workflow) happens here, so bad input fails before any work;
    :meth:`frames` starts the engine, chooses the parameters on frame 0, runs the chunks and
    yields each label frame (uint16, (rows, cols)) as soon as it and every frame before it
    are back, so a consumer (the tracker's consistency and measurement) works while the
    workers segment. With ``masks_zarr`` the workers write the labels and :meth:`frames`
    yields none. :meth:`result` builds the :class:`ParticleResult` once :meth:`frames` is done.

    Parameters are those of :func:`segment_movie_parallel` (``masks_zarr``: a ``.zarr`` path).
    ``finished`` tells whether :meth:`frames` has run to its end.

    Examples
    --------
    >>> yy, xx = np.mgrid[:48, :48]
    >>> frames = np.stack([1.0 - ((yy - 24) ** 2 + (xx - 20 - k) ** 2 < 64) for k in range(3)])
    >>> run = ParallelSegmentation(frames, scheduler="serial", chunk_frames=2, trials=8, split_trials=0, drift=False)
    >>> [int(lab.max()) for lab in run.frames()], run.result().summary["n_chunks"]
    ([1, 1, 1], 2)
    """

    def __init__(self, movie: Any, *, config: SegmentConfig | None = None, scheduler: Any = "local",
                 workers: int | None = None, chunk_frames: int = CHUNK_FRAMES, masks_zarr: str | Path | None = None,
                 in_flight: int | None = None, rewards: Mapping[str, ParticleReward] | None = None,
                 split_rewards: Mapping[str, ParticleReward] | None = None, progress: ProgressArg = None,
                 **overrides: Any) -> None:
        from rewardscope.errors import ParameterError

        if chunk_frames < 1:
            raise ParameterError(f"chunk_frames must be at least 1, got {chunk_frames}")
        par = make_config(ParallelConfig, scheduler=scheduler if isinstance(scheduler, str) else "local",
                          workers=workers)
        self.config = cfg = make_config(SegmentConfig, config, **overrides)
        self.input = load_input(movie, cfg.pixel_size, movie=True, name="movie")
        self.stack: LazyStack = self.input.image
        self.shape = (len(self.stack), *self.stack.frame_shape)
        self.pixel_size = self.input.pixel_size
        self.workflow = make_workflow(cfg, self.pixel_size, rewards=rewards, split_rewards=split_rewards)
        self._rewards, self._split_rewards = rewards, split_rewards
        self._engine_args = (scheduler if not isinstance(scheduler, str) else par.scheduler, par.workers)
        self._zarr = None if masks_zarr is None else str(masks_zarr)
        self.chunk_frames, self.in_flight, self.progress = chunk_frames, in_flight, progress
        self._done: dict[str, Any] | None = None

    def frames(self) -> Iterator[np.ndarray]:
        """Label frames in frame order, each as soon as it and the frames before it are back."""
        cfg, stack = self.config, self.stack
        t0 = time.perf_counter()
        engine = Engine(self._engine_args[0], workers=self._engine_args[1])
        zarr_path = None if self._zarr is None else _zarr_masks(Path(self._zarr), self.shape)
        with engine, progress_scope(self.progress) as report:
            t_start = time.perf_counter() - t0
            drift = None
            if cfg.drift and len(stack) > 1:
                from rewardscope.track.registration import estimate_drift

                drift = estimate_drift(stack, progress=report)
            chosen = self.workflow.choose(self.workflow.prepare(stack[0], name=f"frame 0 of {stack.name}"), cfg.study)
            jobs = [ChunkJob(a, b, src, self.pixel_size, cfg, self._rewards, self._split_rewards, chosen, zarr_path)
                    for a, b, src in _sources(stack, self.chunk_frames)]
            advance = start_stage(report, "segmenting frames", total=len(stack), unit="frames")
            t_frames = time.perf_counter()
            results: dict[int, ChunkResult] = {}
            following = 0  # the first chunk not yet handed out
            for _, res in engine.map(segment_chunk, jobs, in_flight=self.in_flight):
                results[res.start] = res
                advance(res.stop - res.start)
                while following in results:
                    done = results[following]
                    labels, done.labels = done.labels, None  # handed out: not kept
                    yield from labels if labels is not None else ()
                    following = done.stop
            n_workers = engine.n_workers
        self._done = {"results": [results[k] for k in sorted(results)], "drift": drift, "chosen": chosen,
                      "jobs": len(jobs), "scheduler": engine.scheduler, "n_workers": n_workers, "t_start": t_start,
                      "seconds_frames": time.perf_counter() - t_frames, "total": time.perf_counter() - t0,
                      "zarr": zarr_path}

    @property
    def finished(self) -> bool:
        """Whether :meth:`frames` has run to its end (then :meth:`result` can be built)."""
        return self._done is not None

    @property
    def workers(self) -> dict[str, dict[str, float]]:
        """Per worker (after :meth:`frames`): ``chunks``, ``frames``, ``peak_rss_mib``, ``seconds``."""
        return _per_worker(self._done["results"]) if self._done is not None else {}

    def result(self, *, masks: np.ndarray | None = None) -> ParticleResult:
        """The run's :class:`ParticleResult` (after :meth:`frames`); ``masks``: the label stack, if kept."""
        from rewardscope.errors import ParameterError

        if self._done is None:
            raise ParameterError("ParallelSegmentation.result() needs frames() to have run to the end")
        return _particle_result(self, **self._done, masks=masks)


def _per_worker(results: list[ChunkResult]) -> dict[str, dict[str, float]]:
    """Chunks, frames, peak memory (MiB) and seconds of every worker that ran chunks."""
    per_worker: dict[str, dict[str, float]] = {}
    for r in results:
        w = per_worker.setdefault(r.worker, {"chunks": 0, "frames": 0, "peak_rss_mib": 0.0, "seconds": 0.0})
        w["chunks"] += 1
        w["frames"] += r.stop - r.start
        w["peak_rss_mib"] = max(w["peak_rss_mib"], r.peak_rss_mib)
        w["seconds"] += r.seconds
    return per_worker


def _particle_result(run: ParallelSegmentation, *, results: list[ChunkResult], drift: pd.DataFrame | None,
                     chosen: Any, jobs: int, scheduler: str, n_workers: int, t_start: float, seconds_frames: float,
                     total: float, zarr: str | None, masks: np.ndarray | None) -> ParticleResult:
    """Tables, summary and masks of a finished run, as :func:`segment_movie_parallel` returns them."""
    cfg, stack, pixel_size = run.config, run.stack, run.pixel_size
    particles = pd.concat([r.particles for r in results], ignore_index=True)
    if drift is not None:
        particles = particles.merge(drift[["frame", "dx", "dy"]], on="frame", how="left")
        particles["x_aligned"] = particles["x"] - particles.pop("dx")
        particles["y_aligned"] = particles["y"] - particles.pop("dy")
    timeseries = pd.concat([r.timeseries for r in results], ignore_index=True)
    trials = pd.concat([chosen.table("trials").assign(frame=0)] + [t for r in results for t in r.trials],
                       ignore_index=True)
    pareto = pd.concat([chosen.table("pareto").assign(frame=0)] + [p for r in results for p in r.pareto],
                       ignore_index=True)
    per_worker = _per_worker(results)
    summary = {"workflow": type(run.workflow).__name__,
               "pixel_size_angstrom": pixel_size.angstrom if pixel_size else None,
               **study_summary(chosen.studies["foreground"], cfg.study), **split_summary(chosen, cfg),
               **segmentation_summary(cfg, run.workflow.context, pixel_size), "config": cfg.model_dump(mode="json"),
               "n_frames": len(stack), "frame_shape": list(stack.frame_shape),
               "n_reoptimizations": int(sum(r.n_reoptimizations for r in results)),
               "mean_particles_per_frame": float(timeseries["n_particles"].mean()),
               "masks": ("zarr written by the workers" if zarr else
                         "streamed to file" if masks is None else "in memory"),
               "scheduler": scheduler, "n_workers": n_workers, "chunk_frames": run.chunk_frames,
               "n_chunks": jobs, "workers": per_worker,
               "seconds": {"start": t_start, "segmentation": seconds_frames, "total": total},
               "frames_per_second": len(stack) / seconds_frames if seconds_frames > 0 else None}
    tables = {"particles": particles, "timeseries": timeseries, "trials": trials, "pareto": pareto}
    if drift is not None:
        tables["drift"] = drift
    return ParticleResult(tables=tables, arrays={"masks": masks} if masks is not None else {}, summary=summary,
                          image=None, pixel_size=pixel_size,
                          extras={"studies": chosen.studies, "context": run.workflow.context, "stack": stack})


class ArrivingFrames:
    """A label stack whose frames are taken from an iterator as they are asked for: ``len`` and ``[i]``.

    ``[i]`` waits until frame ``i`` has arrived (frames before it are kept until asked
    for); a frame is handed out once and then dropped, so memory holds only the frames
    read ahead. It lets :func:`~rewardscope.track.consistency.temporal_consistency` and the
    measurement run on a :class:`ParallelSegmentation` while its workers segment.
    :meth:`spool` takes the frames that arrive while the consumer cannot start yet into a
    file (the tracker measuring its drift meanwhile), so the workers need not wait.

    Examples
    --------
    >>> frames = ArrivingFrames(iter([np.zeros((2, 2)), np.ones((2, 2))]), n_frames=2)
    >>> len(frames), float(frames[1].sum()), float(frames[0].sum())
    (2, 4.0, 0.0)
    """

    def __init__(self, frames: Iterator[np.ndarray], *, n_frames: int, run: ParallelSegmentation | None = None) -> None:
        self._source = frames
        self._n = int(n_frames)
        self.run = run  #: the run the frames come from, if any (its result once they are all in)
        self._arrived: dict[int, np.ndarray] = {}
        self._next = 0
        self._spooled: Any = None  # the spool file (frames 0 .. _n_spooled - 1 were taken into it)
        self._n_spooled = 0

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i: int) -> np.ndarray:
        if i < self._n_spooled:
            return self._spooled[i]
        while i not in self._arrived:
            if i < self._next:
                raise IndexError(f"frame {i} was handed out already (the frames arrive once each)")
            k = self._next
            self._arrived[k] = self._take()
        return self._arrived.pop(i)

    def _take(self) -> np.ndarray:
        """The next frame from the source; after the last one the source is run to its end (its engine closes)."""
        frame = next(self._source, None)
        if frame is None:
            raise IndexError(f"the movie ended at frame {self._next}, before frame {self._n}")
        self._next += 1
        if self._next == self._n:
            for _ in self._source:
                pass
        return frame

    def spool(self, path: str | Path, *, until: Callable[[], bool]) -> int:
        """Take the frames that arrive, from frame 0, into a file at ``path`` until ``until()`` holds.

        ``until`` is asked before each frame (so a frame being waited for is still taken);
        ``[i]`` then reads the spooled frames back from the file, one at a time, and the later
        ones as they arrive. Returns how many frames were spooled.

        Examples
        --------
        >>> import tempfile
        >>> frames = ArrivingFrames(iter([np.full((2, 2), k, np.uint16) for k in range(3)]), n_frames=3)
        >>> answers = iter([False, False, True])  # the consumer is ready before the third frame
        >>> frames.spool(Path(tempfile.mkdtemp()) / "spool.raw", until=lambda: next(answers))
        2
        >>> [int(frames[k][0, 0]) for k in range(3)]
        [0, 1, 2]
        """
        from rewardscope.io.frames import FileFrames

        if self._next:
            raise ValueError("spool() takes the frames from frame 0, before any is asked for")
        first = None
        with open(path, "wb") as out:  # raw frames, one after the other: read back with one pread each
            while self._next < self._n and not until():
                frame = np.ascontiguousarray(self._take())
                first = frame if first is None else first
                if frame.shape != first.shape or frame.dtype != first.dtype:
                    raise ValueError(f"frame {self._next - 1} differs in shape or type from frame 0")
                out.write(frame.tobytes())
        if first is not None:
            self._spooled = FileFrames(path, offset=0, shape=(self._next, *first.shape), dtype=first.dtype)
            self._n_spooled = self._next
        return self._next

    def close(self) -> None:
        """Stop the source (e.g. the run's engine) before its end."""
        close = getattr(self._source, "close", None)
        if close is not None:
            close()


__all__ = ["CHUNK_FRAMES", "ArrivingFrames", "ChunkJob", "ChunkResult", "ParallelSegmentation", "segment_chunk",
           "segment_movie_parallel"]

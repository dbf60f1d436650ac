"""What the linking of :func:`~rewardscope.workflows.tracking.track_particles` reads.

- :class:`MeasuredFrames`: one pass over the label frames, in order (temporal consistency,
  then the measurement), yielding each frame's detections with drift-corrected positions
  as soon as the frame is there, e.g. as it arrives from dask workers;
- :class:`TrackingState`: the detections of a whole movie, and the blocks of frames the
  linking study links (:func:`tune_blocks`);
- :class:`TrackingStream`: a movie longer than ``link_window_frames``: the study tunes on
  the state of its first window, and the chosen cut-offs then link the movie window by
  window (:class:`~rewardscope.track.windows.WindowedLinking`) while the later frames are
  still being measured, so linking does not wait for the last frame.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rewardscope.errors import ImageValueError
from rewardscope.io.lazy import LazyStack
from rewardscope.io.sink import MaskSink
from rewardscope.progress import ProgressCallback, start_stage
from rewardscope.segment.measure import measure_particles
from rewardscope.track.linking import Linked, LinkParams
from rewardscope.units import Length

#: Frames per block of the linking study: long enough for gaps and merges to be seen linked.
TUNE_BLOCK_FRAMES = 12

#: Frames of context a window of the streamed linking links on each side of its core (at least).
LINK_OVERLAP_FRAMES = 16


def tune_blocks(n_frames: int, tune_frames: int, *, block: int = TUNE_BLOCK_FRAMES) -> list[tuple[int, int]]:
    """Blocks of consecutive frames, spread evenly over the movie, that the linking study links.

    Merges, growth and faster motion happen anywhere in a movie; the first frames alone
    may hold none of them and leave the merge cut-offs unconstrained, so the study's
    ``tune_frames`` are taken as blocks of ``block`` frames from the start to the end.

    Parameters
    ----------
    n_frames : int
    tune_frames : int
        Total frames to link per trial (0 or >= ``n_frames``: the whole movie, one block).
    block : int
        Frames per block (fewer blocks when ``tune_frames`` is smaller than two blocks).

    Returns
    -------
    list of (int, int)
        ``(start, stop)`` per block, all of one length.

    Examples
    --------
    >>> tune_blocks(200, 48)
    [(0, 12), (63, 75), (125, 137), (188, 200)]
    >>> tune_blocks(30, 0), tune_blocks(30, 20)
    ([(0, 30)], [(0, 20)])
    """
    if tune_frames <= 0 or tune_frames >= n_frames:
        return [(0, n_frames)]
    count = max(1, tune_frames // block)
    length = tune_frames // count
    starts = np.unique(np.linspace(0, n_frames - length, count).round().astype(int))
    return [(int(a), int(a) + length) for a in starts]


@dataclass
class TrackingState:
    """What linking needs, computed once per movie (or per first window of a streamed one).

    Attributes
    ----------
    detections : pandas.DataFrame
        One row per label per frame (``frame, label, x, y, x_aligned, y_aligned, area_px``, ...).
    labels : array_like, shape (frames, rows, cols), or None
        The per-frame label masks (may be memory-mapped; the ``overlap`` linker reads them).
    pixel_size : Length or None
    tune_frames : int
        Frames the linking study links (0 or the movie's length: all), as
        :func:`tune_blocks` spreads them over the movie.
    n_frames : int, optional
        Frames of the state (default: of ``labels``).
    """

    detections: pd.DataFrame
    labels: Any
    pixel_size: Length | None = None
    tune_frames: int = 0
    n_frames: int | None = None

    @property
    def frames(self) -> int:
        """Frames of the state."""
        return len(self.labels) if self.n_frames is None else int(self.n_frames)

    @property
    def blocks(self) -> list[tuple[int, int]]:
        """``(start, stop)`` of the frame blocks the study links (:func:`tune_blocks`)."""
        return tune_blocks(self.frames, self.tune_frames)

    @property
    def tuning(self) -> TrackingState | list[TrackingState]:
        """The study's states: itself when it links the whole movie, else one per block, frames from 0."""
        blocks = self.blocks
        if blocks == [(0, self.frames)]:
            return self
        det, frame = self.detections, self.detections["frame"]
        return [TrackingState(det[(frame >= a) & (frame < b)].assign(frame=frame[(frame >= a) & (frame < b)] - a),
                              None if self.labels is None else self.labels[a:b], self.pixel_size,
                              n_frames=b - a) for a, b in blocks]


def detections_table(tables: Sequence[pd.DataFrame], *, n_frames: int) -> pd.DataFrame:
    """The per-frame particle tables as one.

    Raises
    ------
    ImageValueError
        No particle in any frame.
    """
    det = pd.concat(tables, ignore_index=True)
    if det.empty:
        raise ImageValueError(f"no particles found in any of the {n_frames} frames; nothing to track")
    return det


class MeasuredFrames:
    """One pass over the label frames: temporal consistency, then each frame's detections.

    Iterating yields, frame by frame and in order, the particle table of
    :func:`~rewardscope.segment.measure.measure_particles` with ``x_aligned, y_aligned``
    (positions less the drift). Frames are read once each, so labels arriving from a
    scheduler are consumed as they come. After the pass :attr:`labels` holds the labels
    to read again for the track-id masks: the corrected ones (streamed to ``path`` if
    given), or the input itself when nothing was corrected and it can be read again.

    Parameters
    ----------
    labels : array_like, shape (frames, rows, cols)
        Label frames (an :class:`~rewardscope.workflows.movie_parallel.ArrivingFrames` too).
    drift : pandas.DataFrame or None
        ``dx, dy`` per frame (px).
    touch_frames : int
        :func:`~rewardscope.track.consistency.temporal_consistency`'s (0: none).
    stack : LazyStack
        The movie (intensities of the measurement).
    pixel_size : Length or None
    path : Path, optional
        Where the corrected labels go (else memory).
    progress : callable
    """

    def __init__(self, labels: Any, drift: pd.DataFrame | None, touch_frames: int, stack: LazyStack,
                 pixel_size: Length | None, path: Path | None = None, *, progress: ProgressCallback) -> None:
        self._input, self.drift, self.touch_frames = labels, drift, touch_frames
        self.stack, self.pixel_size, self.path, self.progress = stack, pixel_size, path, progress
        self.n_frames = len(labels)
        self.labels: Any = None

    def __iter__(self) -> Iterator[pd.DataFrame]:
        from rewardscope.workflows.movie_parallel import ArrivingFrames

        labels = self._input
        keep = self.touch_frames > 0 or isinstance(labels, ArrivingFrames)  # else the input is read again later
        if self.touch_frames > 0:
            from rewardscope.track.consistency import temporal_consistency

            frames = temporal_consistency(labels, self.drift, touch_frames=self.touch_frames)
        else:
            frames = (np.asarray(labels[i]) for i in range(len(labels)))
        dx, dy = (np.zeros(self.n_frames),) * 2 if self.drift is None else (
            self.drift["dx"].to_numpy(float), self.drift["dy"].to_numpy(float))
        advance = start_stage(self.progress, "measuring particles", total=self.n_frames, unit="frames")
        with MaskSink(self.path if keep else None, shape=self.stack.shape, pixel_size=self.pixel_size) as sink:
            for i, frame in enumerate(frames):
                if keep:
                    sink.add(frame)
                table = measure_particles(frame, self.stack[i], pixel_size=self.pixel_size, frame=i)
                advance()
                yield table.assign(x_aligned=table["x"] - dx[i], y_aligned=table["y"] - dy[i])
        self.labels = self._kept(sink) if keep else labels

    def _kept(self, sink: MaskSink) -> Any:
        if self.path is None:
            return sink.stack
        from rewardscope.io.frames import tiff_frames

        return tiff_frames(self.path)


@dataclass
class TrackingStream:
    """A movie linked window by window as its frames are measured.

    Attributes
    ----------
    head : TrackingState
        The first window's detections (the linking study's state).
    tables : list of pandas.DataFrame
        The per-frame tables of the head's frames.
    rest : iterator of pandas.DataFrame
        The later frames' tables, measured as they are taken.
    n_frames : int
        Frames of the movie.
    window : int
        Frames per window core.
    detections : pandas.DataFrame or None
        The whole movie's detections, once :meth:`link` has run.
    last_frame_at : float or None
        ``time.perf_counter()`` when the last frame's table was there (set by :meth:`link`).
    """

    head: TrackingState
    tables: list[pd.DataFrame]
    rest: Iterator[pd.DataFrame]
    n_frames: int
    window: int
    detections: pd.DataFrame | None = field(default=None)
    last_frame_at: float | None = field(default=None)

    @property
    def pixel_size(self) -> Length | None:
        return self.head.pixel_size

    @property
    def blocks(self) -> list[tuple[int, int]]:
        """The study's blocks, in the first window."""
        return self.head.blocks

    def link(self, params: LinkParams, progress: ProgressCallback, *, max_gap_frames: int) -> Linked:
        """Link the whole movie at ``params``, each window as soon as its frames are measured."""
        from rewardscope.track.windows import WindowedLinking

        overlap = max(LINK_OVERLAP_FRAMES, 2 * (max_gap_frames + 1))
        linking = WindowedLinking(params, n_frames=self.n_frames, window=self.window, overlap=overlap)
        advance = start_stage(progress, "linking the movie", total=len(linking.spans), unit="windows")
        done = 0
        for table in chain(self.tables, self.rest):
            self.last_frame_at = time.perf_counter()
            linking.add(table)
            if linking.windows_linked > done:
                advance(linking.windows_linked - done)
                done = linking.windows_linked
        linked = linking.result()
        self.detections = linked.tracks.drop(columns="track_id")
        return linked


def tracking_state(measured: MeasuredFrames, *, window: int, tune_frames: int) -> TrackingState | TrackingStream:
    """The whole movie's state, or with ``0 < window < frames`` a stream whose head is the first window.

    A head without a single particle takes the next window too, until it has one (or is
    the whole movie).

    Raises
    ------
    ImageValueError
        No particle in any frame.
    """
    frames, n = iter(measured), measured.n_frames
    tables = list(islice(frames, window)) if 0 < window < n else []
    while tables and len(tables) < n and all(t.empty for t in tables):
        tables += islice(frames, window)
    if not tables or len(tables) >= n:
        tables += frames
        return TrackingState(detections_table(tables, n_frames=n), measured.labels, measured.pixel_size, tune_frames)
    head = TrackingState(pd.concat(tables, ignore_index=True), None, measured.pixel_size, tune_frames,
                         n_frames=len(tables))
    return TrackingStream(head, tables, frames, n, window)


__all__ = ["LINK_OVERLAP_FRAMES", "TUNE_BLOCK_FRAMES", "MeasuredFrames", "TrackingState", "TrackingStream",
           "detections_table", "tracking_state", "tune_blocks"]

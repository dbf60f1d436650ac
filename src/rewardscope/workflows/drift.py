"""The drift workflow: measure stage drift, flag jumps, align the movie.

:func:`correct_drift` chains the jobs of :mod:`rewardscope.track` on any movie input
(:func:`~rewardscope.io.load_input`): registration of every frame to frame 0
(:func:`~rewardscope.track.estimate_drift`, which also flags stage jumps), then the
aligned frames, kept in memory or streamed to a TIFF/zarr file
(:func:`~rewardscope.track.write_aligned`). Drift has no free parameters to tune, so this
workflow has no study and no rewards; its settings are one :class:`DriftConfig`.
``rewardscope drift`` is this call plus :meth:`DriftResult.save` and the figure.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rewardscope.config import make_config
from rewardscope.io.lazy import LazyStack
from rewardscope.progress import ProgressArg, progress_scope, track
from rewardscope.result import Result
from rewardscope.track.align import aligned_shape, common_window, iter_aligned, shift_array, write_aligned
from rewardscope.track.config import DriftConfig
from rewardscope.track.registration import as_movie, estimate_drift

__all__ = ["DriftConfig", "DriftResult", "correct_drift", "drift_summary"]


@dataclass
class DriftResult(Result):
    """Shifts and (when kept in memory) the aligned movie; ``tables['shifts']``, ``arrays['aligned']``."""

    @property
    def shifts(self) -> pd.DataFrame:
        """``frame, dx, dy, jump`` (px; content displacement relative to frame 0)."""
        return self.tables["shifts"]

    @property
    def aligned(self) -> np.ndarray | None:
        """The aligned movie (frames, rows, cols) float32; None when it was streamed to a file."""
        return self.arrays.get("aligned")

    @property
    def aligned_path(self) -> Path | None:
        """The file or folder the aligned movie was streamed to, if any."""
        return self.extras.get("aligned_path")


def correct_drift(movie: LazyStack | np.ndarray | Sequence[np.ndarray] | str | Path | Any, *,
                  config: DriftConfig | None = None, progress: ProgressArg = None,
                  aligned_path: str | Path | None = None, **overrides: Any) -> DriftResult:
    """Estimate the drift of a movie and align its frames.

    Parameters
    ----------
    movie : LazyStack, numpy.ndarray (frames, rows, cols), list of 2-D arrays, path, ...
        Anything :func:`~rewardscope.io.load_input` reads as a movie (files are read lazily).
    config : DriftConfig, optional
        Settings; keyword ``overrides`` replace single fields (e.g. ``reference="first"``).
    progress : bool or callable, optional
        Progress of the drift passes and of ``"aligning frames"`` (or ``"writing aligned
        frames"`` with ``aligned_path``), on stderr with ``True`` or to a callback
        ``progress(stage, done, total)`` (:mod:`rewardscope.progress`).
    aligned_path : str or Path, optional
        Stream the aligned frames to this file instead of keeping them in memory:
        ``*.tif``, ``*.zarr``, or no suffix (``.tif``, or ``.zarr`` above 2 GiB); see
        :func:`~rewardscope.track.write_aligned`.

    Returns
    -------
    DriftResult
        ``shifts`` (frame, dx, dy, jump; px), ``aligned`` (frames, rows', cols') float32
        unless streamed, and a summary (jumps, drift range, crop window, aligned shape,
        estimation time).

    Raises
    ------
    ImageShapeError
        A single image, or frames of different sizes.
    ImageValueError
        All frames identical, or a frame with NaN/inf or constant values.
    ParameterError
        Bad settings, or a drift that leaves no common field of view with ``border="crop"``.

    Examples
    --------
    >>> from rewardscope.simulate.movie import simulate_movie
    >>> sim = simulate_movie(frames=6, size=96, seed=2)
    >>> res = correct_drift(sim.movie)
    >>> bool(np.abs(res.shifts.dx - sim.shifts.dx).max() < 0.2), res.aligned.shape[0]
    (True, 6)
    """
    cfg = make_config(DriftConfig, config, **overrides)
    stack = as_movie(movie, pixel_size=cfg.pixel_size)
    with progress_scope(progress) as report:
        started = time.perf_counter()
        shifts = estimate_drift(stack, config=cfg, progress=report)
        seconds = time.perf_counter() - started
        if aligned_path is None:
            frames = iter_aligned(stack, shifts, border=cfg.border)
            arrays = {"aligned": np.stack(list(track(report, "aligning frames", frames, total=len(stack),
                                                     unit="frames")))}
            written = None
        else:
            arrays, written = {}, write_aligned(aligned_path, stack, shifts, border=cfg.border, progress=report)
    summary = {**drift_summary(shifts, stack.frame_shape, cfg),
               "aligned_shape": list(aligned_shape(shifts, stack.frame_shape, border=cfg.border)),
               "aligned": written.name if written is not None else "in memory",
               "estimate_seconds": round(seconds, 3),
               "estimate_frames_per_s": round(len(stack) / max(seconds, 1e-9), 1)}
    return DriftResult(tables={"shifts": shifts}, arrays=arrays, summary=summary, pixel_size=stack.pixel_size,
                       extras={"aligned_path": written, "stack": stack})


def drift_summary(shifts: pd.DataFrame, frame_shape: tuple[int, int], cfg: DriftConfig) -> dict[str, Any]:
    """Numbers for ``summary.json``: frames, jumps, drift range and the crop window.

    Examples
    --------
    >>> shifts = pd.DataFrame({"frame": [0, 1], "dx": [0.0, 2.0], "dy": [0.0, -1.0], "jump": [False, False]})
    >>> drift_summary(shifts, (64, 64), DriftConfig())["crop"]
    {'row_start': 1, 'row_stop': 64, 'col_start': 0, 'col_stop': 62}
    """
    d = shift_array(shifts)
    out: dict[str, Any] = {
        "frames": len(d), "n_jumps": int(shifts["jump"].sum()), "jump_frames": shifts.frame[shifts.jump].tolist(),
        "drift_range_px": {"dx": round(float(np.ptp(d[:, 0])), 4), "dy": round(float(np.ptp(d[:, 1])), 4)},
        "final_shift_px": {"dx": round(float(d[-1, 0]), 4), "dy": round(float(d[-1, 1]), 4)},
        "config": cfg.model_dump(mode="json"),
    }
    if cfg.border == "crop":
        rows, cols = common_window(d, frame_shape)
        out["crop"] = {"row_start": rows.start, "row_stop": rows.stop, "col_start": cols.start, "col_stop": cols.stop}
    return out

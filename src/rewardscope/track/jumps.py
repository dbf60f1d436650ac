"""Stage-jump detection: steps of the drift that break its recent trend.

Drift is slow and smooth; a stage jump is a step into a frame that deviates from the
median of the recent steps by more than a threshold plus a multiple of their typical
length. Jumps do not enter the trend, so one jump does not hide the next.
"""

from __future__ import annotations

import numpy as np

from rewardscope.track.config import DriftConfig


def flag_jumps(shifts: np.ndarray, *, config: DriftConfig | None = None) -> np.ndarray:
    """Flag frames reached by a stage jump.

    Parameters
    ----------
    shifts : numpy.ndarray, shape (frames, 2)
        Cumulative (dx, dy) in pixels.
    config : DriftConfig, optional
        ``jump_threshold_px``, ``jump_factor`` and ``trend_frames`` are used.

    Returns
    -------
    numpy.ndarray, shape (frames,), bool
        True where the step into the frame deviates from the median of the previous
        ``trend_frames`` non-jump steps by more than ``jump_threshold_px + jump_factor *``
        (median length of those steps).

    Examples
    --------
    >>> s = np.cumsum([[0, 0], [0.5, 0], [0.5, 0], [9, 4], [0.5, 0]], axis=0)
    >>> flag_jumps(s).tolist()
    [False, False, False, True, False]
    """
    cfg = config or DriftConfig()
    steps = np.diff(np.asarray(shifts, float), axis=0, prepend=np.zeros((1, 2)))
    jumps = np.zeros(len(steps), dtype=bool)
    recent: list[np.ndarray] = []
    for i in range(1, len(steps)):
        trend = np.median(recent, axis=0) if recent else np.zeros(2)
        typical = float(np.median(np.linalg.norm(recent, axis=1))) if recent else 0.0
        jumps[i] = np.linalg.norm(steps[i] - trend) > cfg.jump_threshold_px + cfg.jump_factor * typical
        if not jumps[i]:
            recent = (recent + [steps[i]])[-cfg.trend_frames:]
    return jumps

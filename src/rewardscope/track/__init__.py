"""Following things through movies: drift, alignment, temporal consistency of labels, linking.

One module per job: :mod:`~rewardscope.track.registration` (sub-pixel shifts of every
frame), :mod:`~rewardscope.track.jumps` (stage jumps), :mod:`~rewardscope.track.align`
(aligned frames, cropped or NaN-padded, and the aligned stack on disk), with their
settings in :class:`~rewardscope.track.config.DriftConfig`. The drift workflow that
chains them is :func:`rewardscope.workflows.drift.correct_drift`.

Examples
--------
>>> from rewardscope.simulate import simulate_movie
>>> from rewardscope.track import estimate_drift
>>> movie = simulate_movie(frames=4, size=64, seed=0)
>>> estimate_drift(movie.movie).round(2)  # truth in movie.shifts: dx -0.25, -0.48, -0.80
   frame    dx    dy   jump
0      0  0.00  0.00  False
1      1 -0.25 -0.30  False
2      2 -0.40 -0.65  False
3      3 -0.75 -0.85  False
"""

from __future__ import annotations

from rewardscope import lazy_names

#: Public name -> the module that defines it (imported on first access: importing the package is light).
_NAMES: dict[str, str] = {
    **{name: "rewardscope.track.align" for name in ("aligned_shape", "apply_shifts", "common_window", "iter_aligned",
                                                   "write_aligned")},
    "DriftConfig": "rewardscope.track.config",
    "flag_jumps": "rewardscope.track.jumps",
    "estimate_drift": "rewardscope.track.registration",
}

__all__ = sorted(_NAMES)

__getattr__, __dir__ = lazy_names(__name__, _NAMES)

"""Following things through movies: drift correction now; linking and events next.

Examples
--------
>>> from rewardscope.track import correct_drift  # doctest: +SKIP
>>> res = correct_drift("movie.tif")             # doctest: +SKIP
>>> res.shifts.head()                            # doctest: +SKIP
"""

from rewardscope.track.drift import (
    DriftConfig, DriftResult, apply_shifts, common_window, correct_drift, estimate_drift, flag_jumps, iter_aligned,
)

__all__ = [
    "DriftConfig", "DriftResult", "apply_shifts", "common_window", "correct_drift", "estimate_drift",
    "flag_jumps", "iter_aligned",
]

"""Following things through movies: drift measurement and alignment (linking and events next).

One module per job: :mod:`~rewardscope.track.registration` (sub-pixel shifts of every
frame), :mod:`~rewardscope.track.jumps` (stage jumps), :mod:`~rewardscope.track.align`
(aligned frames, cropped or NaN-padded, and the aligned stack on disk), with their
settings in :class:`~rewardscope.track.config.DriftConfig`. The drift workflow that
chains them is :func:`rewardscope.workflows.drift.correct_drift`.

Examples
--------
>>> from rewardscope.track import estimate_drift  # doctest: +SKIP
>>> estimate_drift("movie.tif").head()            # doctest: +SKIP
"""

from rewardscope.track.align import aligned_shape, apply_shifts, common_window, iter_aligned, write_aligned
from rewardscope.track.config import DriftConfig
from rewardscope.track.jumps import flag_jumps
from rewardscope.track.registration import estimate_drift

__all__ = [
    "DriftConfig", "aligned_shape", "apply_shifts", "common_window", "estimate_drift", "flag_jumps",
    "iter_aligned", "write_aligned",
]

"""Default constants that config models and their home modules share, in a module that imports nothing.

A config model (:mod:`rewardscope.workflows.atoms_config`, ...) reads its defaults here, so the
command line builds its options without loading numpy, scipy or torch; each constant's home
module re-exports it (``rewardscope.rewards.atoms.ER_FACTOR`` is this ``ER_FACTOR``).

Examples
--------
>>> from rewardscope.defaults import ER_FACTOR, COVARIANCE_TYPES
>>> ER_FACTOR, COVARIANCE_TYPES[0]
(0.9, 'full')
"""

from __future__ import annotations

#: Default share of the ideal k-NN distance sum below which an atom counts as an error
#: (:mod:`rewardscope.rewards.atoms`).
ER_FACTOR = 0.9
#: Default half-width of the ambiguous band around the threshold, in units of the class-mean gap
#: (:mod:`rewardscope.rewards.particles`).
AMBIGUITY_BAND = 0.2
#: Covariance types of the Gaussian mixture of species (:mod:`rewardscope.classify.clusters`).
COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
#: Probability-map peaks below this are not atoms (:mod:`rewardscope.detect.dcnn.peaks`).
DEFAULT_THRESHOLD = 0.5
#: Frames per dask task of a movie (:mod:`rewardscope.workflows.movie_parallel`): enough work per task to
#: hide the scheduler's overhead of a few ms.
CHUNK_FRAMES = 16

__all__ = ["AMBIGUITY_BAND", "CHUNK_FRAMES", "COVARIANCE_TYPES", "DEFAULT_THRESHOLD", "ER_FACTOR"]

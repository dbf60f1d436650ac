"""Finding atomic columns: LoG scale space with cached filtering, sub-pixel refinement, lattice prior.

Examples
--------
>>> import numpy as np
>>> from rewardscope.detect import log_blobs
>>> yy, xx = np.mgrid[0:32, 0:32]
>>> img = np.exp(-((xx - 12.0) ** 2 + (yy - 18.0) ** 2) / 4.0)
>>> log_blobs(img, min_sigma=1, max_sigma=3, num_sigma=5, threshold=0.1, overlap=0.5)[["x", "y"]].values.round(1).tolist()
[[12.0, 18.0]]
"""

from __future__ import annotations

from rewardscope import lazy_names

#: Public name -> the module that defines it (imported on first access: importing the package is light).
_NAMES: dict[str, str] = {
    "LatticeFit": "rewardscope.detect.lattice",
    "apply_lattice_prior": "rewardscope.detect.lattice",
    "fit_lattice": "rewardscope.detect.lattice",
    "BLOB_COLUMNS": "rewardscope.detect.log",
    "ScaleSpace": "rewardscope.detect.log",
    "disk_overlap": "rewardscope.detect.log",
    "find_blobs": "rewardscope.detect.log",
    "log_blobs": "rewardscope.detect.log",
    "prepare_scale_space": "rewardscope.detect.log",
    "prune_overlapping": "rewardscope.detect.log",
    "scale_image": "rewardscope.detect.log",
    "sigma_grid": "rewardscope.detect.log",
    "fit_gaussians": "rewardscope.detect.refine",
    "parabolic_offsets": "rewardscope.detect.refine",
    "refine_peaks": "rewardscope.detect.refine",
}

__all__ = [
    "BLOB_COLUMNS", "LatticeFit", "ScaleSpace", "apply_lattice_prior", "disk_overlap", "find_blobs", "fit_gaussians",
    "fit_lattice", "log_blobs",
    "parabolic_offsets", "prepare_scale_space", "prune_overlapping", "refine_peaks", "scale_image",
    "sigma_grid",
]

__getattr__, __dir__ = lazy_names(__name__, _NAMES)

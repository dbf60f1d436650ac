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

from rewardscope.detect.lattice import LatticeFit, apply_lattice_prior, fit_lattice
from rewardscope.detect.log import (BLOB_COLUMNS, ScaleSpace, disk_overlap, find_blobs, log_blobs,
                                    prepare_scale_space, prune_overlapping, scale_image, sigma_grid)
from rewardscope.detect.refine import fit_gaussians, parabolic_offsets, refine_peaks

__all__ = [
    "BLOB_COLUMNS", "LatticeFit", "ScaleSpace", "apply_lattice_prior", "disk_overlap", "find_blobs", "fit_gaussians",
    "fit_lattice", "log_blobs",
    "parabolic_offsets", "prepare_scale_space", "prune_overlapping", "refine_peaks", "scale_image",
    "sigma_grid",
]

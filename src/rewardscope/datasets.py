"""Sample data that ships inside the package (nothing is downloaded).

Examples
--------
>>> from rewardscope.datasets import sample_hrtem
>>> image, mask = sample_hrtem()
>>> image.shape, mask.dtype
((512, 512), dtype('bool'))
"""

from __future__ import annotations

from importlib.resources import files

import numpy as np

#: Citation required with the shipped HRTEM image (CC-BY-4.0).
HRTEM_ATTRIBUTION = ("Duan et al., 'Deep Learning Applications in Microscopy: Segmentation and "
                     "Tracking', Elemental Microscopy EM000004 (2024), doi:10.69761/HDTA8338, CC-BY-4.0")


def sample_hrtem() -> tuple[np.ndarray, np.ndarray]:
    """A real HRTEM micrograph of nanoparticles and its hand-drawn mask.

    Returns
    -------
    image : numpy.ndarray, shape (512, 512), uint8
        Grey micrograph (no calibration). Cite :data:`HRTEM_ATTRIBUTION` when showing it.
    mask : numpy.ndarray, shape (512, 512), bool
        True on particles.
    """
    from rewardscope.io import read_image

    folder = files("rewardscope") / "data"
    image = read_image(folder / "hrtem_particles.png").data
    mask = read_image(folder / "hrtem_particles_mask.png").data > 127
    return image, mask

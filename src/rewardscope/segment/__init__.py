"""Particle segmentation: classical (denoise, threshold, clean-up, watershed split) and measurement.

Examples
--------
>>> from rewardscope.segment import prepare, run, measure_particles  # doctest: +SKIP
>>> seg = run(prepare(image), {"sigma_px": 5.0}, min_area_px=12)    # doctest: +SKIP
>>> table = measure_particles(seg.labels, image)                    # doctest: +SKIP
"""

from rewardscope.segment.classical import ClassicalState, Segmentation, prepare, run, smooth
from rewardscope.segment.measure import measure_particles
from rewardscope.segment.postprocess import clean_labels, split_touching

__all__ = ["ClassicalState", "Segmentation", "clean_labels", "measure_particles", "prepare", "run",
           "smooth", "split_touching"]

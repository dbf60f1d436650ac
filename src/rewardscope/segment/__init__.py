"""Particle segmentation: classical (denoise, threshold, clean-up, watershed split) and measurement.

Examples
--------
>>> from rewardscope.segment import prepare, run, measure_particles
>>> from rewardscope.simulate import simulate_movie
>>> image = simulate_movie(frames=2, size=128, seed=0).movie[0]  # 20 particles in frame 0
>>> seg = run(prepare(image), {"sigma_px": 3.0}, min_area_px=12)  # one fixed smoothing; workflows tune it
>>> table = measure_particles(seg.labels, image)
>>> len(table), list(table.columns[:5])
(16, ['frame', 'label', 'x', 'y', 'area_px'])
"""

from rewardscope.segment.classical import ClassicalState, Segmentation, prepare, run, smooth
from rewardscope.segment.measure import measure_particles
from rewardscope.segment.postprocess import clean_labels, split_touching

__all__ = ["ClassicalState", "Segmentation", "clean_labels", "measure_particles", "prepare", "run",
           "smooth", "split_touching"]

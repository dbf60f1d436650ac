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

from __future__ import annotations

from rewardscope import lazy_names

#: Public name -> the module that defines it (imported on first access: importing the package is light).
_NAMES: dict[str, str] = {
    **{name: "rewardscope.segment.classical" for name in ("ClassicalState", "Segmentation", "prepare", "run", "smooth")},
    "measure_particles": "rewardscope.segment.measure",
    "clean_labels": "rewardscope.segment.postprocess",
    "split_touching": "rewardscope.segment.postprocess",
}

__all__ = sorted(_NAMES)

__getattr__, __dir__ = lazy_names(__name__, _NAMES)

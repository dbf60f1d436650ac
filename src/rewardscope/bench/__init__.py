"""Benchmark harness: the paper's two comparisons of LoG* with the DCNN (``rewardscope bench``).

Not a workflow: it runs workflows on simulated images and scores them against the truth.

* :mod:`rewardscope.bench.noise`: :func:`bench_noise`, F1 and counts of LoG* and the DCNN
  against Gaussian noise 0 to 1.0.
* :mod:`rewardscope.bench.speed`: :func:`bench_speed`, seconds per 256 x 256 image of LoG*
  (full and warm-started), plain LoG and the DCNN.
* :mod:`rewardscope.bench.scoring`: :func:`score`, the per-image row of scores both use (and
  ``benchmarks/dcnn.py``).

Both benchmarks return a :class:`~rewardscope.result.Result`; their figures are drawn by
:mod:`rewardscope.report.bench`.
"""

from __future__ import annotations

from rewardscope import lazy_names

#: Public name -> the module that defines it (imported on first access: importing the package is light).
_NAMES: dict[str, str] = {
    "NoiseBenchConfig": "rewardscope.bench.noise_config",
    "SpeedBenchConfig": "rewardscope.bench.speed_config",
    "bench_noise": "rewardscope.bench.noise",
    "bench_speed": "rewardscope.bench.speed",
    "score": "rewardscope.bench.scoring",
}

__all__ = sorted(_NAMES)

__getattr__, __dir__ = lazy_names(__name__, _NAMES)

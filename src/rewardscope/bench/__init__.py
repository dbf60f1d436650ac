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

from rewardscope.bench.noise import NoiseBenchConfig, bench_noise
from rewardscope.bench.scoring import score
from rewardscope.bench.speed import SpeedBenchConfig, bench_speed

__all__ = ["NoiseBenchConfig", "SpeedBenchConfig", "bench_noise", "bench_speed", "score"]

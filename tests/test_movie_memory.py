"""Movies larger than what a run may hold: frames are read lazily and masks streamed to disk."""

import tracemalloc

import numpy as np

from rewardscope.simulate import simulate_movie
from rewardscope.track import estimate_drift
from rewardscope.workflows.movie import segment_movie


def _peaks(tmp_path, frames):
    """Peak traced memory (bytes) of drift estimation and of segmentation, and the movie's size."""
    sim = simulate_movie(frames=frames, size=256, n_particles=12, seed=2)
    path = tmp_path / f"movie{frames}.npy"
    np.save(path, sim.movie.astype(np.float32))
    del sim
    tracemalloc.start()
    estimate_drift(str(path))
    _, peak_drift = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    result = segment_movie(str(path), masks_path=tmp_path / f"masks{frames}.tif", trials=12, drift=True)
    _, peak_segment = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result.summary["n_frames"] == frames
    return peak_drift, peak_segment, path.stat().st_size


def test_memory_does_not_grow_with_movie_length(tmp_path):
    short = _peaks(tmp_path, 40)
    long = _peaks(tmp_path, 160)
    assert long[2] == 4 * short[2] - 3 * 128  # four times the frames (npy header aside)
    for k in (0, 1):  # drift, segmentation
        assert long[k] < 1.25 * short[k], (long[k], short[k])
        assert long[k] < 0.3 * long[2]

"""Tracking a movie read lazily from disk: memory does not grow with its length (masks are streamed)."""

import tracemalloc

import numpy as np
import pytest
import tifffile

from rewardscope.simulate import simulate_movie
from rewardscope.workflows.tracking import track_particles


def _peak(tmp_path, frames, link_window):
    """Peak traced memory (bytes) of the whole tracking (drift, segmentation, linking, masks) and the movie's size."""
    sim = simulate_movie(frames=frames, size=256, n_particles=12, seed=2)
    path = tmp_path / f"movie{frames}.npy"
    np.save(path, sim.movie.astype(np.float32))
    del sim
    tracemalloc.start()
    result = track_particles(str(path), masks_path=tmp_path / f"tracks{frames}.tif", trials=8,
                             segment={"study": {"trials": 12}}, link_window_frames=link_window)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert result.summary["n_frames"] == frames and "masks" not in result.arrays
    assert tifffile.imread(tmp_path / f"tracks{frames}.tif").shape == (frames, 256, 256)
    return peak, path.stat().st_size


@pytest.mark.parametrize("link_window", [500, 30])  # 30: the long movie is linked in windows as it is measured
def test_tracking_memory_does_not_grow_with_movie_length(tmp_path, link_window):
    short = _peak(tmp_path, 40, link_window)
    long = _peak(tmp_path, 160, link_window)
    assert long[1] == 4 * short[1] - 3 * 128  # four times the frames (npy header aside)
    assert long[0] < 1.25 * short[0], (long[0], short[0])
    assert long[0] < 0.3 * long[1]  # far below the movie (and the masks) held in memory

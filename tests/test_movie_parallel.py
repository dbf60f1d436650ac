"""Movies through dask: serial vs a real LocalCluster (bit-identical), truth, lazy reads on workers, zarr/TIFF masks."""

import numpy as np
import pandas as pd
import pytest
import tifffile
import zarr
from typer.testing import CliRunner

from rewardscope.cli.main import app
from rewardscope.io.lazy import write_stack
from rewardscope.metrics import mask_iou
from rewardscope.simulate.movie import simulate_movie
from rewardscope.workflows.movie import segment_movie
from rewardscope.workflows.movie_parallel import segment_movie_parallel

SIM = simulate_movie(frames=10, size=96, n_particles=5, seed=3)
FAST = dict(trials=12, split_trials=0, pixel_size="0.5A")


@pytest.fixture(scope="module")
def movie_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("movie") / "movie.zarr"
    return write_stack(path, iter(SIM.movie), shape=SIM.movie.shape, pixel_size=SIM.pixel_size)


@pytest.fixture(scope="module")
def serial(movie_file, tmp_path_factory):
    masks = tmp_path_factory.mktemp("serial") / "masks.zarr"
    return segment_movie_parallel(movie_file, scheduler="serial", chunk_frames=3, masks_path=masks, **FAST), masks


def test_serial_chunks_match_truth_and_the_one_chain(serial):
    res, masks = serial
    labels = zarr.open_array(str(masks), mode="r")[:]
    assert labels.shape == SIM.movie.shape
    assert min(mask_iou(labels[k] > 0, SIM.masks[k] > 0) for k in range(len(labels))) > 0.75
    assert res.summary["n_chunks"] == 4 and res.summary["n_frames"] == 10
    assert res.tables["timeseries"]["frame"].tolist() == list(range(10))
    chain = segment_movie(SIM.movie, **FAST)
    if not chain.tables["timeseries"]["reoptimized"].any():  # without re-optimization: the same frames
        pd.testing.assert_frame_equal(res.particles.drop(columns=["x_aligned", "y_aligned"]),
                                      chain.particles.drop(columns=["x_aligned", "y_aligned"]))
        assert np.array_equal(labels, chain.labels)


def test_local_cluster_gives_bit_identical_results_and_reads_on_workers(serial, movie_file, tmp_path):
    from distributed import LocalCluster

    ref, ref_masks = serial
    masks = tmp_path / "masks.tif"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp://", host="127.0.0.1",
                      dashboard_address=None) as cluster:
        res = segment_movie_parallel(movie_file, scheduler=cluster.scheduler_address, chunk_frames=3,
                                     masks_path=masks, in_flight=2, **FAST)
    for name in ("particles", "timeseries", "drift"):
        pd.testing.assert_frame_equal(res.tables[name], ref.tables[name])
    assert np.array_equal(tifffile.imread(masks), zarr.open_array(str(ref_masks), mode="r")[:])
    assert res.summary["n_workers"] == 2 and sum(w["frames"] for w in res.summary["workers"].values()) == 10
    assert all(w["peak_rss_mib"] > 0 for w in res.summary["workers"].values())


def test_in_memory_frames_travel_with_their_chunks():
    res = segment_movie_parallel(SIM.movie[:4], scheduler="serial", chunk_frames=3, drift=False, **FAST)
    assert res.labels.shape == (4, 96, 96) and res.summary["masks"] == "in memory"


def test_cli_segment_with_scheduler(movie_file, tmp_path):
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["segment", str(movie_file), "--out", str(out), "--trials", "12", "--split-trials",
                                 "0", "--scheduler", "serial", "--chunk-frames", "4", "--no-progress"])
    assert r.exit_code == 0, r.output
    for name in ("masks.tif", "particles.csv", "timeseries.csv", "summary.json"):
        assert (out / name).is_file(), name
    assert tifffile.imread(out / "masks.tif").shape == SIM.movie.shape


def test_cli_segment_unreachable_scheduler(movie_file, tmp_path):
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["segment", str(movie_file), "--out", str(out), "--scheduler", "tcp://127.0.0.1:9",
                                 "--no-progress"])
    assert r.exit_code == 2 and "cannot reach the dask scheduler" in r.output
    assert not out.exists()


def test_label_frames_are_handed_out_as_their_chunks_arrive_not_after_the_last():
    """ParallelSegmentation.frames(): frame 0 is there when only the first chunk is segmented."""
    from rewardscope.workflows.movie_parallel import ArrivingFrames, ParallelSegmentation

    done = []
    run = ParallelSegmentation(SIM.movie[:6], scheduler="serial", chunk_frames=2, drift=False,
                               progress=lambda stage, n, total: done.append(n) if stage == "segmenting frames" else None,
                               **FAST)
    frames = ArrivingFrames(run.frames(), n_frames=6)
    first = frames[0]
    assert done[-1] == 2  # one chunk of two frames segmented so far
    assert mask_iou(first > 0, SIM.masks[0] > 0) > 0.75
    rest = [frames[i] for i in range(1, 6)]
    assert done[-1] == 6 and len(rest) == 5
    with pytest.raises(IndexError, match="handed out"):
        frames[0]
    whole = segment_movie_parallel(SIM.movie[:6], scheduler="serial", chunk_frames=2, drift=False, **FAST)
    assert np.array_equal(np.stack([first, *rest]), whole.labels)
    pd.testing.assert_frame_equal(run.result().tables["particles"], whole.tables["particles"])

"""Sliding windows and the dask engine: grid, seams, borrowing, serial vs a real LocalCluster, CLI errors."""

import json
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rewardscope.cli.main import app
from rewardscope.config import make_config
from rewardscope.errors import ParameterError
from rewardscope.io.write import write_tiff
from rewardscope.metrics import score_atoms
from rewardscope.parallel import Engine, SchedulerError
from rewardscope.simulate import simulate_haadf
from rewardscope.workflows import windows as W
from rewardscope.workflows.atoms import find_atoms
from rewardscope.workflows.atoms_base import AtomsConfig
from rewardscope.workflows.atoms_log import log_star_workflow

SIM = simulate_haadf("srtio3-001", size=160, noise=0.05, seed=3)
FAST = dict(lattice="srtio3-001", pixel_size="0.35A", trials=15)


@pytest.mark.parametrize("shape, window, overlap", [((100, 60), 48, 8), ((513, 257), 128, 32), ((64, 64), 80, 16),
                                                    ((300, 300), 100, 99)])
def test_cores_tile_the_image_and_windows_overlap(shape, window, overlap):
    grid = W.window_grid(shape, window_px=window, overlap_px=overlap)
    owner = np.zeros(shape, int)
    for w in grid:
        owner[w.cy0:w.cy1, w.cx0:w.cx1] += 1
        assert w.y1 - w.y0 == min(window, shape[0]) and w.x1 - w.x0 == min(window, shape[1])
        assert w.y0 <= w.cy0 < w.cy1 <= w.y1 and w.x0 <= w.cx0 < w.cx1 <= w.x1
    assert (owner == 1).all()  # every pixel has exactly one owner
    rows = sorted({(w.y0, w.y1) for w in grid})
    assert all(b[0] <= a[1] - min(overlap, shape[0]) or len(rows) == 1 for a, b in zip(rows, rows[1:]))


def _jobs(image, cfg, window=96, overlap=32):
    grid = W.window_grid(image.shape, window_px=window, overlap_px=overlap)
    return [W.WindowJob(w, np.ascontiguousarray(image[w.y0:w.y1, w.x0:w.x1]), SIM.pixel_size, cfg, SIM.crystal,
                        log_star_workflow, None, 16) for w in grid]


def test_stitching_keeps_one_column_per_site():
    """Every window at one parameter set: the stitched columns score exactly like the whole image at it."""
    cfg = make_config(AtomsConfig, lattice="srtio3-001", trials=15)
    params = {"min_sigma": 1.5, "max_sigma": 3.5, "num_sigma": 6, "threshold": 0.08, "overlap": 0.45}
    whole = find_atoms(SIM.image, method="log", log_params=params, lattice="srtio3-001", pixel_size="0.35A")
    donor = W.WindowOutcome(W.window_grid((1, 1), window_px=2, overlap_px=0)[0], "optimized", params=params)
    outcomes = [W.borrow_window(job, donor) for job in _jobs(SIM.image, cfg)]
    assert len(outcomes) == 4 and all(o.status == "borrowed" for o in outcomes)
    stitched = W.stitch_atoms(outcomes, radius_px=W.margin_px(SIM.crystal, SIM.pixel_size))
    m_whole, m_win = score_atoms(whole.atoms, SIM), score_atoms(stitched, SIM)
    assert m_whole.f1 == 1.0 and m_win.f1 == 1.0 and m_win.fp == 0
    xy = stitched[["x", "y"]].to_numpy()
    d = np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1)) + np.eye(len(xy)) * 1e9
    assert d.min() > 0.5 * SIM.crystal.min_nn_distance_angstrom / 0.35  # no site twice
    # the columns found twice in the overlaps are really there: without the seam rule they would be duplicates
    assert sum(len(o.atoms) for o in outcomes) > len(stitched)


def test_sliding_window_result_map_and_summary():
    res = find_atoms(SIM.image, window="96px", overlap="32px", scheduler="serial", **FAST)
    m = score_atoms(res.atoms, SIM)
    assert m.f1 >= 0.97, m
    table = res.tables["windows"]
    assert len(table) == 4 and set(table["status"]) == {"optimized"}
    assert {"threshold", "min_sigma", "qc", "er", "hypervolume", "x0", "core_x1", "n_kept"} <= set(table.columns)
    assert table["n_kept"].sum() == len(res.atoms)
    s = res.summary
    assert s["windows"]["grid"] == [2, 2] and s["n_trials"] == 4 * 15 == len(res.trials)
    assert set(res.trials["window"]) == {0, 1, 2, 3}
    assert s["objectives"] == ["qc", "er"] and s["best_values"]["qc"] < 0.05
    # the later windows started from their neighbours' Pareto sets: their first trials are those points
    first = res.trials[res.trials["window"] == 3].iloc[0]
    earlier = res.pareto[res.pareto["window"].isin([1, 2])]
    assert np.isclose(earlier["threshold"], first["threshold"]).any()


def test_a_window_without_columns_borrows_its_neighbours_parameters():
    image = SIM.image.copy()
    rng = np.random.default_rng(0)
    image[:, 96:] = 0.05 + rng.normal(0, 0.002, (160, 64))  # vacuum on the right: no columns there
    res = find_atoms(image, window="64px", overlap="16px", scheduler="serial", **FAST)
    table = res.tables["windows"].set_index("window")
    assert len(table) == 9
    right = table[table["x0"] >= 96]  # all vacuum
    assert len(right) == 3
    assert (right["status"] == "borrowed").all() and right["borrowed_from"].notna().all()
    assert set(table.loc[right["borrowed_from"].astype(int), "status"]) == {"optimized"}
    left_truth = SIM.truth[SIM.truth["x"] < 80]
    left = res.atoms[res.atoms["x"] < 80]
    assert score_atoms(left, left_truth, shape=(160, 80), crystal=SIM.crystal, pixel_size="0.35A").f1 >= 0.95


def _comparable(res):
    table = res.tables["windows"].drop(columns=["seconds"])
    return res.atoms, table, res.trials.drop(columns=[c for c in res.trials.columns if "time" in c or "second" in c])


def test_serial_and_a_real_local_cluster_give_identical_results():
    from distributed import LocalCluster

    serial = find_atoms(SIM.image, window="96px", overlap="32px", scheduler="serial", **FAST)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp://", host="127.0.0.1",
                      dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        remote = find_atoms(SIM.image, window="96px", overlap="32px", scheduler=cluster.scheduler_address, **FAST)
        with Engine(cluster.scheduler_address) as engine:
            assert engine.n_workers == 2
    for a, b in zip(_comparable(serial), _comparable(remote)):
        pd.testing.assert_frame_equal(a, b)  # bit-identical tables
    assert remote.summary["windows"]["scheduler"].startswith("tcp://")


def test_engine_map_yields_every_item_once_with_bounded_tasks():
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        from distributed import Client

        with Client(cluster) as client:
            got = dict(Engine(client).map(pow, range(20), in_flight=3, exp=2))
    assert got == {k: k * k for k in range(20)}
    assert dict(Engine("serial").map(pow, range(5), exp=3)) == {k: k ** 3 for k in range(5)}


def test_unreachable_scheduler_fails_fast():
    t0 = time.perf_counter()
    with pytest.raises(SchedulerError, match="cannot reach the dask scheduler at tcp://127.0.0.1:9"):
        with Engine("tcp://127.0.0.1:9"):
            pass
    assert time.perf_counter() - t0 < 10


def test_window_size_checks():
    with pytest.raises(ParameterError, match="smaller than 4 unit cells"):
        find_atoms(SIM.image, window="30px", overlap="8px", scheduler="serial", **FAST)
    with pytest.raises(ParameterError, match="must be smaller than --window"):
        find_atoms(SIM.image, window="64px", overlap="64px", scheduler="serial", **FAST)
    with pytest.raises(ParameterError, match="scheduler"):
        find_atoms(SIM.image, window="64px", scheduler="threads", **FAST)
    assert W.window_sizes_px(W.window_config(window="3nm", overlap="1nm"), SIM.pixel_size, SIM.crystal) == (86, 29)


def test_cli_window_writes_the_map(tmp_path):
    img = tmp_path / "sto.tif"
    write_tiff(img, SIM.image, pixel_size=SIM.pixel_size)
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["atoms", str(img), "--out", str(out), "--lattice", "srtio3-001", "--trials", "12",
                                 "--window", "96px", "--overlap", "32px", "--scheduler", "serial", "--no-progress"])
    assert r.exit_code == 0, r.output
    for name in ("atoms.csv", "trials.csv", "pareto.csv", "windows.csv", "windows.png", "overlay.png",
                 "summary.json"):
        assert (out / name).is_file(), name
    table = pd.read_csv(out / "windows.csv")
    assert len(table) == 4 and table["n_kept"].sum() == len(pd.read_csv(out / "atoms.csv"))
    assert json.loads((out / "summary.json").read_text())["windows"]["n_windows"] == 4


@pytest.mark.parametrize("args, message", [
    (["--window", "30px"], "smaller than 4 unit cells"),
    (["--window", "1nm"], "smaller than 4 unit cells"),
    (["--window", "64px", "--overlap", "64px"], "must be smaller than --window"),
    (["--window", "64px", "--overlap", "3nm"], "must be smaller than --window"),
    (["--window", "64px", "--overlap", "16px", "--scheduler", "tcp://127.0.0.1:9"], "cannot reach the dask scheduler"),
    (["--window", "64px", "--overlap", "16px", "--scheduler", "threads"], "scheduler 'threads'"),
])
def test_cli_window_errors_one_line_exit_2_no_folder(tmp_path, args, message):
    img = tmp_path / "sto.tif"
    write_tiff(img, SIM.image[:128, :128])
    out = tmp_path / "out"
    t0 = time.perf_counter()
    r = CliRunner().invoke(app, ["atoms", str(img), "--out", str(out), "--lattice", "srtio3-001", "--pixel-size",
                                 "0.35A", "--trials", "5", "--no-progress", *args])
    assert time.perf_counter() - t0 < 10
    assert r.exit_code == 2, r.output
    lines = [line for line in r.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("rewardscope: error:") and message in lines[0], r.output
    assert not out.exists() and not any(p.name.startswith(".out") for p in tmp_path.iterdir())


def test_unreachable_scheduler_in_a_fresh_process_within_10_s(tmp_path):
    """The whole command, start-up included, as a user runs it."""
    img = tmp_path / "sto.npy"
    np.save(img, SIM.image[:128, :128])
    out = tmp_path / "out"
    t0 = time.perf_counter()
    p = subprocess.run([sys.executable, "-m", "rewardscope.cli.main", "atoms", str(img), "--out", str(out),
                        "--lattice", "srtio3-001", "--pixel-size", "0.35A", "--window", "64px", "--overlap", "16px", "--scheduler",
                        "tcp://127.0.0.1:9"], capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - t0
    assert p.returncode == 2 and p.stderr.strip().startswith("rewardscope: error: cannot reach"), p.stderr
    assert not out.exists()
    assert elapsed < 10 or pytest.skip(f"start-up on this loaded machine took {elapsed:.0f} s")


def _discs(shape=(128, 224), seed=0):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    centres = [(40, 30, 10), (64, 112, 14), (90, 180, 11), (30, 150, 8), (100, 60, 9)]  # (row, col, radius)
    truth = np.zeros(shape, bool)
    for r, c, rad in centres:
        truth |= (yy - r) ** 2 + (xx - c) ** 2 < rad ** 2
    img = 1.0 - truth + np.random.default_rng(seed).normal(0, 0.2, shape)
    return img, truth, len(centres)


def test_segmentation_windows_merge_particles_across_seams():
    from rewardscope.metrics import mask_iou

    img, truth, n = _discs()
    res = W.sliding_particles(img, window="128px", overlap="32px", scheduler="serial", trials=12, split_trials=0)
    grid = W.window_grid(img.shape, window_px=128, overlap_px=32)
    assert len(grid) == 2 and grid[1].cx0 == 112  # the disc at column 112 straddles the seam
    assert len(res.particles) == n and res.labels.max() == n
    assert mask_iou(res.labels > 0, truth) > 0.9
    assert set(res.tables["windows"]["status"]) == {"optimized"} and "sigma_px" in res.tables["windows"]


def test_segmentation_windows_serial_vs_local_cluster_identical():
    from distributed import LocalCluster

    img, _, _ = _discs(seed=1)
    kw = dict(window="128px", overlap="32px", trials=10, split_trials=0)
    ref = W.sliding_particles(img, scheduler="serial", **kw)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp://", host="127.0.0.1",
                      dashboard_address=None) as cluster:
        res = W.sliding_particles(img, scheduler=cluster.scheduler_address, **kw)
    assert np.array_equal(ref.labels, res.labels)
    pd.testing.assert_frame_equal(ref.particles, res.particles)


def test_cli_segment_windows_read_a_colour_image_as_grey(tmp_path):
    from PIL import Image

    yy, xx = np.mgrid[:160, :200]
    discs = ((yy - 60) ** 2 + (xx - 70) ** 2 < 18 ** 2) | ((yy - 110) ** 2 + (xx - 150) ** 2 < 14 ** 2)
    grey = np.clip(0.85 - 0.7 * discs + np.random.default_rng(0).normal(0, 0.05, discs.shape), 0, 1)
    Image.fromarray((np.stack([grey, 0.9 * grey, 0.8 * grey], -1) * 255).astype(np.uint8)).save(tmp_path / "c.png")
    res = CliRunner().invoke(app, ["segment", str(tmp_path / "c.png"), "--out", str(tmp_path / "o"), "--window",
                                   "128px", "--overlap", "32px", "--trials", "10", "--split-trials", "0",
                                   "--no-progress"])
    assert res.exit_code == 0, res.output
    assert len(pd.read_csv(tmp_path / "o" / "particles.csv")) == 2


def test_local_cluster_workers_keep_glibc_adaptive_malloc_and_engine_uses_them():
    """dask's nannies set MALLOC_TRIM_THRESHOLD_ (slow numpy temporaries); our local workers start without it."""
    import os

    from distributed import Client

    from rewardscope.parallel import local_cluster

    with local_cluster(1) as cluster, Client(cluster) as client:
        env = client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
        assert list(env.values()) == [None]
        assert list(client.run(lambda: os.environ.get("OMP_NUM_THREADS")).values()) == ["1"]  # dask's other settings stay
    with Engine("local", workers=1) as engine:
        assert engine.result(engine.submit(os.environ.get, "MALLOC_TRIM_THRESHOLD_")) is None

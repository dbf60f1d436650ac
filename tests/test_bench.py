"""The benchmark harness (``rewardscope bench``) on tiny settings: tables, truth scores, order of methods."""

import numpy as np
import pytest

from rewardscope.bench import NoiseBenchConfig, SpeedBenchConfig, bench_noise, bench_speed, score
from rewardscope.bench.speed import subimages
from rewardscope.simulate import simulate_haadf


def test_score_is_the_one_truth_rule():
    sim = simulate_haadf("srtio3-001", size=64, pixel_size="0.35A", noise=0.0, seed=0)
    exact = score(sim.positions, sim)
    assert exact["f1"] == 1.0 and exact["rmse_px"] == 0.0 and exact["fp"] == 0
    # radius 0.3 x the smallest column distance (2.76 A) / 0.35 A = 2.37 px
    shifted = score(sim.positions + [2.0, 0.0], sim)
    assert shifted["f1"] == 1.0 and shifted["rmse_px"] == pytest.approx(2.0)
    far = score(sim.positions + [2.8, 0.0], sim)
    assert far["tp"] == 0 and far["fn"] == exact["tp"]


def test_noise_bench_scores_both_methods_against_the_truth():
    seen = []
    res = bench_noise(images=1, logstar_images=1, levels=(0.0,), pareto_levels=(0.0,), size=96, trials=30,
                      progress=lambda *a: seen.append(a))
    level = res["per_level"].set_index("method")
    assert level.loc["dcnn", "n_found"] == level.loc["dcnn", "n_true"]
    assert level.loc["dcnn", "f1"] == 1.0 and level.loc["log-star", "f1"] >= 0.98
    assert level.loc["log-star", "f1_vs_oracle"] >= 0.98
    assert {"min_sigma", "threshold", "qc", "er"} <= set(res["per_image"].columns)
    assert len(res["pareto_0.0"]) == 30 and set(res.extras["studies"]) == {0.0}
    assert seen[0][1:] == (0, 2) and seen[-1][1:] == (2, 2)  # one stage: 1 DCNN image + 1 LoG* image
    assert res.summary["config"]["trials"] == 30


def test_speed_tiles_carry_their_own_truth():
    tiles = subimages(SpeedBenchConfig(images=2, noise=0.0))
    for tile in tiles:
        assert tile.image.shape == (256, 256)
        assert np.all((tile.positions >= 0) & (tile.positions <= 255))
        assert score(tile.positions, tile)["f1"] == 1.0
    assert not np.array_equal(tiles[0].image, tiles[1].image)


def test_speed_bench_times_every_method_in_order():
    res = bench_speed(images=2, trials=20, warm_trials=5, threads=(1,))
    per_method = res["per_method"]
    assert list(per_method["method"][:5]) == [
        "LoG* (full)", "LoG* (warm start, 5 trials)", "LoG (fixed parameters)",
        "DCNN CPU (1 thread, one image per call)", "DCNN CPU (1 thread, batch of 2)"]
    counts = dict(zip(per_method["method"], per_method["n_images"]))
    assert counts["LoG* (full)"] == 2 and counts["LoG* (warm start, 5 trials)"] == 1  # no warm start for the first
    dcnn = per_method[per_method["method"].str.startswith("DCNN CPU")]
    assert (dcnn["f1"] >= 0.98).all() and (dcnn["seconds_per_image"] > 0).all()
    gpu = per_method[per_method["method"] == "DCNN GPU (batch)"]
    assert len(gpu) == 1 and bool(gpu["available"].iloc[0]) == (res.summary["gpu"] != "not available")


def test_bench_configs_refuse_unknown_settings():
    with pytest.raises(Exception, match="extra"):
        NoiseBenchConfig(imagez=3)

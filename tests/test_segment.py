"""Truth-based tests of label-free particle segmentation (images, movies, rewards, CLI)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
from scipy import ndimage as ndi
from typer.testing import CliRunner

from rewardscope.cli.main import app
from rewardscope.errors import CalibrationError, ImageValueError, ParameterError
from rewardscope.metrics import dice, mask_iou
from rewardscope.rewards.particles import (ParticleRewardContext, ambiguity, class_overlap, concavity,
                                           cut_fraction, size_outliers)
from rewardscope.segment import classical, measure_particles, split_touching
from rewardscope.units import Length
from rewardscope.workflows.movie import segment_movie
from rewardscope.workflows.particles import segment_image

HRTEM = Path(__file__).parent / "data" / "hrtem"
runner = CliRunner()


def discs_image(seed: int = 0, size: int = 128, noise: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Dark discs on a bright speckled support, and the true mask."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    truth = np.zeros((size, size), bool)
    for cy, cx, r in [(30, 30, 12), (30, 90, 9), (85, 40, 15), (95, 100, 11), (60, 65, 6)]:
        truth |= (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
    speckle = ndi.gaussian_filter(rng.normal(size=(size, size)), 1.2)
    image = 1.0 - 0.6 * truth + noise * speckle / speckle.std() * 0.3 + rng.normal(0, noise * 0.3, (size, size))
    return image, truth


def two_discs(gap: float) -> np.ndarray:
    yy, xx = np.mgrid[:60, :100]
    return ((yy - 30) ** 2 + (xx - 30) ** 2 < 15 ** 2) | ((yy - 30) ** 2 + (xx - 60 - gap) ** 2 < 15 ** 2)


def hrtem(i: int) -> tuple[np.ndarray, np.ndarray]:
    from skimage.io import imread

    image = imread(HRTEM / f"image_{i}.png")[..., 0].astype(float)
    mask = imread(HRTEM / f"label_{i}.png")[..., 0] > 127
    return image, mask


# --------------------------------------------------------------------------- rewards


def test_rewards_rank_good_smoothing_above_too_little_and_too_much():
    image, truth = discs_image()
    state = classical.prepare(image)
    ctx = ParticleRewardContext()
    segs = {s: classical.run(state, {"sigma_px": s}) for s in (0.5, 2.0, 12.0)}
    ious = {s: mask_iou(seg.foreground, truth) for s, seg in segs.items()}
    assert ious[2.0] > 0.85 and ious[2.0] > ious[0.5] + 0.1 and ious[2.0] > ious[12.0] + 0.1
    for reward in (class_overlap, ambiguity):
        values = {s: reward(seg, ctx) for s, seg in segs.items()}
        assert values[2.0] < values[0.5] and values[2.0] < values[12.0], (reward.__name__, values)


def test_split_rewards_prefer_splitting_a_touching_pair():
    from dataclasses import replace

    labels, _ = ndi.label(two_discs(gap=-4))
    ctx = ParticleRewardContext()
    whole = classical.Segmentation(smoothed=np.zeros((60, 100), np.float32), threshold=0.0,
                                   foreground=labels > 0, labels=labels.astype(np.int32), params={})
    split, n_split, cut_px = split_touching(labels, depth_px=3.0)
    assert int(split.max()) == 2 and n_split == 1 and cut_px > 0
    cut = replace(whole, labels=split, n_split=n_split, cut_px=cut_px)
    assert concavity(cut, ctx) < concavity(whole, ctx) - 0.05
    assert cut_fraction(whole, ctx) == 0.0 < cut_fraction(cut, ctx) < 0.2


def test_single_disc_is_never_split_and_size_outliers_count_small_regions():
    yy, xx = np.mgrid[:60, :60]
    disc = ((yy - 30) ** 2 + (xx - 30) ** 2 < 20 ** 2).astype(int)
    out, n_split, _ = split_touching(disc, depth_px=1.0)
    assert n_split == 0 and int(out.max()) == 1
    labels = disc.copy()
    labels[2:4, 2:4] = 2
    seg = classical.Segmentation(smoothed=np.zeros((60, 60), np.float32), threshold=0.0, foreground=labels > 0,
                                 labels=labels, params={})
    frac = size_outliers(seg, ParticleRewardContext(min_diameter_px=5.0))
    assert frac == pytest.approx(4 / (disc.sum() + 4))


def test_reward_context_rejects_bad_ranges():
    with pytest.raises(ParameterError):
        ParticleRewardContext(min_diameter_px=10, max_diameter_px=5)
    with pytest.raises(ParameterError):
        ParticleRewardContext(band=0.7)


# --------------------------------------------------------------------------- measurement


def test_measure_table_has_units_and_known_values():
    labels = np.zeros((50, 60), int)
    labels[10:20, 10:30] = 1            # 10 x 20 rectangle: area 200 px, centre (x 19.5, y 14.5)
    labels[40:50, 50:60] = 2            # cut by the border
    image = np.where(labels == 1, 3.0, 1.0)
    table = measure_particles(labels, image, pixel_size=Length(0.5, "nm"), frame=7)
    row = table.iloc[0]
    assert list(table.columns[:4]) == ["frame", "label", "x", "y"]
    assert (row["frame"], row["x"], row["y"], row["area_px"]) == (7, 19.5, 14.5, 200.0)
    assert row["area_nm2"] == pytest.approx(50.0)
    assert row["equivalent_diameter_nm"] == pytest.approx(0.5 * np.sqrt(800 / np.pi))
    assert row["mean_intensity"] == 3.0 and not row["touches_border"] and table.iloc[1]["touches_border"]
    assert row["eccentricity"] == pytest.approx(np.sqrt(1 - (100 - 1) / (400 - 1)), abs=1e-9)
    assert "area_nm2" not in measure_particles(labels, image).columns


# --------------------------------------------------------------------------- workflows


def test_segment_image_on_synthetic_discs_matches_truth():
    image, truth = discs_image(seed=1)
    res = segment_image(image, trials=25, split_trials=0, seed=0)
    fg = res.labels > 0
    assert mask_iou(fg, truth) > 0.85
    assert len(res.particles) == 5
    assert set(res.tables["trials"]["stage"]) == {"foreground"}
    assert res.tables["pareto"]["selected"].sum() == 1
    again = segment_image(image, trials=25, split_trials=0, seed=0)
    assert again.best_params == res.best_params


def test_segment_image_splits_touching_particles():
    rng = np.random.default_rng(2)
    truth = two_discs(gap=-3)
    image = 1.0 - 0.5 * truth + rng.normal(0, 0.08, truth.shape)
    res = segment_image(image, trials=15, split_trials=10, seed=0)
    assert len(res.particles) == 2
    assert res.best_params["split_depth_px"] is not None
    assert set(res.tables["trials"]["stage"]) == {"foreground", "split"}


@pytest.mark.parametrize("i", [3, 17])
def test_real_hrtem_images_reach_iou_floor_without_their_masks(i):
    image, mask = hrtem(i)
    res = segment_image(image, trials=40, seed=0)
    fg = res.labels > 0
    assert mask_iou(fg, mask) > 0.975
    assert dice(fg, mask) > 0.985
    assert 4.0 < res.best_params["sigma_px"] < 6.0
    assert abs(len(res.particles) - ndi.label(mask)[1]) <= 2


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ImageValueError):
        segment_image(np.ones((64, 64)))
    with pytest.raises(CalibrationError):
        segment_image(discs_image()[0], min_diameter="2nm")
    with pytest.raises(ParameterError):
        segment_image(discs_image()[0], trials=0)
    with pytest.raises(ParameterError):
        segment_image(discs_image()[0], min_diameter="abcpx")


def test_segment_movie_reuses_parameters_and_matches_simulated_truth(tmp_path):
    from rewardscope.simulate.movie import simulate_movie

    sim = simulate_movie(frames=6, size=128, n_particles=6, seed=3)
    res = segment_movie(sim.movie, trials=20, split_trials=0, pixel_size="0.5A")
    ts = res.tables["timeseries"]
    assert len(ts) == 6 and res.labels.shape == sim.movie.shape
    ious = [mask_iou(res.labels[k] > 0, sim.masks[k] > 0) for k in range(6)]
    assert min(ious) > 0.75
    assert {"x_aligned", "y_aligned", "area_nm2"} <= set(res.particles.columns)
    # aligned positions undo the drift: compare with the true shifts
    drift = res.tables["drift"].set_index("frame")
    true = sim.shifts.set_index("frame")
    assert np.allclose(drift[["dx", "dy"]].to_numpy(), true[["dx", "dy"]].to_numpy(), atol=0.5)
    assert ts["sigma_px"].nunique() == 1 + int(ts["reoptimized"].sum())


def test_segment_movie_reoptimizes_when_contrast_changes_and_streams_masks(tmp_path):
    image, _ = discs_image(seed=4)
    rng = np.random.default_rng(5)
    blurred = ndi.gaussian_filter(image, 4.0) + rng.normal(0, 0.02, image.shape)
    frames = np.stack([image, image + rng.normal(0, 0.01, image.shape), blurred, blurred + 1e-3])
    res = segment_movie(frames, trials=15, split_trials=0, reoptimize_trials=10, drift=False,
                        masks_path=tmp_path / "m.tif")
    ts = res.tables["timeseries"]
    assert ts["reoptimized"].tolist() == [False, False, True, False]
    assert "masks" not in res.arrays
    masks = tifffile.imread(tmp_path / "m.tif")
    assert masks.shape == frames.shape and masks.max() >= 4
    assert set(res.tables["trials"]["frame"]) == {0, 2}


# --------------------------------------------------------------------------- CLI


def test_cli_segment_image_and_movie(tmp_path):
    image, _ = discs_image()
    np.save(tmp_path / "img.npy", image)
    out = tmp_path / "out"
    r = runner.invoke(app, ["segment", str(tmp_path / "img.npy"), "--out", str(out), "--trials", "12",
                            "--split-trials", "0", "--no-progress"])
    assert r.exit_code == 0, r.output
    for name in ("masks.tif", "particles.csv", "trials.csv", "pareto.csv", "summary.json", "overlay.png",
                 "sizes.png"):
        assert (out / name).exists(), name
    assert len(pd.read_csv(out / "particles.csv")) == 5
    frames = np.stack([image, np.roll(image, 2, axis=1), np.roll(image, 4, axis=1)]).astype(np.float32)
    np.save(tmp_path / "movie.npy", frames)
    out2 = tmp_path / "movie_out"
    r = runner.invoke(app, ["segment", str(tmp_path / "movie.npy"), "--out", str(out2), "--trials", "12",
                            "--split-trials", "0", "--pixel-size", "0.1nm", "--no-progress"])
    assert r.exit_code == 0, r.output
    ts = pd.read_csv(out2 / "timeseries.csv")
    assert ts["n_particles"].tolist() == [5, 5, 5] and "mean_equivalent_diameter_nm" in ts
    assert tifffile.imread(out2 / "masks.tif").shape == frames.shape
    assert (out2 / "timeseries.png").exists()


def test_cli_bad_inputs_exit_2_without_output(tmp_path):
    np.save(tmp_path / "flat.npy", np.ones((64, 64)))
    np.save(tmp_path / "img.npy", discs_image()[0])
    cases = [[str(tmp_path / "missing.tif")], [str(tmp_path / "flat.npy")],
             [str(tmp_path / "img.npy"), "--min-diameter", "2nm"],
             [str(tmp_path / "img.npy"), "--sigma-range", "5 1"]]
    for k, args in enumerate(cases):
        out = tmp_path / f"out{k}"
        r = runner.invoke(app, ["segment", *args, "--out", str(out), "--trials", "5", "--no-progress"])
        assert r.exit_code == 2, (args, r.output)
        assert not out.exists()
        assert len([p for p in tmp_path.iterdir() if p.name.startswith(f".out{k}")]) == 0


# --------------------------------------------------------------------------- inputs, rewards, movie policy


def test_segment_image_reads_paths_imagedata_and_arrays_alike(tmp_path):
    from rewardscope.io import read_image, write_tiff

    image, truth = discs_image(seed=1)
    path = write_tiff(tmp_path / "discs.tif", image, pixel_size=Length(0.5, "nm"))
    by_path = segment_image(path, trials=12, split_trials=0)
    by_image = segment_image(read_image(path), trials=12, split_trials=0)
    by_array = segment_image(read_image(path).data, trials=12, split_trials=0, pixel_size="0.5nm")
    assert mask_iou(by_path.labels > 0, truth) > 0.85 and len(by_path.particles) == 5
    for other in (by_image, by_array):
        pd.testing.assert_frame_equal(other.particles, by_path.particles)
    table = by_path.particles
    assert by_path.summary["pixel_size_angstrom"] == 5.0  # from the file
    assert np.allclose(table["area_nm2"], table["area_px"] * 0.25)
    with pytest.raises(CalibrationError):
        segment_image(read_image(path).data, trials=4, min_diameter="2nm")  # an array has no calibration


def test_segment_image_takes_custom_rewards_for_both_studies():
    blur = {"blur": lambda seg, ctx: 1.0 / seg.params["sigma_px"]}  # monotone: the widest trial is best
    image, _ = discs_image(seed=1)
    res = segment_image(image, trials=12, split_trials=0, rewards=blur)
    trials = res.tables["trials"]
    assert res.summary["objectives"] == ["blur"] and "overlap" not in trials
    assert res.best_params["sigma_px"] == trials["sigma_px"].max()
    assert res.summary["best_values"]["blur"] == pytest.approx(1.0 / trials["sigma_px"].max())
    rng = np.random.default_rng(2)
    pair = 1.0 - 0.5 * two_discs(gap=-3) + rng.normal(0, 0.08, (60, 100))
    shallow = {"depth": lambda seg, ctx: seg.params["split_depth_px"]}  # monotone: the shallowest trial is best
    split = segment_image(pair, trials=15, split_trials=10, split_rewards=shallow)
    depths = split.tables["trials"].query("stage == 'split'")["split_depth_px"]
    assert len(depths) == 10 and split.best_params["split_depth_px"] == depths.min()
    assert split.summary["split"]["objectives"] == ["depth"] and split.summary["split"]["n_trials"] == 10


def test_movie_policy_reuses_and_reoptimizes_any_workflow():
    from rewardscope.optimize import FloatParam, SearchSpace
    from rewardscope.workflows import StudySettings, Workflow
    from rewardscope.workflows.movie import MoviePolicy

    class Threshold(Workflow):
        def search_space(self):
            return SearchSpace([FloatParam("t", 0.0, 2.0)])

        def run(self, state, params):
            return state > params["t"]

    wf = Threshold(rewards={"share": lambda m, c: (m.mean() - 0.25) ** 2 + 0.01})
    ramp = np.linspace(0, 1, 4096).reshape(64, 64)
    policy = MoviePolicy(wf, first=StudySettings(trials=40, seed=0), again=StudySettings(trials=40, seed=0),
                         tolerance=0.25)
    steps = [policy.step(ramp + offset) for offset in (0.0, 0.01, 0.0, 0.4, 0.41)]
    assert [s.reoptimized for s in steps] == [False, False, False, True, False]
    assert policy.n_reoptimizations == 1
    assert all(abs(s.output.mean() - 0.25) < 0.03 for s in steps)  # re-optimizing keeps the share right
    assert policy.chosen.params["t"] == pytest.approx(0.75 + 0.4, abs=0.04)


def test_segment_movie_scores_frames_with_the_given_rewards():
    image, _ = discs_image(seed=1)
    frames = np.stack([image, np.roll(image, 2, axis=1), np.roll(image, 4, axis=0)])
    blur = {"blur": lambda seg, ctx: 1.0 / seg.params["sigma_px"]}
    res = segment_movie(frames, trials=8, split_trials=0, drift=False, rewards=blur)
    ts = res.tables["timeseries"]
    assert "blur" in ts and "overlap" not in ts and not ts["reoptimized"].any()
    assert np.allclose(ts["blur"], 1.0 / ts["sigma_px"])
    assert res.summary["objectives"] == ["blur"] and res.summary["split"] is None



def _bridging_movie(seed: int = 0) -> tuple[np.ndarray, list[np.ndarray]]:
    """A big lumpy particle; a small pair 8 px apart in frame 0, 1 px apart (the blur joins it) in frames 1-3.

    The lumpy particle's only cut would cross its body, yet its distance-transform
    dynamic (about 9 px) exceeds the joined pair's (about 7 px): no single depth splits
    the pair and spares it (the split study on frame 0 cuts it in two).
    """
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:130, :300]
    lumpy = ((yy - 65) ** 2 + (xx - 110) ** 2 < 50 ** 2) | ((yy - 65) ** 2 + (xx - 174) ** 2 < 40 ** 2)
    frames, truths = [], []
    for gap in (8.0, 1.0, 1.0, 1.0):
        a = (yy - 30) ** 2 + (xx - 240) ** 2 < 10 ** 2
        b = (yy - 30) ** 2 + (xx - 260 - gap) ** 2 < 10 ** 2
        truth = a.astype(int) + 2 * b + 3 * lumpy
        speckle = ndi.gaussian_filter(rng.normal(size=yy.shape), 1.2)
        frames.append(1.0 - 0.6 * (truth > 0) + 0.05 * speckle / speckle.std() + rng.normal(0, 0.1, yy.shape))
        truths.append(truth)
    return np.stack(frames), truths


def test_the_neck_rule_splits_a_pair_the_blur_joins_and_leaves_a_lumpy_particle_whole():
    """split_rule="necks" (tracking's default): each region is split at its necks only, on every frame."""
    movie, truths = _bridging_movie()
    res = segment_movie(movie, trials=12, drift=False, split_rule="necks", sigma_range_px=(1.5, 3.0), seed=0)
    labels = np.asarray(res.labels)
    for f, truth in enumerate(truths):
        assert labels[f].max() == 3, f"frame {f}: {labels[f].max()} particles"
        for k in (1, 2, 3):  # each true particle is one label, and its label covers it
            found = np.bincount(labels[f][truth == k]).argmax()
            assert found > 0 and mask_iou(labels[f] == found, truth == k) > 0.8
    assert res.summary["split"] == {"rule": "necks", "split_depth_px": 1.0, "split_necks": True}
    joined = classical.run(classical.prepare(movie[1]), {"sigma_px": 2.0})
    assert joined.labels.max() == 2  # without a split, the blur joins the pair


def test_the_neck_rule_treats_a_diagonal_neck_as_the_same_neck_along_an_axis():
    """A small particle touching a large one: the same geometry, along an axis and at 45 degrees.

    The neck's width is a length, not a count of contact pixels (a diagonal cut has sqrt(2)
    times more contacts than its length: counted, the 45-degree pair at 15 px stayed whole).
    """
    from rewardscope.segment.postprocess import split_touching

    yy, xx = np.mgrid[:48, :48]
    for gap, split in ((10, 0), (15, 1), (16, 1)):  # centre distance, px: heavily overlapping at 10
        c = 16 + gap / np.sqrt(2)
        diagonal = ((yy - 16) ** 2 + (xx - 16) ** 2 < 100) | ((yy - c) ** 2 + (xx - c) ** 2 < 36)
        straight = ((yy - 24) ** 2 + (xx - 16) ** 2 < 100) | ((yy - 24) ** 2 + (xx - 16 - gap) ** 2 < 36)
        got = [split_touching(m.astype(int), depth_px=0.5, necks_only=True)[1] for m in (diagonal, straight)]
        assert got == [split, split], (gap, got)


def test_the_neck_rule_cuts_a_small_particle_off_a_lumpy_one_and_keeps_the_lumpy_one_whole():
    """The watershed cuts the lumpy particle through its body too: those pieces are joined again, the neck kept.

    (Left whole before: every depth that kept the small particle's marker also cut the lump.)
    """
    from rewardscope.segment.postprocess import split_touching

    yy, xx = np.mgrid[:60, :70]
    lumpy = ((yy - 38) ** 2 + (xx - 20) ** 2 < 100) | ((yy - 38) ** 2 + (xx - 34) ** 2 < 81)
    for gap in (13.5, 14.0):
        small = ((yy - 38 + gap) ** 2 + (xx - 20) ** 2 < 25) & ~lumpy
        out, n_split, _ = split_touching((lumpy | small).astype(int), depth_px=0.5, necks_only=True)
        assert n_split == 1 and out.max() == 2
        assert len(np.unique(out[lumpy])) == 1 and (out[lumpy] > 0).all()  # the lump is one piece
        assert np.mean(out[small] != out[lumpy][0]) > 0.9  # the small particle is the other one

"""Amorphous regions: mask builder, GMM probability, covariance choice, workflow on simulated YBCO, CLI."""

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rewardscope.classify.mask import MaskBuilder, region_mask
from rewardscope.errors import CalibrationError, FileFormatError, ParameterError
from rewardscope.metrics import mask_iou
from rewardscope.optimize import CategoricalParam, run_study
from rewardscope.simulate import simulate_haadf
from rewardscope.optimize.pareto import pareto_mask
from rewardscope.rewards.regions import REGION_REWARDS, compactness_loss, normalized_perimeter, separation_loss
from rewardscope.workflows.amorphous import (AmorphousConfig, AmorphousOutput, AmorphousWorkflow, amorphous_probability,
                                             atom_pixels, map_amorphous)


@pytest.fixture(scope="module")
def sim():
    return simulate_haadf("ybco-100", size=160, amorphous_fraction=0.25, noise=0.15, seed=7)


def test_mask_edge_lies_half_way_between_selected_and_other_atoms():
    xy = np.array([[10.0, 10.0], [30.0, 10.0]])
    m = region_mask((21, 41), xy, np.array([True, False]), radius_px=100)
    row = m[10]
    assert row[:20].all() and not row[21:].any()  # boundary at x = 20, midway


def test_mask_radius_limits_reach_into_empty_space():
    xy = np.array([[20.0, 20.0]])
    m = region_mask((41, 41), xy, np.array([True]), radius_px=5)
    assert m.sum() == pytest.approx(np.pi * 25, rel=0.1)
    assert m[20, 20] and not m[20, 26]
    assert not region_mask((41, 41), xy, np.array([False]), radius_px=5).any()


def test_mask_builder_matches_a_lattice_block():
    g = np.stack(np.meshgrid(np.arange(2, 40, 5.0), np.arange(2, 40, 5.0)), -1).reshape(-1, 2)
    sel = (g[:, 0] < 20) & (g[:, 1] < 20)  # cells end half-way, at 19.5
    m = MaskBuilder((40, 40), g).mask(sel, radius_px=3.6)
    truth = np.zeros((40, 40), bool)
    truth[:20, :20] = True
    assert mask_iou(m, truth) > 0.95


def test_gmm_probability_finds_the_disordered_component():
    rng = np.random.default_rng(0)
    ordered = rng.normal([0.1, 0.1, 1.0], 0.05, (300, 3))
    disordered = rng.normal([0.6, 0.5, 0.5], 0.1, (100, 3))
    p = amorphous_probability(np.vstack([ordered, disordered]), covariance_type="full")
    assert p[:300].max() < 0.1 and p[300:].min() > 0.9


def test_every_covariance_type_is_reachable(sim):
    cfg = AmorphousConfig()
    xy = sim.truth[["x", "y"]].to_numpy()
    wf = AmorphousWorkflow(config=cfg, atoms=sim.truth, pixel_size=sim.pixel_size)  # nn from the lattice
    param = next(p for p in wf.search_space().params if p.name == "covariance")
    assert isinstance(param, CategoricalParam)
    assert set(param.choices) == {"full", "tied", "diag", "spherical"}
    state = wf.prepare(sim.image)
    ious = {}
    for cov in param.choices:
        out = wf.run(state, {"window_nm": 1.2, "threshold": 0.5, "covariance": cov, "dilation_nn": 1.5})
        assert out.mask.shape == sim.image.shape and out.probability.shape == (len(xy),)
        ious[cov] = mask_iou(out.mask, sim.amorphous_mask)
    assert max(ious.values()) > 0.7, ious
    assert len({round(v, 6) for v in ious.values()}) > 1, ious  # the choice matters


def test_optimizer_samples_every_covariance_type(sim):
    wf = AmorphousWorkflow(config=AmorphousConfig(), atoms=sim.truth, pixel_size=sim.pixel_size)
    res = run_study(lambda p: [p["threshold"], 1 - p["threshold"]], wf.search_space(),
                    objective_names=["a", "b"], trials=20, seed=1, progress=False)
    assert set(res.trials["covariance"]) == {"full", "tied", "diag", "spherical"}
    narrow = AmorphousWorkflow(config=AmorphousConfig(covariance_types=("diag",)), atoms=wf.atoms,
                               pixel_size=sim.pixel_size)
    assert next(p for p in narrow.search_space().params if p.name == "covariance").choices == ("diag",)


def test_separation_is_the_unexplained_share_of_the_disorder_variance():
    score = np.array([0.1, 0.1, 0.1, 2.0, 2.0])
    assert separation_loss(score, score > 1) == pytest.approx(0.0, abs=1e-12)  # two constant groups
    # split {0, 1} | {2, 3, 4}: p = 0.4, means 0.1 and 4.1/3, var 0.8664 -> 1 - 0.24 * (1.2667)^2 / 0.8664
    assert separation_loss(score, np.arange(5) < 2) == pytest.approx(1 - 0.24 * (4.1 / 3 - 0.1) ** 2 / 0.8664, rel=1e-3)
    assert separation_loss(score, np.zeros(5, bool)) == separation_loss(score, np.ones(5, bool)) == 1.0
    assert separation_loss(np.ones(5), score > 1) == 1.0  # a constant score explains nothing


def test_region_compactness_does_not_count_the_number_of_regions():
    from rewardscope.rewards.regions import compactness, region_compactness

    yy, xx = np.mgrid[:200, :200]
    discs = [(xx - x) ** 2 + (yy - y) ** 2 <= r ** 2 for x, y, r in ((60, 60, 40), (150, 150, 20), (160, 40, 10))]
    m = discs[0] | discs[1] | discs[2]
    assert region_compactness(m) == pytest.approx(1.0, abs=0.02)  # each region a disc
    assert compactness(m) == pytest.approx((40 ** 2 + 20 ** 2 + 10 ** 2) / 70 ** 2, abs=0.02)  # whole mask: 0.43
    square = (abs(xx - 100) <= 30) & (abs(yy - 100) <= 30)
    expected = (61 ** 2 * np.pi / 4 + 317) / (61 ** 2 + 317)  # area-weighted: square pi/4, disc (317 px) 1
    assert region_compactness(square | discs[2]) == pytest.approx(expected, rel=0.03)
    assert region_compactness(np.zeros((20, 20), bool)) == 0.0


def _lattice_output(grid: np.ndarray, selected: np.ndarray, score: np.ndarray, shape: tuple) -> AmorphousOutput:
    """The workflow's mask (half-way cut, smoothed) of selected grid atoms, as one trial's output."""
    from scipy import ndimage

    mask = ndimage.gaussian_filter(MaskBuilder(shape, grid).mask(selected, radius_px=8).astype(float), 2.5) > 0.5
    return AmorphousOutput(probability=selected.astype(float), amorphous=selected, mask=mask,
                           in_region=mask[atom_pixels(shape, grid)], disorder=score)


def test_rewards_prefer_the_true_patches_to_a_band_that_swallows_the_crystal_between_them():
    # Issue 14, benchmark image 0: three disordered patches at the top edge (known truth) and
    # a band covering them and the crystal between them. By shape alone the band is better in
    # both rewards (more compact, shorter), so it dominated the truth and the study chose it
    # (IoU 0.61); the atoms' own disorder score, split by the mask, shows the truth is right.
    shape = (120, 120)
    grid = np.stack(np.meshgrid(np.arange(2.5, 120, 5.0), np.arange(2.5, 120, 5.0)), -1).reshape(-1, 2)
    patches = ((20, 0, 22), (100, 0, 22), (60, 15, 16))
    near = [(grid[:, 0] - x) ** 2 + (grid[:, 1] - y) ** 2 < r ** 2 for x, y, r in patches]
    true_sel = near[0] | near[1] | near[2]
    score = np.where(true_sel, 1.0, 0.1) + np.random.default_rng(0).normal(0, 0.05, len(grid))
    truth = _lattice_output(grid, true_sel, score, shape)
    band = _lattice_output(grid, grid[:, 1] < 32, score, shape)
    assert mask_iou(band.mask, truth.mask) < 0.7
    assert (_old_rewards(band) < _old_rewards(truth)).all()  # the old rewards: the band dominates the truth
    values = np.array([[f(out, None) for f in REGION_REWARDS.values()] for out in (truth, band)])
    assert list(REGION_REWARDS) == ["compactness", "perimeter", "separation"]
    assert pareto_mask(values)[0]  # now the truth is on the front ...
    assert values[0, 2] < 0.05 < 0.4 < values[1, 2]  # ... with the far better separation (measured 0.02 vs 0.44)


def _old_rewards(out: AmorphousOutput) -> np.ndarray:
    """The region rewards before issue 14's fix: whole-mask compactness and perimeter, shape only."""
    return np.array([compactness_loss(out.mask), normalized_perimeter(out.mask)])


def test_rewards_keep_a_small_true_patch_that_the_old_rewards_dropped():
    # Issue 14, benchmark image 4: a large and a small disordered patch (known truth). The
    # whole-mask compactness (R^2 + r^2) / (R + r)^2 and the perimeter both improve when the
    # small patch is dropped, so by shape alone the mask without it dominated the truth. Per
    # region the small round patch costs no compactness, and the disorder score of the atoms
    # says it belongs in.
    shape = (120, 120)
    grid = np.stack(np.meshgrid(np.arange(2.5, 120, 5.0), np.arange(2.5, 120, 5.0)), -1).reshape(-1, 2)
    big = (grid[:, 0] - 40) ** 2 + (grid[:, 1] - 45) ** 2 < 24 ** 2
    small = (grid[:, 0] - 95) ** 2 + (grid[:, 1] - 95) ** 2 < 11 ** 2
    score = np.where(big | small, 1.0, 0.1) + np.random.default_rng(1).normal(0, 0.05, len(grid))
    truth = _lattice_output(grid, big | small, score, shape)
    dropped = _lattice_output(grid, big, score, shape)
    assert mask_iou(dropped.mask, truth.mask) < 0.85
    assert (_old_rewards(dropped) < _old_rewards(truth)).all()  # old: dropping it dominates (0.03, 0.33 vs 0.45, 0.47)
    new = {k: f(truth, None) - f(dropped, None) for k, f in REGION_REWARDS.items()}
    assert abs(new["compactness"]) < 0.01  # per region both are discs (measured 0.037 vs 0.034)
    assert new["separation"] < -0.15  # the data: the small patch's atoms are disordered (measured 0.02 vs 0.22)
    values = np.array([[f(out, None) for f in REGION_REWARDS.values()] for out in (truth, dropped)])
    assert pareto_mask(values).all()  # the truth is no longer dominated


def test_map_amorphous_recovers_the_true_region(sim):
    res = map_amorphous(sim.image, atoms=sim.truth, pixel_size=sim.pixel_size, trials=30, seed=1)
    assert res.mask.shape == sim.image.shape
    assert mask_iou(res.mask, sim.amorphous_mask) >= 0.7
    atoms = res.atoms
    truth = sim.truth["amorphous"]  # the output column "amorphous" is the prediction
    p = atoms["amorphous_probability"].to_numpy()
    assert p[truth.to_numpy()].mean() > 0.7 > 0.3 > p[~truth.to_numpy()].mean()
    assert res.summary["best_params"]["covariance"] in {"full", "tied", "diag", "spherical"}
    assert res.tables["pareto"]["selected"].sum() == 1


def test_map_amorphous_takes_every_input_and_writes_the_one_summary(tmp_path, sim):
    from rewardscope.io import read_image, write_tiff

    write_tiff(tmp_path / "img.tif", sim.image, pixel_size=sim.pixel_size)
    img = read_image(tmp_path / "img.tif")
    base = map_amorphous(img.data, atoms=sim.truth, pixel_size=img.pixel_size, trials=6, seed=2)
    for source in (tmp_path / "img.tif", img):  # a path and an ImageData: calibration from the file
        other = map_amorphous(source, atoms=sim.truth, trials=6, seed=2)
        assert np.array_equal(other.mask, base.mask)
        assert np.array_equal(other.atoms["amorphous_probability"], base.atoms["amorphous_probability"])
    s = base.summary
    assert s["workflow"] == "AmorphousWorkflow" and s["objectives"] == ["compactness", "perimeter", "separation"]
    assert s["n_trials"] == 6 == len(base.tables["trials"]) and s["study"]["trials"] == 6 and s["study"]["seed"] == 2
    chosen = base.tables["pareto"][base.tables["pareto"]["selected"]].iloc[0]
    assert s["best_values"] == pytest.approx({k: chosen[k] for k in s["objectives"]})
    assert s["pixel_size_angstrom"] == 0.35 and s["image_shape"] == [160, 160] and s["atoms_source"] == "given"
    assert s["n_atoms"] == len(sim.truth) and s["n_amorphous"] == int(base.atoms["amorphous"].sum())
    assert s["area_fraction"] == pytest.approx(base.mask.mean())
    assert s["config"]["window_range"] == ["0.5nm", "2.0nm"] and s["config"]["class_window"] == "2.0nm"


def test_rewards_replace_the_shape_rewards(sim):
    target = float(sim.amorphous_mask.mean())
    res = map_amorphous(sim.image, atoms=sim.truth, pixel_size=sim.pixel_size, trials=20, seed=0,
                        rewards={"area_error": lambda out, context: abs(float(out.mask.mean()) - target)})
    assert res.summary["objectives"] == ["area_error"] and "compactness" not in res.tables["trials"]
    assert abs(res.mask.mean() - target) < 0.01  # measured 0.000 (target 0.25)
    assert res.summary["best_values"]["area_error"] == pytest.approx(abs(res.mask.mean() - target))


def test_without_atoms_log_star_finds_them(sim):
    from rewardscope.metrics import score_atoms

    res = map_amorphous(sim.image, pixel_size=sim.pixel_size, trials=6, atom_trials=20, seed=0)
    assert res.summary["atoms_source"] == "log-star"
    assert score_atoms(res.atoms, sim).f1 >= 0.8  # measured 0.88 (20 LoG* trials, amorphous columns included)
    assert mask_iou(res.mask, sim.amorphous_mask) >= 0.7  # measured 0.85


def test_bad_inputs_give_clear_errors(sim):
    with pytest.raises(FileFormatError, match="x and y"):
        map_amorphous(sim.image, atoms=pd.DataFrame({"row": [1.0]}), pixel_size="0.35A", trials=2)
    with pytest.raises(ParameterError, match="at least 10 atoms"):
        map_amorphous(sim.image, atoms=sim.truth.head(5), pixel_size="0.35A", trials=2)
    with pytest.raises(CalibrationError, match="pixel size"):
        map_amorphous(sim.image, atoms=sim.truth, trials=2)
    with pytest.raises(ParameterError, match="covariance"):
        map_amorphous(sim.image, atoms=sim.truth, pixel_size="0.35A", trials=2, covariance_types=("round",))


def test_cli_amorphous_outputs_and_exit_code_2(tmp_path, sim):
    from rewardscope.cli.main import app
    from rewardscope.io import read_image, write_tiff

    write_tiff(tmp_path / "img.tif", sim.image, pixel_size=sim.pixel_size)
    sim.truth[["x", "y"]].to_csv(tmp_path / "atoms.csv", index=False)
    runner = CliRunner()
    ok = runner.invoke(app, ["amorphous", str(tmp_path / "img.tif"), "--atoms", str(tmp_path / "atoms.csv"),
                             "--out", str(tmp_path / "out"), "--trials", "8", "--no-progress"])
    assert ok.exit_code == 0, ok.output
    out = tmp_path / "out"
    for name in ("mask.tif", "overlay.png", "pareto.csv", "trials.csv", "summary.json", "atoms.csv", "pareto.png"):
        assert (out / name).is_file(), name
    assert read_image(out / "mask.tif").data.shape == sim.image.shape
    assert "amorphous_probability" in pd.read_csv(out / "atoms.csv").columns
    assert len(pd.read_csv(out / "trials.csv")) == 8
    bad = runner.invoke(app, ["amorphous", str(tmp_path / "img.tif"), "--atoms", str(tmp_path / "nope.csv"),
                              "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "does not exist" in bad.output
    assert not (tmp_path / "bad").exists()

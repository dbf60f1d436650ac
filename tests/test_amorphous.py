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
from rewardscope.workflows.amorphous import (AmorphousConfig, AmorphousWorkflow, amorphous_probability,
                                             map_amorphous)


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
    assert s["workflow"] == "AmorphousWorkflow" and s["objectives"] == ["compactness", "perimeter"]
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

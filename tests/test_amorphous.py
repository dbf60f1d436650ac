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
from rewardscope.workflows.classify import neighbour_distance_px


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
    wf = AmorphousWorkflow(config=cfg, xy=xy, pixel_size=sim.pixel_size,
                           nn_px=neighbour_distance_px(xy, lattice="ybco-100", pixel_size=sim.pixel_size))
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
    wf = AmorphousWorkflow(config=AmorphousConfig(), xy=sim.truth[["x", "y"]].to_numpy(),
                           pixel_size=sim.pixel_size, nn_px=7.3)
    res = run_study(lambda p: [p["threshold"], 1 - p["threshold"]], wf.search_space(),
                    objective_names=["a", "b"], trials=20, seed=1, progress=False)
    assert set(res.trials["covariance"]) == {"full", "tied", "diag", "spherical"}
    narrow = AmorphousWorkflow(config=AmorphousConfig(covariance_types=("diag",)), xy=wf.xy,
                               pixel_size=sim.pixel_size, nn_px=7.3)
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

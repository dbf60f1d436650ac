"""End-to-end tests of reward-driven atom finding (API and CLI) on simulated images."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from rewardscope.cli.main import app
from rewardscope.metrics import score_atoms
from rewardscope.errors import CalibrationError, ImageValueError, ParameterError
from rewardscope.io import write_tiff
from rewardscope.rewards import quantity_error
from rewardscope.simulate import simulate_haadf
from rewardscope.workflows.atoms import AtomsConfig, atom_methods, find_atoms

STO = simulate_haadf("srtio3-001", size=128, noise=0.1, seed=2)
FAST = dict(lattice="srtio3-001", pixel_size="0.35A", progress=False)


def _score(result, sim):
    return score_atoms(result.atoms, sim)


@pytest.fixture(scope="module")
def sto_result():
    return find_atoms(STO.image, trials=60, **FAST)


def test_log_star_finds_srtio3_columns(sto_result):
    m = _score(sto_result, STO)
    assert m.f1 >= 0.98
    assert m.rmse_px <= 0.3
    s = sto_result.summary
    assert s["n_atoms"] == len(sto_result.atoms) and abs(s["n_atoms"] - s["n_expected"]) / s["n_expected"] < 0.05
    assert set(sto_result.trials.columns) >= {"trial", "min_sigma", "max_sigma", "num_sigma", "threshold",
                                              "overlap", "qc", "er", "n_atoms"}
    assert len(sto_result.trials) == 60 and sto_result.pareto["selected"].sum() == 1
    assert 0 < s["hypervolume"] <= 1


def test_ybco_with_different_pixel_size():
    sim = simulate_haadf("ybco-100", size=128, noise=0.05, pixel_size="0.28A", seed=1)
    res = find_atoms(sim.image, lattice="ybco-100", pixel_size="0.28A", trials=60, progress=False)
    assert _score(res, sim).f1 >= 0.98
    assert res.summary["sigma_scale"] == pytest.approx(0.35 / 0.28)


def test_seed_gives_same_result():
    a = find_atoms(STO.image, trials=12, seed=5, **FAST)
    b = find_atoms(STO.image, trials=12, seed=5, **FAST)
    cols = ["min_sigma", "max_sigma", "num_sigma", "threshold", "overlap", "qc", "er"]
    assert a.trials[cols].equals(b.trials[cols])
    assert np.array_equal(a.atoms[["x", "y"]].to_numpy(), b.atoms[["x", "y"]].to_numpy())


def test_resume_and_warm_start(tmp_path, sto_result):
    db = str(tmp_path / "atoms.sqlite")
    first = find_atoms(STO.image, trials=6, storage=db, **FAST)
    resumed = find_atoms(STO.image, trials=10, storage=db, **FAST)
    assert len(resumed.trials) == 10
    assert resumed.trials["threshold"].iloc[:6].tolist() == first.trials["threshold"].tolist()
    warm = find_atoms(STO.image, trials=8, warm_start=sto_result, **FAST)
    first_set = sto_result.pareto.iloc[0]
    assert warm.trials.iloc[0]["threshold"] == pytest.approx(first_set["threshold"])
    assert warm.trials.iloc[0]["num_sigma"] == first_set["num_sigma"]


def test_custom_rewards_and_oracle_count():
    def far_from_100(atoms, ctx):
        return abs(len(atoms) - 100) / 100

    res = find_atoms(STO.image, trials=20, rewards={"qc": quantity_error, "n100": far_from_100}, n_expected=50,
                     **FAST)
    assert "n100" in res.trials.columns and res.summary["n_expected"] == 50
    assert set(res.summary["objectives"]) == {"qc", "n100"}


def test_plain_log_method():
    assert {"log-star", "log"} <= set(atom_methods())
    res = find_atoms(STO.image, method="log", **FAST)
    assert len(res.trials) == 1 and len(res.atoms) > 100
    assert res.summary["best_params"]["num_sigma"] == AtomsConfig().log_params["num_sigma"]


def test_bad_inputs():
    with pytest.raises(ParameterError, match="lattice"):
        find_atoms(STO.image, pixel_size="0.35A", trials=5)
    with pytest.raises(CalibrationError, match="pixel size"):
        find_atoms(STO.image, lattice="srtio3-001", trials=5)
    with pytest.raises(ImageValueError):
        find_atoms(np.zeros((64, 64)), trials=5, **FAST)
    with pytest.raises(ParameterError, match="trials"):
        find_atoms(STO.image, trials=0, **FAST)
    with pytest.raises(ParameterError, match="method"):
        find_atoms(STO.image, method="magic", trials=5, **FAST)
    with pytest.raises(ParameterError, match="zone"):
        find_atoms(STO.image, cif="x.cif", pixel_size="0.35A", trials=5)


def test_cli_writes_all_outputs(tmp_path):
    img = tmp_path / "sto.tif"
    write_tiff(img, STO.image[:96, :96])
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["atoms", str(img), "--out", str(out), "--lattice", "srtio3-001",
                                 "--pixel-size", "0.35A", "--trials", "15", "--sampler", "nsga2",
                                 "--select", "chebyshev", "--no-progress"])
    assert r.exit_code == 0, r.output
    for name in ("atoms.csv", "trials.csv", "pareto.csv", "summary.json", "overlay.png", "pareto.png"):
        assert (out / name).is_file()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["selection"] == "chebyshev" and summary["n_trials"] == 15
    assert {"n_atoms", "n_expected", "hypervolume", "seconds", "versions", "command"} <= set(summary)


@pytest.mark.parametrize("args, message", [
    (["--pixel-size", "0.35A"], "lattice"),
    (["--lattice", "srtio3-001"], "pixel size"),
    (["--lattice", "srtio3-001", "--pixel-size", "0.35A", "--trials", "0"], "trials"),
    (["--lattice", "srtio3-001", "--pixel-size", "0.35A", "--sampler", "cma"], "sampler"),
])
def test_cli_bad_inputs_exit_2(tmp_path, args, message):
    img = tmp_path / "sto.tif"
    write_tiff(img, STO.image[:64, :64])
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["atoms", str(img), "--out", str(out), "--no-progress", *args])
    assert r.exit_code == 2
    assert message in r.output
    assert not out.exists() and not any(p.name.startswith(".out") for p in tmp_path.iterdir())

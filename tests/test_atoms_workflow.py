"""End-to-end tests of reward-driven atom finding (API and CLI) on simulated images."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from typer.testing import CliRunner

from rewardscope.cli.main import app
from rewardscope.metrics import score_atoms
from rewardscope.errors import CalibrationError, ImageValueError, ParameterError, PlausibilityWarning
from rewardscope.io import write_tiff
from rewardscope.rewards import quantity_error
from rewardscope.simulate import simulate_haadf
from rewardscope.workflows.atoms import AtomsConfig, atom_methods, find_atoms
from rewardscope.workflows.atoms_log import LogStarWorkflow, fixed_log_params

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


def _chosen_trial(result):
    """The selected Pareto row (the chosen parameter set) as a Series."""
    chosen = result.pareto[result.pareto["selected"]]
    assert len(chosen) == 1
    return chosen.iloc[0]


def test_summary_values_are_the_rewards_at_the_chosen_point(sto_result):
    s, row = sto_result.summary, _chosen_trial(sto_result)
    assert s["objectives"] == ["qc", "er"]
    assert s["best_values"] == {"qc": row["qc"], "er": row["er"]}
    assert s["best_params"] == pytest.approx({k: row[k] for k in s["best_params"]})
    # QC recomputed from the chosen trial's count under the edge window and the lattice's expected count there
    n_exp = s["n_expected_window"]
    assert n_exp == pytest.approx(s["n_expected"] * (128 - s["edge_taper_px"]) ** 2 / 128 ** 2)
    assert s["best_values"]["qc"] == pytest.approx(abs(row["n_in_window"] - n_exp) / n_exp, abs=1e-12)
    assert s["plausibility"]["qc"] == s["best_values"]["qc"]
    assert s["study"]["trials"] == 60 and s["n_trials"] == 60 and s["workflow"] == "LogStarWorkflow"


def test_custom_rewards_and_oracle_count():
    def far_from_100(atoms, ctx):
        return abs(len(atoms) - 100) / 100

    with warnings.catch_warnings():  # the chosen count trades 50 against 100: it may be implausible for either
        warnings.simplefilter("ignore", PlausibilityWarning)
        res = find_atoms(STO.image, trials=20, rewards={"qc": quantity_error, "n100": far_from_100}, n_expected=50,
                         lattice_prior=False, **FAST)
    assert "n100" in res.trials.columns and res.summary["n_expected"] == 50
    assert res.summary["objectives"] == ["qc", "n100"]
    row = _chosen_trial(res)
    n = row["n_atoms"]
    n50 = res.summary["n_expected_window"]  # the 50 given for the frame, under the edge window
    assert res.summary["best_values"] == pytest.approx({"qc": abs(row["n_in_window"] - n50) / n50,
                                                        "n100": abs(n - 100) / 100})
    # every trial scored with the custom rewards: the values follow from the trial's count
    np.testing.assert_allclose(res.trials["n100"], (res.trials["n_atoms"] - 100).abs() / 100)
    np.testing.assert_allclose(res.trials["qc"], (res.trials["n_in_window"] - n50).abs() / n50)
    assert abs(len(res.atoms) - n) <= 0.05 * n  # the refinement keeps the chosen columns


def test_plain_log_method(sto_result):
    assert {"log-star", "log", "dcnn"} <= set(atom_methods())
    res = find_atoms(STO.image, method="log", lattice_prior=False, **FAST)
    assert len(res.trials) == 1 and res.summary["study"]["trials"] == 1
    assert res.summary["best_params"] == fixed_log_params(AtomsConfig(), 1.0)  # 0.35 A: sigma scale 1
    assert res.summary["best_params"]["num_sigma"] == AtomsConfig().log_params["num_sigma"]
    assert res.summary["sigma_search_px"]["min_sigma"] == [1.0, 1.0]  # fixed, not searched
    plain, tuned = _score(res, STO), _score(sto_result, STO)
    assert 0.85 <= plain.f1 < tuned.f1  # fixed parameters over-count (noise blobs); LoG* does better
    assert len(res.atoms) > len(STO.truth)
    row = _chosen_trial(res)
    n_exp = res.summary["n_expected_window"]
    assert res.summary["best_values"]["qc"] == pytest.approx(abs(row["n_in_window"] - n_exp) / n_exp)


def test_dcnn_method_runs_one_trial_through_the_same_finish():
    res = find_atoms(STO.image, method="dcnn", lattice_prior=False, **FAST)
    m = _score(res, STO)
    assert m.f1 >= 0.98 and m.rmse_px <= 0.3
    assert len(res.trials) == 1 and res.summary["workflow"] == "DcnnWorkflow" and res.summary["method"] == "dcnn"
    assert "fit_sigma" in res.atoms.columns  # the shared Gaussian refinement
    assert res.summary["n_atoms"] == len(res.atoms) and res.summary["warnings"] == []


def test_a_registered_method_runs_through_run_workflow():
    from rewardscope.workflows.atoms import _METHODS, register_atom_method

    def coarse(config, context, **kwargs):  # LoG* searching a narrower threshold range
        return LogStarWorkflow(config=config.model_copy(update={"threshold_range": (0.05, 0.2)}), context=context,
                               **kwargs)

    register_atom_method("log-coarse", coarse)
    try:
        res = find_atoms(STO.image, method="log-coarse", trials=15, **FAST)
    finally:
        _METHODS.pop("log-coarse")
    assert res.summary["method"] == "log-coarse" and len(res.trials) == 15
    assert res.trials["threshold"].between(0.05, 0.2).all()
    assert _score(res, STO).f1 >= 0.9


def test_every_method_is_registered_without_loading_torch():
    import subprocess
    import sys

    code = ("import sys; from rewardscope.workflows.atoms import atom_methods; "
            "print(','.join(atom_methods()), 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["log-star,log,dcnn", "False"]


def test_config_reads_lengths_once_and_writes_them_back_as_text(sto_result):
    cfg = AtomsConfig.model_validate(sto_result.summary["config"])  # summary.json's config reads back
    assert cfg.pixel_size.angstrom == 0.35 and cfg.reference_pixel_size.angstrom == 0.35
    assert cfg.study.trials == 60 and cfg.displacement_sigma == "auto"
    assert sto_result.summary["config"]["pixel_size"] == "0.35A"
    assert sto_result.summary["study"] == sto_result.summary["config"]["study"]
    again = find_atoms(STO.image, config=cfg, progress=False)  # the saved config reproduces the result
    assert again.atoms.equals(sto_result.atoms)
    sigma = AtomsConfig(displacement_sigma="10pm")
    assert sigma.displacement_sigma.angstrom == pytest.approx(0.1)
    assert sigma.model_dump(mode="json")["displacement_sigma"] == "10.0pm"


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


@pytest.mark.parametrize("selection_flag", ["--select", "--selection"])
def test_cli_writes_all_outputs(tmp_path, selection_flag):
    img = tmp_path / "sto.tif"
    write_tiff(img, STO.image[:96, :96])
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["atoms", str(img), "--out", str(out), "--lattice", "srtio3-001",
                                 "--pixel-size", "0.35A", "--trials", "15", "--sampler", "nsga2",
                                 selection_flag, "chebyshev", "--no-progress"])
    assert r.exit_code == 0, r.output
    for name in ("atoms.csv", "trials.csv", "pareto.csv", "summary.json", "overlay.png", "pareto.png"):
        assert (out / name).is_file()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["study"]["selection"] == "chebyshev" and summary["n_trials"] == 15
    assert {"n_atoms", "n_expected", "hypervolume", "seconds", "versions", "command"} <= set(summary)


@pytest.mark.parametrize("args, message", [
    (["--pixel-size", "0.35A"], "lattice"),
    (["--lattice", "srtio3-001"], "pixel size"),
    (["--lattice", "srtio3-001", "--pixel-size", "0.35A", "--trials", "0"], "trials"),
    (["--lattice", "srtio3-001", "--pixel-size", "0.35A", "--sampler", "cma"], "sampler"),
    (["--lattice", "srtio3-001", "--pixel-size", "0.35A", "--displacement-sigma", "far"], "cannot read 'far' as a length"),
])
def test_cli_bad_inputs_exit_2(tmp_path, args, message):
    img = tmp_path / "sto.tif"
    write_tiff(img, STO.image[:64, :64])
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["atoms", str(img), "--out", str(out), "--no-progress", *args])
    assert r.exit_code == 2
    assert message in r.output
    assert not out.exists() and not any(p.name.startswith(".out") for p in tmp_path.iterdir())


def test_fast_trial_scoring_equals_evaluating_the_table(sto_result):
    """LoG*'s score (arrays, points made once, repeats remembered) gives exactly evaluate(run(...))."""
    from rewardscope.workflows.atoms import log_star_workflow

    ctx, crystal = sto_result.extras["context"], sto_result.extras["crystal"]
    wf = log_star_workflow(AtomsConfig(), ctx, crystal=crystal, sigma_scale=1.0)
    state = wf.prepare(STO.image)
    for params in sto_result.trials[wf.search_space().tunable_names].to_dict("records")[:25]:
        params["num_sigma"] = int(params["num_sigma"])
        assert wf.score(state, params) == wf.evaluate(wf.run(state, params))
        assert wf.score(state, params) == wf.evaluate(wf.run(state, params))  # second time from the memo

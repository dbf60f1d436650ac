"""Plausibility checks of atom finding: warnings, strict errors, no false alarms, positions inside the image."""

from __future__ import annotations

import json
import time
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rewardscope.cli.main import app
from rewardscope.detect.lattice import MIN_LATTICE_ORDER, lattice_order
from rewardscope.detect.refine import inside_image
from rewardscope.errors import InputError, PlausibilityError, PlausibilityWarning
from rewardscope.io import write_tiff
from rewardscope.physics import get_lattice
from rewardscope.simulate import simulate_haadf
from rewardscope.units import Length
from rewardscope.workflows.atoms import AtomsConfig, find_atoms
from rewardscope.workflows.plausibility import cell_size_problem, count_problem

YBCO = simulate_haadf("ybco-100", size=96, noise=0.1, seed=0)


def _plausibility_warnings(record: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, PlausibilityWarning)]


def _find(image: np.ndarray, **kwargs) -> tuple[object, list[str]]:
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        result = find_atoms(image, **kwargs)
    return result, _plausibility_warnings(record)


def test_warning_and_error_classes():
    assert issubclass(PlausibilityWarning, UserWarning)
    assert issubclass(PlausibilityError, InputError)
    assert "strict" in AtomsConfig.model_fields and AtomsConfig().strict is False
    assert AtomsConfig.model_fields["strict"].description


def test_cell_size_limits():
    ybco = get_lattice("ybco-100")  # cell 3.89 x 11.68 Å
    assert cell_size_problem(ybco, Length(0.35, "A")) is None
    assert cell_size_problem(ybco, Length(0.95, "A")) is None  # 4.09 px: just resolvable
    assert "under 4 px" in cell_size_problem(ybco, Length(1.0, "A"))  # 3.89 px
    assert "under 4 px" in cell_size_problem(ybco, Length(35, "nm"))
    assert "over 200 px" in cell_size_problem(ybco, Length(0.05, "A"))  # 233.6 px
    assert cell_size_problem(ybco, Length(0.06, "A")) is None  # 194.7 px


def test_count_limits():
    assert count_problem(100, 100, 0.0) is None
    assert count_problem(199, 100, 0.49) is None
    assert "2.01 x" in count_problem(201, 100, 0.4)
    assert "0.49 x" in count_problem(49, 100, 0.3)
    assert "QC = 0.60" in count_problem(160, 100, 0.6)


def test_unit_slip_warns_before_any_work_and_strict_fails_at_once():
    calls = []
    with pytest.raises(PlausibilityError, match=r"pixel size 35.*nm makes the ybco-100 cell 0\.0111 x 0\.0334 px"):
        find_atoms(YBCO.image, lattice="ybco-100", pixel_size="35nm", trials=50, strict=True,
                   progress=lambda *a: calls.append(a))
    assert calls == []  # nothing was computed
    seen = []

    def first_stage(stage, done, total):
        seen.append(str(stage))
        raise RuntimeError("stop at the first stage")

    with warnings.catch_warnings(record=True) as record, pytest.raises(RuntimeError):
        warnings.simplefilter("always")
        find_atoms(YBCO.image, lattice="ybco-100", pixel_size="35nm", trials=50, progress=first_stage)
    assert seen == ["optimizing (tpe)"]
    assert len(_plausibility_warnings(record)) == 1  # warned before the first stage began


def test_unit_slip_summary_lists_the_warnings():
    res, found = _find(YBCO.image, lattice="ybco-100", pixel_size="35nm", trials=10)
    assert res.summary["warnings"] == found
    assert any("under 4 px" in w for w in found) and any("expected from the lattice" in w for w in found)


def test_cli_strict_unit_slip_exits_2_with_one_line_and_no_folder(tmp_path):
    write_tiff(tmp_path / "img.tif", YBCO.image)
    out = tmp_path / "out"
    args = ["atoms", str(tmp_path / "img.tif"), "--lattice", "ybco-100", "--pixel-size", "35nm", "--trials", "10",
            "--no-progress", "--out", str(out)]
    t0 = time.perf_counter()
    r = CliRunner().invoke(app, [*args, "--strict"])
    assert r.exit_code == 2 and time.perf_counter() - t0 < 5
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("rewardscope: error: pixel size 35")
    assert "Traceback" not in r.output and not out.exists()
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0
    warned = [line for line in r.stderr.splitlines() if line.startswith("rewardscope: warning: ")]
    assert warned[0].startswith("rewardscope: warning: pixel size 35") and len(warned) >= 2
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["warnings"]) == len(warned)


def test_lattice_order_separates_crystals_from_noise():
    crystal, ps = get_lattice("ybco-100"), Length(0.35, "A")
    truth = crystal.positions(shape=(128, 128), pixel_size=ps, rotation_deg=17, visible_only=True)
    xy = truth[["x", "y"]].to_numpy()
    assert lattice_order(xy, crystal, pixel_size=ps) == pytest.approx(1.0, abs=0.02)
    jitter = xy + np.random.default_rng(0).normal(0, 0.5, xy.shape)
    assert lattice_order(jitter, crystal, pixel_size=ps) > 0.5
    mirrored = xy * [1, -1]
    assert lattice_order(mirrored, crystal, pixel_size=ps) == pytest.approx(1.0, abs=0.02)
    noise = np.random.default_rng(1).uniform(0, 128, xy.shape)
    assert lattice_order(noise, crystal, pixel_size=ps) < 0.05
    assert np.isnan(lattice_order(xy[:3], crystal, pixel_size=ps))


@pytest.mark.parametrize("lattice", ["ybco-100", "srtio3-001"])
def test_pure_noise_gets_a_warning_and_strict_fails(lattice):
    noise = np.random.default_rng(0).random((128, 128))
    res, found = _find(noise, lattice=lattice, pixel_size="0.35A", trials=40)
    assert any(f"do not form the {lattice} lattice" in w for w in found)
    assert res.summary["plausibility"]["lattice_order"] < MIN_LATTICE_ORDER
    with pytest.raises(PlausibilityError, match="do not form"):
        find_atoms(noise, lattice=lattice, pixel_size="0.35A", trials=40, strict=True)


@pytest.mark.parametrize("lattice", ["ybco-100", "srtio3-001"])
@pytest.mark.parametrize("pixel_size", ["0.25A", "0.35A", "0.45A"])
def test_no_false_alarm_on_simulated_crystals(lattice, pixel_size):
    for noise in (0.0, 0.5):
        sim = simulate_haadf(lattice, pixel_size=pixel_size, size=128, noise=noise, seed=1)
        res, found = _find(sim.image, lattice=lattice, pixel_size=pixel_size, trials=60, strict=False)
        assert found == [] and res.summary["warnings"] == []
        assert res.summary["plausibility"]["lattice_order"] > 2 * MIN_LATTICE_ORDER


def test_count_far_from_expected_warns():
    res, found = _find(YBCO.image, lattice="ybco-100", pixel_size="0.35A", trials=30,
                       n_expected=5.0 * len(YBCO.truth))
    assert any("x the" in w and "expected" in w for w in found)
    assert res.summary["plausibility"]["count_ratio"] < 0.5


def test_positions_are_inside_the_image():
    kept, counts = inside_image(pd.DataFrame({"x": [-2.8, -0.4, 3.0, 95.3, 95.6, np.nan],
                                              "y": [5.0, 5.0, -0.2, 5.0, 5.0, 5.0], "id": range(6)}), (96, 96))
    assert kept["id"].tolist() == [1, 2, 3] and counts == {"dropped": 3, "clipped": 3}
    assert kept["x"].tolist() == [0.0, 3.0, 95.0] and kept["y"].tolist() == [5.0, 0.0, 5.0]
    for lattice_prior in (False, True):
        sim = simulate_haadf("srtio3-001", size=96, noise=0.2, seed=1)  # columns cut by the frame edges
        res, _ = _find(sim.image, lattice="srtio3-001", pixel_size="0.35A", trials=40, lattice_prior=lattice_prior)
        x, y = res.atoms["x"], res.atoms["y"]
        assert x.min() >= 0 and x.max() <= 95 and y.min() >= 0 and y.max() <= 95
        outside = res.summary["positions_outside_image"]
        assert set(outside) == {"dropped", "clipped"} and res.summary["n_atoms"] == len(res.atoms)


def test_summary_explains_the_sigma_parameters():
    res = find_atoms(YBCO.image, lattice="ybco-100", pixel_size="0.25A", trials=30)
    s = res.summary
    lo, hi = sorted((s["best_params"]["min_sigma"], s["best_params"]["max_sigma"]))
    assert s["sigma_range_px"] == [lo, hi]
    assert s["sigma_scale"] == pytest.approx(0.35 / 0.25)
    cfg = AtomsConfig()
    assert s["sigma_search_px"]["min_sigma"] == pytest.approx([v * 1.4 for v in cfg.min_sigma_range])
    assert s["sigma_search_px"]["max_sigma"] == pytest.approx([v * 1.4 for v in cfg.max_sigma_range])
    assert {"min_sigma", "max_sigma", "sigma_scale", "sigma_range_px"} <= set(s["parameters_doc"])
    assert "swapped" in s["parameters_doc"]["min_sigma"]
    low, high = s["sigma_search_px"]["min_sigma"]
    assert low <= s["best_params"]["min_sigma"] <= high


def test_classification_refuses_implausible_pixel_size_and_lattice():
    from rewardscope.errors import ParameterError
    from rewardscope.workflows.classify import classify_atoms

    with pytest.raises(ParameterError, match="far larger than the 96 x 96 px image"):
        classify_atoms(YBCO.image, YBCO.truth, pixel_size="1e-9nm")  # 2 nm window = 2e9 px
    rng = np.random.default_rng(0)
    scattered = pd.DataFrame(rng.uniform(5, 90, (40, 2)), columns=["x", "y"])
    with pytest.raises(ParameterError, match="ordered neighbourhood"):
        classify_atoms(YBCO.image, scattered, pixel_size="0.35A", lattice="si-110", classes=4)

"""Lattice prior: lattice fit, site completion, vacancies and shrinkage against exact truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rewardscope.cli.main import app
from rewardscope.metrics import score_atoms, score_detections
from rewardscope.detect.lattice import apply_lattice_prior, fit_lattice
from rewardscope.errors import ParameterError
from rewardscope.io import write_tiff
from rewardscope.physics import get_lattice
from rewardscope.simulate import simulate_haadf
from rewardscope.simulate.haadf import render_columns
from rewardscope.units import Length
from rewardscope.workflows.atoms import find_atoms

PS = Length(0.35, "A")


def _truth(name: str, size: int, rotation: float = 0.0) -> tuple[object, pd.DataFrame]:
    crystal = get_lattice(name)
    return crystal, crystal.positions(shape=(size, size), pixel_size=PS, rotation_deg=rotation, visible_only=True,
                                      origin_px=(2.3, 1.7))  # no column exactly on the frame edge


def _f1(atoms: pd.DataFrame, truth_xy: np.ndarray, shape: tuple[int, int], tol: float = 2.0) -> object:
    return score_detections(atoms[["x", "y"]].to_numpy(), truth_xy, shape=shape, tolerance_px=tol, margin_px=2.0)


@pytest.mark.parametrize("name, rotation", [("ybco-100", 0.0), ("ybco-100", 37.0), ("srtio3-001", -8.0)])
def test_fit_recovers_sites_from_jittered_incomplete_detections(name, rotation):
    crystal, truth = _truth(name, 128, rotation)
    rng = np.random.default_rng(1)
    xy = truth[["x", "y"]].to_numpy() * 1.02  # 2 % calibration error
    keep = rng.random(len(xy)) > 0.2  # a fifth of the columns missed
    noisy = xy[keep] + rng.normal(0, 0.3, (keep.sum(), 2))
    noisy = np.vstack([noisy, rng.uniform(0, 128, (10, 2))])  # and 10 spurious points
    fit = fit_lattice(noisy, crystal, pixel_size=PS, shape=(128, 128))
    sites = fit.sites((128, 128))[["x", "y"]].to_numpy()
    inside = xy[(xy >= 0).all(1) & (xy < 128).all(1)]
    m = score_detections(sites, inside, shape=(128, 128), tolerance_px=0.5, margin_px=2.0)
    assert m.f1 == 1.0
    assert m.rmse_px < 0.1


def test_sublattice_shift_is_kept_in_the_sites():
    crystal, truth = _truth("srtio3-001", 128)
    xy = truth[["x", "y"]].to_numpy().copy()
    ti = truth["species"].to_numpy() != "Sr"
    xy[ti, 0] += 0.6  # a polar displacement of the Ti-O columns, 0.21 Å
    fit = fit_lattice(xy, crystal, pixel_size=PS, shape=(128, 128))
    shift = fit.site_offsets_px[1] - fit.site_offsets_px[0]  # Sr and TiO may swap: same positions
    np.testing.assert_allclose(np.abs(shift), [0.6, 0.0], atol=0.01)
    m = score_detections(fit.sites((128, 128))[["x", "y"]].to_numpy(), xy, shape=(128, 128), tolerance_px=0.5, margin_px=2.0)
    assert m.f1 == 1.0 and m.rmse_px < 0.01


def test_wrong_lattice_is_a_clear_error():
    _, truth = _truth("ybco-100", 128)
    img = _image(truth, (128, 128), noise=0.05, seed=0)
    found = truth[["x", "y"]].copy()
    with pytest.raises(ParameterError, match="lattice"):
        apply_lattice_prior(img, found, get_lattice("au-001"), pixel_size=PS)
    with pytest.raises(ParameterError, match="too few"):
        fit_lattice(found.to_numpy()[:5], get_lattice("ybco-100"), pixel_size=PS, shape=(128, 128))


def _image(truth: pd.DataFrame, shape: tuple[int, int], noise: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w = truth["weight"].to_numpy() / truth["weight"].max()
    img = render_columns(shape, truth["x"].to_numpy(), truth["y"].to_numpy(), w, sigma_px=1.8)
    return img + rng.normal(0, noise, shape)


def test_completes_missed_columns_and_drops_off_lattice_points():
    crystal, truth = _truth("srtio3-001", 96)
    img = _image(truth, (96, 96), noise=0.3, seed=0)
    rng = np.random.default_rng(0)
    xy = truth[["x", "y"]].to_numpy()
    found = xy[rng.random(len(xy)) > 0.25]  # a quarter missed
    found = np.vstack([found, [[30.3, 30.3], [60.1, 47.9], [12.2, 70.4]]])  # off-lattice points
    atoms, info = apply_lattice_prior(img, pd.DataFrame({"x": found[:, 0], "y": found[:, 1]}), crystal, pixel_size=PS)
    assert _f1(atoms, xy, img.shape).f1 == 1.0
    assert info.n_added >= 0.2 * len(xy) and info.n_dropped_off_lattice == 3
    amp = atoms.groupby("species")["amplitude"].median()  # Sr columns are ~2x brighter than TiO
    assert amp["Sr"] > 1.5 * amp["TiO"]
    assert set(atoms["source"]) == {"detected", "lattice"}


def test_visible_vacancies_are_not_filled():
    crystal, truth = _truth("srtio3-001", 96)
    rng = np.random.default_rng(3)
    vacant = rng.random(len(truth)) < 0.08
    img = _image(truth[~vacant], (96, 96), noise=0.05, seed=1)
    xy = truth[["x", "y"]].to_numpy()
    found = pd.DataFrame(xy[~vacant], columns=["x", "y"])
    atoms, info = apply_lattice_prior(img, found, crystal, pixel_size=PS)
    m = _f1(atoms, xy[~vacant], img.shape)
    assert m.precision == 1.0 and m.recall == 1.0
    assert info.n_added == 0


def test_empirical_bayes_shrinks_on_a_perfect_lattice_and_keeps_a_large_prior():
    crystal, truth = _truth("srtio3-001", 96)
    img = _image(truth, (96, 96), noise=0.1, seed=2)
    xy = truth[["x", "y"]].to_numpy()
    start = pd.DataFrame(xy + np.random.default_rng(2).normal(0, 0.3, xy.shape), columns=["x", "y"])
    auto, info = apply_lattice_prior(img, start, crystal, pixel_size=PS)
    loose, _ = apply_lattice_prior(img, start, crystal, pixel_size=PS, displacement_sigma_px=100.0)
    assert info.displacement_sigma_px < 0.1
    assert loose["shrink_weight"].min() > 0.99
    assert _f1(auto, xy, img.shape).rmse_px < 0.6 * _f1(loose, xy, img.shape).rmse_px


def test_real_displacements_survive_the_automatic_prior():
    """Random column displacements of 0.15 Å (0.43 px) per axis are estimated, not erased."""
    crystal, truth = _truth("srtio3-001", 128)
    rng = np.random.default_rng(4)
    moved = truth.copy()
    moved[["x", "y"]] += rng.normal(0, 0.43, (len(truth), 2))
    img = _image(moved, (128, 128), noise=0.02, seed=3)
    start = moved[["x", "y"]].copy()
    atoms, info = apply_lattice_prior(img, start, crystal, pixel_size=PS)
    assert 0.35 < info.displacement_sigma_px < 0.5
    assert _f1(atoms, moved[["x", "y"]].to_numpy(), img.shape).rmse_px < 0.1


def test_find_atoms_with_the_prior_beats_detection_alone_at_high_noise():
    sim = simulate_haadf("srtio3-001", size=96, pixel_size="0.45A", noise=0.5, seed=5)
    tol = 0.3 * sim.crystal.min_nn_distance_angstrom / 0.45
    kw = dict(lattice="srtio3-001", pixel_size="0.45A", trials=40, seed=0)
    plain = find_atoms(sim.image, lattice_prior=False, **kw)
    prior = find_atoms(sim.image, lattice_prior=True, **kw)
    f_plain = score_atoms(plain.atoms, sim).f1
    f_prior = score_atoms(prior.atoms, sim).f1
    assert f_prior >= 0.98 and f_prior > f_plain
    assert prior.summary["n_atoms"] == len(prior.atoms) == prior.summary["lattice_prior"]["n_present"]


def test_cli_lattice_prior(tmp_path):
    sim = simulate_haadf("srtio3-001", size=96, noise=0.2, seed=6)
    write_tiff(tmp_path / "img.tif", sim.image, pixel_size=sim.pixel_size)
    runner = CliRunner()
    res = runner.invoke(app, ["atoms", str(tmp_path / "img.tif"), "--out", str(tmp_path / "out"), "--lattice",
                              "srtio3-001", "--trials", "30", "--lattice-prior", "--no-progress"])
    assert res.exit_code == 0, res.output
    atoms = pd.read_csv(tmp_path / "out" / "atoms.csv")
    assert {"site", "species", "site_probability", "source", "shrink_weight"} <= set(atoms.columns)
    bad = runner.invoke(app, ["atoms", str(tmp_path / "img.tif"), "--out", str(tmp_path / "bad"), "--lattice",
                              "srtio3-001", "--lattice-prior", "--vacancy-prior", "0", "--no-progress"])
    assert bad.exit_code == 2 and not (tmp_path / "bad").exists()
    bad = runner.invoke(app, ["atoms", str(tmp_path / "img.tif"), "--out", str(tmp_path / "bad"), "--lattice",
                              "srtio3-001", "--lattice-prior", "--displacement-sigma", "fast", "--no-progress"])
    assert bad.exit_code == 2 and not (tmp_path / "bad").exists()

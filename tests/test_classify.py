"""Atom classes on simulated YBCO (known species), patches, cluster matching, CLI and bad inputs."""

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rewardscope.classify.clusters import match_clusters
from rewardscope.classify.patches import extract_patches, window_px
from rewardscope.classify.table import atom_positions
from rewardscope.errors import CalibrationError, FileFormatError, ParameterError
from rewardscope.simulate import simulate_haadf
from rewardscope.units import Length, parse_length
from rewardscope.workflows.classify import classify_atoms


@pytest.fixture(scope="module")
def sim():
    return simulate_haadf("ybco-100", size=160, amorphous_fraction=0.2, noise=0.2, seed=4)


@pytest.fixture(scope="module")
def result(sim):
    return classify_atoms(sim.image, sim.truth, pixel_size=sim.pixel_size, subclass="0:2", n_init=3)


def test_window_in_physical_length_is_odd_pixels():
    assert window_px("2.0nm", Length(0.35, "A")) == 57
    assert window_px(10, None) == 11
    with pytest.raises(ParameterError, match="pixel size"):
        window_px("2nm", None)


def test_patch_centre_is_the_pixel_under_the_atom():
    img = np.random.default_rng(0).random((30, 40))
    p = extract_patches(img, np.array([[7.0, 12.0], [0.0, 0.0]]), side=5)
    assert p.shape == (2, 5, 5)
    assert p[0, 2, 2] == pytest.approx(img[12, 7], abs=1e-6)
    assert p[0, 2, 4] == pytest.approx(img[12, 9], abs=1e-6)
    assert p[1, 0, 0] == pytest.approx(np.median(img), abs=1e-6)  # outside: the median


def test_hungarian_matching_of_clusters():
    mapping, acc = match_clusters([2, 2, 0, 0, 1, 1], ["Y", "Y", "Ba", "Ba", "Cu", "Ba"])
    assert mapping == {2: "Y", 0: "Ba", 1: "Cu"}
    assert acc == pytest.approx(5 / 6)


def test_clusters_map_one_to_one_onto_species_in_the_crystal(sim, result):
    atoms = result.atoms
    crystal = ~atoms["amorphous"].to_numpy()
    mapping, acc = match_clusters(atoms["class"][crystal], atoms["species"][crystal])
    assert sorted(mapping.values()) == ["Ba", "Cu", "CuO", "Y"]
    assert acc >= 0.95
    assert mapping[0] == "Ba"  # class 0 is the brightest
    assert atoms["class_probability"].between(0, 1).all()
    assert result.extras["mean_patches"].shape == (4, 57, 57)


def test_subclass_splits_ba_by_orientation(sim, result):
    atoms = result.atoms
    ba = atoms[(atoms["class"] == 0) & ~atoms["amorphous"] & (atoms["species"] == "Ba")]
    y = atoms[atoms["species"] == "Y"][["x", "y"]].to_numpy()
    from scipy.spatial import cKDTree

    _, idx = cKDTree(y).query(ba[["x", "y"]].to_numpy())
    d = y[idx] - ba[["x", "y"]].to_numpy()
    axis = int(np.argmax(np.abs(d).mean(axis=0)))
    orientation = np.sign(d[:, axis])  # Y above or below: the two Ba sites
    _, acc = match_clusters(ba["subclass"], orientation)
    assert acc >= 0.9
    assert (atoms.loc[atoms["class"] != 0, "subclass"] == -1).all()


def test_same_seed_same_classes(sim, result):
    again = classify_atoms(sim.image, sim.truth, pixel_size=sim.pixel_size, subclass="0:2", n_init=3)
    assert (again.atoms["class"] == result.atoms["class"]).all()


def test_classify_takes_every_input_and_lengths_in_any_unit(tmp_path, sim):
    from rewardscope.io import read_image, write_tiff

    write_tiff(tmp_path / "img.tif", sim.image, pixel_size=sim.pixel_size)
    img = read_image(tmp_path / "img.tif")
    base = classify_atoms(img.data, sim.truth, pixel_size=img.pixel_size, n_init=2)
    for source in (tmp_path / "img.tif", img):  # calibration from the file
        assert classify_atoms(source, sim.truth, n_init=2).atoms["class"].tolist() == base.atoms["class"].tolist()
    angstrom = classify_atoms(img, sim.truth, window="20A", n_init=2)
    assert angstrom.summary["window_px"] == base.summary["window_px"] == 57
    assert angstrom.atoms["class"].tolist() == base.atoms["class"].tolist()
    assert base.summary["config"]["window"] == "2.0nm" and angstrom.summary["config"]["window"] == "20.0A"
    assert parse_length(base.summary["config"]["pixel_size"]).angstrom == 0.35


def test_atoms_without_xy_are_rejected(sim):
    with pytest.raises(FileFormatError, match="x and y"):
        classify_atoms(sim.image, pd.DataFrame({"col": [1.0], "row": [2.0]}), pixel_size="0.35A")
    with pytest.raises(FileFormatError, match="x and y"):
        atom_positions(pd.DataFrame({"x": [1.0]}))


def test_fewer_atoms_than_classes_is_a_clear_error(sim):
    with pytest.raises(ParameterError, match="at least 4 atoms"):
        classify_atoms(sim.image, sim.truth.head(3), pixel_size="0.35A")


def test_missing_pixel_size_and_bad_subclass(sim):
    with pytest.raises(CalibrationError, match="pixel size"):
        classify_atoms(sim.image, sim.truth)
    with pytest.raises(ParameterError, match="CLASS:N"):
        classify_atoms(sim.image, sim.truth, pixel_size="0.35A", subclass="Ba")


def test_cli_classify_writes_outputs_and_exits_2_on_bad_atoms(tmp_path):
    from rewardscope.cli.main import app
    from rewardscope.io import write_tiff

    small = simulate_haadf("ybco-100", size=96, noise=0.1, seed=1)
    write_tiff(tmp_path / "img.tif", small.image, pixel_size=small.pixel_size)
    small.truth[["x", "y"]].to_csv(tmp_path / "atoms.csv", index=False)
    small.truth[["species"]].to_csv(tmp_path / "bad.csv", index=False)
    runner = CliRunner()
    ok = runner.invoke(app, ["classify", str(tmp_path / "img.tif"), "--atoms", str(tmp_path / "atoms.csv"),
                             "--out", str(tmp_path / "out"), "--classes", "4", "--window", "1.5nm"])
    assert ok.exit_code == 0, ok.output
    table = pd.read_csv(tmp_path / "out" / "atoms.csv")
    assert {"class", "class_probability"} <= set(table.columns) and len(table) == len(small.truth)
    assert (tmp_path / "out" / "classes.png").stat().st_size > 0
    assert (tmp_path / "out" / "summary.json").is_file()
    bad = runner.invoke(app, ["classify", str(tmp_path / "img.tif"), "--atoms", str(tmp_path / "bad.csv"),
                              "--out", str(tmp_path / "bad_out")])
    assert bad.exit_code == 2
    assert "x and y" in bad.output
    assert not (tmp_path / "bad_out").exists()

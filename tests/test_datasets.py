"""Shipped sample files (rewardscope.datasets) and shipped CIFs found by name."""

from __future__ import annotations

import numpy as np
import pytest

from rewardscope import datasets
from rewardscope.errors import FileFormatError, InputError
from rewardscope.io import read_image
from rewardscope.physics import from_cif, get_lattice

PO_CIF = """data_Po
_cell_length_a 3.359
_cell_length_b 3.359
_cell_length_c 3.359
_cell_angle_alpha 90
_cell_angle_beta 90
_cell_angle_gamma 90
_symmetry_space_group_name_H-M 'P 1'
loop_
_atom_site_label
_atom_site_type_symbol
_atom_site_fract_x
_atom_site_fract_y
_atom_site_fract_z
Po1 Po 0 0 0
"""


def test_hrtem_paths_read_as_the_sample():
    image, mask = datasets.sample_hrtem()
    assert datasets.hrtem_path().is_file() and datasets.hrtem_mask_path().is_file()
    np.testing.assert_array_equal(read_image(datasets.hrtem_path()).data, image)
    assert image.shape == (512, 512) and 0.05 < mask.mean() < 0.95


def test_haadf_sample_is_a_calibrated_simulated_image(tmp_path):
    path = datasets.haadf_sample(tmp_path / "h.tif", lattice="srtio3-001", pixel_size="0.3A", size=64, seed=2)
    img = read_image(path)
    assert img.data.shape == (64, 64) and img.pixel_size.angstrom == pytest.approx(0.3)
    expected = get_lattice("srtio3-001").expected_count(shape=(64, 64), pixel_size=img.pixel_size)
    from rewardscope.simulate import simulate_haadf

    sim = simulate_haadf("srtio3-001", pixel_size="0.3A", size=64, noise=0.1, seed=2)
    np.testing.assert_allclose(img.data, sim.image.astype(np.float32))
    assert abs(len(sim.truth) - expected) / expected < 0.15
    assert not list(tmp_path.glob(".*partial*"))


def test_haadf_sample_never_overwrites(tmp_path):
    mine = tmp_path / "mine.tif"
    mine.write_bytes(b"a user's file")
    with pytest.raises(InputError, match="does not overwrite"):
        datasets.haadf_sample(mine, size=32)
    assert mine.read_bytes() == b"a user's file"
    with pytest.raises(InputError, match=r"\.tif"):
        datasets.haadf_sample(tmp_path / "h.png", size=32)


def test_haadf_sample_default_is_written_once_and_reused():
    first = datasets.haadf_sample(size=48, seed=5)
    stamp = first.stat().st_mtime_ns
    assert datasets.haadf_sample(size=48, seed=5) == first and first.stat().st_mtime_ns == stamp
    assert datasets.haadf_sample(size=48, seed=6) != first


def test_shipped_cif_is_found_by_name_from_anywhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert from_cif("SrTiO3.cif", zone=(0, 0, 1)).n_visible_per_cell == 2
    assert from_cif("srtio3", zone=(0, 0, 1)).n_visible_per_cell == 2
    assert datasets.cif_path("SrTiO3.cif").is_file()


def test_a_users_cif_wins_over_the_shipped_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "SrTiO3.cif").write_text(PO_CIF)  # not SrTiO3 at all: simple cubic Po
    crystal = from_cif("SrTiO3.cif", zone=(0, 0, 1))
    assert crystal.n_visible_per_cell == 1


def test_missing_cif_lists_the_shipped_ones(tmp_path):
    with pytest.raises(FileFormatError, match=r"nope.cif: no such file \(CIFs shipped .*SrTiO3.cif.*\)"):
        from_cif("nope.cif", zone=(0, 0, 1))
    with pytest.raises(FileFormatError, match="no such file"):
        from_cif(tmp_path / "SrTiO3.cif", zone=(0, 0, 1))  # a path with a folder is taken as given
    with pytest.raises(FileFormatError, match="no shipped CIF"):
        datasets.cif_path("nope.cif")

"""Lattice physics against hand-computed values."""

from importlib.resources import files

import numpy as np
import pytest

from rewardscope.errors import FileFormatError, ParameterError
from rewardscope.physics import from_cif, get_lattice
from rewardscope.units import Length

PS = Length(0.35, "A")


def test_ybco_100_counts_and_distances():
    ybco = get_lattice("ybco-100")
    # cell b x c = 3.89 x 11.68 A, visible columns Y, 2 Ba, 3 Cu per cell
    assert ybco.cell_area_angstrom2 == pytest.approx(3.89 * 11.68)
    assert ybco.n_visible_per_cell == 6
    expected = 256 * 256 * 0.35 ** 2 * 6 / (3.89 * 11.68)
    assert ybco.expected_count(shape=(256, 256), pixel_size=PS) == pytest.approx(expected)
    # nearest visible neighbours of Y (0.5, 0.5): the four CuO2-plane columns at dx = b/2. Cu2 (z=0.3556)
    # and O2 (z=0.3779) are 0.26 A apart in projection and form one column centred by Z^1.7 weight.
    w_cu, w_o = 29 ** 1.7, 8 ** 1.7
    z_plane = (0.3556 * w_cu + 0.3779 * w_o) / (w_cu + w_o)
    d_y_cu = np.hypot(3.89 / 2, (0.5 - z_plane) * 11.68)
    assert ybco.min_nn_distance_angstrom == pytest.approx(d_y_cu, abs=1e-6)
    y_row = ybco.nn_distances_angstrom(k=4)[list(ybco.species[:6]).index("Y")]
    np.testing.assert_allclose(y_row, [d_y_cu] * 4, atol=1e-6)
    assert ybco.ideal_nn_sum_px(pixel_size=PS) == pytest.approx(4 * d_y_cu / 0.35)


def test_srtio3_001_counts_and_distances():
    sto = get_lattice("srtio3-001")
    a = 3.905
    assert sto.n_visible_per_cell == 2  # Sr and TiO columns; pure O columns invisible
    assert sto.expected_count(shape=(100, 200), pixel_size=PS) == pytest.approx(100 * 200 * 0.35 ** 2 * 2 / a ** 2)
    np.testing.assert_allclose(sto.nn_distances_angstrom(k=4), a / np.sqrt(2), atol=1e-9)
    assert sto.ideal_nn_sum_px(pixel_size=PS) == pytest.approx(4 * a / np.sqrt(2) / 0.35)
    weights = dict(zip(sto.species, sto.weight))
    assert weights["Sr"] == pytest.approx(38 ** 1.7) and weights["TiO"] == pytest.approx(22 ** 1.7 + 8 ** 1.7)


def test_cif_agrees_with_preset_for_srtio3():
    preset = get_lattice("srtio3-001")
    cif = from_cif(files("rewardscope.physics") / "cif" / "SrTiO3.cif", zone=(0, 0, 1))
    assert cif.cell_area_angstrom2 == pytest.approx(preset.cell_area_angstrom2)
    key = lambda c: sorted(zip(c.species, np.round(c.frac, 6).tolist(), np.round(c.weight, 6), c.visible))  # noqa: E731
    assert key(cif) == key(preset)


def test_other_presets_and_zone_axes():
    si = get_lattice("si-110")
    assert si.min_nn_distance_angstrom == pytest.approx(1.358, abs=2e-3)  # the [110] dumbbell
    au = get_lattice("au-001")
    assert au.min_nn_distance_angstrom == pytest.approx(4.078 / 2)
    assert get_lattice("ybco-010").n_visible_per_cell == 6


def test_positions_cover_image_with_expected_density():
    ybco = get_lattice("ybco-100")
    pos = ybco.positions(shape=(512, 512), pixel_size=PS, rotation_deg=13, visible_only=True)
    expected = ybco.expected_count(shape=(512, 512), pixel_size=PS)
    assert abs(len(pos) - expected) / expected < 0.02
    assert pos.x.between(0, 512).all() and pos.y.between(0, 512).all()


def test_bad_inputs(tmp_path):
    with pytest.raises(ParameterError):
        get_lattice("unobtainium")
    with pytest.raises(FileFormatError):
        from_cif(tmp_path / "missing.cif", zone=(0, 0, 1))
    (tmp_path / "bad.cif").write_text("this is not a cif")
    with pytest.raises(FileFormatError):
        from_cif(tmp_path / "bad.cif", zone=(0, 0, 1))
    with pytest.raises(ParameterError):
        from_cif(files("rewardscope.physics") / "cif" / "SrTiO3.cif", zone=(0, 0, 0))

"""The HAADF simulator's truth lands on the bright columns."""

import numpy as np
import pytest

from rewardscope.errors import CalibrationError, ParameterError
from rewardscope.physics import get_lattice
from rewardscope.simulate import simulate_haadf


def _quadratic_peak(image, x, y):
    """Sub-pixel maximum near (x, y): 3x3 quadratic fit around the local max pixel."""
    ix, iy = int(round(x)), int(round(y))
    win = image[iy - 2:iy + 3, ix - 2:ix + 3]
    dy, dx = np.unravel_index(np.argmax(win), win.shape)
    cy, cx = iy - 2 + dy, ix - 2 + dx
    c = image[cy - 1:cy + 2, cx - 1:cx + 2]
    ox = 0.5 * (c[1, 0] - c[1, 2]) / (c[1, 0] - 2 * c[1, 1] + c[1, 2])
    oy = 0.5 * (c[0, 1] - c[2, 1]) / (c[0, 1] - 2 * c[1, 1] + c[2, 1])
    return cx + ox, cy + oy


@pytest.mark.parametrize("lattice", ["ybco-100", "srtio3-001"])
def test_truth_on_bright_columns_at_noise_zero(lattice):
    sim = simulate_haadf(lattice, size=128, noise=0.0, rotation_deg=11, seed=4)
    inner = sim.truth[sim.truth.x.between(4, 123) & sim.truth.y.between(4, 123)]
    errors = [np.hypot(*np.subtract(_quadratic_peak(sim.image, x, y), (x, y))) for x, y in inner[["x", "y"]].to_numpy()]
    assert len(inner) > 100
    assert max(errors) < 0.5


def test_count_matches_lattice_physics():
    sim = simulate_haadf("ybco-100", size=256, noise=0.0, seed=0)
    expected = get_lattice("ybco-100").expected_count(shape=(256, 256), pixel_size=sim.pixel_size)
    assert abs(len(sim.truth) - expected) / expected < 0.03


def test_noise_level_and_seed():
    a = simulate_haadf("srtio3-001", size=64, noise=0.2, seed=7)
    b = simulate_haadf("srtio3-001", size=64, noise=0.2, seed=7)
    clean = simulate_haadf("srtio3-001", size=64, noise=0.0, seed=7)
    np.testing.assert_array_equal(a.image, b.image)
    assert np.std(a.image - clean.image) == pytest.approx(0.2, rel=0.05)
    assert clean.image.max() == pytest.approx(1.0)


def test_amorphous_patches_and_vacancies():
    sim = simulate_haadf("ybco-100", size=256, noise=0.0, amorphous_fraction=0.2, seed=3)
    assert sim.amorphous_mask.mean() == pytest.approx(0.2, abs=0.01)
    assert 0.1 < sim.truth.amorphous.mean() < 0.3
    full = simulate_haadf("ybco-100", size=256, noise=0.0, seed=3)
    holes = simulate_haadf("ybco-100", size=256, noise=0.0, vacancy_fraction=0.1, seed=3)
    assert len(holes.truth) / len(full.truth) == pytest.approx(0.9, abs=0.03)


def test_scan_distortion_moves_truth_with_the_image():
    sim = simulate_haadf("srtio3-001", size=128, noise=0.0, scan_distortion_px=2.0, seed=5)
    inner = sim.truth[sim.truth.x.between(5, 122) & sim.truth.y.between(5, 122)]
    errors = [np.hypot(*np.subtract(_quadratic_peak(sim.image, x, y), (x, y))) for x, y in inner[["x", "y"]].to_numpy()]
    assert np.median(errors) < 0.35


def test_bad_parameters():
    with pytest.raises(CalibrationError):
        simulate_haadf("ybco-100", pixel_size="-0.3A")
    with pytest.raises(ParameterError):
        simulate_haadf("ybco-100", size=4)
    with pytest.raises(ParameterError):
        simulate_haadf("nope")

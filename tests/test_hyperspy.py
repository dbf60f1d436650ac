"""HyperSpy signals in (every API entry point, calibration from the axes) and markers out (issue 16).

rewardscope reads signals duck-typed (``.data``, ``.axes_manager``) and never imports
hyperspy; these tests use the real thing (a dev dependency).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

hs = pytest.importorskip("hyperspy.api", reason="hyperspy (a dev dependency) is not installed")

import rewardscope as rs  # noqa: E402
from rewardscope.cli.main import app  # noqa: E402
from rewardscope.simulate import simulate_haadf, simulate_movie  # noqa: E402


def _signal(data, scale, units, offset=0.0):
    s = hs.signals.Signal2D(np.asarray(data))
    for axis in s.axes_manager.signal_axes:
        axis.scale, axis.units, axis.offset = scale, units, offset
    return s


@pytest.fixture(scope="module")
def haadf():
    return simulate_haadf("srtio3-001", size=64, pixel_size="0.35A", noise=0.1, seed=0)


def test_a_signal_at_0035_nm_per_px_gives_the_atoms_of_the_array_with_pixel_size_035A(haadf, tmp_path):
    signal = _signal(haadf.image, 0.035, "nm")
    from_signal = rs.find_atoms(signal, lattice="srtio3-001", trials=20, seed=0)
    assert from_signal.summary["pixel_size_angstrom"] == pytest.approx(0.35)
    np.save(tmp_path / "image.npy", haadf.image)
    done = CliRunner().invoke(app, ["atoms", str(tmp_path / "image.npy"), "--pixel-size", "0.35A", "--lattice",
                                    "srtio3-001", "--trials", "20", "--seed", "0", "--out", str(tmp_path / "out"),
                                    "--no-progress"])
    assert done.exit_code == 0, done.output
    from_cli = pd.read_csv(tmp_path / "out" / "atoms.csv")
    assert len(from_cli) == len(from_signal.atoms) > 0
    np.testing.assert_allclose(from_cli[["x", "y"]], from_signal.atoms[["x", "y"]], rtol=1e-5, atol=1e-4)


def test_every_entry_point_takes_a_signal2d_with_its_calibration(haadf):
    signal = _signal(haadf.image, 0.35, "Å")
    atoms = rs.find_atoms(signal, lattice="srtio3-001", trials=10).atoms
    classes = rs.classify_atoms(signal, atoms, classes=2)
    assert classes.pixel_size.angstrom == pytest.approx(0.35) and set(classes.atoms["class"]) == {0, 1}
    amorphous = rs.map_amorphous(signal, atoms=atoms, lattice="srtio3-001", trials=5)
    assert amorphous.pixel_size.angstrom == pytest.approx(0.35) and amorphous.mask.shape == (64, 64)

    sim = simulate_movie(frames=4, size=64, n_particles=3, seed=1)
    movie = _signal(sim.movie, sim.pixel_size.nm, "nm")  # (frames, rows, cols): frames on the navigation axis
    assert movie.axes_manager.navigation_shape == (4,)
    particles = rs.segment_image(_signal(sim.movie[0], sim.pixel_size.nm, "nm"), trials=8)
    assert particles.summary["pixel_size_angstrom"] == pytest.approx(sim.pixel_size.angstrom)
    assert "area_nm2" in particles.particles
    frames = rs.segment_movie(movie, trials=6, drift=False)
    assert sorted(frames.particles["frame"].unique()) == [0, 1, 2, 3]
    drift = rs.correct_drift(movie)
    err = np.hypot(drift.shifts.dx - sim.shifts.dx, drift.shifts.dy - sim.shifts.dy)
    assert float(np.sqrt(np.mean(err ** 2))) < 0.5
    tracks = rs.track_particles(movie, trials=6, drift=False)
    assert tracks.masks.shape == (4, 64, 64) and "area_nm2" in tracks.tracks


def test_a_signal_without_calibration_has_no_pixel_size():
    raw = hs.signals.Signal2D(np.random.default_rng(0).random((16, 16)))  # units <undefined>, scale 1
    assert rs.load_input(raw).pixel_size is None
    assert rs.load_input(raw, "0.35A").pixel_size.angstrom == 0.35  # the caller's value wins


def test_to_markers_places_points_in_the_signals_calibrated_axes(haadf):
    signal = _signal(haadf.image, 0.035, "nm", offset=1.0)
    result = rs.find_atoms(signal, lattice="srtio3-001", trials=10)
    markers = result.to_markers(signal=signal)
    expected = 1.0 + 0.035 * result.atoms[["x", "y"]].to_numpy()
    np.testing.assert_allclose(markers["offsets"], expected)
    np.testing.assert_allclose(result.to_markers()["offsets"], 0.035 * result.atoms[["x", "y"]].to_numpy())
    signal.add_marker(hs.plot.markers.Points(**markers), permanent=True)
    assert len(signal.metadata.Markers) == 1
    classes = rs.classify_atoms(signal, result.atoms, classes=2)
    colours = classes.to_markers(signal=signal)["color"]
    assert colours.shape == (len(classes.atoms), 4) and len({tuple(c) for c in colours}) == 2

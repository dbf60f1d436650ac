"""Drift correction: known sub-pixel shifts recovered, jumps flagged, clean crop, clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from skimage.registration import phase_cross_correlation
from typer.testing import CliRunner

from rewardscope.cli.main import app
from rewardscope.errors import ImageShapeError, ImageValueError, ParameterError
from rewardscope.io import open_stack, write_tiff
from rewardscope.simulate.movie import simulate_movie
from rewardscope.track import DriftConfig, apply_shifts, common_window, estimate_drift, flag_jumps
from rewardscope.workflows.drift import correct_drift

RUNNER = CliRunner()


def shifted_movie(shifts: np.ndarray, *, size: int = 128, margin: int = 32, seed: int = 0) -> np.ndarray:
    """Frames cut from one band-limited periodic field moved by exact Fourier shifts (content moves by +shift)."""
    rng = np.random.default_rng(seed)
    big = size + 2 * margin
    spec = np.fft.fft2(rng.standard_normal((big, big)))
    k = np.hypot(*np.meshgrid(np.fft.fftfreq(big), np.fft.fftfreq(big), indexing="ij"))
    spec *= np.exp(-((k - 0.12) / 0.06) ** 2)
    ky, kx = np.meshgrid(np.fft.fftfreq(big), np.fft.fftfreq(big), indexing="ij")
    frames = [np.fft.ifft2(spec * np.exp(-2j * np.pi * (kx * dx + ky * dy))).real[margin:-margin, margin:-margin]
              for dx, dy in shifts]
    return np.stack(frames).astype(np.float32)


@pytest.fixture(scope="module")
def sim():
    return simulate_movie(frames=24, size=128, n_particles=12, radius_px=8, jump_probability=0.15, noise=0.05, seed=4)


def _rms(est: pd.DataFrame, truth: pd.DataFrame) -> float:
    err = est[["dx", "dy"]].to_numpy() - truth[["dx", "dy"]].to_numpy()
    return float(np.sqrt((err**2).sum(axis=1).mean()))


@pytest.mark.parametrize("reference", ["mean", "first"])
def test_simulated_movie_with_jumps_recovered(sim, reference):
    assert sim.shifts.jump.sum() >= 2, "fixture must contain stage jumps"
    est = estimate_drift(sim.movie, config=DriftConfig(reference=reference))
    assert _rms(est, sim.shifts) < 0.1
    assert np.abs(est[["dx", "dy"]].to_numpy() - sim.shifts[["dx", "dy"]].to_numpy()).max() < 0.2
    assert est.jump.tolist() == sim.shifts.jump.tolist()


def test_previous_reference_follows_jumps(sim):
    est = estimate_drift(sim.movie, config=DriftConfig(reference="previous"))
    assert _rms(est, sim.shifts) < 0.3  # frame-to-frame errors accumulate: looser
    assert est.jump.tolist() == sim.shifts.jump.tolist()


def test_known_subpixel_shifts_and_agreement_with_skimage():
    truth = np.array([[0, 0], [0.35, -0.2], [1.7, 0.45], [-2.25, 3.1], [9.6, -7.3], [10.1, -6.85]])
    movie = shifted_movie(truth)
    est = estimate_drift(movie, config=DriftConfig(reference="first", upsample=50))
    np.testing.assert_allclose(est[["dx", "dy"]].to_numpy(), truth, atol=0.05)
    plain = phase_cross_correlation(movie[0], movie[3], upsample_factor=50, normalization=None)[0]
    np.testing.assert_allclose(-plain[::-1], est.loc[3, ["dx", "dy"]].to_numpy(float), atol=0.05)


def test_crop_has_no_border_and_frames_agree():
    truth = np.array([[0, 0], [2.5, -1.25], [5.3, 0.7], [-1.6, 3.4]])
    movie = shifted_movie(truth)
    res = correct_drift(movie, config=DriftConfig(reference="first"))
    rows, cols = common_window(truth, movie.shape[1:])
    assert res.aligned.shape == (4, rows.stop - rows.start, cols.stop - cols.start)
    assert (rows.start, rows.stop, cols.start, cols.stop) == (2, 124, 2, 122)
    assert np.isfinite(res.aligned).all()
    spread = np.abs(res.aligned - res.aligned[0]).max()  # aligned frames show the same field of view
    assert spread < 0.05 * np.ptp(res.aligned[0])
    edge_std = np.concatenate([res.aligned[:, 0], res.aligned[:, -1], res.aligned[:, :, 0].ravel()[None]], axis=None).std()
    assert edge_std > 0.5 * res.aligned.std()  # no flat (black or constant) border left


def test_nan_border_marks_exactly_the_missing_pixels():
    truth = np.array([[0, 0], [3.0, -2.0]])
    aligned = apply_shifts(shifted_movie(truth), truth, border="nan")
    assert aligned.shape == (2, 128, 128)
    assert not np.isnan(aligned[0]).any()
    nan_rows = np.where(np.isnan(aligned[1]).all(axis=1))[0]
    nan_cols = np.where(np.isnan(aligned[1]).all(axis=0))[0]
    assert nan_rows.tolist() == [0, 1] and nan_cols.tolist() == [125, 126, 127]


def test_flag_jumps_against_trend():
    steps = np.tile([1.0, 0.5], (12, 1))
    steps[0] = 0
    steps[6] = [8.0, -6.0]
    assert np.flatnonzero(flag_jumps(np.cumsum(steps, axis=0))).tolist() == [6]
    assert not flag_jumps(np.cumsum(np.tile([2.5, 0.0], (10, 1)), axis=0)).any()  # fast but steady drift


def test_bad_inputs_raise_clear_errors(sim):
    with pytest.raises(ImageShapeError, match="single image"):
        estimate_drift(sim.movie[0])
    with pytest.raises(ImageShapeError, match="different sizes"):
        estimate_drift([sim.movie[0], sim.movie[1][:100]])
    with pytest.raises(ImageValueError, match="identical"):
        estimate_drift(np.repeat(sim.movie[:1], 5, axis=0))
    bad = sim.movie[:3].copy()
    bad[1, 5, 5] = np.nan
    with pytest.raises(ImageValueError, match="frame 1"):
        estimate_drift(bad)
    with pytest.raises(ParameterError, match="common field of view"):
        common_window(np.array([[0, 0], [200, 0]]), (128, 128))


def test_cli_writes_outputs_and_matches_truth(tmp_path, sim):
    write_tiff(tmp_path / "movie.tif", sim.movie, pixel_size=sim.pixel_size)
    out = tmp_path / "drift"
    result = RUNNER.invoke(app, ["drift", str(tmp_path / "movie.tif"), "--out", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} == {"aligned.tif", "shifts.csv", "drift.png", "summary.json",
                                               ".rewardscope.json", "index.html"}
    est = pd.read_csv(out / "shifts.csv")
    assert list(est.columns) == ["frame", "dx", "dy", "jump"]
    assert _rms(est, sim.shifts) < 0.1
    aligned = open_stack(out / "aligned.tif")
    assert len(aligned) == 24 and aligned.pixel_size.angstrom == pytest.approx(0.5)
    assert np.isfinite(aligned.read(0, 24)).all()
    zarr_out = tmp_path / "z"
    result = RUNNER.invoke(app, ["drift", str(tmp_path / "movie.tif"), "--out", str(zarr_out), "--format", "zarr",
                                 "--border", "nan", "--no-progress"])
    assert result.exit_code == 0, result.output
    assert open_stack(zarr_out / "aligned.zarr").shape == (24, 128, 128)


@pytest.mark.parametrize("case", ["single", "constant", "option"])
def test_cli_bad_input_exit_2_and_no_output(tmp_path, sim, case):
    movie = {"single": sim.movie[0], "constant": np.repeat(sim.movie[:1], 4, axis=0), "option": sim.movie[:4]}[case]
    write_tiff(tmp_path / "in.tif", movie)
    args = ["drift", str(tmp_path / "in.tif"), "--out", str(tmp_path / "out"), "--no-progress"]
    result = RUNNER.invoke(app, args + (["--reference", "last"] if case == "option" else []))
    assert result.exit_code == 2
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["in.tif"]  # no partial folder left behind


def test_correct_drift_streams_aligned_frames_like_in_memory(tmp_path, sim):
    in_memory = correct_drift(sim.movie, reference="first")
    streamed = correct_drift(sim.movie, reference="first", pixel_size="0.5A", aligned_path=tmp_path / "aligned")
    pd.testing.assert_frame_equal(streamed.shifts, in_memory.shifts)
    assert streamed.aligned is None and streamed.aligned_path == tmp_path / "aligned.tif"
    on_disk = open_stack(streamed.aligned_path)
    assert on_disk.pixel_size.angstrom == pytest.approx(0.5)
    assert np.array_equal(on_disk.read(0, len(on_disk)), in_memory.aligned)
    assert streamed.summary["aligned_shape"] == list(in_memory.aligned.shape)
    assert streamed.summary["config"]["reference"] == "first" and streamed.summary["aligned"] == "aligned.tif"

"""Movie simulator: truth masks, tracks, merges and shifts consistent with the frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from skimage.registration import phase_cross_correlation
from typer.testing import CliRunner

from rewardscope.cli.main import app
from rewardscope.errors import CalibrationError, ParameterError
from rewardscope.io import read_image
from rewardscope.simulate.movie import MovieConfig, simulate_movie

RUNNER = CliRunner()


@pytest.fixture(scope="module")
def crowded():
    """Dense, fast-growing particles: merges must happen."""
    return simulate_movie(frames=30, size=128, n_particles=30, radius_px=7, growth_rate=0.15, diffusion=0.3,
                          jump_probability=0.1, seed=7)


def test_same_seed_same_movie():
    a = simulate_movie(frames=5, size=64, n_particles=4, seed=3)
    b = simulate_movie(frames=5, size=64, n_particles=4, seed=3)
    c = simulate_movie(frames=5, size=64, n_particles=4, seed=4)
    np.testing.assert_array_equal(a.movie, b.movie)
    np.testing.assert_array_equal(a.masks, b.masks)
    pd.testing.assert_frame_equal(a.tracks, b.tracks)
    assert not np.array_equal(a.movie, c.movie)


def test_masks_match_track_table(crowded):
    for frame, rows in crowded.tracks.groupby("frame"):
        labels = crowded.masks[frame]
        assert set(np.unique(labels)) - {0} == set(rows.track_id)
        for row in rows.itertuples():
            assert (labels == row.track_id).sum() == row.area_px
    full = crowded.tracks[~crowded.tracks.touches_border]
    assert (np.abs(full.area_px - np.pi * full.radius_px**2) <= np.pi * full.radius_px + 1).all()  # half a perimeter
    px_nm2 = crowded.pixel_size.nm ** 2
    np.testing.assert_allclose(crowded.tracks.area_nm2, crowded.tracks.area_px * px_nm2)


def test_merges_happen_when_particles_touch(crowded):
    merges = crowded.events
    assert set(merges.event) == {"merge"}
    assert len(merges) >= 2
    tracks = crowded.tracks
    for ev in merges.itertuples():
        parents = [int(p) for p in ev.parents.split()]
        present = set(tracks[tracks.frame == ev.frame].track_id)
        assert len(parents) >= 2 and not set(parents) & present and ev.child in present
        assert tracks[tracks.track_id == ev.child].frame.min() == ev.frame  # frame = the child's first frame
        assert ev.gap_px < 1.5 or np.isnan(ev.gap_px)  # they were (almost) touching the frame before
    assert merges.gap_px.notna().any()
    for _, rows in tracks.groupby("frame"):  # and no two live particles ever overlap
        xy, r = rows[["x", "y"]].to_numpy(), rows.radius_px.to_numpy()
        dist = np.hypot(*(xy[:, None] - xy[None]).transpose(2, 0, 1))
        np.fill_diagonal(dist, np.inf)
        assert (dist > r[:, None] + r[None]).all()


def test_ostwald_ripening_without_growth():
    sim = simulate_movie(frames=60, size=128, n_particles=20, radius_px=6, radius_spread=0.5, growth_rate=0.0,
                         ripening_rate=6.0, diffusion=0.0, jump_probability=0.0, seed=2)
    first, last = sim.tracks[sim.tracks.frame == 0], sim.tracks[sim.tracks.frame == 59]
    survivors = set(first.track_id) & set(last.track_id)
    assert (sim.lineage.fate == "dissolved").sum() >= 1
    big = first.set_index("track_id").radius_px.idxmax()
    assert big in survivors
    assert last.set_index("track_id").radius_px[big] > first.set_index("track_id").radius_px[big]


def test_truth_shifts_match_frames(crowded):
    for i in (1, 5, 12):
        shift = phase_cross_correlation(crowded.movie[0], crowded.movie[i], upsample_factor=20, normalization=None)[0]
        truth = crowded.shifts.loc[i, ["dx", "dy"]].to_numpy(float)
        np.testing.assert_allclose(-shift[::-1], truth, atol=0.15)
    assert crowded.shifts.jump.any()
    steps = np.linalg.norm(np.diff(crowded.shifts[["dx", "dy"]].to_numpy(), axis=0), axis=1)
    assert steps[crowded.shifts.jump.to_numpy()[1:]].min() > 5 > steps[~crowded.shifts.jump.to_numpy()[1:]].max()


def test_particles_darker_than_support(crowded):
    frame = crowded.movie[10]
    assert frame[crowded.masks[10] > 0].mean() < frame[crowded.masks[10] == 0].mean() - 0.08


def test_bad_parameters():
    with pytest.raises(ParameterError, match="frames"):
        simulate_movie(frames=1)
    with pytest.raises(CalibrationError):
        simulate_movie(pixel_size="0.5 parsec")
    with pytest.raises(ParameterError):
        simulate_movie(MovieConfig(), colour="red")


def test_cli_writes_movie_and_truth(tmp_path):
    out = tmp_path / "sim"
    result = RUNNER.invoke(app, ["simulate", "movie", "--out", str(out), "--frames", "6", "--size", "64",
                                 "--particles", "5", "--pixel-size", "0.04nm", "--seed", "1"])
    assert result.exit_code == 0, result.output
    names = {p.name for p in out.iterdir()}
    assert names == {"movie.tif", "truth_masks.tif", "truth_shifts.csv", "truth_tracks.csv", "truth_events.csv",
                     "truth_lineage.csv", "summary.json", ".rewardscope.json", "index.html"}
    img = read_image(out / "movie.tif")
    assert img.data.shape == (6, 64, 64) and img.pixel_size.angstrom == pytest.approx(0.4)
    assert read_image(out / "truth_masks.tif").data.dtype == np.uint16
    assert list(pd.read_csv(out / "truth_events.csv").columns) == ["frame", "event", "parents", "child", "gap_px"]
    bad = RUNNER.invoke(app, ["simulate", "movie", "--out", str(tmp_path / "bad"), "--frames", "1"])
    assert bad.exit_code == 2 and not (tmp_path / "bad").exists()


def test_lineage_follows_the_linking_convention(crowded):
    lineage, tracks = crowded.lineage, crowded.tracks
    span = tracks.groupby("track_id").frame.agg(["min", "max"])
    assert lineage.set_index("track_id")[["start", "end"]].to_numpy().tolist() == span.to_numpy().tolist()
    for ev in crowded.events.itertuples():  # a merge ends every parent the frame before the child starts
        row = lineage.set_index("track_id").loc[ev.child]
        assert row.parents == ev.parents
        for p in map(int, ev.parents.split()):
            assert lineage.set_index("track_id").loc[p, "end"] < ev.frame
            assert lineage.set_index("track_id").loc[p, "fate"] == "merged"


def test_three_particles_fusing_in_one_frame_are_one_merge_with_three_parents():
    sim = simulate_movie(frames=60, size=128, n_particles=0, merge_triples=1, approach_speed=0.4, growth_rate=0.0,
                         ripening_rate=0.0, diffusion=0.0, drift_speed=0.0, jump_probability=0.0, seed=1)
    assert len(sim.events) == 1
    ev = sim.events.iloc[0]
    assert len(ev.parents.split()) == 3 and 5 < ev.frame < 55
    assert sim.lineage.track_id.tolist() == [1, 2, 3, int(ev.child)]  # no track of zero frames in between
    area_before = sim.tracks[sim.tracks.frame == ev.frame - 1].area_px.sum()
    area_after = sim.tracks[sim.tracks.frame == ev.frame].area_px.sum()
    assert area_after == pytest.approx(area_before * 3 ** (2 / 3) / 3, rel=0.1)  # volume kept


def test_crossing_particles_enter_and_leave_at_the_edge():
    sim = simulate_movie(frames=80, size=128, n_particles=0, crossing=2, crossing_speed=1.0, growth_rate=0.0,
                         ripening_rate=0.0, diffusion=0.0, drift_speed=0.0, jump_probability=0.0, seed=4)
    leaving, entering = (sim.tracks[sim.tracks.track_id == t].sort_values("frame") for t in (1, 2))
    assert leaving.frame.min() == 0 and leaving.frame.max() < 79 and leaving.touches_border.iloc[-1]
    assert entering.frame.min() > 0 and entering.frame.max() == 79 and entering.touches_border.iloc[0]


def test_low_dose_gives_poisson_counts_and_flicker_changes_brightness():
    sim = simulate_movie(frames=6, size=64, n_particles=0, dose=20.0, flicker=0.1, seed=0)
    counts = sim.movie * 20.0
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-3)  # whole counts
    assert counts.mean() == pytest.approx(0.6 * 20, rel=0.15)
    assert counts.var() > 0.8 * counts.mean()  # Poisson: variance >= mean
    assert np.std(sim.movie.mean(axis=(1, 2))) > 0.02  # 10 % flicker of a 0.6 level

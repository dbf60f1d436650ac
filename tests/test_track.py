"""Particle tracking (issue 12): linking, lineage convention, rewards, workflow, CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rewardscope.rewards.tracks import (TrackRewardContext, area_conservation, fragmentation, motion,
                                        step_scale_px, track_steps)
from rewardscope.track.linking import Linked, LinkParams, link_overlap, link_tracks


def _row(frame: int, x: float, y: float, area: float = 80.0, label: int = 1) -> dict:
    return {"frame": frame, "label": label, "x": x, "y": y, "area_px": area}


def _merging_pair() -> pd.DataFrame:
    """Two particles approach along y = 30 and merge at frame 4 into one of twice the area."""
    rows = []
    for f in range(4):
        rows += [_row(f, 20.0 + 2 * f, 30.0, label=1), _row(f, 40.0 - 2 * f, 30.0, label=2)]
    rows += [_row(f, 30.0, 30.0, 160.0) for f in range(4, 8)]
    return pd.DataFrame(rows)


def _context(tracks: pd.DataFrame, n_frames: int, shape: tuple[int, int] = (64, 64)) -> TrackRewardContext:
    return TrackRewardContext(frame_shape=shape, n_frames=n_frames, step_scale_px=step_scale_px(tracks),
                              detections_per_frame=len(tracks) / n_frames)


# --------------------------------------------------------------------------- linking


def test_two_particles_merging_give_one_merge_with_the_right_parents_and_frame():
    linked = link_tracks(_merging_pair(), LinkParams(max_displacement_px=4, merge_distance_px=8))
    assert linked.events.to_dict("records") == [{"frame": 4, "event": "merge", "parents": "1 2", "child": 3}]
    assert linked.lineage.to_dict("records") == [
        {"track_id": 1, "start": 0, "end": 3, "parents": ""}, {"track_id": 2, "start": 0, "end": 3, "parents": ""},
        {"track_id": 3, "start": 4, "end": 7, "parents": "1 2"}]
    first = linked.tracks[linked.tracks.frame == 0].sort_values("x")
    assert first.track_id.tolist() == [1, 2]


def test_without_merging_one_parent_continues_and_the_other_ends():
    linked = link_tracks(_merging_pair(), LinkParams(max_displacement_px=4, merge_distance_px=None))
    assert linked.events.empty and linked.tracks.track_id.nunique() == 2


def test_a_gap_of_one_missed_frame_is_closed_and_not_without_gap_closing():
    rows = pd.DataFrame([_row(f, 10.0 + f, 20.0) for f in range(6) if f != 2])
    assert link_tracks(rows, LinkParams(max_displacement_px=3, gap_frames=1, gap_distance_px=3)).tracks.track_id.nunique() == 1
    assert link_tracks(rows, LinkParams(max_displacement_px=3, gap_frames=0)).tracks.track_id.nunique() == 2


def test_overlap_linking_finds_the_same_merge():
    labels = np.zeros((6, 40, 60), np.int32)
    yy, xx = np.mgrid[:40, :60]
    rows = []
    for f in range(6):
        if f < 3:
            for lab, cx in ((1, 20 + 2 * f), (2, 40 - 2 * f)):
                labels[f][(yy - 20) ** 2 + (xx - cx) ** 2 < 36] = lab
                rows.append(_row(f, cx, 20, label=lab))
        else:
            labels[f][(yy - 20) ** 2 + (xx - 30) ** 2 < 100] = 1
            rows.append(_row(f, 30, 20, label=1))
    linked = link_overlap(labels, pd.DataFrame(rows), LinkParams(merge_distance_px=10))
    assert linked.events[["frame", "event", "parents", "child"]].to_dict("records") == [
        {"frame": 3, "event": "merge", "parents": "1 2", "child": 3}]


# --------------------------------------------------------------------------- rewards


def test_step_scale_and_steps_are_exact():
    d = pd.DataFrame({"frame": [0, 0, 1, 1], "track_id": [1, 2, 1, 2], "x": [0.0, 20.0, 3.0, 20.0],
                      "y": [0.0, 0.0, 4.0, 1.0]})
    assert step_scale_px(d) == pytest.approx(3.0)  # median of 5 and 1
    assert sorted(track_steps(d).tolist()) == pytest.approx([1.0, 5.0])


def test_a_particle_leaving_at_the_edge_is_not_a_fragmentation_but_one_vanishing_inside_is():
    leaving = pd.DataFrame([_row(f, 50.0 + 3 * f, 30.0, area=50.0) for f in range(4)])  # x = 59: at the edge
    inside = pd.DataFrame([_row(f, 20.0 + f, 30.0, area=50.0) for f in range(4)])
    for rows, expected in ((leaving, 0.0), (inside, 1.0)):
        linked = link_tracks(rows, LinkParams(max_displacement_px=5))
        assert fragmentation(linked, _context(rows, n_frames=6)) == pytest.approx(expected)


def test_fragmentation_counts_a_broken_track_and_exempts_merges():
    rows = pd.DataFrame([_row(f, 20.0 + 2 * f, 30.0) for f in range(6)])
    ctx = _context(rows, n_frames=6)
    whole = link_tracks(rows, LinkParams(max_displacement_px=3))
    broken = link_tracks(rows, LinkParams(max_displacement_px=1.5, gap_frames=0, merge_distance_px=None))  # too short
    assert fragmentation(whole, ctx) == 0.0
    assert fragmentation(broken, ctx) == pytest.approx(10.0)  # 5 bad starts + 5 bad ends, 1 detection per frame
    pair = _merging_pair()
    merged = link_tracks(pair, LinkParams(max_displacement_px=4, merge_distance_px=8))
    assert fragmentation(merged, _context(pair, n_frames=8)) == 0.0


def test_area_conservation_is_the_relative_area_error_at_merges():
    pair = _merging_pair()
    ctx = _context(pair, n_frames=8)
    assert area_conservation(link_tracks(pair, LinkParams(max_displacement_px=4, merge_distance_px=8)), ctx) == 0.0
    pair.loc[pair.frame >= 4, "area_px"] = 240.0  # 1.5x the parents' sum: 56 px above the widened interval
    assert area_conservation(link_tracks(pair, LinkParams(max_displacement_px=4, merge_distance_px=8)), ctx) \
        == pytest.approx((240 - 1.15 * 160) / (1.15 * 160) / ctx.detections_per_frame)
    pair.loc[pair.frame >= 4, "area_px"] = 80.0  # one parent's area: below one sphere of both volumes
    low = 0.85 * (2 * 80 ** 1.5) ** (2 / 3)
    assert area_conservation(link_tracks(pair, LinkParams(max_displacement_px=4, merge_distance_px=8)), ctx) \
        == pytest.approx((low - 80) / low / ctx.detections_per_frame)


def test_a_swapped_identity_scores_worse_motion_than_the_correct_linking():
    rows = []
    for f in range(8):
        rows += [_row(f, 10.0 + f, 20.0, label=1), _row(f, 10.0 + f, 32.0, label=2)]
    det = pd.DataFrame(rows)
    correct = link_tracks(det, LinkParams(max_displacement_px=3))
    ids = correct.tracks.track_id.to_numpy().copy()
    late = (correct.tracks.frame >= 4).to_numpy()
    swapped_ids = np.where(late, 3 - ids, ids)  # tracks 1 and 2 swap at frame 4
    swapped = Linked(correct.tracks.assign(track_id=swapped_ids), correct.lineage, correct.events)
    ctx = _context(det, n_frames=8)
    assert motion(correct, ctx) == 0.0  # every step 1 px, scale 1 px: ordinary steps are free
    # two of the 14 links jump 12 px: (log(1 + 12**2 + 1) - log(10)) * 2 / 14
    assert motion(swapped, ctx) == pytest.approx((np.log1p(145) - np.log(10)) * 2 / 14, rel=1e-6)
    assert fragmentation(swapped, ctx) == fragmentation(correct, ctx) == 0.0


# --------------------------------------------------------------------------- workflow and CLI


def _merging_movie() -> tuple[np.ndarray, np.ndarray]:
    """Two discs approach and fuse at frame 4 (masks and a dark-particle movie), 48 x 64 px."""
    yy, xx = np.mgrid[:48, :64]
    masks = np.zeros((8, 48, 64), np.int32)
    for f in range(8):
        if f < 4:
            masks[f][(yy - 24) ** 2 + (xx - 18 - 2 * f) ** 2 < 25] = 1
            masks[f][(yy - 24) ** 2 + (xx - 46 + 2 * f) ** 2 < 25] = 2
        else:
            masks[f][(yy - 24) ** 2 + (xx - 32) ** 2 < 50] = 1
    movie = 1.0 - 0.5 * (masks > 0) + np.random.default_rng(0).normal(0, 0.02, masks.shape)
    return movie, masks


def test_track_particles_finds_the_merge_and_writes_track_id_masks():
    from rewardscope import track_particles

    movie, masks = _merging_movie()
    res = track_particles(movie, masks=masks, drift=False, trials=12, seed=3, pixel_size="0.5A")
    assert res.events.to_dict("records") == [{"frame": 4, "event": "merge", "parents": "1 2", "child": 3}]
    assert list(res.tracks.columns) == ["frame", "track_id", "x", "y", "x_aligned", "y_aligned", "area_px",
                                        "area_nm2", "equivalent_diameter_nm"]
    assert set(np.unique(res.masks[5])) == {0, 3} and set(np.unique(res.masks[0])) == {0, 1, 2}
    row = res.tracks[(res.tracks.frame == 0) & (res.tracks.track_id == 1)].iloc[0]
    assert row.x == pytest.approx(18.0) and row.area_px == (masks[0] == 1).sum()
    assert row.area_nm2 == pytest.approx(row.area_px * 0.0025)
    again = track_particles(movie, masks=masks, drift=False, trials=12, seed=3, pixel_size="0.5A")
    assert again.summary["best_params"] == res.summary["best_params"]  # same seed, same choice


def test_cli_track_writes_the_outputs_and_rejects_bad_inputs(tmp_path):
    from typer.testing import CliRunner

    from rewardscope.cli.main import app

    movie, masks = _merging_movie()
    np.save(tmp_path / "movie.npy", movie.astype(np.float32))
    np.save(tmp_path / "masks.npy", masks)
    np.save(tmp_path / "one.npy", movie[:1].astype(np.float32))
    np.save(tmp_path / "small.npy", masks[:, :40])
    np.save(tmp_path / "float.npy", masks + 0.5)
    np.save(tmp_path / "empty.npy", np.zeros_like(masks))
    runner = CliRunner()
    out = tmp_path / "out"
    ok = runner.invoke(app, ["track", str(tmp_path / "movie.npy"), "--out", str(out), "--masks",
                             str(tmp_path / "masks.npy"), "--no-drift", "--trials", "12", "--seed", "3", "--no-progress"])
    assert ok.exit_code == 0, ok.output
    events = pd.read_csv(out / "events.csv", dtype={"parents": str})
    assert events.to_dict("records") == [{"frame": 4, "event": "merge", "parents": "1 2", "child": 3}]
    lineage = pd.read_csv(out / "lineage.csv", keep_default_na=False, dtype={"parents": str})
    assert lineage.parents.tolist() == ["", "", "1 2"]
    assert {"masks.tif", "tracks.csv", "summary.json"} <= {p.name for p in out.iterdir()}
    for args in (["one.npy"], ["movie.npy", "--masks", "small.npy"], ["movie.npy", "--masks", "float.npy"],
                 ["movie.npy", "--masks", "empty.npy"]):
        bad = tmp_path / "bad"
        res = runner.invoke(app, ["track", str(tmp_path / args[0]), "--out", str(bad), *[
            str(tmp_path / a) if a.endswith(".npy") else a for a in args[1:]], "--trials", "4", "--no-progress"])
        assert res.exit_code == 2, (args, res.output)
        lines = [line for line in res.output.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("rewardscope: error:"), res.output
        assert not bad.exists()


# --------------------------------------------------------------------------- issue 12: more known truth


def test_three_particles_fusing_in_one_frame_give_one_merge_with_three_parents():
    from rewardscope.simulate.movie import simulate_movie
    from rewardscope.workflows.tracking import track_particles

    sim = simulate_movie(frames=40, size=96, n_particles=0, merge_triples=1, approach_speed=0.5, growth_rate=0.0,
                         ripening_rate=0.0, diffusion=0.0, drift_speed=0.0, jump_probability=0.0, seed=1)
    truth = sim.events.iloc[0]
    assert len(truth.parents.split()) == 3
    res = track_particles(sim.movie, masks=sim.masks.astype(np.int32), drift=False, trials=16, seed=0)
    assert len(res.events) == 1
    ev = res.events.iloc[0]
    assert ev.frame == truth.frame and len(ev.parents.split()) == 3
    assert res.lineage.parents.tolist() == ["", "", "", ev.parents]


def test_a_missed_frame_and_empty_frames_are_bridged_by_the_workflow():
    movie, masks = _merging_movie()
    masks = masks.copy()
    masks[2] = 0  # no particle at all in frame 2: fine, gap closing bridges it
    res = track_particles_quiet(movie, masks)
    assert res.events.to_dict("records") == [{"frame": 4, "event": "merge", "parents": "1 2", "child": 3}]
    assert res.lineage.start.tolist() == [0, 0, 4] and 2 not in set(res.tracks.frame)


def track_particles_quiet(movie, masks, **kw):
    from rewardscope.workflows.tracking import track_particles

    return track_particles(movie, masks=masks, drift=False, trials=16, seed=1, **kw)


def test_masks_can_be_streamed_and_equal_the_in_memory_ones(tmp_path):
    import tifffile

    movie, masks = _merging_movie()
    kept = track_particles_quiet(movie, masks)
    streamed = track_particles_quiet(movie, masks, masks_path=tmp_path / "m.tif")
    assert "masks" not in streamed.arrays and streamed.summary["masks"] == "streamed to file"
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "m.tif"), kept.masks)


def test_tune_frames_window_links_the_whole_movie_with_the_chosen_cut_offs():
    movie, masks = _merging_movie()
    res = track_particles_quiet(movie, masks, tune_frames=6)  # the study sees frames 0-5 only
    assert res.summary["tune_frames"] == 6 and res.summary["best_values"]  # chosen on the window
    assert res.events.to_dict("records") == [{"frame": 4, "event": "merge", "parents": "1 2", "child": 3}]
    assert res.lineage.to_dict("records")[-1] == {"track_id": 3, "start": 4, "end": 7, "parents": "1 2"}


def test_figures_and_gif_show_the_tracks(tmp_path):
    from PIL import Image

    from rewardscope.report.tracks import save_track_figures, track_colour

    movie, masks = _merging_movie()
    res = track_particles_quiet(movie, masks, pixel_size="0.5A")
    paths = save_track_figures(res, tmp_path, frames=movie)
    assert [p.name for p in paths] == ["outlines.png", "sizes_per_frame.png", "areas.png", "lineage.png",
                                       "tracks.gif"]
    gif = Image.open(tmp_path / "tracks.gif")
    assert gif.n_frames == 8  # every frame of a short movie
    gif.seek(5)
    rgb = np.asarray(gif.convert("RGB"))
    outline = rgb[24, 32 - 7]  # left edge of the merged particle (track 3) in frame 5
    colours = {tuple(c) for c in rgb.reshape(-1, 3)}
    assert track_colour(3) in colours and track_colour(1) not in colours  # frame 5 shows only track 3
    assert tuple(outline) == track_colour(3)
    gif.seek(0)
    first = {tuple(c) for c in np.asarray(gif.convert("RGB")).reshape(-1, 3)}
    assert {track_colour(1), track_colour(2)} <= first and track_colour(3) not in first


def test_long_movies_give_a_subsampled_downscaled_gif(tmp_path):
    from PIL import Image

    from rewardscope.report.tracks import write_tracks_gif

    masks = np.zeros((100, 400, 400), np.uint16)
    masks[:, 100:140, 100:140] = 1
    tracks = pd.DataFrame({"frame": range(100), "track_id": 1, "x": 120.0, "y": 120.0})
    gif = Image.open(write_tracks_gif(np.ones((100, 400, 400)), masks, tracks, tmp_path / "t.gif", max_frames=20,
                                      max_side=200))
    assert gif.n_frames == 20 and gif.size == (200, 200)


def test_cli_rejects_a_single_image_and_a_movie_without_particles(tmp_path):
    from typer.testing import CliRunner

    from rewardscope.cli.main import app

    movie, masks = _merging_movie()
    np.save(tmp_path / "image.npy", movie[0].astype(np.float32))  # a 2-D image
    np.save(tmp_path / "movie.npy", movie.astype(np.float32))
    np.save(tmp_path / "empty.npy", np.zeros_like(masks))
    runner = CliRunner()
    for args in (["image.npy"], ["movie.npy", "--masks", "empty.npy"]):
        bad = tmp_path / "bad"
        res = runner.invoke(app, ["track", *[str(tmp_path / a) if a.endswith(".npy") else a for a in args],
                                  "--out", str(bad), "--no-drift", "--trials", "4", "--no-progress"])
        assert res.exit_code == 2, res.output
        lines = [line for line in res.output.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("rewardscope: error:"), res.output
        assert not bad.exists()


# --------------------------------------------------------------------------- issue 13: learned segmenters in track


def test_track_with_the_shipped_unet_finds_the_merge():
    from rewardscope import track_particles

    movie, _ = _merging_movie()
    movie = np.kron(movie, np.ones((1, 3, 3)))  # 144 x 192 px: discs of the size the U-Net was trained on
    res = track_particles(movie, segmenter="unet", drift=False, trials=12, seed=3)
    assert res.events.to_dict("records") == [{"frame": 4, "event": "merge", "parents": "1 2", "child": 3}]
    assert res.lineage.parents.tolist() == ["", "", "1 2"] and res.summary["segmenter"] == "unet"


@pytest.mark.parametrize("args", [["--segmenter", "unet", "--model", "missing.pt"],
                                  ["--segmenter", "autoencoder"],
                                  ["--segmenter", "classical", "--model", "movie.npy"]])
def test_cli_track_rejects_a_bad_learned_segmenter_model(tmp_path, args):
    from typer.testing import CliRunner

    from rewardscope.cli.main import app

    np.save(tmp_path / "movie.npy", _merging_movie()[0].astype(np.float32))
    args = [str(tmp_path / a) if a.endswith((".pt", ".npy")) else a for a in args]
    res = CliRunner().invoke(app, ["track", str(tmp_path / "movie.npy"), "--out", str(tmp_path / "out"), *args,
                                   "--no-progress"])
    assert res.exit_code == 2, res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("rewardscope: error:"), res.output
    assert not (tmp_path / "out").exists()


def test_a_particle_cut_by_the_edge_keeps_its_track_when_its_visible_part_jumps():
    rows = [dict(_row(f, 9.0, 30.0, area=300.0), touches_border=True) for f in range(3)]
    rows += [dict(_row(f, 1.0, 30.0, area=20.0), touches_border=True) for f in range(3, 6)]  # mostly out of view
    rows += [dict(_row(f, 40.0, 30.0, area=300.0, label=2), touches_border=False) for f in range(6)]
    linked = link_tracks(pd.DataFrame(rows), LinkParams(max_displacement_px=3, gap_frames=0, area_weight=1.0, merge_distance_px=None))
    assert linked.tracks.track_id.nunique() == 2 and linked.events.empty
    inside = pd.DataFrame(rows).assign(touches_border=False)  # the same jump inside the field is a break
    assert link_tracks(inside, LinkParams(max_displacement_px=3, gap_frames=0, area_weight=1.0,
                                          merge_distance_px=None)).tracks.track_id.nunique() == 3



def test_a_particle_in_a_corner_keeps_its_track_when_its_visible_part_jumps_along_both_axes():
    """A stage jump in a corner: the visible part grows 33 -> 147 px and its centroid moves (5, 6.5) px."""
    rows = [dict(_row(f, -25.9, 505.1, area=33.0), touches_border=True) for f in range(3)]
    rows += [dict(_row(f, -21.0, 511.5, area=147.0), touches_border=True) for f in range(3, 6)]
    rows += [dict(_row(f, 40.0, 30.0, area=300.0, label=2), touches_border=False) for f in range(6)]
    linked = link_tracks(pd.DataFrame(rows), LinkParams(max_displacement_px=1.0, gap_frames=0, area_weight=1.0,
                                                        merge_distance_px=None))
    assert linked.tracks.track_id.nunique() == 2 and linked.events.empty


def test_the_linking_study_spreads_its_frames_over_the_movie():
    from rewardscope.workflows.tracking import tune_blocks

    blocks = tune_blocks(200, 48)
    assert len(blocks) == 4 and blocks[0][0] == 0 and blocks[-1][1] == 200
    assert all(b - a == 12 for a, b in blocks) and tune_blocks(50, 0) == [(0, 50)]


def test_track_segments_the_frames_as_dask_tasks_same_serial_as_on_a_real_cluster(tmp_path):
    """--scheduler: chunks of frames segmented as dask tasks, linking here; serial == a real 2-worker cluster."""
    from distributed import Client

    from rewardscope import track_particles
    from rewardscope.parallel import local_cluster

    movie, masks = _merging_movie()
    kw = dict(drift=False, trials=12, seed=3, pixel_size="0.5A")
    kw["segment"] = {"study": {"trials": 12}, "split_trials": 0}
    serial = track_particles(movie, scheduler="serial", **kw)
    assert serial.summary["scheduler"] == "serial"
    assert serial.events.to_dict("records") == [{"frame": 4, "event": "merge", "parents": "1 2", "child": 3}]
    with local_cluster(2) as cluster, Client(cluster) as client:
        remote = track_particles(movie, scheduler=client, **kw)
    pd.testing.assert_frame_equal(serial.tracks, remote.tracks)
    np.testing.assert_array_equal(serial.masks, remote.masks)
    workers = remote.summary["segmentation_workers"]  # the workers' share, without building the segment result
    assert sum(w["frames"] for w in workers.values()) == len(movie) and all(w["peak_rss_mib"] > 0 for w in workers.values())
    with pytest.raises(Exception, match="classical"):
        track_particles(movie, scheduler="serial", segmenter="unet", **kw)


@pytest.mark.parametrize("link_window", [500, 3])
def test_with_a_scheduler_the_drift_is_measured_while_the_frames_are_segmented(link_window):
    """Drift on: the workers segment while the client measures the drift (frames spooled); same tracks as one chain.

    With 3-frame windows the frames are also linked as they arrive.
    """
    from rewardscope import track_particles
    from rewardscope.workflows import movie_parallel

    movie, _ = _merging_movie()
    movie = np.stack([np.roll(frame, (0, f // 2), axis=(0, 1)) for f, frame in enumerate(movie)])  # a stage drift
    kw = dict(trials=12, seed=3, pixel_size="0.5A", segment={"study": {"trials": 12}, "split_trials": 0},
              link_window_frames=link_window)
    spooled = []
    spool = movie_parallel.ArrivingFrames.spool

    def counting(self, path, *, until):
        spooled.append(spool(self, path, until=until))
        return spooled[-1]

    movie_parallel.ArrivingFrames.spool = counting
    try:
        tasks = track_particles(movie, scheduler="serial", **kw)
    finally:
        movie_parallel.ArrivingFrames.spool = spool
    chain = track_particles(movie, **kw)
    assert len(spooled) == 1 and 0 <= spooled[0] <= len(movie)
    pd.testing.assert_frame_equal(tasks.tables["drift"], chain.tables["drift"])
    pd.testing.assert_frame_equal(tasks.tracks, chain.tracks)
    assert tasks.events.to_dict("records") == chain.events.to_dict("records")
    assert (tasks.summary.get("link_window_frames") == 3) == (link_window == 3)
    with pytest.raises(Exception, match="identical"):  # the drift's error, from its thread
        track_particles(np.stack([movie[0]] * 4), scheduler="serial", **kw)


def test_cli_track_scheduler_option(tmp_path):
    from typer.testing import CliRunner

    from rewardscope.cli.main import app

    movie, _ = _merging_movie()
    np.save(tmp_path / "movie.npy", movie)
    args = ["track", str(tmp_path / "movie.npy"), "--no-drift", "--trials", "12", "--pixel-size", "0.5A",
            "--no-progress", "--scheduler", "serial", "--out"]
    r = CliRunner().invoke(app, [*args, str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    assert pd.read_csv(tmp_path / "out" / "events.csv")["event"].tolist() == ["merge"]
    bad = CliRunner().invoke(app, [*args[:-2], "tcp://127.0.0.1:9", "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "scheduler" in bad.output and not (tmp_path / "bad").exists()


# --------------------------------------------------------------------------- linking in windows (issue 15)


def _seam_movie() -> pd.DataFrame:
    """Two particles merge at frame 10 (a window seam below); a third is missed in frame 10."""
    rows = []
    for f in range(10):
        rows += [_row(f, 20.0 + f, 30.0, label=1), _row(f, 40.0 - f, 30.0, label=2)]
    rows += [_row(f, 30.0, 30.0, 160.0) for f in range(10, 20)]
    rows += [_row(f, 10.0 + 0.5 * f, 50.0, label=3) for f in range(20) if f != 10]
    return pd.DataFrame(rows).sort_values("frame", kind="stable").reset_index(drop=True)


@pytest.mark.parametrize("window", [10, 9, 11, 5])
def test_linking_in_windows_gives_the_whole_movie_linking_across_seams(window):
    from rewardscope.track.windows import WindowedLinking

    det = _seam_movie()
    params = LinkParams(max_displacement_px=4, gap_frames=2, gap_distance_px=4, merge_distance_px=6)
    whole = link_tracks(det, params)
    assert whole.events.to_dict("records") == [{"frame": 10, "event": "merge", "parents": "1 2", "child": 4}]
    linking = WindowedLinking(params, n_frames=20, window=window, overlap=4)
    for f in range(20):
        linking.add(det[det.frame == f])
        assert linking.windows_linked == sum(stop <= f + 1 for _, stop, _, _ in linking.spans)  # linked on arrival
    windowed = linking.result()
    pd.testing.assert_frame_equal(windowed.tracks, whole.tracks)
    pd.testing.assert_frame_equal(windowed.lineage, whole.lineage)
    pd.testing.assert_frame_equal(windowed.events, whole.events)
    with pytest.raises(ValueError, match="overlap"):
        WindowedLinking(params, n_frames=20, window=10, overlap=3)  # no room for a gap of 2 frames


def test_a_long_movie_is_linked_in_windows_before_its_last_frame_is_measured():
    from rewardscope.simulate.movie import simulate_movie
    from rewardscope.workflows.tracking import track_particles

    sim = simulate_movie(frames=60, size=160, n_particles=4, merge_pairs=3, merge_triples=0, approach_speed=0.5,
                         growth_rate=0.0, ripening_rate=0.0, diffusion=0.05, drift_speed=0.0, jump_probability=0.0,
                         seed=2)
    assert sim.events.frame.tolist() == [14, 20, 26, 31]  # one merge on a seam of the 20-frame windows
    seen = []
    res = track_particles(sim.movie, masks=sim.masks.astype(np.int32), drift=False, trials=16, seed=0,
                          link_window_frames=20, progress=lambda stage, done, total: seen.append((str(stage), done)))
    assert res.summary["link_window_frames"] == 20 and res.summary["tune_blocks"] == [[0, 20]]
    first_window = seen.index(("linking the movie", 1))
    assert first_window < seen.index(("measuring particles", 50)) < seen.index(("linking the movie", 3))
    truth_parents = [sorted(int(p) for p in ps.split()) for ps in sim.events.parents]
    assert res.events.frame.tolist() == sim.events.frame.tolist() and len(res.lineage) == 14
    # parents by identity: the track of each true parent's first-frame mask
    ids = {int(t): int(res.masks[int(g.frame.min())][sim.masks[int(g.frame.min())] == t][0])
           for t, g in sim.tracks.groupby("track_id")}
    assert [sorted(int(p) for p in ps.split()) for ps in res.events.parents] == [
        sorted(ids[p] for p in ps) for ps in truth_parents]
    whole = track_particles(sim.movie, masks=sim.masks.astype(np.int32), drift=False, trials=16, seed=0,
                            link_window_frames=0)
    assert "link_window_frames" not in whole.summary and whole.events.equals(res.events)


def test_a_stage_jump_that_cuts_a_whole_particle_keeps_its_track():
    """Whole (inside) in frames 0-2, cut by the edge after a jump in 3-5, and the same backwards in time."""
    rows = [dict(_row(f, 12.0, 30.0, area=300.0), touches_border=False) for f in range(3)]
    rows += [dict(_row(f, 2.0, 30.0, area=60.0), touches_border=True) for f in range(3, 6)]
    rows += [dict(_row(f, 60.0, 30.0, area=300.0, label=2), touches_border=False) for f in range(6)]
    params = LinkParams(max_displacement_px=3, gap_frames=0, area_weight=1.0, merge_distance_px=None)
    assert link_tracks(pd.DataFrame(rows), params).tracks.track_id.nunique() == 2
    inside = pd.DataFrame(rows).assign(touches_border=False)  # not cut by the edge: a break
    assert link_tracks(inside, params).tracks.track_id.nunique() == 3
    back = pd.DataFrame(rows).assign(frame=lambda d: np.where(d.label == 1, 5 - d.frame, d.frame))
    assert link_tracks(back, params).tracks.track_id.nunique() == 2  # a jump brings the cut particle into view


def _out_and_back(gap_dx: float) -> pd.DataFrame:
    """A particle at the left edge (drift-corrected x = 5, radius 5 px) seen in frames 0-4 and 15-20.

    In frames 5-14 the stage is shifted by ``gap_dx`` px; a second particle, seen in every
    frame, carries that drift.
    """
    rows = []
    for f in range(21):
        dx = gap_dx if 5 <= f <= 14 else 0.0
        if not 5 <= f <= 14:
            rows.append({**_row(f, 5.0 + dx, 30.0), "x_aligned": 5.0, "y_aligned": 30.0, "touches_border": True})
        rows.append({**_row(f, 60.0 + dx, 30.0, label=2), "x_aligned": 60.0, "y_aligned": 30.0,
                     "touches_border": False})
    return pd.DataFrame(rows)


def test_a_particle_out_of_view_after_a_stage_jump_keeps_its_track_when_it_comes_back():
    params = LinkParams(max_displacement_px=3, gap_frames=1, gap_distance_px=3, merge_distance_px=None,
                        out_of_view_frames=20, frame_shape=(64, 80))
    out = link_tracks(_out_and_back(-20.0), params)  # the stage moved it out of view (x = -15) and back
    assert out.tracks.track_id.nunique() == 2 and out.lineage.end.tolist() == [20, 20]
    seen = link_tracks(_out_and_back(+20.0), params)  # its place was in view (x = 25) and nothing was there
    assert seen.tracks.track_id.nunique() == 3
    for off in (dict(out_of_view_frames=0), dict(frame_shape=None), dict(out_of_view_frames=9)):
        kept = dict(vars(params), **off)
        assert link_tracks(_out_and_back(-20.0), LinkParams(**kept)).tracks.track_id.nunique() == 3, off


def test_a_stream_whose_first_window_holds_no_particle_takes_the_next_window_too():
    from rewardscope.workflows.tracking import track_particles

    yy, xx = np.mgrid[:48, :64]
    masks = np.stack([((yy - 24) ** 2 + (xx - 10 - f) ** 2 < 25).astype(int) * (f >= 6) for f in range(30)])
    res = track_particles(masks.astype(float), masks=masks, drift=False, trials=8, link_window_frames=4)
    assert res.summary["link_window_frames"] == 4 and res.summary["tune_blocks"] == [[0, 8]]  # frames 0-3 empty too
    assert res.lineage.to_dict("records") == [{"track_id": 1, "start": 6, "end": 29, "parents": ""}]
    with pytest.raises(Exception, match="no particles"):
        track_particles(np.zeros((12, 16, 16)) + np.arange(16), masks=np.zeros((12, 16, 16), int), drift=False,
                        trials=4, link_window_frames=4)

"""Particle-tracking benchmark: tracks, merges and identities on simulated in-situ movies, and speed.

Run: ``python benchmarks/tracking.py`` -> ``benchmarks/results/tracking.{csv,md,png}`` (or in parallel
parts: ``--select easy-1,hard-3`` and ``--select easy-2,...``, then ``--combine``).

Six simulated 512 x 512 movies (rewardscope.simulate.movie) with stage drift and jumps,
growth, Ostwald ripening and planted merges of pairs and of three particles (plus the ones
growth brings); three easy (Gaussian noise 0.05) and three hard (``HARD``: 40 counts per
pixel at the support level, 4 % brightness flicker, 3x faster Brownian motion, particles
crossing the edge). Each movie is written to a TIFF and tracked from disk by
``track_particles`` (what ``rewardscope track`` runs: drift, classical segmentation,
reward-tuned laptrack linking with merges). On the SAME masks (the track-id masks of that
run, one label per particle and frame) the baselines link again: laptrack's ``OverLapTrack``
(our overlap linker, merges on), laptrack's ``LapTrack`` with its default cut-offs (15 px,
one missed frame, no merging) and trackpy (``link``, search range 15 px, ``memory=2``).
A last row per movie links the TRUE masks with the tuned LapTrack (linking alone).

Scores (rewardscope.bench.tracking): traccuracy's CTC TRA, DET and LNK on graphs where a
merge is a node with two or more parents; merge precision/recall/F1 (a predicted merge
matches a true one within 2 frames with the same parents by mask overlap); identity
(share of true tracks of >= 5 frames covered for >= 90 % of their frames by one
predicted track). Speed: frames per second of the whole tracking (drift, segmentation,
measurement, linking study, final linking, streamed masks) on the 200-frame movie, 2 cores.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import tifffile  # noqa: E402

from rewardscope.bench.tracking import score_tracking  # noqa: E402
from rewardscope.io import write_tiff  # noqa: E402
from rewardscope.report.tables import markdown_table  # noqa: E402
from rewardscope.segment.measure import measure_particles  # noqa: E402
from rewardscope.simulate.movie import HARD, simulate_movie  # noqa: E402
from rewardscope.track.linking import LinkParams, link_tracks  # noqa: E402
from rewardscope.workflows.tracking import track_masks, track_particles, tracks_table  # noqa: E402

RESULTS = Path(__file__).parent / "results"
#: (name, frames, seed, hard)
MOVIES = [("easy-1", 200, 11, False), ("easy-2", 100, 12, False), ("easy-3", 80, 13, False),
          ("hard-1", 100, 21, True), ("hard-2", 80, 22, True), ("hard-3", 80, 23, True)]
TARGETS = {False: {"TRA": 0.99, "merge_f1": 0.95, "identity": 0.97}, True: {"TRA": 0.98, "merge_f1": 0.95,
                                                                              "identity": 0.95}}


def simulate(frames: int, seed: int, hard: bool):
    extra = dict(HARD) if hard else {}
    return simulate_movie(frames=frames, size=512, n_particles=30, merge_pairs=3, merge_triples=1, seed=seed,
                          pixel_size="0.5A", **extra)


def detections(masks: np.ndarray, movie: np.ndarray, drift: pd.DataFrame) -> pd.DataFrame:
    det = pd.concat([measure_particles(np.asarray(masks[f]).astype(np.int32), movie[f], frame=f)
                     for f in range(len(masks))], ignore_index=True)
    dx, dy = drift["dx"].to_numpy(float), drift["dy"].to_numpy(float)
    return det.assign(x_aligned=det["x"] - dx[det["frame"]], y_aligned=det["y"] - dy[det["frame"]])


def trackpy_link(det: pd.DataFrame) -> pd.DataFrame:
    import trackpy

    trackpy.quiet()
    f = det.rename(columns={"x_aligned": "xa", "y_aligned": "ya"})
    linked = trackpy.link(f, search_range=15.0, memory=2, pos_columns=["ya", "xa"], t_column="frame",
                          adaptive_stop=1.0, adaptive_step=0.9)
    return det.assign(track_id=linked["particle"].to_numpy(int) + 1)


def as_tables(tracked: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Tracks, lineage (no parents) and events (none) of a one-to-one linking."""
    span = tracked.groupby("track_id")["frame"].agg(["min", "max"]).reset_index()
    lineage = pd.DataFrame({"track_id": span["track_id"], "start": span["min"], "end": span["max"], "parents": ""})
    return tracked, lineage, pd.DataFrame(columns=["frame", "event", "parents", "child"])


def score(sim, labels, tracks, lineage, events) -> dict:
    masks = track_masks(labels, tracks)
    return score_tracking(sim, masks, tracks_table(tracks, None) if "x_aligned" in tracks else tracks,
                          lineage, events)


def run_movie(name: str, frames: int, seed: int, hard: bool, work: Path) -> list[dict]:
    sim = simulate(frames, seed, hard)
    path = work / f"{name}.tif"
    write_tiff(path, sim.movie, pixel_size=sim.pixel_size)
    rows = []
    base = {"movie": name, "kind": "hard" if hard else "easy", "frames": frames,
            "true_tracks": len(sim.lineage), "true_merges": len(sim.events),
            "true_3plus_merges": int((sim.events["parents"].str.count(" ") >= 2).sum())}
    t0 = time.perf_counter()
    ours = track_particles(str(path), masks_path=work / f"{name}_masks.tif", trials=40, seed=0)
    seconds = time.perf_counter() - t0
    masks = tifffile.imread(work / f"{name}_masks.tif")
    drift = ours.tables["drift"]
    linked = ours.extras["linked"]
    rows.append({**base, "method": "rewardscope track (LapTrack, tuned, merges)",
                 **score_tracking(sim, masks, ours.tracks, ours.lineage, ours.events),
                 "frames_per_s": frames / seconds, "seconds": seconds})
    # the same masks for every baseline: one label per particle and frame
    det = detections(masks, sim.movie, drift)
    over = track_particles(sim.movie, masks=masks.astype(np.int32), linker="overlap", trials=6, seed=0,
                           pixel_size="0.5A")
    rows.append({**base, "method": "OverLapTrack (mask overlap, merges), same masks",
                 **score_tracking(sim, over.masks, over.tracks, over.lineage, over.events)})
    default = link_tracks(det, LinkParams(max_displacement_px=15.0, gap_frames=1, gap_distance_px=15.0,
                                          merge_distance_px=None, merge_reach=None))
    rows.append({**base, "method": "laptrack LapTrack, default cut-offs (no merging), same masks",
                 **score(sim, masks, default.tracks, default.lineage, default.events)})
    tp = as_tables(trackpy_link(det))
    rows.append({**base, "method": "trackpy (search 15 px, memory 2), same masks", **score(sim, masks, *tp)})
    chosen = linked.params
    truth_det = detections(sim.masks, sim.movie, sim.shifts)
    on_truth = link_tracks(truth_det, chosen)
    rows.append({**base, "method": "tuned LapTrack on the TRUE masks (linking alone)",
                 **score(sim, sim.masks.astype(np.int32), on_truth.tracks, on_truth.lineage, on_truth.events)})
    print(name, pd.DataFrame(rows)[["method", "TRA", "identity", "merge_f1"]].to_string(), flush=True)
    return rows


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    out = []
    for (method, kind), g in table.groupby(["method", "kind"], sort=False):
        out.append({"method": method, "movies": kind, "n": len(g),
                    **{f"{k}_mean": g[k].mean() for k in ("TRA", "DET", "LNK", "identity", "merge_f1")},
                    **{f"{k}_worst": g[k].min() for k in ("TRA", "identity", "merge_f1")},
                    "merge_precision_worst": g["merge_precision"].min(), "merge_recall_worst": g["merge_recall"].min()})
    return pd.DataFrame(out)


def plot(table: pd.DataFrame, path: Path) -> None:
    methods = list(dict.fromkeys(table["method"]))
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8), sharey=True)
    for ax, key in zip(axes, ("TRA", "identity", "merge_f1")):
        for k, method in enumerate(methods):
            g = table[table["method"] == method]
            ax.scatter(g[key], np.full(len(g), k) + np.where(g["kind"] == "hard", 0.15, -0.15),
                       c=np.where(g["kind"] == "hard", "tab:red", "tab:blue"), s=25)
        for hard, colour in ((False, "tab:blue"), (True, "tab:red")):
            ax.axvline(TARGETS[hard][key], color=colour, ls="--", lw=0.8)
        ax.set_xlabel(key + " (dashed: target easy / hard)")
        ax.set_xlim(-0.02, 1.02)
    axes[0].set_yticks(range(len(methods)), [m.replace(", same masks", "\n(same masks)") for m in methods], fontsize=7)
    fig.suptitle("Tracking on 6 simulated 512 x 512 movies (blue easy, red hard), one dot per movie")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--select", default="", help="comma-separated movie names: run only these and write "
                        "tracking_part_<first>.csv (to run parts in parallel); then --combine")
    parser.add_argument("--combine", action="store_true", help="write the tables and plot from the part files")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.combine:
        parts = sorted(args.out.glob("tracking_part_*.csv"))
        table = pd.concat([pd.read_csv(p) for p in parts], ignore_index=True)
        order = {name: k for k, (name, *_) in enumerate(MOVIES)}
        table = table.sort_values("movie", key=lambda c: c.map(order), kind="stable").reset_index(drop=True)
        for p in parts:
            p.unlink()
    else:
        chosen = [m for m in MOVIES if not args.select or m[0] in args.select.split(",")]
        rows = []
        with tempfile.TemporaryDirectory() as tmp:
            for name, frames, seed, hard in chosen:
                rows += run_movie(name, frames, seed, hard, Path(tmp))
                if args.select:  # after every movie, so that a stopped run keeps what it did
                    pd.DataFrame(rows).to_csv(args.out / f"tracking_part_{chosen[0][0]}.csv", index=False)
        table = pd.DataFrame(rows)
        if args.select:
            return
    table.to_csv(args.out / "tracking.csv", index=False, float_format="%.4g")
    summary = summarize(table)
    speed = table[(table["frames"] == 200) & table["method"].str.startswith("rewardscope")]
    lines = ["# Particle tracking benchmark", "",
             f"Command: `python benchmarks/tracking.py` ({time.strftime('%Y-%m-%d %H:%M')}, 2 CPU cores shared with "
             "other jobs).", "",
             "Six simulated 512 x 512 movies (drift + jumps, growth, ripening, planted merges of 2 and 3 particles); "
             "hard = 40 counts/px, 4 % flicker, 3x Brownian motion, particles crossing the edge. Baselines link the "
             "SAME masks (those of the rewardscope run). Targets: TRA >= 0.99, merge F1 >= 0.95, identity >= 0.97 "
             "(easy); 0.98 / 0.95 / 0.95 (hard).", "", "## Mean and worst case", "",
             markdown_table(summary, digits=3), "", "## Per movie", "",
             markdown_table(table[["movie", "kind", "frames", "true_tracks", "true_merges", "true_3plus_merges",
                                   "method", "TRA", "DET", "LNK", "identity", "merge_precision", "merge_recall",
                                   "merge_f1", "n_pred_merges"]], digits=3), "", "## Speed", "",
             markdown_table(speed[["movie", "frames", "seconds", "frames_per_s"]], digits=3), ""]
    (args.out / "tracking.md").write_text("\n".join(lines))
    plot(table, args.out / "tracking.png")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

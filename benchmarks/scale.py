"""Scale benchmark: sliding-window LoG* on a non-uniform field, and a movie segmented through dask.

Run: ``python benchmarks/scale.py`` (the issue's sizes: a 4096 x 4096 image, a 2000-frame
1024 x 1024 movie) or smaller, e.g. ``python benchmarks/scale.py --size 1024 --window 256
--frames 2000 --frame-size 512`` -> ``benchmarks/results/scale.{csv,md,png}``; the report
states the sizes that ran.

1. **Sliding window vs one study.** A simulated SrTiO3 [001] HAADF image (0.35 Å/px) whose
   contrast and noise fall from left to right (``thickness_gradient``: the signal-to-noise
   ratio stays, the LoG response does not) with a contaminated top-right corner
   (``contamination``). LoG* once for the whole image, and per window (``--window``,
   ``--overlap``), serial and on a dask LocalCluster with 2 workers (same results, checked).
   F1 with the one matching rule over the whole image, outside the contaminated corner
   (dilated by one lattice period), and per tile (the windows' cores, those at least half
   clean; the minimum is "everywhere outside the contaminated area").
2. **Movie through dask.** A movie written to disk as zarr (a simulated 50-frame in-situ
   movie repeated to ``--frames`` frames), segmented by
   :func:`~rewardscope.workflows.movie_parallel.segment_movie_parallel` (drift off: the drift
   pass runs in the client) on a LocalCluster with 1 and 2 workers, and with 1 worker on a
   quarter of the movie (peak memory per worker must not grow with the movie's length).
   Frames/s, peak RSS per worker, scaling efficiency; the throughput for 8 and 32 workers
   extrapolated from the measured per-frame cost and the scheduler's per-task overhead
   (measured with no-op tasks in the same run).
3. **Tracking through dask.** :func:`~rewardscope.track_particles` on a movie on disk (zarr;
   a simulated movie of ``--track-frames`` frames of ``--track-frame-size`` px: drift, growth,
   ripening, merges; a movie played forth and back is no good here, its reversals split the
   merged particles again), one process per case: one
   chain in the process (no scheduler), and the frames as dask tasks on a LocalCluster with 1
   and 2 workers. The client corrects (temporal consistency) and measures each label frame as
   it arrives, then links. Frames/s of the whole call, its stages' seconds, peak RSS of the
   client and of each worker.

Parts: ``--parts window,movie,track`` (default all) less any ``--skip PART``; a part not run
keeps its rows from the earlier ``scale.csv``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import ndimage  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def _score(sim, atoms, keep_box=None, dilate_px=12):
    from rewardscope.metrics import score_atoms

    dirty = ndimage.binary_dilation(sim.contamination_mask, iterations=dilate_px)
    t, p = sim.positions, atoms[["x", "y"]].to_numpy(float)

    def keep(xy, clean_only):
        iy = np.clip(np.round(xy[:, 1]).astype(int), 0, dirty.shape[0] - 1)
        ix = np.clip(np.round(xy[:, 0]).astype(int), 0, dirty.shape[1] - 1)
        ok = ~dirty[iy, ix] if clean_only else np.ones(len(xy), bool)
        if keep_box is not None:
            x0, x1, y0, y1 = keep_box
            ok &= (xy[:, 0] >= x0) & (xy[:, 0] < x1) & (xy[:, 1] >= y0) & (xy[:, 1] < y1)
        return ok

    whole = score_atoms(p[keep(p, False)], t[keep(t, False)], shape=sim.image.shape, crystal=sim.crystal,
                        pixel_size=sim.pixel_size)
    clean = score_atoms(p[keep(p, True)], t[keep(t, True)], shape=sim.image.shape, crystal=sim.crystal,
                        pixel_size=sim.pixel_size)
    return whole, clean


def tile_f1(sim, atoms, table):
    """F1 outside the dilated contamination per window core with at least half of it clean."""
    dirty = ndimage.binary_dilation(sim.contamination_mask, iterations=12)
    out = []
    for _, w in table.iterrows():
        box = (w.core_x0 - 0.5, w.core_x1 - 0.5, w.core_y0 - 0.5, w.core_y1 - 0.5)
        clean_share = 1 - dirty[int(w.core_y0):int(w.core_y1), int(w.core_x0):int(w.core_x1)].mean()
        if clean_share >= 0.5:
            out.append(_score(sim, atoms, keep_box=box)[1].f1)
    return np.array(out)


def bench_windows(args, rows):
    import rewardscope as rs

    sim = rs.simulate_haadf("srtio3-001", size=args.size, noise=args.noise, seed=0, pixel_size="0.35A",
                            thickness_gradient=args.gradient, contamination=args.contamination)
    common = dict(lattice="srtio3-001", pixel_size=sim.pixel_size, trials=args.trials)
    t0 = time.perf_counter()
    glob = rs.find_atoms(sim.image, **common)
    t_glob = time.perf_counter() - t0
    runs = {}
    for scheduler in ("serial", "local"):
        t0 = time.perf_counter()
        runs[scheduler] = rs.find_atoms(sim.image, window=args.window, overlap=args.overlap, scheduler=scheduler,
                                        workers=2, **common)
        runs[scheduler].summary["wall_s"] = time.perf_counter() - t0
        print(f"windows {scheduler}: {runs[scheduler].summary['wall_s']:.1f} s", flush=True)
    identical = runs["serial"].atoms.equals(runs["local"].atoms)
    table = runs["serial"].tables["windows"]
    glob_tiles = tile_f1(sim, glob.atoms, table)
    win_tiles = tile_f1(sim, runs["serial"].atoms, table)
    for name, res, wall, tiles in (("one global study", glob, t_glob, glob_tiles),
                                   ("sliding window, serial", runs["serial"], runs["serial"].summary["wall_s"],
                                    win_tiles),
                                   ("sliding window, dask local (2 workers)", runs["local"],
                                    runs["local"].summary["wall_s"], win_tiles)):
        whole, clean = _score(sim, res.atoms)
        rows.append({"part": "window", "case": name, "image_px": args.size, "window_px": args.window,
                     "overlap_px": args.overlap, "noise": args.noise, "gradient": args.gradient,
                     "contamination": args.contamination, "trials": args.trials, "f1": whole.f1, "f1_outside_contamination": clean.f1,
                     "min_tile_f1_outside": float(tiles.min()), "tiles": len(tiles), "fp": clean.fp,
                     "fn": clean.fn, "seconds": wall, "time_vs_serial_windows": None,
                     "identical_to_serial": identical if "dask" in name else None})
    serial_s = rows[-2]["seconds"]
    for r in rows[-3:]:
        r["time_vs_serial_windows"] = r["seconds"] / serial_s
    return sim, glob, runs["serial"]


def _write_movie(path, frames, size):
    from rewardscope.io.lazy import write_stack
    from rewardscope.simulate.movie import simulate_movie

    base = simulate_movie(frames=min(50, frames), size=size, seed=0)
    n = len(base.movie)
    write_stack(path, (base.movie[i % n] for i in range(frames)), shape=(frames, size, size),
                pixel_size=base.pixel_size)
    return base.pixel_size


def _noop(x):
    return x


def task_overhead_s(client, n=400):
    """Wall time per no-op task through the scheduler (submit, run, gather), seconds."""
    client.gather(client.map(_noop, range(20), pure=False))
    t0 = time.perf_counter()
    client.gather(client.map(_noop, range(n), pure=False))
    return (time.perf_counter() - t0) / n


def bench_movie(args, rows):
    from distributed import Client

    from rewardscope.parallel import local_cluster
    from rewardscope.workflows.movie_parallel import segment_movie_parallel

    tmp = Path(tempfile.mkdtemp(prefix="rewardscope-scale-", dir=args.tmp))
    try:
        path = tmp / "movie.zarr"
        t0 = time.perf_counter()
        ps = _write_movie(path, args.frames, args.frame_size)
        print(f"movie written: {args.frames} x {args.frame_size}^2 in {time.perf_counter() - t0:.1f} s", flush=True)
        cases = [(1, args.frames // 4), (1, args.frames), (2, args.frames)]
        measured = {}
        for workers, frames in cases:
            src = path
            if frames != args.frames:
                from rewardscope.io.lazy import open_stack, write_stack

                src = tmp / f"movie{frames}.zarr"
                stack = open_stack(path)
                write_stack(src, (stack[i] for i in range(frames)), shape=(frames, *stack.frame_shape),
                            pixel_size=ps)
            with local_cluster(workers) as cluster, Client(cluster) as client:
                overhead = task_overhead_s(client)
                res = segment_movie_parallel(src, scheduler=client, chunk_frames=args.chunk, drift=False,
                                             trials=args.movie_trials, split_trials=0,
                                             masks_path=tmp / f"masks{workers}_{frames}.zarr")
            s = res.summary
            busy = sum(w["seconds"] for w in s["workers"].values())
            per_frame = busy / frames
            measured[(workers, frames)] = (s["frames_per_second"], per_frame, overhead)
            rows.append({"part": "movie", "case": f"{workers} worker(s), {frames} frames", "workers": workers,
                         "frames": frames, "frame_px": args.frame_size, "chunk_frames": args.chunk,
                         "frames_per_s": s["frames_per_second"], "seconds": s["seconds"]["segmentation"],
                         "per_frame_worker_s": per_frame, "task_overhead_ms": overhead * 1e3,
                         "peak_rss_mib_per_worker": max(w["peak_rss_mib"] for w in s["workers"].values()),
                         "n_reoptimizations": s["n_reoptimizations"]})
            print(rows[-1], flush=True)
        fps1, c1, _ = measured[(1, args.frames)]
        fps2, c2, o2 = measured[(2, args.frames)]
        rows[-1]["scaling_efficiency"] = fps2 / (2 * fps1)
        cost = c1  # a worker's seconds per frame when it has the machine's core to itself
        rows[-2]["model_frames_per_s"] = args.chunk / (args.chunk * cost + o2)
        rows[-1]["model_frames_per_s"] = 2 * args.chunk / (args.chunk * cost + o2)
        for n in (8, 32):
            per_task = args.chunk * cost + o2  # a worker's time per chunk incl. the task overhead
            compute_bound = n * args.chunk / per_task
            scheduler_bound = args.chunk / o2  # the scheduler hands out one task per overhead
            rows.append({"part": "movie", "case": f"{n} workers (extrapolated)", "workers": n,
                         "frames": args.frames, "frame_px": args.frame_size, "chunk_frames": args.chunk,
                         "per_frame_worker_s": cost, "task_overhead_ms": o2 * 1e3,
                         "model_frames_per_s": min(compute_bound, scheduler_bound),
                         "scaling_efficiency": min(compute_bound, scheduler_bound) / compute_bound})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


TRACK_CASE = """
import json, resource, sys, time
from rewardscope import track_particles
path, masks, scheduler, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])


def peak_mib():
    # VmHWM: this process's own peak; ru_maxrss of a spawned process starts at its parent's peak (Linux exec)
    try:
        line = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:"))
        return int(line.split()[1]) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


t0 = time.perf_counter()
res = track_particles(path, masks_path=masks, scheduler=None if scheduler == "none" else scheduler,
                      workers=workers or None, trials=int(sys.argv[5]), segment={"study": {"trials": int(sys.argv[6])},
                      "split_trials": 0})
s = res.summary
print(json.dumps({"wall_s": time.perf_counter() - t0, "seconds": s["seconds"], "n_tracks": s["n_tracks"],
                  "n_merges": s["n_merges"], "client_peak_rss_mib": peak_mib(),
                  "workers": s.get("segmentation_workers")}))
"""


def _write_track_movie(path, frames, size):
    """A simulated movie of ``frames`` frames (drift, growth, ripening, merges), as zarr."""
    from rewardscope.io.lazy import write_stack
    from rewardscope.simulate.movie import simulate_movie

    sim = simulate_movie(frames=frames, size=size, seed=0, pixel_size="0.5A")
    write_stack(path, iter(sim.movie), shape=sim.movie.shape, pixel_size=sim.pixel_size)


def bench_track(args, rows):
    import json
    import subprocess
    import sys

    tmp = Path(tempfile.mkdtemp(prefix="rewardscope-scale-track-", dir=args.tmp))
    try:
        path = tmp / "movie.zarr"
        _write_track_movie(path, args.track_frames, args.track_frame_size)
        for scheduler, workers in (("none", 0), ("local", 1), ("local", 2)):
            out = subprocess.run([sys.executable, "-c", TRACK_CASE, str(path), str(tmp / f"tracks{workers}.tif"),
                                  scheduler, str(workers), str(args.track_trials), str(args.movie_trials)],
                                 check=True, capture_output=True, text=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            sec, w = r["seconds"], r["workers"] or {}
            rows.append({"part": "track", "case": "one chain, no scheduler" if not workers else
                         f"--scheduler local, {workers} worker(s)", "workers": workers,
                         "frames": args.track_frames, "frame_px": args.track_frame_size,
                         "frames_per_s": args.track_frames / r["wall_s"], "seconds": r["wall_s"],
                         "drift_s": sec.get("drift"), "segment_consistency_measure_s": sec.get("segmentation"),
                         "linking_s": sec.get("optimize", 0) + sec.get("finish", 0),
                         "linking_after_last_frame_s": sec.get("linking_after_last_frame"), "masks_s": sec.get("masks"),
                         "client_peak_rss_mib": r["client_peak_rss_mib"],
                         "peak_rss_mib_per_worker": max((v["peak_rss_mib"] for v in w.values()), default=np.nan),
                         "n_tracks": r["n_tracks"], "n_merges": r["n_merges"]})
            print(rows[-1], flush=True)
        one = next(r for r in rows if r["part"] == "track" and r["workers"] == 1)
        two = next(r for r in rows if r["part"] == "track" and r["workers"] == 2)
        two["scaling_efficiency"] = two["frames_per_s"] / (2 * one["frames_per_s"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _field(table):
    """The simulated field of the table's window rows (for the figure of a report written later), or None."""
    import rewardscope as rs

    w = table[table.part == "window"]
    if not len(w):
        return None
    r = w.iloc[0]
    return rs.simulate_haadf("srtio3-001", size=int(r["image_px"]), noise=float(r["noise"]), seed=0,
                             pixel_size="0.35A", thickness_gradient=float(r["gradient"]),
                             contamination=float(r["contamination"]))


def write_report(args, table, sim, glob, win):
    from rewardscope.report.tables import markdown_table

    RESULTS.mkdir(parents=True, exist_ok=True)
    table.to_csv(RESULTS / "scale.csv", index=False, float_format="%.4g")
    parts = {k: table[table.part == k].drop(columns=["part", "command"]).dropna(axis=1, how="all")
             for k in ("window", "movie", "track")}
    w, m, t = parts["window"], parts["movie"], parts["track"]
    margin = (w.iloc[1]["f1_outside_contamination"] - w.iloc[0]["f1_outside_contamination"]) if len(w) else None
    lines = ["# Scale benchmark", ""]
    for part, cmd in table.drop_duplicates("part")[["part", "command"]].itertuples(index=False):
        lines += [f"Command ({part} part): `{cmd}`; {os.cpu_count()} CPU cores.", ""]
    if len(w):
        r = w.iloc[0]
        lines += [f"## Sliding window vs one study ({r['image_px']:.0f} x {r['image_px']:.0f} px SrTiO3 [001], "
                  f"0.35 Å/px, noise {r.get('noise', args.noise)} falling with the contrast by "
                  f"{r.get('gradient', args.gradient):.0%} left to right, contaminated corner of radius "
                  f"{r.get('contamination', args.contamination):.0%} of the side; window {r['window_px']}, overlap "
                  f"{r.get('overlap_px', args.overlap)}, {r['trials']:.0f} trials per study)", "",
                  markdown_table(w, digits=4), "",
                  f"Margin (F1 outside the contamination, windows - global): {margin:+.4f}; worst tile: "
                  f"{w.iloc[0]['min_tile_f1_outside']:.4f} (global) vs {w.iloc[1]['min_tile_f1_outside']:.4f} "
                  "(windows).", ""]
    if len(m):
        lines += [f"## Movie through dask ({m['frames'].max():.0f} frames of {m['frame_px'].max():.0f} x "
                  f"{m['frame_px'].max():.0f} px, zarr on disk, chunks of {m['chunk_frames'].max():.0f} frames, drift "
                  "off)", "", markdown_table(m, digits=4), "",
                  "Extrapolation (model_frames_per_s): a worker needs chunk x (per-frame cost of one worker alone) + "
                  "(task overhead) per chunk, so n workers give n x chunk / that frames/s, capped by the scheduler "
                  "handing out one task per overhead (chunk / overhead frames/s); scaling_efficiency of the "
                  "extrapolated rows is that cap's share (1: not capped), of the measured 2-worker row "
                  "fps(2) / (2 fps(1)). The overhead is the wall time per no-op task measured "
                  "on the same cluster; the frame-0 studies and the client's bookkeeping are not included.", ""]
    if len(t):
        lines += [f"## Tracking through dask ({t['frames'].max():.0f} frames of {t['frame_px'].max():.0f} x "
                  f"{t['frame_px'].max():.0f} px, zarr on disk; `track_particles`, one process per case)", "",
                  markdown_table(t, digits=4), "",
                  "segment_consistency_measure_s: the segmentation with the client's temporal consistency and "
                  "measurement, which consume each label frame as it arrives (with a scheduler the drift is "
                  "measured in a second client thread while the workers segment, the frames arriving meanwhile "
                  "spooled to a file: drift_s lies inside this); linking_s: the linking study and the "
                  "linking of every frame, in the client; a movie longer than link_window_frames (500) is "
                  "tuned on its first window and linked window by window as its frames are measured, so "
                  "linking_s lies partly inside segment_consistency_measure_s and "
                  "linking_after_last_frame_s is what linking adds after the last frame; masks_s: the track-id masks "
                  "written to TIFF. client_peak_rss_mib: the calling process's own peak resident set (VmHWM; "
                  "its label TIFFs are read and written with plain file I/O, rewardscope.io.frames, not memory "
                  "maps; earlier runs reported ru_maxrss, which a spawned process inherits from its parent's peak "
                  "at exec: the benchmark's own simulated movie); "
                  "peak_rss_mib_per_worker: the dask workers (none without a scheduler). scaling_efficiency: "
                  "fps(2) / (2 fps(1)) of the whole call, whose drift, linking and masks run in the client.", ""]
    (RESULTS / "scale.md").write_text("\n".join(lines))
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), constrained_layout=True)
    if sim is not None:
        from rewardscope.report.common import show_image

        show_image(axes[0], sim.image[::4, ::4])
        axes[0].set_title("the field (every 4th px): contrast falls left to right, dirty corner", fontsize=9)
    if len(w):
        axes[1].bar(range(len(w)), w["min_tile_f1_outside"], color=["0.6", "C0", "C1"][:len(w)])
        axes[1].set_xticks(range(len(w)), ["global", "windows\nserial", "windows\ndask"][:len(w)])
        axes[1].axhline(0.98, color="red", ls="--", lw=0.8)
        axes[1].set(ylabel="worst tile F1 outside contamination", ylim=(min(0.9, w["min_tile_f1_outside"].min()) - 0.02, 1.0))
        for k, v in enumerate(w["min_tile_f1_outside"]):
            axes[1].text(k, v, f"{v:.3f}", ha="center", va="bottom", fontsize=8)
    if len(m):
        meas = m[m["frames_per_s"].notna()]
        axes[2].plot(meas["workers"], meas["frames_per_s"], "o", label="segment (dask), measured")
        axes[2].plot(m["workers"], m["model_frames_per_s"], "--", label="segment, model")
    if len(t):
        tw = t[t["workers"] > 0]
        axes[2].plot(tw["workers"], tw["frames_per_s"], "s", color="C2",
                     label=f"track_particles, whole call ({tw['frames'].max():.0f} x {tw['frame_px'].max():.0f}^2)")
    if len(m) or len(t):
        axes[2].legend(fontsize=8)
        axes[2].set(xscale="log", yscale="log", xlabel="workers", ylabel="frames / s",
                    title=f"{args.frames} x {args.frame_size}^2 frames (8, 32: extrapolated)")
    fig.savefig(RESULTS / "scale.png", dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    import sys

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=4096)
    p.add_argument("--window", default="512px")
    p.add_argument("--overlap", default="64px")
    p.add_argument("--trials", type=int, default=100)
    p.add_argument("--noise", type=float, default=0.2)
    p.add_argument("--gradient", type=float, default=0.8)
    p.add_argument("--contamination", type=float, default=0.3)
    p.add_argument("--frames", type=int, default=2000)
    p.add_argument("--frame-size", type=int, default=1024)
    p.add_argument("--chunk", type=int, default=16)
    p.add_argument("--movie-trials", type=int, default=20)
    p.add_argument("--parts", default="window,movie,track", help="Comma-separated parts to run (window, movie, track).")
    p.add_argument("--skip", choices=["window", "movie", "track"], action="append", default=[],
                   help="A part not to run (repeatable; the rest of --parts runs).")
    p.add_argument("--track-frames", type=int, default=300)
    p.add_argument("--track-frame-size", type=int, default=1024)
    p.add_argument("--track-trials", type=int, default=40)
    p.add_argument("--report-only", action="store_true", help="Rewrite scale.md/.png from scale.csv (re-simulates the field).")
    p.add_argument("--tmp", default=None, help="Folder for the movie on disk (default: the system's temp).")
    args = p.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    rows: list[dict] = []
    sim = glob = win = None
    if args.report_only:
        table = pd.read_csv(RESULTS / "scale.csv")
        write_report(args, table, _field(table), None, None)
        return 0
    run = set(args.parts.split(",")) - set(args.skip)
    if "window" in run:
        sim, glob, win = bench_windows(args, rows)
    if "movie" in run:
        bench_movie(args, rows)
    if "track" in run:
        bench_track(args, rows)
    table = pd.DataFrame(rows).assign(
        command=f"python benchmarks/scale.py {' '.join(args.argv)} ({time.strftime('%Y-%m-%d %H:%M')})")
    kept = {"window", "movie", "track"} - run
    if kept and (RESULTS / "scale.csv").exists():  # the parts not run, as an earlier run left them
        old = pd.read_csv(RESULTS / "scale.csv")
        old = old.assign(command=old["command"] if "command" in old else "an earlier run (see git log)")
        table = pd.concat([old[old.part.isin(kept)], table], ignore_index=True)
        sim = sim if sim is not None else _field(table)
    write_report(args, table, sim, glob, win)
    print((RESULTS / "scale.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

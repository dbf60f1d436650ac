"""Speed of the whole ``rewardscope track`` command, in this process's chain and with the frames as dask tasks.

Run: ``python benchmarks/track_speed.py [--frames 200]`` -> ``benchmarks/results/track_speed.{csv,md,png}``.

One simulated 512 x 512 movie (the easy kind of ``benchmarks/tracking.py``: drift, growth,
ripening, merges of 2 and 3 particles), written as a TIFF and read lazily by the command. The
command runs as a process (start-up included), interleaved, twice each: without
``--scheduler`` (one chain) and with ``--scheduler local`` (a 2-worker LocalCluster segments
chunks of frames; drift, detection and linking stay in the client). Frames/s of the whole
command, and the stages' seconds from its ``summary.json``. The issue's target is >= 20
frames/s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from rewardscope.io import write_tiff  # noqa: E402
from rewardscope.report.tables import markdown_table  # noqa: E402
from rewardscope.simulate.movie import simulate_movie  # noqa: E402

RESULTS = Path(__file__).parent / "results"
CASES = {"one chain (no --scheduler)": [], "--scheduler local (2 workers)": ["--scheduler", "local", "--workers", "2"]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=200)
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args(argv)
    exe = str(Path(sys.executable).with_name("rewardscope"))
    rows = []
    with tempfile.TemporaryDirectory(prefix="rewardscope-track-speed-") as tmp:
        tmp = Path(tmp)
        sim = simulate_movie(frames=args.frames, size=512, n_particles=30, merge_pairs=3, merge_triples=1, seed=11,
                             pixel_size="0.5A")
        write_tiff(tmp / "movie.tif", sim.movie, pixel_size=sim.pixel_size)
        for r in range(args.repeats):
            for name, extra in CASES.items():
                out = tmp / f"out{r}{len(extra)}"
                t0 = time.perf_counter()
                subprocess.run([exe, "track", str(tmp / "movie.tif"), "--no-progress", "--out", str(out), *extra],
                               check=True, stdout=subprocess.DEVNULL)
                wall = time.perf_counter() - t0
                s = json.loads((out / "summary.json").read_text())
                sec = s["seconds"]
                rows.append({"case": name, "repeat": r, "frames": args.frames, "process_s": wall,
                             "frames_per_s": args.frames / wall, "drift_s": sec.get("drift"),
                             "segmentation_s": sec.get("segmentation"), "linking_study_s": sec.get("optimize"),
                             "n_tracks": s["n_tracks"], "n_merges": s["n_merges"]})
                print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    RESULTS.mkdir(parents=True, exist_ok=True)
    table.to_csv(RESULTS / "track_speed.csv", index=False, float_format="%.4g")
    med = table.groupby("case", sort=False).median(numeric_only=True).reset_index().drop(columns=["repeat"])
    (RESULTS / "track_speed.md").write_text("\n".join([
        "# Speed of `rewardscope track`", "",
        f"Command: `python benchmarks/track_speed.py {' '.join(argv or sys.argv[1:])}` "
        f"({time.strftime('%Y-%m-%d %H:%M')}); one {args.frames}-frame 512 x 512 movie read lazily from a TIFF; "
        f"the whole command as a process, medians of {args.repeats} interleaved repeats. Target: >= 20 frames/s.", "",
        markdown_table(med, digits=3), ""]))
    fig, ax = plt.subplots(figsize=(6, 3.2), layout="constrained")
    ax.barh(med["case"], med["frames_per_s"], color=["0.6", "C0"][:len(med)])
    ax.axvline(20, color="red", ls="--", lw=0.8, label="target")
    ax.set(xlabel="frames / s (whole command)", title=f"rewardscope track, {args.frames} x 512^2 frames")
    ax.legend()
    fig.savefig(RESULTS / "track_speed.png", dpi=110)
    print((RESULTS / "track_speed.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark of the shipped DCNN atom finder: accuracy on unseen images, CPU inference speed.

Run: ``python benchmarks/dcnn.py`` (a few minutes on 2 cores). Writes
``benchmarks/results/dcnn_accuracy.csv``, ``dcnn_accuracy.md``, ``dcnn_accuracy.png``,
``dcnn_inference.csv`` and ``dcnn_inference.md``.

1. Accuracy: 10 new simulated 256 x 256 images per noise level (0, 0.1, ..., 1.0;
   seeds 5000+ never used in training) of YBCO [100] at 0.35 Å/px, SrTiO3 [001] at
   0.35 Å/px (SrTiO3 between 0.30 and 0.40 Å/px was held out of training), and a random
   crystal drawn with a seed outside training; random rotation. Scored with one-to-one
   matching within 0.3 x the smallest ideal column distance, 2 px border ignored.
   ``ensemble=1`` (one view) and ``ensemble=8`` (eight dihedral views).
2. Defects: YBCO with 10 % vacancies or 25 % amorphous area, noise 0.1 and 0.5, 10 images
   each, DCNN (ensemble 1) and LoG* (200 trials) on the same images: the Bragg-filtered input
   channel and LoG*'s count reward both pull detections towards the perfect lattice, so the
   precision here shows how many atoms are reported at empty or disordered sites.
3. Inference speed: images per second on the CPU at 256 x 256 and 1024 x 1024 (0.35 Å/px,
   i.e. resampled to 224 and 896 px at the network's 0.4 Å/px), torch threads 1 and 2,
   one image per call and batches; wall time and process CPU time. The machine's 2
   cores are shared with other jobs: the load average is recorded.
"""

from __future__ import annotations

import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from rewardscope.bench import score  # noqa: E402
from rewardscope.detect.dcnn import find_atoms_dcnn, load_model  # noqa: E402
from rewardscope.detect.dcnn.training import random_crystal  # noqa: E402
from rewardscope.physics import get_lattice  # noqa: E402
from rewardscope.report.tables import markdown_table  # noqa: E402
from rewardscope.simulate import simulate_haadf  # noqa: E402

OUT = Path(__file__).parent / "results"
LEVELS = tuple(round(0.1 * i, 1) for i in range(11))
IMAGES = 10


def crystals() -> dict:
    return {"ybco-100": get_lattice("ybco-100"), "srtio3-001": get_lattice("srtio3-001"),
            "random (unseen)": random_crystal(np.random.default_rng(987_654_321), min_nn_angstrom=2.2)}


def accuracy() -> pd.DataFrame:
    model = load_model()
    rows = []
    for name, crystal in crystals().items():
        for level in LEVELS:
            sims = [simulate_haadf(crystal, size=256, pixel_size="0.35A", noise=level, seed=5000 + i,
                                   rotation_deg=float(np.random.default_rng(i).uniform(0, 90))) for i in range(IMAGES)]
            for ensemble in (1, 8):
                found = find_atoms_dcnn([s.image for s in sims], pixel_size="0.35A", ensemble=ensemble, model=model)
                for i, (s, f) in enumerate(zip(sims, found)):
                    rows.append({"crystal": name, "noise": level, "ensemble": ensemble, "image": i,
                                 "n_true": len(s.truth), "n_found": f.count,
                                 **score(f.atoms[["x", "y"]].to_numpy(), s)})
            last = pd.DataFrame(rows[-IMAGES:])
            print(f"{name} noise {level}: F1 {last['f1'].mean():.4f} (ensemble 8)", flush=True)
    return pd.DataFrame(rows)


def defects() -> pd.DataFrame:
    from rewardscope.workflows.atoms import find_atoms

    model = load_model()
    rows = []
    for label, kw in (("vacancies 10 %", {"vacancy_fraction": 0.1}), ("amorphous 25 %", {"amorphous_fraction": 0.25})):
        for level in (0.1, 0.5):
            for i in range(IMAGES):
                s = simulate_haadf("ybco-100", size=256, pixel_size="0.35A", noise=level, seed=6000 + i,
                                   rotation_deg=float(np.random.default_rng(i).uniform(0, 90)), **kw)
                net = find_atoms_dcnn(s.image, pixel_size="0.35A", model=model).atoms
                log = find_atoms(s.image, lattice="ybco-100", pixel_size="0.35A", trials=200, seed=0).atoms
                for method, atoms in (("dcnn", net), ("log-star", log)):
                    rows.append({"case": label, "noise": level, "method": method, "image": i, "n_true": len(s.truth),
                                 "n_found": len(atoms), **score(atoms[["x", "y"]].to_numpy(), s)})
            last = pd.DataFrame(rows[-2 * IMAGES:]).groupby("method")["precision"].mean().round(4).to_dict()
            print(f"{label} noise {level}: precision {last}", flush=True)
    return pd.DataFrame(rows)


def inference_speed() -> pd.DataFrame:
    model = load_model()
    rows = []
    imgs = {side: [simulate_haadf("ybco-100", size=side, pixel_size="0.35A", noise=0.3, seed=s).image
                   for s in range(10 if side == 256 else 3)] for side in (256, 1024)}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for side, batch in ((256, 1), (256, 10), (1024, 1)):
            find_atoms_dcnn(imgs[side][0], pixel_size="0.35A", model=model)  # warm-up
            calls = [imgs[side][i:i + batch] if batch > 1 else imgs[side][i] for i in range(0, len(imgs[side]), batch)]
            t, c = time.perf_counter(), time.process_time()
            for _ in range(3 if side == 256 else 1):
                for call in calls:
                    find_atoms_dcnn(call, pixel_size="0.35A", model=model)
            n = (3 if side == 256 else 1) * len(imgs[side])
            wall, cpu = (time.perf_counter() - t) / n, (time.process_time() - c) / n
            rows.append({"side_px": side, "threads": threads, "batch": batch, "images_per_second": 1 / wall,
                         "ms_per_image": 1000 * wall, "cpu_ms_per_image": 1000 * cpu,
                         "load_average_1min": float(open("/proc/loadavg").read().split()[0])})
            print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def plot(acc: pd.DataFrame) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (name, ens), g in acc.groupby(["crystal", "ensemble"]):
        m = g.groupby("noise")["f1"].mean()
        ax.plot(m.index, m.values, "-" if ens == 1 else "--", marker="o", label=f"{name}, ensemble {ens}")
    ax.axhline(0.98, c="0.5", lw=0.8, ls=":")
    ax.axhline(0.90, c="0.5", lw=0.8, ls=":")
    ax.set(xlabel="Gaussian noise sigma (image in [0, 1])", ylabel="F1", title="DCNN on unseen simulated images",
           ylim=(min(0.8, acc["f1"].min() - 0.02), 1.005))
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(OUT / "dcnn_accuracy.png", dpi=130)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    meta = load_model().meta
    acc = accuracy()
    acc.to_csv(OUT / "dcnn_accuracy.csv", index=False)
    plot(acc)
    table = acc.groupby(["crystal", "ensemble", "noise"]).agg(
        n_true=("n_true", "mean"), n_found=("n_found", "mean"), f1=("f1", "mean"), f1_min=("f1", "min"),
        precision=("precision", "mean"), recall=("recall", "mean"), rmse_px=("rmse_px", "mean")).reset_index()
    (OUT / "dcnn_accuracy.md").write_text("\n".join([
        "# DCNN accuracy on unseen simulated images", "", "Command: `python benchmarks/dcnn.py`. "
        f"{IMAGES} images per level, 256 x 256, 0.35 Å/px, seeds 5000+; model trained "
        f"{meta.get('config', {}).get('steps')} steps in {meta.get('seconds')} s.", "", markdown_table(table), ""]))
    dfx = defects()
    dfx.to_csv(OUT / "dcnn_defects.csv", index=False)
    dtab = dfx.groupby(["case", "noise", "method"]).agg(
        n_true=("n_true", "mean"), n_found=("n_found", "mean"), f1=("f1", "mean"), precision=("precision", "mean"),
        recall=("recall", "mean")).reset_index()
    (OUT / "dcnn_defects.md").write_text("\n".join([
        "# Defects: vacancies and amorphous patches (DCNN vs LoG*)", "",
        f"Command: `python benchmarks/dcnn.py`. YBCO [100], {IMAGES} images per row, 256 x 256, 0.35 Å/px, "
        "seeds 6000+, random rotation. Precision below 1 means atoms reported where the image has none "
        "(vacant sites, disordered regions).", "", markdown_table(dtab), ""]))
    spd = inference_speed()
    spd.to_csv(OUT / "dcnn_inference.csv", index=False)
    (OUT / "dcnn_inference.md").write_text("\n".join([
        "# DCNN inference speed on the CPU", "",
        "Command: `python benchmarks/dcnn.py`. YBCO at 0.35 Å/px (resampled to the network's 0.4 Å/px: "
        "256 px -> 224 px, 1024 px -> 896 px), one view (ensemble 1), peaks included. Wall time per image and "
        "process CPU time per image; the 2 cores were shared with other jobs (load average column), so "
        "wall times are pessimistic.", "", markdown_table(spd), ""]))


if __name__ == "__main__":
    main()

"""Benchmark: amorphous-region mapping and atom classification on simulated YBCO [100].

For each image (amorphous fraction 10-30 %, noise 0.1-0.3, one seed each) atoms are found
by LoG* (no labels), classified (4 classes, 2 nm window) and the amorphous mask is tuned by
the region rewards (compactness, perimeter, separation). Scores against the simulator's
truth: mask IoU, and the share of crystalline-region atoms in the right class after
Hungarian matching of clusters to species.

Run:  python benchmarks/amorphous.py [--images 12] [--trials 100] [--select 0 4]
Writes benchmarks/results/amorphous.csv, amorphous.md and amorphous.png.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from rewardscope.classify.clusters import match_clusters
from rewardscope.metrics import mask_iou, match_points
from rewardscope.report.tables import markdown_table
from rewardscope.simulate import simulate_haadf
from rewardscope.workflows.amorphous import map_amorphous
from rewardscope.workflows.atoms import find_atoms
from rewardscope.workflows.classify import classify_atoms

RESULTS = Path(__file__).parent / "results"


def crystal_accuracy(labels: np.ndarray, xy: np.ndarray, sim: object) -> tuple[float, float]:
    """Class accuracy over matched crystalline-region atoms, and the share of them matched."""
    m = match_points(xy, sim.positions, tolerance_px=2.5)
    truth = sim.truth.iloc[m.pairs[:, 1]]
    crystal = ~truth["amorphous"].to_numpy()
    _, acc = match_clusters(labels[m.pairs[:, 0]][crystal], truth["species"].to_numpy()[crystal])
    return acc, float(crystal.sum() / max(1, (~sim.truth["amorphous"]).sum()))


def one_image(i: int, fraction: float, noise: float, trials: int) -> dict:
    sim = simulate_haadf("ybco-100", amorphous_fraction=fraction, noise=noise, seed=100 + i)
    t0 = time.perf_counter()
    atoms = find_atoms(sim.image, lattice="ybco-100", pixel_size=sim.pixel_size, trials=100, seed=i,
                       lattice_prior=False).atoms  # amorphous patches: not one crystal
    t1 = time.perf_counter()
    res = map_amorphous(sim.image, atoms=atoms, pixel_size=sim.pixel_size, trials=trials, seed=i)
    t2 = time.perf_counter()
    cls = classify_atoms(sim.image, atoms, pixel_size=sim.pixel_size, seed=i)
    t3 = time.perf_counter()
    xy = atoms[["x", "y"]].to_numpy()
    acc, share = crystal_accuracy(cls.atoms["class"].to_numpy(), xy, sim)
    truth_cls = classify_atoms(sim.image, sim.truth, pixel_size=sim.pixel_size, seed=i).atoms
    crystal = ~truth_cls["amorphous"].to_numpy()
    _, acc_truth = match_clusters(truth_cls["class"][crystal], truth_cls["species"][crystal])
    best = res.summary["best_params"]
    return {"image": i, "amorphous_fraction": fraction, "noise": noise, "n_atoms": len(atoms),
            "n_true": len(sim.truth), "mask_iou": mask_iou(res.mask, sim.amorphous_mask),
            "area_fraction": res.mask.mean(), "true_area_fraction": sim.amorphous_mask.mean(),
            "class_accuracy_log_atoms": acc, "crystal_atoms_matched": share,
            "class_accuracy_true_atoms": acc_truth, "window_nm": best["window_nm"],
            "threshold": best["threshold"], "covariance": best["covariance"], "dilation_nn": best["dilation_nn"],
            "seconds_atoms": t1 - t0, "seconds_amorphous": t2 - t1, "seconds_classify": t3 - t2}


def plot(df: pd.DataFrame, example: tuple, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sim, mask = example
    fig, ax = plt.subplots(1, 3, figsize=(15, 4.8))
    sc = ax[0].scatter(df["amorphous_fraction"], df["mask_iou"], c=df["noise"], cmap="viridis", s=50)
    ax[0].axhline(0.8, color="r", ls="--", lw=1)
    ax[0].set(xlabel="true amorphous fraction", ylabel="mask IoU", title=f"mean IoU {df['mask_iou'].mean():.3f}")
    fig.colorbar(sc, ax=ax[0], label="noise")
    ax[1].scatter(df["noise"], df["class_accuracy_log_atoms"], label="LoG* atoms")
    ax[1].scatter(df["noise"], df["class_accuracy_true_atoms"], marker="x", label="true atoms")
    ax[1].axhline(0.95, color="r", ls="--", lw=1)
    ax[1].set(xlabel="noise", ylabel="crystal-region class accuracy", title="classes (Hungarian-matched)")
    ax[1].legend()
    ax[2].imshow(sim.image, cmap="gray")
    ax[2].contour(sim.amorphous_mask, [0.5], colors="lime")
    ax[2].contour(mask, [0.5], colors="red")
    ax[2].set(title="example: truth (green), found (red)")
    ax[2].axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--select", type=int, nargs="+", default=None,
                        help="run only these image indices (same fractions/noise as in the full run); no files written")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    for i in range(args.images):
        fraction, noise = float(rng.uniform(0.1, 0.3)), float(rng.uniform(0.1, 0.3))
        if args.select is not None and i not in args.select:
            continue
        rows.append(one_image(i, round(fraction, 3), round(noise, 3), args.trials))
        print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in rows[-1].items()}, flush=True)
    df = pd.DataFrame(rows)
    if args.select is not None:
        print(df[["image", "mask_iou", "area_fraction", "true_area_fraction"]].round(3).to_string(index=False))
        return
    RESULTS.mkdir(exist_ok=True)
    df.to_csv(RESULTS / "amorphous.csv", index=False)
    mean = df.mean(numeric_only=True)
    text = (f"# Amorphous regions and classes on simulated YBCO [100] ({len(df)} images, 256 px, 0.35 A)\n\n"
            f"Command: `python benchmarks/amorphous.py --images {args.images} --trials {args.trials}`\n\n"
            f"- mean mask IoU: **{mean['mask_iou']:.3f}** (min {df['mask_iou'].min():.3f}), target >= 0.8\n"
            f"- crystal-region class accuracy, LoG* atoms: **{mean['class_accuracy_log_atoms']:.3f}** "
            f"(min {df['class_accuracy_log_atoms'].min():.3f}); true atoms: {mean['class_accuracy_true_atoms']:.3f} "
            f"(min {df['class_accuracy_true_atoms'].min():.3f}); target >= 0.95\n"
            f"- mean seconds: atoms {mean['seconds_atoms']:.1f}, amorphous ({args.trials} trials) "
            f"{mean['seconds_amorphous']:.1f}, classify {mean['seconds_classify']:.1f}\n\n"
            + markdown_table(df.round(3)) + "\n")
    (RESULTS / "amorphous.md").write_text(text)
    last = rows[-1]
    sim = simulate_haadf("ybco-100", amorphous_fraction=last["amorphous_fraction"], noise=last["noise"],
                         seed=100 + last["image"])
    atoms = find_atoms(sim.image, lattice="ybco-100", pixel_size=sim.pixel_size, trials=100, seed=last["image"],
                       lattice_prior=False).atoms
    res = map_amorphous(sim.image, atoms=atoms, pixel_size=sim.pixel_size, trials=args.trials, seed=last["image"])
    plot(df, (sim, res.mask), RESULTS / "amorphous.png")
    print(text)


if __name__ == "__main__":
    main()

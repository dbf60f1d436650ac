"""Benchmark of LoG* atom finding: accuracy without labels, and speed against blob_log.

Run: ``python benchmarks/atoms_logstar.py`` (about 10 minutes on 2 cores). Writes
``benchmarks/results/atoms_logstar.csv`` (accuracy grid), ``atoms_logstar_speed.csv``,
``atoms_logstar_defects.csv``, ``atoms_logstar.md`` and ``atoms_logstar.png``.

1. Accuracy: simulated YBCO [100] and SrTiO3 [001] images, 256 x 256, pixel sizes
   0.25/0.35/0.45 Å, noise 0-0.5; LoG* (TPE, 200 trials) sees only the image, the lattice
   name and the pixel size; alone and with the lattice prior (``lattice_prior=True``, with
   TPE and with NSGA-II), plus YBCO with 5 % vacancies to show what the prior costs. Scored against truth with one-to-one matching within
   0.3 x the smallest ideal column distance, ignoring a 2 px border (rule in
   :mod:`rewardscope.detect.evaluate`). ``rmse_bound_px`` is the Cramér-Rao bound of the
   2-D position RMSE for a Gaussian column of the simulated amplitude in white noise
   (per axis ``sqrt(2/pi) * noise / amplitude``), averaged over the true columns.
2. Speed on one image (YBCO, 0.35 Å, noise 0.1) and one budget (200 trials), each method
   timed five times, interleaved, after one untimed warm-up run; each repeat's time is divided
   by the baseline's time in the same repeat and the median of these paired ratios is
   reported (results are identical across repeats):
   LoG* versus
   a baseline calling ``skimage.feature.blob_log`` afresh in every trial (num_sigma = 10,
   the published search space, NSGA-II with population 100). Both are scored with the
   same rewards; hypervolumes use the same raw reference point (QC = 1, ER = 1).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from skimage.feature import blob_log  # noqa: E402

from rewardscope.detect import scale_image  # noqa: E402
from rewardscope.metrics import MARGIN_PX, score_atoms  # noqa: E402
from rewardscope.optimize import FloatParam, SearchSpace, run_study  # noqa: E402
from rewardscope.report.tables import markdown_table  # noqa: E402
from rewardscope.rewards import ATOM_REWARDS, AtomRewardContext  # noqa: E402
from rewardscope.simulate import simulate_haadf  # noqa: E402
from rewardscope.workflows.atoms import find_atoms  # noqa: E402

OUT = Path(__file__).parent / "results"
LATTICES = ("ybco-100", "srtio3-001")
PIXEL_SIZES = (0.25, 0.35, 0.45)
NOISES = (0.0, 0.1, 0.2, 0.3, 0.5)
TRIALS = 200
REPEATS = 5  # timing repeats per method in the speed comparison (median of the paired ratios reported)
#: The LoG* configurations compared: name -> find_atoms keyword arguments.
CONFIGS = {
    "LoG* (TPE)": {},
    "LoG* (TPE) + lattice prior": {"lattice_prior": True},
    "LoG* (NSGA-II, pop 100)": {"sampler": "nsga2", "sampler_options": {"population_size": 100}},
    "LoG* (NSGA-II, pop 100) + lattice prior": {"sampler": "nsga2", "sampler_options": {"population_size": 100},
                                                "lattice_prior": True},
}

def score(atoms: pd.DataFrame, sim) -> dict[str, float]:
    m = score_atoms(atoms, sim)
    return {"f1": m.f1, "precision": m.precision, "recall": m.recall, "rmse_px": m.rmse_px,
            "tp": m.tp, "fp": m.fp, "fn": m.fn}


def rmse_bound(sim, noise: float) -> float:
    """Cramér-Rao bound of the 2-D RMSE, Gaussian columns in white Gaussian noise."""
    if noise == 0:
        return 0.0
    clean = simulate_haadf(sim.crystal, config=sim.config.model_copy(update={"noise": 0.0}))
    xy = np.round(sim.positions).astype(int)
    amp = clean.image[xy[:, 1], xy[:, 0]] - sim.config.background / (1 + sim.config.background)
    return float(np.sqrt(np.mean(2 * (2 / np.pi) * noise ** 2 / amp ** 2)))


def accuracy() -> pd.DataFrame:
    rows = []
    for lattice in LATTICES:
        for ps in PIXEL_SIZES:
            for noise in NOISES:
                sim = simulate_haadf(lattice, size=256, pixel_size=f"{ps}A", noise=noise, seed=0)
                for name in (n for n in CONFIGS if "TPE" in n or "prior" in n):
                    rows.append(_accuracy_row(sim, lattice, ps, noise, name))
                    print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in rows[-1].items()}, flush=True)
    return pd.DataFrame(rows)


def _accuracy_row(sim, lattice: str, ps: float, noise: float, name: str) -> dict:
    t0 = time.perf_counter()
    res = find_atoms(sim.image, lattice=lattice, pixel_size=f"{ps}A", trials=TRIALS, seed=0, **CONFIGS[name])
    return {"method": name, "lattice": lattice, "pixel_size_A": ps,
            "noise": noise, "n_true": len(sim.truth), "n_found": len(res.atoms),
            "n_expected": round(res.summary["n_expected"], 1),
            **{k: round(v, 4) for k, v in res.summary["best_values"].items()},
            **score(res.atoms, sim), "rmse_bound_px": rmse_bound(sim, noise),
            "seconds": time.perf_counter() - t0}


def defects() -> pd.DataFrame:
    """What the lattice prior costs: vacancies it fills when noise hides them."""
    rows = []
    for noise in (0.1, 0.3, 0.5):
        sim = simulate_haadf("ybco-100", size=256, pixel_size="0.35A", noise=noise, vacancy_fraction=0.05, seed=1)
        for name in ("LoG* (TPE)", "LoG* (TPE) + lattice prior"):
            res = find_atoms(sim.image, lattice="ybco-100", pixel_size="0.35A", trials=TRIALS, seed=0, **CONFIGS[name])
            rows.append({"method": name, "vacancies": 0.05, "noise": noise,
                         "n_true": len(sim.truth), "n_found": len(res.atoms), **score(res.atoms, sim)})
            print(rows[-1], flush=True)
    return pd.DataFrame(rows)


def baseline(image: np.ndarray, context: AtomRewardContext):
    """Paper-style LoG: blob_log from scratch in every trial, NSGA-II (population 100)."""
    scaled = scale_image(image).astype(float)
    space = SearchSpace([FloatParam("min_sigma", 0.1, 3.0), FloatParam("max_sigma", 1.0, 6.0),
                         FloatParam("threshold", 0.01, 0.4), FloatParam("overlap", 0.01, 0.5)])
    found = {}

    def objective(p):
        blobs = blob_log(scaled, min_sigma=p["min_sigma"], max_sigma=p["max_sigma"], num_sigma=10,
                         threshold=p["threshold"], overlap=p["overlap"])
        atoms = pd.DataFrame({"x": blobs[:, 1], "y": blobs[:, 0]}) if len(blobs) else pd.DataFrame({"x": [], "y": []})
        found[tuple(sorted(p.items()))] = atoms
        return {name: fn(atoms, context) for name, fn in ATOM_REWARDS.items()} | {"n_atoms": len(atoms)}

    t0 = time.perf_counter()
    study = run_study(objective, space, objective_names=list(ATOM_REWARDS), trials=TRIALS, sampler="nsga2",
                      seed=0, sampler_options={"population_size": 100}, reference_point=[1.0, 1.0], progress=False)
    seconds = time.perf_counter() - t0
    return study, found[tuple(sorted(study.best_params.items()))], seconds


def speed() -> tuple[pd.DataFrame, dict]:
    """Each method REPEATS times, interleaved; the median time counts (the machine is shared)."""
    sim = simulate_haadf("ybco-100", size=256, pixel_size="0.35A", noise=0.1, seed=0)
    context = AtomRewardContext.from_lattice(sim.crystal, shape=sim.image.shape, pixel_size=sim.pixel_size)
    runs: dict[str, list[dict]] = {}
    studies = {}
    for kwargs in CONFIGS.values():  # warm-up: imports, caches
        find_atoms(sim.image, lattice="ybco-100", pixel_size="0.35A", trials=20, seed=1, **kwargs)
    for _ in range(REPEATS):
        for label, kwargs in CONFIGS.items():
            t0 = time.perf_counter()
            res = find_atoms(sim.image, lattice="ybco-100", pixel_size="0.35A", trials=TRIALS, seed=0, **kwargs)
            seconds = time.perf_counter() - t0
            if not kwargs.get("lattice_prior"):  # the prior does not change the study
                studies[label] = res.study
            runs.setdefault(label, []).append({"seconds": seconds, "hypervolume": res.study.hypervolume,
                                               **res.summary["best_values"], "n_atoms": len(res.atoms),
                                               **score(res.atoms, sim)})
            print(label, runs[label][-1], flush=True)
        label = "blob_log baseline (NSGA-II, pop 100)"
        study, atoms, seconds = baseline(sim.image, context)
        studies[label] = study
        runs.setdefault(label, []).append({"seconds": seconds, "hypervolume": study.hypervolume, **study.best_values,
                                           "n_atoms": len(atoms), **score(atoms, sim)})
        print(label, runs[label][-1], flush=True)
    base = np.array([r["seconds"] for r in runs[label]])
    rows = []
    for name, rs in runs.items():
        times = np.array([r["seconds"] for r in rs])
        rows.append({"method": name, **rs[0], "seconds": float(np.median(times)),
                     "seconds_all": " / ".join(f"{t:.2f}" for t in times),
                     "time_vs_baseline": float(np.median(times / base)),
                     "ratio_all": " / ".join(f"{t:.3f}" for t in times / base)})
    return pd.DataFrame(rows), studies


def plot(acc: pd.DataFrame, spd: pd.DataFrame, studies: dict) -> None:
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    colours = dict(zip(acc["method"].unique(), ("tab:red", "tab:blue", "tab:green"), strict=False))
    for (method, lattice), g in acc.groupby(["method", "lattice"]):
        worst = g.groupby("noise").agg(f1=("f1", "min"), rmse=("rmse_px", "max"))
        style = "-" if lattice.startswith("ybco") else "--"
        axes[0].plot(worst.index, worst["f1"], style, marker="o", c=colours[method], label=f"{method}: {lattice}")
        axes[1].plot(worst.index, worst["rmse"], style, marker="o", c=colours[method], label=f"{method}: {lattice}")
    bound = acc.groupby("noise")["rmse_bound_px"].max()
    axes[1].plot(bound.index, bound.values, ":", c="k", label="Cramér-Rao bound (one column)")
    axes[0].axhline(0.98, c="k", lw=0.8, ls=":")
    axes[0].set(xlabel="noise (sigma, image in [0, 1])", ylabel="F1 (worst of 0.25/0.35/0.45 Å/px)",
                title="F1 without labels")
    axes[1].axhline(0.2, c="k", lw=0.8, ls=":")
    axes[1].set(xlabel="noise", ylabel="position RMSE, px (worst pixel size)", title="position error", ylim=(0, 1.5))
    axes[0].legend(fontsize=6)
    axes[1].legend(fontsize=6)
    for label, st in studies.items():
        v = st.values()
        dots = axes[2].scatter(v[:, 0], v[:, 1], s=6, alpha=0.35)
        front = st.values(pareto_only=True)
        front = front[np.argsort(front[:, 0])]
        axes[2].plot(front[:, 0], front[:, 1], "o-", ms=4, drawstyle="steps-post", c=dots.get_facecolor()[0],
                     label=f"{label}: front, HV {st.hypervolume:.4f}")
    ticks = [0, 1e-3, 1e-2, 1e-1, 1]
    for axis in ("x", "y"):
        getattr(axes[2], f"set_{axis}scale")("symlog", linthresh=1e-3, linscale=0.5)
        getattr(axes[2], f"set_{axis}ticks")(ticks, ["0", "0.001", "0.01", "0.1", "1"])
    axes[2].set(xlabel="QC (minimised)", ylabel="ER (minimised)", xlim=(0, 1.5), ylim=(0, 1.05),
                title="200 trials each (YBCO, 0.35 Å, noise 0.1)")
    axes[2].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    fig.savefig(OUT / "atoms_logstar.png", dpi=130)


def markdown(acc: pd.DataFrame, spd: pd.DataFrame, dfx: pd.DataFrame) -> str:
    keys = ["lattice", "pixel_size_A", "noise"]
    wide = acc.pivot_table(index=keys, columns="method", values=["f1", "rmse_px"], sort=False)
    wide.columns = [f"{v} {m}" for v, m in wide.columns]
    wide = wide.join(acc.groupby(keys)["rmse_bound_px"].first()).reset_index()
    summary = acc.groupby("method").apply(_accuracy_summary, include_groups=False).reset_index()
    base = spd.iloc[-1]
    lines = ["# LoG* benchmark", "", f"Command: `python benchmarks/atoms_logstar.py` ({TRIALS} trials per image).", "",
             "## Speed and quality on one image (YBCO [100], 0.35 Å/px, noise 0.1)", "",
             markdown_table(spd), "",
             f"The blob_log baseline took {base['seconds']:.1f} s (median of {REPEATS} interleaved runs). "
             "`time_vs_baseline` is the median over the runs of each run's time over the baseline's time in the "
             "same run (`ratio_all`); the machine is a shared 2-core VM whose speed drifts by +-30 % within "
             "minutes, which is why the runs are interleaved and paired.", "",
             "## Accuracy without labels", "",
             "`LoG*` is the reward-tuned detector alone; `+ lattice prior` (`--lattice-prior`) also fits the "
             "lattice to LoG*'s columns, tests every site for a column and shrinks positions towards the sites "
             "(displacement spread estimated from the image). All see only the image, the lattice name and the "
             "pixel size. Per configuration:", "", markdown_table(summary), "",
             "Per image (full rows, with precision, recall, counts and rewards, in `atoms_logstar.csv`):", "",
             markdown_table(wide), "",
             "## Reading the tables", "",
             "* LoG* alone misses mostly YBCO's dim Cu/CuO columns at high noise (amplitude ~0.35 of Ba, Z^1.7).",
             "* `rmse_bound_px` is the Cramér-Rao bound of the 2-D position RMSE of an unbiased estimator of one "
             "column for the simulated amplitudes and noise. At noise 0.1 it is "
             f"{acc[acc['noise'] == 0.1]['rmse_bound_px'].min():.2f}-{acc[acc['noise'] == 0.1]['rmse_bound_px'].max():.2f} px, "
             "so RMSE <= 0.2 px at noise 0.1 cannot be reached column by column on YBCO; LoG* with the final "
             "Gaussian fit lands within ~10-15 % of the bound. The lattice prior goes below it because it pools "
             "all columns: on these perfect lattices the estimated displacement spread is small and positions move "
             "onto the fitted sites.",
             f"* Scoring ignores a {MARGIN_PX:g} px border (see `rewardscope.metrics.score_atoms`).", "",
             "## What the lattice prior costs: vacancies (YBCO [100], 0.35 Å/px, 5 % of columns removed)", "",
             markdown_table(dfx), "",
             "Where noise hides a vacancy the prior reports a column there (precision drops); at low noise the "
             "empty sites are recognised. Real displacements are kept when they are common (the spread is "
             "estimated from the image: `tests/test_lattice_prior.py` recovers 0.15 Å random displacements and a "
             "0.21 Å sublattice shift), but an isolated displaced column among many on-lattice ones is pulled "
             "towards its site: use `--displacement-sigma` (e.g. 10A) or no prior to map displacements.", ""]
    return "\n".join(lines)


def _accuracy_summary(g: pd.DataFrame) -> pd.Series:
    at01 = g[g["noise"] == 0.1]
    return pd.Series({"cells with F1 >= 0.98": f"{int((g['f1'] >= 0.98).sum())} / {len(g)}",
                      "min F1": round(g["f1"].min(), 4),
                      "min F1 at noise <= 0.1": round(g[g["noise"] <= 0.1]["f1"].min(), 4),
                      "RMSE px at noise 0.1 (max)": round(at01["rmse_px"].max(), 3),
                      "RMSE px at noise 0.1 (min)": round(at01["rmse_px"].min(), 3)})


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    spd, studies = speed()
    spd.to_csv(OUT / "atoms_logstar_speed.csv", index=False)
    if "--speed-only" in sys.argv:
        return
    acc = accuracy()
    acc.to_csv(OUT / "atoms_logstar.csv", index=False)
    dfx = defects()
    dfx.to_csv(OUT / "atoms_logstar_defects.csv", index=False)
    plot(acc, spd, studies)
    (OUT / "atoms_logstar.md").write_text(markdown(acc, spd, dfx))


if __name__ == "__main__":
    main()

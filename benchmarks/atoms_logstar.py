"""Benchmark of LoG* atom finding: accuracy without labels against the seed paper's method, and speed.

Run: ``python benchmarks/atoms_logstar.py`` (about 40 min on 2 busy cores). Writes
``benchmarks/results/atoms_logstar.csv`` (accuracy per image and method),
``atoms_logstar_speed.csv``, ``atoms_logstar_defects.csv``, ``atoms_logstar.md`` and
``atoms_logstar.png``.

1. Accuracy, one run, every image scored the same way: one-to-one matching within 0.3 x the
   smallest ideal column distance, ignoring a border of ONE nearest-neighbour distance
   (``score_atoms(margin_nn=1)``: the interior a user judges). Images:

   * multislice (abTEM) images from ``benchmarks/data/abtem/`` (made by
     ``benchmarks/make_abtem_images.py``: SrTiO3 [001] and [110], rutile TiO2 [001] from CIFs,
     frozen phonons, a real probe, Poisson dose 200 / 50 / 20 mean counts per pixel, frames that cut
     columns anywhere, two of them rotated);
   * simulated YBCO [100] and SrTiO3 [001] images (256 px, 0.25 and 0.45 Å/px, noise 0.1 and 0.2: the
     target's range, the grid kept small so that one run fits a busy 2-core machine).

   Methods: the default ``find_atoms`` (LoG*, TPE, 200 trials, with the lattice prior, the
   default since issue 14), LoG* with ``lattice_prior=False``, and the seed paper's method
   (``skimage.feature.blob_log`` afresh in every trial, num_sigma 10, the published search space,
   NSGA-II with population 100, 200 trials, the paper's whole-frame QC and ER), each seeing only the
   image, the lattice and the pixel size. ``rmse_bound_px`` (simulated images) is the Cramér-Rao
   bound of the 2-D position RMSE of one Gaussian column in white noise.
2. What the prior costs: YBCO with 5 % vacancies (precision with and without it).
3. Speed, one image (YBCO [100], 256 px, 0.35 Å/px, noise 0.1), 200 trials, repeats interleaved
   and paired (the machine is shared): the whole process ``rewardscope atoms`` (start-up, reading,
   study, finish, writing tables and figures) against the paper's method run as a process
   (``python benchmarks/atoms_logstar.py --paper-process IMAGE``, start-up included); the study alone
   in-process against the paper's study; ``rewardscope --help``; the batch form
   ``rewardscope atoms FILES... --out DIR`` (tables and summary per image, no figures: its default;
   images per second after the second, from a 2-file and a 9-file run: both in the batch form, since a
   single file takes the one-image path with its figures). Wall and CPU seconds are both
   recorded (CPU: the children's user + system time). ``--speed-only`` runs this part alone (and
   ``--repeats=N`` sets the repeats, default 2).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import rewardscope  # noqa: E402
from rewardscope.metrics import score_atoms  # noqa: E402
from rewardscope.physics import from_cif  # noqa: E402
from rewardscope.report.tables import markdown_table  # noqa: E402
from rewardscope.rewards import ATOM_REWARDS, AtomRewardContext  # noqa: E402
from rewardscope.simulate import simulate_haadf  # noqa: E402
from rewardscope.units import Length  # noqa: E402
from rewardscope.workflows.atoms import find_atoms  # noqa: E402

OUT = Path(__file__).parent / "results"
ABTEM = Path(__file__).parent / "data" / "abtem"
LATTICES = ("ybco-100", "srtio3-001")
PIXEL_SIZES = (0.25, 0.45)
NOISES = (0.1, 0.2)
TRIALS = 200
REPEATS = int(next((a.split('=')[1] for a in sys.argv if a.startswith('--repeats=')), 2))  # timing repeats (median of the paired ratios reported)
BATCH = 9  # frames of the batch run
DEFAULT = "LoG* (default: + lattice prior)"
ALONE = "LoG* --no-lattice-prior"
PAPER = "paper: blob_log + NSGA-II"
CONFIGS = {DEFAULT: {}, ALONE: {"lattice_prior": False}}
#: What `rewardscope atoms` cannot start without (tables, study, figures): timed alone as the floor of its start-up.
IMPORT_FLOOR = "numpy, pandas, scipy.ndimage, scipy.spatial, optuna, matplotlib.pyplot"
RENAME = {"f1": "F1", "rmse_px": "RMSE px"}


def score(atoms: pd.DataFrame, truth: np.ndarray, *, shape, crystal, pixel_size) -> dict[str, float]:
    m = score_atoms(atoms, truth, shape=shape, crystal=crystal, pixel_size=pixel_size, margin_nn=1.0)
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


def images():
    """The abTEM images (cached .npz), the simulated grid, then abTEM images written meanwhile; truth and prior each."""
    seen: set[Path] = set()
    yield from _abtem(seen)
    for lattice in LATTICES:
        for ps in PIXEL_SIZES:
            for noise in NOISES:
                sim = simulate_haadf(lattice, size=256, pixel_size=f"{ps}A", noise=noise, seed=0)
                yield {"set": "simulated", "image_name": f"{lattice}_{ps}A_noise{noise}", "lattice": lattice,
                       "image": sim.image, "truth": sim.positions, "crystal": sim.crystal,
                       "pixel_size": sim.pixel_size, "dose": np.nan, "noise": noise,
                       "rmse_bound_px": rmse_bound(sim, noise)}
    yield from _abtem(seen)


def _abtem(seen: set[Path]):
    for path in sorted(set(ABTEM.glob("*.npz")) - seen):
        seen.add(path)
        d = np.load(path)
        meta = json.loads(str(d["meta"]))
        yield {"set": "abTEM", "image_name": path.stem, "lattice": meta["name"], "image": d["image"],
               "truth": d["truth_xy"].astype(float), "crystal": from_cif(meta["cif"], zone=tuple(meta["zone"])),
               "pixel_size": Length(float(d["pixel_size_angstrom"]), "A"), "dose": meta["dose_counts_per_px"],
               "noise": np.nan, "rmse_bound_px": np.nan}


def paper_context(image: np.ndarray, crystal, pixel_size) -> AtomRewardContext:
    """The paper's rewards: the whole frame's count, every detection counted fully."""
    return AtomRewardContext.from_lattice(crystal, shape=image.shape, pixel_size=pixel_size, edge_window=False)


def paper_method(image: np.ndarray, context: AtomRewardContext, *, seed: int = 0):
    """The seed paper's LoG: blob_log from scratch in every trial, NSGA-II (population 100)."""
    from skimage.feature import blob_log

    from rewardscope.detect import scale_image
    from rewardscope.optimize import FloatParam, SearchSpace, run_study

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
                      seed=seed, sampler_options={"population_size": 100}, reference_point=[1.0, 1.0], progress=False)
    seconds = time.perf_counter() - t0
    return study, found[tuple(sorted(study.best_params.items()))], seconds


def accuracy(*, only: str | None = None, path: Path | None = None) -> pd.DataFrame:
    """Every image (or only one set, ``--only simulated``), every method; rows written to ``path`` as they come."""
    rows = []
    path = path or OUT / "atoms_logstar.csv"
    for im in images():
        if only is not None and only not in (im["set"], im["lattice"]):
            continue
        kw = dict(shape=im["image"].shape, crystal=im["crystal"], pixel_size=im["pixel_size"])
        info = {k: im[k] for k in ("set", "image_name", "lattice", "dose", "noise", "rmse_bound_px")}
        info |= {"pixel_size_A": im["pixel_size"].angstrom, "n_true": len(im["truth"])}
        for name, extra in CONFIGS.items():
            t0 = time.perf_counter()
            res = find_atoms(im["image"], lattice=im["crystal"], pixel_size=im["pixel_size"], trials=TRIALS, seed=0,
                             **extra)
            rows.append(info | {"method": name, "n_found": len(res.atoms), **score(res.atoms, im["truth"], **kw),
                                **{k: round(v, 4) for k, v in res.summary["best_values"].items()},
                                "seconds": time.perf_counter() - t0})
            print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in rows[-1].items()}, flush=True)
        _, atoms, seconds = paper_method(im["image"], paper_context(im["image"], im["crystal"], im["pixel_size"]))
        rows.append(info | {"method": PAPER, "n_found": len(atoms), **score(atoms, im["truth"], **kw),
                            "seconds": seconds})
        print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in rows[-1].items()}, flush=True)
        pd.DataFrame(rows).to_csv(path, index=False)  # so far (a long run)
    return pd.DataFrame(rows)


def defects() -> pd.DataFrame:
    """What the lattice prior costs: vacancies it fills when noise hides them."""
    rows = []
    for noise in (0.1, 0.3, 0.5):
        sim = simulate_haadf("ybco-100", size=256, pixel_size="0.35A", noise=noise, vacancy_fraction=0.05, seed=1)
        for name, extra in CONFIGS.items():
            res = find_atoms(sim.image, lattice="ybco-100", pixel_size="0.35A", trials=TRIALS, seed=0, **extra)
            m = score_atoms(res.atoms, sim, margin_nn=1.0)
            rows.append({"method": name, "vacancies": 0.05, "noise": noise, "n_true": len(sim.truth),
                         "n_found": len(res.atoms), "f1": m.f1, "precision": m.precision, "recall": m.recall})
            print(rows[-1], flush=True)
    return pd.DataFrame(rows)


# --- speed -------------------------------------------------------------------------------------------------


def _timed(cmd: list[str]) -> tuple[float, float]:
    """Wall and CPU (children's user + system) seconds of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def speed() -> pd.DataFrame:
    """Whole processes, the in-process studies, --help and the batch form; interleaved, paired."""
    exe = str(Path(sys.executable).with_name("rewardscope"))
    sim = simulate_haadf("ybco-100", size=256, pixel_size="0.35A", noise=0.1, seed=0)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        np.save(tmp / "image.npy", sim.image)
        frames = [tmp / f"frame{i:02d}.npy" for i in range(BATCH)]
        for i, f in enumerate(frames):
            np.save(f, simulate_haadf("ybco-100", size=256, pixel_size="0.35A", noise=0.1, seed=100 + i).image)
        atoms_cmd = [exe, "atoms", str(tmp / "image.npy"), "--lattice", "ybco-100", "--pixel-size", "0.35A",
                     "--trials", str(TRIALS), "--no-progress", "--overwrite"]
        batch_cmd = [exe, "atoms", "--lattice", "ybco-100", "--pixel-size", "0.35A", "--trials", str(TRIALS),
                     "--no-progress", "--overwrite"]
        # byte-compiled as after a user's first run (this machine sets PYTHONDONTWRITEBYTECODE, so no run writes them)
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(rewardscope.__file__).parent)], check=True)
        if REPEATS > 1:
            _timed([*atoms_cmd, "--out", str(tmp / "warm")])  # warm-up: disk caches
        find_atoms(sim.image, lattice="ybco-100", pixel_size="0.35A", trials=20, seed=0, progress=False)  # in-process
        # warm-up: the study's lazy imports (optuna) load here, not inside the first timed study
        for r in range(REPEATS):
            t_help = _timed([exe, "--help"])
            t_python = _timed([sys.executable, "-c", "pass"])
            t_imports = _timed([sys.executable, "-c", f"import {IMPORT_FLOOR}"])
            t_atoms = _timed([*atoms_cmd, "--out", str(tmp / "a")])
            t_paper = _timed([sys.executable, __file__, "--paper-process", str(tmp / "image.npy")])
            t_one = _timed([*batch_cmd, *map(str, frames[:2]), "--out", str(tmp / "b1")])  # the batch form: >= 2 files
            t_all = _timed([*batch_cmd, *map(str, frames), "--out", str(tmp / "b9")])
            res = find_atoms(sim.image, lattice="ybco-100", pixel_size="0.35A", trials=TRIALS, seed=0)
            study_s = res.summary["seconds"]["optimize"]
            paper_s = json.loads((tmp / "image.paper.json").read_text())["study_s"]  # the paper process's own study
            rows.append({"repeat": r, "help_wall_s": t_help[0], "help_cpu_s": t_help[1], "python_wall_s": t_python[0],
                         "imports_wall_s": t_imports[0],
                         "atoms_process_wall_s": t_atoms[0], "atoms_process_cpu_s": t_atoms[1],
                         "paper_process_wall_s": t_paper[0], "paper_process_cpu_s": t_paper[1],
                         "process_ratio_wall": t_atoms[0] / t_paper[0], "process_ratio_cpu": t_atoms[1] / t_paper[1],
                         "study_s": study_s, "paper_study_s": paper_s, "study_ratio": study_s / paper_s,
                         "total_in_process_s": res.summary["seconds"]["total"],
                         "batch1_wall_s": t_one[0], "batch9_wall_s": t_all[0], "batch1_cpu_s": t_one[1],
                         "batch9_cpu_s": t_all[1],
                         "batch_images_per_s_wall": (BATCH - 2) / (t_all[0] - t_one[0]),
                         "batch_images_per_s_cpu": (BATCH - 2) / (t_all[1] - t_one[1])})
            print({k: round(v, 3) for k, v in rows[-1].items()}, flush=True)
    return pd.DataFrame(rows)


def paper_process(path: str) -> None:
    """``--paper-process IMAGE``: the seed paper's method as a user would run it, one process."""
    from rewardscope.physics import get_lattice

    image = np.load(path)
    crystal, ps = get_lattice("ybco-100"), Length(0.35, "A")
    _, atoms, seconds = paper_method(image, paper_context(image, crystal, ps))
    atoms.to_csv(Path(path).with_suffix(".paper.csv"), index=False)
    Path(path).with_suffix(".paper.json").write_text(json.dumps({"study_s": seconds}))


# --- report --------------------------------------------------------------------------------------------------


def plot(acc: pd.DataFrame, spd: pd.DataFrame) -> None:
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6), gridspec_kw={"width_ratios": [2.2, 2.2, 1]})
    order = acc.drop_duplicates("image_name")["image_name"].tolist()
    x = np.arange(len(order))
    for (method, g), marker in zip(acc.groupby("method", sort=False), "o^s", strict=False):
        g = g.set_index("image_name").loc[order]
        axes[0].plot(x, g["f1"], marker, ms=5, label=method, alpha=0.8)
        axes[1].plot(x, g["rmse_px"], marker, ms=5, label=method, alpha=0.8)
    axes[0].axhline(0.995, c="k", lw=0.8, ls=":")
    axes[1].axhline(0.3, c="k", lw=0.8, ls=":")
    for ax, label in ((axes[0], "F1 (1-NN border ignored)"), (axes[1], "position RMSE, px")):
        ax.set_xticks(x, order, rotation=90, fontsize=6)
        ax.set_ylabel(label)
        ax.legend(fontsize=7)
    axes[0].set_ylim(max(0.8, acc["f1"].min() - 0.01), 1.002)
    axes[1].set_ylim(0, min(1.5, acc["rmse_px"].max() * 1.05))
    axes[0].set_title("accuracy per image (abTEM multislice, then simulated)")
    if spd is None:
        axes[2].set_axis_off()
        fig.tight_layout()
        fig.savefig(OUT / "atoms_logstar.png", dpi=120)
        return
    med = spd.median(numeric_only=True)
    labels = ["rewardscope --help", "atoms (process)", "paper (process)", "batch: per image"]
    values = [med["help_wall_s"], med["atoms_process_wall_s"], med["paper_process_wall_s"],
              1 / med["batch_images_per_s_wall"]]
    axes[2].barh(labels, values, color=["grey", "tab:blue", "tab:red", "tab:green"])
    axes[2].set_xscale("log")
    axes[2].set(xlabel="seconds (wall, median)", title="whole commands, 256 px, 200 trials")
    fig.tight_layout()
    fig.savefig(OUT / "atoms_logstar.png", dpi=120)


def markdown(acc: pd.DataFrame, spd: pd.DataFrame, dfx: pd.DataFrame) -> str:
    wide = acc.pivot_table(index=["set", "image_name"], columns="method", values=["f1", "rmse_px"], sort=False)
    wide.columns = [f"{RENAME[v]} {m}" for v, m in wide.columns]
    wide = wide.reset_index()
    target = acc[(acc["set"] == "abTEM") & (acc["dose"] >= 50) | (acc["set"] == "simulated") & (acc["noise"] <= 0.2)]
    summary = acc.groupby(["method", "set"], sort=False).apply(_summary, include_groups=False).reset_index()
    tsum = target.groupby("method", sort=False).apply(_summary, include_groups=False).reset_index()
    f1 = acc.pivot_table(index="image_name", columns="method", values="f1")
    beats = {m: int((f1[m] >= f1[PAPER] - 1e-12).sum()) for m in CONFIGS}
    med = spd.median(numeric_only=True) if spd is not None else None
    lines = ["# LoG* benchmark", "",
             f"Command: `python benchmarks/atoms_logstar.py` ({TRIALS} trials per image; every image scored with a "
             "border of one nearest-neighbour distance ignored).", "",
             "## Accuracy: the targets (abTEM dose >= 50 counts/px, simulated noise <= 0.2)", "",
             markdown_table(tsum), "",
             f"F1 >= the paper method's on: " + ", ".join(f"{m} {v} / {len(f1)} images" for m, v in beats.items())
             + ".", "",
             "## Accuracy per method and image set", "", markdown_table(summary), "",
             "## Per image", "", markdown_table(wide), "",
             "Full rows (precision, recall, counts, rewards, seconds): `atoms_logstar.csv`.", "",
             "## What the lattice prior costs: vacancies (YBCO [100], 0.35 Å/px, 5 % of columns removed)", "",
             markdown_table(dfx), "",
             "Where noise hides a vacancy the prior reports a column there (precision drops); at low noise the "
             "empty sites are recognised. For vacancy counting, displacement maps, amorphous or multi-grain "
             "images use `--no-lattice-prior`.", "",
             ] + ([] if med is None else [
             f"## Speed (YBCO [100], 256 px, 0.35 Å/px, noise 0.1, {TRIALS} trials; medians of {len(spd)} "
             "interleaved repeats)", "",
             markdown_table(pd.DataFrame([
                 {"what": "rewardscope --help", "wall s": med["help_wall_s"], "CPU s": med["help_cpu_s"],
                  "ratio": np.nan},
                 {"what": "python -c pass", "wall s": med["python_wall_s"], "CPU s": np.nan, "ratio": np.nan},
                 {"what": f"python -c 'import {IMPORT_FLOOR}' (the libraries the command needs)",
                  "wall s": med.get("imports_wall_s", np.nan), "CPU s": np.nan, "ratio": np.nan},
                 {"what": "rewardscope atoms (process) / paper method (process)", "wall s": med["atoms_process_wall_s"],
                  "CPU s": med["atoms_process_cpu_s"], "ratio": float(np.median(spd["process_ratio_wall"]))},
                 {"what": "  the same, CPU-time ratio", "wall s": med["paper_process_wall_s"],
                  "CPU s": med["paper_process_cpu_s"], "ratio": float(np.median(spd["process_ratio_cpu"]))},
                 {"what": "study in-process / paper's study", "wall s": med["study_s"], "CPU s": np.nan,
                  "ratio": float(np.median(spd["study_ratio"]))},
                 {"what": "batch: images/s after the first two (wall)", "wall s": np.nan, "CPU s": np.nan,
                  "ratio": med["batch_images_per_s_wall"]},
                 {"what": "batch: images/s after the first two (CPU)", "wall s": np.nan, "CPU s": np.nan,
                  "ratio": med["batch_images_per_s_cpu"]}])), "",
             "The study is timed in-process after one warm-up call (imports), as the process timings follow one "
             "warm-up run; it includes the LoG filtering (each scale-space level is made when a trial first needs it), "
             "as the paper's study includes blob_log's. Per repeat: `atoms_logstar_speed.csv`. The machine is a shared 2-core VM whose speed varies "
             "from run to run; the ratios pair each process with the paper's in the same repeat, and the CPU-time "
             "columns count only the measured processes (the figure process of `atoms` included).", ""])
    return "\n".join(lines)


def _summary(g: pd.DataFrame) -> pd.Series:
    return pd.Series({"images": len(g), "min F1": round(g["f1"].min(), 4), "mean F1": round(g["f1"].mean(), 4),
                      "images F1 >= 0.995": int((g["f1"] >= 0.995).sum()),
                      "max RMSE px": round(g["rmse_px"].max(), 3), "images RMSE <= 0.3": int((g["rmse_px"] <= 0.3).sum()),
                      "worst image": g.loc[g["f1"].idxmin(), "image_name"]})


def main() -> None:
    if "--paper-process" in sys.argv:
        paper_process(sys.argv[sys.argv.index("--paper-process") + 1])
        return
    OUT.mkdir(parents=True, exist_ok=True)
    if "--report" in sys.argv:
        report()
        return
    if "--only" in sys.argv:  # one image set, in a second process (its own table, merged by --report)
        only = sys.argv[sys.argv.index("--only") + 1]
        accuracy(only=only, path=OUT / f"atoms_logstar_only_{only}.csv")
        return
    if "--accuracy-only" not in sys.argv:
        spd = speed()
        spd.to_csv(OUT / "atoms_logstar_speed.csv", index=False)
        if "--speed-only" in sys.argv:
            return
    acc = accuracy()
    acc.to_csv(OUT / "atoms_logstar.csv", index=False)
    dfx = defects()
    dfx.to_csv(OUT / "atoms_logstar_defects.csv", index=False)
    report()


def report() -> None:
    """Plot and markdown from the three tables (``--report``: again, without recomputing)."""
    spd = pd.read_csv(OUT / "atoms_logstar_speed.csv") if (OUT / "atoms_logstar_speed.csv").exists() else None
    if spd is not None and "help_wall_s" not in spd:
        spd = None  # an older table: no speed section
    parts = [pd.read_csv(OUT / "atoms_logstar.csv")]  # + a second process's set (--only), if one ran
    parts += [pd.read_csv(f) for f in sorted(OUT.glob("atoms_logstar_only_*.csv"))]
    acc = pd.concat(parts).drop_duplicates(["image_name", "method"]).reset_index(drop=True)
    dfx = pd.read_csv(OUT / "atoms_logstar_defects.csv")
    plot(acc, spd)
    (OUT / "atoms_logstar.md").write_text(markdown(acc, spd, dfx))


if __name__ == "__main__":
    main()

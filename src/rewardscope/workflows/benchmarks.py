"""The paper's two comparisons of LoG* with the DCNN: noise robustness and speed.

* :func:`bench_noise`: ``images`` simulated YBCO images (one seed each; the same clean
  image at every level) with Gaussian noise 0, 0.1, ..., 1.0 on the image scaled to
  [0, 1]. The DCNN runs on every image; LoG* (full optimization) on the first
  ``logstar_images`` of each level (all 10 by default; about 2 s per image). Per image: atoms found,
  true count, F1/precision/recall (one-to-one within 0.3 x the smallest ideal column
  distance, 2 px border ignored: :func:`rewardscope.metrics.score_atoms`), LoG*'s
  chosen parameters and its F1 against the DCNN as an oracle; LoG*'s trials at three
  levels for Pareto plots.
* :func:`bench_speed`: ``images`` 256 x 256 sub-images of one large simulated YBCO
  image; seconds per image for LoG* (full), LoG* warm-started from the previous image's
  Pareto set with fewer trials, plain LoG at fixed parameters, the DCNN on the CPU
  (batch of all images and one image at a time) and on a GPU when one is present.

Both return a :class:`~rewardscope.result.Result`; figures are drawn by
:mod:`rewardscope.report.bench`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from rewardscope.config import make_config
from rewardscope.metrics import MARGIN_PX, MATCH_TOLERANCE_NN, score_atoms
from rewardscope.result import Result

#: Ignored frame border when scoring, pixels (the rule of the LoG* benchmark).
LOG_PARAMS = ("min_sigma", "max_sigma", "num_sigma", "threshold", "overlap")

Progress = Callable[[str], None]


class NoiseBenchConfig(BaseModel):
    """Settings of the noise benchmark (defaults shared by API and CLI)."""

    model_config = ConfigDict(extra="forbid")

    lattice: str = Field("ybco-100", description="Preset lattice of the simulated images.")
    pixel_size: str = Field("0.35A", description="Pixel size of the simulated images.")
    size: int = Field(256, ge=32, description="Image side, pixels.")
    images: int = Field(10, ge=1, description="Images (seeds) per noise level; the DCNN runs on all.")
    logstar_images: int = Field(10, ge=0, description="Images per level also analysed by LoG* (about 2 s each).")
    levels: tuple[float, ...] = Field(tuple(round(0.1 * i, 1) for i in range(11)),
                                      description="Gaussian noise sigmas (image scaled to [0, 1]).")
    pareto_levels: tuple[float, ...] = Field((0.0, 0.5, 1.0), description="Levels whose LoG* trials are kept for Pareto plots.")
    trials: int = Field(200, ge=1, description="LoG* trials per image.")
    ensemble: int = Field(1, ge=1, le=8, description="DCNN test-time views.")
    seed: int = Field(1000, description="Seed of the first image (image i uses seed + i).")


class SpeedBenchConfig(BaseModel):
    """Settings of the speed benchmark."""

    model_config = ConfigDict(extra="forbid")

    lattice: str = Field("ybco-100", description="Preset lattice.")
    pixel_size: str = Field("0.35A", description="Pixel size.")
    noise: float = Field(0.1, ge=0, description="Gaussian noise sigma.")
    images: int = Field(10, ge=1, le=64, description="256 x 256 sub-images timed.")
    trials: int = Field(200, ge=1, description="Trials of the full LoG* optimization.")
    warm_trials: int = Field(50, ge=1, description="Trials of warm-started LoG* (previous image's Pareto set first).")
    threads: tuple[int, ...] = Field((1, 2), description="torch CPU thread counts the DCNN is timed with.")
    seed: int = Field(2000, description="Seed of the large simulated image.")


def score(xy: np.ndarray, sim: Any) -> dict[str, float]:
    """F1, precision, recall, RMSE (px) and counts of positions against a simulation's truth."""
    m = score_atoms(xy, sim)
    return {"f1": m.f1, "precision": m.precision, "recall": m.recall, "rmse_px": m.rmse_px,
            "tp": m.tp, "fp": m.fp, "fn": m.fn}


def _xy(atoms: pd.DataFrame) -> np.ndarray:
    return atoms[["x", "y"]].to_numpy(float)


def bench_noise(config: NoiseBenchConfig | None = None, *, progress: Progress | None = None,
                **overrides: Any) -> Result:
    """LoG* versus the DCNN on simulated images with increasing Gaussian noise.

    Parameters
    ----------
    config : NoiseBenchConfig, optional
        Keyword ``overrides`` replace single fields (``images=2, levels=(0.0, 1.0)``).
    progress : callable, optional
        Called with one line per analysed image.

    Returns
    -------
    Result
        Tables ``per_image`` (method, noise, image, n_true, n_found, f1, ..., LoG*
        parameters, ``f1_vs_oracle``), ``per_level`` (mean and std per method and level) and
        ``pareto_<level>`` (LoG* trials of image 0 at each ``pareto_levels`` entry);
        ``extras["studies"]`` maps level to the StudyResult.
    """
    from rewardscope.detect.dcnn import find_atoms_dcnn
    from rewardscope.simulate import simulate_haadf
    from rewardscope.workflows.atoms import find_atoms

    cfg = make_config(NoiseBenchConfig, config, **overrides)
    say = progress or (lambda line: None)
    rows, studies = [], {}
    t0 = time.perf_counter()
    for level in cfg.levels:
        sims = [simulate_haadf(cfg.lattice, size=cfg.size, pixel_size=cfg.pixel_size, noise=level, seed=cfg.seed + i)
                for i in range(cfg.images)]
        found = find_atoms_dcnn([s.image for s in sims], pixel_size=sims[0].pixel_size, ensemble=cfg.ensemble)
        for i, (sim, f) in enumerate(zip(sims, found)):
            rows.append({"method": "dcnn", "noise": level, "image": i, "n_true": len(sim.truth),
                         "n_found": f.count, **score(_xy(f.atoms), sim), "seconds": f.seconds})
        say(f"noise {level:.1f}: dcnn F1 {np.mean([r['f1'] for r in rows[-cfg.images:]]):.4f}")
        for i, sim in enumerate(sims[:cfg.logstar_images]):
            res = find_atoms(sim.image, lattice=cfg.lattice, pixel_size=cfg.pixel_size, trials=cfg.trials, seed=i)
            oracle = score_atoms(res.atoms, found[i].atoms, shape=sim.image.shape, crystal=sim.crystal,
                                 pixel_size=sim.pixel_size)
            rows.append({"method": "log-star", "noise": level, "image": i, "n_true": len(sim.truth),
                         "n_found": len(res.atoms), **score(_xy(res.atoms), sim),
                         "seconds": res.summary["seconds"]["total"], "f1_vs_oracle": oracle.f1,
                         **{k: res.best_params[k] for k in LOG_PARAMS}, **res.summary["objectives"]})
            if i == 0 and any(abs(level - p) < 1e-9 for p in cfg.pareto_levels):
                studies[level] = res.study
            say(f"noise {level:.1f}: log-star image {i} F1 {rows[-1]['f1']:.4f} ({rows[-1]['seconds']:.1f} s)")
    per_image = pd.DataFrame(rows)
    tables = {"per_image": per_image, "per_level": _per_level(per_image)}
    tables.update({f"pareto_{level:.1f}": st.trials for level, st in studies.items()})
    summary = {"config": cfg.model_dump(mode="json"), "seconds": time.perf_counter() - t0,
               "scoring": f"one-to-one within {MATCH_TOLERANCE_NN:g} x min ideal NN distance, {MARGIN_PX:g} px border ignored"}
    return Result(tables=tables, summary=summary, extras={"studies": studies})


def _per_level(per_image: pd.DataFrame) -> pd.DataFrame:
    cols = [c for c in ("n_true", "n_found", "f1", "precision", "recall", "rmse_px", "fp", "fn", "seconds",
                        "f1_vs_oracle", *LOG_PARAMS, "qc", "er") if c in per_image]
    g = per_image.groupby(["method", "noise"])[cols]
    mean, std = g.mean(), g.std(ddof=0)
    out = mean.join(std[["n_found", "f1"]].add_suffix("_std"))
    out.insert(0, "n_images", g.size())
    return out.reset_index()


def _subimages(cfg: SpeedBenchConfig) -> tuple[list[Any], Any]:
    """``cfg.images`` 256 x 256 tiles of one simulated image, each with its own truth."""
    from types import SimpleNamespace

    from rewardscope.simulate import simulate_haadf

    side = 256 * int(np.ceil(np.sqrt(cfg.images)))
    big = simulate_haadf(cfg.lattice, size=side, pixel_size=cfg.pixel_size, noise=cfg.noise, seed=cfg.seed)
    tiles = []
    for k in range(cfg.images):
        r0, c0 = 256 * (k // (side // 256)), 256 * (k % (side // 256))
        t = big.truth
        inside = (t["x"] >= c0) & (t["x"] <= c0 + 255) & (t["y"] >= r0) & (t["y"] <= r0 + 255)
        truth = t[inside].assign(x=lambda d: d["x"] - c0, y=lambda d: d["y"] - r0).reset_index(drop=True)
        tiles.append(SimpleNamespace(image=big.image[r0:r0 + 256, c0:c0 + 256], truth=truth,
                                     positions=truth[["x", "y"]].to_numpy(), crystal=big.crystal,
                                     pixel_size=big.pixel_size))
    return tiles, big


def bench_speed(config: SpeedBenchConfig | None = None, *, progress: Progress | None = None,
                **overrides: Any) -> Result:
    """Seconds per 256 x 256 image of LoG*, warm-started LoG*, plain LoG and the DCNN.

    Returns
    -------
    Result
        Tables ``per_image`` (method, image, seconds, n_found, f1, ...) and ``per_method``
        (mean seconds per image, images per second, mean F1, ``available``).
    """
    import torch

    from rewardscope.detect.dcnn import find_atoms_dcnn, load_model
    from rewardscope.workflows.atoms import find_atoms

    cfg = make_config(SpeedBenchConfig, config, **overrides)
    say = progress or (lambda line: None)
    tiles, _ = _subimages(cfg)
    rows: list[dict[str, Any]] = []

    def record(method: str, i: int, seconds: float, xy: np.ndarray) -> None:
        rows.append({"method": method, "image": i, "seconds": seconds, "n_found": len(xy), **score(xy, tiles[i])})

    common = dict(lattice=cfg.lattice, pixel_size=cfg.pixel_size)
    previous = None
    for i, tile in enumerate(tiles):
        t = time.perf_counter()
        full = find_atoms(tile.image, trials=cfg.trials, seed=i, **common)
        full_seconds = time.perf_counter() - t
        record("LoG* (full)", i, full_seconds, _xy(full.atoms))
        if previous is not None:
            t = time.perf_counter()
            warm = find_atoms(tile.image, trials=cfg.warm_trials, seed=i, warm_start=previous, **common)
            record(f"LoG* (warm start, {cfg.warm_trials} trials)", i, time.perf_counter() - t, _xy(warm.atoms))
        previous = full
        t = time.perf_counter()
        plain = find_atoms(tile.image, method="log", **common)
        record("LoG (fixed parameters)", i, time.perf_counter() - t, _xy(plain.atoms))
        say(f"image {i}: LoG* {full_seconds:.1f} s")
    model = load_model()
    images = [t.image for t in tiles]
    for n in cfg.threads:
        label = f"DCNN CPU ({n} thread{'s' * (n > 1)}"
        find_atoms_dcnn(images[0], pixel_size=cfg.pixel_size, model=model, threads=n)  # warm-up (allocations)
        for i, img in enumerate(images):
            t = time.perf_counter()
            one = find_atoms_dcnn(img, pixel_size=cfg.pixel_size, model=model, threads=n)
            record(f"{label}, one image per call)", i, time.perf_counter() - t, _xy(one.atoms))
        t = time.perf_counter()
        batch = find_atoms_dcnn(images, pixel_size=cfg.pixel_size, model=model, threads=n)
        per = (time.perf_counter() - t) / len(images)
        for i, b in enumerate(batch):
            record(f"{label}, batch of {len(images)})", i, per, _xy(b.atoms))
    gpu = torch.cuda.is_available()
    if gpu:
        find_atoms_dcnn(images, pixel_size=cfg.pixel_size, model=model, device="cuda")
        t = time.perf_counter()
        batch = find_atoms_dcnn(images, pixel_size=cfg.pixel_size, model=model, device="cuda")
        per = (time.perf_counter() - t) / len(images)
        for i, b in enumerate(batch):
            record("DCNN GPU (batch)", i, per, _xy(b.atoms))
    per_image = pd.DataFrame(rows)
    order = {m: k for k, m in enumerate(dict.fromkeys(sorted(per_image["method"], key=_method_rank)))}
    per_image = per_image.sort_values(["method", "image"], key=lambda c: c.map(order) if c.name == "method" else c)
    per_method = per_image.groupby("method", sort=False).agg(
        seconds_per_image=("seconds", "mean"), f1=("f1", "mean"), n_found=("n_found", "mean"),
        n_images=("image", "size")).reset_index()
    per_method["images_per_second"] = 1.0 / per_method["seconds_per_image"]
    per_method["available"] = True
    if not gpu:
        per_method.loc[len(per_method)] = {"method": "DCNN GPU (batch)", "available": False}
    summary = {"config": cfg.model_dump(mode="json"), "gpu": gpu and torch.cuda.get_device_name(0) or "not available",
               "load_average": _loadavg()}
    return Result(tables={"per_image": per_image, "per_method": per_method}, summary=summary)


def _method_rank(method: str) -> int:
    """Order of the bars: LoG* full, warm start, plain LoG, DCNN CPU, DCNN GPU."""
    for k, prefix in enumerate(("LoG* (full", "LoG* (warm", "LoG (", "DCNN CPU", "DCNN GPU")):
        if method.startswith(prefix):
            return k
    return 9


def _loadavg() -> list[float] | None:
    try:
        with open("/proc/loadavg") as fh:
            return [float(v) for v in fh.read().split()[:3]]
    except OSError:
        return None

"""Seconds per image of LoG*, warm-started LoG*, plain LoG and the DCNN (Fig. 5 of the LoG* paper).

``images`` 256 x 256 sub-images of one large simulated image; seconds per image for LoG*
(full optimization), LoG* warm-started from the previous image's Pareto set with fewer
trials, plain LoG at fixed parameters, the DCNN on the CPU (a batch of all images and
one image at a time) and on a GPU when one is present: ``rewardscope bench speed``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from rewardscope.bench.scoring import score
from rewardscope.bench.speed_config import SpeedBenchConfig  # noqa: F401  (re-exported)
from rewardscope.config import make_config
from rewardscope.progress import ProgressArg, progress_scope, start_stage
from rewardscope.result import Result

#: Side of the timed sub-images, pixels.
TILE = 256
#: Order of the bars: LoG* full, warm start, plain LoG, DCNN CPU, DCNN GPU (method name prefixes).
METHOD_ORDER = ("LoG* (full", "LoG* (warm", "LoG (", "DCNN CPU", "DCNN GPU")
GPU_METHOD = "DCNN GPU (batch)"


Record = Callable[[str, int, float, Any], None]


def bench_speed(config: SpeedBenchConfig | None = None, *, progress: ProgressArg = False,
                **overrides: Any) -> Result:
    """Seconds per 256 x 256 image of LoG*, warm-started LoG*, plain LoG and the DCNN.

    Parameters
    ----------
    config : SpeedBenchConfig, optional
        Keyword ``overrides`` replace single fields (``images=2, threads=(1,)``).
    progress : bool or callable
        ``progress(stage, done, total)`` (:mod:`rewardscope.progress`), counted in images.

    Returns
    -------
    Result
        Tables ``per_image`` (method, image, seconds, n_found, f1, ...) and ``per_method``
        (mean seconds per image, images per second, mean F1, ``available``); the summary
        holds the config, the GPU's name (or "not available") and the load average.
    """
    import torch

    cfg = make_config(SpeedBenchConfig, config, **overrides)
    tiles = subimages(cfg)
    rows: list[dict[str, Any]] = []

    def record(method: str, i: int, seconds: float, atoms: Any) -> None:
        rows.append({"method": method, "image": i, "seconds": seconds, "n_found": len(atoms),
                     **score(atoms, tiles[i])})

    with progress_scope(progress) as report:
        advance = start_stage(report, "speed benchmark (LoG*)", total=len(tiles), unit="images")
        _time_logstar(cfg, tiles, record, advance)
        _time_dcnn_cpu(cfg, [t.image for t in tiles], record)
    gpu = torch.cuda.is_available()
    if gpu:
        _time_dcnn_gpu(cfg, [t.image for t in tiles], record)
    summary = {"config": cfg.model_dump(mode="json"), "gpu": gpu and torch.cuda.get_device_name(0) or "not available",
               "load_average": _loadavg()}
    per_image = _ordered(pd.DataFrame(rows))
    return Result(tables={"per_image": per_image, "per_method": _per_method(per_image, gpu=gpu)}, summary=summary)


def subimages(cfg: SpeedBenchConfig) -> list[SimpleNamespace]:
    """``cfg.images`` 256 x 256 tiles of one simulated image, each with its own truth.

    Each tile has the attributes :func:`rewardscope.metrics.score_atoms` reads from a
    simulation: ``image``, ``truth``, ``positions``, ``crystal``, ``pixel_size``.
    """
    from rewardscope.simulate import simulate_haadf

    per_row = int(np.ceil(np.sqrt(cfg.images)))
    big = simulate_haadf(cfg.lattice, size=TILE * per_row, pixel_size=cfg.pixel_size, noise=cfg.noise, seed=cfg.seed)
    tiles = []
    for k in range(cfg.images):
        r0, c0 = TILE * (k // per_row), TILE * (k % per_row)
        t = big.truth
        inside = (t["x"] >= c0) & (t["x"] <= c0 + TILE - 1) & (t["y"] >= r0) & (t["y"] <= r0 + TILE - 1)
        truth = t[inside].assign(x=lambda d: d["x"] - c0, y=lambda d: d["y"] - r0).reset_index(drop=True)
        tiles.append(SimpleNamespace(image=big.image[r0:r0 + TILE, c0:c0 + TILE], truth=truth,
                                     positions=truth[["x", "y"]].to_numpy(), crystal=big.crystal,
                                     pixel_size=big.pixel_size))
    return tiles


def _time_logstar(cfg: SpeedBenchConfig, tiles: list[SimpleNamespace], record: Record,
                  advance: Callable[..., None]) -> None:
    """Full LoG*, LoG* warm-started from the previous tile's result, and plain LoG, per tile."""
    from rewardscope.workflows.atoms import find_atoms

    common = dict(lattice=cfg.lattice, pixel_size=cfg.pixel_size, lattice_prior=False)  # LoG* as in the paper
    previous = None
    for i, tile in enumerate(tiles):
        t = time.perf_counter()
        full = find_atoms(tile.image, trials=cfg.trials, seed=i, **common)
        record("LoG* (full)", i, time.perf_counter() - t, full.atoms)
        if previous is not None:
            t = time.perf_counter()
            warm = find_atoms(tile.image, trials=cfg.warm_trials, seed=i, warm_start=previous, **common)
            record(f"LoG* (warm start, {cfg.warm_trials} trials)", i, time.perf_counter() - t, warm.atoms)
        previous = full
        t = time.perf_counter()
        plain = find_atoms(tile.image, method="log", **common)
        record("LoG (fixed parameters)", i, time.perf_counter() - t, plain.atoms)
        advance()


def _time_dcnn_cpu(cfg: SpeedBenchConfig, images: list[np.ndarray], record: Record) -> None:
    """The DCNN on the CPU per thread count: one image per call, then one batch of all."""
    from rewardscope.detect.dcnn import find_atoms_dcnn, load_model

    model = load_model()
    for n in cfg.threads:
        label = f"DCNN CPU ({n} thread{'s' * (n > 1)}"
        find_atoms_dcnn(images[0], pixel_size=cfg.pixel_size, model=model, threads=n)  # warm-up (allocations)
        for i, img in enumerate(images):
            t = time.perf_counter()
            one = find_atoms_dcnn(img, pixel_size=cfg.pixel_size, model=model, threads=n)
            record(f"{label}, one image per call)", i, time.perf_counter() - t, one.atoms)
        _time_batch(f"{label}, batch of {len(images)})", images, record, pixel_size=cfg.pixel_size, model=model,
                    threads=n)


def _time_dcnn_gpu(cfg: SpeedBenchConfig, images: list[np.ndarray], record: Record) -> None:
    """The DCNN on the GPU, one batch of all images after a warm-up batch."""
    from rewardscope.detect.dcnn import find_atoms_dcnn, load_model

    model = load_model()
    find_atoms_dcnn(images, pixel_size=cfg.pixel_size, model=model, device="cuda")
    _time_batch(GPU_METHOD, images, record, pixel_size=cfg.pixel_size, model=model, device="cuda")


def _time_batch(method: str, images: list[np.ndarray], record: Record, **kwargs: Any) -> None:
    """Time one batched DCNN call; every image gets the mean seconds per image."""
    from rewardscope.detect.dcnn import find_atoms_dcnn

    t = time.perf_counter()
    batch = find_atoms_dcnn(images, **kwargs)
    per = (time.perf_counter() - t) / len(images)
    for i, b in enumerate(batch):
        record(method, i, per, b.atoms)


def _ordered(per_image: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by method (in :data:`METHOD_ORDER`) and image."""
    order = {m: k for k, m in enumerate(dict.fromkeys(sorted(per_image["method"], key=_method_rank)))}
    return per_image.sort_values(["method", "image"], key=lambda c: c.map(order) if c.name == "method" else c)


def _per_method(per_image: pd.DataFrame, *, gpu: bool) -> pd.DataFrame:
    """Mean seconds, images per second, F1 and count per method; a GPU row marked unavailable without one."""
    per_method = per_image.groupby("method", sort=False).agg(
        seconds_per_image=("seconds", "mean"), f1=("f1", "mean"), n_found=("n_found", "mean"),
        n_images=("image", "size")).reset_index()
    per_method["images_per_second"] = 1.0 / per_method["seconds_per_image"]
    per_method["available"] = True
    if not gpu:
        per_method.loc[len(per_method)] = {"method": GPU_METHOD, "available": False}
    return per_method


def _method_rank(method: str) -> int:
    """Position of ``method`` in :data:`METHOD_ORDER` (9 for anything else)."""
    for k, prefix in enumerate(METHOD_ORDER):
        if method.startswith(prefix):
            return k
    return 9


def _loadavg() -> list[float] | None:
    try:
        with open("/proc/loadavg") as fh:
            return [float(v) for v in fh.read().split()[:3]]
    except OSError:
        return None


__all__ = ["SpeedBenchConfig", "bench_speed", "subimages"]

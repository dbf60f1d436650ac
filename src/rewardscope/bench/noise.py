"""Noise robustness of LoG* and the DCNN (Fig. 3 of the LoG* paper): ``rewardscope bench noise``.

``images`` simulated images (one seed each; the same clean image at every level) with
Gaussian noise 0, 0.1, ..., 1.0 on the image scaled to [0, 1]. The DCNN runs on every
image; LoG* (full optimization) on the first ``logstar_images`` of each level (about 2 s
per image). Per image: atoms found, true count, F1/precision/recall
(:func:`rewardscope.bench.scoring.score`), LoG*'s chosen parameters and its F1 against
the DCNN as an oracle; LoG*'s trials at three levels for Pareto plots.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from rewardscope.bench.scoring import LOG_PARAMS, score
from rewardscope.bench.noise_config import NoiseBenchConfig  # noqa: F401  (re-exported)
from rewardscope.config import make_config
from rewardscope.metrics import MARGIN_PX, MATCH_TOLERANCE_NN, score_atoms
from rewardscope.progress import ProgressArg, progress_scope, start_stage
from rewardscope.result import Result


def bench_noise(config: NoiseBenchConfig | None = None, *, progress: ProgressArg = False,
                **overrides: Any) -> Result:
    """LoG* versus the DCNN on simulated images with increasing Gaussian noise.

    Parameters
    ----------
    config : NoiseBenchConfig, optional
        Keyword ``overrides`` replace single fields (``images=2, levels=(0.0, 1.0)``).
    progress : bool or callable
        ``progress(stage, done, total)`` (:mod:`rewardscope.progress`), counted in images.

    Returns
    -------
    Result
        Tables ``per_image`` (method, noise, image, n_true, n_found, f1, ..., LoG*
        parameters, ``f1_vs_oracle``), ``per_level`` (mean and std per method and level) and
        ``pareto_<level>`` (LoG* trials of image 0 at each ``pareto_levels`` entry);
        ``extras["studies"]`` maps level to the StudyResult.

    Examples
    --------
    >>> res = bench_noise(images=1, logstar_images=0, levels=(0.0,), size=64)  # DCNN only, one clean image
    >>> res["per_level"][["method", "noise", "n_true", "n_found", "f1"]]
      method  noise  n_true  n_found   f1
    0   dcnn    0.0    72.0     72.0  1.0
    """
    cfg = make_config(NoiseBenchConfig, config, **overrides)
    rows: list[dict[str, Any]] = []
    studies: dict[float, Any] = {}
    t0 = time.perf_counter()
    n_logstar = min(cfg.logstar_images, cfg.images)
    with progress_scope(progress) as report:
        advance = start_stage(report, "noise benchmark", total=len(cfg.levels) * (cfg.images + n_logstar),
                              unit="images")
        for level in cfg.levels:
            sims, found = _dcnn_level(cfg, level, rows)
            advance(len(sims))
            for i, sim in enumerate(sims[:n_logstar]):
                study = _logstar_image(cfg, level, i, sim, found[i], rows)
                if i == 0 and any(abs(level - p) < 1e-9 for p in cfg.pareto_levels):
                    studies[level] = study
                advance()
    per_image = pd.DataFrame(rows)
    tables = {"per_image": per_image, "per_level": _per_level(per_image)}
    tables.update({f"pareto_{level:.1f}": st.trials for level, st in studies.items()})
    summary = {"config": cfg.model_dump(mode="json"), "seconds": time.perf_counter() - t0,
               "scoring": f"one-to-one within {MATCH_TOLERANCE_NN:g} x min ideal NN distance, {MARGIN_PX:g} px border ignored"}
    return Result(tables=tables, summary=summary, extras={"studies": studies})


def _dcnn_level(cfg: NoiseBenchConfig, level: float, rows: list[dict[str, Any]]) -> tuple[list[Any], list[Any]]:
    """Simulate one level's images, find their atoms with the DCNN (one batch), append a row per image."""
    from rewardscope.detect.dcnn import find_atoms_dcnn
    from rewardscope.simulate import simulate_haadf

    sims = [simulate_haadf(cfg.lattice, size=cfg.size, pixel_size=cfg.pixel_size, noise=level, seed=cfg.seed + i)
            for i in range(cfg.images)]
    found = find_atoms_dcnn([s.image for s in sims], pixel_size=sims[0].pixel_size, ensemble=cfg.ensemble)
    for i, (sim, f) in enumerate(zip(sims, found)):
        rows.append({"method": "dcnn", "noise": level, "image": i, "n_true": len(sim.truth),
                     "n_found": f.count, **score(f.atoms, sim), "seconds": f.seconds})
    return sims, found


def _logstar_image(cfg: NoiseBenchConfig, level: float, i: int, sim: Any, oracle: Any,
                   rows: list[dict[str, Any]]) -> Any:
    """LoG* on one image, scored against the truth and against the DCNN (``oracle``); returns its study."""
    from rewardscope.workflows.atoms import find_atoms

    res = find_atoms(sim.image, lattice=cfg.lattice, pixel_size=cfg.pixel_size, trials=cfg.trials, seed=i,
                     lattice_prior=False)  # LoG* as in the paper
    vs_oracle = score_atoms(res.atoms, oracle.atoms, shape=sim.image.shape, crystal=sim.crystal,
                            pixel_size=sim.pixel_size)
    rows.append({"method": "log-star", "noise": level, "image": i, "n_true": len(sim.truth),
                 "n_found": len(res.atoms), **score(res.atoms, sim),
                 "seconds": res.summary["seconds"]["total"], "f1_vs_oracle": vs_oracle.f1,
                 **{k: res.study.best_params[k] for k in LOG_PARAMS}, **res.study.best_values})
    return res.study


def _per_level(per_image: pd.DataFrame) -> pd.DataFrame:
    """Mean (and std of count and F1) per method and noise level."""
    cols = [c for c in ("n_true", "n_found", "f1", "precision", "recall", "rmse_px", "fp", "fn", "seconds",
                        "f1_vs_oracle", *LOG_PARAMS, "qc", "er") if c in per_image]
    g = per_image.groupby(["method", "noise"])[cols]
    mean, std = g.mean(), g.std(ddof=0)
    out = mean.join(std[["n_found", "f1"]].add_suffix("_std"))
    out.insert(0, "n_images", g.size())
    return out.reset_index()


__all__ = ["NoiseBenchConfig", "bench_noise"]

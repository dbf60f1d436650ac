"""Figures of the noise and speed benchmarks (like Figs. 3 and 5 of the LoG* paper)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from matplotlib.ticker import LogLocator  # noqa: E402

from rewardscope.report.common import save_figure  # noqa: E402
from rewardscope.report.pareto import plot_pareto  # noqa: E402

_STYLE = {"dcnn": ("DCNN", "tab:orange", "s"), "log-star": ("LoG*", "tab:blue", "o")}


def plot_noise(per_level: pd.DataFrame, studies: dict[float, Any], *, path: str | Path) -> None:
    """Counts, F1 and LoG* parameters versus noise, and LoG* Pareto fronts at a few levels.

    Parameters
    ----------
    per_level : pandas.DataFrame
        ``per_level`` table of :func:`rewardscope.workflows.benchmarks.bench_noise`.
    studies : dict of float to StudyResult
        LoG* studies by noise level (one Pareto panel each, at most three).
    path : str or Path
        PNG file.
    """
    fig, axes = plt.subplots(2, 3, figsize=(15, 8.5))
    ax_count, ax_f1, ax_par = axes[0]
    truth = per_level.groupby("noise")["n_true"].mean()
    ax_count.plot(truth.index, truth.values, "k--", label="truth")
    for method, g in per_level.groupby("method"):
        label, colour, marker = _STYLE.get(method, (method, None, "^"))
        ax_count.errorbar(g["noise"], g["n_found"], yerr=g["n_found_std"], marker=marker, color=colour,
                          capsize=3, label=f"{label} ({int(g['n_images'].iloc[0])} images/level)")
        ax_f1.errorbar(g["noise"], g["f1"], yerr=g["f1_std"], marker=marker, color=colour, capsize=3, label=label)
    ax_count.set(xlabel="noise sigma (image in [0, 1])", ylabel="atoms found", title="(a) atoms found vs noise")
    ax_f1.axhline(0.98, c="0.5", lw=0.8, ls=":")
    ax_f1.axhline(0.90, c="0.5", lw=0.8, ls=":")
    ax_f1.set(xlabel="noise sigma", ylabel="F1 against truth", title="(b) F1 vs noise", ylim=(0, 1.02))
    ax_count.legend(fontsize=8)
    ax_f1.legend(fontsize=8)
    ls = per_level[per_level["method"] == "log-star"]
    if len(ls):
        for name in ("min_sigma", "max_sigma", "threshold", "overlap"):
            ax_par.plot(ls["noise"], ls[name], marker="o", label=name)
        twin = ax_par.twinx()
        twin.plot(ls["noise"], ls["num_sigma"], "k:", marker="x", label="num_sigma")
        twin.set_ylabel("num_sigma")
        ax_par.legend(fontsize=8, loc="upper left")
    ax_par.set(xlabel="noise sigma", ylabel="value (sigmas in px)", title="(c) LoG* chosen parameters")
    for ax, (level, study) in zip(axes[1], sorted(studies.items())[:3]):
        plot_pareto(study, ax=ax, title=f"LoG* Pareto front, noise {level:.1f}")
    for ax in axes[1][len(studies):]:
        ax.axis("off")
    fig.tight_layout()
    save_figure(fig, path, dpi=130)


def plot_speed(per_method: pd.DataFrame, *, path: str | Path) -> None:
    """Bar plot of seconds per image, log scale; unavailable methods are labelled as such.

    Parameters
    ----------
    per_method : pandas.DataFrame
        ``per_method`` table of :func:`rewardscope.workflows.benchmarks.bench_speed`.
    path : str or Path
        PNG file.
    """
    fig, ax = plt.subplots(figsize=(9, 0.55 * len(per_method) + 1.5), layout="constrained")
    y = np.arange(len(per_method))
    secs = per_method["seconds_per_image"].to_numpy(float)
    avail = per_method["available"].to_numpy(bool)
    left = 10.0 ** np.floor(np.log10(np.nanmin(secs[avail]) / 2))  # bars need a left end on a log axis
    ax.barh(y[avail], secs[avail] - left, left=left, color="tab:blue")
    top = np.nanmax(secs[avail])
    for yi, s, ok in zip(y, secs, avail):
        ax.text(s * 1.1 if ok else left * 1.2, yi, f"{s:.3g} s" if ok else "not available", va="center", fontsize=9)
    ax.set_yticks(y, per_method["method"])
    ax.set_ylim(len(per_method) - 0.5, -0.5)  # top to bottom, unavailable rows included
    ax.set_xscale("log")
    ax.set_xlim(left, top * 10)
    ax.xaxis.set_major_locator(LogLocator(base=10, numticks=8))
    ax.set(xlabel="seconds per 256 x 256 image (log scale)", title="Speed per image")
    save_figure(fig, path, dpi=130)

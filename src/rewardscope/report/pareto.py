"""Pareto-front figure of any study: all trials, the front, the chosen point."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_pareto(study: Any, *, path: str | Path | None = None, objectives: tuple[str, str] | None = None,
                title: str | None = None, ax: Any = None) -> Any:
    """Scatter of two objectives over all trials, with the front and the chosen point.

    Parameters
    ----------
    study : StudyResult
        From :func:`rewardscope.optimize.run_study` (or a workflow result's study).
    path : str or Path, optional
        Save the figure there (PNG, 150 dpi) and close it.
    objectives : (str, str), optional
        Which two objectives to plot (default: the first two).
    title : str, optional
    ax : matplotlib Axes, optional
        Draw into it instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    names = list(objectives or study.objective_names[:2])
    if len(names) == 1:
        names = names * 2
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(5, 4))
    trials, front = study.trials, study.pareto.sort_values(names[0])
    ax.scatter(trials[names[0]], trials[names[1]], s=10, c="0.7", label=f"trials ({len(trials)})")
    ax.plot(front[names[0]], front[names[1]], "o-", ms=5, c="tab:blue", drawstyle="steps-post",
            label=f"Pareto front ({len(front)})")
    best = study.pareto[study.pareto["selected"]]
    ax.scatter(best[names[0]], best[names[1]], s=120, marker="*", c="tab:red", zorder=5,
               label=f"chosen ({study.selection})")
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    lo = np.nanmin(trials[names].to_numpy(float))
    if lo > 0 and np.nanmax(trials[names].to_numpy(float)) / lo > 1e3:
        ax.set_xscale("symlog", linthresh=1e-3)
        ax.set_yscale("symlog", linthresh=1e-3)
    ax.set_title(title or f"hypervolume {study.hypervolume:.4g}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=150)
        plt.close(fig)
    return fig

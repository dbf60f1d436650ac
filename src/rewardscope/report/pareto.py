"""Pareto-front figures: the front zoomed in, outliers clamped at the edge, rewards explained.

:func:`draw_front` is the one drawing routine (used by :func:`plot_pareto` for any
:class:`~rewardscope.optimize.StudyResult` and by :func:`rewardscope.report.particles.plot_pareto`):
the axes are zoomed to the non-dominated points plus a margin, trials outside the view are
drawn as open triangles at the axis edge (counted in the legend), axis labels say what each
reward measures (:data:`REWARD_DESCRIPTIONS`), and the title states the hypervolume with its
reference point and the space it is computed in (:func:`hypervolume_text`).
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import LogLocator  # noqa: E402

from rewardscope.optimize.study import NORMALISED_REFERENCE  # noqa: E402
from rewardscope.report.common import save_figure, set_title  # noqa: E402

#: What each built-in reward measures (from :mod:`rewardscope.rewards`); all are minimised.
REWARD_DESCRIPTIONS: dict[str, str] = {
    "qc": "count error |N - N_expected| / N_expected",
    "er": "crowding error: share of atoms closer to their 4 neighbours than er_factor x the ideal lattice",
    "compactness": "1 - compactness 4 pi A / P^2 of the mask",
    "perimeter": "mask perimeter / image border length",
    "overlap": "class overlap: Bhattacharyya coefficient of particle vs support intensities",
    "ambiguity": "share of pixels near the threshold (ambiguous)",
    "concavity": "1 - area-weighted mean solidity of the particles",
    "cuts": "split cut length / foreground perimeter",
}
#: A front spanning more than this ratio (all values > 0) gets a log axis.
LOG_RATIO = 100.0
#: Margin around the front, as a share of its span ...
MARGIN = 0.15
#: ... and at least this share of the trials' spread (minimum to median of the distinct
#: values: outliers do not count), so that a front of one distinct point still shows its
#: neighbourhood.
SPREAD_MARGIN = 0.1


def reward_label(name: str, *, width: int = 48) -> str:
    """Axis label of a reward: its name, what it measures (when known) and "minimised", wrapped.

    Examples
    --------
    >>> reward_label("qc")
    'qc: count error |N - N_expected| / N_expected\\n(minimised)'
    >>> reward_label("my_reward")
    'my_reward (minimised)'
    """
    text = f"{name}: {REWARD_DESCRIPTIONS[name]} (minimised)" if name in REWARD_DESCRIPTIONS else f"{name} (minimised)"
    return textwrap.fill(text, width=width)


def hypervolume_text(hypervolume: float, *, reference_point: Sequence[float] | None, objective_names: Sequence[str],
                     n_trials: int) -> str:
    """The hypervolume with its reference point and the space it is computed in.

    Parameters
    ----------
    hypervolume : float
    reference_point : sequence of float or None
        Raw-space reference; None means the study's default (objectives min-max
        normalized over its trials, reference 1.1 in each).
    objective_names : sequence of str
    n_trials : int

    Examples
    --------
    >>> hypervolume_text(1.2, reference_point=None, objective_names=["a", "b"], n_trials=100)
    'hypervolume 1.2 (at most 1.21) of (a, b) min-max normalized over 100 trials, reference (1.1, 1.1)'
    >>> hypervolume_text(0.9988, reference_point=[1.0, 1.0], objective_names=["qc", "er"], n_trials=200)
    'hypervolume 0.9988 of raw (qc, er), reference (1, 1)'
    """
    names = ", ".join(objective_names)
    if reference_point is None:
        ref = ", ".join(f"{NORMALISED_REFERENCE:g}" for _ in objective_names)
        best = NORMALISED_REFERENCE ** len(objective_names)
        return (f"hypervolume {hypervolume:.4g} (at most {best:.4g}) of ({names}) min-max normalized over "
                f"{n_trials} trials, reference ({ref})")
    ref = ", ".join(f"{r:g}" for r in reference_point)
    return f"hypervolume {hypervolume:.4g} of raw ({names}), reference ({ref})"


@dataclass(frozen=True)
class FrontView:
    """What :func:`draw_front` showed: axis limits, scales and the trials clamped at the edge."""

    xlim: tuple[float, float]
    ylim: tuple[float, float]
    xscale: str
    yscale: str
    n_clamped: int


def _axis_view(front: np.ndarray, trials: np.ndarray) -> tuple[tuple[float, float], str]:
    """Limits (front plus margin) and scale of one axis."""
    front, trials = front[np.isfinite(front)], trials[np.isfinite(trials)]
    log = front.size > 0 and front.min() > 0 and trials.min() > 0 and front.max() / front.min() > LOG_RATIO
    f, t = (np.log10(front), np.log10(trials)) if log else (front, trials)
    lo, hi = float(f.min()), float(f.max())
    distinct = np.unique(t)  # repeated trials (a converged sampler) must not shrink the spread
    spread = float(np.median(distinct) - distinct.min()) if distinct.size else 0.0
    pad = max(MARGIN * (hi - lo), SPREAD_MARGIN * spread)
    if pad <= 0:
        pad = 0.05 * abs(hi) if hi != 0 else 1e-3
    lo, hi = lo - pad, hi + pad
    return ((10 ** lo, 10 ** hi) if log else (lo, hi)), ("log" if log else "linear")


def _colour_norm(values: np.ndarray) -> Any:
    """Log colour scale for values spanning more than a decade, else linear (limits from the values)."""
    finite = values[np.isfinite(values)]
    if finite.size and finite.min() > 0 and finite.max() / finite.min() > 10:
        return matplotlib.colors.LogNorm()
    return matplotlib.colors.Normalize()


def draw_front(ax: Any, trials: np.ndarray, front: np.ndarray, chosen: np.ndarray, *, names: Sequence[str],
               colour: np.ndarray | None = None, colour_label: str = "", selection: str = "") -> FrontView:
    """Draw trials, the Pareto front (steps) and the chosen point, zoomed to the front.

    Parameters
    ----------
    ax : matplotlib Axes
    trials : numpy.ndarray, shape (n_trials, 2)
        Objective values of all trials (x, y).
    front : numpy.ndarray, shape (n_front, 2)
        The non-dominated points.
    chosen : numpy.ndarray, shape (2,) or (1, 2)
        The selected point.
    names : (str, str)
        Objective names (axis labels, via :func:`reward_label`).
    colour : numpy.ndarray, shape (n_trials,), optional
        Colour the trials in the view by this value (e.g. a parameter; log scale when it
        spans more than a decade there).
    colour_label : str
        Label of the colour bar.
    selection : str
        Selection rule, for the legend.

    Returns
    -------
    FrontView
        The limits; trials outside them are drawn as open triangles at the edge.

    Examples
    --------
    >>> fig, ax = plt.subplots()
    >>> t = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [50.0, 50.0]])
    >>> draw_front(ax, t, t[:3], t[2], names=["a", "b"]).n_clamped
    1
    """
    trials, front = np.asarray(trials, float).reshape(-1, 2), np.asarray(front, float).reshape(-1, 2)
    chosen = np.asarray(chosen, float).reshape(-1, 2)
    (xlim, xscale), (ylim, yscale) = (_axis_view(front[:, k], trials[:, k]) for k in range(2))
    inside = ((trials[:, 0] >= xlim[0]) & (trials[:, 0] <= xlim[1])
              & (trials[:, 1] >= ylim[0]) & (trials[:, 1] <= ylim[1]))
    kw: dict[str, Any] = {"c": "0.65"}
    if colour is not None:
        kw = {"c": colour[inside], "cmap": "viridis", "norm": _colour_norm(colour[inside])}
    shown = ax.scatter(trials[inside, 0], trials[inside, 1], s=12, zorder=2, label=f"trials ({len(trials)})", **kw)
    out = trials[~inside]
    if len(out):
        clamped = np.column_stack([np.clip(out[:, 0], *xlim), np.clip(out[:, 1], *ylim)])
        ax.scatter(clamped[:, 0], clamped[:, 1], s=26, marker="^", facecolors="none", edgecolors="0.35",
                   linewidths=0.8, clip_on=False, zorder=3,
                   label=f"{len(out)} trials outside the view, drawn at the edge")
    order = np.argsort(front[:, 0], kind="stable")
    distinct = len(np.unique(front, axis=0))
    ax.plot(front[order, 0], front[order, 1], "o-", ms=4, lw=1, c="tab:blue", drawstyle="steps-post", zorder=4,
            label=f"Pareto front ({len(front)} trials" + (f", {distinct} distinct)" if distinct < len(front) else ")"))
    ax.scatter(chosen[:, 0], chosen[:, 1], s=140, marker="*", c="tab:red", edgecolors="k", linewidths=0.5,
               zorder=5, label=f"chosen ({selection})" if selection else "chosen")
    ax.set(xscale=xscale, yscale=yscale, xlim=xlim, ylim=ylim)
    for axis, scale in ((ax.xaxis, xscale), (ax.yaxis, yscale)):
        if scale == "log":
            axis.set_major_locator(LogLocator(base=10, numticks=5))
            axis.set_minor_locator(LogLocator(base=10, subs=np.arange(2, 10) * 0.1, numticks=5))
            axis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel(reward_label(names[0]), fontsize=8)
    ax.set_ylabel(reward_label(names[1], width=40), fontsize=8)
    ax.legend(fontsize=7, loc="best", framealpha=0.85)
    if colour is not None:
        ax.figure.colorbar(shown, ax=ax, label=colour_label)
    return FrontView(xlim=tuple(xlim), ylim=tuple(ylim), xscale=xscale, yscale=yscale, n_clamped=int(len(out)))


def plot_pareto(study: Any, *, path: str | Path | None = None, objectives: tuple[str, str] | None = None,
                title: str | None = None, ax: Any = None) -> Any:
    """Two objectives over all trials, with the front and the chosen point, zoomed to the front.

    Parameters
    ----------
    study : StudyResult
        From :func:`rewardscope.optimize.run_study` (or a workflow result's study).
    path : str or Path, optional
        Save the figure there (PNG, 150 dpi) and close it.
    objectives : (str, str), optional
        Which two objectives to plot (default: the first two).
    title : str, optional
        First title line; the hypervolume with its reference point follows.
    ax : matplotlib Axes, optional
        Draw into it instead of a new figure.

    Returns
    -------
    matplotlib.figure.Figure
    """
    names = list(objectives or study.objective_names[:2])
    if len(names) == 1:
        names = names * 2
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6, 5), layout="constrained")
    chosen = study.pareto[study.pareto["selected"]]
    draw_front(ax, study.trials[names].to_numpy(float), study.pareto[names].to_numpy(float),
               chosen[names].to_numpy(float), names=names, selection=study.selection)
    hv = hypervolume_text(study.hypervolume, reference_point=study.reference_point,
                          objective_names=study.objective_names, n_trials=len(study.trials))
    set_title(ax, f"{title}. {hv}" if title else hv, fontsize=9)
    if path is not None:
        save_figure(fig, path, dpi=150)
    return fig

"""Figures of a particle segmentation: overlay, size distributions, count/size vs time, Pareto front.

One job: PNG figures from a :class:`~rewardscope.workflows.particles.ParticleResult`
(matplotlib, Agg backend; the core never imports this module). For movies, figures stay
readable: overlays and size histograms are drawn for at most ``max_panels`` frames spread
over the movie, and the time series has one line per quantity.
"""

from __future__ import annotations

import textwrap

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from skimage.segmentation import find_boundaries  # noqa: E402

#: Attribution line for figures of the HRTEM data set (CC-BY-4.0).
def draw_overlay(ax: Any, image: np.ndarray, labels: np.ndarray, *, truth: np.ndarray | None = None,
                 title: str | None = None) -> None:
    """Grey image with particle outlines (red) and, optionally, true outlines (cyan).

    Parameters
    ----------
    ax : matplotlib Axes
    image : numpy.ndarray, shape (rows, cols)
    labels : numpy.ndarray, shape (rows, cols), int
        Particle labels; outlines also separate touching particles.
    truth : numpy.ndarray, shape (rows, cols), bool, optional
        A reference mask drawn as a thin cyan outline.
    title : str, optional
    """
    lo, hi = np.percentile(image, [1, 99])
    rgb = np.repeat(np.clip((np.asarray(image, float) - lo) / max(hi - lo, 1e-12), 0, 1)[..., None], 3, axis=2)
    if truth is not None:
        rgb[find_boundaries(np.asarray(truth, bool), mode="inner")] = (0.0, 0.9, 1.0)
    rgb[find_boundaries(labels, mode="inner")] = (1.0, 0.15, 0.1)
    ax.imshow(rgb, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)


def _size_column(particles: pd.DataFrame) -> tuple[str, str]:
    if "equivalent_diameter_nm" in particles:
        return "equivalent_diameter_nm", "equivalent diameter (nm)"
    return "equivalent_diameter_px", "equivalent diameter (px; no pixel size)"


def pick_frames(n_frames: int, max_panels: int) -> list[int]:
    """Up to ``max_panels`` frame indices spread evenly from first to last.

    Examples
    --------
    >>> pick_frames(200, 4)
    [0, 66, 133, 199]
    """
    if n_frames <= max_panels:
        return list(range(n_frames))
    return [int(round(v)) for v in np.linspace(0, n_frames - 1, max_panels)]


def plot_overlays(images: Sequence[np.ndarray], labels: Sequence[np.ndarray], path: str | Path, *,
                  titles: Sequence[str] | None = None, footer: str | None = None) -> Path:
    """A row (or grid) of overlays, saved as PNG."""
    n = len(images)
    cols = min(n, 3)
    rows = int(np.ceil(n / cols))
    footer = textwrap.fill(footer, width=int(60 * cols)) if footer else None
    n_lines = footer.count("\n") + 1 if footer else 0
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 4.2 * rows + 0.15 * n_lines), squeeze=False)
    for k, ax in enumerate(axes.ravel()):
        if k < n:
            draw_overlay(ax, images[k], labels[k], title=titles[k] if titles else None)
        else:
            ax.set_axis_off()
    if footer:
        fig.text(0.5, 0.005, footer, ha="center", va="bottom", fontsize=7)
    fig.tight_layout(rect=(0, 0.035 * n_lines / rows, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_size_distributions(particles: pd.DataFrame, path: str | Path, *, frames: Sequence[int] | None = None,
                            max_panels: int = 6) -> Path:
    """Histograms of particle diameter, one panel per frame (at most ``max_panels``).

    Particles cut by the image border are drawn hatched on top (their size is a lower bound).
    """
    col, xlabel = _size_column(particles)
    all_frames = sorted(particles["frame"].unique()) if len(particles) else [0]
    chosen = list(frames) if frames is not None else [all_frames[i] for i in pick_frames(len(all_frames), max_panels)]
    values = particles[col].to_numpy(float)
    bins = np.histogram_bin_edges(values if values.size else [0, 1], bins=min(30, max(5, values.size // 4 or 5)))
    cols = min(len(chosen), 3)
    rows = int(np.ceil(len(chosen) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.8 * cols, 2.9 * rows), squeeze=False, sharex=True)
    for ax, frame in zip(axes.ravel(), chosen, strict=False):
        sub = particles[particles["frame"] == frame]
        inner, edge = sub[~sub["touches_border"]][col], sub[sub["touches_border"]][col]
        ax.hist([inner, edge], bins=bins, stacked=True, color=["tab:blue", "lightgrey"],
                label=["inside", "cut by border"])
        ax.set_title(f"frame {frame}: {len(sub)} particles, mean {inner.mean():.3g}", fontsize=9)
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel("count", fontsize=8)
    for ax in axes.ravel()[len(chosen):]:
        ax.set_axis_off()
    axes.ravel()[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_timeseries(timeseries: pd.DataFrame, path: str | Path) -> Path:
    """Particle count and mean diameter (particles inside the field of view) vs frame."""
    size_col = "mean_equivalent_diameter_nm" if "mean_equivalent_diameter_nm" in timeseries else \
        "mean_equivalent_diameter_px"
    unit = "nm" if size_col.endswith("nm") else "px"
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
    ax1.plot(timeseries["frame"], timeseries["n_particles"], label="all")
    ax1.plot(timeseries["frame"], timeseries["n_interior"], label="not cut by border")
    ax1.set_ylabel("particles")
    ax1.legend(fontsize=8)
    ax2.plot(timeseries["frame"], timeseries[size_col], color="tab:green")
    ax2.set_ylabel(f"mean diameter ({unit})")
    ax2.set_xlabel("frame")
    for f in timeseries.loc[timeseries["reoptimised"].astype(bool), "frame"]:
        for ax in (ax1, ax2):
            ax.axvline(f, color="grey", lw=0.6, ls=":")
    ax1.set_title("count and mean size vs time (dotted: re-optimised)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_pareto(pareto: pd.DataFrame, trials: pd.DataFrame, path: str | Path, *, stage: str = "foreground",
                x: str = "overlap", y: str = "ambiguity") -> Path:
    """All trials and the Pareto front of one stage; the chosen point is starred."""
    tr = trials[trials["stage"] == stage]
    pa = pareto[pareto["stage"] == stage].sort_values(x)
    if "frame" in pa:
        first = pa["frame"].min()
        tr, pa = tr[tr["frame"] == first], pa[pa["frame"] == first]
    fig, ax = plt.subplots(figsize=(5, 4))
    sc = ax.scatter(tr[x], tr[y], c=tr["sigma_px"], s=14, cmap="viridis", norm=matplotlib.colors.LogNorm())
    fig.colorbar(sc, ax=ax, label="sigma_px")
    ax.plot(pa[x], pa[y], "k-", lw=0.8, label="Pareto front")
    sel = pa[pa["selected"]]
    ax.plot(sel[x], sel[y], "r*", ms=14, label=f"chosen: sigma {float(sel['sigma_px'].iloc[0]):.2f} px")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"{x} (minimised)")
    ax.set_ylabel(f"{y} (minimised)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def save_particle_figures(result: Any, folder: str | Path, *, masks: Any = None, frames: Any = None,
                          max_panels: int = 6, footer: str | None = None) -> list[Path]:
    """Write ``overlay.png``, ``sizes.png``, ``pareto.png`` and, for movies, ``timeseries.png``.

    Parameters
    ----------
    result : ParticleResult
    folder : str or Path
    masks : array_like (frames, rows, cols), optional
        Label images when the result did not keep them (e.g. a memory-mapped ``masks.tif``).
    frames : indexable of 2-D arrays, optional
        The movie frames (default ``result.extras['stack']``).
    max_panels : int
        Frames shown in the overlay and size figures of a movie.
    footer : str, optional
        Text under the overlay (e.g. a data attribution).

    Returns
    -------
    list of Path
    """
    folder = Path(folder)
    out = []
    movie = "timeseries" in result.tables
    labels = result.arrays.get("masks") if masks is None else masks
    if movie:
        frames = result.extras.get("stack") if frames is None else frames
        idx = pick_frames(len(frames), min(max_panels, 3))
        images = [frames[i] for i in idx]
        labs = [np.asarray(labels[i]) for i in idx]
        titles = [f"frame {i}" for i in idx]
    else:
        images, labs, titles = [result.image], [labels], None
    out.append(plot_overlays(images, labs, folder / "overlay.png", titles=titles, footer=footer))
    out.append(plot_size_distributions(result.tables["particles"], folder / "sizes.png", max_panels=max_panels))
    out.append(plot_pareto(result.tables["pareto"], result.tables["trials"], folder / "pareto.png"))
    if movie:
        out.append(plot_timeseries(result.tables["timeseries"], folder / "timeseries.png"))
    return out

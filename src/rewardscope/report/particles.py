"""Figures of a particle segmentation: overlay, size distributions, count/size vs time, Pareto front.

One job: PNG figures from a :class:`~rewardscope.workflows.particles.ParticleResult`
(matplotlib, Agg backend; the core never imports this module). For movies, figures stay
readable: overlays and size histograms are drawn for at most ``max_panels`` frames spread
over the movie, and the time series has one line per quantity.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.patheffects as path_effects  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from skimage.segmentation import find_boundaries  # noqa: E402

from rewardscope.optimize.pareto import hypervolume, normalize  # noqa: E402
from rewardscope.optimize.study import NORMALISED_REFERENCE  # noqa: E402
from rewardscope.report.common import (display_range, fd_bins, integer_counts, pixel_size_text,  # noqa: E402
                                       save_figure, set_title, show_image)
from rewardscope.report.pareto import draw_front, hypervolume_text  # noqa: E402
from rewardscope.units import Length  # noqa: E402

#: Outline colours: inside the particle (bright, reads on dark particles) and just outside it
#: (dark, reads on a bright support); together they stay visible on any background.
INNER_OUTLINE, OUTER_OUTLINE = (1.0, 0.9, 0.0), (0.8, 0.0, 0.15)
#: Overlay panels are drawn at an integer zoom of the image reaching at least this many pixels.
MIN_PANEL_PX = 400
#: Overlay figures are laid out in pixels at this dpi.
OVERLAY_DPI = 100


def outline_rgb(image: np.ndarray, labels: np.ndarray, *, truth: np.ndarray | None = None) -> np.ndarray:
    """The grey image as RGB with two-tone particle outlines (and a cyan outline of ``truth``).

    Parameters
    ----------
    image : numpy.ndarray, shape (rows, cols)
    labels : numpy.ndarray, shape (rows, cols), int
        Particle labels (0 = support); the inner outline also separates touching particles.
    truth : numpy.ndarray, shape (rows, cols), bool, optional

    Returns
    -------
    numpy.ndarray, shape (rows, cols, 3), float in [0, 1]

    Examples
    --------
    >>> lab = np.zeros((9, 9), int); lab[3:6, 3:6] = 1
    >>> rgb = outline_rgb(np.zeros((9, 9)), lab)
    >>> rgb[3, 3].tolist(), rgb[2, 4].tolist(), rgb[4, 4].tolist()
    ([1.0, 0.9, 0.0], [0.8, 0.0, 0.15], [0.0, 0.0, 0.0])
    """
    lo, hi = display_range(image)
    grey = np.clip((np.asarray(image, float) - lo) / (hi - lo), 0, 1)
    rgb = np.repeat(grey[..., None], 3, axis=2)
    if truth is not None:
        rgb[find_boundaries(np.asarray(truth, bool), mode="inner")] = (0.0, 0.9, 1.0)
    labels = np.asarray(labels)
    rgb[find_boundaries(labels > 0, mode="outer") & (labels == 0)] = OUTER_OUTLINE
    rgb[find_boundaries(labels, mode="inner") & (labels > 0)] = INNER_OUTLINE
    return rgb


def label_particles(ax: Any, particles: pd.DataFrame, *, fontsize: float = 7) -> list[Any]:
    """Write each particle's ``label`` (as in ``particles.csv``) at its centroid ``x, y`` (px).

    Returns
    -------
    list of matplotlib.text.Text
    """
    halo = [path_effects.withStroke(linewidth=2, foreground="black")]
    return [ax.text(x, y, str(int(lab)), color="white", fontsize=fontsize, ha="center", va="center",
                    path_effects=halo, clip_on=True)
            for lab, x, y in zip(particles["label"], particles["x"], particles["y"], strict=True)]


def draw_overlay(ax: Any, image: np.ndarray, labels: np.ndarray, *, truth: np.ndarray | None = None,
                 title: str | None = None, particles: pd.DataFrame | None = None,
                 pixel_size: Length | str | None = None) -> None:
    """Grey image with two-tone particle outlines, labels, a scale bar and, optionally, true outlines.

    Parameters
    ----------
    ax : matplotlib Axes
    image : numpy.ndarray, shape (rows, cols)
    labels : numpy.ndarray, shape (rows, cols), int
        Particle labels; outlines also separate touching particles.
    truth : numpy.ndarray, shape (rows, cols), bool, optional
        A reference mask drawn as a thin cyan outline.
    title : str, optional
    particles : pandas.DataFrame, optional
        ``label, x, y`` of the particles of this image: labels written at the centroids.
    pixel_size : Length or str, optional
        Scale bar.
    """
    show_image(ax, outline_rgb(image, labels, truth=truth), pixel_size=pixel_size)
    if particles is not None:
        label_particles(ax, particles)
    if title:
        set_title(ax, title, fontsize=9)


def _size_column(particles: pd.DataFrame) -> tuple[str, str]:
    if "equivalent_diameter_nm" in particles:
        return "equivalent_diameter_nm", "nm"
    return "equivalent_diameter_px", "px"


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


def overlay_figure(images: Sequence[np.ndarray], labels: Sequence[np.ndarray], *,
                   titles: Sequence[str] | None = None, footer: str | None = None,
                   particles: Sequence[pd.DataFrame | None] | None = None,
                   pixel_size: Length | str | None = None) -> Any:
    """Overlays side by side at full resolution: every image pixel covers ``zoom x zoom`` figure pixels.

    The axes are placed in pixels (at :data:`OVERLAY_DPI`) with an integer ``zoom``
    (the smallest giving :data:`MIN_PANEL_PX`), so no image pixel is dropped and thin
    outlines survive. Save with ``dpi=OVERLAY_DPI`` (:func:`plot_overlays` does).

    Returns
    -------
    matplotlib.figure.Figure
    """
    n = len(images)
    rows_px, cols_px = (max(np.shape(im)[k] for im in images) for k in (0, 1))
    zoom = max(1, math.ceil(MIN_PANEL_PX / max(rows_px, cols_px)))
    pw, ph = cols_px * zoom, rows_px * zoom
    margin, gap, title_px = 8, 14, 44 if titles else 8
    wrap = max(40, int(n * (pw + gap) / 6))
    footer = textwrap.fill(footer, width=wrap) if footer else None
    footer_px = 16 * (footer.count("\n") + 1) + 8 if footer else 0
    width, height = 2 * margin + n * pw + (n - 1) * gap, margin + title_px + ph + footer_px + margin
    fig = plt.figure(figsize=(width / OVERLAY_DPI, height / OVERLAY_DPI), dpi=OVERLAY_DPI)
    for k in range(n):
        left, bottom = margin + k * (pw + gap), margin + footer_px
        ax = fig.add_axes((left / width, bottom / height, pw / width, ph / height))
        draw_overlay(ax, images[k], labels[k], title=titles[k] if titles else None,
                     particles=particles[k] if particles is not None else None, pixel_size=pixel_size)
    if footer:
        fig.text(0.5, margin / height, footer, ha="center", va="bottom", fontsize=8)
    return fig


def plot_overlays(images: Sequence[np.ndarray], labels: Sequence[np.ndarray], path: str | Path, *,
                  titles: Sequence[str] | None = None, footer: str | None = None,
                  particles: Sequence[pd.DataFrame | None] | None = None,
                  pixel_size: Length | str | None = None) -> Path:
    """A row of full-resolution overlays (see :func:`overlay_figure`), saved as PNG.

    Parameters
    ----------
    images : sequence of numpy.ndarray, each (rows, cols)
    labels : sequence of numpy.ndarray, each (rows, cols), int
    path : str or Path
    titles : sequence of str, optional
    footer : str, optional
        Text under the panels (e.g. a data attribution).
    particles : sequence of pandas.DataFrame, optional
        Per panel, ``label, x, y`` (px) of its particles: label numbers at the centroids.
    pixel_size : Length or str, optional
        Scale bars.

    Returns
    -------
    Path
    """
    fig = overlay_figure(images, labels, titles=titles, footer=footer, particles=particles, pixel_size=pixel_size)
    return save_figure(fig, path, dpi=OVERLAY_DPI)


def sizes_figure(particles: pd.DataFrame, *, frames: Sequence[int] | None = None, max_panels: int = 6) -> Any:
    """The figure of :func:`plot_size_distributions` (not saved); see there.

    Returns
    -------
    matplotlib.figure.Figure
    """
    col, unit = _size_column(particles)
    all_frames = sorted(particles["frame"].unique()) if len(particles) else [0]
    chosen = list(frames) if frames is not None else [all_frames[i] for i in pick_frames(len(all_frames), max_panels)]
    cols = min(len(chosen), 3)
    rows = int(np.ceil(len(chosen) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.3 * rows), squeeze=False, sharex=True,
                             layout="constrained")
    for ax, frame in zip(axes.ravel(), chosen, strict=False):
        _size_panel(ax, particles[particles["frame"] == frame], col, unit,
                    f"frame {frame}: " if len(all_frames) > 1 else "")
    for ax in axes.ravel()[len(chosen):]:
        ax.set_axis_off()
    handles, names = axes.ravel()[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside lower center", ncols=min(3, cols), fontsize=8, frameon=False)
    if unit == "px":
        fig.suptitle("no pixel size: diameters in pixels", fontsize=9)
    return fig


def _size_panel(ax: Any, sub: pd.DataFrame, col: str, unit: str, prefix: str) -> None:
    """One histogram: particles inside the field and (grey) cut by the border, FD bins."""
    border = sub["touches_border"].astype(bool)
    inner, edge = sub.loc[~border, col], sub.loc[border, col]
    ax.hist([inner, edge], bins=fd_bins(sub[col]), stacked=True, color=["tab:blue", "lightgrey"],
            edgecolor="white", linewidth=0.5,
            label=["inside the field", "cut by the image border (its size is a lower bound)"])
    mean = inner.mean() if len(inner) else float("nan")
    if np.isfinite(mean):
        ax.axvline(mean, color="k", lw=1, ls="--", label=f"mean diameter of the particles inside ({unit})")
    integer_counts(ax.yaxis)
    ax.margins(y=0.08)
    set_title(ax, f"{prefix}{len(sub)} particles ({len(inner)} inside), mean equivalent diameter "
                  f"{mean:.3g} {unit}", fontsize=9)
    ax.set_xlabel(f"equivalent diameter ({unit})", fontsize=8)
    ax.set_ylabel("particles (count)", fontsize=8)


def plot_size_distributions(particles: pd.DataFrame, path: str | Path, *, frames: Sequence[int] | None = None,
                            max_panels: int = 6) -> Path:
    """Histograms of particle diameter, one panel per frame (at most ``max_panels``).

    Bins follow the Freedman-Diaconis rule (:func:`~rewardscope.report.common.fd_bins`),
    counts are integers, particles cut by the image border are stacked in grey (their
    size is a lower bound), and the mean of the others is marked with its unit.

    Parameters
    ----------
    particles : pandas.DataFrame
        ``frame``, ``touches_border`` and ``equivalent_diameter_nm`` (else ``_px``).
    path : str or Path
    frames : sequence of int, optional
        Frames to show (default: up to ``max_panels`` spread over the movie).
    max_panels : int

    Returns
    -------
    Path
    """
    return save_figure(sizes_figure(particles, frames=frames, max_panels=max_panels), path, dpi=110)


def plot_timeseries(timeseries: pd.DataFrame, path: str | Path) -> Path:
    """Particle count and mean diameter (particles inside the field of view) vs frame."""
    size_col = "mean_equivalent_diameter_nm" if "mean_equivalent_diameter_nm" in timeseries else \
        "mean_equivalent_diameter_px"
    unit = "nm" if size_col.endswith("nm") else "px; no pixel size"
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7, 5.2), sharex=True, layout="constrained")
    ax1.plot(timeseries["frame"], timeseries["n_particles"], label="all")
    ax1.plot(timeseries["frame"], timeseries["n_interior"], label="not cut by the border")
    ax1.set_ylabel("particles (count)")
    integer_counts(ax1.yaxis)
    ax1.legend(fontsize=8)
    ax2.plot(timeseries["frame"], timeseries[size_col], color="tab:green",
             label="mean of particles not cut by the border")
    ax2.set_ylabel(f"mean equivalent\ndiameter ({unit})")
    ax2.set_xlabel("frame")
    ax2.legend(fontsize=8)
    for f in timeseries.loc[timeseries["reoptimized"].astype(bool), "frame"]:
        for ax in (ax1, ax2):
            ax.axvline(f, color="grey", lw=0.6, ls=":")
    set_title(ax1, "particle count and mean size vs frame (dotted: parameters re-optimized)", fontsize=9)
    return save_figure(fig, path, dpi=110)


def plot_pareto(pareto: pd.DataFrame, trials: pd.DataFrame, path: str | Path, *, stage: str = "foreground",
                x: str = "overlap", y: str = "ambiguity") -> Path:
    """All trials and the Pareto front of one stage, zoomed to the front; trials coloured by sigma.

    Uses :func:`rewardscope.report.pareto.draw_front`; the title gives the stage's
    hypervolume in its normalized space (the study's default) with the reference point.
    For movies the first frame's study is shown.
    """
    tr = trials[trials["stage"] == stage]
    pa = pareto[pareto["stage"] == stage]
    where = ""
    if "frame" in pa:
        first = pa["frame"].min()
        tr, pa = tr[tr["frame"] == first], pa[pa["frame"] == first]
        where = f", frame {first}"
    fig, ax = plt.subplots(figsize=(6.4, 5), layout="constrained")
    sel = pa[pa["selected"]]
    sigma = tr["sigma_px"].to_numpy(float)
    draw_front(ax, tr[[x, y]].to_numpy(float), pa[[x, y]].to_numpy(float), sel[[x, y]].to_numpy(float),
               names=[x, y], colour=sigma, colour_label="sigma_px: Gaussian smoothing width (px)",
               selection=f"sigma {float(sel['sigma_px'].iloc[0]):.2f} px")
    values = tr[[x, y]].to_numpy(float)
    hv = hypervolume(normalize(pa[[x, y]].to_numpy(float), lower=values.min(axis=0), upper=values.max(axis=0)),
                     NORMALISED_REFERENCE)
    text = hypervolume_text(hv, reference_point=None, objective_names=[x, y], n_trials=len(tr))
    set_title(ax, f"{stage} stage{where}: {text}", fontsize=9)
    return save_figure(fig, path, dpi=110)


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
    table = result.tables["particles"]
    if movie:
        frames = result.extras.get("stack") if frames is None else frames
        idx = pick_frames(len(frames), min(max_panels, 3))
        images = [frames[i] for i in idx]
        labs = [np.asarray(labels[i]) for i in idx]
        per_panel = [table[table["frame"] == i] for i in idx]
    else:
        idx, images, labs, per_panel = [0], [result.image], [np.asarray(labels)], [table]
    titles = [_overlay_title(sub, f"frame {i}: " if movie else "", np.shape(im), result.pixel_size)
              for i, sub, im in zip(idx, per_panel, images, strict=True)]
    out.append(plot_overlays(images, labs, folder / "overlay.png", titles=titles, footer=footer,
                             particles=per_panel, pixel_size=result.pixel_size))
    out.append(plot_size_distributions(table, folder / "sizes.png", max_panels=max_panels))
    out.append(plot_pareto(result.tables["pareto"], result.tables["trials"], folder / "pareto.png"))
    if movie:
        out.append(plot_timeseries(result.tables["timeseries"], folder / "timeseries.png"))
    return out


def _overlay_title(particles: pd.DataFrame, prefix: str, shape: tuple[int, ...], pixel_size: Any) -> str:
    """``"frame 3: 18 particles (numbers = label in particles.csv); 256 x 256 px, 0.5 Å/px"``."""
    return (f"{prefix}{len(particles)} particles (numbers = label in particles.csv); "
            f"{shape[0]} x {shape[1]} px, {pixel_size_text(pixel_size)}")

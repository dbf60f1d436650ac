"""Figures of a particle tracking (:class:`~rewardscope.workflows.tracking.TracksResult`).

One job: pictures from the tracking tables and the track-id masks, after the MLforEM
tutorial's last figure (Fig. 4B-D):

* :func:`plot_outlines_over_time` -- ``outlines.png``: particle outlines of several frames
  drawn on the first frame, coloured by time (drift-corrected into frame 0's grid);
* :func:`plot_size_distribution` -- ``sizes_per_frame.png``: the particles' equivalent
  diameter per frame (box per sampled frame, mean line);
* :func:`plot_area_histories` -- ``areas.png``: area vs time of every track, merges marked
  (a dashed line from each parent's last point to the child's first);
* :func:`plot_lineage` -- ``lineage.png``: one bar per track from start to end, parents
  joined to their child;
* :func:`write_tracks_gif` -- ``tracks.gif``: the movie with track-coloured outlines and
  ids (Pillow; long movies are subsampled, large frames downscaled, so the file stays
  small), with a scale bar when calibrated.

Masks may be memory-mapped (read frame by frame). Scale bars through
:mod:`rewardscope.report.common`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import colormaps  # noqa: E402
from skimage.segmentation import find_boundaries  # noqa: E402
from skimage.transform import downscale_local_mean  # noqa: E402

from rewardscope.report.common import (as_length, display_range, length_text, nice_length,  # noqa: E402
                                       save_figure, set_title, show_image)
from rewardscope.report.particles import pick_frames  # noqa: E402
from rewardscope.units import Length  # noqa: E402

#: Most frames in the GIF and its largest side, px.
GIF_MAX_FRAMES, GIF_MAX_SIDE = 40, 320


def track_colour(track_id: int) -> tuple[int, int, int]:
    """A stable RGB colour (0-255) per track id (tab20, cycled).

    Examples
    --------
    >>> track_colour(1), track_colour(21) == track_colour(1)
    ((31, 119, 180), True)
    """
    r, g, b, _ = colormaps["tab20"]((int(track_id) - 1) % 20 * 2 % 20 + ((int(track_id) - 1) % 20 >= 10))
    return int(round(r * 255)), int(round(g * 255)), int(round(b * 255))


def _size_column(tracks: pd.DataFrame) -> tuple[str, str, float]:
    """(column, label, factor): equivalent diameter in nm when known, else in px."""
    if "equivalent_diameter_nm" in tracks:
        return "equivalent_diameter_nm", "equivalent diameter (nm)", 1.0
    return "area_px", "equivalent diameter (px)", 0.0


def _diameters(tracks: pd.DataFrame) -> tuple[np.ndarray, str]:
    col, label, _ = _size_column(tracks)
    if col == "area_px":
        return 2 * np.sqrt(tracks["area_px"].to_numpy(float) / np.pi), label
    return tracks[col].to_numpy(float), label


def _areas(tracks: pd.DataFrame) -> tuple[np.ndarray, str]:
    if "area_nm2" in tracks:
        return tracks["area_nm2"].to_numpy(float), "area (nm²)"
    return tracks["area_px"].to_numpy(float), "area (px²)"


def plot_outlines_over_time(first_frame: np.ndarray, masks: Any, path: str | Path, *,
                            drift: pd.DataFrame | None = None, pixel_size: Length | str | None = None,
                            n_frames: int = 8) -> Path:
    """Outlines of ``n_frames`` evenly spaced frames on the first frame, coloured by frame (Fig. 4B).

    Parameters
    ----------
    first_frame : numpy.ndarray (rows, cols)
    masks : array_like (frames, rows, cols)
        Track-id (or label) masks.
    path : str or Path
    drift : pandas.DataFrame, optional
        ``frame, dx, dy``: outlines are moved back by the drift into frame 0's grid.
    pixel_size : Length or str, optional
        Scale bar.
    n_frames : int

    Returns
    -------
    Path
    """
    idx = pick_frames(len(masks), n_frames)
    fig, ax = plt.subplots(figsize=(7, 7.4))
    show_image(ax, first_frame, pixel_size=pixel_size)
    cmap = colormaps["viridis"]
    shifts = None if drift is None else drift.set_index("frame")[["dx", "dy"]]
    for k, f in enumerate(idx):
        edge = find_boundaries(np.asarray(masks[f]), mode="inner")
        rows, cols = np.nonzero(edge)
        if shifts is not None:
            cols = cols - float(shifts.loc[f, "dx"])
            rows = rows - float(shifts.loc[f, "dy"])
        ax.scatter(cols, rows, s=1.5, color=cmap(k / max(len(idx) - 1, 1)), marker="s", linewidths=0)
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(idx[0], idx[-1] if len(idx) > 1 else idx[0] + 1))
    fig.colorbar(sm, ax=ax, fraction=0.046, pad=0.02, label="frame")
    set_title(ax, f"particle outlines of {len(idx)} frames ({', '.join(map(str, idx))}) on frame 0"
              + (", drift-corrected" if shifts is not None else ""), fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)


def plot_size_distribution(tracks: pd.DataFrame, path: str | Path, *, n_frames: int = 12) -> Path:
    """Equivalent diameter per frame: a box per sampled frame and the mean of every frame (Fig. 4C)."""
    diam, label = _diameters(tracks)
    frames = tracks["frame"].to_numpy(int)
    fig, ax = plt.subplots(figsize=(8, 4.2))
    all_frames = np.unique(frames)
    mean = [diam[frames == f].mean() for f in all_frames]
    ax.plot(all_frames, mean, color="tab:red", lw=1.2, label="mean, every frame")
    idx = [int(all_frames[i]) for i in pick_frames(len(all_frames), n_frames)]
    ax.boxplot([diam[frames == f] for f in idx], positions=idx, widths=max(0.6, 0.5 * (idx[-1] - idx[0] + 1)
                                                                              / max(len(idx), 1)),
               manage_ticks=False, showfliers=True, flierprops={"markersize": 2})
    ax.set_xlabel("frame")
    ax.set_ylabel(label)
    ax.legend(fontsize=8, loc="upper left")
    set_title(ax, f"size distribution per frame ({len(tracks)} detections, {tracks['track_id'].nunique()} tracks)",
              fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)


def plot_area_histories(tracks: pd.DataFrame, events: pd.DataFrame, path: str | Path) -> Path:
    """Area vs frame of every track; merges as dashed lines from the parents to the child (Fig. 4D)."""
    area, label = _areas(tracks)
    t = tracks.assign(_area=area).sort_values(["track_id", "frame"])
    fig, ax = plt.subplots(figsize=(8, 4.8))
    for tid, g in t.groupby("track_id"):
        ax.plot(g["frame"], g["_area"], lw=0.9, color=np.array(track_colour(int(tid))) / 255)
    first = t.groupby("track_id").head(1).set_index("track_id")
    last = t.groupby("track_id").tail(1).set_index("track_id")
    merges = events[events["event"] == "merge"] if len(events) else events
    for ev in merges.itertuples():
        child = first.loc[int(ev.child)]
        for p in str(ev.parents).split():
            par = last.loc[int(p)]
            ax.plot([par["frame"], child["frame"]], [par["_area"], child["_area"]], "k--", lw=0.7)
        ax.plot(child["frame"], child["_area"], marker="*", color="k", ms=9, ls="none")
    ax.plot([], [], marker="*", color="k", ls="--", lw=0.7, label=f"merge ({len(merges)})")
    ax.set_xlabel("frame")
    ax.set_ylabel(label)
    ax.legend(fontsize=8, loc="upper left")
    set_title(ax, f"area of every track ({t['track_id'].nunique()} tracks); merges end their parents", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)


def plot_lineage(lineage: pd.DataFrame, events: pd.DataFrame, path: str | Path, *, max_tracks: int = 150) -> Path:
    """One bar per track (start to end), each child joined to its parents at its first frame."""
    lin = lineage.sort_values(["start", "track_id"]).head(max_tracks).reset_index(drop=True)
    row = {int(t): k for k, t in enumerate(lin["track_id"])}
    fig, ax = plt.subplots(figsize=(8, max(3.0, 0.09 * len(lin) + 1.5)))
    for k, r in lin.iterrows():
        ax.plot([r["start"], r["end"]], [k, k], lw=2.2, color=np.array(track_colour(int(r["track_id"]))) / 255,
                solid_capstyle="butt")
    merges = events[events["event"] == "merge"] if len(events) else events
    for ev in merges.itertuples():
        if int(ev.child) not in row:
            continue
        for p in str(ev.parents).split():
            if int(p) in row:
                end = lin.loc[row[int(p)], "end"]
                ax.plot([end, ev.frame], [row[int(p)], row[int(ev.child)]], color="k", lw=0.7)
    ax.set_yticks([])
    ax.invert_yaxis()
    ax.set_xlabel("frame")
    ax.set_ylabel("tracks (by start)")
    shown = "" if len(lineage) <= max_tracks else f", first {max_tracks} shown"
    set_title(ax, f"lineage: {len(lineage)} tracks{shown}, {len(merges)} merges (black: parents -> child)",
              fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path, dpi=110)


def _gif_scale_bar(draw: Any, size: tuple[int, int], px_nm: float, zoom: float) -> None:
    """A white bar of a 1/2/5 length, about 20 % of the width, in the lower right corner, with its length."""
    width = size[0]
    target_nm = 0.2 * width / zoom * px_nm
    length_nm = nice_length(target_nm)
    bar = length_nm / px_nm * zoom
    x1, y1 = width - 8, size[1] - 8
    draw.rectangle([x1 - bar, y1 - 4, x1, y1], fill=(255, 255, 255))
    draw.text((x1 - bar, y1 - 16), length_text(length_nm), fill=(255, 255, 255))


def write_tracks_gif(frames: Any, masks: Any, tracks: pd.DataFrame, path: str | Path, *,
                     pixel_size: Length | str | None = None, max_frames: int = GIF_MAX_FRAMES,
                     max_side: int = GIF_MAX_SIDE, duration_ms: int = 120) -> Path:
    """An animated GIF: every shown frame with track-coloured outlines and track ids.

    Parameters
    ----------
    frames : indexable of 2-D arrays
        The movie (e.g. a :class:`~rewardscope.io.LazyStack`).
    masks : array_like (frames, rows, cols)
        Track-id masks.
    tracks : pandas.DataFrame
        ``frame, track_id, x, y`` (ids are written at the centroids).
    path : str or Path
    pixel_size : Length or str, optional
        Scale bar.
    max_frames : int
        Longer movies are subsampled evenly (first and last frame kept).
    max_side : int
        Frames are downscaled (nearest neighbour) so that their longer side is at most this.
    duration_ms : int
        Display time per frame.

    Returns
    -------
    Path

    Examples
    --------
    >>> m = np.zeros((3, 64, 64), np.uint16)
    >>> for f in range(3):
    ...     m[f, 20:30, 10 + 8 * f:20 + 8 * f] = 1
    >>> t = pd.DataFrame({"frame": [0, 1, 2], "track_id": [1, 1, 1], "x": [14.5, 22.5, 30.5], "y": [24.5] * 3})
    >>> from PIL import Image
    >>> Image.open(write_tracks_gif(np.random.default_rng(0).random((3, 64, 64)), m, t, "t.gif")).n_frames
    3
    """
    from PIL import Image, ImageDraw

    idx = pick_frames(len(masks), max_frames)
    rows, cols = np.shape(masks[0])
    step = max(1, int(np.ceil(max(rows, cols) / max_side)))
    ps = as_length(pixel_size)
    lo, hi = display_range(np.asarray(frames[idx[0]], float))
    by_frame = dict(tuple(tracks.groupby("frame")))
    # one fixed palette: the 20 track colours, yellow, white and 40 greys (few colours keep the file small)
    colours = [track_colour(t) for t in range(1, 21)] + [(255, 255, 0), (255, 255, 255)]
    colours += [(v, v, v) for v in np.linspace(0, 255, 40).astype(int)]
    fixed = Image.new("P", (1, 1))
    fixed.putpalette([c for rgb in colours for c in rgb] + [0] * 3 * (256 - len(colours)))
    images = []
    for f in idx:
        frame = np.asarray(frames[f], float)
        if step > 1:  # block means: downscaled and less noisy (compresses better)
            frame = downscale_local_mean(frame, (step, step))[:len(range(0, rows, step)), :len(range(0, cols, step))]
        grey = np.clip((frame - lo) / max(hi - lo, 1e-12), 0, 1)
        rgb = np.repeat((grey * 255).astype(np.uint8)[..., None], 3, axis=2)
        lab = np.asarray(masks[f])[::step, ::step]
        edge = find_boundaries(lab, mode="inner") & (lab > 0)
        if edge.any():
            ids = lab[edge].astype(int)
            palette = np.array([track_colour(t) for t in range(1, 21)], np.uint8)
            rgb[edge] = palette[(ids - 1) % 20]
        image = Image.fromarray(rgb)
        draw = ImageDraw.Draw(image)
        for r in by_frame.get(f, pd.DataFrame(columns=["x", "y", "track_id"])).itertuples():
            draw.text((r.x / step - 4, r.y / step - 5), str(int(r.track_id)), fill=track_colour(int(r.track_id)))
        draw.text((4, 3), f"frame {f}", fill=(255, 255, 0))
        if ps is not None:
            _gif_scale_bar(draw, image.size, ps.nm, 1 / step)
        images.append(image.quantize(palette=fixed, dither=Image.Dither.NONE))
    images[0].save(path, save_all=True, append_images=images[1:], duration=duration_ms, loop=0, optimize=True)
    return Path(path)


def save_track_figures(result: Any, folder: str | Path, *, masks: Any = None, frames: Any = None) -> list[Path]:
    """Write ``outlines.png``, ``sizes_per_frame.png``, ``areas.png``, ``lineage.png`` and ``tracks.gif``.

    Parameters
    ----------
    result : TracksResult
    folder : str or Path
    masks : array_like (frames, rows, cols), optional
        Track-id masks when the result does not keep them (e.g. a memory-mapped ``masks.tif``).
    frames : indexable of 2-D arrays, optional
        The movie (default ``result.extras['stack']``).

    Returns
    -------
    list of Path
    """
    folder = Path(folder)
    masks = result.arrays.get("masks") if masks is None else masks
    frames = result.extras.get("stack") if frames is None else frames
    ps = result.pixel_size
    tracks, lineage, events = result.tables["tracks"], result.tables["lineage"], result.tables["events"]
    return [plot_outlines_over_time(np.asarray(frames[0]), masks, folder / "outlines.png",
                                    drift=result.tables.get("drift"), pixel_size=ps),
            plot_size_distribution(tracks, folder / "sizes_per_frame.png"),
            plot_area_histories(tracks, events, folder / "areas.png"),
            plot_lineage(lineage, events, folder / "lineage.png"),
            write_tracks_gif(frames, masks, tracks, folder / "tracks.gif", pixel_size=ps)]


__all__ = ["plot_area_histories", "plot_lineage", "plot_outlines_over_time", "plot_size_distribution",
           "save_track_figures", "track_colour", "write_tracks_gif"]

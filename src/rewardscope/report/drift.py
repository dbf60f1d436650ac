"""Figure of a drift measurement: trajectory, cumulative shift per frame, residual against truth.

Shifts are the content displacement of each frame relative to frame 0 (pixels, x =
column), as :func:`rewardscope.track.estimate_drift` returns them; with a pixel size
a second axis gives them in nm (Å for small drifts). Stage jumps are marked. When the true
shifts are known (simulations, benchmarks) they are drawn as a thick light line under the
thin measured one, and a third panel shows the residual with its RMS.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from rewardscope.report.common import physical_unit, pixel_size_text, save_figure, set_title  # noqa: E402
from rewardscope.units import Length  # noqa: E402

_TRUTH = {"color": "0.75", "lw": 4, "solid_capstyle": "round", "zorder": 1}


def drift_residual(shifts: pd.DataFrame, truth: pd.DataFrame) -> tuple[pd.DataFrame, float]:
    """Measured minus true shift per frame, and its RMS length.

    Parameters
    ----------
    shifts, truth : pandas.DataFrame
        ``frame, dx, dy`` (px); frames are matched by ``frame``.

    Returns
    -------
    residual : pandas.DataFrame
        ``frame, dx, dy`` (px): measured - truth.
    rms_px : float
        ``sqrt(mean(dx^2 + dy^2))`` over the matched frames, px.

    Examples
    --------
    >>> m = pd.DataFrame({"frame": [0, 1], "dx": [0.0, 1.3], "dy": [0.0, 0.0]})
    >>> t = pd.DataFrame({"frame": [0, 1], "dx": [0.0, 1.0], "dy": [0.0, 0.4]})
    >>> round(drift_residual(m, t)[1], 4)   # sqrt((0 + 0.3^2 + 0.4^2) / 2)
    0.3536
    """
    both = shifts[["frame", "dx", "dy"]].merge(truth[["frame", "dx", "dy"]], on="frame", suffixes=("", "_true"))
    res = pd.DataFrame({"frame": both["frame"], "dx": both["dx"] - both["dx_true"],
                        "dy": both["dy"] - both["dy_true"]})
    rms = float(np.sqrt(np.mean(res["dx"] ** 2 + res["dy"] ** 2))) if len(res) else float("nan")
    return res, rms


def _second_axis(ax: Any, pixel_size: Length | str | None, extent_px: float, which: str, label: str) -> None:
    """A twin axis in physical units (nm or Å) next to the pixel axis."""
    unit = physical_unit(pixel_size, extent_px)
    if unit is None:
        return
    name, per_px = unit
    funcs = (lambda v: v * per_px, lambda v: v / per_px)
    twin = ax.secondary_yaxis("right", functions=funcs) if which == "y" else ax.secondary_xaxis("top", functions=funcs)
    (twin.set_ylabel if which == "y" else twin.set_xlabel)(f"{label} ({name})")


def _mark_jumps(ax: Any, frames: pd.Series) -> None:
    for k, frame in enumerate(frames):
        ax.axvline(frame, color="red", lw=1, ls="--", alpha=0.7, label="stage jump" if k == 0 else None)


def drift_figure(shifts: pd.DataFrame, *, truth: pd.DataFrame | None = None, title: str | None = None,
                 pixel_size: Length | str | None = None) -> Any:
    """The figure of :func:`plot_drift` (not saved); see there.

    Returns
    -------
    matplotlib.figure.Figure
    """
    panels = 3 if truth is not None else 2
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 4.6), layout="constrained")
    ax_xy, ax_t = axes[0], axes[1]
    jumps = shifts[shifts["jump"].astype(bool)]
    extent = float(np.nanmax(np.abs(shifts[["dx", "dy"]].to_numpy(float)))) if len(shifts) else 1.0
    if truth is not None:
        ax_xy.plot(truth["dx"], truth["dy"], label="truth", **_TRUTH)
        ax_t.plot(truth["frame"], truth["dx"], label="truth", **_TRUTH)
        ax_t.plot(truth["frame"], truth["dy"], **_TRUTH)
    ax_xy.plot(shifts["dx"], shifts["dy"], "-", color="C0", lw=1, marker=".", ms=3, zorder=2, label="measured")
    ax_xy.plot(shifts["dx"].iloc[:1], shifts["dy"].iloc[:1], "o", color="k", zorder=3, label="frame 0")
    ax_xy.plot(jumps["dx"], jumps["dy"], "x", color="red", ms=8, mew=2, zorder=3,
               label=f"frames after a stage jump ({len(jumps)})")
    ax_xy.set(xlabel="dx (px)", ylabel="dy (px)", aspect="equal")
    ax_xy.invert_yaxis()  # image convention: y (row) grows downwards
    set_title(ax_xy, "drift trajectory: content displacement vs frame 0", fontsize=9)
    ax_xy.legend(fontsize=7)
    ax_t.plot(shifts["frame"], shifts["dx"], color="C0", lw=1.2, zorder=2, label="dx measured")
    ax_t.plot(shifts["frame"], shifts["dy"], color="C1", lw=1.2, zorder=2, label="dy measured")
    _mark_jumps(ax_t, jumps["frame"])
    ax_t.set(xlabel="frame", ylabel="shift vs frame 0 (px)")
    set_title(ax_t, f"cumulative shift dx, dy vs frame 0 ({pixel_size_text(pixel_size)})", fontsize=9)
    _second_axis(ax_t, pixel_size, extent, "y", "shift")
    ax_t.legend(fontsize=7)
    if truth is not None:
        _residual_panel(axes[2], shifts, truth, jumps["frame"], pixel_size)
    if title:
        fig.suptitle(title)
    return fig


def _residual_panel(ax: Any, shifts: pd.DataFrame, truth: pd.DataFrame, jump_frames: pd.Series,
                    pixel_size: Length | str | None) -> None:
    res, rms = drift_residual(shifts, truth)
    ax.axhline(0, color="0.5", lw=0.8)
    ax.plot(res["frame"], res["dx"], color="C0", lw=1, marker=".", ms=3, label="dx")
    ax.plot(res["frame"], res["dy"], color="C1", lw=1, marker=".", ms=3, label="dy")
    _mark_jumps(ax, jump_frames)
    ax.set(xlabel="frame", ylabel="measured - truth (px)")
    unit = physical_unit(pixel_size, max(rms, 1e-9))
    physical = f" = {rms * unit[1]:.3g} {unit[0]}" if unit else ""
    set_title(ax, f"residual, RMS {rms:.3f} px{physical}", fontsize=9)
    _second_axis(ax, pixel_size, float(np.abs(res[["dx", "dy"]].to_numpy()).max(initial=0.0)), "y", "residual")
    ax.legend(fontsize=7)


def plot_drift(shifts: pd.DataFrame, path: str | Path, *, truth: pd.DataFrame | None = None,
               title: str | None = None, pixel_size: Length | str | None = None) -> Path:
    """Draw the drift trajectory and the cumulative dx, dy per frame, jumps marked; residual if truth is given.

    Parameters
    ----------
    shifts : pandas.DataFrame
        ``frame, dx, dy, jump`` (px) from :func:`rewardscope.track.estimate_drift`.
    path : str or Path
        Output PNG.
    truth : pandas.DataFrame, optional
        True ``frame, dx, dy`` (simulations): drawn under the measurement, and a
        residual panel (measured - truth) with its RMS.
    title : str, optional
        Figure title.
    pixel_size : Length or str, optional
        Adds axes in nm (Å for drifts under 2 nm).

    Returns
    -------
    Path
        The written file.

    Examples
    --------
    >>> df = pd.DataFrame({"frame": [0, 1, 2], "dx": [0, .5, 9], "dy": [0, .2, 4], "jump": [False, False, True]})
    >>> plot_drift(df, "drift.png", pixel_size="0.5A")
    PosixPath('drift.png')
    """
    return save_figure(drift_figure(shifts, truth=truth, title=title, pixel_size=pixel_size), path, dpi=110)

"""Figure of a drift measurement: trajectory and per-frame shifts, with stage jumps marked."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402


def plot_drift(shifts: pd.DataFrame, path: str | Path, *, truth: pd.DataFrame | None = None,
               title: str | None = None) -> Path:
    """Draw the drift trajectory and dx, dy per frame; jumps in red.

    Parameters
    ----------
    shifts : pandas.DataFrame
        ``frame, dx, dy, jump`` (px) from :func:`rewardscope.track.estimate_drift`.
    path : str or Path
        Output PNG.
    truth : pandas.DataFrame, optional
        True ``frame, dx, dy`` to draw underneath (simulations).
    title : str, optional
        Figure title.

    Returns
    -------
    Path
        The written file.

    Examples
    --------
    >>> df = pd.DataFrame({"frame": [0, 1, 2], "dx": [0, .5, 9], "dy": [0, .2, 4], "jump": [False, False, True]})
    >>> plot_drift(df, "drift.png")  # doctest: +SKIP
    """
    path = Path(path)
    fig, (ax_xy, ax_t) = plt.subplots(1, 2, figsize=(10, 4.2), constrained_layout=True)
    jumps = shifts[shifts["jump"].astype(bool)]
    if truth is not None:
        ax_xy.plot(truth["dx"], truth["dy"], color="0.7", lw=3, label="truth")
        ax_t.plot(truth["frame"], truth["dx"], color="0.7", lw=3)
        ax_t.plot(truth["frame"], truth["dy"], color="0.7", lw=3)
    ax_xy.plot(shifts["dx"], shifts["dy"], "-", color="C0", lw=1, marker=".", ms=3, label="measured")
    ax_xy.plot(shifts["dx"].iloc[:1], shifts["dy"].iloc[:1], "o", color="k", label="frame 0")
    ax_xy.plot(jumps["dx"], jumps["dy"], "x", color="red", ms=8, mew=2, label=f"jumps ({len(jumps)})")
    ax_xy.set(xlabel="dx (px)", ylabel="dy (px)", title="drift trajectory (content displacement)", aspect="equal")
    ax_xy.invert_yaxis()  # image convention: y (row) grows downwards
    ax_xy.legend(fontsize=8)
    ax_t.plot(shifts["frame"], shifts["dx"], color="C0", label="dx")
    ax_t.plot(shifts["frame"], shifts["dy"], color="C1", label="dy")
    for frame in jumps["frame"]:
        ax_t.axvline(frame, color="red", lw=0.8, alpha=0.6)
    ax_t.set(xlabel="frame", ylabel="shift (px)", title="per-frame shift (red: jumps)")
    ax_t.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

"""The sliding-window map: chosen parameters and reward values per window, over the image.

One panel per quantity (each tuned parameter, each reward, the columns found per expected
one), each window drawn as its core (the part of the image it owns) coloured by its value;
windows that borrowed a neighbour's parameters are hatched. The first panel shows the
image with the window cores outlined.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from rewardscope.report.common import save_figure, set_title, show_image  # noqa: E402

#: Columns of the window table that are not plotted as quantities.
_BOOKKEEPING = {"window", "row", "col", "x0", "x1", "y0", "y1", "core_x0", "core_x1", "core_y0", "core_y1",
                "status", "borrowed_from", "n_found", "n_candidates", "n_kept", "n_expected", "seconds"}


def window_quantities(table: pd.DataFrame) -> list[str]:
    """The table's numeric columns to map: parameters, rewards, hypervolume, plus ``count_ratio``.

    Examples
    --------
    >>> t = pd.DataFrame({"window": [0], "status": ["optimized"], "threshold": [0.1], "qc": [0.01],
    ...                   "n_found": [90], "n_expected": [100.0]})
    >>> window_quantities(t)
    ['threshold', 'qc', 'count_ratio']
    """
    names = [c for c in table.columns if c not in _BOOKKEEPING and pd.api.types.is_numeric_dtype(table[c])
             and table[c].notna().any()]
    if {"n_found", "n_expected"} <= set(table.columns):
        names.append("count_ratio")
    return names


def plot_window_map(table: pd.DataFrame, *, image: np.ndarray | None = None, pixel_size: Any = None,
                    path: str | Path | None = None) -> Any:
    """Draw the map of a window table (``result.tables["windows"]``); save it when ``path`` is given."""
    table = table.copy()
    if {"n_found", "n_expected"} <= set(table.columns):
        table["count_ratio"] = table["n_found"] / table["n_expected"].where(table["n_expected"] > 0)
    names = window_quantities(table.drop(columns=["count_ratio"], errors="ignore"))
    panels = (["image"] if image is not None else []) + names
    ncols = min(4, len(panels))
    nrows = int(np.ceil(len(panels) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 3.4 * nrows), squeeze=False)
    rows = int(table["core_y1"].max())
    cols = int(table["core_x1"].max())
    for ax, name in zip(axes.flat, panels):
        if name == "image":
            show_image(ax, image, pixel_size=pixel_size)
            for _, w in table.iterrows():
                ax.add_patch(Rectangle((w.core_x0 - 0.5, w.core_y0 - 0.5), w.core_x1 - w.core_x0,
                                       w.core_y1 - w.core_y0, fill=False, lw=0.6, ec="yellow"))
            set_title(ax, f"{len(table)} windows (cores)")
            continue
        grid = np.full((rows, cols), np.nan)
        for _, w in table.iterrows():
            grid[int(w.core_y0):int(w.core_y1), int(w.core_x0):int(w.core_x1)] = w[name]
        im = ax.imshow(grid, cmap="viridis", interpolation="nearest")
        for _, w in table[table["status"] == "borrowed"].iterrows():
            ax.add_patch(Rectangle((w.core_x0 - 0.5, w.core_y0 - 0.5), w.core_x1 - w.core_x0,
                                   w.core_y1 - w.core_y0, fill=False, hatch="//", ec="white", lw=0.5))
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        ax.set_xticks([])
        ax.set_yticks([])
        set_title(ax, name.replace("_", " "))
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    n_borrowed = int((table["status"] == "borrowed").sum())
    fig.suptitle("parameters and rewards per window" + (f" (hatched: {n_borrowed} borrowed)" if n_borrowed else ""))
    fig.tight_layout()
    if path is not None:
        save_figure(fig, path)
        plt.close(fig)
    return fig


__all__ = ["plot_window_map", "window_quantities"]

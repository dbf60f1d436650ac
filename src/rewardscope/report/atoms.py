"""Overlay of found atoms on the image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from rewardscope.report.common import pixel_size_text, save_figure, set_title, show_image  # noqa: E402
from rewardscope.units import Length  # noqa: E402


def plot_atoms(image: np.ndarray, atoms: pd.DataFrame, *, path: str | Path | None = None,
               truth: pd.DataFrame | None = None, title: str | None = None,
               pixel_size: Length | str | None = None) -> Any:
    """Image in grey with found atoms (red dots) and optionally true columns (cyan rings).

    Columns the lattice prior added (``source == "lattice"``) are drawn in yellow. With a
    pixel size the image carries a scale bar.

    Parameters
    ----------
    image : numpy.ndarray, shape (rows, cols)
    atoms : pandas.DataFrame
        With ``x``, ``y`` in pixels (x = column), optionally ``source``.
    path : str or Path, optional
        Save the figure there (PNG) and close it.
    truth : pandas.DataFrame, optional
        True positions ``x``, ``y``.
    title : str, optional
    pixel_size : Length or str, optional
        Size of one pixel (e.g. ``result.pixel_size``): scale bar and title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    rows, cols = np.shape(image)
    size = 6 * max(rows, cols) / max(rows, cols, 1)
    fig, ax = plt.subplots(figsize=(size, size * rows / cols + 0.5), layout="constrained")
    show_image(ax, image, pixel_size=pixel_size)
    marker = max(1.0, 3000.0 / max(len(atoms), 1))
    if truth is not None:
        ax.scatter(truth["x"], truth["y"], s=marker * 3, facecolors="none", edgecolors="cyan", linewidths=0.6,
                   label="truth")
    added = atoms["source"].eq("lattice").to_numpy() if "source" in atoms else np.zeros(len(atoms), bool)
    ax.scatter(atoms["x"][~added], atoms["y"][~added], s=marker, c="red", linewidths=0,
               label=f"found ({int((~added).sum())})")
    if added.any():
        ax.scatter(atoms["x"][added], atoms["y"][added], s=marker, c="yellow", linewidths=0,
                   label=f"added by the lattice prior ({int(added.sum())})")
    set_title(ax, f"{title or f'{len(atoms)} atoms'} ({rows} x {cols} px, {pixel_size_text(pixel_size)})")
    if truth is not None or added.any():
        ax.legend(loc="upper right", fontsize=7)
    if path is not None:
        save_figure(fig, path, dpi=150)
    return fig

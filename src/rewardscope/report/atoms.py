"""Overlay of found atoms on the image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from rewardscope.report.common import pin_to_image  # noqa: E402


def plot_atoms(image: np.ndarray, atoms: pd.DataFrame, *, path: str | Path | None = None,
               truth: pd.DataFrame | None = None, title: str | None = None) -> Any:
    """Image in grey with found atoms (red dots) and optionally true columns (cyan rings).

    Columns the lattice prior added (``source == "lattice"``) are drawn in yellow.

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

    Returns
    -------
    matplotlib.figure.Figure
    """
    rows, cols = np.shape(image)
    size = 6 * max(rows, cols) / max(rows, cols, 1)
    fig, ax = plt.subplots(figsize=(size, size * rows / cols))
    ax.imshow(image, cmap="gray", interpolation="nearest")
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
    pin_to_image(ax, image.shape)
    ax.set_axis_off()
    ax.set_title(title or f"{len(atoms)} atoms")
    if truth is not None or added.any():
        ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=150)
        plt.close(fig)
    return fig

"""Figure of atom classes: atoms coloured by class on the image, and the mean patch of each class."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from rewardscope.report.common import pin_to_image  # noqa: E402


def plot_classes(image: np.ndarray, atoms: pd.DataFrame, mean_patches: np.ndarray, *, path: str | Path,
                 column: str = "class") -> Path:
    """Image with atoms coloured by ``column``, plus one mean patch per class.

    Parameters
    ----------
    image : numpy.ndarray, shape (rows, cols)
    atoms : pandas.DataFrame
        ``x``, ``y`` (pixels) and an integer ``column``.
    mean_patches : numpy.ndarray, shape (n_classes, side, side)
    path : str or Path
        PNG written there.

    Returns
    -------
    Path
    """
    n = len(mean_patches)
    fig = plt.figure(figsize=(6 + 1.6 * max(1, (n + 1) // 2), 6))
    grid = fig.add_gridspec(2, 1 + max(1, (n + 1) // 2), width_ratios=[4] + [1] * max(1, (n + 1) // 2))
    ax = fig.add_subplot(grid[:, 0])
    ax.imshow(image, cmap="gray")
    colours = plt.get_cmap("tab10")
    for k in range(n):
        sel = atoms[column] == k
        ax.scatter(atoms.loc[sel, "x"], atoms.loc[sel, "y"], s=8, color=colours(k % 10), label=f"class {k} ({int(sel.sum())})")
    ax.legend(fontsize=7, loc="upper right", markerscale=2)
    pin_to_image(ax, image.shape)
    ax.set_axis_off()
    for k in range(n):
        sub = fig.add_subplot(grid[k % 2, 1 + k // 2])
        sub.imshow(mean_patches[k], cmap="gray")
        sub.set_title(f"class {k}", color=colours(k % 10), fontsize=9)
        sub.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)

"""Figure of amorphous regions: the mask outline and each atom's amorphous probability on the image."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from rewardscope.report.common import pin_to_image  # noqa: E402


def plot_amorphous(image: np.ndarray, mask: np.ndarray, atoms: pd.DataFrame, *, path: str | Path,
                   truth_mask: np.ndarray | None = None, title: str | None = None) -> Path:
    """Image, atoms coloured by ``amorphous_probability``, mask outline (and the true one).

    Parameters
    ----------
    image : numpy.ndarray, shape (rows, cols)
    mask : numpy.ndarray of bool, shape (rows, cols)
    atoms : pandas.DataFrame
        ``x``, ``y`` (pixels), ``amorphous_probability``.
    path : str or Path
        PNG written there.
    truth_mask : numpy.ndarray of bool, optional
        Drawn in green when given.
    title : str, optional

    Returns
    -------
    Path
    """
    fig, ax = plt.subplots(figsize=(7, 7))
    ax.imshow(image, cmap="gray")
    sc = ax.scatter(atoms["x"], atoms["y"], c=atoms["amorphous_probability"], cmap="coolwarm", vmin=0, vmax=1, s=6)
    if mask.any() and not mask.all():
        ax.contour(mask.astype(float), [0.5], colors="red", linewidths=1.5)
    if truth_mask is not None and truth_mask.any():
        ax.contour(truth_mask.astype(float), [0.5], colors="lime", linewidths=1.0, linestyles="--")
    pin_to_image(ax, image.shape)
    fig.colorbar(sc, ax=ax, fraction=0.046, label="amorphous probability")
    ax.set_title(title or f"amorphous area {100 * mask.mean():.1f} %")
    ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return Path(path)

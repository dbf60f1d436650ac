"""Figure of amorphous regions: the mask outline and each atom's amorphous probability on the image."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from rewardscope.report.common import as_length, pin_to_image, save_figure, set_title, show_image  # noqa: E402
from rewardscope.units import Length  # noqa: E402


def plot_amorphous(image: np.ndarray, mask: np.ndarray, atoms: pd.DataFrame, *, path: str | Path,
                   truth_mask: np.ndarray | None = None, title: str | None = None,
                   pixel_size: Length | str | None = None) -> Path:
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
    pixel_size : Length or str, optional
        Scale bar and the amorphous area in nm².

    Returns
    -------
    Path
    """
    fig, ax = plt.subplots(figsize=(7, 7), layout="constrained")
    show_image(ax, image, pixel_size=pixel_size)
    sc = ax.scatter(atoms["x"], atoms["y"], c=atoms["amorphous_probability"], cmap="coolwarm", vmin=0, vmax=1, s=6)
    if mask.any() and not mask.all():
        ax.contour(mask.astype(float), [0.5], colors="red", linewidths=1.5)
        ax.plot([], [], color="red", lw=1.5, label="amorphous mask")
    if truth_mask is not None and truth_mask.any():
        ax.contour(truth_mask.astype(float), [0.5], colors="lime", linewidths=1.0, linestyles="--")
        ax.plot([], [], color="lime", lw=1.0, ls="--", label="true amorphous region")
    pin_to_image(ax, image.shape)
    fig.colorbar(sc, ax=ax, fraction=0.046, label="amorphous probability per atom (0-1)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="upper right")
    set_title(ax, title or f"amorphous area {_area_text(mask, pixel_size)}")
    return save_figure(fig, path, dpi=120)


def _area_text(mask: np.ndarray, pixel_size: Length | str | None) -> str:
    """``"14.6 % of the field (11.7 nm²)"``; the nm² part only with a pixel size."""
    ps = as_length(pixel_size)
    area = f" ({mask.sum() * ps.nm ** 2:.3g} nm²)" if ps is not None else ""
    return f"{100 * mask.mean():.1f} % of the field{area}"

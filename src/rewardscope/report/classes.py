"""Figure of atom classes: atoms coloured by class on the image, and the mean patch of each class.

Classes are named by species when that can be known: from a ``species`` column of the atom
table (e.g. the lattice prior's site species), else, given the lattice, by matching each
class to one column type of the projected cell (:func:`class_species`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from rewardscope.report.common import save_figure, set_title, show_image  # noqa: E402
from rewardscope.units import Length  # noqa: E402

#: Readable names of column labels, per preset lattice (README: Ba, Y, Cu chain, CuO2 plane).
COLUMN_NAMES: dict[str, dict[str, str]] = {"ybco-100": {"Cu": "Cu chain", "CuO": "CuO2 plane"}}


def _crystal(lattice: Any) -> Any:
    from rewardscope.physics import ProjectedCrystal, get_lattice

    return lattice if isinstance(lattice, ProjectedCrystal) else get_lattice(lattice)


def _column_types(crystal: Any) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Visible column labels of a projected crystal, their share of all columns and their HAADF weight."""
    cols = crystal.columns[crystal.columns["visible"]]
    groups = cols.groupby("species", sort=False)
    labels = list(groups.groups)
    share = groups.size().loc[labels].to_numpy(float) / len(cols)
    weight = groups["weight"].mean().loc[labels].to_numpy(float)
    return labels, share, weight


def _unit_range(values: np.ndarray) -> np.ndarray:
    span = np.ptp(values)
    return (values - values.min()) / span if span > 0 else np.zeros_like(values)


def class_species(atoms: pd.DataFrame, mean_patches: np.ndarray, *, lattice: Any = None,
                  column: str = "class") -> dict[int, str]:
    """Species name of each class, where it can be known.

    With a ``species`` column in ``atoms`` each class takes its most common species. Else,
    with a lattice, classes are matched one-to-one (Hungarian) to the lattice's visible
    column types by two facts a class carries: its share of the (ordered) atoms against
    the column type's share of the cell (``|log ratio|``), and the brightness of its mean
    patch centre against the column's HAADF weight (both scaled to [0, 1]).

    Parameters
    ----------
    atoms : pandas.DataFrame
        Integer ``column``; optionally ``species`` and ``ordered`` (only ordered atoms count).
    mean_patches : numpy.ndarray, shape (n_classes, side, side)
    lattice : str or ProjectedCrystal, optional
        Preset name (e.g. ``"ybco-100"``) or projected crystal.
    column : str

    Returns
    -------
    dict of int to str
        Class -> species (YBCO [100]: Ba, Y, Cu chain, CuO2 plane); classes with no
        match keep ``"class k"``.

    Examples
    --------
    >>> atoms = pd.DataFrame({"class": [0, 0, 1, 1, 1], "species": ["Ba", "Ba", "Y", "Y", "Ba"]})
    >>> class_species(atoms, np.zeros((3, 5, 5)))
    {0: 'Ba', 1: 'Y', 2: 'class 2'}
    """
    n = len(mean_patches)
    names = {k: f"class {k}" for k in range(n)}
    labels = atoms[column].to_numpy()
    crystal = None if lattice is None else _crystal(lattice)
    display = {} if crystal is None else COLUMN_NAMES.get(str(crystal.name), {})
    if "species" in atoms:
        for k in range(n):
            found = atoms.loc[labels == k, "species"].dropna()
            if len(found):
                names[k] = display.get(str(found.mode().iloc[0]), str(found.mode().iloc[0]))
        return names
    if crystal is None:
        return names
    from scipy.optimize import linear_sum_assignment

    types, share, weight = _column_types(crystal)
    use = atoms["ordered"].to_numpy(bool) if "ordered" in atoms else np.ones(len(atoms), bool)
    counts = np.bincount(labels[use].astype(int), minlength=n)[:n].astype(float)
    class_share = np.maximum(counts, 0.5) / max(counts.sum(), 1.0)
    c = mean_patches.shape[-1] // 2
    brightness = mean_patches[:, max(c - 1, 0):c + 2, max(c - 1, 0):c + 2].mean(axis=(1, 2))
    cost = (np.abs(np.log(class_share[:, None] / share[None, :]))
            + np.abs(_unit_range(brightness)[:, None] - _unit_range(weight)[None, :]))
    for k, j in zip(*linear_sum_assignment(cost), strict=True):
        names[int(k)] = display.get(types[j], types[j])
    return names


def classes_figure(image: np.ndarray, atoms: pd.DataFrame, mean_patches: np.ndarray, *, column: str = "class",
                   pixel_size: Length | str | None = None, lattice: Any = None) -> Any:
    """The figure of :func:`plot_classes` (not saved).

    Returns
    -------
    matplotlib.figure.Figure
    """
    n = len(mean_patches)
    names = class_species(atoms, mean_patches, lattice=lattice, column=column)
    n_cols = max(1, (n + 1) // 2)
    fig = plt.figure(figsize=(6 + 1.7 * n_cols, 6.6), layout="constrained")
    grid = fig.add_gridspec(2, 1 + n_cols, width_ratios=[4] + [1] * n_cols)
    ax = fig.add_subplot(grid[:, 0])
    show_image(ax, image, pixel_size=pixel_size)
    colours = plt.get_cmap("tab10")
    ordered = atoms["ordered"].to_numpy(bool) if "ordered" in atoms else np.ones(len(atoms), bool)
    for k in range(n):
        sel = (atoms[column] == k).to_numpy()
        ax.scatter(atoms.loc[sel & ordered, "x"], atoms.loc[sel & ordered, "y"], s=8, color=colours(k % 10),
                   label=f"{names[k]} (class {k}, {int(sel.sum())} atoms)")
        ax.scatter(atoms.loc[sel & ~ordered, "x"], atoms.loc[sel & ~ordered, "y"], s=10, facecolors="none",
                   edgecolors=colours(k % 10), linewidths=0.7)
    if not ordered.all():
        ax.scatter([], [], s=10, facecolors="none", edgecolors="0.4", label=f"open: off the ordered lattice "
                   f"({int((~ordered).sum())}, class uncertain)")
    handles, texts = ax.get_legend_handles_labels()
    fig.legend(handles, texts, loc="outside lower center", ncols=3, fontsize=8, markerscale=2, frameon=False)
    set_title(ax, f"{len(atoms)} atoms in {n} classes")
    for k in range(n):
        sub = fig.add_subplot(grid[k % 2, 1 + k // 2])
        show_image(sub, mean_patches[k], pixel_size=pixel_size)
        sub.set_title(f"{names[k]}\n(class {k}, mean patch)", color=colours(k % 10), fontsize=8)
    return fig


def plot_classes(image: np.ndarray, atoms: pd.DataFrame, mean_patches: np.ndarray, *, path: str | Path,
                 column: str = "class", pixel_size: Length | str | None = None, lattice: Any = None) -> Path:
    """Image with atoms coloured by ``column`` and named by species, plus one mean patch per class.

    Parameters
    ----------
    image : numpy.ndarray, shape (rows, cols)
    atoms : pandas.DataFrame
        ``x``, ``y`` (pixels) and an integer ``column``; optionally ``ordered``, ``species``.
    mean_patches : numpy.ndarray, shape (n_classes, side, side)
    path : str or Path
        PNG written there.
    column : str
    pixel_size : Length or str, optional
        Scale bars on the image and the patches.
    lattice : str or ProjectedCrystal, optional
        Names classes by species (see :func:`class_species`).

    Returns
    -------
    Path

    Examples
    --------
    >>> plot_classes(result.image, result.atoms, result.extras["mean_patches"], path="classes.png",
    ...              pixel_size=result.pixel_size, lattice="ybco-100")  # doctest: +SKIP
    """
    fig = classes_figure(image, atoms, mean_patches, column=column, pixel_size=pixel_size, lattice=lattice)
    return save_figure(fig, path, dpi=120)

"""Atom classes without labels: patches around each atom, PCA, Gaussian mixture.

:func:`classify_atoms` takes an image and atom positions and sorts the atoms into
``classes`` clusters (YBCO [100]: Ba, Y, Cu chain, CuO2 plane). Each atom's patch (a
physical window, e.g. 2 nm) is mirror-symmetrized so that orientation variants of one
site fall together, reduced by PCA, and clustered by a Gaussian mixture fitted on the
*ordered* atoms only (lattice deviation, see :mod:`rewardscope.classify.order`), so that
disordered columns do not take a component. Class 0 is the brightest. An optional second
clustering inside one class, on the unsymmetrized patches, separates orientation variants
(the paper's two Ba orientations). Nothing is tuned here, so there is no study and no
reward: the mixture's own likelihood decides. :class:`ClassifyConfig` holds every default,
shared with the ``rewardscope classify`` command.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rewardscope.classify.clusters import require_ordered, species_clusters
from rewardscope.classify.order import lattice_deviation, neighbour_distance_px, neighbourhood_mean, ordered_atoms
from rewardscope.classify.patches import extract_patches, window_side_px
from rewardscope.classify.table import atom_positions, read_atoms
from rewardscope.config import make_config
from rewardscope.errors import ParameterError
from rewardscope.io.load import load_input
from rewardscope.progress import ProgressArg, progress_scope, start_stage
from rewardscope.result import Result
from rewardscope.units import Length
from rewardscope.workflows.classify_config import ClassifyConfig  # noqa: F401  (re-exported)


@dataclass
class ClassifyResult(Result):
    """Classes of atoms. Table ``atoms``: the input columns plus ``class``,
    ``class_probability``, ``lattice_deviation``, ``ordered`` (and ``subclass``).
    ``extras["mean_patches"]``: (classes, side, side) mean patch of each class."""

    @property
    def atoms(self) -> pd.DataFrame:
        """One row per atom with its class."""
        return self.tables["atoms"]


def parse_subclass(text: str | None, n_classes: int) -> tuple[int, int] | None:
    """``"CLASS:N"`` -> (class, n); None when not asked.

    Examples
    --------
    >>> parse_subclass("0:2", 4)
    (0, 2)
    """
    if not text:
        return None
    try:
        cls, n = (int(v) for v in text.split(":"))
    except ValueError:
        raise ParameterError(f"subclass must look like CLASS:N (e.g. 0:2), got {text!r}") from None
    if not 0 <= cls < n_classes or n < 2:
        raise ParameterError(f"subclass {text!r}: class must be in 0..{n_classes - 1} and N >= 2")
    return cls, n


def classify_atoms(source: Any, atoms: pd.DataFrame | str | Path, *, config: ClassifyConfig | None = None,
                   pixel_size: str | Length | None = None, progress: ProgressArg = False,
                   **overrides: Any) -> ClassifyResult:
    """Sort atoms into classes by the look of their surroundings (no labels).

    Nothing is tuned, so this takes no ``rewards=`` and runs no study: the Gaussian
    mixture's likelihood alone places the classes.

    Parameters
    ----------
    source : path, numpy.ndarray (rows, cols), ImageData, HyperSpy-like signal, ...
        The image: anything :func:`rewardscope.io.load_input` accepts.
    atoms : pandas.DataFrame or path
        Table with ``x``, ``y`` (pixels, x = column); other columns are kept.
    config : ClassifyConfig, optional
        Settings; keyword ``overrides`` (``classes=4, window="2nm"``...) replace fields.
    pixel_size : str or Length, optional
        Overrides the source's calibration (needed for a physical window).
    progress : bool or callable
        Stage ``"classifying atoms"`` (patches, clusters); ``True``: on stderr,
        or a callback ``progress(stage, done, total)`` (:mod:`rewardscope.progress`).

    Returns
    -------
    ClassifyResult
        Summary: ``n_atoms``, ``classes``, ``window_px``, ``neighbour_distance_px``,
        ``class_counts``, ``ordered_share``, ``config``.

    Raises
    ------
    FileFormatError
        Atoms without ``x``/``y``.
    ParameterError
        Fewer (ordered) atoms than classes, bad subclass, a window far larger than the image.
    CalibrationError
        No pixel size.

    Examples
    --------
    >>> from rewardscope.simulate import simulate_haadf
    >>> sim = simulate_haadf("ybco-100", size=128, noise=0.1, seed=0)
    >>> res = classify_atoms(sim.image, sim.truth, pixel_size=sim.pixel_size)
    >>> sorted(res.atoms["class"].unique().tolist())
    [0, 1, 2, 3]
    """
    if pixel_size is not None:
        overrides["pixel_size"] = pixel_size
    cfg = make_config(ClassifyConfig, config, **overrides)
    inp = load_input(source, cfg.pixel_size)
    ps = inp.require_pixel_size("classification")
    table = read_atoms(atoms)
    xy = atom_positions(table, min_atoms=max(cfg.classes, 2))
    sub = parse_subclass(cfg.subclass, cfg.classes)
    side = window_side_px(cfg.window, ps, inp.image.shape)
    nn = neighbour_distance_px(xy, lattice=cfg.lattice, pixel_size=ps)
    deviation = lattice_deviation(xy, nn_px=nn)
    ordered = ordered_atoms(neighbourhood_mean(xy, deviation, radius=1.5 * nn), seed=cfg.seed)
    require_ordered(ordered, classes=cfg.classes, nn_px=nn)  # user errors before any progress line
    with progress_scope(progress) as report:
        advance = start_stage(report, "classifying atoms", total=2, unit="steps")
        patches = extract_patches(inp.image, xy, side=side)
        advance()
        labels, prob = species_clusters(patches, ordered, classes=cfg.classes, pca_components=cfg.pca_components,
                                        symmetrize=cfg.symmetrize, n_init=cfg.n_init, seed=cfg.seed)
        advance()
    out = table.assign(**{"class": labels, "class_probability": prob, "lattice_deviation": deviation,
                          "ordered": ordered})
    if sub is not None:
        out["subclass"] = _subclasses(patches, labels, ordered, sub, cfg)
    summary = {"n_atoms": len(out), "classes": cfg.classes, "window_px": side, "neighbour_distance_px": nn,
               "class_counts": {int(k): int((labels == k).sum()) for k in range(cfg.classes)},
               "ordered_share": float(ordered.mean()), "config": cfg.model_dump(mode="json")}
    return ClassifyResult(tables={"atoms": out}, summary=summary, image=inp.image, pixel_size=ps,
                          extras={"mean_patches": _mean_patches(patches, labels, cfg.classes)})


def _mean_patches(patches: np.ndarray, labels: np.ndarray, classes: int) -> np.ndarray:
    """(classes, side, side) mean patch of each class (zeros for an empty class)."""
    side = patches.shape[-1]
    return np.stack([patches[labels == k].mean(axis=0) if (labels == k).any() else np.zeros((side, side))
                     for k in range(classes)])


def _subclasses(patches: np.ndarray, labels: np.ndarray, ordered: np.ndarray, sub: tuple[int, int],
                cfg: ClassifyConfig) -> np.ndarray:
    """Second clustering inside one class on unsymmetrized patches; -1 for atoms of other classes."""
    cls, n = sub
    inside = labels == cls
    out = np.full(len(labels), -1, int)
    if inside.sum() < n:
        raise ParameterError(f"class {cls} has {int(inside.sum())} atoms, too few for {n} subclasses")
    sub_labels, _ = species_clusters(patches[inside], ordered[inside], classes=n,
                                     pca_components=cfg.pca_components, symmetrize=False,
                                     n_init=cfg.n_init, seed=cfg.seed)
    out[inside] = sub_labels
    return out

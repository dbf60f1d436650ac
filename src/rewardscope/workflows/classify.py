"""Atom classes without labels: patches around each atom, PCA, Gaussian mixture.

:func:`classify_atoms` takes an image and atom positions and sorts the atoms into
``classes`` clusters (YBCO [100]: Ba, Y, Cu chain, CuO2 plane). Each atom's patch (a
physical window, e.g. 2 nm) is mirror-symmetrized so that orientation variants of one
site fall together, reduced by PCA, and clustered by a Gaussian mixture fitted on the
*ordered* atoms only (lattice deviation, see :mod:`rewardscope.classify.order`), so that
disordered columns do not take a component. Class 0 is the brightest. An optional second
clustering inside one class, on the unsymmetrized patches, separates orientation variants
(the paper's two Ba orientations). :class:`ClassifyConfig` holds every default, shared with
the ``rewardscope classify`` command.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from rewardscope.classify.clusters import fit_clusters
from rewardscope.classify.order import lattice_deviation, neighbourhood_mean, ordered_atoms
from rewardscope.classify.patches import atom_positions, extract_patches, mirror_symmetrize, window_px
from rewardscope.config import make_config
from rewardscope.errors import CalibrationError, FileFormatError, ParameterError
from rewardscope.progress import ProgressArg, progress_scope, start_stage
from rewardscope.result import Result
from rewardscope.units import Length, parse_length

M = TypeVar("M", bound=BaseModel)


class ClassifyConfig(BaseModel):
    """Settings of atom classification (defaults shared by :func:`classify_atoms` and the CLI)."""

    model_config = ConfigDict(extra="forbid")

    classes: int = Field(4, ge=1, le=50, description="Number of atom classes (YBCO [100]: 4).")
    window: str = Field("2.0nm", description="Side of the patch around each atom, with unit (e.g. 2.0nm).")
    pixel_size: str | None = Field(None, description="Pixel size with unit, e.g. 0.35A (default: from the file).")
    lattice: str | None = Field(None, description="Preset lattice giving the neighbour distance (default: estimated from the atoms).")
    subclass: str | None = Field(None, description="Split one class again, CLASS:N (e.g. 0:2 for two orientations of class 0).")
    pca_components: int = Field(8, ge=1, le=100, description="Principal components of the patches fed to the mixture.")
    symmetrize: bool = Field(True, description="Average each patch with its mirror images so orientation variants share a class.")
    n_init: int = Field(5, ge=1, le=50, description="Restarts of the mixture fit.")
    seed: int = Field(0, description="Random seed.")


@dataclass
class ClassifyResult(Result):
    """Classes of atoms. Table ``atoms``: the input columns plus ``class``,
    ``class_probability``, ``lattice_deviation``, ``ordered`` (and ``subclass``).
    ``extras["mean_patches"]``: (classes, side, side) mean patch of each class."""

    @property
    def atoms(self) -> pd.DataFrame:
        """One row per atom with its class."""
        return self.tables["atoms"]


def resolve_image(image: Any, pixel_size: str | Length | None) -> tuple[np.ndarray, Length | None]:
    """2-D float image and its pixel size from an array, an ImageData or a path.

    ``pixel_size`` (if given) wins over the file's calibration.
    """
    from rewardscope.io import ImageData, as_image, read_image

    ps = parse_length(pixel_size) if isinstance(pixel_size, str) else pixel_size
    if isinstance(image, (str, Path)):
        image = read_image(image, pixel_size=ps)
    if isinstance(image, ImageData):
        if image.is_stack:
            raise ParameterError(f"expected one image, got a stack of {image.n_frames} frames")
        ps = ps or image.pixel_size
        image = image.data
    return as_image(image), ps


def configure(model: type[M], config: M | None, overrides: dict[str, Any], *, image: Any,
              pixel_size: str | Length | None, task: str) -> tuple[M, np.ndarray, Length]:
    """Validated config, the 2-D image and its pixel size (argument, config, then file).

    Raises
    ------
    CalibrationError
        No pixel size anywhere (``task`` names what needs it).
    """
    if pixel_size is not None:
        overrides["pixel_size"] = pixel_size if isinstance(pixel_size, str) else pixel_size.text
    cfg = make_config(model, config, **overrides)
    arr, ps = resolve_image(image, cfg.pixel_size)
    if ps is None:
        raise CalibrationError(f"{task} needs the pixel size: pass --pixel-size (e.g. 0.35A)")
    return cfg, arr, ps


def read_atoms(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """Atom table from a CSV/Parquet file or a DataFrame; it must have ``x`` and ``y`` (pixels).

    Raises
    ------
    FileFormatError
        Missing or unreadable file, or no ``x``/``y`` columns.
    """
    if isinstance(source, pd.DataFrame):
        table = source.copy()
    else:
        path = Path(source)
        if not path.is_file():
            raise FileFormatError(f"atoms file {path} does not exist")
        try:
            table = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
        except Exception as exc:  # noqa: BLE001  (any parser failure is a bad file)
            raise FileFormatError(f"cannot read atoms file {path}: {exc}") from None
    atom_positions(table, min_atoms=0)
    return table.reset_index(drop=True)


def neighbour_distance_px(xy: np.ndarray, *, lattice: Any = None, pixel_size: Length | None = None) -> float:
    """Nearest-neighbour distance in pixels: from the lattice, else the atoms' median NN distance."""
    from scipy.spatial import cKDTree

    if lattice is not None and pixel_size is not None:
        from rewardscope.physics import ProjectedCrystal, get_lattice

        crystal = lattice if isinstance(lattice, ProjectedCrystal) else get_lattice(lattice)
        return crystal.min_nn_distance_angstrom / pixel_size.angstrom
    if len(xy) < 2:
        raise ParameterError("need at least 2 atoms to estimate the neighbour distance")
    dist, _ = cKDTree(xy).query(xy, k=2)
    return float(np.median(dist[:, 1]))


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


def require_ordered(ordered: np.ndarray, *, classes: int, nn_px: float | None = None) -> None:
    """Raise :class:`ParameterError` when fewer than ``max(classes, 2)`` atoms are ordered (too few to cluster).

    Examples
    --------
    >>> require_ordered(np.array([True, True, False]), classes=2)
    >>> require_ordered(np.array([True, False]), classes=2)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rewardscope.errors.ParameterError: only 1 of 2 atoms sit in an ordered neighbourhood, too few to fit 2 ...
    """
    n = int(np.sum(ordered))
    if n < max(classes, 2):
        at = "" if nn_px is None else f" at a neighbour distance of {nn_px:.3g} px"
        raise ParameterError(f"only {n} of {len(ordered)} atoms sit in an ordered neighbourhood{at}, too few to "
                             f"fit {classes} classes; check the lattice and the pixel size")


def window_side_px(window: str | Length, pixel_size: Length, shape: tuple[int, int]) -> int:
    """:func:`~rewardscope.classify.patches.window_px`, refusing windows over twice the image size.

    Raises
    ------
    ParameterError
        The window is under 3 px, or larger than twice the image's longer side (a pixel
        size off by orders of magnitude would allocate patches of billions of pixels).
    """
    side = window_px(window, pixel_size)
    if side > 2 * max(shape):
        raise ParameterError(f"the window {window} is {side} px at pixel size {pixel_size.text}, far larger than the "
                             f"{shape[0]} x {shape[1]} px image; check the pixel size and the window")
    return side


def species_clusters(patches: np.ndarray, ordered: np.ndarray, *, classes: int, pca_components: int,
                     symmetrize: bool, n_init: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Classes of atoms from their patches (brightest class first).

    Parameters
    ----------
    patches : numpy.ndarray, shape (n, side, side)
    ordered : numpy.ndarray of bool, shape (n,)
        Atoms the PCA and the mixture are fitted on.
    classes, pca_components, symmetrize, n_init, seed
        As in :class:`ClassifyConfig`.

    Returns
    -------
    labels : numpy.ndarray of int, shape (n,)
    probability : numpy.ndarray, shape (n,)

    Raises
    ------
    ParameterError
        Fewer ordered atoms than classes (:func:`require_ordered`).
    """
    from sklearn.decomposition import PCA

    require_ordered(ordered, classes=classes)

    pts = mirror_symmetrize(patches) if symmetrize else patches
    flat = pts.reshape(len(pts), -1).astype(float)
    k = max(1, min(pca_components, int(ordered.sum()) - 1, flat.shape[1]))
    feats = PCA(n_components=k, random_state=seed).fit(flat[ordered]).transform(flat)
    side = patches.shape[-1]
    c = side // 2
    brightness = patches[:, c - 1:c + 2, c - 1:c + 2].mean(axis=(1, 2))
    cl = fit_clusters(feats, classes, fit_on=ordered, brightness=brightness, n_init=n_init, seed=seed)
    return cl.labels, cl.probability


def classify_atoms(image: Any, atoms: pd.DataFrame | str | Path, *, config: ClassifyConfig | None = None,
                   pixel_size: str | Length | None = None, progress: ProgressArg = False,
                   **overrides: Any) -> ClassifyResult:
    """Sort atoms into classes by the look of their surroundings (no labels).

    Parameters
    ----------
    image : numpy.ndarray (rows, cols), ImageData or path
    atoms : pandas.DataFrame or path
        Table with ``x``, ``y`` (pixels, x = column); other columns are kept.
    config : ClassifyConfig, optional
        Settings; keyword ``overrides`` (``classes=4, window="2nm"``...) replace fields.
    pixel_size : str or Length, optional
        Overrides the file's calibration (needed for a physical window).
    progress : bool or callable
        Stage ``"classifying atoms"`` (patches, clusters); ``True``: on stderr,
        or a callback ``progress(stage, done, total)`` (:mod:`rewardscope.progress`).

    Returns
    -------
    ClassifyResult

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
    cfg, arr, ps = configure(ClassifyConfig, config, overrides, image=image, pixel_size=pixel_size,
                             task="classification")
    table = read_atoms(atoms)
    xy = atom_positions(table, min_atoms=max(cfg.classes, 2))
    sub = parse_subclass(cfg.subclass, cfg.classes)
    side = window_side_px(cfg.window, ps, arr.shape)
    nn = neighbour_distance_px(xy, lattice=cfg.lattice, pixel_size=ps)
    deviation = lattice_deviation(xy, nn_px=nn)
    ordered = ordered_atoms(neighbourhood_mean(xy, deviation, radius=1.5 * nn), seed=cfg.seed)
    require_ordered(ordered, classes=cfg.classes, nn_px=nn)  # user errors before any progress line
    with progress_scope(progress) as report:
        advance = start_stage(report, "classifying atoms", total=2, unit="steps")
        patches = extract_patches(arr, xy, side=side)
        advance()
        labels, prob = species_clusters(patches, ordered, classes=cfg.classes, pca_components=cfg.pca_components,
                                        symmetrize=cfg.symmetrize, n_init=cfg.n_init, seed=cfg.seed)
        advance()
    out = table.copy()
    out["class"] = labels
    out["class_probability"] = prob
    out["lattice_deviation"] = deviation
    out["ordered"] = ordered
    if sub is not None:
        out["subclass"] = _subclasses(patches, labels, ordered, sub, cfg)
    means = np.stack([patches[labels == k].mean(axis=0) if (labels == k).any() else np.zeros((side, side))
                      for k in range(cfg.classes)])
    summary = {"n_atoms": len(out), "classes": cfg.classes, "window_px": side, "neighbour_distance_px": nn,
               "class_counts": {int(k): int((labels == k).sum()) for k in range(cfg.classes)},
               "ordered_share": float(ordered.mean()), "config": cfg.model_dump()}
    return ClassifyResult(tables={"atoms": out}, summary=summary, image=arr, pixel_size=ps,
                          extras={"mean_patches": means})


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

"""Running the atom network: tiling, batching, dihedral ensembles, heat maps, atoms in input pixels.

:func:`find_atoms_dcnn` is the entry: it resamples the images to the network's pixel size
(:mod:`~rewardscope.detect.dcnn.inputs`), runs the network tile by tile and view by view in
batches (:func:`probability_map`), and turns the mean heat map into atoms
(:mod:`~rewardscope.detect.dcnn.peaks`) in the input's pixels. :func:`dcnn_maps` is the
expensive half alone, so that a caller can read atoms at several thresholds from one set
of maps (:meth:`DcnnMaps.atoms`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from rewardscope.detect.dcnn.inputs import canonical_scale, canonical_shape, network_input, normalize_image, resample
from rewardscope.detect.dcnn.model import AtomModel, load_model
from rewardscope.detect.dcnn.peaks import DEFAULT_THRESHOLD, ensemble_peaks
from rewardscope.detect.dcnn.unet import AtomUNet
from rewardscope.detect.refine import inside_image
from rewardscope.errors import ParameterError
from rewardscope.io import as_image
from rewardscope.nn.tiling import padded as _padded
from rewardscope.nn.tiling import tiles as _tiles
from rewardscope.progress import ProgressArg, as_progress, progress_scope, start_stage
from rewardscope.units import Length

#: Tile side (canonical pixels) and overlap of tiled inference.
TILE_PX, OVERLAP_PX = 1024, 32
#: The eight dihedral views: (number of 90-degree rotations, flip left-right).
DIHEDRAL = [(0, False), (1, False), (2, False), (3, False), (0, True), (1, True), (2, True), (3, True)]


def _views(n: int) -> list[tuple[int, bool]]:
    if not 1 <= n <= len(DIHEDRAL):
        raise ParameterError(f"ensemble must be between 1 and {len(DIHEDRAL)} (dihedral views), got {n}")
    return DIHEDRAL[:n]


def _forward(net: AtomUNet, x: torch.Tensor, view: tuple[int, bool]) -> torch.Tensor:
    """Probability map of one dihedral view, mapped back to the input's orientation."""
    k, flip = view
    if flip:
        x = torch.flip(x, (-1,))
    x = torch.rot90(x, k, (-2, -1))
    p = torch.sigmoid(net(x))
    p = torch.rot90(p, -k, (-2, -1))
    return torch.flip(p, (-1,)) if flip else p


def probability_map(model: AtomModel, images: np.ndarray | list[np.ndarray], *, views: list[tuple[int, bool]] | None = None,
                    tile_px: int = TILE_PX, overlap_px: int = OVERLAP_PX, batch_size: int = 16,
                    device: str = "cpu", progress: ProgressArg = None) -> np.ndarray:
    """Atom-probability maps of canonical-scale images, one per view.

    Parameters
    ----------
    model : AtomModel
    images : numpy.ndarray, shape (n, in_channels, rows, cols)
        Network inputs at the model's pixel size (:func:`network_input`).
    views : list of (rot90 count, flip), optional
        Dihedral test-time augmentations (default: identity only).
    tile_px, overlap_px : int
        Images larger than ``tile_px`` are cut into overlapping tiles; each tile keeps its
        centre, dropping ``overlap_px`` at inner seams.
    batch_size : int
        Images (or tiles) per forward pass.
    device : str
        ``"cpu"`` or ``"cuda"``.
    progress : bool or callable, optional
        Stage ``"DCNN heat map"``, one unit per forward pass (tile x view x batch),
        see :mod:`rewardscope.progress`.

    Returns
    -------
    numpy.ndarray, float32, shape (n_views, n, rows, cols)
        Probabilities in [0, 1].
    """
    arr = np.asarray(images, np.float32)
    views = views or [(0, False)]
    net = model.net.to(device).eval()
    n, rows, cols = arr.shape[0], arr.shape[-2], arr.shape[-1]
    out = np.zeros((len(views), n, rows, cols), np.float32)
    rt, ct = _tiles(rows, tile_px, overlap_px), _tiles(cols, tile_px, overlap_px)
    passes = len(rt) * len(ct) * len(views) * -(-n // batch_size)
    advance = start_stage(as_progress(progress), "DCNN heat map", total=passes, unit="forward passes")
    with torch.inference_mode():
        for r0, r1, kr0, kr1 in rt:
            for c0, c1, kc0, kc1 in ct:
                block = torch.from_numpy(np.ascontiguousarray(arr[:, :, r0:r1, c0:c1]))
                for v, view in enumerate(views):
                    for b in range(0, n, batch_size):
                        x, (h, w) = _padded(block[b:b + batch_size].to(device), model.net.multiple)
                        p = _forward(net, x, view)[:, 0, :h, :w].cpu().numpy()
                        out[v, b:b + batch_size, kr0:kr1, kc0:kc1] = p[:, kr0 - r0:kr1 - r0, kc0 - c0:kc1 - c0]
                        advance()
    return out


@dataclass
class DcnnAtoms:
    """Atoms found by the network in one image.

    Attributes
    ----------
    atoms : pandas.DataFrame
        ``x``, ``y`` (input pixels), ``probability`` (peak of the mean map); with
        ``ensemble > 1`` also ``uncertainty_px`` (RMS distance of the per-view positions
        from ``x, y``, input pixels) and ``support`` (share of views that found the atom).
    probability : numpy.ndarray, shape (rows, cols)
        Mean probability map resampled to the input's pixels.
    scale : float
        Canonical pixels per input pixel used.
    seconds : float
        Wall time of the whole call.
    """

    atoms: pd.DataFrame
    probability: np.ndarray
    scale: float
    seconds: float

    @property
    def count(self) -> int:
        """Number of atoms found."""
        return len(self.atoms)


def find_atoms_dcnn(image: np.ndarray | list[np.ndarray], *, pixel_size: Length | str | float | None = None,
                    ensemble: int = 1, threshold: float = DEFAULT_THRESHOLD, model: AtomModel | str | Path | None = None,
                    device: str = "cpu", batch_size: int = 16, threads: int | None = 1,
                    progress: ProgressArg = None) -> DcnnAtoms | list[DcnnAtoms]:
    """Find atomic columns with the shipped (or a given) U-Net.

    Parameters
    ----------
    image : numpy.ndarray, shape (rows, cols), or list of such arrays
        HAADF image(s), any size (large ones are tiled); a list of equal-shape images with
        one pixel size is run in batches.
    pixel_size : Length, str or float (Å), optional
        Calibration; the image is resampled to the network's pixel size. ``None`` runs at
        the input's pixels.
    ensemble : int
        Number of dihedral test-time views (1-8) averaged; above 1 every atom gets
        ``uncertainty_px`` and ``support``.
    threshold : float
        Smallest peak probability of an atom.
    model : AtomModel or path, optional
        Default: the weights shipped in the package.
    device : str
        ``"cpu"`` or ``"cuda"``.
    batch_size : int
        Images or tiles per forward pass.
    threads : int, optional
        torch CPU threads while the network runs (restored afterwards). One thread was
        the fastest on a 2-core machine shared with other work (two threads were 3x
        slower there); ``None`` keeps torch's own setting.
    progress : bool or callable, optional
        Progress of the heat map (:func:`probability_map`).

    Returns
    -------
    DcnnAtoms, or a list of them for a list input
        Atom centres lie inside the image (:func:`rewardscope.detect.refine.inside_image`).

    Examples
    --------
    >>> from rewardscope.simulate import simulate_haadf
    >>> sim = simulate_haadf("srtio3-001", size=64, noise=0.1, seed=3)
    >>> found = find_atoms_dcnn(sim.image, pixel_size=sim.pixel_size)
    >>> found.count >= 0.95 * len(sim.truth)
    True
    """
    t0 = time.perf_counter()
    many = isinstance(image, (list, tuple)) or (isinstance(image, np.ndarray) and image.ndim == 3)
    if not 0.0 < threshold < 1.0:
        raise ParameterError(f"threshold must be between 0 and 1, got {threshold}")
    maps = dcnn_maps(image if many else [image], pixel_size=pixel_size, ensemble=ensemble, model=model,
                     device=device, batch_size=batch_size, threads=threads, progress=progress)
    results = [maps.atoms(i, threshold=threshold) for i in range(len(maps.maps[0]))]
    seconds = time.perf_counter() - t0
    for r in results:
        r.seconds = seconds / len(results)
    return results if many else results[0]


@dataclass
class DcnnMaps:
    """Probability maps of a batch of images at the network's scale (the expensive part).

    Attributes
    ----------
    maps : numpy.ndarray, shape (n_views, n_images, rows_c, cols_c)
        Per-view probabilities at the canonical pixel size.
    shape : (rows, cols)
        Input image size.
    """

    maps: np.ndarray
    shape: tuple[int, int]

    @property
    def scale_xy(self) -> tuple[float, float]:
        """Canonical pixels per input pixel along x and y."""
        return self.maps.shape[-1] / self.shape[1], self.maps.shape[-2] / self.shape[0]

    def atoms(self, i: int, *, threshold: float = DEFAULT_THRESHOLD) -> DcnnAtoms:
        """Atoms of image ``i`` at ``threshold``, in input pixels (cheap)."""
        sx, sy = self.scale_xy
        atoms = ensemble_peaks(self.maps[:, i], threshold=threshold)
        atoms["x"] = (atoms["x"] + 0.5) / sx - 0.5
        atoms["y"] = (atoms["y"] + 0.5) / sy - 0.5
        if "uncertainty_px" in atoms:
            atoms["uncertainty_px"] /= np.sqrt(sx * sy)
        atoms, _ = inside_image(atoms, self.shape)
        prob = resample(torch.from_numpy(self.maps[:, i].mean(0))[None, None], self.shape)[0, 0].numpy()
        return DcnnAtoms(atoms=atoms, probability=prob, scale=float(np.sqrt(sx * sy)), seconds=0.0)


def dcnn_maps(images: list[np.ndarray], *, pixel_size: Length | str | float | None = None, ensemble: int = 1,
              model: AtomModel | str | Path | None = None, device: str = "cpu", batch_size: int = 16,
              threads: int | None = 1, progress: ProgressArg = None) -> DcnnMaps:
    """Resample, normalize and run the network on equal-shape images (all views).

    Parameters are those of :func:`find_atoms_dcnn`.

    Returns
    -------
    DcnnMaps
    """
    imgs = [as_image(im, name="image") for im in images]
    if len({im.shape for im in imgs}) > 1:
        raise ParameterError("images of one call must share their shape; call once per shape")
    if device not in ("cpu", "cuda"):
        raise ParameterError(f"device must be cpu or cuda, got {device!r}")
    check_batch_size(batch_size)
    if device == "cuda" and not torch.cuda.is_available():
        raise ParameterError("device cuda requested but no GPU is available")
    mdl = model if isinstance(model, AtomModel) else load_model(model)
    views = _views(ensemble)
    shape = imgs[0].shape
    cshape = canonical_shape(shape, canonical_scale(pixel_size, mdl))
    x = torch.from_numpy(np.stack([normalize_image(im) for im in imgs]))[:, None]
    x = resample(x, cshape)[:, 0].numpy()
    x = np.stack([network_input(im, in_channels=mdl.net.in_channels) for im in x])
    with _torch_threads(threads), progress_scope(progress) as report:
        maps = probability_map(mdl, x, views=views, batch_size=batch_size, device=device, progress=report)
    return DcnnMaps(maps=maps, shape=shape)


def check_batch_size(batch_size: int) -> None:
    """Raise :class:`ParameterError` unless ``batch_size`` is a positive integer."""
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ParameterError(f"batch size must be a positive integer, got {batch_size!r}")


@contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    """Run with ``n`` torch CPU threads, restoring the previous number."""
    if n is None:
        yield
        return
    if n < 1:
        raise ParameterError(f"threads must be at least 1, got {n}")
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)

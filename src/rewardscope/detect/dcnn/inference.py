"""DCNN atom finder: shipped U-Net weights, tiled inference, heat-map peaks, uncertainty.

The network (:mod:`rewardscope.detect.unet`) was trained only on simulated HAADF images
resampled to one canonical pixel size (:data:`CANONICAL_PIXEL_SIZE_ANGSTROM`). With a
calibrated image we resample to that size, so the network always sees columns of the same
size in pixels; without a calibration the image is used as it is (fine for roughly
0.35-0.45 Å/px). The network reads two channels: the normalized image and its Bragg
filter (:func:`bragg_filter`, the lattice's Fourier peaks only), a periodic average that
keeps faint columns visible at noise levels where single columns are not, while the raw
channel shows where the crystal is broken (vacancies, amorphous patches). Positions are
local maxima of the probability map refined to sub-pixel precision by a three-point
log-parabola (exact for a Gaussian peak), then mapped back to the input's pixels.
``ensemble=N`` averages N dihedral test-time augmentations (flips and 90-degree
rotations) of the one shipped model and gives each atom the spread of its position over
the N views. Written here because no installed library ships an atom-finding network that
runs without a download.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy import ndimage
from scipy.spatial import cKDTree
from torch.nn import functional as F

from rewardscope.detect.refine import inside_image
from rewardscope.detect.unet import AtomUNet
from rewardscope.errors import FileFormatError, ParameterError
from rewardscope.io import as_image
from rewardscope.progress import ProgressArg, as_progress, progress_scope, start_stage
from rewardscope.units import Length, parse_length

#: Pixel size (Å) the shipped network works at.
CANONICAL_PIXEL_SIZE_ANGSTROM = 0.4
#: Probability-map peaks below this are not atoms.
DEFAULT_THRESHOLD = 0.5
#: Power ratio of a kept Fourier peak in :func:`bragg_filter`.
BRAGG_RATIO = 8.0
#: Tile side (canonical pixels) and overlap of tiled inference.
TILE_PX, OVERLAP_PX = 1024, 32
#: The eight dihedral views: (number of 90-degree rotations, flip left-right).
DIHEDRAL = [(0, False), (1, False), (2, False), (3, False), (0, True), (1, True), (2, True), (3, True)]

__all__ = [
    "CANONICAL_PIXEL_SIZE_ANGSTROM", "AtomModel", "DcnnAtoms", "DcnnMaps", "dcnn_maps", "find_atoms_dcnn", "load_model", "normalize_image",
    "bragg_filter", "network_input", "peak_positions", "probability_map", "resample", "save_model",
]


@dataclass
class AtomModel:
    """A trained network with the scale it expects.

    Attributes
    ----------
    net : AtomUNet
        In eval mode.
    pixel_size_angstrom : float
        Canonical pixel size of its training images, Å.
    meta : dict
        Training recipe, loss history and timing stored with the weights.
    """

    net: AtomUNet
    pixel_size_angstrom: float = CANONICAL_PIXEL_SIZE_ANGSTROM
    meta: dict[str, Any] = field(default_factory=dict)


def save_model(model: AtomModel, path: str | Path) -> Path:
    """Write weights (float32 state dict), channels, canonical pixel size and ``meta`` to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu", torch.float32) if v.is_floating_point() else v.detach().cpu()
             for k, v in model.net.state_dict().items()}
    torch.save({"format": "rewardscope-atom-unet-1", "channels": list(model.net.channels),
                "in_channels": model.net.in_channels,
                "pixel_size_angstrom": model.pixel_size_angstrom, "state_dict": state, "meta": model.meta}, path)
    return path


def load_model(path: str | Path | None = None) -> AtomModel:
    """Load a saved :class:`AtomModel`; ``None`` loads the weights shipped in the package.

    Raises
    ------
    FileFormatError
        If the file is not a rewardscope atom network.
    """
    if path is None:
        return _shipped_model()
    return _load(Path(path))


@lru_cache(maxsize=1)
def _shipped_model() -> AtomModel:
    ref = resources.files("rewardscope").joinpath("models", "atoms_dcnn.pt")
    with resources.as_file(ref) as p:
        return _load(Path(p))


def _load(path: Path) -> AtomModel:
    if not path.is_file():
        raise FileFormatError(f"model file not found: {path}")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unpickling error means a bad file
        raise FileFormatError(f"cannot read model {path}: {exc}") from None
    if not isinstance(blob, dict) or blob.get("format") != "rewardscope-atom-unet-1":
        raise FileFormatError(f"{path} is not a rewardscope atom network")
    net = AtomUNet(blob["channels"], in_channels=int(blob.get("in_channels", 1)))
    net.load_state_dict(blob["state_dict"])
    net.eval()
    return AtomModel(net=net, pixel_size_angstrom=float(blob["pixel_size_angstrom"]), meta=blob.get("meta", {}))


def normalize_image(image: np.ndarray) -> np.ndarray:
    """Zero mean, unit standard deviation (float32): the network's input scale.

    Parameters
    ----------
    image : numpy.ndarray, shape (rows, cols)

    Returns
    -------
    numpy.ndarray, float32, same shape
    """
    img = np.asarray(image, np.float32)
    return (img - img.mean()) / max(float(img.std()), 1e-12)


def bragg_filter(image: np.ndarray, *, ratio: float = BRAGG_RATIO, min_frequency: float = 2.0) -> np.ndarray:
    """Keep only the lattice's Fourier peaks: a periodic-average copy of the image.

    Peaks are local maxima of the (Hann-windowed) power spectrum above ``ratio`` times the
    median power / ln 2 (the mean of white noise), at least ``min_frequency`` cycles per
    image from zero. The image's spectrum is multiplied by a mask of Gaussian spots (sigma 1
    frequency bin) on them and transformed back. With no peak the result is zero.

    Parameters
    ----------
    image : numpy.ndarray, shape (rows, cols)
        Normalized image (zero mean).
    ratio : float
        Peak-to-noise power ratio of a kept peak.
    min_frequency : float
        Peaks closer to zero frequency (cycles per image) are ignored.

    Returns
    -------
    numpy.ndarray, float32, shape (rows, cols)
        Zero mean, unit standard deviation (or all zero).
    """
    img = np.asarray(image, np.float32)
    rows, cols = img.shape
    spec = np.fft.fft2(img)
    power = np.abs(np.fft.fft2(img * np.outer(np.hanning(rows), np.hanning(cols)))) ** 2
    fy = np.fft.fftfreq(rows)[:, None] * rows
    fx = np.fft.fftfreq(cols)[None, :] * cols
    noise = np.median(power) / np.log(2)
    peaks = ((power > ratio * noise) & (power >= ndimage.maximum_filter(power, 3, mode="wrap"))
             & (np.hypot(fy, fx) >= min_frequency))
    mask = np.clip(ndimage.gaussian_filter(peaks.astype(np.float32), 1.0, mode="wrap") * 2 * np.pi, 0, 1)
    out = np.real(np.fft.ifft2(spec * mask)).astype(np.float32)
    sd = float(out.std())
    return out / sd if sd > 1e-6 else np.zeros_like(out)


def network_input(image: np.ndarray, *, in_channels: int) -> np.ndarray:
    """Channels the network reads: the normalized image and, for 2 channels, its Bragg filter.

    Parameters
    ----------
    image : numpy.ndarray, shape (rows, cols)
        Normalized image at the canonical pixel size.
    in_channels : int
        1 or 2.

    Returns
    -------
    numpy.ndarray, float32, shape (in_channels, rows, cols)
    """
    img = np.asarray(image, np.float32)
    return np.stack([img, bragg_filter(img)][:in_channels])


def resample(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize (batch, channels, rows, cols) to ``size`` (bilinear, anti-aliased when shrinking).

    Pixel centres map as ``x_new = (x_old + 0.5) * size / old_size - 0.5``.
    """
    if tuple(images.shape[-2:]) == tuple(size):
        return images
    return F.interpolate(images, size=size, mode="bilinear", align_corners=False, antialias=True)


def _canonical_shape(shape: tuple[int, int], scale: float) -> tuple[int, int]:
    return max(8, int(round(shape[0] * scale))), max(8, int(round(shape[1] * scale)))


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


def _padded(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    rows, cols = x.shape[-2:]
    pr, pc = (-rows) % multiple, (-cols) % multiple
    if pr or pc:
        mode = "reflect" if pr < rows and pc < cols else "replicate"
        x = F.pad(x, (0, pc, 0, pr), mode=mode)
    return x, (rows, cols)


def _tiles(n: int, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """(start, stop, keep_from, keep_to) windows covering 0..n; seams sit mid-overlap (>= ``overlap`` from tile edges)."""
    if n <= tile:
        return [(0, n, 0, n)]
    step = tile - 2 * overlap
    starts = list(range(0, n - tile, step)) + [n - tile]
    seams = [0] + [(a + b + tile) // 2 for a, b in zip(starts[:-1], starts[1:])] + [n]
    return [(s, s + tile, seams[i], seams[i + 1]) for i, s in enumerate(starts)]


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


def peak_positions(prob: np.ndarray, *, threshold: float = DEFAULT_THRESHOLD,
                   min_distance_px: float = 2.0) -> pd.DataFrame:
    """Sub-pixel peaks of a probability map.

    Local maxima (3x3 neighbourhood, at least ``threshold``) are refined along x and y by
    the vertex of the parabola through the logarithms of three neighbouring values, which
    is exact for a Gaussian peak. Of two maxima closer than ``min_distance_px`` the weaker
    is dropped.

    Parameters
    ----------
    prob : numpy.ndarray, shape (rows, cols)
        Values in (0, 1].
    threshold : float
        Smallest peak value.
    min_distance_px : float
        Smallest distance between two peaks, pixels.

    Returns
    -------
    pandas.DataFrame
        ``x``, ``y`` (pixels, x = column), ``probability`` (peak value).

    Examples
    --------
    >>> yy, xx = np.mgrid[:32, :32]
    >>> m = np.exp(-((xx - 10.3) ** 2 + (yy - 20.6) ** 2) / 2)
    >>> peak_positions(m).round(3).values.tolist()
    [[10.3, 20.6, 0.882]]
    """
    p = np.asarray(prob, np.float64)
    peaks = (p >= ndimage.maximum_filter(p, size=3, mode="constant", cval=-np.inf)) & (p >= threshold)
    iy, ix = np.nonzero(peaks)
    val = p[iy, ix]
    order = np.argsort(-val, kind="stable")
    iy, ix, val = iy[order], ix[order], val[order]
    keep = _suppress(np.column_stack([ix, iy]).astype(float), min_distance_px)
    iy, ix, val = iy[keep], ix[keep], val[keep]
    logp = np.log(np.clip(p, 1e-12, None))
    dx = _log_parabola(logp, iy, ix, axis=1)
    dy = _log_parabola(logp, iy, ix, axis=0)
    return pd.DataFrame({"x": ix + dx, "y": iy + dy, "probability": val})


def _suppress(xy: np.ndarray, min_distance: float) -> np.ndarray:
    """Indices of points (sorted strongest first) with no stronger point within ``min_distance``."""
    if len(xy) == 0 or min_distance <= 0:
        return np.arange(len(xy))
    alive = np.ones(len(xy), bool)
    for i, j in sorted(cKDTree(xy).query_pairs(min_distance)):
        if alive[i]:
            alive[j] = False
    return np.nonzero(alive)[0]


def _log_parabola(logp: np.ndarray, iy: np.ndarray, ix: np.ndarray, *, axis: int) -> np.ndarray:
    """Sub-pixel offset (within +-0.5) of each peak along one axis; 0 at the border."""
    n = logp.shape[axis]
    i = iy if axis == 0 else ix
    inner = (i > 0) & (i < n - 1)
    lo, hi = np.clip(i - 1, 0, n - 1), np.clip(i + 1, 0, n - 1)
    if axis == 0:
        a, b, c = logp[lo, ix], logp[iy, ix], logp[hi, ix]
    else:
        a, b, c = logp[iy, lo], logp[iy, ix], logp[iy, hi]
    denom = a - 2 * b + c
    with np.errstate(divide="ignore", invalid="ignore"):
        off = np.where(inner & (denom < 0), 0.5 * (a - c) / denom, 0.0)
    return np.clip(off, -0.5, 0.5)


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


def _scale_for(pixel_size: Length | str | float | None, model: AtomModel) -> float:
    if pixel_size is None:
        return 1.0
    if isinstance(pixel_size, (int, float)):
        ps = float(pixel_size)
    else:
        ps = (parse_length(pixel_size) if isinstance(pixel_size, str) else pixel_size).angstrom
    if not 0.01 <= ps <= 5.0:
        raise ParameterError(f"pixel size {ps:g} Å is outside 0.01-5 Å; the atom network needs atomic resolution")
    return ps / model.pixel_size_angstrom


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
        atoms = _atoms_from_maps(self.maps[:, i], threshold=threshold)
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
    cshape = _canonical_shape(shape, _scale_for(pixel_size, mdl))
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


def _atoms_from_maps(maps: np.ndarray, *, threshold: float) -> pd.DataFrame:
    """Peaks of the mean map; with several views, each peak's spread over the views."""
    atoms = peak_positions(maps.mean(0), threshold=threshold)
    if len(maps) == 1:
        return atoms
    xy = atoms[["x", "y"]].to_numpy()
    sq = np.zeros(len(xy))
    hits = np.zeros(len(xy))
    for m in maps:
        member = peak_positions(m, threshold=threshold)[["x", "y"]].to_numpy()
        if len(member) and len(xy):
            d, j = cKDTree(member).query(xy, distance_upper_bound=1.5)
            ok = np.isfinite(d)
            sq[ok] += np.sum((member[j[ok]] - xy[ok]) ** 2, axis=1)
            hits[ok] += 1
    atoms["uncertainty_px"] = np.sqrt(sq / np.maximum(hits, 1))
    atoms["support"] = hits / len(maps)
    return atoms

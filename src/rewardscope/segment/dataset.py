"""Training data for the learned segmenters: frames (+ masks) -> crops, rotations, flips, jitter.

One job: turn the user's images or movie (and, for supervised training, their masks) into
crops that a network trains on. The same functions serve ``rewardscope dataset`` (crops
written as TIFFs with an ``index.csv``) and the training loops (random crops drawn in
memory, :func:`random_batch`), so what one inspects on disk is what the network sees.

* :func:`read_frames`: a folder of images, a list of files, a movie file or arrays ->
  :class:`Frames`; masks come from a folder matched by name (same stem, or the same number
  in the stem: ``image_3.png`` <-> ``label_3.png``) and must have their image's shape;
  a colour image is read as grey (luminance) with a note.
* :func:`crop_windows`: crop origins covering a frame (the last crop of a row/column is
  aligned to the frame's edge, so nothing is left out); a crop never mixes two frames.
* :func:`augment`: a 90-degree rotation and an optional left-right flip, applied to the
  image and its mask alike (exactly aligned), plus an optional intensity / noise jitter of
  the image only.
* :func:`make_crops` / :func:`write_dataset`: every window x rotation x flip, on disk.

Plain numpy; written here because the rules (frames never mixed, masks matched by name,
one augmentation for image and mask) are ours and take a few lines.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from rewardscope.errors import ImageShapeError, ParameterError, PlausibilityWarning
from rewardscope.io.read import IMAGE_SUFFIXES, SUPPORTED, TIFF_SUFFIXES
from rewardscope.segment.dataset_config import DatasetConfig  # noqa: F401  (re-exported)

#: File suffixes read from an images folder.
FOLDER_SUFFIXES = tuple(sorted(IMAGE_SUFFIXES | TIFF_SUFFIXES | {".npy"}))

if TYPE_CHECKING:
    from rewardscope.io.load import Input
    from rewardscope.units import Length


@dataclass
class Frames:
    """Grey frames (and optionally their masks) ready to crop.

    Attributes
    ----------
    images : list of numpy.ndarray, float32, each (rows, cols)
    names : list of str
        One per frame (file stem, ``stem[frame]`` for a movie's frames).
    masks : list of numpy.ndarray (bool) or None
        Particle masks, aligned with ``images``.
    notes : list of str
        What was noticed while reading (colour images read as grey).
    """

    images: list[np.ndarray]
    names: list[str]
    masks: list[np.ndarray] | None = None
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, idx: Sequence[int]) -> Frames:
        """The frames ``idx`` (e.g. one fold of a cross-validation)."""
        return Frames([self.images[i] for i in idx], [self.names[i] for i in idx],
                      None if self.masks is None else [self.masks[i] for i in idx], list(self.notes))


def _natural_key(path: Path) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", path.name)]


def _files(source: str | Path, what: str) -> list[Path]:
    path = Path(source).expanduser()
    if path.is_dir():
        files = sorted((p for p in path.iterdir() if p.is_file() and p.suffix.lower() in FOLDER_SUFFIXES
                        and not p.name.startswith(".")), key=_natural_key)
        if not files:
            raise ImageShapeError(f"{what} folder {source} holds no images ({', '.join(FOLDER_SUFFIXES)})")
        return files
    if not path.exists():
        raise ImageShapeError(f"{what} not found: {source}")
    if path.suffix.lower() not in SUPPORTED:
        raise ImageShapeError(f"{what} {source}: unsupported format {path.suffix!r}")
    return [path]


def _grey_from_colour(path: Path) -> np.ndarray:
    """A colour image's luminance (ITU-R 601-2, as skimage's rgb2gray)."""
    from skimage.color import rgb2gray
    from skimage.io import imread

    arr = np.asarray(imread(path))
    if arr.ndim == 3 and arr.shape[-1] == 4:
        arr = arr[..., :3]
    return rgb2gray(arr).astype(np.float32)


def load_input_as_grey(path: str | Path, pixel_size: str | Length | None = None, *, name: str = "input",
                       signal: int | None = None, notes: list[str] | None = None) -> Input:
    """``load_input(path, movie=True)``, but a colour image is read as grey (luminance) with a note.

    Parameters
    ----------
    path : str or Path
        An image or movie file.
    pixel_size : str or Length, optional
        Overrides the file's calibration, e.g. ``"0.35A"``.
    name : str
        What error messages call the input.
    signal : int, optional
        Which signal of a multi-signal file to read.
    notes : list of str, optional
        Receives the note when a colour image was converted (a ``PlausibilityWarning`` says it too).

    Returns
    -------
    Input
        As :func:`rewardscope.io.load.load_input`; ``image`` of shape (frames, rows, cols).

    Example
    -------
    >>> from rewardscope import datasets
    >>> load_input_as_grey(datasets.hrtem_path()).image.shape
    (1, 512, 512)
    """
    from rewardscope.io.load import load_input

    path = Path(path)
    try:
        return load_input(path, pixel_size, movie=True, name=name, signal=signal)
    except ImageShapeError as exc:
        if "colour image" not in str(exc):
            raise
    note = f"{path.name} is a colour image; read as grey (luminance)"
    if notes is not None:
        notes.append(note)
    warnings.warn(note, PlausibilityWarning, stacklevel=2)
    return load_input(_grey_from_colour(path), pixel_size, movie=True, name=name)


def _read_file(path: Path, notes: list[str]) -> list[np.ndarray]:
    """The frames of one file (a movie gives several), grey float32."""
    stack = load_input_as_grey(path, name=path.name, notes=notes).image
    return [np.asarray(stack[i], np.float32) for i in range(len(stack))]


def _number(stem: str) -> str | None:
    found = re.findall(r"\d+", stem)
    return found[-1] if found else None


def _match_masks(image_files: list[Path], mask_files: list[Path], masks: str | Path) -> list[Path]:
    """The mask file of every image: same stem, else the same (last) number in the stem."""
    by_stem = {p.stem: p for p in mask_files}
    if all(p.stem in by_stem for p in image_files):
        return [by_stem[p.stem] for p in image_files]
    by_number: dict[str, Path] = {}
    for p in mask_files:
        num = _number(p.stem)
        if num is not None:
            by_number.setdefault(num, p)
    out = []
    for p in image_files:
        num = _number(p.stem)
        if num is None or num not in by_number:
            raise ImageShapeError(f"no mask for {p.name} in {masks} (masks are matched by file name, or by "
                                  f"the number in it: image_3.png <-> label_3.png)")
        out.append(by_number[num])
    if len(set(out)) != len(out):
        raise ImageShapeError(f"masks in {masks} do not match the images one to one")
    return out


def read_frames(source: str | Path | Sequence[str | Path] | np.ndarray, *,
                masks: str | Path | Sequence[str | Path] | np.ndarray | None = None) -> Frames:
    """Read images or a movie (and masks) as grey frames.

    Parameters
    ----------
    source : folder, file, list of files, or array (rows, cols) / (frames, rows, cols)
        A folder is read in natural name order (``image_2`` before ``image_10``); a movie
        file gives one frame per page.
    masks : folder, list of files, or array, optional
        Particle masks (non-zero = particle), matched to the images by name; one per frame.

    Returns
    -------
    Frames

    Raises
    ------
    ImageShapeError
        No images, a mask missing for an image, masks not one per frame, or a mask whose
        shape is not its image's.

    Examples
    --------
    >>> fr = read_frames(np.zeros((2, 16, 16)), masks=np.ones((2, 16, 16)))
    >>> len(fr), fr.names, bool(fr.masks[1].all())
    (2, ['frame_0', 'frame_1'], True)
    """
    notes: list[str] = []
    files: list[Path] = []
    if isinstance(source, np.ndarray):
        arr = source[None] if source.ndim == 2 else source
        if arr.ndim != 3:
            raise ImageShapeError(f"images must be (rows, cols) or (frames, rows, cols), got shape {source.shape}")
        images = [np.asarray(a, np.float32) for a in arr]
        names = [f"frame_{i}" for i in range(len(images))]
    else:
        sources = [source] if isinstance(source, (str, Path)) else list(source)
        images, names = [], []
        for s in sources:
            for f in _files(s, "images"):
                frames = _read_file(f, notes)
                files += [f] * len(frames)
                images += frames
                names += [f.stem] if len(frames) == 1 else [f"{f.stem}[{i}]" for i in range(len(frames))]
    mask_list = None if masks is None else _read_masks(masks, files, images, names)
    return Frames(images=images, names=names, masks=mask_list, notes=notes)


def _read_masks(masks: Any, files: list[Path], images: list[np.ndarray], names: list[str]) -> list[np.ndarray]:
    if isinstance(masks, np.ndarray):
        arr = masks[None] if masks.ndim == 2 else masks
        mask_list = [np.asarray(m) > 0 for m in arr]
        mask_names = [f"mask {i}" for i in range(len(mask_list))]
    else:
        sources = [masks] if isinstance(masks, (str, Path)) else list(masks)
        mask_files = [f for s in sources for f in _files(s, "masks")]
        if files and len(set(files)) == len(files) and isinstance(masks, (str, Path)) and Path(masks).is_dir():
            mask_files = _match_masks(files, mask_files, masks)
        mask_list, mask_names = [], []
        for f in mask_files:
            frames = _read_file(f, [])
            mask_list += [m > 0.5 * float(m.max()) if m.max() > 0 else m > 0 for m in frames]
            mask_names += [f.name] * len(frames)
    if len(mask_list) != len(images):
        raise ImageShapeError(f"{len(mask_list)} masks for {len(images)} images; give one mask per image")
    for img, m, name, mname in zip(images, mask_list, names, mask_names):
        if m.shape != img.shape:
            raise ImageShapeError(f"mask {mname} has shape {m.shape[0]}x{m.shape[1]} but image {name} is "
                                  f"{img.shape[0]}x{img.shape[1]}")
    return mask_list


def crop_windows(shape: tuple[int, int], crop: int, stride: int) -> list[tuple[int, int]]:
    """(row, col) origins of ``crop`` x ``crop`` windows every ``stride`` px, the last ones flush with the edge.

    Examples
    --------
    >>> crop_windows((10, 7), 4, 4)
    [(0, 0), (0, 3), (4, 0), (4, 3), (6, 0), (6, 3)]
    """
    if crop < 1 or stride < 1:
        raise ParameterError(f"crop and stride must be positive, got {crop} and {stride}")
    rows, cols = shape
    if crop > min(rows, cols):
        raise ParameterError(f"crop {crop} px is larger than the frame ({rows}x{cols})")

    def starts(n: int) -> list[int]:
        s = list(range(0, n - crop + 1, stride))
        return s if s[-1] == n - crop else s + [n - crop]

    return [(r, c) for r in starts(rows) for c in starts(cols)]


def augment(image: np.ndarray, mask: np.ndarray | None, *, rotation: int = 0, flip: bool = False,
            gain: float = 1.0, offset: float = 0.0, noise: float = 0.0,
            rng: np.random.Generator | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Rotate by ``rotation`` x 90 degrees and flip left-right (image and mask alike), then jitter the image.

    Parameters
    ----------
    image : numpy.ndarray (rows, cols)
    mask : numpy.ndarray (rows, cols) or None
    rotation : int
        Number of counter-clockwise quarter turns.
    flip : bool
        Mirror left-right after the rotation.
    gain, offset, noise : float
        ``image * gain + offset * std + N(0, noise * std)`` (std of the crop); the mask is unchanged.
    rng : numpy.random.Generator, optional
        For the noise.

    Examples
    --------
    >>> img = np.arange(6.0).reshape(2, 3)
    >>> a, m = augment(img, img > 3, rotation=1, flip=True)
    >>> bool(np.array_equal(a > 3, m))
    True
    """
    img = np.rot90(image, rotation)
    m = None if mask is None else np.rot90(mask, rotation)
    if flip:
        img = img[:, ::-1]
        m = None if m is None else m[:, ::-1]
    img = np.ascontiguousarray(img, np.float32)
    if gain != 1.0 or offset or noise:
        spread = float(img.std()) or 1.0
        img = img * np.float32(gain) + np.float32(offset * spread)
        if noise:
            img = img + (rng or np.random.default_rng()).normal(0, noise * spread, img.shape).astype(np.float32)
    return img, None if m is None else np.ascontiguousarray(m)


@dataclass
class Crops:
    """Crops of :func:`make_crops`.

    Attributes
    ----------
    images : numpy.ndarray, float32, (n, crop, crop)
    masks : numpy.ndarray, bool, (n, crop, crop), or None
    index : pandas.DataFrame
        One row per crop: ``crop`` (file stem), ``frame``, ``source`` (frame name), ``y0``,
        ``x0`` (origin in the frame, px), ``rotation`` (quarter turns), ``flip``, ``gain``,
        ``offset``, ``noise``.
    """

    images: np.ndarray
    masks: np.ndarray | None
    index: pd.DataFrame


def make_crops(frames: Frames, config: DatasetConfig | None = None, **overrides: Any) -> Crops:
    """Every window of every frame, in ``rotations`` quarter turns, optionally also flipped.

    Parameters
    ----------
    frames : Frames
    config : DatasetConfig, optional
        ``crop``, ``stride``, ``rotations``, ``flips``, ``jitter``, ``seed``; keyword
        ``overrides`` replace single fields.

    Returns
    -------
    Crops

    Examples
    --------
    >>> fr = read_frames(np.zeros((2, 32, 32)))
    >>> make_crops(fr, crop=16, stride=16, rotations=2, flips=True).images.shape
    (32, 16, 16)
    """
    from rewardscope.config import make_config

    cfg = make_config(DatasetConfig, config, **overrides)
    crop, stride, rotations, flips, jitter = cfg.crop, cfg.stride, cfg.rotations, cfg.flips, cfg.jitter
    rng = np.random.default_rng(cfg.seed)
    images, masks, rows = [], [], []
    for f, img in enumerate(frames.images):
        mask = None if frames.masks is None else frames.masks[f]
        for y0, x0 in crop_windows(img.shape, crop, stride):
            window = img[y0:y0 + crop, x0:x0 + crop]
            mwin = None if mask is None else mask[y0:y0 + crop, x0:x0 + crop]
            for rot in range(rotations):
                for flip in (False, True) if flips else (False,):
                    gain, offset, noise = ((1 + rng.uniform(-jitter, jitter), rng.uniform(-jitter, jitter),
                                            rng.uniform(0, jitter)) if jitter else (1.0, 0.0, 0.0))
                    a, m = augment(window, mwin, rotation=rot, flip=flip, gain=gain, offset=offset, noise=noise,
                                   rng=rng)
                    rows.append({"crop": f"crop_{len(rows):05d}", "frame": f, "source": frames.names[f],
                                 "y0": y0, "x0": x0, "rotation": rot, "flip": flip, "gain": gain,
                                 "offset": offset, "noise": noise})
                    images.append(a)
                    if m is not None:
                        masks.append(m)
    return Crops(images=np.stack(images), masks=np.stack(masks) if masks else None, index=pd.DataFrame(rows))


def write_dataset(crops: Crops, folder: str | Path) -> Path:
    """Write ``images/crop_NNNNN.tif`` (float32), ``masks/crop_NNNNN.tif`` (uint8 0/255) and ``index.csv``.

    Examples
    --------
    >>> import tempfile
    >>> c = make_crops(read_frames(np.zeros((1, 16, 16)), masks=np.ones((1, 16, 16))), crop=8, stride=8)
    >>> out = write_dataset(c, Path(tempfile.mkdtemp()) / "ds")
    >>> sorted(p.name for p in out.iterdir())
    ['images', 'index.csv', 'masks']
    """
    from rewardscope.io.write import write_table, write_tiff

    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    if crops.masks is not None:
        (folder / "masks").mkdir(exist_ok=True)
    for k, name in enumerate(crops.index["crop"]):
        write_tiff(folder / "images" / f"{name}.tif", crops.images[k])
        if crops.masks is not None:
            write_tiff(folder / "masks" / f"{name}.tif", crops.masks[k].astype(np.uint8) * 255)
    write_table(folder / "index.csv", crops.index)
    return folder


def random_batch(frames: Frames, rng: np.random.Generator, *, batch: int, crop: int, jitter: float = 0.0,
                 channels: Any = None) -> tuple[np.ndarray, np.ndarray | None]:
    """``batch`` random crops (random frame, origin, rotation, flip, jitter): what training draws per step.

    Parameters
    ----------
    frames : Frames
    rng : numpy.random.Generator
    batch, crop : int
    jitter : float
        As in :func:`make_crops`.
    channels : list of numpy.ndarray (channels, rows, cols), optional
        Per-frame network inputs to crop instead of the raw images (same geometry).

    Returns
    -------
    images : numpy.ndarray, float32, (batch, channels, crop, crop)
    masks : numpy.ndarray, float32, (batch, 1, crop, crop), or None

    Examples
    --------
    >>> fr = read_frames(np.zeros((3, 20, 20)), masks=np.zeros((3, 20, 20)))
    >>> x, y = random_batch(fr, np.random.default_rng(0), batch=4, crop=16)
    >>> x.shape, y.shape
    ((4, 1, 16, 16), (4, 1, 16, 16))
    """
    xs, ys = [], []
    for _ in range(batch):
        f = int(rng.integers(len(frames)))
        src = frames.images[f][None] if channels is None else channels[f]
        rows, cols = src.shape[-2:]
        if crop > min(rows, cols):
            raise ParameterError(f"crop {crop} px is larger than frame {frames.names[f]} ({rows}x{cols})")
        y0, x0 = int(rng.integers(rows - crop + 1)), int(rng.integers(cols - crop + 1))
        rot, flip = int(rng.integers(4)), bool(rng.integers(2))
        gain, offset, noise = ((1 + rng.uniform(-jitter, jitter), rng.uniform(-jitter, jitter),
                                rng.uniform(0, jitter)) if jitter else (1.0, 0.0, 0.0))
        mask = None if frames.masks is None else frames.masks[f][y0:y0 + crop, x0:x0 + crop]
        chans = []
        for c in range(src.shape[0]):
            a, m = augment(src[c, y0:y0 + crop, x0:x0 + crop], mask if c == 0 else None, rotation=rot, flip=flip,
                           gain=gain, offset=offset, noise=noise, rng=rng)
            chans.append(a)
            if c == 0 and m is not None:
                ys.append(m[None].astype(np.float32))
        xs.append(np.stack(chans))
    return np.stack(xs), (np.stack(ys) if ys else None)

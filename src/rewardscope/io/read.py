"""Read microscopy images and stacks with their calibration.

Formats: ``.tif/.tiff`` (tifffile; ImageJ, FEI/Thermo, DigitalMicrograph and plain
resolution tags), ``.png/.jpg/.bmp`` (grey, or RGB(A) with R=G=B read as grey),
``.npy``, and the microscope formats ``.dm3/.dm4``, ``.emd`` (Velox and NCEM),
``.ser/.emi`` and ``.mrc`` through rosettasciio. Stacks (movies) come back as
(frames, rows, cols). Files holding several signals (EMD, DM, TIA) give the first image
unless ``signal=N`` picks another; ``metadata["signals"]`` lists them all.

What the readers say while reading (warnings, log records) is never printed: a failed
read folds it into its one-line :class:`~rewardscope.errors.FileFormatError`, a message
that says the file is damaged or truncated makes the read fail, and anything else is kept
in ``metadata["reader_warnings"]`` (see :mod:`rewardscope.io.capture`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from rewardscope.errors import CalibrationError, FileFormatError, ImageShapeError, InputError, ParameterError
from rewardscope.io.capture import clean, read_guard, sniff
from rewardscope.units import Length, parse_length

RSCIIO_READERS = {
    ".dm3": "rsciio.digitalmicrograph", ".dm4": "rsciio.digitalmicrograph",
    ".emd": "rsciio.emd", ".ser": "rsciio.tia", ".emi": "rsciio.tia", ".mrc": "rsciio.mrc",
}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif"}
TIFF_SUFFIXES = {".tif", ".tiff"}
SUPPORTED = sorted(set(RSCIIO_READERS) | IMAGE_SUFFIXES | TIFF_SUFFIXES | {".npy"})


@dataclass
class ImageData:
    """Pixels plus calibration.

    Attributes
    ----------
    data : numpy.ndarray, shape (rows, cols) or (frames, rows, cols)
        Pixel values in the file's dtype.
    pixel_size : Length or None
        Size of one pixel; ``None`` when neither the file nor the user gave one.
    pixel_size_source : str
        ``"file"``, ``"user"`` or ``"none"``.
    path : Path or None
        Where the data came from.
    metadata : dict
        Format-specific extras: ``reader``, ``signal``, ``signals``, ``signals_in_file``,
        ``reader_warnings`` (see :func:`read_image`).
    """

    data: np.ndarray
    pixel_size: Length | None = None
    pixel_size_source: str = "none"
    path: Path | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def is_stack(self) -> bool:
        """True for a (frames, rows, cols) movie."""
        return self.data.ndim == 3

    @property
    def n_frames(self) -> int:
        """Number of frames (1 for a single image)."""
        return int(self.data.shape[0]) if self.is_stack else 1

    @property
    def frame_shape(self) -> tuple[int, int]:
        """(rows, cols) of one frame."""
        return tuple(int(s) for s in self.data.shape[-2:])  # type: ignore[return-value]

    @property
    def signals(self) -> list[dict[str, Any]]:
        """Every signal of the file (index, title, shape, dtype, pixel_size, image); one for most formats."""
        return list(self.metadata.get("signals", []))

    def require_pixel_size(self) -> Length:
        """Return the pixel size or raise a clear :class:`CalibrationError`."""
        if self.pixel_size is None:
            where = f"{self.path.name} has" if self.path else "this image has"
            raise CalibrationError(f"{where} no pixel size; give one, e.g. --pixel-size 0.35A")
        return self.pixel_size

    def info(self) -> dict[str, Any]:
        """Shape, dtype, pixel size, frame count and signal read (of how many) as a plain dict."""
        ps = self.pixel_size
        return {
            "path": str(self.path) if self.path else None, "shape": list(self.data.shape),
            "dtype": str(self.data.dtype), "frames": self.n_frames,
            "pixel_size": ps.value if ps else None, "pixel_size_unit": ps.unit if ps else None,
            "pixel_size_source": self.pixel_size_source,
            "signal": self.metadata.get("signal", 0), "signals_in_file": self.metadata.get("signals_in_file", 1),
        }


def _length_or_none(value: float | None, unit: str | None) -> Length | None:
    if value is None or unit is None:
        return None
    unit = str(unit).strip().replace("µ", "u").replace("μ", "u")
    if unit in ("", "px", "pixel", "pixels", "<undefined>", "1/nm", "1/A"):
        return None
    if unit.lower() in ("m", "meter", "metre"):
        value, unit = value * 1e10, "A"
    try:
        return parse_length(f"{float(value)!r}{unit}")
    except InputError:
        return None


def _grey(arr: np.ndarray, path: Path) -> np.ndarray:
    """RGB(A) with equal channels -> grey; a colour image is an error."""
    if arr.ndim == 3 and arr.shape[-1] in (3, 4) and arr.shape[0] > 4:
        rgb = arr[..., :3]
        if not (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])):
            raise ImageShapeError(f"{path.name} is a colour image; rewardscope needs grey micrographs")
        return rgb[..., 0]
    return arr


def _read_tiff(path: Path) -> tuple[np.ndarray, Length | None, dict[str, Any]]:
    with tifffile.TiffFile(path) as tif:
        arr = tif.asarray()
        page = tif.pages[0]
        meta: dict[str, Any] = {"reader": "tifffile"}
        ps = None
        if tif.fei_metadata:
            scan = tif.fei_metadata.get("Scan", {}) or tif.fei_metadata.get("EScan", {})
            ps = _length_or_none(scan.get("PixelWidth"), "m")
            meta["tags"] = "fei"
        if ps is None and tif.imagej_metadata is not None:
            unit = tif.imagej_metadata.get("unit")
            res = page.tags.get("XResolution")
            if res is not None and unit:
                num, den = res.value
                if num:
                    ps = _length_or_none(den / num, unit.replace("\\u00B5", "u"))
            meta["tags"] = "imagej"
        if ps is None and "XResolution" in page.tags and "ResolutionUnit" in page.tags:
            num, den = page.tags["XResolution"].value
            unit = int(page.tags["ResolutionUnit"].value)
            if num and unit == 3 and den / num < 1e-3:  # centimetre, only microscope-like scales
                ps = _length_or_none(den / num * 1e8, "A")
    return arr, ps, meta


def _signal_title(sig: dict[str, Any]) -> str:
    general = (sig.get("metadata") or {}).get("General") or {}
    return str(general.get("title") or "")


def _signal_pixel_size(sig: dict[str, Any]) -> Length | None:
    """Pixel size from the last signal axis (or the last axis) of a rosettasciio signal."""
    axes = [ax for ax in sig.get("axes", []) if ax.get("size", 2) > 1]
    sig_axes = [ax for ax in axes if not ax.get("navigate", False)] or axes
    return _length_or_none(sig_axes[-1].get("scale"), sig_axes[-1].get("units")) if sig_axes else None


def _is_image(sig: dict[str, Any]) -> bool:
    """A 2-D image or a stack of them; spectra and spectrum images (one signal axis) are not."""
    shape = [s for s in np.shape(sig["data"]) if s > 1]
    axes = [ax for ax in sig.get("axes", []) if ax.get("size", 2) > 1]
    n_signal_axes = sum(not ax.get("navigate", False) for ax in axes)
    return len(shape) in (2, 3) and (not axes or n_signal_axes != 1)


def _entry(index: int, title: str, data: Any, pixel_size: Length | None, image: bool) -> dict[str, Any]:
    """One row of ``metadata["signals"]``."""
    return {"index": index, "title": title, "shape": [int(s) for s in np.shape(data)],
            "dtype": str(getattr(data, "dtype", np.asarray(data).dtype)),
            "pixel_size": pixel_size.text if pixel_size is not None else None, "image": image}


def check_signal(signal: int | None, n_signals: int, path: Path) -> None:
    """Raise a clear :class:`ParameterError` unless ``signal`` is None or in ``0 .. n_signals - 1``.

    Examples
    --------
    >>> check_signal(2, 2, Path("a.emd"))
    Traceback (most recent call last):
    rewardscope.errors.ParameterError: a.emd holds 2 signals (0-1); there is no signal 2 (see `rewardscope info a.emd`)
    """
    if signal is None:
        return
    if isinstance(signal, bool) or not isinstance(signal, (int, np.integer)) or signal < 0:
        raise ParameterError(f"signal must be a whole number >= 0 (an index from `rewardscope info`), got {signal!r}")
    if signal >= n_signals:
        held = "1 signal (0)" if n_signals == 1 else f"{n_signals} signals (0-{n_signals - 1})"
        raise ParameterError(f"{path.name} holds {held}; there is no signal {signal} "
                             f"(see `rewardscope info {path.name}`)")


def _read_rsciio(path: Path, signal: int | None) -> tuple[np.ndarray, Length | None, dict[str, Any]]:
    import importlib

    module = importlib.import_module(RSCIIO_READERS[path.suffix.lower()])
    signals = module.file_reader(str(path))
    entries = [_entry(i, _signal_title(s), s["data"], _signal_pixel_size(s), _is_image(s))
               for i, s in enumerate(signals)]
    check_signal(signal, len(signals), path)
    images = [e["index"] for e in entries if e["image"]]
    if signal is None:
        if not images:
            held = ", ".join(f"{e['index']}: shape {tuple(e['shape'])}" for e in entries) or "nothing"
            raise FileFormatError(f"{path.name} holds no image (signals {held})")
        signal = images[0]
    elif not entries[signal]["image"]:
        e = entries[signal]
        raise ImageShapeError(f"signal {signal} of {path.name} ({e['title'] or 'untitled'}, shape {tuple(e['shape'])}) "
                              f"is not an image; image signals: {', '.join(map(str, images)) or 'none'}")
    sig = signals[signal]
    meta = {"reader": module.__name__, "signal": signal, "signals": entries, "signals_in_file": len(signals)}
    return np.asarray(sig["data"]), _signal_pixel_size(sig), meta


def check_npy(path: Path) -> None:
    """Raise :class:`FileFormatError` if a ``.npy`` file holds fewer bytes than its header promises."""
    import numpy.lib.format as npformat

    with open(path, "rb") as fh:
        version = npformat.read_magic(fh)
        if version not in ((1, 0), (2, 0)):
            return
        read_header = npformat.read_array_header_1_0 if version == (1, 0) else npformat.read_array_header_2_0
        shape, _, dtype = read_header(fh)
        need = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
        have = path.stat().st_size - fh.tell()
    if have < need:
        raise FileFormatError(f"{path.name} is truncated: its header promises {need} bytes of {dtype} "
                              f"data of shape {tuple(shape)}, the file holds {have}")


def _read_one(path: Path) -> tuple[np.ndarray, Length | None, dict[str, Any]]:
    """Formats that hold one signal."""
    suffix = path.suffix.lower()
    if suffix in TIFF_SUFFIXES:
        return _read_tiff(path)
    if suffix == ".npy":
        check_npy(path)
        return np.load(path, allow_pickle=False), None, {"reader": "numpy"}
    if suffix in IMAGE_SUFFIXES:
        if (sniff(path) or ("",))[0] in ("TIFF", "BigTIFF"):  # a TIFF named .png: PIL's libtiff would print
            return _read_tiff(path)
        from skimage.io import imread

        return _grey(np.asarray(imread(path)), path), None, {"reader": "skimage.io"}
    raise FileFormatError(f"{path.name}: unsupported format {suffix!r}; supported: {', '.join(SUPPORTED)}")


def _read_any(path: Path, signal: int | None) -> tuple[np.ndarray, Length | None, dict[str, Any]]:
    if path.suffix.lower() in RSCIIO_READERS:
        return _read_rsciio(path, signal)
    check_signal(signal, 1, path)
    arr, ps, meta = _read_one(path)
    arr = np.asarray(arr)
    meta.update(signal=0, signals=[_entry(0, path.stem, arr, ps, True)], signals_in_file=1)
    return arr, ps, meta


def check_exists(path: Path) -> None:
    """Raise :class:`FileFormatError` for a missing path or a folder."""
    if not path.exists():
        raise FileFormatError(f"{path}: no such file")
    if path.is_dir():
        raise FileFormatError(f"{path} is a folder, not an image file")


def read_image(path: str | Path, *, pixel_size: str | Length | None = None, signal: int | None = None) -> ImageData:
    """Read an image or movie with its calibration.

    Parameters
    ----------
    path : str or Path
        A ``.tif``, ``.png``, ``.npy``, ``.dm3/.dm4``, ``.emd``, ``.ser/.emi`` or ``.mrc`` file.
    pixel_size : str or Length, optional
        Overrides the file's calibration, e.g. ``"0.35A"``.
    signal : int, optional
        Which signal of a file holding several (EMD, DM, TIA) to read: its index in
        ``metadata["signals"]`` (as ``rewardscope info FILE`` lists them). Default: the
        first image; ``metadata["signals_in_file"]`` says how many there were.

    Returns
    -------
    ImageData
        ``data`` of shape (rows, cols) or (frames, rows, cols) and the pixel size;
        ``metadata`` holds ``reader``, ``signal`` (index read), ``signals`` (one dict per
        signal: index, title, shape, dtype, pixel_size, image), ``signals_in_file`` and
        ``reader_warnings`` (what the reader said; not printed).

    Raises
    ------
    FileFormatError
        Missing, unreadable, damaged or truncated file, or unsupported format. The message
        is one line naming the file, with the reader's error and messages.
    ImageShapeError
        Not a 2-D image or 3-D stack (after dropping singleton axes), or a colour image.
    ParameterError
        ``signal`` is not an index of the file's signals.

    Examples
    --------
    >>> from rewardscope import datasets
    >>> img = read_image(datasets.hrtem_path(), pixel_size="0.35A")
    >>> img.data.shape, img.pixel_size.angstrom, img.metadata["signals_in_file"]
    ((512, 512), 0.35, 1)
    """
    path = Path(path)
    check_exists(path)
    with read_guard(path) as said:
        arr, ps, meta = _read_any(path, signal)
        arr = np.asarray(arr)
    meta["reader_warnings"] = list(dict.fromkeys(clean(m) for m in said))
    if arr.ndim == 3 and arr.shape[-1] in (3, 4) and arr.shape[0] > 4:
        arr = _grey(arr, path)
    arr = arr.squeeze() if arr.ndim > 2 else arr
    if arr.ndim not in (2, 3):
        raise ImageShapeError(f"{path.name}: expected a 2-D image or 3-D stack, got shape {arr.shape}")
    source = "file" if ps is not None else "none"
    if pixel_size is not None:
        ps, source = parse_length(pixel_size), "user"
    return ImageData(data=arr, pixel_size=ps, pixel_size_source=source, path=path, metadata=meta)

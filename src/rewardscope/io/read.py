"""Read microscopy images and stacks with their calibration.

Formats: ``.tif/.tiff`` (tifffile; ImageJ, FEI/Thermo, DigitalMicrograph and plain
resolution tags), ``.png/.jpg/.bmp`` (grey, or RGB(A) with R=G=B read as grey),
``.npy``, and the microscope formats ``.dm3/.dm4``, ``.emd`` (Velox and NCEM),
``.ser/.emi`` and ``.mrc`` through rosettasciio. Stacks (movies) come back as
(frames, rows, cols).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from rewardscope.errors import CalibrationError, FileFormatError, ImageShapeError, InputError
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
        Format-specific extras (reader used, original units, ...).
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

    def require_pixel_size(self) -> Length:
        """Return the pixel size or raise a clear :class:`CalibrationError`."""
        if self.pixel_size is None:
            where = f"{self.path.name} has" if self.path else "this image has"
            raise CalibrationError(f"{where} no pixel size; give one, e.g. --pixel-size 0.35A")
        return self.pixel_size

    def info(self) -> dict[str, Any]:
        """Shape, dtype, pixel size and frame count as a plain dict."""
        ps = self.pixel_size
        return {
            "path": str(self.path) if self.path else None, "shape": list(self.data.shape),
            "dtype": str(self.data.dtype), "frames": self.n_frames,
            "pixel_size": ps.value if ps else None, "pixel_size_unit": ps.unit if ps else None,
            "pixel_size_source": self.pixel_size_source,
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


def _read_rsciio(path: Path) -> tuple[np.ndarray, Length | None, dict[str, Any]]:
    import importlib

    module = importlib.import_module(RSCIIO_READERS[path.suffix.lower()])
    signals = module.file_reader(str(path))
    images = [s for s in signals if np.asarray(s["data"]).ndim >= 2]
    if not images:
        raise FileFormatError(f"{path.name} holds no image")
    sig = images[0]
    arr = np.asarray(sig["data"])
    axes = [ax for ax in sig.get("axes", []) if ax.get("size", 2) > 1]
    sig_axes = [ax for ax in axes if not ax.get("navigate", False)] or axes
    ps = None
    if sig_axes:
        ax = sig_axes[-1]
        ps = _length_or_none(ax.get("scale"), ax.get("units"))
    meta = {"reader": module.__name__, "signals_in_file": len(signals)}
    return arr, ps, meta


def _read_any(path: Path) -> tuple[np.ndarray, Length | None, dict[str, Any]]:
    suffix = path.suffix.lower()
    if suffix in TIFF_SUFFIXES:
        return _read_tiff(path)
    if suffix == ".npy":
        return np.load(path, allow_pickle=False), None, {"reader": "numpy"}
    if suffix in IMAGE_SUFFIXES:
        from skimage.io import imread

        return _grey(np.asarray(imread(path)), path), None, {"reader": "skimage.io"}
    if suffix in RSCIIO_READERS:
        return _read_rsciio(path)
    raise FileFormatError(f"{path.name}: unsupported format {suffix!r}; supported: {', '.join(SUPPORTED)}")


def read_image(path: str | Path, *, pixel_size: str | Length | None = None) -> ImageData:
    """Read an image or movie with its calibration.

    Parameters
    ----------
    path : str or Path
        A ``.tif``, ``.png``, ``.npy``, ``.dm3/.dm4``, ``.emd``, ``.ser/.emi`` or ``.mrc`` file.
    pixel_size : str or Length, optional
        Overrides the file's calibration, e.g. ``"0.35A"``.

    Returns
    -------
    ImageData
        ``data`` of shape (rows, cols) or (frames, rows, cols) and the pixel size.

    Raises
    ------
    FileFormatError
        Missing, unreadable or corrupt file, or unsupported format.
    ImageShapeError
        Not a 2-D image or 3-D stack (after dropping singleton axes), or a colour image.

    Examples
    --------
    >>> img = read_image("frame.tif", pixel_size="0.35A")  # doctest: +SKIP
    >>> img.pixel_size.angstrom                            # doctest: +SKIP
    0.35
    """
    path = Path(path)
    if not path.exists():
        raise FileFormatError(f"{path}: no such file")
    if path.is_dir():
        raise FileFormatError(f"{path} is a folder, not an image file")
    try:
        arr, ps, meta = _read_any(path)
    except InputError:
        raise
    except Exception as exc:  # corrupt files fail in many ways inside third-party readers
        raise FileFormatError(f"{path.name}: cannot read file ({type(exc).__name__}: {exc})") from None
    arr = np.asarray(arr)
    if arr.ndim == 3 and arr.shape[-1] in (3, 4) and arr.shape[0] > 4:
        arr = _grey(arr, path)
    arr = arr.squeeze() if arr.ndim > 2 else arr
    if arr.ndim not in (2, 3):
        raise ImageShapeError(f"{path.name}: expected a 2-D image or 3-D stack, got shape {arr.shape}")
    source = "file" if ps is not None else "none"
    if pixel_size is not None:
        ps, source = parse_length(pixel_size), "user"
    return ImageData(data=arr, pixel_size=ps, pixel_size_source=source, path=path, metadata=meta)

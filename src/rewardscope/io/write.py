"""Writers for tables, JSON summaries and calibrated TIFF images.

Every calibrated TIFF rewardscope writes goes through this module: :func:`write_tiff`
for an array in memory, :class:`TiffStackWriter` for a movie written frame by frame.
Both write ImageJ TIFFs with the pixel size as resolution in nm (``unit=nm``), which
:func:`~rewardscope.io.read_image` and :func:`~rewardscope.io.open_stack` read back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tifffile

from rewardscope.io.frames import FrameFile
from rewardscope.units import Length


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Length):
        return {"value": obj.value, "unit": obj.unit}
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    return obj


def write_json(path: str | Path, data: dict[str, Any]) -> Path:
    """Write ``data`` as indented JSON (numpy scalars, arrays, lengths converted)."""
    path = Path(path)
    path.write_text(json.dumps(_jsonable(data), indent=2, sort_keys=False) + "\n")
    return path


def write_table(path: str | Path, table: pd.DataFrame) -> Path:
    """Write a DataFrame as CSV, or Parquet when ``path`` ends in ``.parquet``."""
    path = Path(path)
    if path.suffix == ".parquet":
        table.to_parquet(path, index=False)
    else:
        table.to_csv(path, index=False, float_format="%.6g")
    return path


def imagej_options(pixel_size: Length | None, *, stack: bool) -> dict[str, Any]:
    """``metadata`` and ``resolution`` keywords of tifffile for an ImageJ TIFF with this calibration.

    Parameters
    ----------
    pixel_size : Length, optional
        Stored as ImageJ resolution in pixels per nm with ``unit=nm``.
    stack : bool
        Frames (axes ``TYX``) or one image (``YX``).

    Returns
    -------
    dict
        ``{"metadata": {...}, "resolution": (per_nm, per_nm)}`` (no resolution without a pixel size).

    Examples
    --------
    >>> imagej_options(Length(0.5, "nm"), stack=True)
    {'metadata': {'axes': 'TYX', 'unit': 'nm'}, 'resolution': (2.0, 2.0)}
    """
    metadata: dict[str, Any] = {"axes": "TYX" if stack else "YX"}
    options: dict[str, Any] = {"metadata": metadata}
    if pixel_size is not None:
        metadata["unit"] = "nm"
        per_nm = 1.0 / pixel_size.nm
        options["resolution"] = (per_nm, per_nm)
    return options


def _imagej_array(data: np.ndarray) -> np.ndarray:
    """``data`` in a type ImageJ TIFF holds: uint8, uint16 or float32."""
    arr = np.asarray(data)
    if arr.dtype == np.float64:
        return arr.astype(np.float32)
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer) and arr.dtype not in (np.uint8, np.uint16):
        return arr.astype(np.uint16 if 0 <= arr.min() and arr.max() < 65536 else np.float32)
    return arr


def write_tiff(path: str | Path, data: np.ndarray, *, pixel_size: Length | None = None) -> Path:
    """Write an image or stack as an ImageJ TIFF with its pixel size in the metadata.

    Parameters
    ----------
    path : str or Path
        Output file (``.tif``).
    data : numpy.ndarray, shape (rows, cols) or (frames, rows, cols)
        float64 is stored as float32, bool as uint8, other integers as uint16 (float32
        when out of its range); uint8, uint16 and float32 are kept.
    pixel_size : Length, optional
        Stored as ImageJ resolution in nm (``unit=nm``), which :func:`read_image` reads back.

    Returns
    -------
    Path

    Examples
    --------
    >>> write_tiff("mask.tif", np.zeros((16, 16), bool), pixel_size=Length(0.05, "nm"))
    PosixPath('mask.tif')
    """
    path = Path(path)
    arr = _imagej_array(data)
    tifffile.imwrite(path, arr, imagej=True, **imagej_options(pixel_size, stack=arr.ndim == 3))
    return path


class TiffStackWriter:
    """Write a movie frame by frame to an ImageJ TIFF with its pixel size (memory: one frame).

    The file is laid out at once (uncompressed, contiguous: memory-mappable) and each
    :meth:`write` fills the next frame with plain file I/O (:mod:`rewardscope.io.frames`:
    the written frames do not stay in the process's memory), so movies larger than memory
    can be written as they are produced.

    Parameters
    ----------
    path : str or Path
        Output file (``.tif``).
    shape : (frames, rows, cols)
        Exactly ``frames`` frames must be written before :meth:`close`.
    dtype : numpy dtype
        ``float32``, ``uint16`` or ``uint8`` (ImageJ types); frames are cast to it.
    pixel_size : Length, optional
        Stored as ImageJ resolution in nm, as :func:`write_tiff` does.

    Examples
    --------
    >>> import tempfile
    >>> from rewardscope.io import open_stack
    >>> path = Path(tempfile.mkdtemp()) / "movie.tif"
    >>> with TiffStackWriter(path, shape=(3, 16, 16), pixel_size=Length(0.5, "A")) as out:
    ...     for i in range(3):
    ...         out.write(np.full((16, 16), i))
    >>> movie = open_stack(path)
    >>> len(movie), float(movie[2].mean()), movie.pixel_size.angstrom
    (3, 2.0, 0.5)
    """

    def __init__(self, path: str | Path, *, shape: tuple[int, int, int], dtype: Any = np.float32,
                 pixel_size: Length | None = None) -> None:
        self.path = Path(path)
        self.shape = tuple(int(v) for v in shape)
        if len(self.shape) != 3:
            raise ValueError(f"shape must be (frames, rows, cols), got {shape}")
        layout = tifffile.memmap(self.path, shape=self.shape, dtype=np.dtype(dtype), imagej=True,
                                 **imagej_options(pixel_size, stack=True))  # header and size only: no page touched
        offset, file_dtype = int(layout.offset), layout.dtype
        del layout
        self._data: FrameFile | None = FrameFile(self.path, offset=offset, frame_shape=self.shape[1:],
                                                 dtype=file_dtype)
        self.written = 0

    def write(self, frame: np.ndarray) -> None:
        """Store the next frame, shape (rows, cols), cast to the writer's dtype."""
        if self._data is None or self.written >= self.shape[0]:
            raise ValueError(f"{self.path.name}: all {self.shape[0]} frames are written, or the file is closed")
        self._data.write(self.written, frame)
        self.written += 1

    def close(self) -> None:
        """Close the file; an error if fewer frames were written than announced."""
        if self._data is None:
            return
        self._data.close()
        self._data = None
        if self.written != self.shape[0]:
            raise ValueError(f"{self.path.name}: {self.written} frames written, {self.shape[0]} announced")

    def __enter__(self) -> TiffStackWriter:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is None:
            self.close()
        elif self._data is not None:  # keep the original error; the partial file is the caller's to remove
            self._data.close()
            self._data = None

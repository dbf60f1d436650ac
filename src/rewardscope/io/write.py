"""Writers for tables, JSON summaries and calibrated TIFF images."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tifffile

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


def write_tiff(path: str | Path, data: np.ndarray, *, pixel_size: Length | None = None) -> Path:
    """Write an image or stack as an ImageJ TIFF with its pixel size in the metadata.

    Parameters
    ----------
    path : str or Path
        Output file (``.tif``).
    data : numpy.ndarray, shape (rows, cols) or (frames, rows, cols)
        float64 is stored as float32; integers keep their type.
    pixel_size : Length, optional
        Stored as ImageJ resolution in nm (``unit=nm``), which :func:`read_image` reads back.
    """
    path = Path(path)
    arr = np.asarray(data)
    if arr.dtype == np.float64:
        arr = arr.astype(np.float32)
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer) and arr.dtype not in (np.uint8, np.uint16):
        # ImageJ TIFF holds uint8, uint16 or float32 only.
        arr = arr.astype(np.uint16 if 0 <= arr.min() and arr.max() < 65536 else np.float32)
    metadata: dict[str, Any] = {"axes": "TYX" if arr.ndim == 3 else "YX"}
    kwargs: dict[str, Any] = {}
    if pixel_size is not None:
        metadata["unit"] = "nm"
        per_nm = 1.0 / pixel_size.nm
        kwargs["resolution"] = (per_nm, per_nm)
    tifffile.imwrite(path, arr, imagej=True, metadata=metadata, **kwargs)
    return path

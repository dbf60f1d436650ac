"""napari reader: every format :func:`rewardscope.io.read_image` reads, calibrated.

Each file gives one image layer: a single image as (rows, cols), a movie as (frames, rows,
cols) with the frames on napari's time slider. The pixel size becomes the layer's
``scale`` in nm per pixel (1 per frame on the time axis), with ``units`` and
``axis_labels``; ``metadata["pixel_size"]`` keeps it as rewardscope text (``"0.35A"``)
for the widgets. Without a calibration the scale is 1 (pixels).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rewardscope.errors import InputError
from rewardscope.io.read import SUPPORTED, read_image
from rewardscope.units import Length

LayerData = tuple[Any, dict[str, Any], str]


def image_layer_data(data: np.ndarray, pixel_size: Length | None, *, name: str,
                     metadata: dict[str, Any] | None = None) -> LayerData:
    """An image layer tuple with the calibration as scale (nm), a movie's frames as time.

    Examples
    --------
    >>> data, kwargs, kind = image_layer_data(np.zeros((3, 8, 8)), Length(0.35, "A"), name="movie")
    >>> kwargs["scale"], kwargs["axis_labels"], kind
    ((1.0, 0.035, 0.035), ('t', 'y', 'x'), 'image')
    """
    nm = pixel_size.nm if pixel_size is not None else 1.0
    unit = "nm" if pixel_size is not None else "pixel"
    movie = data.ndim == 3
    scale = (1.0, nm, nm) if movie else (nm, nm)
    meta = dict(metadata or {})
    meta["pixel_size"] = pixel_size.text if pixel_size is not None else None
    kwargs = {"name": name, "scale": scale, "metadata": meta,
              "axis_labels": ("t", "y", "x") if movie else ("y", "x"),
              "units": ("pixel", unit, unit) if movie else (unit, unit)}
    return data, kwargs, "image"


def read_layers(path: str | Path) -> list[LayerData]:
    """Read one file as napari layer data (see the module docstring)."""
    img = read_image(path)
    return [image_layer_data(img.data, img.pixel_size, name=Path(path).stem,
                             metadata={"path": str(path), "pixel_size_source": img.pixel_size_source})]


def get_reader(path: str | list[str]) -> Callable[[Any], list[LayerData]] | None:
    """npe2 reader hook: a reader for files rewardscope reads, else None (napari tries others)."""
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    if not paths or any(Path(p).suffix.lower() not in SUPPORTED for p in paths):
        return None

    def read(target: Any) -> list[LayerData]:
        targets = [target] if isinstance(target, (str, Path)) else list(target)
        layers: list[LayerData] = []
        for p in targets:
            try:
                layers += read_layers(p)
            except InputError as exc:  # napari shows the one line as a notification
                raise ValueError(f"rewardscope: {exc}") from None
        return layers

    return read

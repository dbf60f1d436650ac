"""Reading images and stacks with their calibration, and writing results.

Examples
--------
>>> import numpy as np
>>> from rewardscope.io import read_image, write_tiff
>>> from rewardscope.units import Length
>>> path = write_tiff("haadf.tif", np.zeros((64, 64), np.float32), pixel_size=Length(0.035, "nm"))
>>> img = read_image(path)                 # .dm3/.dm4, .emd, .ser, .mrc, .png, .npy alike
>>> img.data.shape, img.pixel_size
((64, 64), Length(value=0.035, unit='nm'))
"""

from __future__ import annotations

from rewardscope import lazy_names

#: Public name -> the module that defines it (imported on first access: importing the package is light).
_NAMES: dict[str, str] = {
    "LazyStack": "rewardscope.io.lazy",
    "open_stack": "rewardscope.io.lazy",
    "write_stack": "rewardscope.io.lazy",
    "OutputDir": "rewardscope.io.output",
    "ImageData": "rewardscope.io.read",
    "read_image": "rewardscope.io.read",
    "as_image": "rewardscope.io.validate",
    "as_stack": "rewardscope.io.validate",
    "TiffStackWriter": "rewardscope.io.write",
    "write_json": "rewardscope.io.write",
    "write_table": "rewardscope.io.write",
    "write_tiff": "rewardscope.io.write",
}

__all__ = [
    "ImageData", "OutputDir", "TiffStackWriter", "as_image", "as_stack", "read_image",
    "write_json", "write_table", "write_tiff",
]

__getattr__, __dir__ = lazy_names(__name__, _NAMES)

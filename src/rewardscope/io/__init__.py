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

from rewardscope.io.lazy import LazyStack, open_stack, write_stack  # noqa: F401  (lazy movie access)
from rewardscope.io.output import OutputDir
from rewardscope.io.read import ImageData, read_image
from rewardscope.io.validate import as_image, as_stack
from rewardscope.io.write import TiffStackWriter, write_json, write_table, write_tiff

__all__ = [
    "ImageData", "OutputDir", "TiffStackWriter", "as_image", "as_stack", "read_image",
    "write_json", "write_table", "write_tiff",
]

"""Reading images and stacks with their calibration, and writing results.

Examples
--------
>>> from rewardscope.io import read_image  # doctest: +SKIP
>>> img = read_image("haadf.dm4")          # doctest: +SKIP
>>> img.data.shape, img.pixel_size         # doctest: +SKIP
((1024, 1024), Length(value=0.035, unit='nm'))
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

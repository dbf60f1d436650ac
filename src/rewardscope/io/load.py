"""One entry for every input a workflow accepts: :func:`load_input`.

Workflows and the CLI take images as numpy arrays, :class:`~rewardscope.io.ImageData`,
:class:`~rewardscope.io.LazyStack`, HyperSpy-like signals (anything with ``.data`` and an
``.axes_manager`` whose signal axes carry ``scale`` and ``units``; read duck-typed, so
hyperspy is never imported) or file paths. :func:`load_input` turns each into one
validated image (or a lazy movie) plus its calibration, with one rule for the pixel size:
the caller's value wins, then the file's (or signal's), else none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rewardscope.errors import CalibrationError, ImageShapeError
from rewardscope.io.lazy import LazyStack, open_stack
from rewardscope.io.read import ImageData, read_image
from rewardscope.io.validate import as_image
from rewardscope.units import Length, parse_length


@dataclass
class Input:
    """A loaded input: pixels (validated) plus calibration.

    Attributes
    ----------
    image : numpy.ndarray, shape (rows, cols), float64, or LazyStack
        One validated image, or the lazy frames of a movie (``movie=True``).
    pixel_size : Length or None
        Size of one pixel (the caller's, else the source's).
    path : Path or None
        The file it came from.
    """

    image: Any
    pixel_size: Length | None = None
    path: Path | None = None

    def require_pixel_size(self, what: str) -> Length:
        """The pixel size, or a :class:`CalibrationError` saying that ``what`` needs one."""
        if self.pixel_size is None:
            raise CalibrationError(f"{what} needs the pixel size: pass --pixel-size (e.g. 0.35A) "
                                   "or use a file that stores its calibration")
        return self.pixel_size


def _signal_pixel_size(signal: Any) -> Length | None:
    """Pixel size of a HyperSpy-like signal from its last signal axis (``scale``, ``units``)."""
    axes = getattr(signal.axes_manager, "signal_axes", None) or []
    if not axes:
        return None
    scale, units = getattr(axes[-1], "scale", None), str(getattr(axes[-1], "units", "") or "")
    if not scale or not units or units in ("<undefined>", "px", "pixel", "pixels"):
        return None
    try:
        return parse_length(f"{float(scale)!r}{units}")
    except CalibrationError:
        return None


def _source_parts(source: Any) -> tuple[Any, Length | None, Path | None]:
    """(pixels or lazy stack, source's pixel size, path) of any accepted input."""
    if isinstance(source, (str, Path)):
        return Path(source), None, Path(source)
    if isinstance(source, Input):
        return source.image, source.pixel_size, source.path
    if isinstance(source, ImageData):
        return source.data, source.pixel_size, source.path
    if isinstance(source, LazyStack):
        return source, source.pixel_size, source.path
    if hasattr(source, "data") and hasattr(source, "axes_manager"):
        return np.asarray(source.data), _signal_pixel_size(source), None
    return source, None, None


def load_input(source: Any, pixel_size: str | Length | None = None, *, movie: bool = False,
               name: str = "image", signal: int | None = None) -> Input:
    """Load any accepted input as a validated image (or lazy movie) with its calibration.

    Parameters
    ----------
    source : path, numpy.ndarray, ImageData, LazyStack, Input or HyperSpy-like signal
        The image or movie.
    pixel_size : str or Length, optional
        E.g. ``"0.35A"``; overrides the source's own calibration.
    movie : bool
        Return the frames as a :class:`LazyStack` (read lazily from files); a single
        image becomes a one-frame stack. Otherwise one 2-D image is required.
    name : str
        What the input is called in error messages.
    signal : int, optional
        Which signal of a multi-signal file to read (as :func:`~rewardscope.io.read_image`);
        default: the file's first image.

    Returns
    -------
    Input
        ``image`` (float64 array of shape (rows, cols), or a LazyStack), ``pixel_size``, ``path``.

    Raises
    ------
    FileFormatError, ImageShapeError, ImageValueError, CalibrationError
        Unreadable file, wrong dimensions, NaN/constant pixels, or a bad pixel size.

    Examples
    --------
    >>> import numpy as np
    >>> inp = load_input(np.random.default_rng(0).random((32, 32)), "0.35A")
    >>> inp.image.shape, inp.pixel_size.angstrom
    ((32, 32), 0.35)
    """
    pixels, file_ps, path = _source_parts(source)
    user_ps = parse_length(pixel_size) if pixel_size is not None else None
    if movie:
        stack = pixels if isinstance(pixels, LazyStack) else open_stack(
            pixels, pixel_size=user_ps or file_ps, signal=signal)
        stack.pixel_size = user_ps or stack.pixel_size or file_ps
        return Input(image=stack, pixel_size=stack.pixel_size, path=path or stack.path)
    if isinstance(pixels, Path):
        img = read_image(pixels, pixel_size=user_ps, signal=signal)
        pixels, file_ps = img.data, img.pixel_size
    if isinstance(pixels, LazyStack):
        if len(pixels) != 1:
            raise ImageShapeError(f"{name} must be one image, got a movie of {len(pixels)} frames")
        pixels = pixels[0]
    if isinstance(pixels, Sequence) and not isinstance(pixels, np.ndarray):
        pixels = np.asarray(pixels)
    label = path.name if path is not None else name
    return Input(image=as_image(pixels, name=label), pixel_size=user_ps or file_ps, path=path)

"""Image patches centred on atoms, and their PCA features.

A patch is the image resampled on a square grid of ``window`` pixels centred on the
(sub-pixel) atom position, by bilinear interpolation; outside the image it takes the
image median (a neutral value, unlike mirrored edges that would invent lattice). Also:
mirror symmetrization and a Gaussian taper of patches.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from rewardscope.errors import ParameterError
from rewardscope.units import Length, parse_length


def window_px(window: str | Length | float, pixel_size: Length | None) -> int:
    """Patch side in pixels (odd, >= 3) from a physical length or a pixel count.

    Parameters
    ----------
    window : str or Length or float
        ``"2.0nm"``/``Length`` (needs ``pixel_size``) or a number of pixels.
    pixel_size : Length or None

    Examples
    --------
    >>> window_px("1nm", Length(0.5, "A"))
    21
    """
    if isinstance(window, (int, float, np.integer, np.floating)):
        side = float(window)
    else:
        length = parse_length(window) if isinstance(window, str) else window
        if pixel_size is None:
            raise ParameterError("a physical window needs a pixel size; give one, e.g. --pixel-size 0.35A")
        side = length.angstrom / pixel_size.angstrom
    side_i = int(round(side))
    side_i += 1 - side_i % 2
    if side_i < 3:
        raise ParameterError(f"window is {side:.1f} px; it must span at least 3 pixels")
    return side_i


def window_side_px(window: str | Length, pixel_size: Length, shape: tuple[int, int]) -> int:
    """:func:`window_px`, refusing windows over twice the image size.

    Parameters
    ----------
    window : str or Length
        Patch side, e.g. ``"2.0nm"``.
    pixel_size : Length
    shape : (rows, cols)
        Image shape.

    Returns
    -------
    int
        Odd patch side, pixels.

    Raises
    ------
    ParameterError
        The window is under 3 px, or larger than twice the image's longer side (a pixel
        size off by orders of magnitude would allocate patches of billions of pixels).

    Examples
    --------
    >>> window_side_px(Length(2.0, "nm"), Length(0.35, "A"), (128, 128))
    57
    """
    side = window_px(window, pixel_size)
    if side > 2 * max(shape):
        text = window.text if isinstance(window, Length) else window
        raise ParameterError(f"the window {text} is {side} px at pixel size {pixel_size.text}, far larger than the "
                             f"{shape[0]} x {shape[1]} px image; check the pixel size and the window")
    return side


def extract_patches(image: np.ndarray, xy: np.ndarray, *, side: int) -> np.ndarray:
    """Square patches of ``side`` pixels centred on each position (bilinear resampling).

    Parameters
    ----------
    image : numpy.ndarray, shape (rows, cols)
    xy : numpy.ndarray, shape (n, 2)
        Centres (x = column, y = row), pixels.
    side : int
        Patch side, pixels.

    Returns
    -------
    numpy.ndarray, shape (n, side, side), float32

    Examples
    --------
    >>> img = np.arange(100.0).reshape(10, 10)
    >>> float(extract_patches(img, np.array([[4.0, 5.0]]), side=3)[0, 1, 1])
    54.0
    """
    half = (side - 1) / 2.0
    off = np.arange(side) - half
    rows = xy[:, 1][:, None, None] + off[None, :, None]
    cols = xy[:, 0][:, None, None] + off[None, None, :]
    rows, cols = np.broadcast_arrays(rows, cols)
    vals = ndimage.map_coordinates(np.asarray(image, float), [rows.ravel(), cols.ravel()], order=1,
                                   mode="constant", cval=float(np.median(image)))
    return vals.reshape(len(xy), side, side).astype(np.float32)


def centre_crop(patches: np.ndarray, side: int) -> np.ndarray:
    """Central ``side`` x ``side`` part of each patch (patches of a larger odd side)."""
    big = patches.shape[-1]
    if side >= big:
        return patches
    lo = (big - side) // 2
    return patches[:, lo:lo + side, lo:lo + side]


def mirror_symmetrize(patches: np.ndarray) -> np.ndarray:
    """Average of each patch with its up-down, left-right and 180-degree flips.

    Mirror-related sites (e.g. the Ba columns above and below the Y plane of YBCO) then
    give the same patch, so clusters follow the species rather than the orientation.

    Parameters
    ----------
    patches : numpy.ndarray, shape (n, side, side)

    Returns
    -------
    numpy.ndarray, shape (n, side, side)
    """
    return (patches + patches[:, ::-1, :] + patches[:, :, ::-1] + patches[:, ::-1, ::-1]) / 4.0


def gaussian_taper(side: int) -> np.ndarray:
    """Gaussian weights (sigma = side / 4) that make a patch's centre count most.

    Returns
    -------
    numpy.ndarray, shape (side, side), peak 1
    """
    off = np.arange(side) - (side - 1) / 2.0
    return np.exp(-(off[:, None] ** 2 + off[None, :] ** 2) / (2 * (side / 4.0) ** 2))

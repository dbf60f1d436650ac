"""Image patches centred on atoms, and their PCA features.

A patch is the image resampled on a square grid of ``window`` pixels centred on the
(sub-pixel) atom position, by bilinear interpolation; outside the image it takes the
image median (a neutral value, unlike mirrored edges that would invent lattice). Also:
mirror symmetrization and a Gaussian taper of patches.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import ndimage

from rewardscope.errors import FileFormatError, ParameterError
from rewardscope.units import Length, parse_length


def atom_positions(atoms: pd.DataFrame | np.ndarray, *, min_atoms: int = 1) -> np.ndarray:
    """(n, 2) float array of (x, y) pixel positions from a table or an array.

    Parameters
    ----------
    atoms : pandas.DataFrame with ``x``, ``y`` columns, or array_like of shape (n, 2)
    min_atoms : int
        Fewest atoms accepted.

    Raises
    ------
    FileFormatError
        Table without ``x``/``y`` columns or with non-finite values.
    ParameterError
        Fewer than ``min_atoms`` atoms.

    Examples
    --------
    >>> atom_positions(pd.DataFrame({"x": [1.0], "y": [2.0]})).tolist()
    [[1.0, 2.0]]
    """
    if isinstance(atoms, pd.DataFrame):
        missing = [c for c in ("x", "y") if c not in atoms.columns]
        if missing:
            raise FileFormatError(f"atoms table needs columns x and y (pixels); missing {missing}, "
                                  f"has {list(atoms.columns)}")
        xy = atoms[["x", "y"]].to_numpy(float)
    else:
        xy = np.asarray(atoms, float).reshape(-1, 2)
    if not np.isfinite(xy).all():
        raise FileFormatError("atom positions contain NaN or infinite values")
    if len(xy) < min_atoms:
        raise ParameterError(f"need at least {min_atoms} atoms, got {len(xy)}")
    return xy


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

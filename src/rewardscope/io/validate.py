"""Validation of image arrays before any analysis touches them.

Every workflow calls :func:`as_image` (one 2-D frame) or :func:`as_stack` (a movie)
first, so that wrong dimensions, NaN/inf, empty or constant images are reported as one
clear :class:`~rewardscope.errors.InputError` instead of failing deep inside a filter.
"""

from __future__ import annotations

import numpy as np

from rewardscope.errors import ImageShapeError, ImageValueError

MIN_SIDE_PX = 8


def _check_dtype(arr: np.ndarray, what: str) -> None:
    if not np.issubdtype(arr.dtype, np.number) or np.iscomplexobj(arr):
        raise ImageValueError(f"{what} must hold real numbers, got dtype {arr.dtype}")


def _check_values(arr: np.ndarray, what: str) -> None:
    if arr.size == 0:
        raise ImageValueError(f"{what} is empty (shape {arr.shape})")
    finite = np.isfinite(arr)
    if not finite.all():
        bad = "all NaN/inf" if not finite.any() else f"{int((~finite).sum())} NaN/inf pixels"
        raise ImageValueError(f"{what} has {bad}; clean or crop it first")
    if float(arr.max()) == float(arr.min()):
        raise ImageValueError(f"{what} is constant (every pixel = {float(arr.flat[0]):g}); nothing to analyse")


def as_image(data: np.ndarray, *, name: str = "image") -> np.ndarray:
    """Validate one 2-D image and return it as float64.

    Parameters
    ----------
    data : array_like, shape (rows, cols)
        The image. A (1, rows, cols) stack of one frame is accepted.
    name : str
        Used in error messages.

    Returns
    -------
    numpy.ndarray, shape (rows, cols), float64

    Raises
    ------
    ImageShapeError
        If the array is not 2-D or is smaller than 8 x 8 pixels.
    ImageValueError
        If it holds NaN/inf, is empty or is constant.

    Examples
    --------
    >>> as_image([[0, 1], [2, 3]] * 4 and __import__("numpy").eye(8)).shape
    (8, 8)
    """
    arr = np.asarray(data)
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise ImageShapeError(f"{name} must be 2-D (rows, cols); got {arr.ndim}-D array of shape {arr.shape}")
    if min(arr.shape) < MIN_SIDE_PX:
        raise ImageShapeError(f"{name} is too small ({arr.shape}); need at least {MIN_SIDE_PX} x {MIN_SIDE_PX} pixels")
    _check_dtype(arr, name)
    arr = arr.astype(np.float64, copy=False)
    _check_values(arr, name)
    return arr


def as_stack(data: np.ndarray, *, name: str = "movie", min_frames: int = 1) -> np.ndarray:
    """Validate a stack of frames and return it as float32 with shape (frames, rows, cols).

    Parameters
    ----------
    data : array_like, shape (frames, rows, cols) or (rows, cols)
        The movie; a single 2-D image becomes a one-frame stack.
    name : str
        Used in error messages.
    min_frames : int
        Smallest acceptable number of frames.

    Returns
    -------
    numpy.ndarray, shape (frames, rows, cols), float32

    Raises
    ------
    ImageShapeError
        Wrong number of dimensions or too few frames.
    ImageValueError
        Not real numbers (e.g. text or complex), NaN/inf values, empty or constant data, or
        all frames equal.
    """
    arr = np.asarray(data)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise ImageShapeError(f"{name} must be 3-D (frames, rows, cols); got {arr.ndim}-D array of shape {arr.shape}")
    if arr.shape[0] < min_frames:
        raise ImageShapeError(f"{name} has {arr.shape[0]} frame(s); this needs at least {min_frames}")
    if min(arr.shape[1:]) < MIN_SIDE_PX:
        raise ImageShapeError(f"{name} frames are too small ({arr.shape[1:]})")
    _check_dtype(arr, name)
    arr = arr.astype(np.float32, copy=False)
    _check_values(arr, name)
    if arr.shape[0] > 1 and all(np.array_equal(arr[0], arr[i]) for i in range(1, arr.shape[0])):
        raise ImageValueError(f"all {arr.shape[0]} frames of {name} are identical; nothing moves")
    return arr

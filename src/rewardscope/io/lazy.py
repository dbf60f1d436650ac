"""Lazy, frame-by-frame access to movies that may be larger than memory.

:func:`open_stack` returns a :class:`LazyStack`: ``len``, ``shape``, ``pixel_size`` and
``stack[i]`` (one 2-D float32 frame read on demand). TIFF files are read frame by frame
with plain file reads when their pixels are stored contiguously
(:func:`~rewardscope.io.frames.tiff_frames`; a memory map would leave every frame read in
the process's resident memory) and otherwise through tifffile's zarr store;
``.npy`` files are memory-mapped; ``.zarr`` folders are opened with zarr. Other formats
(dm4, emd, png, ...) are read whole by :func:`rewardscope.io.read_image`, because their
readers have no lazy mode. We write this small layer ourselves because dask would add a
scheduler for what is only "give me frame i".

Every read from a file, at opening and frame by frame, goes through
:func:`rewardscope.io.capture.read_guard`: a damaged frame raises one clear
:class:`~rewardscope.errors.FileFormatError` naming the file, and reader messages are
never printed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from rewardscope.errors import FileFormatError, ImageShapeError, ImageValueError, InputError
from rewardscope.io.capture import read_guard
from rewardscope.io.frames import tiff_frames
from rewardscope.io.read import TIFF_SUFFIXES, _length_or_none, check_exists, check_npy, check_signal, read_image
from rewardscope.io.validate import MIN_SIDE_PX
from rewardscope.io.write import TiffStackWriter
from rewardscope.units import Length, parse_length


class LazyStack:
    """A movie whose frames are read only when asked for.

    Parameters
    ----------
    source : array_like
        Anything indexable as ``source[i] -> (rows, cols)`` with ``.shape`` (frames, rows, cols)
        or (rows, cols): a numpy array or memmap, a zarr array.
    pixel_size : Length, optional
        Calibration of one pixel.
    path : Path, optional
        The file the frames come from (for messages; frame reads then fail as one
        :class:`~rewardscope.errors.FileFormatError` naming it).
    metadata : dict, optional
        What the reader recorded (e.g. ``signal``, ``signals``, ``signals_in_file``).
    closer : callable, optional
        Releases the source (e.g. closes the file of a compressed TIFF); called by
        :meth:`close`, at the end of a ``with`` block, or when the stack is garbage-collected.

    Attributes
    ----------
    shape : tuple of int
        (frames, rows, cols).
    pixel_size : Length or None

    Examples
    --------
    >>> import numpy as np
    >>> s = LazyStack(np.zeros((3, 16, 16), dtype=np.uint8))
    >>> len(s), s[1].dtype, s.frame_shape
    (3, dtype('float32'), (16, 16))
    """

    def __init__(self, source: Any, *, pixel_size: Length | None = None, path: Path | None = None,
                 metadata: dict[str, Any] | None = None, closer: Callable[[], None] | None = None) -> None:
        self._closer = closer
        shape = tuple(int(s) for s in source.shape)
        while len(shape) > 3 and shape[0] == 1:
            source, shape = source[0], shape[1:]
        if len(shape) == 2:
            source, shape = _OneFrame(source), (1, *shape)
        if len(shape) != 3:
            raise ImageShapeError(f"{self._name(path)} must be a 3-D movie (frames, rows, cols); got shape {shape}")
        if shape[0] == 0:
            raise ImageValueError(f"{self._name(path)} has no frames")
        dtype = np.dtype(getattr(source, "dtype", np.float32))
        if not np.issubdtype(dtype, np.number) or dtype.kind == "c":
            raise ImageValueError(f"{self._name(path)} must hold real numbers, got dtype {dtype}")
        if min(shape[1:]) < MIN_SIDE_PX:
            raise ImageShapeError(f"{self._name(path)} frames are too small ({shape[1:]})")
        self._source = source
        self.shape: tuple[int, int, int] = shape  # type: ignore[assignment]
        self.pixel_size = pixel_size
        self.path = path
        self.metadata: dict[str, Any] = dict(metadata or {})

    @staticmethod
    def _name(path: Path | None) -> str:
        return path.name if path is not None else "movie"

    @property
    def name(self) -> str:
        """File name, or ``"movie"`` for in-memory data."""
        return self._name(self.path)

    @property
    def frame_shape(self) -> tuple[int, int]:
        """(rows, cols) of one frame."""
        return self.shape[1], self.shape[2]

    @property
    def nbytes_float32(self) -> int:
        """Size of the whole movie as float32, in bytes."""
        return int(np.prod(self.shape)) * 4

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index: int) -> np.ndarray:
        """Frame ``index`` as a (rows, cols) float32 array (negative indices allowed)."""
        n = len(self)
        i = int(index)
        if not -n <= i < n:
            raise IndexError(f"frame {index} out of range for {n} frames")
        return self._fetch(i % n)

    def read(self, start: int, stop: int) -> np.ndarray:
        """Frames ``start:stop`` as one (frames, rows, cols) float32 array."""
        stop = min(stop, len(self))
        return self._fetch(slice(start, stop)).reshape(-1, *self.frame_shape)

    def _fetch(self, index: int | slice) -> np.ndarray:
        """``source[index]`` as float32; from a file through :func:`read_guard` (clear errors, no prints)."""
        if self.path is None:
            return np.asarray(self._source[index], dtype=np.float32)
        with read_guard(self.path):
            return np.asarray(self._source[index], dtype=np.float32)

    def batches(self, size: int = 8) -> Iterator[tuple[int, np.ndarray]]:
        """Yield ``(first_index, frames)`` blocks of up to ``size`` frames, in order."""
        for start in range(0, len(self), size):
            yield start, self.read(start, start + size)

    def __iter__(self) -> Iterator[np.ndarray]:
        for _, block in self.batches():
            yield from block

    def close(self) -> None:
        """Release the source's open file, if it holds one (frames cannot be read afterwards)."""
        closer, self._closer = getattr(self, "_closer", None), None
        if closer is not None:
            closer()

    def __enter__(self) -> LazyStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def __repr__(self) -> str:
        return f"LazyStack({self.name!r}, shape={self.shape}, pixel_size={self.pixel_size})"


class _OneFrame:
    """Presents a single 2-D image as a one-frame source."""

    def __init__(self, image: Any) -> None:
        self._image = image
        self.shape = (1, *image.shape)
        self.dtype = np.asarray(image[:1]).dtype

    def __getitem__(self, index: Any) -> np.ndarray:
        return np.asarray(self._image)[None][index]


def _tiff_pixel_size(tif: tifffile.TiffFile) -> Length | None:
    """Pixel size from ImageJ or plain resolution tags (FEI tags are handled by read_image)."""
    page = tif.pages[0]
    res = page.tags.get("XResolution")
    if res is None or not res.value[0]:
        return None
    num, den = res.value
    unit = (tif.imagej_metadata or {}).get("unit")
    if unit:
        return _length_or_none(den / num, str(unit).replace("\\u00B5", "u"))
    resunit = page.tags.get("ResolutionUnit")
    if resunit is not None and int(resunit.value) == 3 and den / num < 1e-3:
        return _length_or_none(den / num * 1e8, "A")
    return None


def _open_tiff(path: Path) -> tuple[Any, Length | None, Callable[[], None] | None]:
    """(memory map or zarr array, pixel size, closer of the zarr store's file or None)."""
    closer = None
    tif = tifffile.TiffFile(path)
    try:
        series = tif.series
        if len(series) > 1 and len(series[0].shape) == 2 and len(series[1].shape) == 2:
            shapes = ", ".join(str(tuple(s.shape)) for s in series[:4])
            raise ImageShapeError(f"{path.name}: frames of different sizes ({shapes}); all frames must have one shape")
        pixel_size = _tiff_pixel_size(tif)
        if tif.fei_metadata:
            pixel_size = read_image(path).pixel_size  # FEI files are single images
        try:
            source: Any = tiff_frames(path)  # plain reads, not a memory map: no resident pages left behind
        except ValueError:  # compressed or tiled: go through the zarr store
            import zarr

            store = series[0].aszarr()
            closer = store.close
            source = zarr.open(store, mode="r")
    finally:
        tif.close()
    return source, pixel_size, closer


def open_stack(path: str | Path | np.ndarray | Sequence[np.ndarray], *,
               pixel_size: str | Length | None = None, signal: int | None = None) -> LazyStack:
    """Open a movie for lazy, frame-by-frame reading.

    Parameters
    ----------
    path : str, Path, numpy.ndarray or list of 2-D arrays
        A ``.tif/.tiff``, ``.npy`` or ``.zarr`` movie (read lazily), any other format that
        :func:`~rewardscope.io.read_image` reads (read whole), or in-memory frames.
    pixel_size : str or Length, optional
        Overrides the file's calibration, e.g. ``"0.5A"``.
    signal : int, optional
        Which signal of a multi-signal file (EMD, DM, TIA) to open, as for
        :func:`~rewardscope.io.read_image`; the lazily read formats hold one (index 0).

    Returns
    -------
    LazyStack
        ``len(stack)`` frames; ``stack[i]`` is a (rows, cols) float32 array.

    Raises
    ------
    FileFormatError
        Missing, unreadable, damaged or truncated file (also raised later by a frame read
        that meets damaged data).
    ImageShapeError
        Frames of different sizes, or data that is not a 2-D image / 3-D movie.
    ParameterError
        ``signal`` is not an index of the file's signals.

    Examples
    --------
    >>> frames = (np.full((16, 16), i, np.float32) for i in range(12))
    >>> path = write_stack("movie.tif", frames, shape=(12, 16, 16))
    >>> stack = open_stack(path, pixel_size="0.5A")
    >>> stack.shape, float(stack[10].mean()), stack.pixel_size.text
    ((12, 16, 16), 10.0, '0.5A')
    """
    user_ps = parse_length(pixel_size) if pixel_size is not None else None
    if not isinstance(path, (str, Path)):
        return LazyStack(_in_memory(path), pixel_size=user_ps)
    path = Path(path)
    if not path.exists():
        raise FileFormatError(f"{path}: no such file")
    if path.suffix.lower() not in TIFF_SUFFIXES | {".npy", ".zarr"} and not path.is_dir():
        img = read_image(path, signal=signal)
        return LazyStack(img.data, pixel_size=user_ps or img.pixel_size, path=path, metadata=img.metadata)
    check_signal(signal, 1, path)
    opened: list[Callable[[], None]] = []
    try:
        with read_guard(path):
            source, file_ps, closer = _open_lazy(path)
            opened += [closer] if closer is not None else []
        return LazyStack(source, pixel_size=user_ps or file_ps, path=path,
                         metadata={"signal": 0, "signals_in_file": 1}, closer=closer)
    except BaseException:
        for close in opened:  # a file found damaged, or frames of an unusable shape: do not leak its handle
            close()
        raise


def _open_lazy(path: Path) -> tuple[Any, Length | None, Callable[[], None] | None]:
    """(indexable source, file's pixel size, closer or None) of a TIFF, ``.npy`` or zarr movie."""
    if path.suffix.lower() in TIFF_SUFFIXES:
        check_exists(path)
        return _open_tiff(path)
    if path.suffix.lower() == ".npy":
        check_exists(path)
        check_npy(path)
        return np.load(path, mmap_mode="r", allow_pickle=False), None, None
    import zarr

    source = zarr.open_array(str(path), mode="r")
    nm = source.attrs.get("pixel_size_nm")
    try:
        return source, (Length(float(nm), "nm") if nm else None), None
    except InputError:
        return source, None, None


def _in_memory(frames: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    if isinstance(frames, np.ndarray):
        return frames
    shapes = {np.shape(f) for f in frames}
    if len(shapes) > 1:
        raise ImageShapeError(f"frames of different sizes ({', '.join(map(str, sorted(shapes)))}); "
                              "all frames must have one shape")
    return np.stack([np.asarray(f) for f in frames]) if frames else np.zeros((0, 0, 0))


def write_stack(path: str | Path, frames: Iterable[np.ndarray], *, shape: tuple[int, int, int],
                pixel_size: Length | None = None) -> Path:
    """Write frames one at a time (memory: one frame) to an ImageJ TIFF or a zarr folder.

    Parameters
    ----------
    path : str or Path
        ``*.tif`` (ImageJ hyperstack, pixel size in nm, read back by :func:`open_stack`
        and :func:`~rewardscope.io.read_image`) or ``*.zarr`` (one chunk per frame, pixel
        size in the ``pixel_size_nm`` attribute).
    frames : iterable of numpy.ndarray, each (rows, cols)
        Exactly ``shape[0]`` frames, written as float32.
    shape : (frames, rows, cols)
    pixel_size : Length, optional

    Returns
    -------
    Path

    Examples
    --------
    >>> frames = (np.full((16, 16), i, np.float32) for i in range(3))
    >>> write_stack("movie.zarr", frames, shape=(3, 16, 16))
    PosixPath('movie.zarr')
    """
    path = Path(path)
    shape = tuple(int(v) for v in shape)  # type: ignore[assignment]
    as_float = (np.asarray(f, dtype=np.float32) for f in frames)
    if path.suffix.lower() == ".zarr":
        import zarr

        store = zarr.open_array(str(path), mode="w", shape=shape, chunks=(1, *shape[1:]), dtype="float32")
        if pixel_size is not None:
            store.attrs["pixel_size_nm"] = pixel_size.nm
        for i, frame in enumerate(as_float):
            store[i] = frame
        return path
    with TiffStackWriter(path, shape=shape, dtype=np.float32, pixel_size=pixel_size) as out:
        for frame in as_float:
            out.write(frame)
    return path

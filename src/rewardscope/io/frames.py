"""Frames of a contiguous file read and written with plain file I/O, not memory maps.

A memory map is the easy way to reach frame ``i`` of an uncompressed TIFF, but every page
of it that was read or written stays in the process's resident memory until the system
reclaims it: a tracking run over a 2000-frame movie of 1024 x 1024 px showed 12 GiB of
resident memory, nearly all of it file pages of its label stacks. :class:`FileFrames`
reads each requested frame with one ``os.pread`` into a fresh array (the system's page
cache still serves repeated reads, but that is not the process's memory), and
:class:`FrameFile` writes frames with ``os.pwrite``. Neither numpy nor tifffile offers
this: ``tifffile.memmap`` and ``numpy.memmap`` map, and tifffile's readers decode whole
series or pages through its own machinery; the layout (the data offset of a contiguous
series) is still taken from tifffile.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import tifffile


class FileFrames:
    """A read-only (frames, rows, cols) array stored contiguously in a file at ``offset``.

    Indexing reads only what is asked for: ``frames[i]`` one frame, ``frames[a:b]`` a
    block; ``frames[i, rows, cols]`` reads frame ``i`` and then crops it;
    ``numpy.asarray(frames)`` reads everything.

    Parameters
    ----------
    path : str or Path
    offset : int
        Byte offset of the first frame's first pixel.
    shape : (frames, rows, cols)
    dtype : numpy dtype
        With its byte order.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "a.tif"
    >>> tifffile.imwrite(path, np.arange(24, dtype=np.uint16).reshape(2, 3, 4))
    >>> frames = tiff_frames(path)
    >>> frames.shape, int(frames[1][2, 3]), frames[0:2].shape, int(frames[1, 0, 1])
    ((2, 3, 4), 23, (2, 3, 4), 13)
    """

    def __init__(self, path: str | Path, *, offset: int, shape: tuple[int, ...], dtype: Any) -> None:
        self.path = Path(path)
        self.offset = int(offset)
        self.shape = tuple(int(v) for v in shape)
        self.dtype = np.dtype(dtype)
        self.ndim = len(self.shape)
        self._frame_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def _read(self, start: int, count: int) -> np.ndarray:
        """``count`` frames from frame ``start`` (one pread)."""
        size = count * self._frame_bytes
        fd = os.open(self.path, os.O_RDONLY)
        try:
            data = os.pread(fd, size, self.offset + start * self._frame_bytes)
        finally:
            os.close(fd)
        if len(data) != size:
            raise ValueError(f"{self.path.name}: truncated: frames {start}-{start + count - 1} are not all there")
        return np.frombuffer(data, self.dtype).reshape(count, *self.shape[1:]).copy()

    def __getitem__(self, index: Any) -> np.ndarray:
        if isinstance(index, tuple):
            if not index:
                return np.asarray(self)
            block = self[index[0]]
            single = isinstance(index[0], (int, np.integer))
            return block[index[1:]] if single else block[(slice(None), *index[1:])]
        if isinstance(index, (int, np.integer)):
            i = int(index) + (len(self) if index < 0 else 0)
            if not 0 <= i < len(self):
                raise IndexError(f"frame {index} out of range for {len(self)} frames")
            return self._read(i, 1)[0]
        if isinstance(index, slice):
            frames = range(*index.indices(len(self)))
            if not frames:
                return self._read(0, 0)
            if frames.step == 1:
                return self._read(frames.start, len(frames))
            return np.stack([self._read(i, 1)[0] for i in frames])
        return np.asarray(self)[index]

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        data = self._read(0, len(self))
        return data if dtype is None else data.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"FileFrames({self.path.name!r}, shape={self.shape}, dtype={self.dtype})"


def tiff_frames(path: str | Path) -> FileFrames:
    """The first series of a TIFF whose pixels are stored contiguously, as :class:`FileFrames`.

    Raises
    ------
    ValueError
        The pixels are compressed, tiled or scattered (what ``tifffile.memmap`` refuses too).
    """
    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        if series.dataoffset is None or series.dtype is None:
            raise ValueError("image data are not stored contiguously")
        dtype = np.dtype(tif.byteorder + series.dtype.char)
        shape = tuple(series.shape)
        offset = int(series.dataoffset)
    if len(shape) == 2:
        shape = (1, *shape)
    return FileFrames(path, offset=offset, shape=shape, dtype=dtype)


class FrameFile:
    """Write the frames of a contiguous file laid out beforehand, one ``os.pwrite`` per frame.

    Parameters
    ----------
    path : str or Path
        An existing file (e.g. a TIFF created with ``tifffile.memmap(path, shape=..., dtype=...)``).
    offset : int
        Byte offset of the first frame.
    frame_shape : (rows, cols)
    dtype : numpy dtype
        With its byte order; frames are cast to it.
    """

    def __init__(self, path: str | Path, *, offset: int, frame_shape: tuple[int, int], dtype: Any) -> None:
        self.offset, self.frame_shape, self.dtype = int(offset), tuple(frame_shape), np.dtype(dtype)
        self._fd: int | None = os.open(path, os.O_RDWR)

    def write(self, index: int, frame: np.ndarray) -> None:
        """Store ``frame`` as frame ``index``."""
        if self._fd is None:
            raise ValueError("the file is closed")
        data = np.ascontiguousarray(np.broadcast_to(frame, self.frame_shape), dtype=self.dtype)
        os.pwrite(self._fd, data.tobytes(), self.offset + index * data.nbytes)

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


__all__ = ["FileFrames", "FrameFile", "tiff_frames"]

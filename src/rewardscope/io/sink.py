"""Where the label images of a movie go as they are made: memory, or a TIFF written frame by frame.

:class:`MaskSink` takes one label frame at a time. Without a path it keeps them and
returns the stack at the end; with a path it writes each frame at once (uint16, one
page per frame, with the pixel size, through :class:`~rewardscope.io.write.TiffStackWriter`),
so the memory a long movie needs does not grow with its length.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rewardscope.io.write import TiffStackWriter
from rewardscope.units import Length


class MaskSink:
    """Collects label frames in memory or streams them to an ImageJ TIFF.

    Parameters
    ----------
    path : str or Path, optional
        TIFF to stream to; None keeps the frames in memory.
    shape : (frames, rows, cols)
        The movie's shape (the file is laid out for exactly this many frames).
    pixel_size : Length, optional
        Stored in the TIFF.

    Examples
    --------
    >>> with MaskSink(None, shape=(2, 4, 4)) as sink:
    ...     sink.add(np.ones((4, 4), np.int32))
    ...     sink.add(np.zeros((4, 4), np.int32))
    >>> sink.stack.shape
    (2, 4, 4)
    """

    def __init__(self, path: str | Path | None, *, shape: tuple[int, int, int],
                 pixel_size: Length | None = None) -> None:
        self.frames: list[np.ndarray] = []
        self.path = None if path is None else Path(path)
        self._writer = None if path is None else TiffStackWriter(path, shape=shape, dtype=np.uint16,
                                                                 pixel_size=pixel_size)

    def add(self, labels: np.ndarray) -> None:
        """Take the next label frame (rows, cols); labels above 65535 are clipped in the file."""
        if self._writer is None:
            self.frames.append(labels)
        else:
            self._writer.write(np.clip(labels, 0, 65535).astype(np.uint16))

    @property
    def stack(self) -> np.ndarray | None:
        """The label frames kept in memory (frames, rows, cols); None when streamed or empty."""
        return np.stack(self.frames) if self._writer is None and self.frames else None

    def close(self) -> None:
        """Finish the file (if streaming)."""
        if self._writer is not None:
            self._writer.close()

    def __enter__(self) -> MaskSink:
        return self

    def __exit__(self, exc_type: Any, *rest: Any) -> None:
        if self._writer is not None:
            self._writer.__exit__(exc_type, *rest)

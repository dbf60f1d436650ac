"""Frames read and written with plain file I/O (rewardscope.io.frames): values, indexing, resident memory."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import tifffile

from rewardscope.io import open_stack
from rewardscope.io.frames import FileFrames, tiff_frames
from rewardscope.io.write import TiffStackWriter


def _rss_mib() -> float:
    """Current resident memory of this process (Linux /proc), MiB."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_written_frames_read_back_exactly_by_any_index(tmp_path):
    data = np.random.default_rng(0).integers(0, 60000, (7, 33, 45)).astype(np.uint16)
    with TiffStackWriter(tmp_path / "s.tif", shape=data.shape, dtype=np.uint16) as out:
        for frame in data:
            out.write(frame)
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "s.tif"), data)  # a plain TIFF for every reader
    frames = tiff_frames(tmp_path / "s.tif")
    assert isinstance(frames, FileFrames) and frames.shape == data.shape and len(frames) == 7
    for index in (3, -1, slice(2, 5), slice(None, None, 3), (4, slice(1, 9), 7), (slice(1, 3), 0)):
        np.testing.assert_array_equal(frames[index], data[index])
    np.testing.assert_array_equal(np.asarray(frames), data)
    with pytest.raises(IndexError):
        frames[7]


def test_a_truncated_file_is_an_error_naming_it(tmp_path):
    tifffile.imwrite(tmp_path / "t.tif", np.ones((4, 16, 16), np.float32))
    frames = tiff_frames(tmp_path / "t.tif")
    with open(tmp_path / "t.tif", "r+b") as fh:
        fh.truncate(frames.offset + 2 * 16 * 16 * 4 + 10)
    assert frames[1].sum() == 256
    with pytest.raises(ValueError, match="t.tif: truncated"):
        frames[3]


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs Linux /proc")
def test_reading_a_whole_movie_frame_by_frame_leaves_no_resident_pages(tmp_path):
    """A memory map keeps every page read resident; the plain reads of open_stack do not."""
    shape = (64, 512, 512)  # 64 MiB of float32
    with TiffStackWriter(tmp_path / "m.tif", shape=shape) as out:
        for i in range(shape[0]):
            out.write(np.full(shape[1:], i, np.float32))
    stack = open_stack(tmp_path / "m.tif")
    before = _rss_mib()
    total = sum(float(stack[i][0, 0]) for i in range(len(stack)))
    grown = _rss_mib() - before
    assert total == sum(range(64)) and grown < 16, f"resident memory grew by {grown:.0f} MiB"
    mapped = tifffile.memmap(tmp_path / "m.tif", mode="r")
    before = _rss_mib()
    assert sum(float(mapped[i].sum() > 0) for i in range(len(mapped))) == 63
    assert _rss_mib() - before > 48  # what the memory map leaves resident (the old way)

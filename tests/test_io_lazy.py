"""Lazy movie access: open_stack on TIFF (memmap and compressed), npy, zarr; write_stack round trips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardscope.errors import FileFormatError, ImageShapeError, ImageValueError
from rewardscope.io import LazyStack, open_stack, read_image, write_stack, write_tiff
from rewardscope.units import Length


@pytest.fixture
def movie() -> np.ndarray:
    return np.random.default_rng(0).random((6, 24, 40)).astype(np.float32)


def test_tiff_is_read_frame_by_frame_and_calibrated(tmp_path, movie):
    from rewardscope.io.frames import FileFrames

    path = write_tiff(tmp_path / "m.tif", movie, pixel_size=Length(0.5, "A"))
    stack = open_stack(path)
    assert isinstance(stack._source, FileFrames)  # plain reads of the contiguous pixels, no memory map
    assert stack.shape == (6, 24, 40) and len(stack) == 6 and stack.frame_shape == (24, 40)
    assert stack.pixel_size.angstrom == pytest.approx(0.5)
    np.testing.assert_array_equal(stack[4], movie[4])
    np.testing.assert_array_equal(stack[-1], movie[5])
    assert stack[2].dtype == np.float32 and stack[2].ndim == 2
    np.testing.assert_array_equal(stack.read(4, 99), movie[4:])
    np.testing.assert_array_equal(np.stack(list(stack)), movie)


def test_compressed_tiff_goes_through_zarr(tmp_path, movie):
    path = tmp_path / "c.tif"
    tifffile.imwrite(path, (movie * 1000).astype(np.uint16), compression="zlib")
    stack = open_stack(path, pixel_size="0.1nm")
    assert not isinstance(stack._source, np.ndarray)
    np.testing.assert_array_equal(stack[3], (movie[3] * 1000).astype(np.uint16).astype(np.float32))
    assert stack.pixel_size.nm == pytest.approx(0.1)


def test_npy_is_memory_mapped(tmp_path, movie):
    np.save(tmp_path / "m.npy", movie)
    stack = open_stack(tmp_path / "m.npy")
    assert isinstance(stack._source, np.memmap) and stack.pixel_size is None
    np.testing.assert_array_equal(stack[1], movie[1])


@pytest.mark.parametrize("suffix", [".tif", ".zarr"])
def test_write_stack_frame_by_frame_round_trip(tmp_path, movie, suffix):
    path = write_stack(tmp_path / f"out{suffix}", iter(movie), shape=movie.shape, pixel_size=Length(0.05, "nm"))
    stack = open_stack(path)
    assert stack.shape == movie.shape and stack.pixel_size.nm == pytest.approx(0.05)
    np.testing.assert_array_equal(stack.read(0, 6), movie)


def test_single_image_and_in_memory_inputs(movie):
    assert len(open_stack(movie[0])) == 1
    assert open_stack([movie[0], movie[1]]).shape == (2, 24, 40)
    assert isinstance(open_stack(movie), LazyStack)
    png = open_stack(Path(__file__).parent / "data" / "hrtem" / "image_3.png")
    assert png.shape == (1, 512, 512)


def test_bad_inputs(tmp_path, movie):
    with pytest.raises(ImageShapeError, match="different sizes"):
        open_stack([movie[0], movie[0][:20]])
    with tifffile.TiffWriter(tmp_path / "mixed.tif") as tif:
        tif.write(movie[0])
        tif.write(movie[0][:, :30])
    with pytest.raises(ImageShapeError, match="different sizes"):
        open_stack(tmp_path / "mixed.tif")
    with pytest.raises(FileFormatError):
        open_stack(tmp_path / "missing.tif")
    (tmp_path / "broken.tif").write_bytes(b"not a tiff")
    with pytest.raises(FileFormatError):
        open_stack(tmp_path / "broken.tif")
    with pytest.raises(ImageShapeError):
        open_stack(np.zeros((3, 4, 4)))
    with pytest.raises(ImageValueError):
        open_stack(np.zeros((3, 16, 16), dtype=complex))
    with pytest.raises(IndexError):
        open_stack(movie)[6]


@settings(max_examples=15, deadline=None)
@given(frames=st.integers(1, 4), rows=st.integers(8, 20), cols=st.integers(8, 20))
def test_tiff_round_trip_any_shape(tmp_path_factory, frames, rows, cols):
    data = np.arange(frames * rows * cols, dtype=np.float32).reshape(frames, rows, cols)
    path = write_stack(tmp_path_factory.mktemp("h") / "m.tif", iter(data), shape=data.shape)
    stack = open_stack(path)
    assert stack.shape == data.shape
    np.testing.assert_array_equal(stack.read(0, frames), data)
    np.testing.assert_array_equal(read_image(path).data.reshape(data.shape), data)

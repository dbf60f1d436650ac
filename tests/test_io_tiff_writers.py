"""Calibrated ImageJ TIFFs from one place: write_tiff (arrays), TiffStackWriter (frame by frame), MaskSink."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from rewardscope.io import open_stack, read_image, write_tiff
from rewardscope.io.sink import MaskSink
from rewardscope.io.write import TiffStackWriter
from rewardscope.units import Length


def _calibration(path) -> tuple[str, float, str]:
    with tifffile.TiffFile(path) as tif:
        x_res = tif.pages[0].tags["XResolution"].value
        return tif.series[0].axes, x_res[0] / x_res[1], tif.imagej_metadata.get("unit")


def test_stack_writer_and_write_tiff_give_the_same_movie(tmp_path):
    movie = np.random.default_rng(0).random((5, 24, 20)).astype(np.float32)
    whole = write_tiff(tmp_path / "whole.tif", movie, pixel_size=Length(0.25, "nm"))
    with TiffStackWriter(tmp_path / "frames.tif", shape=movie.shape, pixel_size=Length(0.25, "nm")) as out:
        for frame in movie:
            out.write(frame)
    for path in (whole, tmp_path / "frames.tif"):
        assert _calibration(path) == ("TYX", 4.0, "nm")  # 4 pixels per nm
        assert np.array_equal(tifffile.imread(path), movie)
        assert read_image(path).pixel_size.nm == pytest.approx(0.25)
    assert np.array_equal(tifffile.memmap(tmp_path / "frames.tif", mode="r"), movie)  # contiguous


def test_stack_writer_refuses_a_wrong_frame_count(tmp_path):
    out = TiffStackWriter(tmp_path / "short.tif", shape=(3, 8, 8))
    out.write(np.zeros((8, 8)))
    with pytest.raises(ValueError, match="1 frames written, 3 announced"):
        out.close()
    with TiffStackWriter(tmp_path / "full.tif", shape=(1, 8, 8)) as full:
        full.write(np.ones((8, 8)))
        with pytest.raises(ValueError, match="all 1 frames"):
            full.write(np.ones((8, 8)))


def test_mask_sink_streams_uint16_labels_with_calibration(tmp_path):
    labels = [np.full((16, 16), k, np.int32) for k in (0, 3, 70000)]
    with MaskSink(tmp_path / "masks.tif", shape=(3, 16, 16), pixel_size=Length(0.5, "A")) as sink:
        for frame in labels:
            sink.add(frame)
    assert sink.stack is None
    masks = tifffile.imread(tmp_path / "masks.tif")
    assert masks.dtype == np.uint16 and masks[:, 0, 0].tolist() == [0, 3, 65535]  # clipped to uint16
    assert _calibration(tmp_path / "masks.tif") == ("TYX", 20.0, "nm")
    assert open_stack(tmp_path / "masks.tif").pixel_size.angstrom == pytest.approx(0.5)
    with MaskSink(None, shape=(3, 16, 16)) as memory:
        for frame in labels:
            memory.add(frame)
    assert memory.stack.dtype == np.int32 and memory.stack[:, 0, 0].tolist() == [0, 3, 70000]

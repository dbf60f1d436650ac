"""Reading images with calibration, grey conversion and clear errors on bad files."""

import numpy as np
import pytest
import tifffile

from rewardscope.errors import FileFormatError, ImageShapeError, ImageValueError
from rewardscope.io import OutputDir, as_image, as_stack, read_image, write_tiff
from rewardscope.units import Length


def _emd(path, data, scale_nm):
    from rsciio.emd import file_writer

    axes = [{"name": n, "size": s, "scale": scale_nm, "units": "nm", "offset": 0.0, "navigate": False}
            for n, s in zip("yx", data.shape)]
    file_writer(str(path), {"data": data, "axes": axes, "metadata": {"General": {"title": "t"}, "Signal": {}},
                            "original_metadata": {}})


def test_imagej_tiff_calibration(tmp_path):
    data = np.random.default_rng(0).random((40, 50)).astype(np.float32)
    write_tiff(tmp_path / "a.tif", data, pixel_size=Length(0.35, "A"))
    img = read_image(tmp_path / "a.tif")
    assert img.pixel_size.angstrom == pytest.approx(0.35, rel=1e-6)
    assert img.pixel_size_source == "file"
    np.testing.assert_array_equal(img.data, data)


def test_imagej_tiff_written_by_tifffile_in_um(tmp_path):
    data = np.zeros((16, 16), np.uint16)
    tifffile.imwrite(tmp_path / "b.tif", data, imagej=True, resolution=(1 / 0.002, 1 / 0.002),
                     metadata={"unit": "um"})
    assert read_image(tmp_path / "b.tif").pixel_size.nm == pytest.approx(2.0, rel=1e-6)


def test_emd_calibration(tmp_path):
    data = np.random.default_rng(1).random((32, 48)).astype(np.float32)
    _emd(tmp_path / "c.emd", data, 0.0421)
    img = read_image(tmp_path / "c.emd")
    assert img.data.shape == (32, 48)
    assert img.pixel_size.nm == pytest.approx(0.0421, rel=1e-6)


def _mrc(path, data, pixel_size_angstrom):
    """A minimal MRC2014 file written by hand from the format's header layout."""
    import struct

    ny, nx = data.shape
    header = bytearray(1024)
    struct.pack_into("<3i", header, 0, nx, ny, 1)
    struct.pack_into("<i", header, 12, 2)  # mode 2: float32
    struct.pack_into("<3i", header, 28, nx, ny, 1)  # sampling mx, my, mz
    struct.pack_into("<3f", header, 40, nx * pixel_size_angstrom, ny * pixel_size_angstrom, pixel_size_angstrom)
    struct.pack_into("<3f", header, 52, 90, 90, 90)
    struct.pack_into("<3i", header, 64, 1, 2, 3)
    struct.pack_into("<4s4B", header, 208, b"MAP ", 0x44, 0x44, 0, 0)
    path.write_bytes(bytes(header) + data.astype("<f4").tobytes())


def test_mrc_calibration(tmp_path):
    data = np.arange(30 * 40, dtype=np.float32).reshape(30, 40)
    _mrc(tmp_path / "d.mrc", data, 1.5)
    img = read_image(tmp_path / "d.mrc")
    np.testing.assert_array_equal(img.data, data)
    assert img.pixel_size.angstrom == pytest.approx(1.5, rel=1e-6)


def test_stack_comes_back_as_frames_rows_cols(tmp_path):
    data = np.random.default_rng(2).random((5, 20, 30)).astype(np.float32)
    write_tiff(tmp_path / "m.tif", data, pixel_size=Length(0.1, "nm"))
    img = read_image(tmp_path / "m.tif")
    assert img.is_stack and img.n_frames == 5 and img.frame_shape == (20, 30)


def test_user_pixel_size_overrides_file(tmp_path):
    write_tiff(tmp_path / "a.tif", np.eye(16, dtype=np.float32), pixel_size=Length(0.35, "A"))
    img = read_image(tmp_path / "a.tif", pixel_size="0.5nm")
    assert img.pixel_size.angstrom == 5.0 and img.pixel_size_source == "user"


def test_grey_rgba_png_reads_as_grey(tmp_path):
    from skimage.io import imsave

    grey = (np.arange(64 * 64) % 251).reshape(64, 64).astype(np.uint8)
    imsave(tmp_path / "g.png", np.dstack([grey, grey, grey, np.full_like(grey, 255)]), check_contrast=False)
    img = read_image(tmp_path / "g.png")
    assert img.data.shape == (64, 64) and img.pixel_size is None
    np.testing.assert_array_equal(img.data, grey)


def test_colour_png_is_rejected(tmp_path):
    from skimage.io import imsave

    rgb = np.zeros((16, 16, 3), np.uint8)
    rgb[..., 0] = 200
    imsave(tmp_path / "c.png", rgb, check_contrast=False)
    with pytest.raises(ImageShapeError):
        read_image(tmp_path / "c.png")


def test_npy_and_bad_dimensions(tmp_path):
    np.save(tmp_path / "ok.npy", np.ones((8, 9)))
    assert read_image(tmp_path / "ok.npy").data.shape == (8, 9)
    np.save(tmp_path / "one.npy", np.ones(10))
    np.save(tmp_path / "four.npy", np.ones((2, 3, 8, 8)))
    for name in ("one.npy", "four.npy"):
        with pytest.raises(ImageShapeError):
            read_image(tmp_path / name)


@pytest.mark.parametrize("name", ["x.tif", "x.dm3", "x.emd", "x.npy", "x.png"])
def test_corrupt_files(tmp_path, name):
    (tmp_path / name).write_bytes(b"not an image at all" * 3)
    with pytest.raises(FileFormatError):
        read_image(tmp_path / name)


def test_missing_and_unsupported(tmp_path):
    with pytest.raises(FileFormatError, match="no such file"):
        read_image(tmp_path / "nope.tif")
    (tmp_path / "a.xyz").write_text("1")
    with pytest.raises(FileFormatError, match="unsupported"):
        read_image(tmp_path / "a.xyz")


def test_validation_of_arrays():
    with pytest.raises(ImageValueError, match="NaN"):
        as_image(np.full((16, 16), np.nan))
    with pytest.raises(ImageValueError, match="constant"):
        as_image(np.ones((16, 16)))
    with pytest.raises(ImageShapeError):
        as_image(np.ones(16))
    with pytest.raises(ImageShapeError):
        as_image(np.ones((2, 2, 16, 16)))
    with pytest.raises(ImageValueError, match="identical"):
        as_stack(np.stack([np.eye(16)] * 3))
    assert as_stack(np.eye(16)).shape == (1, 16, 16)


def test_output_dir_is_all_or_nothing(tmp_path):
    target = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with OutputDir(target) as tmp:
            (tmp / "half.csv").write_text("x")
            raise RuntimeError("boom")
    assert not target.exists() and list(tmp_path.iterdir()) == []
    with OutputDir(target) as tmp:
        (tmp / "done.csv").write_text("x")
    assert (target / "done.csv").exists()

"""Files with several signals (--signal N), and what readers say while reading (caught, folded, never printed)."""

from __future__ import annotations

import logging
import warnings

import h5py
import numpy as np
import pytest
import tifffile
from typer.testing import CliRunner

from rewardscope.cli.main import app
from rewardscope.errors import FileFormatError, ImageShapeError, ImageValueError, InputError, ParameterError
from rewardscope.io import as_stack, open_stack, read_image, write_tiff
from rewardscope.io import read as read_module
from rewardscope.units import Length

runner = CliRunner()
RNG = np.random.default_rng(7)
HAADF = RNG.random((32, 48)).astype(np.float32)
MOVIE = RNG.random((4, 24, 28)).astype(np.float32)
SPECTRUM = RNG.random(100).astype(np.float32)


def _axes(shape: tuple[int, ...], scale: float, *, navigate_first: bool = False) -> list[dict]:
    names = "tyx"[-len(shape):] if len(shape) > 1 else "E"
    return [{"name": n, "size": s, "scale": 1.0 if (navigate_first and i == 0) else scale, "offset": 0.0,
             "units": "s" if (navigate_first and i == 0) else "nm", "navigate": navigate_first and i == 0}
            for i, (n, s) in enumerate(zip(names, shape))]


def write_emd(path, signals: list[tuple[str, np.ndarray, float, bool]]) -> None:
    """A Berkeley EMD file holding several signals: each written by rosettasciio, then merged with h5py.

    ``signals``: (title, data, scale in nm, first axis is navigation). rosettasciio reads the
    signals back sorted by title.
    """
    from rsciio.emd import file_writer

    for k, (title, data, scale, stack) in enumerate(signals):
        part = path.with_name(f"{path.stem}.part{k}.emd")
        file_writer(str(part), {"data": data, "axes": _axes(data.shape, scale, navigate_first=stack),
                                "metadata": {"General": {"title": title}, "Signal": {}}, "original_metadata": {}})
        if k == 0:
            part.rename(path)
            continue
        with h5py.File(part, "r") as src, h5py.File(path, "a") as dst:
            src.copy(src[f"signals/{title}"], dst["signals"], name=title)
        part.unlink()


@pytest.fixture
def emd(tmp_path):
    """eds (a spectrum, index 0), haadf (0.04 nm/px, index 1), movie (4 frames, 0.08 nm/px, index 2)."""
    path = tmp_path / "scan.emd"
    write_emd(path, [("haadf", HAADF, 0.04, False), ("eds", SPECTRUM, 0.01, False), ("movie", MOVIE, 0.08, True)])
    return path


def test_default_is_the_first_image_and_all_signals_are_listed(emd):
    img = read_image(emd)
    np.testing.assert_array_equal(img.data, HAADF)
    assert img.pixel_size.nm == pytest.approx(0.04)
    assert img.metadata["signal"] == 1 and img.metadata["signals_in_file"] == 3
    listed = [(s["index"], s["title"], tuple(s["shape"]), s["image"]) for s in img.signals]
    assert listed == [(0, "eds", (100,), False), (1, "haadf", (32, 48), True), (2, "movie", (4, 24, 28), True)]
    assert [s["pixel_size"] for s in img.signals] == ["0.01nm", "0.04nm", "0.08nm"]
    assert img.info()["signal"] == 1 and img.info()["signals_in_file"] == 3


def test_signal_picks_one(emd):
    img = read_image(emd, signal=2)
    np.testing.assert_array_equal(img.data, MOVIE)
    assert img.is_stack and img.pixel_size.nm == pytest.approx(0.08) and img.metadata["signal"] == 2
    stack = open_stack(emd, signal=2)
    assert len(stack) == 4 and stack.metadata["signal"] == 2
    np.testing.assert_array_equal(stack[3], MOVIE[3])
    assert open_stack(emd).shape == (1, 32, 48)


def test_bad_signal_indices(emd):
    with pytest.raises(ImageShapeError, match=r"signal 0 of scan.emd \(eds, shape \(100,\)\) is not an image; "
                                              r"image signals: 1, 2"):
        read_image(emd, signal=0)
    with pytest.raises(ParameterError, match=r"scan.emd holds 3 signals \(0-2\); there is no signal 3"):
        read_image(emd, signal=3)
    with pytest.raises(ParameterError, match=">= 0"):
        open_stack(emd, signal=-1)


def test_single_signal_formats_have_signal_0_only(tmp_path):
    write_tiff(tmp_path / "a.tif", MOVIE, pixel_size=Length(0.5, "A"))
    np.save(tmp_path / "a.npy", HAADF)
    for name in ("a.tif", "a.npy"):
        assert read_image(tmp_path / name, signal=0).metadata["signals_in_file"] == 1
        assert len(open_stack(tmp_path / name, signal=0)) in (1, 4)
        for read in (read_image, open_stack):
            with pytest.raises(ParameterError, match=rf"{name} holds 1 signal \(0\); there is no signal 1"):
                read(tmp_path / name, signal=1)


def test_info_lists_signals_and_takes_signal(emd):
    res = runner.invoke(app, ["info", str(emd)])
    assert res.exit_code == 0, res.output
    assert "signals:    3 in the file; below: signal 1" in res.stdout
    rows = [line.split() for line in res.stdout.splitlines() if line.startswith("  ")]
    assert rows == [["0", "eds", "(100,)", "float32", "0.01", "nm", "not", "an", "image"],
                    ["1", "haadf", "(32,", "48)", "float32", "0.04", "nm"],
                    ["2", "movie", "(4,", "24,", "28)", "float32", "0.08", "nm"]]
    res = runner.invoke(app, ["info", str(emd), "--signal", "2"])
    assert res.exit_code == 0 and "shape:      (4, 24, 28)" in res.stdout and "frames:     4" in res.stdout
    res = runner.invoke(app, ["info", str(emd), "--signal", "5"])
    assert res.exit_code == 2 and res.stdout == ""
    assert res.stderr.strip() == ("rewardscope: error: scan.emd holds 3 signals (0-2); there is no signal 5 "
                                  "(see `rewardscope info scan.emd`)")


def test_drift_reads_the_chosen_signal(emd, tmp_path):
    out = tmp_path / "drift"
    res = runner.invoke(app, ["drift", str(emd), "--signal", "2", "--out", str(out), "--no-progress"])
    assert res.exit_code == 0, res.output
    assert tifffile.imread(out / "aligned.tif").shape[0] == 4
    res = runner.invoke(app, ["drift", str(emd), "--signal", "0", "--out", str(tmp_path / "d2")])
    assert res.exit_code == 2 and "is not an image" in res.stderr and not (tmp_path / "d2").exists()


# ------------------------------------------------------------------ reader messages

def _fake_reader(*, fail: bool):
    def read(path):
        logging.getLogger("tifffile").warning("<tifffile.TiffPage 0 @8> odd tag %d", 42)
        logging.getLogger("rsciio.digitalmicrograph._api").warning("unknown metadata key")
        warnings.warn("a reader's warning\nover two lines", UserWarning)
        if fail:
            raise ValueError("bad strip")
        return HAADF, None, {"reader": "fake"}
    return read


@pytest.fixture
def quiet_root():
    """The root logger without pytest's handlers, as in the command line (records would print raw)."""
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers.clear()
    yield
    root.handlers[:] = saved


def test_reader_messages_on_success_are_kept_not_printed(tmp_path, monkeypatch, capfd, quiet_root):
    monkeypatch.setattr(read_module, "_read_one", _fake_reader(fail=False))
    np.save(tmp_path / "a.npy", HAADF)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        img = read_image(tmp_path / "a.npy")
    assert capfd.readouterr().err == "" and not caught
    assert img.metadata["reader_warnings"] == ["tifffile: odd tag 42", "rsciio: unknown metadata key",
                                               "UserWarning: a reader's warning over two lines"]
    res = runner.invoke(app, ["info", str(tmp_path / "a.npy")])
    assert res.exit_code == 0
    assert res.stderr == ("rewardscope: warning: a.npy: the reader said: tifffile: odd tag 42; rsciio: unknown "
                          "metadata key; UserWarning: a reader's warning over two lines\n")


def test_reader_messages_are_folded_into_the_error(tmp_path, monkeypatch, capfd, quiet_root):
    monkeypatch.setattr(read_module, "_read_one", _fake_reader(fail=True))
    np.save(tmp_path / "a.npy", HAADF)
    with pytest.raises(FileFormatError) as info:
        read_image(tmp_path / "a.npy")
    assert str(info.value) == ("a.npy: cannot read file (ValueError: bad strip); tifffile: odd tag 42; rsciio: "
                               "unknown metadata key; UserWarning: a reader's warning over two lines")
    assert capfd.readouterr().err == ""
    res = runner.invoke(app, ["info", str(tmp_path / "a.npy")])
    assert res.exit_code == 2 and res.stderr == f"rewardscope: error: {info.value}\n"


def test_deprecation_warnings_of_readers_are_passed_on(tmp_path, monkeypatch):
    def read(path):
        warnings.warn("old API", DeprecationWarning)
        return HAADF, None, {"reader": "fake"}

    monkeypatch.setattr(read_module, "_read_one", read)
    np.save(tmp_path / "a.npy", HAADF)
    with pytest.warns(DeprecationWarning, match="old API"):
        img = read_image(tmp_path / "a.npy")
    assert img.metadata["reader_warnings"] == []


def test_truncated_npy_says_so(tmp_path):
    np.save(tmp_path / "m.npy", MOVIE)
    content = (tmp_path / "m.npy").read_bytes()
    (tmp_path / "m.npy").write_bytes(content[: len(content) // 2])
    for read in (read_image, open_stack):
        with pytest.raises(FileFormatError, match=r"m.npy is truncated: its header promises 10752 bytes of float32 "
                                                  r"data of shape \(4, 24, 28\), the file holds 5312"):
            read(tmp_path / "m.npy")


def test_damaged_frame_fails_when_read_naming_the_file(tmp_path):
    path = tmp_path / "z.tif"
    tifffile.imwrite(path, (MOVIE * 1000).astype(np.uint16), compression="zlib")
    with tifffile.TiffFile(path) as tif:
        offset, count = tif.pages[0].dataoffsets[2], tif.pages[0].databytecounts[2]  # one strip per frame
    content = bytearray(path.read_bytes())
    content[offset: offset + count] = b"\x00" * count
    path.write_bytes(bytes(content))
    stack = open_stack(path)
    np.testing.assert_array_equal(stack[1], (MOVIE[1] * 1000).astype(np.uint16))
    with pytest.raises(FileFormatError, match=r"^z.tif: cannot read file \("):
        stack[2]
    with pytest.raises(InputError):
        list(stack)


def test_as_stack_rejects_text():
    with pytest.raises(ImageValueError, match="real numbers"):
        as_stack(np.full((2, 8, 8), "a"))


def test_compressed_tiff_stack_closes_its_file(tmp_path):
    import gc

    path = tmp_path / "z.tif"
    tifffile.imwrite(path, (MOVIE * 1000).astype(np.uint16), compression="zlib")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        stack = open_stack(path)
        stack[1]
        del stack
        gc.collect()
        with open_stack(path) as stack:
            frame = stack[2]
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]
    np.testing.assert_array_equal(frame, (MOVIE[2] * 1000).astype(np.uint16))

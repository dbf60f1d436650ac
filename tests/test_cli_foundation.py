"""The command line: info, simulate haadf, demo, and exit code 2 with one line on bad input."""

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rewardscope.cli.main import app
from rewardscope.io import read_image, write_tiff
from rewardscope.units import Length

runner = CliRunner()


def _run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_info_prints_calibration(tmp_path):
    write_tiff(tmp_path / "a.tif", np.random.default_rng(0).random((3, 32, 40)), pixel_size=Length(0.05, "nm"))
    res = _run("info", tmp_path / "a.tif")
    assert res.exit_code == 0
    assert "(3, 32, 40)" in res.output and "0.05 nm (file)" in res.output and "frames:     3" in res.output


@pytest.mark.parametrize("content", ["missing", "corrupt", "1d", "4d"])
def test_info_bad_file_exit_2_one_line(tmp_path, content):
    path = tmp_path / "bad.npy"
    if content == "corrupt":
        path = tmp_path / "bad.tif"
        path.write_bytes(b"\x00garbage" * 20)
    elif content != "missing":
        np.save(path, np.ones(10) if content == "1d" else np.ones((2, 2, 8, 8)))
    res = _run("info", path)
    assert res.exit_code == 2
    assert res.output.strip().count("\n") == 0 and res.output.startswith("rewardscope: error:")


def test_negative_pixel_size_exit_2(tmp_path):
    np.save(tmp_path / "a.npy", np.eye(16))
    res = _run("info", tmp_path / "a.npy", "--pixel-size", "-0.3A")
    assert res.exit_code == 2 and "positive" in res.output
    res = _run("simulate", "haadf", "--out", tmp_path / "o", "--pixel-size", "-0.3A")
    assert res.exit_code == 2 and not (tmp_path / "o").exists()


def test_simulate_haadf_writes_calibrated_image_and_truth(tmp_path):
    out = tmp_path / "sim"
    res = _run("simulate", "haadf", "--out", out, "--lattice", "srtio3-001", "--pixel-size", "0.3A",
               "--size", "96", "--noise", "0", "--amorphous", "0.2", "--seed", "3")
    assert res.exit_code == 0, res.output
    img = read_image(out / "image.tif")
    assert img.data.shape == (96, 96) and img.pixel_size.angstrom == pytest.approx(0.3, rel=1e-6)
    truth = pd.read_csv(out / "truth.csv")
    assert list(truth.columns) == ["x", "y", "species", "amorphous"]
    assert set(truth.species) == {"Sr", "TiO"}
    mask = read_image(out / "amorphous_mask.tif").data
    assert mask.mean() == pytest.approx(0.2, abs=0.02)


def test_the_process_ends_without_teardown_but_flushes_its_output_and_runs_exit_handlers(tmp_path):
    """``main()`` as the entry point leaves by ``os._exit`` after the exit handlers and a flush."""
    import subprocess
    import sys

    script = ("import atexit, sys\n"
              "atexit.register(lambda: print('exit handler ran', file=sys.stderr))\n"
              "sys.stdout.write('buffered text ')\n"  # unflushed: lost if the streams were not flushed
              "from rewardscope.cli.main import main\n"
              f"sys.argv = ['rewardscope', 'simulate', 'haadf', '--out', {str(tmp_path / 'sim')!r}, '--size', '32']\n"
              "main()\n"
              "print('not reached')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("buffered text ") and "not reached" not in done.stdout
    assert "exit handler ran" in done.stderr
    assert (tmp_path / "sim" / "image.tif").exists()

"""Fuzz tests: bad files and bad arguments fail cleanly.

Readers: random bytes, truncated valid files (TIFF, PNG, NPY, EMD/HDF5, MRC) and files
whose suffix lies about their content go to ``read_image`` and ``open_stack`` (every
frame read): only :class:`InputError` may escape, and nothing may be printed, warned or
logged.

Commands: random values for the options of every command that finishes in seconds
(``train``, ``bench`` and ``demo`` run for minutes by design and are left out), on tiny
inputs, through the real entry point ``rewardscope.cli.main.main`` in-process: exit code
0 or 2 only; a failure prints exactly one ``rewardscope: error:`` line on stderr, last
(``rewardscope: warning:`` lines may precede it) and leaves no output folder and no
``.partial`` folder behind. Commands get ``--no-progress``: off a terminal, progress is
written as log lines on stderr by design. Each command may add 4 GB of address space at
most (a larger request fails the example as a MemoryError instead of the OOM killer
ending the run). Cases the fuzzing found are kept in :data:`FOUND`.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import logging
import re
import signal
import struct
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import tifffile
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from rewardscope.errors import InputError
from rewardscope.io import open_stack, read_image, write_tiff
from rewardscope.io.capture import CODE_WARNINGS
from rewardscope.units import Length

#: Deterministic (same examples every run), no shrinking (a failure is reported as first found:
#: the arguments are short already, and shrinking a slow command would take minutes).
FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
SUFFIXES = [".tif", ".tiff", ".png", ".npy", ".emd", ".mrc", ".dm3", ".dm4", ".ser", ".emi", ".jpg", ".bmp"]
_counter = itertools.count()


# ---------------------------------------------------------------- seed files

def _mrc_bytes(data: np.ndarray, pixel_size_angstrom: float) -> bytes:
    """A minimal MRC2014 file (float32) from the format's header layout."""
    ny, nx = data.shape
    header = bytearray(1024)
    struct.pack_into("<3i", header, 0, nx, ny, 1)
    struct.pack_into("<i", header, 12, 2)
    struct.pack_into("<3i", header, 28, nx, ny, 1)
    struct.pack_into("<3f", header, 40, nx * pixel_size_angstrom, ny * pixel_size_angstrom, pixel_size_angstrom)
    struct.pack_into("<3f", header, 52, 90, 90, 90)
    struct.pack_into("<3i", header, 64, 1, 2, 3)
    struct.pack_into("<4s4B", header, 208, b"MAP ", 0x44, 0x44, 0, 0)
    return bytes(header) + data.astype("<f4").tobytes()


class _Seeds(dict):
    """File contents by name; a short repr keeps hypothesis's failure reports readable."""

    def __repr__(self) -> str:
        return f"<seed files {sorted(self)}>"


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> dict[str, bytes]:
    """Small valid files of every format, as bytes keyed by a name ending in their suffix."""
    from PIL import Image
    from rsciio.emd import file_writer

    folder = tmp_path_factory.mktemp("seeds")
    rng = np.random.default_rng(0)
    image = rng.random((24, 32)).astype(np.float32)
    movie = rng.random((4, 16, 20)).astype(np.float32)
    write_tiff(folder / "image.tif", image, pixel_size=Length(0.35, "A"))
    write_tiff(folder / "movie.tif", movie, pixel_size=Length(0.5, "A"))
    tifffile.imwrite(folder / "zlib.tif", (movie * 1000).astype(np.uint16), compression="zlib")
    Image.fromarray((image * 255).astype(np.uint8)).save(folder / "image.png")
    Image.fromarray((image * 255).astype(np.uint8)).save(folder / "image.jpg", quality=90)
    np.save(folder / "movie.npy", movie)
    axes = [{"name": n, "size": s, "scale": 0.04, "units": "nm", "offset": 0.0, "navigate": False}
            for n, s in zip("yx", image.shape)]
    file_writer(str(folder / "image.emd"), {"data": image, "axes": axes, "original_metadata": {},
                                            "metadata": {"General": {"title": "haadf"}, "Signal": {}}})
    (folder / "image.mrc").write_bytes(_mrc_bytes(image, 1.5))
    return _Seeds({p.name: p.read_bytes() for p in sorted(folder.iterdir())})


def test_seed_files_are_valid(seeds, tmp_path):
    """The fuzzing starts from files that read correctly."""
    for name, content in seeds.items():
        (tmp_path / name).write_bytes(content)
        img = read_image(tmp_path / name)
        assert img.data.shape in ((24, 32), (4, 16, 20)), name
        assert len(open_stack(tmp_path / name)) in (1, 4), name


# ---------------------------------------------------------------- readers

@contextlib.contextmanager
def _nothing_escapes():
    """Fail if a warning (other than deprecations) leaves the block; log records go to stderr as in the CLI.

    pytest puts handlers on the root logger; without them (as in the command line) Python
    prints an unhandled WARNING record on stderr, which the caller's ``capfd`` then sees.
    """
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers.clear()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
    finally:
        root.handlers[:] = saved
    shown = [f"{w.category.__name__}: {w.message}" for w in caught if not issubclass(w.category, CODE_WARNINGS)]
    assert not shown, f"warnings escaped: {shown}"


def _read_everything(path: Path) -> None:
    """read_image and open_stack (every frame, then in batches), as a workflow would."""
    for read in (read_image, open_stack):
        try:
            result = read(path)
        except InputError as exc:
            assert str(exc).strip() and "\n" not in str(exc), repr(str(exc))
            continue
        if read is open_stack:
            try:
                frames = [result[i] for i in range(len(result))]
                assert all(f.dtype == np.float32 and f.shape == result.frame_shape for f in frames)
                list(result.batches(2))
            except InputError:
                pass


def _check_file(tmp: Path, name: str, content: bytes, capfd) -> None:
    path = tmp / f"case{next(_counter)}_{name}"
    path.write_bytes(content)
    capfd.readouterr()
    try:
        with _nothing_escapes():
            _read_everything(path)
    finally:
        path.unlink()
    out, err = capfd.readouterr()
    assert err == "", f"{name}: printed on stderr: {err!r}"


@FUZZ
@given(content=st.binary(max_size=3000), suffix=st.sampled_from(SUFFIXES))
def test_random_bytes(tmp_path_factory, capfd, content, suffix):
    _check_file(tmp_path_factory.getbasetemp(), f"random{suffix}", content, capfd)


@FUZZ
@given(data=st.data())
def test_truncated_files(tmp_path_factory, capfd, seeds, data):
    name = data.draw(st.sampled_from(sorted(seeds)))
    cut = data.draw(st.integers(0, len(seeds[name]) - 1))
    _check_file(tmp_path_factory.getbasetemp(), name, seeds[name][:cut], capfd)


@FUZZ
@given(data=st.data())
def test_mislabelled_files(tmp_path_factory, capfd, seeds, data):
    name = data.draw(st.sampled_from(sorted(seeds)))
    suffix = data.draw(st.sampled_from([s for s in SUFFIXES if s != Path(name).suffix]))
    content = seeds[name]
    if data.draw(st.booleans()):
        content = content[: data.draw(st.integers(0, len(content)))]
    _check_file(tmp_path_factory.getbasetemp(), f"{Path(name).stem}{suffix}", content, capfd)


@FUZZ
@given(data=st.data())
def test_valid_start_random_rest(tmp_path_factory, capfd, seeds, data):
    """A real header followed by random bytes (a file damaged after its first block)."""
    name = data.draw(st.sampled_from(sorted(seeds)))
    keep = data.draw(st.integers(1, min(len(seeds[name]), 1100)))
    tail = data.draw(st.binary(max_size=2000))
    _check_file(tmp_path_factory.getbasetemp(), name, seeds[name][:keep] + tail, capfd)


def test_truncated_tiff_stack_is_an_error_not_one_frame(seeds, tmp_path):
    """tifffile reads only the first page of a truncated stack (and just logs it): we fail instead."""
    path = tmp_path / "movie.tif"
    path.write_bytes(seeds["movie.tif"][: len(seeds["movie.tif"]) * 2 // 3])
    for read in (read_image, open_stack):
        with pytest.raises(InputError, match="movie.tif: the file is damaged or truncated .*tifffile: invalid page"):
            read(path)


def test_mislabelled_file_gets_a_hint(seeds, tmp_path):
    path = tmp_path / "image.tif"
    path.write_bytes(seeds["image.png"])
    with pytest.raises(InputError, match=r"^image.tif: cannot read file .*looks like PNG, not .tif"):
        read_image(path)


# ---------------------------------------------------------------- commands

def _mix(valid: list[str], invalid: st.SearchStrategy | None = None) -> st.SearchStrategy:
    """Valid values 3 times in 4 (so runs get past parsing and finish), else invalid ones."""
    bad = invalid if invalid is not None else TEXT
    return st.sampled_from([True, True, True, False]).flatmap(lambda ok: st.sampled_from(valid) if ok else bad)


TEXT = st.sampled_from(["", " ", "nan", "NaN", "inf", "-inf", "abc", "0", "-1", "1e400", "0x10", "1,5", "\u00c5"])
NUMBER = _mix(["0", "0.05", "0.3", "1"],
              st.one_of(TEXT, st.floats(-1e3, 1e3, allow_nan=False).map(lambda v: f"{v:.3g}")))
LENGTH = _mix(["0.35A", "0.035nm", "35pm", "0.5A"], st.one_of(TEXT, st.sampled_from(
    ["-0.3A", "0A", "nanA", "infA", "0.35", "1e9A", "1e-9nm", "0.35 furlong", "A", "0.35AA"])))
SMALL = _mix(["2", "3"], st.one_of(TEXT, st.integers(-3, 0).map(str)))  # trial counts: never a slow run
INDEX = _mix(["0"], st.one_of(TEXT, st.integers(-2, 3).map(str)))
ZONE = st.one_of(st.just(["0", "0", "1"]), st.lists(st.one_of(st.integers(-2, 2).map(str), TEXT), max_size=4))
LATTICE = _mix(["srtio3-001", "ybco-100"], st.sampled_from(["si-110", "au-001", "YBCO-100", "nope", "", "nan"]))
SAMPLER, SELECT = _mix(["tpe", "nsga2"]), _mix(["euclidean", "chebyshev"])


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """Tiny inputs: a calibrated HAADF image, an atom table for it, a 4-frame movie, a corrupt file."""
    from rewardscope.simulate import simulate_haadf, simulate_movie

    folder = tmp_path_factory.mktemp("cli-inputs")
    sim = simulate_haadf("srtio3-001", pixel_size="0.35A", size=40, noise=0.05, seed=0)
    write_tiff(folder / "image.tif", sim.image, pixel_size=sim.pixel_size)
    sim.truth[["x", "y"]].to_csv(folder / "atoms.csv", index=False)
    movie = simulate_movie(frames=4, size=32, n_particles=3, seed=0)
    write_tiff(folder / "movie.tif", movie.movie, pixel_size=Length(0.5, "A"))
    (folder / "corrupt.tif").write_bytes(b"II*\x00" + b"\x07" * 60)
    return {p.stem: p for p in folder.iterdir()}


#: Memory one command may add (address space); beyond it numpy raises MemoryError instead of the
#: machine's OOM killer ending the whole test run.
MEMORY_HEADROOM = 4 * 1024**3


@contextlib.contextmanager
def _memory_bounded():
    """Cap the process's address space at its current size + MEMORY_HEADROOM while the block runs."""
    try:
        import resource

        status = Path("/proc/self/status").read_text()
        size = int(re.search(r"VmSize:\s+(\d+) kB", status).group(1)) * 1024
    except (ImportError, OSError, AttributeError):  # not Linux: run unbounded
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = size + MEMORY_HEADROOM if hard == resource.RLIM_INFINITY else min(size + MEMORY_HEADROOM, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _python_default_warnings() -> None:
    """The warning filters of a plain ``python`` run (pytest shows more)."""
    warnings.resetwarnings()
    warnings.simplefilter("default")
    for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
        warnings.simplefilter("ignore", category)


def _print_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """What Python does with a warning outside pytest: print it, raw, on stderr."""
    sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))


#: How Python prints a warning nobody handled: ``path:line: SomeWarning: message``.
RAW_WARNING = re.compile(r"^\S.*:\d+: \w*Warning: ", re.MULTILINE)


def _cli(args: list[str]) -> tuple[int, str, str]:
    """Run ``rewardscope ARGS`` through the real entry point, in-process: (exit code, stdout, stderr)."""
    from rewardscope.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    previous = signal.getsignal(signal.SIGTERM)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings(), \
                _memory_bounded():
            _python_default_warnings()
            warnings.showwarning = _print_warning
            main(args)
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        signal.signal(signal.SIGTERM, previous)
    return code, out.getvalue(), err.getvalue()


def _check_command(tmp_path_factory, args: list[str], out: Path | None) -> None:
    code, stdout, stderr = _cli(args)
    where = f"rewardscope {' '.join(args)}\nexit {code}\nstderr: {stderr!r}"
    assert code in (0, 2), where
    assert not RAW_WARNING.search(stderr), f"a raw Python warning on stderr: {where}"
    if code == 0:
        assert out is None or out.is_dir(), where
        return
    lines = stderr.strip().splitlines()
    assert lines and lines[-1].startswith("rewardscope: error:"), where
    assert all(line.startswith("rewardscope: warning:") for line in lines[:-1]), where
    if out is not None:
        assert not out.exists(), where
        assert not [p.name for p in out.parent.iterdir() if "partial" in p.name], where


def _out(tmp_path_factory) -> Path:
    """A fresh output path in a folder of its own (so leftovers are easy to see)."""
    folder = tmp_path_factory.getbasetemp() / "cli-out" / f"run{next(_counter)}"
    folder.mkdir(parents=True)
    return folder / "out"


def _flags(data, options: dict[str, st.SearchStrategy]) -> list[str]:
    """Some of ``options`` (drawn), each with a drawn value; ``--zone`` takes a list of values."""
    args: list[str] = []
    for flag in data.draw(st.lists(st.sampled_from(sorted(options)), unique=True, max_size=3)):
        value = data.draw(options[flag])
        args += [flag, *value] if isinstance(value, list) else [flag, value]
    return args


CLI_FUZZ = settings(FUZZ, max_examples=40)


@CLI_FUZZ
@given(data=st.data())
def test_cli_info(tmp_path_factory, inputs, data):
    target = data.draw(st.sampled_from(["image", "movie", "image", "movie", "corrupt", "missing", "folder"]))
    path = {"missing": inputs["image"].with_name("missing.tif"), "folder": inputs["image"].parent}.get(
        target, inputs.get(target))
    args = ["info", str(path), *_flags(data, {"--pixel-size": LENGTH, "--signal": INDEX})]
    _check_command(tmp_path_factory, args, None)


@CLI_FUZZ
@given(data=st.data())
def test_cli_simulate(tmp_path_factory, data):
    out = _out(tmp_path_factory)
    if data.draw(st.booleans()):
        size = data.draw(_mix(["24", "32"], st.sampled_from(["-4", "0", "7", "nan", ""])))
        args = ["simulate", "haadf", "--out", str(out), "--size", size,
                *_flags(data, {"--lattice": LATTICE, "--pixel-size": LENGTH, "--noise": NUMBER, "--amorphous": NUMBER,
                               "--vacancies": NUMBER, "--seed": SMALL, "--rotation": NUMBER})]
    else:
        frames = data.draw(_mix(["2", "3"], st.sampled_from(["-1", "0", "1", "x"])))
        args = ["simulate", "movie", "--out", str(out), "--frames", frames,
                "--size", data.draw(_mix(["32"], st.sampled_from(["-5", "16", "nan"]))), "--particles", "2",
                *_flags(data, {"--pixel-size": LENGTH, "--noise": NUMBER, "--drift-speed": NUMBER, "--radius": NUMBER})]
    _check_command(tmp_path_factory, args, out)


@CLI_FUZZ
@given(data=st.data())
def test_cli_atoms(tmp_path_factory, inputs, data):
    out = _out(tmp_path_factory)
    image = data.draw(_mix(["image"], st.sampled_from(["movie", "corrupt"])))
    crystal = data.draw(_mix(["lattice"], st.sampled_from(["cif", "none"])))
    crystal = {"lattice": ["--lattice", data.draw(LATTICE)], "cif": ["--cif", "SrTiO3.cif"]}.get(crystal, [])
    args = ["atoms", str(inputs[image]), "--out", str(out), "--trials", data.draw(SMALL), "--no-progress", *crystal,
            *_flags(data, {"--pixel-size": LENGTH, "--zone": ZONE, "--cif": TEXT, "--sampler": SAMPLER,
                           "--select": SELECT, "--method": _mix(["logstar", "log"]), "--seed": SMALL,
                           "--signal": INDEX, "--n-expected": NUMBER, "--lattice-prior": st.just([])})]
    _check_command(tmp_path_factory, args, out)


@CLI_FUZZ
@given(data=st.data())
def test_cli_classify_and_amorphous(tmp_path_factory, inputs, data):
    out = _out(tmp_path_factory)
    table = str(data.draw(st.sampled_from([inputs["atoms"], inputs["atoms"], inputs["image"],
                                           inputs["atoms"].with_name("no.csv")])))
    if data.draw(st.booleans()):
        args = ["classify", str(inputs["image"]), "--atoms", table, "--out", str(out), "--no-progress",
                *_flags(data, {"--classes": SMALL, "--window": _mix(["0.8nm", "1nm"], LENGTH),
                               "--subclass": _mix(["0:2"]), "--pixel-size": LENGTH, "--lattice": LATTICE,
                               "--seed": SMALL})]
    else:
        args = ["amorphous", str(inputs["image"]), "--atoms", table, "--out", str(out), "--trials", data.draw(SMALL),
                "--atom-trials", data.draw(SMALL), "--no-progress",
                *_flags(data, {"--lattice": LATTICE, "--pixel-size": LENGTH, "--sampler": SAMPLER, "--select": SELECT})]
    _check_command(tmp_path_factory, args, out)


@CLI_FUZZ
@given(data=st.data())
def test_cli_drift_and_segment(tmp_path_factory, inputs, data):
    out = _out(tmp_path_factory)
    if data.draw(st.booleans()):
        source = str(inputs[data.draw(_mix(["movie"], st.sampled_from(["image", "corrupt"])))])
        args = ["drift", source, "--out", str(out), "--no-progress",
                *_flags(data, {"--reference": _mix(["mean", "first", "previous"]), "--upsample": SMALL,
                               "--border": _mix(["crop", "nan"]), "--taper": NUMBER, "--pixel-size": LENGTH,
                               "--format": _mix(["auto", "tif", "zarr"]), "--jump-threshold": NUMBER,
                               "--signal": INDEX})]
    else:
        source = str(inputs[data.draw(_mix(["movie", "image"], st.just("corrupt")))])
        args = ["segment", source, "--out", str(out), "--trials", data.draw(SMALL),
                "--split-trials", data.draw(SMALL), "--no-progress",
                *_flags(data, {"--pixel-size": LENGTH, "--min-diameter": _mix(["0.5nm"], LENGTH),
                               "--sigma-range": _mix(["0.5 4"]), "--polarity": _mix(["dark", "bright"]),
                               "--sampler": SAMPLER, "--signal": INDEX})]
    _check_command(tmp_path_factory, args, out)


@settings(CLI_FUZZ, max_examples=15)
@given(data=st.data())
def test_cli_atoms_dcnn(tmp_path_factory, inputs, data):
    out = _out(tmp_path_factory)
    files = data.draw(st.lists(_mix(["image", "movie"], st.just("corrupt")), min_size=1, max_size=2, unique=True))
    args = ["atoms-dcnn", *(str(inputs[f]) for f in files), "--out", str(out), "--no-progress",
            *_flags(data, {"--pixel-size": LENGTH, "--ensemble": SMALL, "--threshold": _mix(["0.5"], NUMBER),
                           "--batch-size": SMALL})]
    _check_command(tmp_path_factory, args, out)


#: Failures the fuzzing found, kept as fixed cases (each must meet the same contract).
FOUND = {
    "dcnn-batch-size-0": ["atoms-dcnn", "{image}", "--batch-size", "0", "--no-progress"],
    "dcnn-batch-size-negative": ["atoms-dcnn", "{image}", "--batch-size", "-1", "--no-progress"],
    "classify-lattice-si-110": ["classify", "{image}", "--atoms", "{atoms}", "--lattice", "si-110", "--no-progress"],
    "classify-unknown-lattice": ["classify", "{image}", "--atoms", "{atoms}", "--lattice", "nope", "--no-progress"],
    "classify-tiny-pixel-size": ["classify", "{image}", "--atoms", "{atoms}", "--pixel-size", "1e-9nm",
                                 "--no-progress"],
    "atoms-tiny-pixel-size": ["atoms", "{image}", "--lattice", "srtio3-001", "--pixel-size", "1e-9nm", "--trials", "2",
                              "--no-progress"],
    "segment-tiny-pixel-size": ["segment", "{image}", "--pixel-size", "1e-9nm", "--trials", "2", "--split-trials", "2",
                                "--no-progress"],
    "drift-single-image": ["drift", "{image}", "--no-progress"],
    "info-corrupt-tiff": ["info", "{corrupt}"],
}


@pytest.mark.parametrize("case", sorted(FOUND))
def test_cli_found_cases(tmp_path_factory, inputs, case):
    out = _out(tmp_path_factory)
    args = [a.format(**{k: str(v) for k, v in inputs.items()}) for a in FOUND[case]]
    _check_command(tmp_path_factory, args if args[0] == "info" else [*args, "--out", str(out)],
                   None if args[0] == "info" else out)

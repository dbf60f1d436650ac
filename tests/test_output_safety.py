"""Output folders never lose the user's files; the command line fails in one line (issue 10).

Most calls run ``rewardscope.cli.main.main`` in-process (fast); SIGINT, ``--version``, a
usage error and the umask are also checked on the real ``rewardscope`` script.
"""

from __future__ import annotations

import errno
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import pytest

from rewardscope.cli.common import guard
from rewardscope.cli.main import app, main
from rewardscope.io.output import MANIFEST, OutputDir, OutputPathError, check_output_path

SCRIPT = Path(sys.executable).with_name("rewardscope")
SIM = ["simulate", "haadf", "--size", "64", "--noise", "0.05"]


@pytest.fixture
def cli(capsys):
    """Run ``main(args)`` in-process; return (exit code, stdout, stderr lines)."""

    def run(*args):
        with pytest.raises(SystemExit) as exc:
            main([str(a) for a in args])
        out, err = capsys.readouterr()
        return exc.value.code, out, err.strip().splitlines()

    return run


def _user_files(tmp_path):
    """A user's folder: notes and a micrograph."""
    keep = tmp_path / "keep"
    keep.mkdir()
    (keep / "notes.txt").write_text("my notes")
    (keep / "scan.dm3").write_bytes(b"\x00\x01raw")
    return keep


def _tree(folder):
    return {p.relative_to(folder).as_posix(): (p.read_bytes() if p.is_file() else None)
            for p in sorted(folder.rglob("*"))}


def _no_temporaries(folder):
    return [p.name for p in folder.iterdir() if ".partial-" in p.name or ".old-" in p.name] == []


def _one_error_line(code, err):
    return code == 2 and len(err) == 1 and err[0].startswith("rewardscope: error: ")


# ------------------------------------------------------------------ the user's files survive


@pytest.mark.parametrize("extra", [[], ["--overwrite"]])
def test_folder_of_the_user_is_never_replaced(tmp_path, cli, extra):
    keep = _user_files(tmp_path)
    before = _tree(keep)
    code, _, err = cli(*SIM, "--out", keep, *extra)
    assert _one_error_line(code, err)
    assert ("not empty" in err[0]) if not extra else ("not written by rewardscope" in err[0])
    assert _tree(keep) == before and _no_temporaries(tmp_path)


@pytest.mark.parametrize("added", ["notes.txt", "mine/notes.txt", "empty_folder/"])
def test_overwrite_refuses_our_folder_holding_a_user_file(tmp_path, cli, added):
    out = tmp_path / "sim"
    assert cli(*SIM, "--out", out)[0] == 0
    target = out / added
    if added.endswith("/"):
        target.mkdir()
    else:
        target.parent.mkdir(exist_ok=True)
        target.write_text("mine")
    before = _tree(out)
    code, _, err = cli(*SIM, "--out", out, "--overwrite", "--seed", "5")
    assert _one_error_line(code, err) and "did not write" in err[0]
    assert _tree(out) == before and _no_temporaries(tmp_path)


def test_overwrite_replaces_a_folder_we_wrote(tmp_path, cli):
    out = tmp_path / "sim"
    assert cli(*SIM, "--out", out, "--seed", "1")[0] == 0
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["files"] == ["amorphous_mask.tif", "image.tif", "index.html", "summary.json", "truth.csv"]
    first = (out / "truth.csv").read_bytes()
    code, _, err = cli(*SIM, "--out", out, "--seed", "1")  # without --overwrite: refused, untouched
    assert _one_error_line(code, err) and (out / "truth.csv").read_bytes() == first
    assert cli(*SIM, "--out", out, "--seed", "2", "--overwrite")[0] == 0
    assert (out / "truth.csv").read_bytes() != first
    assert json.loads((out / "summary.json").read_text())["config"]["seed"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sim"]  # old copy and temporaries gone


def test_files_added_while_running_are_kept(tmp_path, cli):
    out = tmp_path / "sim"
    assert cli(*SIM, "--out", out)[0] == 0
    before = (out / "image.tif").read_bytes()
    with pytest.raises(OutputPathError, match="did not write"):
        with OutputDir(out, overwrite=True) as tmp:
            (tmp / "image.tif").write_bytes(b"new")
            (out / "notes.txt").write_text("added by the user during the run")
    assert (out / "image.tif").read_bytes() == before and (out / "notes.txt").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sim"]


def test_existing_empty_folder_is_used(tmp_path, cli):
    out = tmp_path / "empty"
    out.mkdir()
    assert cli(*SIM, "--out", out)[0] == 0
    assert (out / "image.tif").is_file() and (out / MANIFEST).is_file()


def test_demo_folder_with_subfolders_can_be_replaced(tmp_path, cli, monkeypatch):
    from rewardscope.cli import cmd_demo

    def step(folder):
        (folder / "01_step").mkdir()
        (folder / "01_step" / "table.csv").write_text("x\n1\n")
        return "step"

    monkeypatch.setattr(cmd_demo, "STEPS", [step])
    out = tmp_path / "demo-output"
    assert cli("demo", "--out", out)[0] == 0
    assert json.loads((out / MANIFEST).read_text())["folders"] == ["01_step"]
    assert cli("demo", "--out", out, "--overwrite")[0] == 0  # `make demo` twice
    (out / "01_step" / "notes.txt").write_text("mine")
    code, _, err = cli("demo", "--out", out, "--overwrite")
    assert _one_error_line(code, err) and (out / "01_step" / "notes.txt").read_text() == "mine"


# ------------------------------------------------------------------ where --out may point


def test_out_is_never_the_current_folder_or_above(tmp_path, cli, monkeypatch):
    work = tmp_path / "work"
    work.mkdir()
    (work / "scan.dm3").write_bytes(b"\x00raw")
    (work / "notes.txt").write_text("mine")
    (tmp_path / "link").symlink_to(work)
    monkeypatch.chdir(work)
    before = _tree(tmp_path)
    for out in [".", "..", "sub/..", tmp_path / "link", tmp_path]:
        code, _, err = cli(*SIM, "--out", out, "--overwrite")
        assert _one_error_line(code, err) and "current folder" in err[0], out
    assert _tree(tmp_path) == before


def test_out_is_never_the_folder_of_an_input_or_above(tmp_path, cli):
    sim = tmp_path / "sim"
    assert cli(*SIM, "--out", sim)[0] == 0
    before = _tree(tmp_path)
    for out in [sim, tmp_path, sim / "x" / ".."]:
        code, _, err = cli("segment", sim / "image.tif", "--out", out, "--overwrite", "--no-progress")
        assert _one_error_line(code, err) and "holds the input" in err[0], out
    code, _, err = cli("classify", tmp_path / "other.tif", "--atoms", sim / "truth.csv", "--out", sim)
    assert _one_error_line(code, err) and "truth.csv" in err[0]
    assert _tree(tmp_path) == before
    assert check_output_path(sim / "atoms", inputs=[sim / "image.tif"]) == (sim / "atoms").resolve()


def _unwritable(tmp_path, where):
    if where == "under a file":
        (tmp_path / "somefile").write_text("mine")
        return tmp_path / "somefile" / "out"
    if where == "in /proc":  # no one, not even root, can create folders there
        return Path("/proc/rewardscope-test/out")
    if os.geteuid() == 0:
        pytest.skip("root ignores permission bits; the other cases cover root")
    ro = tmp_path / "readonly"
    ro.mkdir(mode=0o555)
    return ro / "out"


@pytest.mark.parametrize("where", ["under a file", "in /proc", "read-only folder"])
def test_unwritable_output_exit_2_one_line(tmp_path, cli, where):
    out = _unwritable(tmp_path, where)
    code, _, err = cli(*SIM, "--out", out)
    assert _one_error_line(code, err) and str(out) in err[0]
    assert not out.exists() and _no_temporaries(tmp_path)
    if where == "under a file":
        assert (tmp_path / "somefile").read_text() == "mine"


COMMANDS = {  # every command with --out; the inputs do not exist: --out must be checked first
    "atoms": ["atoms", "in.tif", "--lattice", "ybco-100"],
    "atoms-dcnn": ["atoms-dcnn", "in.tif"],
    "classify": ["classify", "in.tif", "--atoms", "atoms.csv"],
    "amorphous": ["amorphous", "in.tif"],
    "drift": ["drift", "in.tif"],
    "segment": ["segment", "in.tif"],
    "simulate haadf": ["simulate", "haadf"],
    "simulate movie": ["simulate", "movie"],
    "bench noise": ["bench", "noise"],
    "bench speed": ["bench", "speed"],
    "demo": ["demo"],
    "train": ["train", "atoms-dcnn"],
}


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_checks_out_before_work(tmp_path, cli, monkeypatch, name):
    import rewardscope.cli.cmd_demo as cmd_demo
    import rewardscope.simulate as simulate
    import rewardscope.simulate.movie as movie
    import rewardscope.bench as benchmarks

    def computed(*args, **kwargs):
        raise AssertionError("computed before checking --out")

    for module, attr in [(simulate, "simulate_haadf"), (movie, "simulate_movie"), (benchmarks, "bench_noise"),
                         (benchmarks, "bench_speed")]:
        monkeypatch.setattr(module, attr, computed)
    monkeypatch.setattr(cmd_demo, "STEPS", [computed])
    (tmp_path / "somefile").write_text("mine")
    out = tmp_path / "somefile" / ("w.pt" if name == "train" else "out")
    code, _, err = cli(*COMMANDS[name], "--out", out, "--overwrite")
    assert _one_error_line(code, err) and "somefile is not a folder" in err[0]


def test_train_never_replaces_a_file_it_did_not_write(tmp_path, cli, monkeypatch):
    import rewardscope.detect.dcnn.training as training

    monkeypatch.setattr(training, "train_atom_unet", lambda **k: pytest.fail("trained"))
    weights = tmp_path / "mine.pt"
    weights.write_bytes(b"not a network")
    for extra in [[], ["--overwrite"]]:
        code, _, err = cli("train", "atoms-dcnn", "--out", weights, *extra)
        assert _one_error_line(code, err)
    assert weights.read_bytes() == b"not a network"


# ------------------------------------------------------------------ failures leave nothing behind


def test_os_error_while_writing_is_one_line_and_leaves_nothing(tmp_path, cli, monkeypatch):
    import rewardscope.cli.cmd_simulate as cmd_simulate

    def disk_full(sim, folder):
        (folder / "image.tif").write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device", str(folder / "truth.csv"))

    monkeypatch.setattr(cmd_simulate, "save_haadf", disk_full)
    out = tmp_path / "sim"
    code, _, err = cli(*SIM, "--out", out)
    assert _one_error_line(code, err) and "No space left on device" in err[0] and "truth.csv" in err[0]
    assert list(tmp_path.iterdir()) == []


def test_guard_turns_permission_error_into_one_line(capsys):
    @guard
    def read_secret():
        raise PermissionError(errno.EACCES, "Permission denied", "/data/secret.tif")

    with pytest.raises(SystemExit) as exc:
        read_secret()
    assert exc.value.code == 2
    assert capsys.readouterr().err == "rewardscope: error: /data/secret.tif: Permission denied\n"


def test_check_output_path_raises_input_error(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(OutputPathError, match="not empty"):
        check_output_path(tmp_path)
    with pytest.raises(OutputPathError, match="not a folder"):
        check_output_path(tmp_path / "a.txt")


@pytest.mark.parametrize(("sig", "code", "line"), [(signal.SIGINT, 130, "rewardscope: interrupted"),
                                                   (signal.SIGTERM, 143, "rewardscope: terminated")])
def test_signal_prints_one_line_and_removes_temporary_folder(tmp_path, sig, code, line):
    # the child inherits an ignored SIGINT when an earlier test (a dask cluster) left it ignored in pytest
    proc = subprocess.Popen([SCRIPT, "demo", "--out", tmp_path / "demo"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 30
    while not list(tmp_path.glob(".demo.partial-*")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    assert list(tmp_path.glob(".demo.partial-*")), "the demo never started writing"
    proc.send_signal(sig)  # at once: on a loaded machine a delay here let the demo finish first
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == code
    assert err.strip().splitlines()[-1] == line and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ permissions


@pytest.mark.parametrize(("umask", "folder_mode", "file_mode"), [(0o022, 0o755, 0o644), (0o027, 0o750, 0o640)])
def test_permissions_follow_umask(tmp_path, cli, umask, folder_mode, file_mode):
    old = os.umask(umask)
    try:
        assert cli(*SIM, "--out", tmp_path / "a" / "sim")[0] == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == folder_mode
    assert stat.S_IMODE((tmp_path / "a" / "sim").stat().st_mode) == folder_mode
    modes = {stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "a" / "sim").iterdir()}
    assert modes == {file_mode}


def test_script_honours_umask_and_reports_usage_error_in_one_line(tmp_path):
    res = subprocess.run([SCRIPT, *SIM, "--out", tmp_path / "sim"], capture_output=True, text=True,
                         preexec_fn=lambda: os.umask(0o022))
    assert res.returncode == 0, res.stderr
    assert stat.S_IMODE((tmp_path / "sim").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "sim" / "image.tif").stat().st_mode) == 0o644
    res = subprocess.run([SCRIPT, "atoms", "x.tif", "--zone", "1", "1", "--out", "o5"], capture_output=True,
                         text=True, cwd=tmp_path)
    assert res.returncode == 2 and res.stdout == ""
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("rewardscope: error: ") and "--zone" in res.stderr
    assert list(tmp_path.iterdir()) == [tmp_path / "sim"]


# ------------------------------------------------------------------ a clean command line


def test_version():
    res = subprocess.run([SCRIPT, "--version"], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout == f"rewardscope {version('rewardscope')}\n"


@pytest.mark.parametrize("args", [
    ["atoms", "x.tif", "--zone", "1", "1"],       # too few values
    ["simulate", "haadf", "--size", "abc"],       # bad int
    ["simulate", "haadf", "--no-such-flag"],      # unknown option
    ["atoms"],                                    # missing argument
    ["no-such-command"],
])
def test_usage_error_is_one_line_exit_2(cli, args):
    code, out, err = cli(*args)
    assert _one_error_line(code, err) and out == ""
    assert not re.search("[\u2500-\u257f]", err[0])  # no rich box


def _commands(command, path=()):
    """(argv path, click command) for every command and sub-command."""
    subs = getattr(command, "commands", None)
    if subs is None:
        yield list(path), command
        return
    for name, sub in subs.items():
        yield from _commands(sub, (*path, name))


def test_help_at_80_columns_shows_every_flag_in_full(cli, monkeypatch):
    import typer

    monkeypatch.setenv("COLUMNS", "80")
    commands = list(_commands(typer.main.get_command(app)))
    assert len(commands) >= 13
    for path, command in commands:
        code, out, _ = cli(*path, "--help")
        assert code == 0, path
        assert max(len(line) for line in out.splitlines()) <= 80, path
        flags = [f for p in command.params for f in (*p.opts, *p.secondary_opts) if f.startswith("-")]
        assert "--help" in out and flags, path
        for flag in flags:
            assert re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", out), (path, flag)
        assert "--overwrite" in flags or "--out" not in flags, path

"""The one progress convention: callbacks, the default reporter's log lines, and the CLI outside a terminal."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rewardscope.errors import ParameterError
from rewardscope.io import write_tiff
from rewardscope.optimize import FloatParam, SearchSpace, run_study
from rewardscope.progress import (ProgressReporter, Stage, as_progress, progress_scope, silent, start_stage,
                                  total_marks, track)
from rewardscope.simulate import simulate_haadf
from rewardscope.simulate.movie import simulate_movie
from rewardscope.track import estimate_drift
from rewardscope.workflows.drift import correct_drift

CLI = [sys.executable, "-c", "from rewardscope.cli.main import main; main()"]
LINE = re.compile(r"^rewardscope: (?P<stage>[^:]+): (?P<rest>.*)$")


class Recorder:
    """A progress callback that keeps every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int | None]] = []

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        self.calls.append((str(stage), done, total))

    def stages(self) -> list[str]:
        """Stage names in order of first appearance."""
        return list(dict.fromkeys(s for s, _, _ in self.calls))


class FlushCounter(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.flushes = 0

    def flush(self) -> None:
        self.flushes += 1
        super().flush()


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_reporter_logs_about_every_tenth_of_a_stage_and_flushes():
    out = FlushCounter()
    report = ProgressReporter(out, terminal=False)
    stage = Stage("optimizing (tpe)", unit="trials")
    for done in range(0, 201):
        report(stage, done, 200)
    lines = _lines(out.getvalue())
    assert lines[0] == "rewardscope: optimizing (tpe): started, 200 trials"
    counts = [int(re.search(r": (\d+)/200 trials", line).group(1)) for line in lines[1:]]
    assert counts == list(range(20, 201, 20))  # one line per 10 %, the last at the end
    assert re.fullmatch(r"rewardscope: optimizing \(tpe\): 40/200 trials \(20 %\), \d+\.\d s", lines[2])
    assert out.flushes == len(lines)


def test_reporter_small_totals_new_stages_and_restarts():
    out = io.StringIO()
    report = ProgressReporter(out, terminal=False)
    for done in range(4):
        report(Stage("fitting", "columns"), done, 3)
    report("plain stage", 0, 2)
    report("plain stage", 2, 2)
    for done in (0, 1):  # the same stage again: a new run of it
        report(Stage("fitting", "columns"), done, 1)
    lines = _lines(out.getvalue())
    assert [line.split(", ")[0] for line in lines] == [
        "rewardscope: fitting: started", "rewardscope: fitting: 1/3 columns (33 %)",
        "rewardscope: fitting: 2/3 columns (67 %)", "rewardscope: fitting: 3/3 columns (100 %)",
        "rewardscope: plain stage: started", "rewardscope: plain stage: 2/2 (100 %)",
        "rewardscope: fitting: started", "rewardscope: fitting: 1/1 columns (100 %)"]


def test_reporter_unknown_total_is_throttled_by_time(monkeypatch):
    out = io.StringIO()
    now = [0.0]
    monkeypatch.setattr("rewardscope.progress.time.perf_counter", lambda: now[0])
    report = ProgressReporter(out, terminal=False)
    for done, t in enumerate([0.0, 1.0, 6.0, 7.0, 11.5]):
        now[0] = t
        report("reading", done, None)
    lines = _lines(out.getvalue())  # a line once 5 s have passed since the last one
    assert lines == ["rewardscope: reading: started", "rewardscope: reading: 2, 6.0 s",
                     "rewardscope: reading: 4, 11.5 s"]


def test_total_marks_throttle():
    assert [total_marks(d, 100) for d in (0, 9, 10, 55, 99, 100)] == [0, 0, 1, 5, 9, 10]
    assert total_marks(0, 0) == 10
    assert [total_marks(d, 7, 0.5) for d in range(8)] == [0, 0, 0, 0, 1, 1, 1, 2]


def test_as_progress_accepts_bool_none_and_callables():
    assert as_progress(None) is silent and as_progress(False) is silent
    assert isinstance(as_progress(True), ProgressReporter)
    rec = Recorder()
    assert as_progress(rec) is rec
    with pytest.raises(ParameterError):
        as_progress("yes")
    with progress_scope(True) as report:
        assert isinstance(report, ProgressReporter)
    with progress_scope(rec) as report:
        assert report is rec


def test_start_stage_and_track_report_every_unit():
    rec = Recorder()
    advance = start_stage(rec, "fit", total=5, unit="columns")
    advance(2)
    advance(3)
    assert rec.calls == [("fit", 0, 5), ("fit", 2, 5), ("fit", 5, 5)]
    assert getattr(rec.calls[0][0], "unit", None) is None  # recorded as str; the Stage carried the unit
    seen = Recorder()
    assert list(track(seen, "frames", iter("abc"), total=3)) == ["a", "b", "c"]
    assert [d for _, d, _ in seen.calls] == [0, 1, 2, 3]


def test_run_study_reports_each_trial_and_keeps_bool_progress():
    rec = Recorder()
    space = SearchSpace([FloatParam("x", 0.0, 1.0)])
    run_study(lambda p: [p["x"], 1 - p["x"]], space, objective_names=["a", "b"], trials=7, progress=rec)
    assert rec.calls == [("optimizing (tpe)", d, 7) for d in range(8)]
    res = run_study(lambda p: [p["x"], 1 - p["x"]], space, objective_names=["a", "b"], trials=3, progress=False)
    assert len(res.trials) == 3


def test_drift_reports_both_passes_and_alignment():
    sim = simulate_movie(frames=6, size=64, seed=1)
    rec = Recorder()
    correct_drift(sim.movie, progress=rec)
    assert rec.stages() == ["drift: running-mean pass", "drift: template pass", "aligning frames"]
    assert all(total == 6 for _, _, total in rec.calls)
    assert [d for s, d, _ in rec.calls if s == "aligning frames"] == list(range(7))
    first = Recorder()
    estimate_drift(sim.movie, progress=first)
    assert first.calls[-1] == ("drift: template pass", 6, 6)


def test_find_atoms_reports_trials_and_refinement():
    """The scale space has no stage of its own: its levels are made in the trials that need them."""
    from rewardscope.workflows.atoms import find_atoms

    sim = simulate_haadf("srtio3-001", size=64, noise=0.1, seed=0)
    rec = Recorder()
    find_atoms(sim.image, lattice="srtio3-001", pixel_size="0.35A", trials=12, lattice_prior=False, progress=rec)
    assert rec.stages() == ["optimizing (tpe)", "Gaussian refinement"]
    trials = [d for s, d, _ in rec.calls if s == "optimizing (tpe)"]
    assert trials == list(range(13))
    prior = Recorder()
    find_atoms(sim.image, lattice="srtio3-001", pixel_size="0.35A", trials=12, lattice_prior=True, progress=prior)
    assert prior.stages()[-1] == "lattice prior" and prior.calls[-1] == ("lattice prior", 3, 3)


def test_dcnn_heat_map_reports_forward_passes():
    from rewardscope.detect.dcnn import find_atoms_dcnn

    sim = simulate_haadf("srtio3-001", size=64, noise=0.1, seed=0)
    rec = Recorder()
    find_atoms_dcnn([sim.image] * 3, pixel_size=sim.pixel_size, ensemble=2, batch_size=2, progress=rec)
    assert rec.stages() == ["DCNN heat map"]
    assert rec.calls[-1] == ("DCNN heat map", 4, 4)  # 2 views x 2 batches


def _run_cli(args: list[str], tmp_path: Path) -> tuple[int, list[str]]:
    """Run the CLI with stderr redirected to a file (not a terminal); return rc and the log lines."""
    log = tmp_path / "stderr.log"
    with open(log, "w") as err:
        rc = subprocess.run(CLI + args, stdout=subprocess.DEVNULL, stderr=err, timeout=300).returncode
    return rc, _lines(log.read_text())


def test_atoms_cli_logs_every_stage_in_order_when_not_a_terminal(tmp_path):
    sim = simulate_haadf("srtio3-001", size=96, noise=0.1, seed=0)
    write_tiff(tmp_path / "img.tif", sim.image, pixel_size=sim.pixel_size)
    rc, lines = _run_cli(["atoms", str(tmp_path / "img.tif"), "--lattice", "srtio3-001", "--trials", "100",
                          "--out", str(tmp_path / "out")], tmp_path)
    assert rc == 0, lines
    stages = [LINE.match(line).group("stage") for line in lines if LINE.match(line)]
    order = list(dict.fromkeys(stages))
    assert order[:2] == ["optimizing (tpe)", "lattice prior"]  # the default
    trial_lines = [line for line in lines if re.search(r"optimizing \(tpe\): \d+/100 trials", line)]
    assert len(trial_lines) >= 10 and "100/100 trials (100 %)" in trial_lines[-1]
    assert any("optimizing (tpe): started, 100 trials" in line for line in lines)
    assert not any("\x1b[" in line for line in lines)  # no terminal control codes in a log file
    from typer.testing import CliRunner

    from rewardscope.cli.main import app

    quiet = CliRunner().invoke(app, ["atoms", str(tmp_path / "img.tif"), "--lattice", "srtio3-001", "--trials", "5",
                                     "--no-progress", "--out", str(tmp_path / "quiet")])
    assert quiet.exit_code == 0
    assert not [line for line in _lines(quiet.stderr) if ": started" in line or re.search(r"\d+/\d+ ", line)]


def test_segment_cli_logs_frames_when_not_a_terminal(tmp_path):
    sim = simulate_movie(frames=5, size=64, seed=0)
    write_tiff(tmp_path / "movie.tif", sim.movie, pixel_size=sim.pixel_size)
    rc, lines = _run_cli(["segment", str(tmp_path / "movie.tif"), "--trials", "5", "--split-trials", "0",
                          "--out", str(tmp_path / "out")], tmp_path)
    assert rc == 0, lines
    frames = [line for line in lines if line.startswith("rewardscope: segmenting frames:")]
    assert frames[0] == "rewardscope: segmenting frames: started, 5 frames"
    assert [re.search(r": (\d)/5 frames", line).group(1) for line in frames[1:]] == ["1", "2", "3", "4", "5"]
    drift = [i for i, line in enumerate(lines) if line.startswith("rewardscope: drift:")]
    assert drift and max(drift) < lines.index(frames[0])  # the drift pass comes first


def test_progress_true_in_the_api_writes_log_lines(capsys):
    sim = simulate_haadf("srtio3-001", size=64, noise=0.1, seed=0)
    from rewardscope.workflows.atoms import find_atoms

    find_atoms(sim.image, lattice="srtio3-001", pixel_size="0.35A", trials=10, progress=True)
    err = capsys.readouterr().err
    assert "rewardscope: optimizing (tpe): 10/10 trials (100 %)" in err
    assert np.all([line.startswith("rewardscope: ") for line in _lines(err)])

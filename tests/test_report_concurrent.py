"""The figure process: the same PNG bytes as drawn here, a failed worker job drawn again here,
nothing left behind; and the ``on_study`` hook that hands it the study before the workflow finishes."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from rewardscope.report.concurrent import FigureProcess

PARENT = os.getpid()
ATOMS = pd.DataFrame({"x": [3.0, 10.5, 20.0], "y": [4.0, 12.0, 25.5]})


def _image() -> np.ndarray:
    return np.random.default_rng(0).random((32, 40)).astype(np.float32)


def _fails_in_a_worker(image: np.ndarray, *, path) -> None:
    """Draws only in the test's own process: the worker's attempt raises."""
    if os.getpid() != PARENT:
        raise RuntimeError("worker refuses")
    from rewardscope.report.atoms import plot_atoms

    plot_atoms(image, ATOMS, path=path, title="redrawn")


def test_figures_from_the_worker_are_byte_identical_to_those_drawn_here(tmp_path):
    (tmp_path / "here").mkdir()
    (tmp_path / "there").mkdir()
    args = ("rewardscope.report.atoms:plot_atoms", _image(), ATOMS)
    with FigureProcess(enabled=False) as here:
        here.submit("overlay.png", *args, title="three atoms", pixel_size="0.35A")
        here.collect(tmp_path / "here")
    with FigureProcess(preload=("rewardscope.report.atoms",), min_cores=1) as there:
        assert there.concurrent
        there.submit("overlay.png", *args, title="three atoms", pixel_size="0.35A")
        assert there.submitted("overlay.png") and not there.submitted("pareto.png")
        paths = there.collect(tmp_path / "there")
    assert [p.name for p in paths] == ["overlay.png"]
    assert (tmp_path / "there" / "overlay.png").read_bytes() == (tmp_path / "here" / "overlay.png").read_bytes()


def test_a_job_that_fails_in_the_worker_is_drawn_again_here(tmp_path):
    with FigureProcess(min_cores=1) as drawer:
        drawer.submit("overlay.png", _fails_in_a_worker, _image())
        drawer.collect(tmp_path)
    assert (tmp_path / "overlay.png").stat().st_size > 1000


def test_a_job_that_fails_here_too_raises_and_leaves_no_scratch(tmp_path):
    with pytest.raises(KeyError), FigureProcess(min_cores=1) as drawer:
        scratch = drawer._scratch
        drawer.submit("overlay.png", "rewardscope.report.atoms:plot_atoms", _image(), pd.DataFrame({"z": [1.0]}))
        drawer.collect(tmp_path)
    assert not scratch.exists() and not (tmp_path / "overlay.png").exists()


def test_the_worker_leaves_ctrl_c_and_kills_to_the_caller():
    """A worker that took Ctrl-C would print its own traceback next to the CLI's one line."""
    import signal

    with FigureProcess(min_cores=1) as drawer:
        handlers = [drawer._pool.submit(signal.getsignal, s).result() for s in (signal.SIGINT, signal.SIGTERM)]
    assert handlers == [signal.SIG_IGN, signal.SIG_DFL]


def test_no_worker_on_a_machine_with_fewer_cores_than_asked():
    with FigureProcess(min_cores=10_000) as drawer:
        assert not drawer.concurrent


def test_on_study_hands_over_the_study_before_the_finish():
    from rewardscope.optimize import FloatParam, SearchSpace
    from rewardscope.optimize.settings import StudySettings
    from rewardscope.workflows.base import Workflow, on_study, run_workflow

    order = []

    class Threshold(Workflow):
        def search_space(self):
            return SearchSpace([FloatParam("t", 0.0, 1.0)])

        def run(self, state, params):
            return state > params["t"]

        def finish(self, output, **kw):
            order.append("finish")
            return output, {}

    wf = Threshold(rewards={"far": lambda m, c: abs(m.mean() - 0.5)})
    with on_study(lambda study: order.append(("study", len(study.trials), study.best_params["t"]))):
        res = run_workflow(wf, np.linspace(0, 1, 64).reshape(8, 8), StudySettings(trials=6), progress=False)
    assert order == [("study", 6, res.summary["best_params"]["t"]), "finish"]
    run_workflow(wf, np.linspace(0, 1, 64).reshape(8, 8), StudySettings(trials=3), progress=False)
    assert order[-1] == "finish" and len(order) == 3  # outside the block: no call

"""Figures drawn by a second process while this one computes.

A one-image command spends about as long on its figures as on its study: ``rewardscope atoms``
on a 256 x 256 px frame with 200 trials imports matplotlib for ~0.55 s and draws each of its two
figures in ~0.3 s, next to a ~1.2 s study. :class:`FigureProcess` starts one worker process
(:class:`concurrent.futures.ProcessPoolExecutor`, one worker, the platform's start method) before
the study; the worker imports the plotting modules while the study runs on the other core and
draws each figure as soon as its data exist (the Pareto plot while the workflow finishes, the
overlay while the tables are written). The figures land in a scratch folder of ours and are moved
into the output folder when the command collects them.

Why ours: the standard executor does the process work; what it lacks is the policy around it:
start the worker (and its imports) *before* the data exist, keep the figures out of the
all-or-nothing output folder until they are complete, and draw a figure in this process when the
worker fails (a figure job that raises here raises the real error, with its local traceback).
On one core the worker would only compete with the study, so it is not started there.

Examples
--------
>>> import numpy as np
>>> from pathlib import Path
>>> import tempfile
>>> import pandas as pd
>>> out = Path(tempfile.mkdtemp())
>>> with FigureProcess(preload=("rewardscope.report.atoms",)) as drawer:
...     drawer.submit("overlay.png", "rewardscope.report.atoms:plot_atoms", np.eye(8),
...                   pd.DataFrame({"x": [1.0], "y": [1.0]}), title="one atom")
...     sorted(p.name for p in drawer.collect(out))
['overlay.png']
"""

from __future__ import annotations

import importlib
import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any


def _quiet_worker() -> None:
    """Initializer: Ctrl-C and a kill are the caller's to report (one line), not the worker's (a traceback)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the caller stops the worker when it is interrupted
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the CLI's handler (inherited by a fork) would print again


def _preload(modules: tuple[str, ...]) -> None:
    """The worker's first job: import the plotting modules while the caller computes."""
    for name in modules:
        importlib.import_module(name)


def _draw(fn: Callable[..., Any] | str, path: Path, args: tuple, kwargs: dict) -> None:
    """One figure job: ``fn(*args, path=path, **kwargs)``, return value dropped (figures do not pickle).

    ``fn`` may be named ``"module:function"``, so that the caller need not import the plotting module.
    """
    if isinstance(fn, str):
        module, _, name = fn.partition(":")
        fn = getattr(importlib.import_module(module), name)
    fn(*args, path=path, **kwargs)


class FigureProcess:
    """A worker process that draws figures (PNG files) while the caller computes.

    Parameters
    ----------
    preload : iterable of str
        Modules the worker imports as soon as it starts (e.g. ``"rewardscope.report.atoms"``).
    enabled : bool
        False: no worker; :meth:`submit` draws in this process at once.
    min_cores : int
        Start the worker only on machines with at least this many cores.

    Notes
    -----
    Use it as a context manager: leaving the block shuts the worker down and removes the
    scratch folder, also on errors. Each job is a function taking ``path=`` (where it saves
    its figure) whose other arguments pickle (arrays, DataFrames, plain results).
    """

    def __init__(self, *, preload: Iterable[str] = (), enabled: bool = True, min_cores: int = 2) -> None:
        self._scratch = Path(tempfile.mkdtemp(prefix="rewardscope-figures-"))
        self._jobs: list[tuple[str, Future | None, Callable[..., Any] | str, tuple, dict]] = []
        self._pool: ProcessPoolExecutor | None = None
        if enabled and (os.cpu_count() or 1) >= min_cores:
            self._pool = ProcessPoolExecutor(max_workers=1, initializer=_quiet_worker)
            self._pool.submit(_preload, tuple(preload))

    def submitted(self, name: str) -> bool:
        """Whether a figure ``name`` is already on its way."""
        return any(job[0] == name for job in self._jobs)

    @property
    def concurrent(self) -> bool:
        """Whether figures are drawn by a worker process (False: in this process)."""
        return self._pool is not None

    def submit(self, name: str, fn: Callable[..., Any] | str, /, *args: Any, **kwargs: Any) -> None:
        """Draw ``fn(*args, path=<scratch>/name, **kwargs)`` in the worker (or here, without one).

        ``fn`` is a function or its name ``"module:function"`` (then only the worker imports it).
        """
        path = self._scratch / name
        future = None
        if self._pool is not None:
            try:
                future = self._pool.submit(_draw, fn, path, args, kwargs)
            except Exception:  # a broken worker: this job (and the later ones) are drawn here
                self._stop()
        if future is None:
            _draw(fn, path, args, kwargs)
        self._jobs.append((name, future, fn, args, kwargs))

    def collect(self, folder: str | Path) -> list[Path]:
        """Wait for every figure and move them into ``folder``; a failed job is drawn again here.

        Returns
        -------
        list of Path
            The figures in ``folder``, in submission order.
        """
        paths = []
        for name, future, fn, args, kwargs in self._jobs:
            path = self._scratch / name
            if future is not None:
                try:
                    future.result()
                except Exception:
                    _draw(fn, path, args, kwargs)
            paths.append(Path(shutil.move(str(path), Path(folder) / name)))
        self._jobs.clear()
        return paths

    def _stop(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def close(self) -> None:
        """Stop the worker and remove the scratch folder (figures not collected are dropped)."""
        self._stop()
        shutil.rmtree(self._scratch, ignore_errors=True)

    def __enter__(self) -> FigureProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

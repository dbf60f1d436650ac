"""One progress convention for every long-running function of rewardscope.

Every function that can take long (the workflows, the optimizer, the LoG scale space, the
DCNN heat map, drift estimation, ...) takes ``progress=`` and reports each *stage* of
its work by calling ``progress(stage, done, total)``:

* ``stage`` (str): what is being done, e.g. ``"LoG scale space"`` or ``"optimizing (tpe)"``;
  rewardscope's own stages are :class:`Stage` strings that also carry the unit of
  ``done`` (``"trials"``, ``"frames"``), which a callback may ignore;
* ``done`` (int): units finished so far; a stage starts with a call with ``done = 0``;
* ``total`` (int or None): units in the stage, None when not known in advance.

``progress`` accepts ``None`` or ``False`` (silent), ``True`` (the default reporter,
:class:`ProgressReporter`, on stderr) or any such callable. :func:`as_progress` turns
these into a callable and :func:`progress_scope` does the same and closes a reporter it
created; :func:`start_stage` and :func:`track` report a stage from inside a loop.

The default reporter draws a rich progress bar per stage when stderr is a terminal. When
it is not (a log file, a batch job, a notebook), it writes plain lines instead, flushed
at once: one when a stage starts, then about every 10 % of its total and at its end::

    rewardscope: optimizing (tpe): started, 200 trials
    rewardscope: optimizing (tpe): 20/200 trials (10 %), 1.6 s
    ...
    rewardscope: optimizing (tpe): 200/200 trials (100 %), 15.2 s

Examples
--------
>>> seen = []
>>> advance = start_stage(lambda *a: seen.append(a), "fitting", total=2, unit="columns")
>>> advance(); advance()
>>> seen
[('fitting', 0, 2), ('fitting', 1, 2), ('fitting', 2, 2)]
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, TypeVar

from rewardscope.errors import ParameterError

#: ``progress(stage, done, total)``.
ProgressCallback = Callable[[str, int, int | None], None]
#: What a ``progress=`` argument accepts.
ProgressArg = bool | ProgressCallback | None
#: Share of a stage's total between two log lines of the plain (non-terminal) reporter.
LOG_STEP = 0.1
#: Seconds between two log lines of a stage whose total is unknown.
LOG_SECONDS_UNKNOWN_TOTAL = 5.0
#: Prefix of every log line.
PREFIX = "rewardscope: "

T = TypeVar("T")


class Stage(str):
    """A stage name (a plain ``str``) that also carries the unit of its counts.

    Examples
    --------
    >>> s = Stage("LoG scale space", unit="levels")
    >>> s == "LoG scale space", s.unit
    (True, 'levels')
    """

    unit: str

    def __new__(cls, name: str, unit: str = "") -> Stage:  # noqa: D102 - documented on the class
        obj = super().__new__(cls, name)
        obj.unit = unit
        return obj


def silent(stage: str, done: int, total: int | None) -> None:
    """The callback that reports nothing."""


def as_progress(progress: ProgressArg) -> ProgressCallback:
    """Turn a ``progress=`` argument into a callback.

    Parameters
    ----------
    progress : bool, callable or None
        ``None``/``False``: silent; ``True``: a new :class:`ProgressReporter` on stderr;
        a callable ``progress(stage, done, total)`` is returned as it is.

    Returns
    -------
    callable
        ``(stage: str, done: int, total: int | None) -> None``.

    Raises
    ------
    ParameterError
        Anything else.

    Examples
    --------
    >>> as_progress(False) is silent, isinstance(as_progress(True), ProgressReporter)
    (True, True)
    """
    if progress is None or progress is False:
        return silent
    if progress is True:
        return ProgressReporter()
    if callable(progress):
        return progress
    raise ParameterError(f"progress must be True, False, None or a callable (stage, done, total), got {progress!r}")


@contextlib.contextmanager
def progress_scope(progress: ProgressArg) -> Iterator[ProgressCallback]:
    """:func:`as_progress` as a context: a reporter made here is closed on exit (also on errors).

    Examples
    --------
    >>> with progress_scope(None) as report:
    ...     report("stage", 0, 3)
    """
    report = as_progress(progress)
    try:
        yield report
    finally:
        if report is not progress and isinstance(report, ProgressReporter):
            report.close()


def start_stage(progress: ProgressCallback, name: str, *, total: int | None, unit: str = "") -> Callable[..., None]:
    """Report the start of a stage (``done = 0``); return ``advance(n=1)`` that reports further.

    Parameters
    ----------
    progress : callable
        A progress callback (see :func:`as_progress`).
    name : str
        Stage name.
    total : int or None
        Units in the stage.
    unit : str
        What is counted (``"frames"``, ``"trials"``).

    Returns
    -------
    callable
        ``advance(n: int = 1)``: ``n`` more units are done.
    """
    stage = Stage(name, unit)
    state = {"done": 0}
    progress(stage, 0, total)

    def advance(n: int = 1) -> None:
        state["done"] += int(n)
        progress(stage, state["done"], total)

    return advance


def track(progress: ProgressCallback, name: str, items: Iterable[T], *, total: int | None = None,
          unit: str = "") -> Iterator[T]:
    """Yield ``items`` and report each one as done (a stage of ``total`` units).

    Examples
    --------
    >>> seen = []
    >>> list(track(lambda s, d, t: seen.append((d, t)), "frames", [10, 20], total=2))
    [10, 20]
    >>> seen
    [(0, 2), (1, 2), (2, 2)]
    """
    advance = start_stage(progress, name, total=total, unit=unit)
    for item in items:
        yield item
        advance()


class ProgressReporter:
    """The default progress callback: rich bars on a terminal, plain log lines elsewhere.

    Parameters
    ----------
    stream : file-like, optional
        Where to write (default: ``sys.stderr`` at the time of each write).
    terminal : bool, optional
        Draw bars (True) or write log lines (False); default: whether ``stream`` is a
        TTY (a log file, a pipe and a notebook's stderr are not).
    step : float
        Share of a stage's total between two log lines.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> report = ProgressReporter(out, terminal=False)
    >>> for i in range(0, 5):
    ...     report(Stage("fitting", "columns"), i, 4)
    >>> print(out.getvalue().replace("0.0 s", "T"))  # doctest: +NORMALIZE_WHITESPACE
    rewardscope: fitting: started, 4 columns
    rewardscope: fitting: 1/4 columns (25 %), T
    rewardscope: fitting: 2/4 columns (50 %), T
    rewardscope: fitting: 3/4 columns (75 %), T
    rewardscope: fitting: 4/4 columns (100 %), T
    """

    def __init__(self, stream: IO[str] | None = None, *, terminal: bool | None = None, step: float = LOG_STEP) -> None:
        if not 0 < step <= 1:
            raise ParameterError(f"progress step must be in (0, 1], got {step}")
        self._stream = stream
        self._terminal = terminal
        self.step = step
        self._stage: str | None = None
        self._done = 0
        self._finished = False
        self._start = 0.0
        self._last_mark = -1
        self._last_time = 0.0
        self._bar: Any = None
        self._task: Any = None

    @property
    def stream(self) -> IO[str]:
        """The stream written to."""
        return self._stream if self._stream is not None else sys.stderr

    @property
    def terminal(self) -> bool:
        """Whether bars are drawn (else log lines are written): by default, whether the stream is a TTY."""
        if self._terminal is None:
            isatty = getattr(self.stream, "isatty", None)
            try:
                self._terminal = bool(isatty()) if callable(isatty) else False
            except (OSError, ValueError):  # a closed or detached stream
                self._terminal = False
        return self._terminal

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        """Report ``done`` of ``total`` units of ``stage``."""
        done = int(done)
        if stage != self._stage or done < self._done or self._finished:
            self._begin(stage, total)
        self._done = done
        finished = total is not None and done >= total
        if self.terminal:
            self._draw(done, total)
        else:
            self._log(stage, done, total)
        if finished:
            self._end()

    def close(self) -> None:
        """Stop a bar still drawn (call when the work ends, also on errors)."""
        self._end()
        self._stage = None

    def __enter__(self) -> ProgressReporter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals

    def _begin(self, stage: str, total: int | None) -> None:
        self._end()
        self._stage, self._done, self._finished = stage, 0, False
        self._start = self._last_time = time.perf_counter()
        self._last_mark = 0
        if self.terminal:
            self._open_bar(stage, total)
        else:
            amount = "" if total is None else f", {_amount(total, _unit(stage))}"
            self._write(f"{stage}: started{amount}")

    def _end(self) -> None:
        self._finished = True
        if self._bar is not None:
            self._bar.stop()
            self._bar = self._task = None

    def _log(self, stage: str, done: int, total: int | None) -> None:
        """A line at each ``step`` of the total (and at the end); time-throttled without a total."""
        now = time.perf_counter()
        elapsed = now - self._start
        unit = _unit(stage)
        if total is None:
            if done > 0 and now - self._last_time >= LOG_SECONDS_UNKNOWN_TOTAL:
                self._last_time = now
                self._write(f"{stage}: {_amount(done, unit)}, {elapsed:.1f} s")
            return
        mark = total_marks(done, total, self.step)
        if mark > self._last_mark:
            self._last_mark = mark
            pct = 100.0 * done / total if total > 0 else 100.0
            self._write(f"{stage}: {done}/{_amount(total, unit)} ({pct:.0f} %), {elapsed:.1f} s")

    def _write(self, line: str) -> None:
        stream = self.stream
        stream.write(f"{PREFIX}{line}\n")
        stream.flush()

    def _open_bar(self, stage: str, total: int | None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                             TextColumn(_unit(stage)), TimeElapsedColumn(),
                             console=Console(file=self.stream, force_terminal=True))
        self._bar.start()
        self._task = self._bar.add_task(str(stage), total=total)

    def _draw(self, done: int, total: int | None) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=total)


def total_marks(done: int, total: int, step: float = LOG_STEP) -> int:
    """How many ``step`` shares of ``total`` are complete (the throttle of the log lines).

    Examples
    --------
    >>> [total_marks(d, 200) for d in (0, 19, 20, 39, 40, 200)]
    [0, 0, 1, 1, 2, 10]
    >>> [total_marks(d, 3) for d in (1, 2, 3)]
    [3, 6, 10]
    """
    if total <= 0:
        return round(1 / step)
    # small tolerance: 0.3 / 0.1 is 2.9999999999999996 in floating point
    return min(int(done / (total * step) + 1e-9), round(1 / step))


def _unit(stage: str) -> str:
    return getattr(stage, "unit", "")


def _amount(n: int, unit: str) -> str:
    return f"{n} {unit}" if unit else str(n)


__all__ = ["LOG_STEP", "ProgressArg", "ProgressCallback", "ProgressReporter", "Stage", "as_progress",
           "progress_scope", "silent", "start_stage", "total_marks", "track"]

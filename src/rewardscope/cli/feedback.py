"""Feedback on the command line: the ``--progress`` option, and core warnings as one line each."""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import typer

from rewardscope.errors import PlausibilityWarning


def progress_option() -> Any:
    """The ``--progress/--no-progress`` option of every long-running command."""
    return typer.Option(True, "--progress/--no-progress",
                        help="Show progress on stderr: bars on a terminal, log lines otherwise (log files, jobs).")


@contextlib.contextmanager
def print_warnings() -> Iterator[None]:
    """Print every :class:`PlausibilityWarning` raised inside as one line on stderr when it happens.

    Other warnings are shown as Python shows them; everything is restored on exit.

    Examples
    --------
    >>> import io, contextlib, warnings
    >>> err = io.StringIO()
    >>> with contextlib.redirect_stderr(err), print_warnings():
    ...     warnings.warn("the count is off", PlausibilityWarning)
    >>> err.getvalue()
    'rewardscope: warning: the count is off\\n'
    """
    with warnings.catch_warnings():
        warnings.simplefilter("always", PlausibilityWarning)
        shown = warnings.showwarning

        def show(message: Any, category: type[Warning], filename: str, lineno: int, file: Any = None,
                 line: str | None = None) -> None:
            if issubclass(category, PlausibilityWarning):
                print(f"rewardscope: warning: {message}", file=sys.stderr, flush=True)
            else:
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        yield

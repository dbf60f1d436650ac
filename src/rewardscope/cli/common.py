"""Shared pieces of the CLI: error handling, console, output folders."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rich.console import Console

from rewardscope.errors import InputError
from rewardscope.io.output import OutputDir

console = Console(stderr=True)


def fail(message: str) -> None:
    """Print one error line on stderr and exit with code 2."""
    print(f"rewardscope: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def write_outputs(out: Path, writer: Callable[[Path], Any]) -> Any:
    """Run ``writer(tmp_folder)`` inside an all-or-nothing output folder and report it."""
    with OutputDir(out) as tmp:
        value = writer(tmp)
    console.print(f"[green]wrote[/green] {out}")
    return value


@contextlib.contextmanager
def progress_bar(description: str, enabled: bool) -> Iterator[Callable[[int, int], None]]:
    """Yield a ``progress(done, total)`` callback drawing a rich bar on a terminal (else a no-op)."""
    if not (enabled and console.is_terminal):
        yield lambda done, total: None
        return
    from rich.progress import Progress

    with Progress(console=console, transient=True) as bar:
        task = bar.add_task(description, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def guard(func: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: turn :class:`InputError` into one line on stderr and exit code 2."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except InputError as exc:
            fail(str(exc))

    return wrapper

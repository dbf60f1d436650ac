"""Shared pieces of the CLI: error handling, console, output folders."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from rewardscope.errors import InputError
from rewardscope.io.output import OutputDir, os_error_message

console = Console(stderr=True)


def fail(message: str) -> None:
    """Print one error line on stderr and exit with code 2."""
    line = "; ".join(part.strip() for part in str(message).splitlines() if part.strip())
    print(f"rewardscope: error: {line}", file=sys.stderr)
    raise SystemExit(2)


def overwrite_option() -> Any:
    """The ``--overwrite`` option every command with ``--out`` takes."""
    return typer.Option(False, "--overwrite", help="Replace --out if it holds an earlier rewardscope output "
                        "(and nothing else).")


def storage_file(storage: str | None) -> str | None:
    """The file behind a ``--storage`` value (``None`` for a database URL or no storage)."""
    return storage if storage and "://" not in storage else None


def write_outputs(out: Path, writer: Callable[[Path], Any], *, inputs: Iterable[Path | str | None] = (),
                  overwrite: bool = False) -> Any:
    """Run ``writer(tmp_folder)`` inside an all-or-nothing output folder and report it.

    The folder also gets its report page ``index.html`` (:func:`rewardscope.report.page.build_page`).

    ``inputs`` and ``overwrite`` are those given to :func:`rewardscope.io.output.check_output_path`
    at the command's start.
    """
    from rewardscope.report.page import build_page

    output = OutputDir(out, inputs=inputs, overwrite=overwrite)
    with output as tmp:
        value = writer(tmp)
        build_page(tmp, title=f"rewardscope: {Path(out).name}")  # index.html, listed in the manifest
    console.print(f"[green]wrote[/green] {out}")
    if output.leftover is not None:
        console.print(f"[yellow]note[/yellow]: the earlier output was moved to {output.leftover}, "
                      "which holds files rewardscope did not write")
    return value


def save_movie_result(result: Any, tmp: Path, source: Path, figures: Callable[..., Any] | None = None) -> Any:
    """Save a movie result (tables, ``summary.json``) and its figures, drawn from ``tmp/masks.tif``.

    ``figures(result, folder, masks=...)`` draws them; default: the particle figures of ``segment``.
    """
    from rewardscope.io.frames import tiff_frames

    if figures is None:
        from rewardscope.report.particles import save_particle_figures as figures

    result.summary["input"] = str(source)
    result.save(tmp)
    masks = tiff_frames(tmp / "masks.tif")
    figures(result, tmp, masks=masks)
    del masks
    return result


@contextlib.contextmanager
def progress_bar(enabled: bool) -> Iterator[Any]:
    """Yield the progress callback of ``--progress/--no-progress`` (:mod:`rewardscope.progress`).

    On: the default reporter on stderr (bars on a terminal, log lines otherwise), closed on exit.
    Off: a silent callback.
    """
    from rewardscope.progress import progress_scope

    with progress_scope(enabled) as report:
        yield report


def guard(func: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: turn :class:`InputError` and ``OSError`` into one line on stderr and exit code 2."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except InputError as exc:
            fail(str(exc))
        except OSError as exc:  # a file that cannot be read or written: the user's to fix
            fail(os_error_message(exc))

    return wrapper

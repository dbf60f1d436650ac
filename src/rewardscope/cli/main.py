"""The ``rewardscope`` command.

Sub-commands are defined in sibling modules and registered here; each is thin: it
parses options, calls the Python API and saves the result.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading
from pathlib import Path
from types import ModuleType

import typer

from rewardscope.cli.common import guard
from rewardscope.cli.inputs import signal_option

app = typer.Typer(
    name="rewardscope", no_args_is_help=True, add_completion=False,
    help="Reward-driven analysis of electron-microscopy images and movies.",
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: wraps at narrow widths instead of cutting flag names
)


def _version() -> str:
    """The installed version (importlib.metadata), else the package's own."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rewardscope")
    except PackageNotFoundError:
        from rewardscope import __version__

        return __version__


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"rewardscope {_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Reward-driven analysis of electron-microscopy images and movies."""


@app.command()
@guard
def info(
    path: Path = typer.Argument(..., help="Image or movie file."),
    pixel_size: str | None = typer.Option(None, "--pixel-size", help="Override the file's pixel size, e.g. 0.35A."),
    signal: int | None = signal_option(),
) -> None:
    """Print shape, dtype, pixel size (with unit) and frame count of FILE; list its signals when it holds several."""
    from rewardscope.io import read_image
    from rewardscope.io.capture import summarise

    img = read_image(path, pixel_size=pixel_size, signal=signal)
    meta = img.info()
    ps = f"{meta['pixel_size']:g} {meta['pixel_size_unit']} ({meta['pixel_size_source']})" if meta["pixel_size"] else "unknown"
    typer.echo(f"file:       {path}")
    if meta["signals_in_file"] > 1:
        typer.echo(f"signals:    {meta['signals_in_file']} in the file; below: signal {meta['signal']} "
                   "(choose with --signal N)")
        for line in _signal_table(img.signals):
            typer.echo(f"  {line}")
    typer.echo(f"shape:      {tuple(meta['shape'])}")
    typer.echo(f"dtype:      {meta['dtype']}")
    typer.echo(f"frames:     {meta['frames']}")
    typer.echo(f"pixel size: {ps}")
    typer.echo(f"reader:     {img.metadata.get('reader')}")
    if img.metadata.get("reader_warnings"):
        typer.echo(f"rewardscope: warning: {path.name}: the reader said: {summarise(img.metadata['reader_warnings'])}",
                   err=True)


def _signal_table(signals: list[dict]) -> list[str]:
    """Aligned rows: index, title, shape, dtype, pixel size (and 'not an image')."""
    from rewardscope.units import parse_length

    rows = [[str(s["index"]), s["title"] or "-", str(tuple(s["shape"])), s["dtype"],
             str(parse_length(s["pixel_size"])) if s["pixel_size"] else "no pixel size",
             "" if s["image"] else "not an image"] for s in signals]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))] if rows else []
    return ["  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows]


def _register() -> None:
    """Attach the sub-command modules (each exposes ``register(app)``)."""
    import importlib
    import pkgutil

    import rewardscope.cli as pkg

    for mod in sorted(m.name for m in pkgutil.iter_modules(pkg.__path__)):
        if mod.startswith("cmd_"):
            importlib.import_module(f"rewardscope.cli.{mod}").register(app)


_register()


def _click_exceptions() -> ModuleType:
    """The exceptions module of the click that typer runs on (recent typer vendors it)."""
    try:
        from typer._click import exceptions
    except ImportError:
        from click import exceptions
    return exceptions


def _terminated(signum: int, frame: object) -> None:
    print("rewardscope: terminated", file=sys.stderr)
    raise SystemExit(128 + signum)


def _interrupted() -> None:
    print("rewardscope: interrupted", file=sys.stderr)
    raise SystemExit(130)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``rewardscope`` script.

    Usage errors (unknown option, wrong number of values, bad number, missing argument)
    become one line ``rewardscope: error: ...`` and exit code 2; Ctrl-C prints
    ``rewardscope: interrupted`` and exits with 130.

    Parameters
    ----------
    argv : list of str, optional
        Arguments after the program name (default ``sys.argv[1:]``).
    """
    previous = signal.signal(signal.SIGTERM, _terminated)  # clean up temporary output folders on kill, too
    try:
        code = _run(argv)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if code == 130:  # typer turns KeyboardInterrupt inside a command into exit code 130
        _interrupted()
    code = code if isinstance(code, int) else 0
    if argv is None:  # the process's own entry point: end it without tearing its modules down
        _exit_process(code)
    raise SystemExit(code)


def _exit_process(code: int) -> None:
    """End the process now: exit handlers run and the streams are flushed, the modules are not torn down.

    Tearing down numpy, pandas, scipy, optuna and matplotlib takes ~0.25 s, a tenth of a
    one-image ``atoms``. Only with no other thread alive and no profiler or tracer (``python -m
    cProfile`` writes its numbers after the script returns); otherwise a normal exit.
    """
    if threading.active_count() > 1 or sys.getprofile() is not None or sys.gettrace() is not None:
        raise SystemExit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _run(argv: list[str] | None) -> object:
    """Run the app without click's own error printing; usage errors and Ctrl-C become one line."""
    errors = _click_exceptions()
    no_args = getattr(errors, "NoArgsIsHelpError", ())
    try:
        return app(args=argv, prog_name="rewardscope", standalone_mode=False)
    except no_args as exc:  # bare ``rewardscope`` or a bare group: its help text, as before
        exc.show()
        raise SystemExit(exc.exit_code) from None
    except errors.ClickException as exc:
        print(f"rewardscope: error: {' '.join(exc.format_message().split())}", file=sys.stderr)
        raise SystemExit(2) from None
    except (KeyboardInterrupt, typer.Abort):
        _interrupted()


if __name__ == "__main__":
    main()

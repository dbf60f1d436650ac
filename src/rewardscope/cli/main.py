"""The ``rewardscope`` command.

Sub-commands are defined in sibling modules and registered here; each is thin: it
parses options, calls the Python API and saves the result.
"""

from __future__ import annotations

from pathlib import Path

import typer

from rewardscope.cli.common import console, guard

app = typer.Typer(
    name="rewardscope", no_args_is_help=True, add_completion=False,
    help="Reward-driven analysis of electron-microscopy images and movies.",
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """Reward-driven analysis of electron-microscopy images and movies."""


@app.command()
@guard
def info(
    path: Path = typer.Argument(..., help="Image or movie file."),
    pixel_size: str | None = typer.Option(None, "--pixel-size", help="Override the file's pixel size, e.g. 0.35A."),
) -> None:
    """Print shape, dtype, pixel size (with unit) and frame count of FILE."""
    from rewardscope.io import read_image

    img = read_image(path, pixel_size=pixel_size)
    meta = img.info()
    ps = f"{meta['pixel_size']:g} {meta['pixel_size_unit']} ({meta['pixel_size_source']})" if meta["pixel_size"] else "unknown"
    typer.echo(f"file:       {path}")
    typer.echo(f"shape:      {tuple(meta['shape'])}")
    typer.echo(f"dtype:      {meta['dtype']}")
    typer.echo(f"frames:     {meta['frames']}")
    typer.echo(f"pixel size: {ps}")
    typer.echo(f"reader:     {img.metadata.get('reader')}")


def _register() -> None:
    """Attach the sub-command modules (each exposes ``register(app)``)."""
    import importlib
    import pkgutil

    import rewardscope.cli as pkg

    for mod in sorted(m.name for m in pkgutil.iter_modules(pkg.__path__)):
        if mod.startswith("cmd_"):
            importlib.import_module(f"rewardscope.cli.{mod}").register(app)


_register()


def main() -> None:
    """Entry point of the ``rewardscope`` script."""
    try:
        app()
    except KeyboardInterrupt:
        console.print("interrupted")
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()

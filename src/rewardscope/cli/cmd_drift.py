"""``rewardscope drift MOVIE --out DIR``: measure and correct stage drift of a movie."""

from __future__ import annotations

from pathlib import Path

import typer

from rewardscope.cli.common import console, guard, overwrite_option, progress_bar, write_outputs
from rewardscope.cli.feedback import progress_option
from rewardscope.cli.inputs import signal_option
from rewardscope.cli.options import option
from rewardscope.io.output import check_output_path
from rewardscope.track.config import DriftConfig

#: ``--format`` -> suffix of the aligned stack (none: :func:`rewardscope.track.write_aligned` picks by size).
FORMATS = {"auto": "", "tif": ".tif", "zarr": ".zarr"}


@guard
def drift(
    movie: Path = typer.Argument(..., help="Movie file (.tif, .npy, .zarr, .dm4, .emd, ...); read lazily where possible."),
    out: Path = typer.Option(..., "--out", help="Output folder (aligned.tif or aligned.zarr, shifts.csv, drift.png, summary.json)."),
    overwrite: bool = overwrite_option(),
    reference: str = option(DriftConfig, "reference"),
    upsample: int = option(DriftConfig, "upsample"),
    border: str = option(DriftConfig, "border"),
    taper: float = option(DriftConfig, "taper"),
    normalization: str = option(DriftConfig, "normalization"),
    jump_threshold_px: float = option(DriftConfig, "jump_threshold_px", "--jump-threshold"),
    jump_factor: float = option(DriftConfig, "jump_factor"),
    fmt: str = typer.Option("auto", "--format", help="aligned stack format: tif, zarr, or auto (zarr above 2 GiB)."),
    pixel_size: str | None = option(DriftConfig, "pixel_size"),
    signal: int | None = signal_option(),
    progress: bool = progress_option(),
) -> None:
    """Align MOVIE: sub-pixel shifts per frame, stage jumps flagged, aligned stack cropped to the common view."""
    check_output_path(out, inputs=[movie], overwrite=overwrite)
    from rewardscope.config import make_config
    from rewardscope.errors import ParameterError
    from rewardscope.io.load import load_input
    from rewardscope.report.drift import plot_drift
    from rewardscope.workflows.drift import correct_drift

    if fmt not in FORMATS:
        raise ParameterError(f"--format must be auto, tif or zarr, got {fmt!r}")
    cfg = make_config(DriftConfig, None, reference=reference, upsample=upsample, border=border, taper=taper,
                      normalization=normalization, jump_threshold_px=jump_threshold_px, jump_factor=jump_factor,
                      pixel_size=pixel_size)
    inp = load_input(movie, cfg.pixel_size, movie=True, name="movie", signal=signal)

    def write(tmp: Path) -> object:
        with progress_bar(progress) as report:
            result = correct_drift(inp, config=cfg, progress=report, aligned_path=tmp / f"aligned{FORMATS[fmt]}")
        result.summary["input"] = str(movie)
        result.save(tmp)
        plot_drift(result.shifts, tmp / "drift.png", title=inp.image.name, pixel_size=result.pixel_size)
        return result

    shifts = write_outputs(out, write, inputs=[movie], overwrite=overwrite).shifts
    console.print(f"{len(shifts)} frames, {int(shifts.jump.sum())} jump(s), drift range "
                  f"{shifts.dx.max() - shifts.dx.min():.1f} x {shifts.dy.max() - shifts.dy.min():.1f} px")


def register(app: typer.Typer) -> None:
    """Attach ``drift``."""
    app.command("drift")(drift)

"""``rewardscope drift MOVIE --out DIR``: measure and correct stage drift of a movie."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from rewardscope.cli.common import console, guard, overwrite_option, progress_bar, write_outputs
from rewardscope.cli.feedback import progress_option
from rewardscope.cli.inputs import signal_option
from rewardscope.cli.options import option
from rewardscope.io.output import check_output_path
from rewardscope.track.drift import DriftConfig

#: Above this size (float32 bytes) ``--format auto`` writes zarr instead of TIFF.
ZARR_ABOVE_BYTES = 2 * 1024**3


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
    pixel_size: str | None = typer.Option(None, "--pixel-size", help="Override the file's pixel size, e.g. 0.5A."),
    signal: int | None = signal_option(),
    progress: bool = progress_option(),
) -> None:
    """Align MOVIE: sub-pixel shifts per frame, stage jumps flagged, aligned stack cropped to the common view."""
    check_output_path(out, inputs=[movie], overwrite=overwrite)
    from pydantic import ValidationError

    from rewardscope.errors import ParameterError
    from rewardscope.io import open_stack, write_json, write_stack, write_table
    from rewardscope.progress import track
    from rewardscope.report.drift import plot_drift
    from rewardscope.track.drift import DriftConfig as Config
    from rewardscope.track.drift import common_window, drift_summary, estimate_drift, iter_aligned

    if fmt not in ("auto", "tif", "zarr"):
        raise ParameterError(f"--format must be auto, tif or zarr, got {fmt!r}")
    try:
        cfg = Config(reference=reference, upsample=upsample, border=border, taper=taper, normalization=normalization,
                     jump_threshold_px=jump_threshold_px, jump_factor=jump_factor)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ParameterError(f"--{str(err['loc'][0]).replace('_', '-')}: {err['msg']}") from None
    stack = open_stack(movie, pixel_size=pixel_size, signal=signal)
    started = time.perf_counter()
    with progress_bar(progress) as report:
        shifts = estimate_drift(stack, config=cfg, progress=report)
    seconds = time.perf_counter() - started
    rows, cols = common_window(shifts, stack.frame_shape) if cfg.border == "crop" else (slice(None), slice(None))
    out_shape = (len(stack), len(range(*rows.indices(stack.shape[1]))), len(range(*cols.indices(stack.shape[2]))))
    use_zarr = fmt == "zarr" or (fmt == "auto" and 4 * out_shape[0] * out_shape[1] * out_shape[2] > ZARR_ABOVE_BYTES)

    def write(tmp: Path) -> None:
        with progress_bar(progress) as report:
            frames = iter_aligned(stack, shifts, border=cfg.border)
            counted = track(report, "writing aligned frames", frames, total=len(stack), unit="frames")
            write_stack(tmp / ("aligned.zarr" if use_zarr else "aligned.tif"), counted, shape=out_shape,
                        pixel_size=stack.pixel_size)
        write_table(tmp / "shifts.csv", shifts)
        plot_drift(shifts, tmp / "drift.png", title=stack.name, pixel_size=stack.pixel_size)
        summary = drift_summary(shifts, stack.frame_shape, cfg)
        write_json(tmp / "summary.json", {**summary, "input": str(movie), "pixel_size": stack.pixel_size,
                                          "aligned_shape": list(out_shape), "estimate_seconds": round(seconds, 3),
                                          "estimate_frames_per_s": round(len(stack) / max(seconds, 1e-9), 1),
                                          "versions": _versions(), "command": _command()})

    write_outputs(out, write, inputs=[movie], overwrite=overwrite)
    console.print(f"{len(stack)} frames, {int(shifts.jump.sum())} jump(s), drift range "
                  f"{shifts.dx.max() - shifts.dx.min():.1f} x {shifts.dy.max() - shifts.dy.min():.1f} px")


def _versions() -> dict[str, str]:
    from rewardscope.result import versions

    return versions()


def _command() -> str:
    import sys

    return " ".join(sys.argv)


def register(app: typer.Typer) -> None:
    """Attach ``drift``."""
    app.command("drift")(drift)

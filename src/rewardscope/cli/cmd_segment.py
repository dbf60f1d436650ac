"""``rewardscope segment IMAGE|MOVIE --out DIR``: particle segmentation (classical, autoencoder or U-Net)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from rewardscope.cli.common import console, guard, overwrite_option, write_outputs
from rewardscope.cli.feedback import print_warnings, progress_option
from rewardscope.cli.inputs import signal_option
from rewardscope.cli.options import option
from rewardscope.cli.windows import (chunk_frames_option, movie_scheduler_option, overlap_option, run_parallel_segment,
                                     run_windowed_segment, window_option, workers_option)
from rewardscope.io.output import check_output_path
from rewardscope.optimize.settings import StudySettings
from rewardscope.workflows.particles_config import SegmentConfig

OUTPUTS = ("masks.tif (label image per frame), particles.csv, trials.csv, pareto.csv, summary.json, overlay.png, "
           "sizes.png, pareto.png; movies also timeseries.csv/.png and drift.csv")


def _parse_range(text: str | None, what: str) -> tuple[float, float] | None:
    if text is None:
        return None
    from rewardscope.errors import ParameterError

    parts = text.replace(",", " ").split()
    try:
        lo, hi = (float(p) for p in parts)
    except ValueError:
        raise ParameterError(f"{what} must be two numbers 'LOW HIGH' (px), got {text!r}") from None
    return lo, hi


#: The segmentation's own study defaults (60 trials), shown by ``--trials``.
_STUDY = SegmentConfig().study


@guard
def segment(
    path: Path = typer.Argument(..., help="Image or movie (.tif, .png, .npy, .dm4, .emd, ...); movies are read lazily."),
    out: Path = typer.Option(..., "--out", help=f"Output folder: {OUTPUTS}."),
    overwrite: bool = overwrite_option(),
    method: str = option(SegmentConfig, "method"),
    model: Path | None = option(SegmentConfig, "network", "--model"),
    device: str = option(SegmentConfig, "device"),
    tta: int = option(SegmentConfig, "tta"),
    pixel_size: str | None = option(SegmentConfig, "pixel_size"),
    signal: int | None = signal_option(),
    polarity: str = option(SegmentConfig, "polarity"),
    trials: int = typer.Option(_STUDY.trials, "--trials", help="Trials of the foreground study (smoothing width)."),
    split_trials: int = option(SegmentConfig, "split_trials"),
    sampler: str = option(StudySettings, "sampler"),
    selection: str = option(StudySettings, "selection", "--selection", "--select"),
    seed: int = option(StudySettings, "seed"),
    min_diameter: str = option(SegmentConfig, "min_diameter"),
    max_diameter: str | None = option(SegmentConfig, "max_diameter"),
    sigma_range: str | None = typer.Option(None, "--sigma-range", help="Search range of the Gaussian width, "
                                           "'LOW HIGH' px (default 0.5 16)."),
    reoptimize_tolerance: float = option(SegmentConfig, "reoptimize_tolerance", "--reoptimize-tolerance", "--reoptimise-tolerance"),
    reoptimize_trials: int = option(SegmentConfig, "reoptimize_trials", "--reoptimize-trials", "--reoptimise-trials"),
    drift: bool = typer.Option(SegmentConfig.model_fields["drift"].default, "--drift/--no-drift",
                               help=SegmentConfig.model_fields["drift"].description),
    window: str | None = window_option(),
    overlap: str = overlap_option(),
    scheduler: str | None = movie_scheduler_option(),
    workers: int | None = workers_option(),
    chunk_frames: int = chunk_frames_option(),
    progress: bool = progress_option(),
) -> None:
    """Segment the particles of IMAGE or every frame of MOVIE (--method classical|autoencoder|unet); smoothing,
    threshold and split are chosen by label-free rewards, the U-Net's mask by its training."""
    check_output_path(out, inputs=[path], overwrite=overwrite)
    from rewardscope.config import make_config
    from rewardscope.segment.dataset import load_input_as_grey

    overrides: dict[str, Any] = dict(
        method=method, network=None if model is None else str(model), device=device, tta=tta, pixel_size=pixel_size, polarity=polarity, trials=trials, split_trials=split_trials,
        sampler=sampler, selection=selection, seed=seed, min_diameter=min_diameter, max_diameter=max_diameter,
        reoptimize_tolerance=reoptimize_tolerance, reoptimize_trials=reoptimize_trials, drift=drift)
    rng = _parse_range(sigma_range, "--sigma-range")
    if rng is not None:
        overrides["sigma_range_px"] = rng
    config = make_config(SegmentConfig, None, **overrides)
    from rewardscope.segment.learned import load_method_model

    net = load_method_model(config.method, config.network)  # a missing or wrong model fails before any work
    with print_warnings():  # a colour image is read as grey with a note on stderr
        inp = load_input_as_grey(path, config.pixel_size, name="input", signal=signal)
    if window is not None and len(inp.image) == 1:
        from dataclasses import replace

        import numpy as np

        run_windowed_segment(path, config, window=window, overlap=overlap, scheduler=scheduler, workers=workers,
                             out=out, overwrite=overwrite, progress=progress,
                             image=replace(inp, image=np.asarray(inp.image[0], float)))
        return
    if scheduler is not None and len(inp.image) > 1:
        run_parallel_segment(inp, config, scheduler=scheduler, workers=workers, chunk_frames=chunk_frames, out=out,
                             path=path, overwrite=overwrite, progress=progress)
        return
    segment_input = _segment_one if len(inp.image) == 1 else _segment_many
    segment_input(inp, config, out, path, progress, overwrite=overwrite, model=net)


def _params_text(summary: dict[str, Any]) -> str:
    """What chose the masks: the U-Net, or the reward-chosen smoothing width."""
    if summary.get("method") == "unet":
        return f"U-Net ({summary.get('model')})"
    prefix = "autoencoder; " if summary.get("method") == "autoencoder" else ""
    return f"{prefix}sigma = {summary['best_params']['sigma_px']:.2f} px"


def _note_units(summary: dict[str, Any]) -> None:
    if summary.get("pixel_size_angstrom") is None:
        console.print("[yellow]note[/yellow]: no pixel size; sizes are in pixels only "
                      "(give --pixel-size for area_nm2 and equivalent_diameter_nm)")


def _segment_one(inp: Any, config: SegmentConfig, out: Path, path: Path, progress: bool, *,
                 overwrite: bool, model: Any = None) -> None:
    from rewardscope.report.particles import save_particle_figures
    from rewardscope.workflows.particles import segment_image

    result = segment_image(inp, config=config, progress=progress, model=model)
    result.summary["input"] = str(path)

    def write(tmp: Path) -> None:
        result.save(tmp)
        save_particle_figures(result, tmp)

    write_outputs(out, write, inputs=[path], overwrite=overwrite)
    s = result.summary
    _note_units(s)
    console.print(f"{s['n_particles']} particles; {_params_text(s)}; "
                  + ", ".join(f"{k} = {v:.4g}" for k, v in s["best_values"].items())
                  + f"; {s['seconds']['total']:.1f} s")


def _segment_many(inp: Any, config: SegmentConfig, out: Path, path: Path, progress: bool, *,
                  overwrite: bool, model: Any = None) -> None:
    from rewardscope.cli.common import progress_bar, save_movie_result
    from rewardscope.workflows.movie import segment_movie

    def write(tmp: Path) -> Any:
        with progress_bar(progress) as report:
            result = segment_movie(inp, config=config, masks_path=tmp / "masks.tif", progress=report, model=model)
        return save_movie_result(result, tmp, path)

    result = write_outputs(out, write, inputs=[path], overwrite=overwrite)
    s = result.summary
    _note_units(s)
    console.print(f"{s['n_frames']} frames, {s['mean_particles_per_frame']:.1f} particles per frame; "
                  f"{_params_text(s)}; {s['n_reoptimizations']} re-optimizations; "
                  f"{s['frames_per_second']:.1f} frames/s")


def register(app: typer.Typer) -> None:
    """Attach the ``segment`` command to the main app."""
    app.command("segment")(segment)

"""``rewardscope track MOVIE --out DIR``: particle tracks, merges and lineage with reward-chosen linking."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from rewardscope.cli.common import console, guard, overwrite_option, progress_bar, save_movie_result, write_outputs
from rewardscope.cli.feedback import progress_option
from rewardscope.cli.options import option
from rewardscope.cli.windows import workers_option
from rewardscope.io.output import check_output_path
from rewardscope.optimize.settings import StudySettings
from rewardscope.workflows.tracking_config import TrackConfig

OUTPUTS = ("masks.tif (track id per pixel and frame), tracks.csv, lineage.csv, events.csv, trials.csv, "
           "pareto.csv, drift.csv, summary.json, outlines.png, sizes_per_frame.png, areas.png, lineage.png, tracks.gif")


@guard
def track(
    movie: Path = typer.Argument(..., help="Movie file (.tif, .npy, .zarr, .dm4, .emd, ...) of at least 2 frames."),
    out: Path = typer.Option(..., "--out", help=f"Output folder: {OUTPUTS}."),
    overwrite: bool = overwrite_option(),
    pixel_size: str | None = option(TrackConfig, "pixel_size"),
    segmenter: str = option(TrackConfig, "segmenter"),
    model: Path | None = option(TrackConfig, "segment.network", "--model"),
    masks: Path | None = typer.Option(None, "--masks", help="Label masks to link instead of segmenting "
                                      "(.tif or .npy, frames x rows x cols, integer labels, 0 = background)."),
    drift: bool = typer.Option(TrackConfig.model_fields["drift"].default, "--drift/--no-drift",
                               help=TrackConfig.model_fields["drift"].description),
    linker: str = option(TrackConfig, "linker"),
    trials: int = option(TrackConfig, "study.trials"),
    seed: int = option(StudySettings, "seed"),
    max_step: str = option(TrackConfig, "max_step"),
    max_gap_frames: int = option(TrackConfig, "max_gap_frames"),
    tune_frames: int = option(TrackConfig, "tune_frames"),
    link_window: int = option(TrackConfig, "link_window_frames", "--link-window"),
    out_of_view_frames: int = option(TrackConfig, "out_of_view_frames"),
    touch_frames: int = option(TrackConfig, "touch_frames"),
    scheduler: str | None = typer.Option(None, "--scheduler", help="Segment the frames as dask tasks: local (a "
                                         "cluster on this machine), serial, or tcp://HOST:PORT (your cluster); "
                                         "classical segmenter; linking stays in this process. Default: no dask."),
    workers: int | None = workers_option(),
    progress: bool = progress_option(),
) -> None:
    """Track the particles of MOVIE through motion, growth and coalescence (merges end both parents)."""
    check_output_path(out, inputs=[movie, masks], overwrite=overwrite)
    if scheduler is not None:
        from rewardscope.parallel import check_scheduler

        scheduler = check_scheduler(scheduler)
    from rewardscope.config import make_config
    from rewardscope.workflows.tracking import track_particles

    config = make_config(TrackConfig, None, pixel_size=pixel_size, segmenter=segmenter, drift=drift, linker=linker,
                         trials=trials, seed=seed, max_step=max_step, max_gap_frames=max_gap_frames,
                         tune_frames=tune_frames, link_window_frames=link_window,
                         out_of_view_frames=out_of_view_frames,
                         touch_frames=touch_frames)
    if model is not None:
        config = config.model_copy(update={"segment": config.segment.model_copy(update={"network": str(model)})})
    if masks is None:
        from rewardscope.segment.learned import load_method_model

        load_method_model(config.segmenter, config.segment.network)  # a missing or wrong model fails before any work

    def write(tmp: Path) -> Any:
        from rewardscope.report.tracks import save_track_figures

        with progress_bar(progress) as report:
            result = track_particles(movie, config=config, masks=masks, masks_path=tmp / "masks.tif",
                                     progress=report, scheduler=scheduler, workers=workers)
        return save_movie_result(result, tmp, movie, save_track_figures)

    result = write_outputs(out, write, inputs=[movie, masks], overwrite=overwrite)
    s = result.summary
    console.print(f"{s['n_frames']} frames, {s['n_tracks']} tracks, {s['n_merges']} merges, {s['n_splits']} splits; "
                  + ", ".join(f"{k} = {v:.4g}" for k, v in s["best_values"].items()))


def register(app: typer.Typer) -> None:
    """Attach the ``track`` command to the main app."""
    app.command("track")(track)

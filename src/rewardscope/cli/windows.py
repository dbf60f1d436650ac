"""Command-line pieces of sliding windows and distributed runs, shared by the commands that have them.

``--window`` / ``--overlap`` (:class:`~rewardscope.workflows.windows.WindowConfig`) and
``--scheduler`` / ``--workers`` (:class:`~rewardscope.parallel.ParallelConfig`) take their
defaults and help from those models; :func:`run_windowed_atoms` runs and saves a windowed atom
result (tables incl. ``windows.csv``, overlay, ``windows.png``); :func:`run_parallel_segment`
runs ``segment`` on a movie through dask (``--scheduler``, ``--chunk-frames``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from rewardscope.cli.options import option
from rewardscope.parallel import ParallelConfig
from rewardscope.workflows.windows_config import WindowConfig


def window_option() -> Any:
    """``--window SIZE``: sliding windows of this side (none by default: one study for the whole image)."""
    return typer.Option(None, "--window", help="Optimize per sliding window of this side, px or a length "
                        "(e.g. 512px, 10nm; at least 4 unit cells), warm-started from the neighbours, stitched; "
                        "writes windows.csv and windows.png. Default: one study for the whole image.")


def overlap_option() -> Any:
    """``--overlap SIZE`` (with ``--window``)."""
    return option(WindowConfig, "overlap")


def scheduler_option() -> Any:
    """``--scheduler local|serial|tcp://HOST:PORT``."""
    return option(ParallelConfig, "scheduler")


def workers_option() -> Any:
    """``--workers N`` of the local cluster."""
    return option(ParallelConfig, "workers")


def window_settings(window: str | None, overlap: str, scheduler: str, workers: int | None) -> WindowConfig | None:
    """The window config of the flags (None without ``--window``); checks the scheduler before any work."""
    from rewardscope.parallel import check_scheduler
    from rewardscope.workflows.windows_config import window_config

    if window is None:
        return None
    check_scheduler(scheduler)
    return window_config(window=window, overlap=overlap, scheduler=scheduler, workers=workers)


def run_windowed_atoms(inp: Any, cfg: Any, windows: WindowConfig, *, oracle: str | None, out: Path, inputs: list[Any],
                       overwrite: bool, progress: bool) -> None:
    """``rewardscope atoms --window ...``: find, save, print one line."""
    from rewardscope.cli.common import console, write_outputs
    from rewardscope.cli.feedback import print_warnings
    from rewardscope.errors import ParameterError
    from rewardscope.workflows.atoms import find_atoms

    if oracle is not None:
        raise ParameterError("--oracle does not work with --window (give --n-expected for the whole image instead)")
    with print_warnings():
        result = find_atoms(inp, config=cfg, window=windows, progress=progress)
    result.summary["input"] = str(inputs[0])
    write_outputs(out, lambda tmp: save_windowed_atoms(result, tmp), inputs=inputs, overwrite=overwrite)
    s, w = result.summary, result.summary["windows"]
    console.print(f"{s['n_atoms']} atoms (expected {s['n_expected']:.0f}) from {w['n_windows']} windows "
                  f"({w['n_borrowed']} borrowed parameters); "
                  + ", ".join(f"{k} = {v:.4g}" for k, v in s["best_values"].items())
                  + f"; {s['seconds']['total']:.1f} s")


def movie_scheduler_option() -> Any:
    """``--scheduler`` of ``segment``: none by default (one chain over the frames in this process)."""
    return typer.Option(None, "--scheduler", help="Movies: run chunks of frames as dask tasks: local (a "
                        "LocalCluster on this machine's cores), serial (the same chunks in this process) or "
                        "tcp://HOST:PORT (an existing cluster; the movie file must be readable there). "
                        "Default: one chain over all frames in this process.")


def chunk_frames_option() -> Any:
    """``--chunk-frames N`` (with ``--scheduler``)."""
    from rewardscope.defaults import CHUNK_FRAMES

    return typer.Option(CHUNK_FRAMES, "--chunk-frames", min=1, help="With --scheduler: frames per task; a "
                        "re-optimization carries on to the end of its chunk.")


def run_parallel_segment(inp: Any, config: Any, *, scheduler: str, workers: int | None, chunk_frames: int,
                         out: Path, path: Path, overwrite: bool, progress: bool) -> None:
    """``rewardscope segment MOVIE --scheduler ...``: chunks of frames through dask, masks.tif written in order."""
    from rewardscope.cli.common import console, progress_bar, save_movie_result, write_outputs
    from rewardscope.parallel import Engine, check_scheduler
    from rewardscope.workflows.movie_parallel import segment_movie_parallel

    check_scheduler(scheduler)
    with Engine(scheduler, workers=workers) as engine:  # an unreachable scheduler fails before any work

        def write(tmp: Path) -> Any:
            with progress_bar(progress) as report:
                result = segment_movie_parallel(inp, config=config, scheduler=engine.client or "serial",
                                                chunk_frames=chunk_frames, masks_path=tmp / "masks.tif",
                                                progress=report)
            result.summary["scheduler"] = scheduler
            return save_movie_result(result, tmp, path)

        result = write_outputs(out, write, inputs=[path], overwrite=overwrite)
    s = result.summary
    console.print(f"{s['n_frames']} frames in {s['n_chunks']} chunks on {s['n_workers']} workers ({scheduler}), "
                  f"{s['mean_particles_per_frame']:.1f} particles per frame; {s['n_reoptimizations']} "
                  f"re-optimizations; {s['frames_per_second']:.1f} frames/s")


def run_windowed_segment(path: Path, config: Any, *, window: str, overlap: str, scheduler: str | None,
                         workers: int | None, out: Path, overwrite: bool, progress: bool, image: Any = None) -> None:
    """``rewardscope segment IMAGE --window ...``: both studies per window, labels merged across seams.

    ``image``: the image as already loaded (a colour file read as grey); default: read ``path``.
    """
    from rewardscope.cli.common import console, write_outputs
    from rewardscope.parallel import check_scheduler
    from rewardscope.report.particles import save_particle_figures
    from rewardscope.report.windows import plot_window_map
    from rewardscope.workflows.windows import sliding_particles

    check_scheduler(scheduler or "local")
    result = sliding_particles(path if image is None else image, config=config, window=window, overlap=overlap, scheduler=scheduler or "local",
                               workers=workers, progress=progress)
    result.summary["input"] = str(path)

    def write(tmp: Path) -> None:
        result.save(tmp)
        save_particle_figures(result, tmp)
        plot_window_map(result.tables["windows"], image=result.image, pixel_size=result.pixel_size,
                        path=tmp / "windows.png")

    write_outputs(out, write, inputs=[path], overwrite=overwrite)
    s = result.summary
    console.print(f"{s['n_particles']} particles from {s['windows']['n_windows']} windows "
                  f"({s['windows']['n_borrowed']} borrowed parameters); {s['seconds']['total']:.1f} s")


def save_windowed_atoms(result: Any, folder: Path) -> None:
    """Tables (atoms, trials, pareto, windows), summary, overlay and the window map."""
    from rewardscope.report.atoms import plot_atoms
    from rewardscope.report.windows import plot_window_map

    result.save(folder)
    s = result.summary
    w = s["windows"]
    plot_atoms(result.image, result.atoms, path=folder / "overlay.png", pixel_size=result.pixel_size,
               title=f"{s['n_atoms']} atoms (expected {s['n_expected']:.0f}), {w['n_windows']} windows")
    plot_window_map(result.tables["windows"], image=result.image, pixel_size=result.pixel_size,
                    path=folder / "windows.png")


__all__ = ["chunk_frames_option", "movie_scheduler_option", "overlap_option", "run_parallel_segment",
           "run_windowed_atoms", "run_windowed_segment", "save_windowed_atoms", "scheduler_option", "window_option", "window_settings",
           "workers_option"]

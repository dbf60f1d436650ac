"""``rewardscope simulate movie --out DIR``: an in-situ TEM movie with exact truth."""

from __future__ import annotations

from pathlib import Path

import typer

from rewardscope.cli.cmd_simulate import simulate_app
from rewardscope.cli.common import console, guard, overwrite_option, write_outputs
from rewardscope.cli.options import option
from rewardscope.io.output import check_output_path
from rewardscope.simulate.movie_config import MovieConfig


@simulate_app.command("movie")
@guard
def movie(
    out: Path = typer.Option(..., "--out", help="Output folder (movie.tif, truth_masks.tif, truth_shifts.csv, "
                             "truth_tracks.csv, truth_events.csv, summary.json)."),
    overwrite: bool = overwrite_option(),
    frames: int = option(MovieConfig, "frames"),
    size: int = option(MovieConfig, "size"),
    n_particles: int = option(MovieConfig, "n_particles", "--particles"),
    pixel_size: str = option(MovieConfig, "pixel_size"),
    radius_px: float = option(MovieConfig, "radius_px", "--radius"),
    drift_speed: float = option(MovieConfig, "drift_speed"),
    jump_probability: float = option(MovieConfig, "jump_probability"),
    jump_size: float = option(MovieConfig, "jump_size"),
    growth_rate: float = option(MovieConfig, "growth_rate", "--growth"),
    ripening_rate: float = option(MovieConfig, "ripening_rate", "--ripening"),
    diffusion: float = option(MovieConfig, "diffusion"),
    noise: float = option(MovieConfig, "noise"),
    dose: float | None = typer.Option(None, "--dose", help=MovieConfig.model_fields["dose"].description),
    flicker: float = option(MovieConfig, "flicker"),
    merge_pairs: int = option(MovieConfig, "merge_pairs"),
    merge_triples: int = option(MovieConfig, "merge_triples"),
    crossing: int = option(MovieConfig, "crossing"),
    seed: int = option(MovieConfig, "seed"),
) -> None:
    """Simulate drifting, ripening and coalescing nanoparticles on an amorphous support (bright-field TEM)."""
    params = dict(locals())
    del params["out"], params["overwrite"]
    check_output_path(out, overwrite=overwrite)
    from rewardscope.simulate.movie import simulate_movie

    sim = simulate_movie(**params)
    write_outputs(out, sim.save, overwrite=overwrite)
    console.print(f"{sim.config.frames} frames, {sim.summary['n_tracks']} tracks, "
                  f"{sim.summary['n_merges']} merges, {sim.summary['n_jumps']} jumps")


def register(app: typer.Typer) -> None:
    """Nothing to attach: ``movie`` joins the ``simulate`` group at import time."""

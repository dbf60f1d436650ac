"""``rewardscope demo``: the main job on built-in sample data, end to end.

Each step simulates its own input with exact truth (nothing is downloaded), runs the
analysis through the same API the commands use, and scores it against the truth.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import typer

from rewardscope.cli.common import console, guard, overwrite_option, write_outputs
from rewardscope.io.output import check_output_path

DemoStep = Callable[[Path], str]


@lru_cache(maxsize=1)
def _haadf() -> object:
    from rewardscope.simulate import simulate_haadf

    return simulate_haadf("ybco-100", size=256, pixel_size="0.35A", noise=0.1, amorphous_fraction=0.15, seed=0)


def _simulate_step(folder: Path) -> str:
    from rewardscope.cli.cmd_simulate import save_haadf

    sim = _haadf()
    target = folder / "01_haadf_simulated"
    target.mkdir()
    save_haadf(sim, target)
    return f"simulated YBCO [100] HAADF image (15 % amorphous), {len(sim.truth)} true columns -> {target.name}/"


@lru_cache(maxsize=1)
def _atoms() -> object:
    from rewardscope.workflows.atoms import find_atoms

    sim = _haadf()
    return find_atoms(sim.image, lattice="ybco-100", pixel_size=sim.pixel_size, trials=200, seed=0,
                      lattice_prior=False, progress=True)  # amorphous patches: not one crystal


def _atoms_step(folder: Path) -> str:
    from rewardscope.cli.cmd_atoms import save_atoms
    from rewardscope.metrics import score_atoms

    sim = _haadf()
    result = _atoms()
    target = folder / "02_atoms_logstar"
    save_atoms(result, target, title=f"LoG*: {len(result.atoms)} atoms")
    score = score_atoms(result.atoms, sim)
    return (f"LoG* found {len(result.atoms)} columns (expected {result.summary['n_expected']:.0f}) in "
            f"{result.summary['seconds']['total']:.1f} s; F1 vs truth {score.f1:.3f} -> {target.name}/")


def _classes_step(folder: Path) -> str:
    from rewardscope.metrics import mask_iou
    from rewardscope.report.amorphous import plot_amorphous
    from rewardscope.report.classes import plot_classes
    from rewardscope.report.pareto import plot_pareto
    from rewardscope.workflows.amorphous import map_amorphous
    from rewardscope.workflows.classify import classify_atoms

    sim, atoms = _haadf(), _atoms().atoms
    classes = classify_atoms(sim.image, atoms, pixel_size=sim.pixel_size)
    target = folder / "03_classes"
    classes.save(target)
    plot_classes(classes.image, classes.atoms, classes.extras["mean_patches"], path=target / "classes.png",
                 pixel_size=classes.pixel_size, lattice="ybco-100")
    amorphous = map_amorphous(sim.image, atoms=atoms, pixel_size=sim.pixel_size, seed=0, progress=True)
    target_a = folder / "04_amorphous"
    amorphous.save(target_a)
    plot_amorphous(amorphous.image, amorphous.mask, amorphous.atoms, path=target_a / "overlay.png",
                   pixel_size=amorphous.pixel_size)
    plot_pareto(amorphous.extras["study"], path=target_a / "pareto.png")
    return (f"classified the columns into {classes.atoms['class'].nunique()} classes -> {target.name}/; "
            f"amorphous mask covers {amorphous.mask.mean():.1%} (truth {sim.amorphous_mask.mean():.1%}), "
            f"IoU {mask_iou(amorphous.mask, sim.amorphous_mask):.3f} -> {target_a.name}/")


@lru_cache(maxsize=1)
def _movie() -> object:
    from rewardscope.simulate import simulate_movie

    return simulate_movie(frames=40, size=256, seed=0)


def _drift_step(folder: Path) -> str:
    import numpy as np

    from rewardscope.report.drift import plot_drift
    from rewardscope.workflows.drift import correct_drift

    movie = _movie()
    movie.save(folder / "05_movie_simulated")
    result = correct_drift(movie.movie)
    target = folder / "06_drift"
    result.save(target)
    truth = movie.shifts
    plot_drift(result.shifts, target / "drift.png", truth=truth, title="simulated in-situ movie",
               pixel_size=movie.pixel_size)
    err = np.hypot(result.shifts.dx - truth.dx, result.shifts.dy - truth.dy)
    return (f"simulated a {len(truth)}-frame in-situ movie and corrected its drift: "
            f"{int(result.shifts.jump.sum())} jumps flagged ({int(truth.jump.sum())} true), "
            f"residual {np.sqrt(np.mean(err ** 2)):.3f} px RMS -> 05_movie_simulated/, {target.name}/")


def _segment_real_step(folder: Path) -> str:
    from rewardscope.datasets import HRTEM_ATTRIBUTION, sample_hrtem
    from rewardscope.metrics import dice, mask_iou
    from rewardscope.report.particles import save_particle_figures
    from rewardscope.workflows.particles import segment_image

    image, mask = sample_hrtem()
    result = segment_image(image, progress=True)
    target = folder / "07_segment_real_hrtem"
    result.save(target)
    save_particle_figures(result, target, footer=HRTEM_ATTRIBUTION)
    found = result.arrays["masks"] > 0
    return (f"segmented a real HRTEM image without labels: {result.summary['n_particles']} particles, "
            f"IoU {mask_iou(found, mask):.3f} / Dice {dice(found, mask):.3f} against the hand-drawn mask "
            f"-> {target.name}/")


def _segment_movie_step(folder: Path) -> str:
    from rewardscope.report.particles import save_particle_figures
    from rewardscope.workflows.movie import segment_movie

    movie = _movie()
    target = folder / "08_segment_movie"
    target.mkdir()
    result = segment_movie(movie.movie, pixel_size=movie.pixel_size, drift=True)
    result.save(target)
    save_particle_figures(result, target)
    ts = result.tables["timeseries"]
    return (f"segmented the {len(ts)}-frame movie: {ts.iloc[0]['n_particles']:.0f} -> {ts.iloc[-1]['n_particles']:.0f} "
            f"particles, size and count vs time in timeseries.csv/.png -> {target.name}/")


STEPS: list[DemoStep] = [_simulate_step, _atoms_step, _classes_step, _drift_step, _segment_real_step, _segment_movie_step]


@guard
def demo(
    out: Path = typer.Option(Path("demo-output"), "--out", help="Folder for all demo outputs."),
    overwrite: bool = overwrite_option(),
) -> None:
    """Run every workflow on built-in simulated data and write the results to OUT."""
    check_output_path(out, overwrite=overwrite)

    def run_all(tmp: Path) -> None:
        for step in STEPS:
            console.print(f"[bold]demo[/bold] {step(tmp)}")

    write_outputs(out, run_all, overwrite=overwrite)
    console.print(f"[bold green]demo finished[/bold green]: outputs in {out.resolve()}")


def register(app: typer.Typer) -> None:
    """Attach ``demo``."""
    app.command("demo")(demo)

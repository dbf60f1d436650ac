"""``rewardscope classify`` (atom classes by GMM) and ``rewardscope amorphous`` (disordered regions)."""

from __future__ import annotations

from pathlib import Path

import typer

from rewardscope.cli.common import console, guard, overwrite_option, storage_file, write_outputs
from rewardscope.cli.feedback import print_warnings, progress_option
from rewardscope.cli.options import option
from rewardscope.io.output import check_output_path
from rewardscope.workflows.amorphous_config import AmorphousConfig
from rewardscope.workflows.classify_config import ClassifyConfig


@guard
def classify(
    image: Path = typer.Argument(..., help="Image file (with a pixel size, or give --pixel-size)."),
    atoms: Path = typer.Option(..., "--atoms", help="Atom table (CSV/Parquet) with x, y in pixels, e.g. from `rewardscope atoms`."),
    out: Path = typer.Option(..., "--out", help="Output folder: atoms.csv, classes.png, summary.json."),
    overwrite: bool = overwrite_option(),
    classes: int = option(ClassifyConfig, "classes"),
    window: str = option(ClassifyConfig, "window"),
    subclass: str | None = option(ClassifyConfig, "subclass"),
    pixel_size: str | None = option(ClassifyConfig, "pixel_size"),
    lattice: str | None = option(ClassifyConfig, "lattice"),
    seed: int = option(ClassifyConfig, "seed"),
    progress: bool = progress_option(),
) -> None:
    """Sort the atoms of IMAGE into classes (patches, PCA, Gaussian mixture); no labels needed."""
    check_output_path(out, inputs=[image, atoms], overwrite=overwrite)
    from rewardscope.report.classes import plot_classes
    from rewardscope.workflows.classify import classify_atoms

    result = classify_atoms(image, atoms, classes=classes, window=window, subclass=subclass,
                            pixel_size=pixel_size, lattice=lattice, seed=seed, progress=progress)
    result.summary["input"] = str(image)

    def write(tmp: Path) -> None:
        result.save(tmp)
        plot_classes(result.image, result.atoms, result.extras["mean_patches"], path=tmp / "classes.png",
                     pixel_size=result.pixel_size, lattice=lattice)

    write_outputs(out, write, inputs=[image, atoms], overwrite=overwrite)
    counts = ", ".join(f"{k}: {v}" for k, v in result.summary["class_counts"].items())
    console.print(f"{result.summary['n_atoms']} atoms in {classes} classes ({counts})")


@guard
def amorphous(
    image: Path = typer.Argument(..., help="Image file (with a pixel size, or give --pixel-size)."),
    out: Path = typer.Option(..., "--out", help="Output folder: mask.tif, overlay.png, pareto.png, pareto.csv, trials.csv, atoms.csv, summary.json."),
    overwrite: bool = overwrite_option(),
    atoms: Path | None = typer.Option(None, "--atoms", help="Atom table with x, y (pixels); default: LoG* on IMAGE with --lattice."),
    trials: int = option(AmorphousConfig, "study.trials"),
    lattice: str = option(AmorphousConfig, "lattice"),
    pixel_size: str | None = option(AmorphousConfig, "pixel_size"),
    sampler: str = option(AmorphousConfig, "study.sampler"),
    selection: str = option(AmorphousConfig, "study.selection", "--selection", "--select"),
    seed: int = option(AmorphousConfig, "study.seed"),
    atom_trials: int = option(AmorphousConfig, "atom_trials"),
    storage: str | None = option(AmorphousConfig, "study.storage"),
    study_name: str | None = option(AmorphousConfig, "study.study_name"),
    progress: bool = progress_option(),
) -> None:
    """Map amorphised regions of IMAGE: per-atom GMM probability, mask tuned by separation, per-region compactness and perimeter."""
    inputs = [image, atoms, storage_file(storage)]
    check_output_path(out, inputs=inputs, overwrite=overwrite)
    from rewardscope.report.amorphous import plot_amorphous
    from rewardscope.report.pareto import plot_pareto
    from rewardscope.workflows.amorphous import map_amorphous

    with print_warnings():  # of the LoG* atoms found when --atoms is not given
        result = map_amorphous(image, atoms=atoms, trials=trials, lattice=lattice, pixel_size=pixel_size,
                               sampler=sampler, selection=selection, seed=seed, atom_trials=atom_trials,
                               storage=storage, study_name=study_name, progress=progress)
    result.summary["input"] = str(image)

    def write(tmp: Path) -> None:
        result.save(tmp)
        plot_amorphous(result.image, result.mask, result.atoms, path=tmp / "overlay.png", pixel_size=result.pixel_size)
        plot_pareto(result.extras["study"], path=tmp / "pareto.png")

    write_outputs(out, write, inputs=inputs, overwrite=overwrite)
    s = result.summary
    console.print(f"{s['n_amorphous']} of {s['n_atoms']} atoms amorphous, area {100 * s['area_fraction']:.1f} %; "
                  + ", ".join(f"{k} = {v:.4g}" for k, v in s["best_values"].items()))


def register(app: typer.Typer) -> None:
    """Attach the ``classify`` and ``amorphous`` commands to the main app."""
    app.command("classify")(classify)
    app.command("amorphous")(amorphous)

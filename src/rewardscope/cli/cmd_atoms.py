"""``rewardscope atoms IMAGE --out DIR``: reward-driven atom finding (LoG*, plain LoG, DCNN)."""

from __future__ import annotations

from pathlib import Path

import typer

from rewardscope.cli.common import console, guard, overwrite_option, storage_file, write_outputs
from rewardscope.cli.feedback import print_warnings, progress_option
from rewardscope.cli.inputs import signal_option
from rewardscope.cli.options import option
from rewardscope.io.output import check_output_path
from rewardscope.workflows.atoms import AtomsConfig


@guard
def atoms(
    image: Path = typer.Argument(..., help="HAADF-STEM image (.tif, .dm4, .emd, .npy, ...)."),
    out: Path = typer.Option(..., "--out", help="Output folder: atoms.csv, trials.csv, pareto.csv, summary.json, overlay.png, pareto.png."),
    overwrite: bool = overwrite_option(),
    lattice: str | None = option(AtomsConfig, "lattice"),
    cif: str | None = option(AtomsConfig, "cif"),
    zone: tuple[int, int, int] | None = typer.Option(None, "--zone", help="Zone axis U V W for --cif.", show_default=False),
    pixel_size: str | None = option(AtomsConfig, "pixel_size"),
    signal: int | None = signal_option(),
    method: str = option(AtomsConfig, "method"),
    trials: int = option(AtomsConfig, "trials"),
    sampler: str = option(AtomsConfig, "sampler"),
    select: str = option(AtomsConfig, "select"),
    seed: int = option(AtomsConfig, "seed"),
    n_expected: float | None = option(AtomsConfig, "n_expected"),
    oracle: str | None = typer.Option(None, "--oracle", help="dcnn: the network's atom count replaces the expected count in QC, and the result is scored (F1) against the network's atoms."),
    ensemble: int = option(AtomsConfig, "ensemble"),
    er_factor: float = option(AtomsConfig, "er_factor"),
    lattice_prior: bool = option(AtomsConfig, "lattice_prior", "--lattice-prior/--no-lattice-prior"),
    displacement_sigma: str = option(AtomsConfig, "displacement_sigma"),
    vacancy_prior: float = option(AtomsConfig, "vacancy_prior"),
    storage: str | None = option(AtomsConfig, "storage"),
    study_name: str | None = option(AtomsConfig, "study_name"),
    strict: bool = option(AtomsConfig, "strict", "--strict/--no-strict"),
    progress: bool = progress_option(),
) -> None:
    """Find atomic columns in IMAGE; LoG* tunes the LoG parameters by multi-objective Bayesian optimization."""
    inputs = [image, cif, storage_file(storage)]
    check_output_path(out, inputs=inputs, overwrite=overwrite)
    from rewardscope.io import read_image
    from rewardscope.report.atoms import plot_atoms
    from rewardscope.report.pareto import plot_pareto
    from rewardscope.workflows.atoms import find_atoms

    img = read_image(image, pixel_size=pixel_size, signal=signal)
    if method == "dcnn" and lattice is None and cif is None:
        _dcnn_without_lattice(img, out, ensemble=ensemble, overwrite=overwrite, progress=progress)
        return
    from rewardscope.workflows.atoms_dcnn import find_atoms_with_oracle

    run = find_atoms if oracle is None else lambda *a, **k: find_atoms_with_oracle(*a, oracle=oracle, **k)
    with print_warnings():
        result = run(img, lattice=lattice, cif=cif, zone=zone, pixel_size=pixel_size, method=method, strict=strict,
                     trials=trials, sampler=sampler, select=select, seed=seed, n_expected=n_expected,
                     er_factor=er_factor, lattice_prior=lattice_prior, displacement_sigma=displacement_sigma,
                     vacancy_prior=vacancy_prior, storage=storage, study_name=study_name, progress=progress,
                     ensemble=ensemble)
    result.summary["input"] = str(image)

    def write(tmp: Path) -> None:
        result.save(tmp)
        plot_atoms(result.image, result.atoms, path=tmp / "overlay.png",
                   title=f"{result.summary['n_atoms']} atoms (expected {result.summary['n_expected']:.0f})",
                   pixel_size=result.pixel_size)
        plot_pareto(result.study, path=tmp / "pareto.png")

    write_outputs(out, write, inputs=inputs, overwrite=overwrite)
    s = result.summary
    console.print(f"{s['n_atoms']} atoms (expected {s['n_expected']:.0f}); "
                  + ", ".join(f"{k} = {v:.4g}" for k, v in s["objectives"].items())
                  + f"; {s['seconds']['total']:.1f} s"
                  + (f"; F1 against the {s['oracle']} oracle ({s['oracle_count']} atoms) = {s['oracle_f1']:.4f}"
                     if "oracle" in s else ""))
    if "lattice_prior" in s:
        lp = s["lattice_prior"]
        console.print(f"lattice prior: {lp['n_present']} of {lp['n_sites']} sites hold a column "
                      f"({lp['n_added']} added, {lp['n_dropped_empty_site']} judged empty, "
                      f"{lp['n_dropped_off_lattice']} off-lattice detections dropped); displacement spread "
                      f"{lp['displacement_sigma_px']:.2f} px")


def _dcnn_without_lattice(img: object, out: Path, *, ensemble: int, overwrite: bool, progress: bool) -> None:
    """``--method dcnn`` with no lattice: the network alone (no rewards to report)."""
    from rewardscope.detect.dcnn import find_atoms_dcnn
    from rewardscope.io import as_image
    from rewardscope.report.atoms import plot_atoms
    from rewardscope.result import Result

    arr = as_image(img.data)
    found = find_atoms_dcnn(arr, pixel_size=img.pixel_size, ensemble=ensemble, progress=progress)
    result = Result(tables={"atoms": found.atoms}, image=arr, pixel_size=img.pixel_size,
                    summary={"method": "dcnn", "lattice": None, "n_atoms": int(len(found.atoms)),
                             "ensemble": ensemble, "seconds": found.seconds, "input": str(img.path)})

    def write(tmp: Path) -> None:
        result.save(tmp)
        plot_atoms(arr, found.atoms, path=tmp / "overlay.png", title=f"DCNN: {len(found.atoms)} atoms",
                   pixel_size=img.pixel_size)

    write_outputs(out, write, inputs=[img.path], overwrite=overwrite)
    console.print(f"{len(found.atoms)} atoms (DCNN, no lattice given: no rewards computed); {found.seconds:.2f} s")


def register(app: typer.Typer) -> None:
    """Attach the ``atoms`` command to the main app."""
    app.command("atoms")(atoms)

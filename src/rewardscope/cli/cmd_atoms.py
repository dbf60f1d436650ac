"""``rewardscope atoms IMAGE... --out DIR``: reward-driven atom finding (LoG*, plain LoG, DCNN).

The flags build one :class:`~rewardscope.workflows.atoms.AtomsConfig` (its fields give
every default and help text); the command calls the API with it and saves the result.
Several images run in one process (:func:`~rewardscope.workflows.atoms.find_atoms_batch`:
each warm-started from the previous one) into one subfolder each of DIR (tables and
``summary.json``; the figures only with ``--figures``), plus ``summary.csv`` with one row per image.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Any

import typer

from rewardscope.cli.common import console, guard, overwrite_option, storage_file, write_outputs
from rewardscope.cli.feedback import print_warnings, progress_option
from rewardscope.cli.inputs import signal_option
from rewardscope.cli.options import option
from rewardscope.cli.windows import (overlap_option, run_windowed_atoms, scheduler_option, window_option,
                                     window_settings, workers_option)
from rewardscope.config import make_config
from rewardscope.io.output import check_output_path
from rewardscope.optimize.settings import StudySettings
from rewardscope.workflows.atoms_config import AtomsConfig


@guard
def atoms(
    ctx: typer.Context,
    images: list[Path] = typer.Argument(..., help="HAADF-STEM image(s) (.tif, .dm4, .emd, .npy, ...). Several: one "
                                        "process, each warm-started from the previous one, one subfolder each; "
                                        "with --scheduler, the images after the first are dask tasks, each "
                                        "warm-started from the first."),
    out: Path = typer.Option(..., "--out", help="Output folder: atoms.csv, trials.csv, pareto.csv, summary.json, overlay.png, pareto.png (several images: one subfolder each, figures only with --figures, and summary.csv)."),
    overwrite: bool = overwrite_option(),
    figures: bool | None = typer.Option(None, "--figures/--no-figures", show_default=False,
                                        help="Draw overlay.png and pareto.png. Default: on for one IMAGE, off for "
                                        "several (figures cost more than the warm-started study of a frame)."),
    lattice: str | None = option(AtomsConfig, "lattice"),
    cif: str | None = option(AtomsConfig, "cif"),
    zone: tuple[int, int, int] | None = option(AtomsConfig, "zone", show_default=False),
    pixel_size: str | None = option(AtomsConfig, "pixel_size"),
    signal: int | None = signal_option(),
    method: str = option(AtomsConfig, "method"),
    trials: int = option(StudySettings, "trials"),
    warm_trials: int = option(AtomsConfig, "warm_trials"),
    sampler: str = option(StudySettings, "sampler"),
    selection: str = option(StudySettings, "selection", "--selection", "--select"),
    seed: int = option(StudySettings, "seed"),
    n_expected: float | None = option(AtomsConfig, "n_expected"),
    oracle: str | None = typer.Option(None, "--oracle", help="dcnn: the network's atom count replaces the expected count in QC, and the result is scored (F1) against the network's atoms."),
    ensemble: int = option(AtomsConfig, "ensemble"),
    er_factor: float = option(AtomsConfig, "er_factor"),
    lattice_prior: bool = option(AtomsConfig, "lattice_prior", "--lattice-prior/--no-lattice-prior"),
    displacement_sigma: str = option(AtomsConfig, "displacement_sigma"),
    vacancy_prior: float = option(AtomsConfig, "vacancy_prior"),
    storage: str | None = option(StudySettings, "storage"),
    study_name: str | None = option(StudySettings, "study_name"),
    strict: bool = option(AtomsConfig, "strict", "--strict/--no-strict"),
    window: str | None = window_option(),
    overlap: str = overlap_option(),
    scheduler: str = scheduler_option(),
    workers: int | None = workers_option(),
    progress: bool = progress_option(),
) -> None:
    """Find atomic columns in IMAGE; LoG* tunes the LoG parameters by multi-objective Bayesian optimization."""
    inputs = [*images, cif, storage_file(storage)]
    check_output_path(out, inputs=inputs, overwrite=overwrite)
    cfg = make_config(AtomsConfig, lattice=lattice, cif=cif, zone=zone, pixel_size=pixel_size, method=method,
                      trials=trials, sampler=sampler, selection=selection, seed=seed, n_expected=n_expected,
                      ensemble=ensemble, er_factor=er_factor, lattice_prior=lattice_prior,
                      displacement_sigma=displacement_sigma, vacancy_prior=vacancy_prior, storage=storage,
                      study_name=study_name, strict=strict, warm_trials=warm_trials)
    windows = window_settings(window, overlap, scheduler, workers)
    if len(images) > 1:
        source = ctx.get_parameter_source("scheduler")  # the batch is one chain unless --scheduler is given
        given = getattr(source, "name", "") == "COMMANDLINE"
        _batch(images, out, cfg, signal=signal, inputs=inputs, overwrite=overwrite, progress=progress,
               figures=bool(figures), single_only={"--window": windows, "--oracle": oracle, "--storage": storage},
               scheduler=_checked(scheduler) if given else None, workers=workers)
        return
    if windows is None and not (cfg.method == "dcnn" and cfg.lattice is None and cfg.cif is None):
        _single(images[0], out, cfg, signal=signal, oracle=oracle, inputs=inputs, overwrite=overwrite,
                progress=progress, figures=figures is not False)
        return
    inp = _load(images[0], cfg, signal)
    if windows is not None:
        run_windowed_atoms(inp, cfg, windows, oracle=oracle, out=out, inputs=inputs, overwrite=overwrite,
                           progress=progress)
        return
    _dcnn_without_lattice(inp, out, cfg, overwrite=overwrite, progress=progress)


def _load(image: Path, cfg: AtomsConfig, signal: int | None) -> Any:
    from rewardscope.io.load import load_input

    return load_input(image, cfg.pixel_size, signal=signal)


def _single(image: Path, out: Path, cfg: AtomsConfig, *, signal: int | None, oracle: str | None,
            inputs: list[Any], overwrite: bool, progress: bool, figures: bool) -> None:
    """One image, one study; the figures are drawn by a second process while the study runs."""
    from rewardscope.report.concurrent import FigureProcess
    from rewardscope.workflows.base import on_study

    with FigureProcess(preload=_PLOTS, enabled=figures) as drawer:  # started first: its imports overlap ours
        inp = _load(image, cfg, signal)
        with print_warnings(), on_study(lambda study: _submit_pareto(drawer, study) if drawer.concurrent else None):
            result = _find(inp, cfg, oracle=oracle, progress=progress)
        result.summary["input"] = str(image)
        write_outputs(out, lambda tmp: save_atoms(result, tmp, figures=figures, drawer=drawer), inputs=inputs,
                      overwrite=overwrite)
    _print_summary(result.summary)


def _find(inp: Any, cfg: AtomsConfig, *, oracle: str | None, progress: bool) -> Any:
    """The API call: :func:`find_atoms`, or with ``--oracle`` :func:`find_atoms_with_oracle`."""
    if oracle is None:
        from rewardscope.workflows.atoms import find_atoms

        return find_atoms(inp, config=cfg, progress=progress)
    from rewardscope.workflows.atoms import find_atoms_with_oracle

    return find_atoms_with_oracle(inp, oracle=oracle, config=cfg, progress=progress)


#: The plotting modules of ``atoms``: the figure process imports them while the study runs.
_PLOTS = ("rewardscope.report.atoms", "rewardscope.report.pareto")


def _submit_pareto(drawer: Any, study: Any) -> None:
    """``pareto.png`` of ``study`` (sent without its Optuna study: the plot reads the tables)."""
    drawer.submit("pareto.png", "rewardscope.report.pareto:plot_pareto", dataclasses.replace(study, study=None))


def save_atoms(result: Any, folder: Path, *, title: str | None = None, figures: bool = True,
               drawer: Any = None) -> None:
    """The result's tables and summary; with ``figures`` the overlay (``title``; default: found and expected counts) and the Pareto plot.

    ``drawer``: a :class:`~rewardscope.report.concurrent.FigureProcess` that draws them (and may
    have the Pareto plot on its way already); default: drawn here.
    """
    from rewardscope.report.concurrent import FigureProcess

    result.save(folder)
    if not figures:
        return
    with contextlib.nullcontext(drawer) if drawer is not None else FigureProcess(enabled=False) as d:
        if not d.submitted("pareto.png"):
            _submit_pareto(d, result.study)
        s = result.summary
        d.submit("overlay.png", "rewardscope.report.atoms:plot_atoms", result.image, result.atoms,
                 title=title or f"{s['n_atoms']} atoms (expected {s['n_expected']:.0f})", pixel_size=result.pixel_size)
        d.collect(folder)


def _checked(scheduler: str) -> str:
    from rewardscope.parallel import check_scheduler

    return check_scheduler(scheduler)


def _batch(images: list[Path], out: Path, cfg: AtomsConfig, *, signal: int | None, inputs: list[Any],
           overwrite: bool, progress: bool, figures: bool, single_only: dict[str, Any], scheduler: str | None = None,
           workers: int | None = None) -> None:
    """Several images: a subfolder per image (its stem; figures only with ``figures``) and ``summary.csv``.

    One chain in this process, or with ``scheduler`` dask tasks (:func:`~rewardscope.workflows.atoms.find_atoms_batch`).
    """
    from rewardscope.errors import ParameterError

    given = [flag for flag, value in single_only.items() if value is not None]
    if given:
        raise ParameterError(f"{', '.join(given)} takes one IMAGE, got {len(images)}")
    if cfg.lattice is None and cfg.cif is None:
        raise ParameterError("several images need a lattice: pass --lattice NAME or --cif FILE --zone U V W")
    from rewardscope.io.load import load_input
    from rewardscope.io.read import check_exists
    from rewardscope.io.write import write_table
    from rewardscope.workflows.atoms import find_atoms_batch

    for path in images:  # a missing file fails before the first image's study, not after it
        check_exists(path)
    names = _subfolders(images)

    def write(tmp: Path) -> None:
        rows = []
        sources = (load_input(path, cfg.pixel_size, signal=signal) for path in images)
        with print_warnings():
            results = find_atoms_batch(sources, config=cfg, progress=progress, scheduler=scheduler, workers=workers)
            for path, name, result in zip(images, names, results, strict=True):
                result.summary["input"] = str(path)
                save_atoms(result, tmp / name, figures=figures)
                s = result.summary
                rows.append({"file": str(path), "folder": name, "n_atoms": s["n_atoms"],
                             "n_expected": round(s["n_expected"], 2), **s["best_values"],
                             "trials": s["n_trials"], "warm_started": s["warm_started"],
                             "seconds": round(s["seconds"]["total"], 3), "warnings": len(s["warnings"])})
                console.print(f"{name}: {s['n_atoms']} atoms (expected {s['n_expected']:.0f}), "
                              f"{s['n_trials']} trials, {s['seconds']['total']:.2f} s")
        import pandas as pd

        write_table(tmp / "summary.csv", pd.DataFrame(rows))

    write_outputs(out, write, inputs=inputs, overwrite=overwrite)


def _subfolders(paths: list[Path]) -> list[str]:
    """One folder name per input: its stem, with ``-2``, ``-3``, ... when stems repeat.

    Examples
    --------
    >>> _subfolders([Path("a/f.tif"), Path("b/f.tif"), Path("g.npy")])
    ['f', 'f-2', 'g']
    """
    seen: dict[str, int] = {}
    out = []
    for p in paths:
        stem = p.stem or "image"
        seen[stem] = seen.get(stem, 0) + 1
        out.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return out


def _print_summary(s: dict[str, Any]) -> None:
    """One line of counts, reward values and time (and the oracle's F1); one for the lattice prior."""
    console.print(f"{s['n_atoms']} atoms (expected {s['n_expected']:.0f}); "
                  + ", ".join(f"{k} = {v:.4g}" for k, v in s["best_values"].items())
                  + f"; {s['seconds']['total']:.1f} s"
                  + (f"; F1 against the {s['oracle']} oracle ({s['oracle_count']} atoms) = {s['oracle_f1']:.4f}"
                     if "oracle" in s else ""))
    if "lattice_prior" in s:
        lp = s["lattice_prior"]
        console.print(f"lattice prior: {lp['n_present']} of {lp['n_sites']} sites hold a column "
                      f"({lp['n_added']} added, {lp['n_dropped_empty_site']} judged empty, "
                      f"{lp['n_dropped_off_lattice']} off-lattice detections dropped); displacement spread "
                      f"{lp['displacement_sigma_px']:.2f} px")


def _dcnn_without_lattice(inp: Any, out: Path, cfg: AtomsConfig, *, overwrite: bool, progress: bool) -> None:
    """``--method dcnn`` with no lattice: the network alone (no rewards to report)."""
    from rewardscope.detect.dcnn import find_atoms_dcnn
    from rewardscope.report.atoms import plot_atoms
    from rewardscope.result import Result

    found = find_atoms_dcnn(inp.image, pixel_size=inp.pixel_size, ensemble=cfg.ensemble, progress=progress)
    result = Result(tables={"atoms": found.atoms}, image=inp.image, pixel_size=inp.pixel_size,
                    summary={"method": "dcnn", "lattice": None, "n_atoms": int(len(found.atoms)),
                             "ensemble": cfg.ensemble, "seconds": found.seconds, "input": str(inp.path)})

    def write(tmp: Path) -> None:
        result.save(tmp)
        plot_atoms(inp.image, found.atoms, path=tmp / "overlay.png", title=f"DCNN: {len(found.atoms)} atoms",
                   pixel_size=inp.pixel_size)

    write_outputs(out, write, inputs=[inp.path], overwrite=overwrite)
    console.print(f"{len(found.atoms)} atoms (DCNN, no lattice given: no rewards computed); {found.seconds:.2f} s")


def register(app: typer.Typer) -> None:
    """Attach the ``atoms`` command to the main app."""
    app.command("atoms")(atoms)

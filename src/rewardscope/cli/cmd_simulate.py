"""``rewardscope simulate ...``: synthetic data with exact ground truth."""

from __future__ import annotations

from pathlib import Path

import typer

from rewardscope.cli.common import guard, overwrite_option, write_outputs
from rewardscope.cli.options import option
from rewardscope.io.output import check_output_path
from rewardscope.simulate.haadf_config import HaadfConfig

simulate_app = typer.Typer(no_args_is_help=True, help="Simulate images and movies with exact ground truth.")


def save_haadf(sim: object, folder: Path) -> None:
    """Write a simulated HAADF image, its truth table and amorphous mask into ``folder``."""
    from rewardscope.io import write_json, write_table, write_tiff

    write_tiff(folder / "image.tif", sim.image, pixel_size=sim.pixel_size)
    write_table(folder / "truth.csv", sim.truth[["x", "y", "species", "amorphous"]])
    write_tiff(folder / "amorphous_mask.tif", sim.amorphous_mask.astype("uint8"), pixel_size=sim.pixel_size)
    write_json(folder / "summary.json", {"config": sim.config.model_dump(), "n_columns": len(sim.truth),
                                         "lattice": sim.crystal.name})


@simulate_app.command("haadf")
@guard
def haadf(
    out: Path = typer.Option(..., "--out", help="Output folder (image.tif, truth.csv, amorphous_mask.tif, summary.json)."),
    overwrite: bool = overwrite_option(),
    lattice: str = option(HaadfConfig, "lattice"),
    pixel_size: str = option(HaadfConfig, "pixel_size"),
    size: int = option(HaadfConfig, "size"),
    noise: float = option(HaadfConfig, "noise"),
    dose: float | None = option(HaadfConfig, "dose"),
    rotation_deg: float = option(HaadfConfig, "rotation_deg", "--rotation"),
    probe_fwhm_angstrom: float = option(HaadfConfig, "probe_fwhm_angstrom", "--probe-fwhm"),
    scan_distortion_px: float = option(HaadfConfig, "scan_distortion_px", "--scan-distortion"),
    amorphous_fraction: float = option(HaadfConfig, "amorphous_fraction", "--amorphous"),
    vacancy_fraction: float = option(HaadfConfig, "vacancy_fraction", "--vacancies"),
    seed: int = option(HaadfConfig, "seed"),
) -> None:
    """Simulate a HAADF-STEM image with exact column positions (truth.csv: x, y, species, amorphous)."""
    params = dict(locals())
    del params["out"], params["overwrite"]
    check_output_path(out, overwrite=overwrite)
    from rewardscope.simulate import simulate_haadf

    sim = simulate_haadf(**params)
    write_outputs(out, lambda tmp: save_haadf(sim, tmp), overwrite=overwrite)


def register(app: typer.Typer) -> None:
    """Attach the ``simulate`` command group to the main app."""
    app.add_typer(simulate_app, name="simulate")

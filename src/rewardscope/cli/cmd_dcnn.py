"""``rewardscope atoms-dcnn FILES... --out DIR``: the shipped atom network over many files."""

from __future__ import annotations

from pathlib import Path

import typer

from rewardscope.cli.common import console, guard, overwrite_option, write_outputs
from rewardscope.cli.feedback import progress_option
from rewardscope.cli.options import option
from rewardscope.io.output import check_output_path
from rewardscope.workflows.atoms_dcnn_config import DcnnFilesConfig


@guard
def atoms_dcnn(
    files: list[Path] = typer.Argument(..., help="Images or stacks (any size; large ones are tiled)."),
    out: Path = typer.Option(..., "--out", help="Output folder: <file stem>.csv per input (frame, x, y, probability, ...), summary.json."),
    overwrite: bool = overwrite_option(),
    pixel_size: str | None = option(DcnnFilesConfig, "pixel_size"),
    ensemble: int = option(DcnnFilesConfig, "ensemble"),
    threshold: float = option(DcnnFilesConfig, "threshold"),
    device: str = option(DcnnFilesConfig, "device"),
    batch_size: int = option(DcnnFilesConfig, "batch_size"),
    progress: bool = progress_option(),
) -> None:
    """Find atomic columns with the DCNN in every FILE, batching images of equal shape; no lattice needed."""
    import time

    check_output_path(out, inputs=files, overwrite=overwrite)
    from rewardscope.config import make_config
    from rewardscope.errors import ParameterError
    from rewardscope.io import write_json, write_table
    from rewardscope.workflows.atoms_dcnn import find_atoms_dcnn_files

    cfg = make_config(DcnnFilesConfig, pixel_size=pixel_size, ensemble=ensemble, threshold=threshold, device=device,
                      batch_size=batch_size)
    stems = [f.stem for f in files]
    if len(set(stems)) < len(stems):
        raise ParameterError("input files must have distinct names (one CSV per file stem)")
    t0 = time.perf_counter()
    tables = find_atoms_dcnn_files(files, config=cfg, progress=progress)
    seconds = time.perf_counter() - t0

    def write(tmp: Path) -> None:
        for path, table in tables.items():
            write_table(tmp / f"{Path(path).stem}.csv", table)
        write_json(tmp / "summary.json", {"files": {p: int(len(t)) for p, t in tables.items()}, "seconds": seconds,
                                          **cfg.model_dump(mode="json", include={"ensemble", "threshold",
                                                                                 "pixel_size"})})

    write_outputs(out, write, inputs=files, overwrite=overwrite)
    console.print(f"{sum(len(t) for t in tables.values())} atoms in {len(tables)} files; {seconds:.1f} s")


def register(app: typer.Typer) -> None:
    """Attach the ``atoms-dcnn`` command to the main app."""
    app.command("atoms-dcnn")(atoms_dcnn)

"""``rewardscope train ...``: reproduce the shipped networks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from rewardscope.cli.common import console, guard
from rewardscope.cli.feedback import progress_option
from rewardscope.cli.options import option
from rewardscope.detect.dcnn.recipe import TrainConfig
from rewardscope.io.output import OutputFile, check_output_file

train_app = typer.Typer(no_args_is_help=True, help="Train the networks shipped with rewardscope (simulated data only).")


@train_app.command("atoms-dcnn")
@guard
def atoms_dcnn(
    out: Path = typer.Option(..., "--out", help="Weights file to write, e.g. atoms_dcnn.pt."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace --out if it holds rewardscope weights."),
    steps: int = option(TrainConfig, "steps"),
    batch_size: int = option(TrainConfig, "batch_size", "--batch-size"),
    pool: int = option(TrainConfig, "pool"),
    crop: int = option(TrainConfig, "crop"),
    lr: float = option(TrainConfig, "lr"),
    seed: int = option(TrainConfig, "seed"),
    device: str = option(TrainConfig, "device"),
    threads: int = option(TrainConfig, "threads"),
    log_every: int = typer.Option(50, "--log-every", help="Print the mean loss every N steps."),
    progress: bool = progress_option(),
) -> None:
    """Train the atom U-Net on simulated HAADF images and write its weights to OUT."""
    import numpy as np

    from rewardscope.detect.dcnn.model import load_model, save_model
    from rewardscope.detect.dcnn.training import train_atom_unet

    if out.suffix != ".pt":
        from rewardscope.errors import ParameterError

        raise ParameterError(f"--out must end in .pt, got {out}")
    if check_output_file(out, overwrite=overwrite).exists():
        _check_ours(out, load_model)
    window: list[float] = []

    def print_loss(step: int, loss: float) -> None:
        window.append(loss)
        if step % log_every == 0 or step == steps:
            console.print(f"step {step}/{steps} loss {np.mean(window):.4f}")
            window.clear()

    res = train_atom_unet(steps=steps, batch_size=batch_size, pool=pool, crop=crop, lr=lr, seed=seed,
                          device=device, threads=threads, progress=progress, on_loss=print_loss)
    with OutputFile(out, overwrite=overwrite) as tmp:
        save_model(res.model, tmp)
    console.print(f"[green]wrote[/green] {out} ({out.stat().st_size / 1e6:.2f} MB) in {res.seconds:.0f} s")


def _check_ours(out: Path, load_model: Callable[[Path], object]) -> None:
    """Refuse to replace a file that does not hold rewardscope weights."""
    from rewardscope.errors import FileFormatError

    try:
        load_model(out)
    except FileFormatError:
        raise FileFormatError(f"--overwrite: {out} does not hold rewardscope weights; it is left as it is") from None


def register(app: typer.Typer) -> None:
    """Attach the ``train`` command group to the main app."""
    app.add_typer(train_app, name="train")

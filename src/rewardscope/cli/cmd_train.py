"""``rewardscope train ...``: reproduce the shipped networks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from rewardscope.cli.common import console, guard
from rewardscope.cli.feedback import progress_option
from rewardscope.cli.options import option
from rewardscope.detect.dcnn.recipe import TrainConfig
from rewardscope.io.output import OutputFile, check_output_file
from rewardscope.segment.recipes import AETrainConfig, UNetTrainConfig

train_app = typer.Typer(no_args_is_help=True, help="Train rewardscope's networks: the shipped atom DCNN (simulated "
                        "data), the particle U-Net (images + masks), the autoencoder (your own frames).")


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
    from rewardscope.detect.dcnn.model import load_model, save_model
    from rewardscope.detect.dcnn.training import train_atom_unet

    _weights_out(out, overwrite, load_model)
    res = train_atom_unet(steps=steps, batch_size=batch_size, pool=pool, crop=crop, lr=lr, seed=seed,
                          device=device, threads=threads, progress=progress, on_loss=_loss_printer(steps, log_every))
    with OutputFile(out, overwrite=overwrite) as tmp:
        save_model(res.model, tmp)
    console.print(f"[green]wrote[/green] {out} ({out.stat().st_size / 1e6:.2f} MB) in {res.seconds:.0f} s")


def _weights_out(out: Path, overwrite: bool, load: Callable[[Path], object]) -> None:
    """Check ``--out`` (a new ``.pt`` file, or one of ours with ``--overwrite``) before any work."""
    if out.suffix != ".pt":
        from rewardscope.errors import ParameterError

        raise ParameterError(f"--out must end in .pt, got {out}")
    if check_output_file(out, overwrite=overwrite).exists():
        _check_ours(out, load)


def _loss_printer(total: int, log_every: int) -> Callable[[int, float], None]:
    """``on_loss`` that prints the mean loss every ``log_every`` steps."""
    import numpy as np

    window: list[float] = []

    def print_loss(step: int, loss: float) -> None:
        window.append(loss)
        if step % log_every == 0 or step == total:
            console.print(f"step {step}/{total} loss {np.mean(window):.4f}")
            window.clear()

    return print_loss


def _any_segmenter(path: Path) -> object:
    from rewardscope.nn.weights import load_weights
    from rewardscope.segment.networks import FORMAT

    return load_weights(path, format=FORMAT, what="rewardscope segmenter weights")


def _write_segmenter(res: Any, out: Path, overwrite: bool) -> None:
    from rewardscope.segment.networks import save_segmenter

    with OutputFile(out, overwrite=overwrite) as tmp:
        save_segmenter(res.model, tmp)
    console.print(f"[green]wrote[/green] {out} ({out.stat().st_size / 1e6:.2f} MB, "
                  f"{res.model.meta['n_parameters']} weights) in {res.seconds:.0f} s")


@train_app.command("segment-unet")
@guard
def segment_unet(
    images: Path = typer.Option(..., "--images", help="Folder of training images (PNG, TIFF, ...)."),
    masks: Path = typer.Option(..., "--masks", help="Folder of their masks (white = particle), matched by name "
                               "(image_3.png <-> label_3.png)."),
    out: Path = typer.Option(..., "--out", help="Weights file to write, e.g. particles_unet.pt."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace --out if it holds rewardscope weights."),
    steps: int = option(UNetTrainConfig, "steps"),
    batch_size: int = option(UNetTrainConfig, "batch_size", "--batch-size"),
    crop: int = option(UNetTrainConfig, "crop"),
    lr: float = option(UNetTrainConfig, "lr"),
    blur_sigma: str = option(UNetTrainConfig, "blur_sigma_px", "--blur-sigma"),
    polarity: str = option(UNetTrainConfig, "polarity"),
    seed: int = option(UNetTrainConfig, "seed"),
    device: str = option(UNetTrainConfig, "device"),
    threads: int = option(UNetTrainConfig, "threads"),
    log_every: int = typer.Option(50, "--log-every", help="Print the mean loss every N steps."),
    progress: bool = progress_option(),
) -> None:
    """Train the supervised particle U-Net (Dice + BCE, crops/rotations/flips/jitter) on IMAGES with MASKS."""
    from rewardscope.cli.feedback import print_warnings
    from rewardscope.segment.dataset import read_frames
    from rewardscope.segment.unet import train_segment_unet

    _weights_out(out, overwrite, _any_segmenter)
    sigma: Any = blur_sigma if blur_sigma == "auto" else _number(blur_sigma, "--blur-sigma")
    with print_warnings():
        frames = read_frames(images, masks=masks)
    res = train_segment_unet(frames, steps=steps, batch_size=batch_size, crop=crop, lr=lr, blur_sigma_px=sigma,
                             polarity=polarity, seed=seed, device=device, threads=threads, progress=progress,
                             on_loss=_loss_printer(steps, log_every))
    _write_segmenter(res, out, overwrite)


@train_app.command("segment-ae")
@guard
def segment_ae(
    source: list[Path] = typer.Argument(..., help="Images, a folder of images, or a movie (your own frames; "
                                        "no labels)."),
    out: Path = typer.Option(..., "--out", help="Weights file to write, e.g. model.pt."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace --out if it holds rewardscope weights."),
    epochs: int = option(AETrainConfig, "epochs"),
    crops_per_frame: int = option(AETrainConfig, "crops_per_frame", "--crops-per-frame"),
    batch_size: int = option(AETrainConfig, "batch_size", "--batch-size"),
    crop: int = option(AETrainConfig, "crop"),
    lr: float = option(AETrainConfig, "lr"),
    seed: int = option(AETrainConfig, "seed"),
    device: str = option(AETrainConfig, "device"),
    threads: int = option(AETrainConfig, "threads"),
    log_every: int = typer.Option(50, "--log-every", help="Print the mean loss every N steps."),
    progress: bool = progress_option(),
) -> None:
    """Train the label-free convolutional autoencoder on your own images or movie frames."""
    from rewardscope.cli.feedback import print_warnings
    from rewardscope.config import make_config
    from rewardscope.segment.autoencoder import steps_per_epoch, train_autoencoder
    from rewardscope.segment.dataset import read_frames

    _weights_out(out, overwrite, _any_segmenter)
    with print_warnings():
        frames = read_frames(source)
    cfg = make_config(AETrainConfig, None, epochs=epochs, crops_per_frame=crops_per_frame, batch_size=batch_size,
                      crop=crop, lr=lr, seed=seed, device=device, threads=threads)
    res = train_autoencoder(frames, cfg, progress=progress,
                            on_loss=_loss_printer(epochs * steps_per_epoch(len(frames), cfg), log_every))
    _write_segmenter(res, out, overwrite)


def _number(text: str, flag: str) -> float:
    try:
        return float(text)
    except ValueError:
        from rewardscope.errors import ParameterError

        raise ParameterError(f"{flag} must be a number of px or 'auto', got {text!r}") from None


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

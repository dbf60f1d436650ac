"""``rewardscope dataset IMAGES|MOVIE --out DIR``: training crops (with masks) as TIFFs plus an index."""

from __future__ import annotations

from pathlib import Path

import typer

from rewardscope.cli.common import console, guard, overwrite_option, write_outputs
from rewardscope.cli.feedback import print_warnings
from rewardscope.cli.options import option
from rewardscope.io.output import check_output_path
from rewardscope.segment.dataset_config import DatasetConfig


@guard
def dataset(
    source: list[Path] = typer.Argument(..., help="Images, a folder of images, or a movie file."),
    out: Path = typer.Option(..., "--out", help="Output folder: images/crop_NNNNN.tif, masks/crop_NNNNN.tif "
                             "(with --masks), index.csv (crop, frame, source, y0, x0, rotation, flip, jitter)."),
    overwrite: bool = overwrite_option(),
    masks: Path | None = typer.Option(None, "--masks", help="Folder of masks (white = particle), matched to the "
                                      "images by name (image_3.png <-> label_3.png); same shapes."),
    crop: int = option(DatasetConfig, "crop"),
    stride: int = option(DatasetConfig, "stride"),
    rotations: int = option(DatasetConfig, "rotations"),
    flips: bool = typer.Option(DatasetConfig.model_fields["flips"].default, "--flips/--no-flips",
                               help=DatasetConfig.model_fields["flips"].description),
    jitter: float = option(DatasetConfig, "jitter"),
    seed: int = option(DatasetConfig, "seed"),
) -> None:
    """Cut IMAGES or a MOVIE's frames into crops, rotations and flips (what training uses in memory)."""
    inputs = [*source, masks]
    check_output_path(out, inputs=inputs, overwrite=overwrite)
    from rewardscope.config import make_config
    from rewardscope.segment.dataset import make_crops, read_frames, write_dataset

    cfg = make_config(DatasetConfig, None, crop=crop, stride=stride, rotations=rotations, flips=flips,
                      jitter=jitter, seed=seed)
    with print_warnings():
        frames = read_frames(source, masks=masks)
    crops = make_crops(frames, cfg)
    write_outputs(out, lambda tmp: write_dataset(crops, tmp), inputs=inputs, overwrite=overwrite)
    console.print(f"{len(crops.index)} crops of {cfg.crop} px from {len(frames)} frames"
                  + (" with masks" if crops.masks is not None else ""))


def register(app: typer.Typer) -> None:
    """Attach the ``dataset`` command to the main app."""
    app.command("dataset")(dataset)

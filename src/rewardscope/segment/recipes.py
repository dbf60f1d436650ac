"""Training recipes of the learned segmenters, kept free of torch.

The CLI builds ``rewardscope train segment-unet`` / ``segment-ae`` options from these models
when it starts (one source of defaults for the API and the CLI); keeping them apart from
:mod:`rewardscope.segment.unet` and :mod:`rewardscope.segment.autoencoder` means no command
pays torch's import time unless it trains or runs a network.

Examples
--------
>>> UNetTrainConfig().steps, AETrainConfig().epochs
(300, 6)
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: Channels per level of the shipped particle U-Net.
UNET_CHANNELS = (8, 16, 32, 32)
#: Channels of the autoencoder's two encoder levels (7x7 convolutions, as in the MLforEM tutorial).
AE_CHANNELS = (8, 20)


class UNetTrainConfig(BaseModel):
    """Recipe of the supervised particle U-Net (defaults reproduce the shipped weights)."""

    model_config = ConfigDict(extra="forbid")

    steps: int = Field(300, ge=1, description="Optimizer steps.")
    batch_size: int = Field(8, ge=1, description="Crops per step (at least this many training images are needed).")
    crop: int = Field(160, ge=32, description="Crop side, px (multiple of 16).")
    lr: float = Field(2e-3, gt=0, description="Peak learning rate of Adam (one-cycle schedule).")
    channels: tuple[int, ...] = Field(UNET_CHANNELS, description="U-Net channels per level.")
    blur_sigma_px: float | Literal["auto"] = Field("auto", description="Width of the Gaussian-blurred input "
                                                   "channel, px (0: the image channel only; auto: the width whose "
                                                   "blur + Otsu mask best matches the training masks).")
    residual: bool = Field(True, description="The network learns a correction to the blurred channel's "
                           "Otsu-normalized value (logits = correction + gain x channel) instead of the whole map.")
    polarity: Literal["dark", "bright"] = Field("dark", description="dark: particles darker than the support "
                                                "(bright-field TEM); bright: brighter (HAADF).")
    jitter: float = Field(0.0, ge=0, le=1, description="Intensity / noise jitter of the (normalized) training "
                          "crops (0: none; it blurs the level the blurred channel encodes).")
    dice_weight: float = Field(1.0, ge=0, description="Weight of the Dice loss next to binary cross-entropy.")
    seed: int = Field(0, description="Random seed; same seed, same weights on the CPU.")
    device: Literal["cpu", "cuda"] = Field("cpu", description="cpu or cuda.")
    threads: int = Field(1, ge=1, description="CPU threads of torch (1 was the fastest on a shared 2-core machine).")


class AETrainConfig(BaseModel):
    """Recipe of the label-free convolutional autoencoder (trained on the user's own frames)."""

    model_config = ConfigDict(extra="forbid")

    epochs: int = Field(6, ge=1, description="Epochs; one epoch draws crops_per_frame random crops of every frame "
                        "(at least 50 steps).")
    crops_per_frame: int = Field(4, ge=1, description="Random crops drawn from every frame per epoch.")
    batch_size: int = Field(8, ge=1, description="Crops per step (at least this many crops are needed).")
    crop: int = Field(96, ge=16, description="Crop side, px (multiple of 4).")
    lr: float = Field(3e-3, gt=0, description="Peak learning rate of Adam (one-cycle schedule).")
    channels: tuple[int, int] = Field(AE_CHANNELS, description="Channels of the two encoder levels.")
    max_frames: int = Field(400, ge=1, description="At most this many frames of a movie are used (evenly spaced).")
    seed: int = Field(0, description="Random seed; same seed, same weights on the CPU.")
    device: Literal["cpu", "cuda"] = Field("cpu", description="cpu or cuda.")
    threads: int = Field(1, ge=1, description="CPU threads of torch (1 was the fastest on a shared 2-core machine).")

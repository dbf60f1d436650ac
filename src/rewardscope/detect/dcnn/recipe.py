"""The atom U-Net's training recipe, kept free of torch.

The CLI builds ``rewardscope train atoms-dcnn``'s options from this model when it starts;
keeping it apart from :mod:`rewardscope.detect.dcnn.training` means no command pays torch's
import time unless it trains or runs the network.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

#: U-Net channels per level of the shipped network.
DEFAULT_CHANNELS = (16, 32, 48, 64)


class TrainConfig(BaseModel):
    """Training recipe of the atom U-Net (defaults reproduce the shipped weights)."""

    model_config = ConfigDict(extra="forbid")

    steps: int = Field(4500, ge=1, description="Optimizer steps.")
    batch_size: int = Field(16, ge=1, description="Crops per step.")
    crop: int = Field(112, ge=32, description="Crop side at the canonical pixel size (multiple of 16).")
    pool: int = Field(3000, ge=1, description="Clean simulated crops generated before training (noise is added per step).")
    lr: float = Field(3e-3, gt=0, description="Peak learning rate of Adam (cosine decay to 2 % of it).")
    channels: tuple[int, ...] = Field(DEFAULT_CHANNELS, description="U-Net channels per level.")
    in_channels: int = Field(2, ge=1, le=2, description="1: the image; 2: the image and its Bragg filter.")
    heat_sigma_px: float = Field(1.0, gt=0, description="Sigma of the target blobs, canonical pixels.")
    noise_max: float = Field(1.3, ge=0, description="Largest Gaussian noise sigma (image scaled to [0, 1]).")
    random_share: float = Field(0.4, ge=0, le=1, description="Share of crops from random crystals (rest: presets).")
    seed: int = Field(0, description="Random seed; same seed, same weights on the CPU.")
    device: str = Field("cpu", pattern="^(cpu|cuda)$", description="cpu or cuda.")
    threads: int = Field(1, ge=1, description="CPU threads of torch (1 is fastest on a shared machine).")

"""The learned segmenters' networks and their weights files: :class:`SegmenterModel`, save and load.

Two kinds, one file format (``rewardscope-segmenter-1``, :mod:`rewardscope.nn.weights`):

* ``"unet"`` -- :class:`~rewardscope.nn.unet.CompactUNet` (supervised, logits of the particle mask);
* ``"autoencoder"`` -- :class:`ConvAutoencoder`, the MLforEM tutorial's small convolutional
  autoencoder (7x7 convolutions, two 2x poolings, ~17 k weights) that reproduces its input
  through a bottleneck; its output is a simplified image.

A file records its kind, the network's shape and the input recipe (``polarity``, the
blurred channel's width), so a file of the wrong kind is refused with one error line.
:func:`load_segmenter` with no path loads the U-Net shipped in the package
(``rewardscope/models/particles_unet.pt``), once per process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn
from torch.nn import functional as F

from rewardscope.nn.unet import CompactUNet
from rewardscope.nn.weights import cpu_state, load_weights, save_weights

#: Format tag of a segmenter weights file.
FORMAT = "rewardscope-segmenter-1"
#: File name of the shipped U-Net inside ``rewardscope/models``.
SHIPPED_UNET = "particles_unet.pt"
Kind = Literal["unet", "autoencoder"]
_WHAT = {"unet": "a rewardscope U-Net particle segmenter (rewardscope train segment-unet)",
         "autoencoder": "a rewardscope autoencoder (rewardscope train segment-ae)"}


class ConvAutoencoder(nn.Module):
    """Image (batch, 1, rows, cols) -> reconstruction of the same shape, through a 4x-pooled bottleneck.

    Encoder: 7x7 convolution + ReLU + 2x max-pool, twice; decoder: 2x upsampling + 7x7
    convolution, twice (ReLU between). Sides must be multiples of 4.

    Parameters
    ----------
    channels : (int, int)
        Channels of the two encoder levels.

    Examples
    --------
    >>> ae = ConvAutoencoder((8, 20))
    >>> ae(torch.zeros(1, 1, 32, 32)).shape, sum(p.numel() for p in ae.parameters())
    (torch.Size([1, 1, 32, 32]), 16501)
    """

    multiple = 4

    def __init__(self, channels: Sequence[int] = (8, 20)) -> None:
        super().__init__()
        c1, c2 = (int(c) for c in channels)
        self.channels = (c1, c2)
        self.enc1 = nn.Conv2d(1, c1, 7, padding=3)
        self.enc2 = nn.Conv2d(c1, c2, 7, padding=3)
        self.dec2 = nn.Conv2d(c2, c1, 7, padding=3)
        self.dec1 = nn.Conv2d(c1, 1, 7, padding=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.enc1(x)), 2)
        x = F.max_pool2d(F.relu(self.enc2(x)), 2)
        x = F.relu(self.dec2(F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)))
        return self.dec1(F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False))


@dataclass
class SegmenterModel:
    """A trained segmenter network with its input recipe.

    Attributes
    ----------
    net : torch.nn.Module
        In eval mode.
    kind : {"unet", "autoencoder"}
    polarity : {"dark", "bright"}
        Particles darker (bright-field TEM) or brighter (HAADF) than the support in the training images.
    blur_sigma_px : float
        U-Net: width of the Gaussian-blurred second input channel (0: none).
    meta : dict
        Training recipe, loss history, timing.
    """

    net: nn.Module
    kind: Kind
    polarity: Literal["dark", "bright"] = "dark"
    blur_sigma_px: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def multiple(self) -> int:
        """Input sides must be multiples of this (the network pads otherwise)."""
        return int(self.net.multiple)


def make_net(kind: Kind, channels: Sequence[int], *, in_channels: int = 1, residual: bool = False) -> nn.Module:
    """A new network of this kind (``residual``: U-Net logits = correction + gain x the blurred channel)."""
    if kind == "unet":
        return CompactUNet(channels, in_channels=in_channels, residual=residual)
    return ConvAutoencoder(channels)


def save_segmenter(model: SegmenterModel, path: str | Path) -> Path:
    """Write the weights (float32), kind, shape, input recipe and ``meta`` to ``path``.

    Examples
    --------
    >>> import tempfile
    >>> m = SegmenterModel(net=ConvAutoencoder((4, 8)), kind="autoencoder")
    >>> with tempfile.TemporaryDirectory() as d:
    ...     load_segmenter(save_segmenter(m, Path(d) / "ae.pt"), kind="autoencoder").net.channels
    (4, 8)
    """
    return save_weights(path, format=FORMAT, kind=model.kind, channels=list(model.net.channels),
                        in_channels=int(getattr(model.net, "in_channels", 1)),
                        residual=bool(getattr(model.net, "residual", False)), polarity=model.polarity,
                        blur_sigma_px=float(model.blur_sigma_px), state_dict=cpu_state(model.net), meta=model.meta)


def load_segmenter(path: str | Path | None = None, *, kind: Kind = "unet") -> SegmenterModel:
    """Load a segmenter of ``kind``; ``path=None`` loads the shipped U-Net.

    Raises
    ------
    FileFormatError
        Missing file, not a rewardscope segmenter, or a segmenter of another kind.

    Examples
    --------
    >>> load_segmenter().kind
    'unet'
    """
    if path is None:
        if kind != "unet":
            from rewardscope.errors import ParameterError

            raise ParameterError("no autoencoder is shipped: train one on your own frames with "
                                 "'rewardscope train segment-ae' and give it with --model")
        return _shipped_unet()
    return _load(Path(path), kind)


def shipped_unet_path() -> Path:
    """Path of the shipped U-Net weights inside the installed package."""
    return Path(str(resources.files("rewardscope").joinpath("models", SHIPPED_UNET)))


@lru_cache(maxsize=1)
def _shipped_unet() -> SegmenterModel:
    return _load(shipped_unet_path(), "unet")


def _load(path: Path, kind: Kind) -> SegmenterModel:
    blob = load_weights(path, format=FORMAT, kind=kind, what=_WHAT[kind])
    net = make_net(kind, blob["channels"], in_channels=int(blob.get("in_channels", 1)),
                   residual=bool(blob.get("residual", False)))
    net.load_state_dict(blob["state_dict"])
    net.eval()
    return SegmenterModel(net=net, kind=kind, polarity=blob.get("polarity", "dark"),
                          blur_sigma_px=float(blob.get("blur_sigma_px", 0.0)), meta=blob.get("meta", {}))

"""A compact U-Net that maps a HAADF image to an atom-probability map.

Small on purpose (about 150 000 weights, 0.6 MB): it must run at tens of images per
second on two CPU cores. Three choices keep it fast:

* a pixel-unshuffle stem: the image is folded into 2x2 blocks (4 channels at half
  resolution) and unfolded again by a pixel-shuffle head, so no convolution runs at full
  resolution while no input pixel is thrown away;
* additive skips (1x1 projection, nearest upsampling, sum) instead of concatenation, so the
  decoder convolutions stay thin;
* one 3x3 convolution per decoder level.

Four levels give a receptive field of well over 100 pixels, wide enough to use the lattice
around a faint column in a noisy image. Written here (plain ``torch.nn``, no torchvision)
because the shape is fixed and tiny.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from rewardscope.detect.dcnn.recipe import DEFAULT_CHANNELS  # channels per level (half resolution first)


def _conv(c_in: int, c_out: int) -> list[nn.Module]:
    """3x3 convolution, batch norm, ReLU."""
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class AtomUNet(nn.Module):
    """U-Net: image (batch, in_channels, rows, cols) -> logits of the atom map (batch, 1, rows, cols).

    Parameters
    ----------
    channels : sequence of int
        Channels per level, from half resolution down; the image is pooled
        ``len(channels)`` times in all (stem included), so ``rows`` and ``cols`` must be
        multiples of :attr:`multiple`.
    in_channels : int
        Input channels (the shipped model: the image and its Bragg-filtered copy).

    Examples
    --------
    >>> net = AtomUNet(channels=(4, 8))
    >>> net(torch.zeros(1, 1, 32, 32)).shape
    torch.Size([1, 1, 32, 32])
    >>> net.multiple
    4
    """

    def __init__(self, channels: Sequence[int] = DEFAULT_CHANNELS, *, in_channels: int = 1) -> None:
        super().__init__()
        self.in_channels = int(in_channels)
        ch = [int(c) for c in channels]
        if len(ch) < 2 or min(ch) < 1:
            raise ValueError(f"channels needs at least two positive entries, got {channels}")
        self.channels = tuple(ch)
        self.enc = nn.ModuleList([nn.Sequential(*_conv(4 * self.in_channels, ch[0]))]
                                 + [nn.Sequential(*_conv(ch[i - 1], ch[i]), *_conv(ch[i], ch[i]))
                                    for i in range(1, len(ch))])
        self.proj = nn.ModuleList([nn.Conv2d(ch[i + 1], ch[i], 1) for i in range(len(ch) - 1)])
        self.dec = nn.ModuleList([nn.Sequential(*_conv(ch[i], ch[i])) for i in range(len(ch) - 1)])
        self.head = nn.Conv2d(ch[0], 4, 1)

    @property
    def multiple(self) -> int:
        """Input sides must be multiples of this."""
        return 2 ** len(self.channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pixel_unshuffle(x, 2)
        skips = []
        for i, block in enumerate(self.enc):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        x = skips.pop()
        for i in range(len(self.dec) - 1, -1, -1):
            x = F.interpolate(self.proj[i](x), scale_factor=2.0, mode="nearest") + skips.pop()
            x = self.dec[i](x)
        return F.pixel_shuffle(self.head(x), 2)


def n_parameters(net: nn.Module) -> int:
    """Number of trainable weights."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)

"""A compact U-Net: fast on two CPU cores, the same shape for atoms and for particles.

Three choices keep it fast:

* a pixel-unshuffle stem: the image is folded into 2x2 blocks (4 channels at half
  resolution) and unfolded again by a pixel-shuffle head, so no convolution runs at full
  resolution while no input pixel is thrown away;
* additive skips (1x1 projection, nearest upsampling, sum) instead of concatenation, so the
  decoder convolutions stay thin;
* one 3x3 convolution per decoder level.

Written here (plain ``torch.nn``, no torchvision) because the shape is fixed and tiny;
:class:`rewardscope.detect.dcnn.unet.AtomUNet` (atoms) and the particle U-Net of
:mod:`rewardscope.segment.unet` are this network with their own channels.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F


def conv_bn_relu(c_in: int, c_out: int, kernel: int = 3) -> list[nn.Module]:
    """``kernel`` x ``kernel`` convolution (same padding), batch norm, ReLU."""
    return [nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False), nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True)]


class CompactUNet(nn.Module):
    """U-Net: image (batch, in_channels, rows, cols) -> logits (batch, 1, rows, cols).

    Parameters
    ----------
    channels : sequence of int
        Channels per level, from half resolution down; the image is pooled
        ``len(channels)`` times in all (stem included), so ``rows`` and ``cols`` must be
        multiples of :attr:`multiple`.
    in_channels : int
        Input channels.
    residual : bool
        Add ``gain`` x the last input channel to the logits (``gain`` is learned, starting
        at 50 so that the channel alone is already a sharp mask; the head starts at zero):
        the network then learns a correction to that channel (e.g. a normalized, denoised
        image whose sign is already a mask) instead of the whole map.

    Examples
    --------
    >>> net = CompactUNet(channels=(4, 8))
    >>> net(torch.zeros(1, 1, 32, 32)).shape
    torch.Size([1, 1, 32, 32])
    >>> net.multiple
    4
    """

    def __init__(self, channels: Sequence[int], *, in_channels: int = 1, residual: bool = False) -> None:
        super().__init__()
        self.in_channels = int(in_channels)
        self.residual = bool(residual)
        if self.residual:
            self.gain = nn.Parameter(torch.tensor(50.0))
        ch = [int(c) for c in channels]
        if len(ch) < 2 or min(ch) < 1:
            raise ValueError(f"channels needs at least two positive entries, got {channels}")
        self.channels = tuple(ch)
        self.enc = nn.ModuleList([nn.Sequential(*conv_bn_relu(4 * self.in_channels, ch[0]))]
                                 + [nn.Sequential(*conv_bn_relu(ch[i - 1], ch[i]), *conv_bn_relu(ch[i], ch[i]))
                                    for i in range(1, len(ch))])
        self.proj = nn.ModuleList([nn.Conv2d(ch[i + 1], ch[i], 1) for i in range(len(ch) - 1)])
        self.dec = nn.ModuleList([nn.Sequential(*conv_bn_relu(ch[i], ch[i])) for i in range(len(ch) - 1)])
        self.head = nn.Conv2d(ch[0], 4, 1)
        if self.residual:  # start as the identity of the channel: training learns only corrections
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

    @property
    def multiple(self) -> int:
        """Input sides must be multiples of this."""
        return 2 ** len(self.channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inputs = x
        x = F.pixel_unshuffle(x, 2)
        skips = []
        for i, block in enumerate(self.enc):
            x = block(x if i == 0 else F.max_pool2d(x, 2))
            skips.append(x)
        x = skips.pop()
        for i in range(len(self.dec) - 1, -1, -1):
            x = F.interpolate(self.proj[i](x), scale_factor=2.0, mode="nearest") + skips.pop()
            x = self.dec[i](x)
        out = F.pixel_shuffle(self.head(x), 2)
        return out + self.gain * inputs[:, -1:] if self.residual else out


def n_parameters(net: nn.Module) -> int:
    """Number of trainable weights.

    Examples
    --------
    >>> n_parameters(torch.nn.Conv2d(1, 2, 3))
    20
    """
    return sum(p.numel() for p in net.parameters() if p.requires_grad)

"""A compact U-Net that maps a HAADF image to an atom-probability map.

Small on purpose (about 150 000 weights, 0.6 MB): it must run at tens of images per
second on two CPU cores. The network is :class:`rewardscope.nn.unet.CompactUNet`
(pixel-unshuffle stem, additive skips, one convolution per decoder level), shared with the
particle U-Net; here it gets the atom finder's default channels. Four levels give a
receptive field of well over 100 pixels, wide enough to use the lattice around a faint
column in a noisy image.
"""

from __future__ import annotations

from collections.abc import Sequence

from rewardscope.detect.dcnn.recipe import DEFAULT_CHANNELS  # channels per level (half resolution first)
from rewardscope.nn.unet import CompactUNet, n_parameters

__all__ = ["AtomUNet", "n_parameters"]


class AtomUNet(CompactUNet):
    """U-Net: image (batch, in_channels, rows, cols) -> logits of the atom map (batch, 1, rows, cols).

    Parameters
    ----------
    channels : sequence of int
        Channels per level, from half resolution down (default: the shipped network's).
    in_channels : int
        Input channels (the shipped model: the image and its Bragg-filtered copy).

    Examples
    --------
    >>> import torch
    >>> net = AtomUNet(channels=(4, 8))
    >>> net(torch.zeros(1, 1, 32, 32)).shape
    torch.Size([1, 1, 32, 32])
    >>> net.multiple
    4
    """

    def __init__(self, channels: Sequence[int] = DEFAULT_CHANNELS, *, in_channels: int = 1) -> None:
        super().__init__(channels, in_channels=in_channels)

"""Small neural-network building blocks shared by the atom finder and the particle segmenters.

One job per module:

===========  ==================================================================
``unet``     :class:`CompactUNet`, the fast U-Net (pixel-unshuffle stem, additive skips)
``tiling``   tiled, batched, overlap-seamed inference of any fully convolutional net
``weights``  weights files with a format tag and a ``kind`` (one model kind per file)
===========  ==================================================================

The atom DCNN (:mod:`rewardscope.detect.dcnn`) and the learned particle segmenters
(:mod:`rewardscope.segment.unet`, :mod:`rewardscope.segment.autoencoder`) both build on
these, so there is one U-Net, one tiling rule and one weights format check. Importing this
package does not import torch; the submodules do.

Examples
--------
>>> import rewardscope.nn
>>> rewardscope.nn.__name__
'rewardscope.nn'
"""

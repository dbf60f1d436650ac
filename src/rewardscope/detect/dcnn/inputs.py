"""What the atom network reads: the normalized image and its Bragg filter, at the canonical scale.

:func:`normalize_image` brings an image to zero mean and unit spread, :func:`bragg_filter`
keeps only the lattice's Fourier peaks (a periodic-average copy in which faint columns stay
visible at high noise), :func:`network_input` stacks the two as channels, and
:func:`resample` / :func:`canonical_shape` / :func:`canonical_scale` bring an image of any
calibration to the pixel size the network was trained at. Inference and training share
these, so the network sees the same inputs in both.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage
from torch.nn import functional as F

from rewardscope.detect.dcnn.model import AtomModel
from rewardscope.errors import ParameterError
from rewardscope.units import Length, parse_length

#: Power ratio of a kept Fourier peak in :func:`bragg_filter`.
BRAGG_RATIO = 8.0


def normalize_image(image: np.ndarray) -> np.ndarray:
    """Zero mean, unit standard deviation (float32): the network's input scale.

    Parameters
    ----------
    image : numpy.ndarray, shape (rows, cols)

    Returns
    -------
    numpy.ndarray, float32, same shape

    Examples
    --------
    >>> out = normalize_image(np.array([[1.0, 3.0]]))
    >>> out.tolist(), out.dtype
    ([[-1.0, 1.0]], dtype('float32'))
    """
    img = np.asarray(image, np.float32)
    return (img - img.mean()) / max(float(img.std()), 1e-12)


def bragg_filter(image: np.ndarray, *, ratio: float = BRAGG_RATIO, min_frequency: float = 2.0) -> np.ndarray:
    """Keep only the lattice's Fourier peaks: a periodic-average copy of the image.

    Peaks are local maxima of the (Hann-windowed) power spectrum above ``ratio`` times the
    median power / ln 2 (the mean of white noise), at least ``min_frequency`` cycles per
    image from zero. The image's spectrum is multiplied by a mask of Gaussian spots (sigma 1
    frequency bin) on them and transformed back. With no peak the result is zero.

    Parameters
    ----------
    image : numpy.ndarray, shape (rows, cols)
        Normalized image (zero mean).
    ratio : float
        Peak-to-noise power ratio of a kept peak.
    min_frequency : float
        Peaks closer to zero frequency (cycles per image) are ignored.

    Returns
    -------
    numpy.ndarray, float32, shape (rows, cols)
        Zero mean, unit standard deviation (or all zero).

    Examples
    --------
    >>> yy, xx = np.mgrid[:64, :64]
    >>> lattice = np.cos(2 * np.pi * xx / 8) + np.cos(2 * np.pi * yy / 8)
    >>> noisy = lattice + np.random.default_rng(0).normal(0, 1, lattice.shape)
    >>> float(np.corrcoef(bragg_filter(normalize_image(noisy)).ravel(), lattice.ravel())[0, 1]) > 0.9
    True
    """
    img = np.asarray(image, np.float32)
    rows, cols = img.shape
    spec = np.fft.fft2(img)
    power = np.abs(np.fft.fft2(img * np.outer(np.hanning(rows), np.hanning(cols)))) ** 2
    fy = np.fft.fftfreq(rows)[:, None] * rows
    fx = np.fft.fftfreq(cols)[None, :] * cols
    noise = np.median(power) / np.log(2)
    peaks = ((power > ratio * noise) & (power >= ndimage.maximum_filter(power, 3, mode="wrap"))
             & (np.hypot(fy, fx) >= min_frequency))
    mask = np.clip(ndimage.gaussian_filter(peaks.astype(np.float32), 1.0, mode="wrap") * 2 * np.pi, 0, 1)
    out = np.real(np.fft.ifft2(spec * mask)).astype(np.float32)
    sd = float(out.std())
    return out / sd if sd > 1e-6 else np.zeros_like(out)


def network_input(image: np.ndarray, *, in_channels: int) -> np.ndarray:
    """Channels the network reads: the normalized image and, for 2 channels, its Bragg filter.

    Parameters
    ----------
    image : numpy.ndarray, shape (rows, cols)
        Normalized image at the canonical pixel size.
    in_channels : int
        1 or 2.

    Returns
    -------
    numpy.ndarray, float32, shape (in_channels, rows, cols)

    Examples
    --------
    >>> network_input(np.zeros((16, 16)), in_channels=2).shape
    (2, 16, 16)
    """
    img = np.asarray(image, np.float32)
    return np.stack([img, bragg_filter(img)][:in_channels])


def resample(images: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize (batch, channels, rows, cols) to ``size`` (bilinear, anti-aliased when shrinking).

    Pixel centres map as ``x_new = (x_old + 0.5) * size / old_size - 0.5``.

    Examples
    --------
    >>> resample(torch.ones(1, 1, 8, 8), (4, 4)).shape
    torch.Size([1, 1, 4, 4])
    """
    if tuple(images.shape[-2:]) == tuple(size):
        return images
    return F.interpolate(images, size=size, mode="bilinear", align_corners=False, antialias=True)


def canonical_scale(pixel_size: Length | str | float | None, model: AtomModel) -> float:
    """Canonical pixels per input pixel: the input's pixel size over the model's (1 without a calibration).

    Parameters
    ----------
    pixel_size : Length, str or float (Å), optional
    model : AtomModel

    Raises
    ------
    ParameterError
        A pixel size outside 0.01-5 Å (not atomic resolution).

    Examples
    --------
    >>> from rewardscope.detect.dcnn.unet import AtomUNet
    >>> canonical_scale("0.2A", AtomModel(net=AtomUNet((4, 8)), pixel_size_angstrom=0.4))
    0.5
    """
    if pixel_size is None:
        return 1.0
    if isinstance(pixel_size, (int, float)):
        ps = float(pixel_size)
    else:
        ps = parse_length(pixel_size).angstrom
    if not 0.01 <= ps <= 5.0:
        raise ParameterError(f"pixel size {ps:g} Å is outside 0.01-5 Å; the atom network needs atomic resolution")
    return ps / model.pixel_size_angstrom


def canonical_shape(shape: tuple[int, int], scale: float) -> tuple[int, int]:
    """Image shape at the canonical pixel size (at least 8 x 8).

    Examples
    --------
    >>> canonical_shape((256, 128), 0.875)
    (224, 112)
    """
    return max(8, int(round(shape[0] * scale))), max(8, int(round(shape[1] * scale)))

"""Label-free convolutional autoencoder (after the MLforEM tutorial): training and the simplified image.

The tutorial trains a small convolutional autoencoder on the user's own (drift-corrected)
frames to reproduce its input through a bottleneck; what comes out is a simplified image
(lattice fringes and support speckle do not survive the 4x-pooled bottleneck, particles
do), which is then thresholded. Here the network is
:class:`~rewardscope.segment.networks.ConvAutoencoder` (7x7 convolutions, ~17 k weights),
trained on random crops with rotations and flips from
:func:`rewardscope.segment.dataset.random_batch` (Adam one-cycle) to minimise
:func:`reconstruction_loss`: mean-squared error plus a weighted error of the Gaussian
low-passed residual, so the small network keeps the particle/support contrast (where the
outline is drawn) rather than spending itself on fringes. Frames are reflected at their
borders before inference (:data:`BORDER_PX`). The threshold and clean-up are not
hand-set: :func:`rewardscope.segment.learned.learned_state` hands the simplified image to
the classical pipeline, whose smoothing, Otsu threshold, clean-up and watershed split are
chosen by the label-free particle rewards through the shared optimiser.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from rewardscope.config import make_config
from rewardscope.errors import ParameterError
from rewardscope.nn.fit import fit
from rewardscope.nn.tiling import tiled_map
from rewardscope.nn.unet import n_parameters
from rewardscope.progress import ProgressArg, progress_scope
from rewardscope.segment.dataset import Frames, random_batch
from rewardscope.segment.networks import SegmenterModel, make_net
from rewardscope.segment.recipes import AETrainConfig
from rewardscope.segment.unet import SegmenterTraining, check_device, check_frames

#: An epoch has at least this many steps (few frames still train).
MIN_STEPS_PER_EPOCH = 50
#: Reflected margin (px, about the network's receptive radius) added around a frame before
#: :func:`reconstruct`, so the outline near the frame's edge is not pulled by zero padding.
BORDER_PX = 24
#: Width (px) of the Gaussian low pass in the training loss, and that term's weight next to plain MSE.
LOWPASS_SIGMA_PX = 2.0
LOWPASS_WEIGHT = 16.0


def gaussian_kernel(sigma_px: float) -> torch.Tensor:
    """Normalized 1-D Gaussian taps (radius ``3 sigma``), float32.

    Examples
    --------
    >>> k = gaussian_kernel(2.0)
    >>> len(k), round(float(k.sum()), 6)
    (13, 1.0)
    """
    r = max(1, int(np.ceil(3 * sigma_px)))
    k = torch.exp(-0.5 * (torch.arange(-r, r + 1, dtype=torch.float32) / sigma_px) ** 2)
    return k / k.sum()


def reconstruction_loss(output: torch.Tensor, target: torch.Tensor, *, sigma_px: float = LOWPASS_SIGMA_PX,
                        weight: float = LOWPASS_WEIGHT) -> torch.Tensor:
    """Mean squared error plus ``weight`` x the mean squared error of the Gaussian low-passed residual.

    Plain MSE spends the small network on lattice fringes (most of the variance); the
    low-pass term makes it reproduce the particle/support contrast faithfully, which is
    where the threshold later draws the outline. The low pass is taken on the valid part
    of the crop only (no padding).

    Parameters
    ----------
    output, target : torch.Tensor, shape (batch, 1, rows, cols)
    sigma_px : float
        Width of the low pass (0: plain MSE).
    weight : float

    Returns
    -------
    torch.Tensor
        Scalar loss.

    Examples
    --------
    >>> t = torch.zeros(1, 1, 32, 32)
    >>> float(reconstruction_loss(t + 1.0, t)), float(reconstruction_loss(t + 1.0, t, sigma_px=0.0))
    (17.0, 1.0)
    """
    diff = output - target
    loss = torch.mean(diff ** 2)
    if sigma_px <= 0 or weight <= 0:
        return loss
    k = gaussian_kernel(sigma_px).to(diff.device)
    low = F.conv2d(F.conv2d(diff, k.view(1, 1, 1, -1)), k.view(1, 1, -1, 1))
    return loss + weight * torch.mean(low ** 2)


def standardize(image: np.ndarray) -> np.ndarray:
    """``(image - mean) / std`` as float32 (what the autoencoder reads and reproduces).

    Examples
    --------
    >>> x = standardize(np.arange(4.0))
    >>> round(float(x.mean()), 6), round(float(x.std()), 6)
    (0.0, 1.0)
    """
    img = np.asarray(image, np.float32)
    return ((img - img.mean()) / (img.std() or 1.0)).astype(np.float32)


def reconstruct(model: SegmenterModel, image: np.ndarray, *, device: str = "cpu", tile_px: int = 1024,
                overlap_px: int = 32, batch_size: int = 4) -> np.ndarray:
    """The autoencoder's simplified image of ``image`` (standardized units), float32.

    The frame is reflected by :data:`BORDER_PX` on every side before the network reads it
    (the classical route smooths with reflecting borders too) and cropped back after.

    Examples
    --------
    >>> from rewardscope.segment.networks import ConvAutoencoder
    >>> m = SegmenterModel(net=ConvAutoencoder((4, 8)).eval(), kind="autoencoder")
    >>> reconstruct(m, np.random.default_rng(0).random((30, 40))).shape
    (30, 40)
    """
    if model.kind != "autoencoder":
        raise ParameterError(f"a {model.kind} model is not an autoencoder")
    check_device(device)
    x = np.pad(standardize(image), BORDER_PX, mode="reflect")[None, None]
    net = model.net.to(device).eval()
    try:
        out = tiled_map(lambda t: net(t)[:, 0], x, multiple=model.multiple, tile_px=tile_px,
                        overlap_px=overlap_px, batch_size=batch_size, device=device)[0]
    finally:
        model.net.cpu()
    return np.ascontiguousarray(out[BORDER_PX:-BORDER_PX, BORDER_PX:-BORDER_PX])


def evenly(n: int, k: int) -> list[int]:
    """At most ``k`` indices spread evenly over ``range(n)``.

    Examples
    --------
    >>> evenly(10, 3), evenly(2, 5)
    ([0, 4, 9], [0, 1])
    """
    if n <= k:
        return list(range(n))
    return [int(round(v)) for v in np.linspace(0, n - 1, k)]


def steps_per_epoch(n_frames: int, config: AETrainConfig) -> int:
    """Steps of one epoch: ``crops_per_frame`` crops of every frame (at most ``max_frames``), at least 50.

    Examples
    --------
    >>> steps_per_epoch(100, AETrainConfig()), steps_per_epoch(2, AETrainConfig())
    (50, 50)
    """
    n = min(n_frames, config.max_frames)
    return max(MIN_STEPS_PER_EPOCH, -(-n * config.crops_per_frame // config.batch_size))


def train_autoencoder(frames: Frames, config: AETrainConfig | None = None, *, progress: ProgressArg = None,
                      on_loss: Callable[[int, float], None] | None = None, **overrides: Any) -> SegmenterTraining:
    """Train the autoencoder on the user's own frames (no labels).

    Parameters
    ----------
    frames : Frames
        Images or a movie's frames (:func:`rewardscope.segment.dataset.read_frames`); masks are ignored.
    config : AETrainConfig, optional
        Recipe; keyword ``overrides`` replace single fields (``epochs=2``).
    progress : bool or callable, optional
        Stage ``"training autoencoder"`` (steps).
    on_loss : callable, optional
        ``on_loss(step, loss)`` after every step.

    Returns
    -------
    SegmenterTraining

    Raises
    ------
    ParameterError
        Fewer crops than one batch, crops larger than a frame.

    Examples
    --------
    >>> fr = Frames([np.random.default_rng(0).random((32, 32)).astype(np.float32)], ["noise"])
    >>> res = train_autoencoder(fr, epochs=1, batch_size=2, crop=16, channels=(4, 8), crops_per_frame=2)
    >>> len(res.losses), res.model.kind
    (50, 'autoencoder')
    """
    cfg = make_config(AETrainConfig, config, **overrides)
    if cfg.crop % 4:
        raise ParameterError(f"crop must be a multiple of 4, got {cfg.crop}")
    keep = evenly(len(frames), cfg.max_frames)
    frames = Frames([frames.images[i] for i in keep], [frames.names[i] for i in keep])
    check_frames(frames, batch_size=cfg.batch_size, crop=cfg.crop, supervised=False)
    if len(frames) * cfg.crops_per_frame < cfg.batch_size:
        raise ParameterError(f"{len(frames)} frames x {cfg.crops_per_frame} crops are fewer than one batch "
                             f"({cfg.batch_size}); give more frames, more --crops-per-frame or a smaller --batch-size")
    check_device(cfg.device)
    t0 = time.perf_counter()
    before = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    net = make_net("autoencoder", cfg.channels)
    inputs = [standardize(im)[None] for im in frames.images]
    rng = np.random.default_rng([cfg.seed, 4])
    per_epoch = steps_per_epoch(len(frames), cfg)

    def batch(step: int) -> tuple[np.ndarray, np.ndarray]:
        x, _ = random_batch(frames, rng, batch=cfg.batch_size, crop=cfg.crop, channels=inputs)
        return x, x

    try:
        with progress_scope(progress) as report:
            losses = fit(net, batch, reconstruction_loss, steps=cfg.epochs * per_epoch,
                         lr=cfg.lr, device=cfg.device, progress=report, stage="training autoencoder",
                         on_loss=on_loss)
    finally:
        torch.set_num_threads(before)
    seconds = time.perf_counter() - t0
    meta = {"config": cfg.model_dump(), "seconds": round(seconds, 1), "n_parameters": n_parameters(net),
            "n_frames": len(frames), "final_loss": float(np.mean(losses[-20:])), "torch": str(torch.__version__)}
    return SegmenterTraining(model=SegmenterModel(net=net, kind="autoencoder", meta=meta), losses=losses,
                             seconds=seconds)

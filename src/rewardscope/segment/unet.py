"""Supervised particle U-Net: inputs, tiled batched inference, training (Dice + BCE).

Inputs (:func:`unet_input`, no labels needed): every image is normalised around its own
Otsu level -- the Otsu threshold ``t`` of the image blurred by ``blur_sigma_px`` and the
gap ``g`` between the two classes' means -- so that channel 0 is ``s (image - t) / g`` and
channel 1 the same of the blurred image (``s`` = -1 for dark particles). Channel 1's sign
is already the classical (blur + Otsu) mask, so the network learns the corrections to it
(fringes inside particles, speckle of the support, the exact edge the annotators drew)
rather than the threshold. The benchmark (``benchmarks/segmenters.py``) reports what each
choice adds.

Inference (:func:`unet_probability`): images of any size are cut into overlapping tiles
(:func:`rewardscope.nn.tiling.tiled_map`), run in batches on the CPU or a GPU, optionally
averaged over the eight dihedral views (test-time augmentation). Training
(:func:`train_segment_unet`): random crops, rotations, flips and intensity jitter from
:func:`rewardscope.segment.dataset.random_batch`, loss BCE + Dice, Adam one-cycle.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from scipy import ndimage as ndi
from skimage.filters import threshold_otsu

from rewardscope.config import make_config
from rewardscope.errors import ParameterError
from rewardscope.nn.fit import fit
from rewardscope.nn.tiling import tiled_map
from rewardscope.nn.unet import n_parameters
from rewardscope.progress import ProgressArg, progress_scope, start_stage
from rewardscope.segment.dataset import Frames, random_batch
from rewardscope.segment.networks import SegmenterModel, load_segmenter, make_net
from rewardscope.segment.recipes import UNetTrainConfig

#: Tile side and overlap of tiled inference, px.
TILE_PX, OVERLAP_PX = 512, 48
#: The eight dihedral views: (quarter turns, flip left-right).
DIHEDRAL = [(0, False), (1, False), (2, False), (3, False), (0, True), (1, True), (2, True), (3, True)]


def otsu_normalize(image: np.ndarray, *, polarity: str = "dark", blur_sigma_px: float = 0.0) -> np.ndarray:
    """``(2, rows, cols)`` (or ``(1, ...)`` without blur): image and blurred image around the blurred Otsu level.

    Examples
    --------
    >>> img = np.ones((32, 32)); img[8:24, 8:24] = 0.0
    >>> x = otsu_normalize(img + 0.01 * np.random.default_rng(0).normal(size=img.shape), blur_sigma_px=1.0)
    >>> x.shape, bool(x[1, 16, 16] > 0 > x[1, 0, 0])
    ((2, 32, 32), True)
    """
    if polarity not in ("dark", "bright"):
        raise ParameterError(f"polarity must be 'dark' or 'bright', got {polarity!r}")
    img = np.asarray(image, np.float32)
    sign = -1.0 if polarity == "dark" else 1.0
    blurred = ndi.gaussian_filter(img, blur_sigma_px, mode="reflect", truncate=3.5) if blur_sigma_px > 0 else img
    t = float(threshold_otsu(blurred))
    hi = blurred > t
    gap = float(blurred[hi].mean() - blurred[~hi].mean()) if hi.any() and not hi.all() else 0.0
    gap = gap if gap > 0 else float(img.std()) or 1.0
    scale = np.float32(sign / gap)
    chans = [(img - t) * scale] + ([(blurred - t) * scale] if blur_sigma_px > 0 else [])
    return np.stack(chans).astype(np.float32)


def unet_input(model: SegmenterModel, image: np.ndarray) -> np.ndarray:
    """What the U-Net reads for one image: :func:`otsu_normalize` with the model's recipe."""
    return otsu_normalize(image, polarity=model.polarity, blur_sigma_px=model.blur_sigma_px)


def _view_fn(net: torch.nn.Module, view: tuple[int, bool]) -> Callable[[torch.Tensor], torch.Tensor]:
    k, flip = view

    def fn(x: torch.Tensor) -> torch.Tensor:
        if flip:
            x = torch.flip(x, (-1,))
        p = torch.sigmoid(net(torch.rot90(x, k, (-2, -1))))
        p = torch.rot90(p, -k, (-2, -1))
        return (torch.flip(p, (-1,)) if flip else p)[:, 0]

    return fn


def unet_probability(model: SegmenterModel, images: Sequence[np.ndarray], *, tta: int = 1, batch_size: int = 8,
                     device: str = "cpu", tile_px: int = TILE_PX, overlap_px: int = OVERLAP_PX,
                     threads: int | None = None, progress: ProgressArg = None) -> list[np.ndarray]:
    """Particle probability of every image (any sizes; equal sizes run in shared batches).

    Parameters
    ----------
    model : SegmenterModel
        Kind ``"unet"``.
    images : sequence of numpy.ndarray (rows, cols)
    tta : int
        Dihedral views averaged (1-8; 1 = none).
    batch_size : int
        Tiles per forward pass.
    device : {"cpu", "cuda"}
    tile_px, overlap_px : int
        Tiling of large images (seams in the middle of the overlap).
    threads : int, optional
        torch CPU threads while running (restored after); None keeps torch's setting.
    progress : bool or callable, optional
        Stage ``"U-Net"``, one unit per forward pass.

    Returns
    -------
    list of numpy.ndarray (rows, cols), float32 in [0, 1]

    Examples
    --------
    >>> from rewardscope.datasets import sample_hrtem
    >>> image, mask = sample_hrtem()
    >>> p = unet_probability(load_segmenter(), [image])[0]
    >>> bool(((p > 0.5) == mask).mean() > 0.99)
    True
    """
    if not 1 <= tta <= len(DIHEDRAL):
        raise ParameterError(f"tta must be 1-8 dihedral views, got {tta}")
    check_device(device)
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ParameterError(f"batch size must be a positive integer, got {batch_size!r}")
    return probability_of_inputs(model, [unet_input(model, im) for im in images], tta=tta, batch_size=batch_size,
                                 device=device, tile_px=tile_px, overlap_px=overlap_px, threads=threads,
                                 progress=progress)


def probability_of_inputs(model: SegmenterModel, inputs: Sequence[np.ndarray], *, tta: int = 1, batch_size: int = 8,
                          device: str = "cpu", tile_px: int = TILE_PX, overlap_px: int = OVERLAP_PX,
                          threads: int | None = None, progress: ProgressArg = None) -> list[np.ndarray]:
    """:func:`unet_probability` of prepared inputs ``(channels, rows, cols)`` (e.g. crops of one image's input)."""
    net = model.net.to(device).eval()
    groups: dict[tuple[int, int], list[int]] = {}
    for i, x in enumerate(inputs):
        groups.setdefault(tuple(np.shape(x)[-2:]), []).append(i)
    out: list[np.ndarray] = [np.empty(0)] * len(inputs)
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        with progress_scope(progress) as report:
            advance = start_stage(report, "U-Net", total=len(groups) * tta, unit="views")
            for idx in groups.values():
                x = np.stack([inputs[i] for i in idx])
                acc = np.zeros((len(idx), *x.shape[-2:]), np.float32)
                for view in DIHEDRAL[:tta]:
                    acc += tiled_map(_view_fn(net, view), x, multiple=model.multiple, tile_px=tile_px,
                                     overlap_px=overlap_px, batch_size=batch_size, device=device)
                    advance()
                for k, i in enumerate(idx):
                    out[i] = acc[k] / tta
    finally:
        torch.set_num_threads(before)
        model.net.cpu()
    return out


#: Candidate widths of ``blur_sigma_px="auto"``, px.
BLUR_SIGMAS_PX = tuple(float(v) for v in np.arange(1.0, 10.01, 0.5))


def blur_otsu_mask(image: np.ndarray, *, polarity: str, blur_sigma_px: float) -> np.ndarray:
    """The classical mask the blurred channel encodes: its positive part, holes filled."""
    return ndi.binary_fill_holes(otsu_normalize(image, polarity=polarity, blur_sigma_px=blur_sigma_px)[-1] > 0)


def choose_blur_sigma(frames: Frames, *, polarity: str = "dark",
                      sigmas: Sequence[float] = BLUR_SIGMAS_PX) -> float:
    """The blur width whose blur + Otsu mask has the best mean IoU with the training masks (supervised).

    Examples
    --------
    >>> yy, xx = np.mgrid[:64, :64]
    >>> disc = (yy - 32) ** 2 + (xx - 32) ** 2 < 225
    >>> img = 1.0 - disc + np.random.default_rng(0).normal(0, 0.5, disc.shape)
    >>> choose_blur_sigma(Frames([img], ["disc"], [disc]), sigmas=(0.5, 3.0)) == 3.0
    True
    """
    from rewardscope.metrics import mask_iou

    if frames.masks is None:
        raise ParameterError("blur_sigma_px='auto' needs masks")
    scores = [np.mean([mask_iou(blur_otsu_mask(im, polarity=polarity, blur_sigma_px=s), m)
                       for im, m in zip(frames.images, frames.masks)]) for s in sigmas]
    return float(sigmas[int(np.argmax(scores))])


def check_device(device: str) -> None:
    """Raise :class:`ParameterError` for an unknown device or ``cuda`` without a GPU."""
    if device not in ("cpu", "cuda"):
        raise ParameterError(f"device must be cpu or cuda, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ParameterError("--device cuda requested but no GPU is available")


def dice_bce_loss(logits: torch.Tensor, target: torch.Tensor, *, dice_weight: float = 1.0) -> torch.Tensor:
    """Binary cross-entropy plus ``dice_weight`` x (1 - soft Dice) over the batch.

    Examples
    --------
    >>> t = torch.zeros(1, 1, 4, 4); t[..., :2] = 1
    >>> bool(dice_bce_loss(20 * (2 * t - 1), t) < 0.01)
    True
    """
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
    p = torch.sigmoid(logits)
    dice = (2 * (p * target).sum() + 1.0) / (p.sum() + target.sum() + 1.0)
    return bce + dice_weight * (1.0 - dice)


@dataclass
class SegmenterTraining:
    """A trained segmenter and its history.

    Attributes
    ----------
    model : SegmenterModel
    losses : list of float
        Per-step loss.
    seconds : float
        Wall time.
    """

    model: SegmenterModel
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0


def check_frames(frames: Frames, *, batch_size: int, crop: int, supervised: bool) -> None:
    """Refuse training data that cannot fill one batch, crops larger than a frame, or missing masks."""
    if supervised and frames.masks is None:
        raise ParameterError("supervised training needs masks (--masks DIR)")
    if len(frames) < 1:
        raise ParameterError("no training images")
    small = [n for n, im in zip(frames.names, frames.images) if min(im.shape) < crop]
    if small:
        raise ParameterError(f"image {small[0]} is smaller than the training crop ({crop} px); give --crop")
    if supervised and len(frames) < batch_size:
        raise ParameterError(f"{len(frames)} training images are fewer than one batch ({batch_size}); give more "
                             f"images or a smaller --batch-size")


def train_segment_unet(frames: Frames, config: UNetTrainConfig | None = None, *, progress: ProgressArg = None,
                       on_loss: Callable[[int, float], None] | None = None, **overrides: Any) -> SegmenterTraining:
    """Train the particle U-Net on images with masks.

    Parameters
    ----------
    frames : Frames
        Images with ``masks`` (:func:`rewardscope.segment.dataset.read_frames`).
    config : UNetTrainConfig, optional
        Recipe; keyword ``overrides`` replace single fields (``steps=200``).
    progress : bool or callable, optional
        Stage ``"training U-Net"`` (steps).
    on_loss : callable, optional
        ``on_loss(step, loss)`` after every step.

    Returns
    -------
    SegmenterTraining

    Raises
    ------
    ParameterError
        No masks, fewer images than one batch, crops larger than an image.

    Examples
    --------
    >>> yy, xx = np.mgrid[:64, :64]
    >>> img = 1.0 - ((yy - 30) ** 2 + (xx - 34) ** 2 < 144) + np.random.default_rng(0).normal(0, .2, (64, 64))
    >>> fr = Frames([img.astype(np.float32)], ["disc"], [(yy - 30) ** 2 + (xx - 34) ** 2 < 144])
    >>> res = train_segment_unet(fr, steps=5, batch_size=1, crop=32, channels=(4, 8))
    >>> len(res.losses), res.model.kind
    (5, 'unet')
    """
    cfg = make_config(UNetTrainConfig, config, **overrides)
    check_frames(frames, batch_size=cfg.batch_size, crop=cfg.crop, supervised=True)
    if cfg.crop % 16:
        raise ParameterError(f"crop must be a multiple of 16, got {cfg.crop}")
    check_device(cfg.device)
    t0 = time.perf_counter()
    sigma = choose_blur_sigma(frames, polarity=cfg.polarity) if cfg.blur_sigma_px == "auto" else cfg.blur_sigma_px
    if cfg.residual and sigma <= 0:
        raise ParameterError("residual needs the blurred channel (blur_sigma_px > 0 or auto)")
    before = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    in_channels = 2 if sigma > 0 else 1
    net = make_net("unet", cfg.channels, in_channels=in_channels, residual=cfg.residual)
    inputs = [otsu_normalize(im, polarity=cfg.polarity, blur_sigma_px=sigma) for im in frames.images]
    rng = np.random.default_rng([cfg.seed, 3])

    def batch(step: int) -> tuple[np.ndarray, np.ndarray]:
        x, y = random_batch(frames, rng, batch=cfg.batch_size, crop=cfg.crop, jitter=cfg.jitter, channels=inputs)
        return x, y

    try:
        with progress_scope(progress) as report:
            losses = fit(net, batch, lambda o, t: dice_bce_loss(o, t, dice_weight=cfg.dice_weight),
                         steps=cfg.steps, lr=cfg.lr, device=cfg.device, progress=report,
                         stage="training U-Net", on_loss=on_loss)
    finally:
        torch.set_num_threads(before)
    seconds = time.perf_counter() - t0
    meta = {"config": cfg.model_dump(), "blur_sigma_px": float(sigma), "seconds": round(seconds, 1),
            "n_parameters": n_parameters(net), "n_images": len(frames), "images": list(frames.names),
            "final_loss": float(np.mean(losses[-50:])), "torch": str(torch.__version__)}
    model = SegmenterModel(net=net, kind="unet", polarity=cfg.polarity, blur_sigma_px=float(sigma), meta=meta)
    return SegmenterTraining(model=model, losses=losses, seconds=seconds)


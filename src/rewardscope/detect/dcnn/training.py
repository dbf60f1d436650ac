"""Training data from the HAADF simulator and the training loop of the atom U-Net.

Recipe (all randomness from one seed):

* crystals: the five presets and random 2-D cells (random cell, 1-4 random columns of
  heavy elements plus oxygen, projected along [001] with
  :func:`rewardscope.physics.project`), so the network learns "bright round columns",
  not one lattice; SrTiO3 [001] between 0.30 and 0.40 Å/px is never simulated (held out
  for testing);
* each sample is simulated clean at a native pixel size of 0.2-0.6 Å/px with random
  rotation, probe width, background, scan distortion, amorphous patches and vacancies, on
  a field that becomes ``crop`` x ``crop`` pixels at the canonical pixel size (which
  itself is jittered by +-15 % so an uncalibrated image at a nearby scale still works);
* at every step, Gaussian noise (sigma 0-1.3 on the image scaled to [0, 1]) and, for a
  quarter of the samples, Poisson noise are added at the native pixel size, then the
  image is resampled to the canonical size, normalized, given its Bragg-filtered copy as a
  second channel and turned by a random dihedral symmetry; 3 % of samples are noise
  without any crystal;
* target: a Gaussian blob (sigma 1 canonical pixel, peak 1) at every true column;
  loss: binary cross-entropy weighted by ``1 + 4 * target``.

Generating the clean images once and adding noise per step keeps the simulator out of
the loop. A library trainer (Lightning, ...) would add a dependency for a 40-line loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch.nn import functional as F

from rewardscope.config import make_config
from rewardscope.detect.dcnn.inputs import network_input, normalize_image, resample
from rewardscope.detect.dcnn.model import CANONICAL_PIXEL_SIZE_ANGSTROM, AtomModel
from rewardscope.detect.dcnn.recipe import TrainConfig
from rewardscope.detect.dcnn.unet import AtomUNet, n_parameters
from rewardscope.nn.fit import fit
from rewardscope.physics import ProjectedCrystal, get_lattice
from rewardscope.physics.crystal import UnitCell, project
from rewardscope.physics.presets import PRESETS
from rewardscope.progress import ProgressArg, ProgressCallback, progress_scope, silent, start_stage
from rewardscope.simulate import simulate_haadf
from rewardscope.simulate.haadf import render_columns

#: Heavy elements of the random training crystals.
HEAVY = ("Sr", "Ba", "Ti", "Cu", "Y", "Zr", "Mo", "La", "Fe", "Ga", "In", "Pt", "Au", "W", "Si", "Ni")
#: (lattice, lowest, highest pixel size in Å) never used in training.
HELD_OUT = ("srtio3-001", 0.30, 0.40)


@dataclass
class Sample:
    """One clean training crop at its native pixel size."""

    image: np.ndarray          # (n, n) float32, clean, max 1
    target: np.ndarray         # (crop, crop) float32 heat map at the canonical size


@dataclass
class TrainResult:
    """The trained model and its history."""

    model: AtomModel
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0


def random_crystal(rng: np.random.Generator, *, min_nn_angstrom: float = 1.8) -> ProjectedCrystal:
    """A random projected crystal: random 2-D cell and 1-4 columns, at least one heavy.

    Parameters
    ----------
    rng : numpy.random.Generator
    min_nn_angstrom : float
        Smallest allowed distance between visible columns (resolvable by the probe).

    Returns
    -------
    ProjectedCrystal
    """
    while True:
        a, b = rng.uniform(2.8, 6.0, 2)
        gamma = np.deg2rad(rng.uniform(60, 120))
        cell = np.array([[a, 0, 0], [b * np.cos(gamma), b * np.sin(gamma), 0], [0, 0, rng.uniform(2.5, 4.5)]])
        n = int(rng.integers(1, 5))
        species = [str(s) for s in rng.choice(HEAVY, n)]
        species += ["O"] * int(rng.integers(0, 3))
        frac = rng.random((len(species), 3))
        crystal = project(UnitCell("random", cell, frac, tuple(species)), (0, 0, 1), name="random")
        if crystal.n_visible_per_cell and crystal.min_nn_distance_angstrom >= min_nn_angstrom:
            return crystal


def _sim_params(rng: np.random.Generator) -> dict[str, float]:
    def maybe(p: float, lo: float, hi: float) -> float:
        return float(rng.uniform(lo, hi)) if rng.random() < p else 0.0

    return dict(rotation_deg=float(rng.uniform(0, 360)), probe_fwhm_angstrom=float(rng.uniform(0.8, 1.3)),
                background=float(rng.uniform(0.0, 0.15)), scan_distortion_px=maybe(0.4, 0.0, 2.0),
                amorphous_fraction=maybe(0.4, 0.05, 0.4), vacancy_fraction=maybe(0.6, 0.0, 0.15))


def _pick_crystal(rng: np.random.Generator, random_share: float, presets: dict[str, ProjectedCrystal],
                  pixel_size: float) -> ProjectedCrystal | None:
    if rng.random() < 0.03:
        return None
    if rng.random() < random_share:
        return random_crystal(rng)
    names = [n for n in presets if not (n == HELD_OUT[0] and HELD_OUT[1] <= pixel_size <= HELD_OUT[2])]
    return presets[names[int(rng.integers(len(names)))]]


def make_sample(rng: np.random.Generator, *, crop: int, heat_sigma_px: float, random_share: float = 0.5,
                presets: dict[str, ProjectedCrystal] | None = None) -> Sample:
    """Simulate one clean crop and its canonical-size target heat map.

    Parameters
    ----------
    rng : numpy.random.Generator
    crop : int
        Side of the crop at the canonical pixel size.
    heat_sigma_px : float
        Sigma of the target blobs, canonical pixels.
    random_share : float
        Probability of a random crystal instead of a preset.
    presets : dict, optional
        Preset crystals by name (default: all presets).

    Returns
    -------
    Sample
    """
    presets = presets or {name: get_lattice(name) for name in PRESETS}
    ps = float(rng.uniform(0.2, 0.6))
    canonical = CANONICAL_PIXEL_SIZE_ANGSTROM * float(rng.uniform(0.85, 1.15))
    n = max(16, int(round(crop * canonical / ps)))
    crystal = _pick_crystal(rng, random_share, presets, ps)
    if crystal is None:
        return Sample(image=np.full((n, n), 0.1, np.float32), target=np.zeros((crop, crop), np.float32))
    sim = simulate_haadf(crystal, size=n, pixel_size=f"{ps!r}A", noise=0.0, seed=int(rng.integers(2**31)),
                         **_sim_params(rng))
    s = crop / n
    xy = (sim.positions + 0.5) * s - 0.5
    target = render_columns((crop, crop), xy[:, 0], xy[:, 1], np.ones(len(xy)), sigma_px=heat_sigma_px)
    return Sample(image=sim.image.astype(np.float32), target=np.minimum(target, 1.0).astype(np.float32))


def make_pool(config: TrainConfig, *, progress: ProgressCallback = silent) -> list[Sample]:
    """``config.pool`` clean samples from ``config.seed`` (stage ``"simulating training crops"``).

    Parameters
    ----------
    config : TrainConfig
    progress : callable
        ``progress(stage, done, total)`` (:mod:`rewardscope.progress`), one unit per crop.

    Returns
    -------
    list of Sample
    """
    rng = np.random.default_rng([config.seed, 1])
    presets = {name: get_lattice(name) for name in PRESETS}
    advance = start_stage(progress, "simulating training crops", total=config.pool, unit="crops")
    pool = []
    for _ in range(config.pool):
        pool.append(make_sample(rng, crop=config.crop, heat_sigma_px=config.heat_sigma_px,
                                random_share=config.random_share, presets=presets))
        advance()
    return pool


def noisy_batch(pool: list[Sample], idx: np.ndarray, rng: np.random.Generator, *, crop: int,
                noise_max: float, in_channels: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    """Add noise at the native size, resample, normalize, apply a random dihedral symmetry.

    Returns
    -------
    images : torch.Tensor, shape (batch, in_channels, crop, crop)
    targets : torch.Tensor, shape (batch, 1, crop, crop)
    """
    xs, ys = [], []
    for i in idx:
        s = pool[int(i)]
        img = s.image.astype(np.float64)
        if rng.random() < 0.25:
            dose = rng.uniform(20, 2000)
            img = rng.poisson(np.clip(img, 0, None) * dose) / dose
        img = img + rng.normal(0.0, rng.uniform(0.0, noise_max), img.shape)
        x = resample(torch.from_numpy(normalize_image(img))[None, None], (crop, crop))[0, 0].numpy()
        x = torch.from_numpy(network_input(x, in_channels=in_channels))
        y = torch.from_numpy(s.target)[None]
        k, flip = int(rng.integers(4)), bool(rng.integers(2))
        x, y = torch.rot90(x, k, (-2, -1)), torch.rot90(y, k, (-2, -1))
        if flip:
            x, y = torch.flip(x, (-1,)), torch.flip(y, (-1,))
        xs.append(x)
        ys.append(y)
    return torch.stack(xs).contiguous(), torch.stack(ys).contiguous()


def heatmap_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy against soft targets, weighted ``1 + 4 * target``."""
    return (F.binary_cross_entropy_with_logits(logits, target, reduction="none") * (1 + 4 * target)).mean()


def train_atom_unet(config: TrainConfig | None = None, *, progress: ProgressArg = None,
                    on_loss: Callable[[int, float], None] | None = None, **overrides: object) -> TrainResult:
    """Train the atom U-Net on simulated images.

    Parameters
    ----------
    config : TrainConfig, optional
        Recipe; keyword ``overrides`` replace single fields (``steps=200, pool=50``).
    progress : bool or callable, optional
        Stages ``"simulating training crops"`` (crops) and ``"training"`` (steps), reported
        as ``progress(stage, done, total)`` (:mod:`rewardscope.progress`).
    on_loss : callable, optional
        Called as ``on_loss(step, loss)`` after every step (steps count from 1); the
        losses are also in the result's ``losses``.

    Returns
    -------
    TrainResult
        Model (eval mode, on the CPU), per-step losses and wall time.

    Examples
    --------
    >>> seen = []
    >>> res = train_atom_unet(steps=2, pool=4, batch_size=2, crop=32, channels=(4, 8),
    ...                       on_loss=lambda step, loss: seen.append(step))
    >>> len(res.losses), seen
    (2, [1, 2])
    """
    cfg = make_config(TrainConfig, config, **overrides)
    t0 = time.perf_counter()
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    with progress_scope(progress) as report:
        pool = make_pool(cfg, progress=report)
        net, losses = _train(cfg, pool, report, on_loss)
    seconds = time.perf_counter() - t0
    meta = {"config": cfg.model_dump(), "seconds": round(seconds, 1), "n_parameters": n_parameters(net),
            "final_loss": float(np.mean(losses[-100:])), "held_out": list(HELD_OUT),
            "torch": str(torch.__version__)}
    return TrainResult(model=AtomModel(net=net, pixel_size_angstrom=CANONICAL_PIXEL_SIZE_ANGSTROM, meta=meta),
                       losses=losses, seconds=seconds)


def _train(cfg: TrainConfig, pool: list[Sample], progress: ProgressCallback,
           on_loss: Callable[[int, float], None] | None) -> tuple[AtomUNet, list[float]]:
    """The optimization loop: a new network trained on noisy batches of ``pool``; returns it (CPU, eval) and the losses."""
    net = AtomUNet(cfg.channels, in_channels=cfg.in_channels)
    rng = np.random.default_rng([cfg.seed, 2])

    def batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        idx = rng.integers(len(pool), size=cfg.batch_size)
        return noisy_batch(pool, idx, rng, crop=cfg.crop, noise_max=cfg.noise_max, in_channels=cfg.in_channels)

    losses = fit(net, batch, heatmap_loss, steps=cfg.steps, lr=cfg.lr, device=cfg.device, progress=progress,
                 on_loss=on_loss, pct_start=0.05, final_div_factor=2.0)  # ends at lr / 50
    return net, losses

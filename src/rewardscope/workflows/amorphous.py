"""Amorphised (disordered) regions without labels: GMM on per-atom order features, tuned by shape rewards.

Prepare (once): atoms (given, or found by LoG*), their classes (:func:`species_clusters`),
the lattice deviation of every atom, patches at the largest window, and the nearest-atom
map of the mask builder. Run (per trial): for a window ``window_nm`` three features per
atom -- 1 - correlation and the amplitude of its Gaussian-tapered patch against the median
patch of its class, and its lattice deviation averaged over half the window -- are
standardised and fitted by a 2-component Gaussian mixture of the trial's covariance type;
the component with the larger disorder score is the amorphous one. Atoms whose posterior
exceeds ``threshold`` form the region; the mask is the union of discs of radius
``dilation_nn`` neighbour distances around them, cut half-way to crystalline atoms
(:mod:`rewardscope.classify.mask`) and smoothed. Rewards (minimised): 1 - compactness and
the total normalized perimeter (:mod:`rewardscope.rewards.regions`), as in Barakati et al.
(2024). :class:`AmorphousConfig` is the single source of defaults for the API and the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scipy import ndimage

from rewardscope.classify.clusters import COVARIANCE_TYPES
from rewardscope.classify.mask import MaskBuilder
from rewardscope.classify.order import lattice_deviation, neighbourhood_mean, ordered_atoms
from rewardscope.classify.patches import atom_positions, centre_crop, extract_patches, gaussian_taper, window_px
from rewardscope.errors import ParameterError
from rewardscope.optimize import CategoricalParam, FloatParam, SearchSpace
from rewardscope.progress import ProgressArg, ProgressCallback, progress_scope, silent, start_stage
from rewardscope.result import Result
from rewardscope.rewards.regions import REGION_REWARDS
from rewardscope.units import Length
from rewardscope.optimize.settings import StudySettings
from rewardscope.workflows.base import Workflow, optimize
from rewardscope.workflows.classify import (configure, neighbour_distance_px, read_atoms, species_clusters,
                                            window_side_px)


class AmorphousConfig(BaseModel):
    """Settings of amorphous-region mapping (defaults shared by :func:`map_amorphous` and the CLI)."""

    model_config = ConfigDict(extra="forbid")

    lattice: str = Field("ybco-100", description="Preset lattice (neighbour distance; LoG* when no atoms are given).")
    pixel_size: str | None = Field(None, description="Pixel size with unit, e.g. 0.35A (default: from the file).")
    trials: int = Field(100, ge=1, le=100_000, description="Number of optimization trials.")
    sampler: Literal["tpe", "gp", "nsga2"] = Field("tpe", description="Optuna sampler: tpe, gp or nsga2.")
    select: Literal["euclidean", "chebyshev"] = Field("euclidean", description="Rule choosing one Pareto point.")
    seed: int = Field(0, description="Random seed (optimizer and mixtures).")
    window_range_nm: tuple[float, float] = Field((0.5, 2.0), description="Search range of the patch window, nm (wider windows smear the region edge).")
    threshold_range: tuple[float, float] = Field((0.05, 0.95), description="Search range of the amorphous-probability threshold.")
    covariance_types: tuple[str, ...] = Field(COVARIANCE_TYPES, description="Covariance types of the mixture to search (full, tied, diag, spherical).")
    dilation_range_nn: tuple[float, float] = Field((0.5, 3.0), description="Search range of the dilation radius, in neighbour distances.")
    smooth_nn: float = Field(0.5, ge=0, le=5, description="Gaussian smoothing of the mask edge, in neighbour distances.")
    classes: int = Field(4, ge=1, le=50, description="Atom classes whose median patches are the crystalline references.")
    class_window: str = Field("2.0nm", description="Patch window of the class clustering.")
    atom_trials: int = Field(100, ge=1, le=100_000, description="LoG* trials when atoms are not given.")
    storage: str | None = Field(None, description="SQLite file holding the study; rerunning with it resumes.")
    study_name: str | None = Field(None, description="Study name inside --storage.")


@dataclass
class AmorphousState:
    """Parameter-independent data of one image (built by :meth:`AmorphousWorkflow.prepare`)."""

    shape: tuple[int, int]
    xy: np.ndarray
    nn_px: float
    pixel_size: Length
    classes: np.ndarray
    ordered: np.ndarray
    deviation: np.ndarray
    patches: np.ndarray
    builder: MaskBuilder
    cache: dict  # features by patch side, probabilities by (side, covariance type)


@dataclass
class AmorphousOutput:
    """One trial's result: per-atom probability, the atoms above threshold, and the pixel mask."""

    probability: np.ndarray
    amorphous: np.ndarray
    mask: np.ndarray


@dataclass
class AmorphousResult(Result):
    """Amorphous regions of one image. Tables ``atoms`` (+ ``class``, ``amorphous_probability``,
    ``amorphous``, ``lattice_deviation``), ``trials``, ``pareto``; array ``mask`` (uint8)."""

    @property
    def mask(self) -> np.ndarray:
        """Boolean (rows, cols) mask of the amorphous regions."""
        return self.arrays["mask"].astype(bool)

    @property
    def atoms(self) -> pd.DataFrame:
        """Atoms with their amorphous probability."""
        return self.tables["atoms"]


def order_features(state: AmorphousState, side: int) -> np.ndarray:
    """Per-atom (1 - correlation, lattice deviation, amplitude) for a patch side, cached.

    Parameters
    ----------
    state : AmorphousState
    side : int
        Patch side, pixels (odd).

    Returns
    -------
    numpy.ndarray, shape (n_atoms, 3)
    """
    if side in state.cache:
        return state.cache[side]
    pts = centre_crop(state.patches, side).astype(float) * gaussian_taper(side)
    flat = pts.reshape(len(pts), -1)
    flat = flat - flat.mean(axis=1, keepdims=True)
    corr = np.zeros(len(flat))
    amp = np.zeros(len(flat))
    for k in np.unique(state.classes):
        sel = state.classes == k
        ref_set = sel & state.ordered if (sel & state.ordered).any() else sel
        ref = np.median(flat[ref_set], axis=0)
        ref = ref - ref.mean()
        dot = flat[sel] @ ref
        norm = float(ref @ ref) or 1.0
        corr[sel] = dot / (np.linalg.norm(flat[sel], axis=1) * np.sqrt(norm) + 1e-12)
        amp[sel] = dot / norm
    dev = neighbourhood_mean(state.xy, state.deviation, radius=side / 2.0)
    feats = np.column_stack([1.0 - corr, dev, amp])
    state.cache[side] = feats
    return feats


def amorphous_probability(features: np.ndarray, *, covariance_type: str, seed: int = 0) -> np.ndarray:
    """Posterior of the disordered component of a 2-Gaussian mixture on standardised features.

    Parameters
    ----------
    features : numpy.ndarray, shape (n, 3)
        (1 - correlation, lattice deviation, amplitude): the first two grow with disorder,
        the last shrinks.
    covariance_type : {"full", "tied", "diag", "spherical"}
    seed : int

    Returns
    -------
    numpy.ndarray, shape (n,)
    """
    from sklearn.mixture import GaussianMixture

    sd = features.std(axis=0)
    z = (features - features.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    if len(z) < 4:
        return np.zeros(len(z))
    gmm = GaussianMixture(2, covariance_type=covariance_type, random_state=seed, reg_covar=1e-4).fit(z)
    disorder = gmm.means_ @ np.array([1.0, 1.0, -1.0])
    return gmm.predict_proba(z)[:, int(np.argmax(disorder))]


class AmorphousWorkflow(Workflow):
    """Search space (window, threshold, covariance type, dilation), prepare/run, shape rewards."""

    def __init__(self, *, config: AmorphousConfig, xy: np.ndarray, pixel_size: Length, nn_px: float) -> None:
        super().__init__(rewards=dict(REGION_REWARDS), context=None)
        self.config = config
        self.xy = xy
        self.pixel_size = pixel_size
        self.nn_px = nn_px

    def search_space(self) -> SearchSpace:
        """window_nm, threshold, covariance (categorical), dilation_nn."""
        c = self.config
        bad = [t for t in c.covariance_types if t not in COVARIANCE_TYPES]
        if bad or not c.covariance_types:
            raise ParameterError(f"covariance types must be among {list(COVARIANCE_TYPES)}, got {list(c.covariance_types)}")
        return SearchSpace([
            FloatParam("window_nm", *c.window_range_nm),
            FloatParam("threshold", *c.threshold_range),
            CategoricalParam("covariance", tuple(c.covariance_types)),
            FloatParam("dilation_nn", *c.dilation_range_nn),
        ])

    def prepare(self, image: np.ndarray, *, progress: ProgressCallback = silent) -> AmorphousState:
        """Classes, lattice deviation, patches at the largest window, nearest-atom map (stage ``"atom features"``)."""
        c, xy, nn = self.config, self.xy, self.nn_px
        advance = start_stage(progress, "atom features", total=3, unit="steps")
        deviation = lattice_deviation(xy, nn_px=nn)
        ordered = ordered_atoms(neighbourhood_mean(xy, deviation, radius=1.5 * nn), seed=c.seed)
        advance()
        class_side = window_side_px(c.class_window, self.pixel_size, image.shape)
        big = max(class_side, window_side_px(f"{c.window_range_nm[1]}nm", self.pixel_size, image.shape))
        patches = extract_patches(image, xy, side=big)
        advance()
        classes, _ = species_clusters(centre_crop(patches, class_side), ordered, classes=c.classes,
                                      pca_components=8, symmetrize=True, n_init=3, seed=c.seed)
        advance()
        return AmorphousState(shape=image.shape, xy=xy, nn_px=nn, pixel_size=self.pixel_size, classes=classes,
                              ordered=ordered, deviation=deviation, patches=patches,
                              builder=MaskBuilder(image.shape, xy), cache={})

    def run(self, state: AmorphousState, params: dict[str, Any]) -> AmorphousOutput:
        """Probability per atom, atoms above threshold, smoothed region mask."""
        side = min(window_px(f"{params['window_nm']}nm", state.pixel_size), state.patches.shape[-1])
        key = (side, params["covariance"])
        if key not in state.cache:
            state.cache[key] = amorphous_probability(order_features(state, side),
                                                     covariance_type=params["covariance"], seed=self.config.seed)
        prob = state.cache[key]
        chosen = prob > params["threshold"]
        mask = state.builder.mask(chosen, radius_px=params["dilation_nn"] * state.nn_px)
        smooth = self.config.smooth_nn * state.nn_px
        if smooth > 0 and mask.any():
            mask = ndimage.gaussian_filter(mask.astype(float), smooth) > 0.5
        return AmorphousOutput(probability=prob, amorphous=chosen, mask=mask)

    def describe(self, output: AmorphousOutput) -> dict[str, float]:
        """Area share of the mask and number of amorphous atoms, recorded per trial."""
        return {"area_fraction": float(output.mask.mean()), "n_amorphous": float(output.amorphous.sum())}


def _atoms_for(image: np.ndarray, atoms: Any, cfg: AmorphousConfig, ps: Length,
               progress: ProgressCallback) -> pd.DataFrame:
    """The given atom table, or LoG* atoms found with the config's lattice."""
    if atoms is not None:
        return read_atoms(atoms)
    from rewardscope.workflows.atoms import find_atoms

    found = find_atoms(image, lattice=cfg.lattice, pixel_size=ps, trials=cfg.atom_trials, seed=cfg.seed,
                       progress=progress)
    return found.atoms.reset_index(drop=True)


def map_amorphous(image: Any, *, atoms: pd.DataFrame | str | Path | None = None,
                  config: AmorphousConfig | None = None, pixel_size: str | Length | None = None,
                  progress: ProgressArg = False, **overrides: Any) -> AmorphousResult:
    """Map amorphised regions: per-atom amorphous probability and a pixel mask, tuned by shape rewards.

    Parameters
    ----------
    image : numpy.ndarray (rows, cols), ImageData or path
    atoms : pandas.DataFrame or path, optional
        Atom table with ``x``, ``y`` (pixels); default: found by LoG* with ``config.lattice``.
    config : AmorphousConfig, optional
        Settings; keyword ``overrides`` (``trials=50, lattice="srtio3-001"``...) replace fields.
    pixel_size : str or Length, optional
        Overrides the file's calibration.
    progress : bool or callable
        ``True``: progress of every stage (LoG* when atoms are not given, atom features,
        trials) on stderr, bars on a terminal and log lines elsewhere; or a callback
        ``progress(stage, done, total)`` (:mod:`rewardscope.progress`).

    Returns
    -------
    AmorphousResult

    Raises
    ------
    CalibrationError
        No pixel size.
    FileFormatError, ParameterError
        Bad atom table, too few atoms, bad settings.

    Examples
    --------
    >>> from rewardscope.simulate import simulate_haadf
    >>> sim = simulate_haadf("ybco-100", size=128, amorphous_fraction=0.25, noise=0.1, seed=0)
    >>> res = map_amorphous(sim.image, atoms=sim.truth, pixel_size=sim.pixel_size, trials=10)
    >>> res.mask.shape
    (128, 128)
    """
    cfg, arr, ps = configure(AmorphousConfig, config, overrides, image=image, pixel_size=pixel_size,
                             task="amorphous mapping")
    with progress_scope(progress) as report:
        table = _atoms_for(arr, atoms, cfg, ps, report)
        xy = atom_positions(table, min_atoms=max(cfg.classes, 10))
        nn = neighbour_distance_px(xy, lattice=cfg.lattice, pixel_size=ps)
        wf = AmorphousWorkflow(config=cfg, xy=xy, pixel_size=ps, nn_px=nn)
        opt = optimize(wf, arr, StudySettings(trials=cfg.trials, sampler=cfg.sampler, seed=cfg.seed,
                                         selection=cfg.select, storage=cfg.storage, study_name=cfg.study_name),
                       progress=report)
    out, state = opt.output, opt.state
    table = table.copy()
    table["class"] = state.classes
    table["lattice_deviation"] = state.deviation
    table["amorphous_probability"] = out.probability
    table["amorphous"] = out.amorphous
    study = opt.study
    summary = {"n_atoms": len(table), "n_amorphous": int(out.amorphous.sum()),
               "area_fraction": float(out.mask.mean()), "neighbour_distance_px": nn,
               "atoms_source": "given" if atoms is not None else "log-star",
               **study.summary(), "seconds_detail": opt.seconds, "config": cfg.model_dump()}
    return AmorphousResult(tables={"atoms": table, "trials": study.trials, "pareto": study.pareto},
                           arrays={"mask": out.mask.astype(np.uint8)}, summary=summary, image=arr, pixel_size=ps,
                           extras={"study": study, "state": state, "output": out})

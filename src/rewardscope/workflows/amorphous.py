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
(:mod:`rewardscope.classify.mask`) and smoothed. Rewards (minimised, replaceable with
``rewards=``): 1 - compactness (per region, area-weighted) and the total normalized
perimeter, as in Barakati et al. (2024), and the separation of the atoms' own lattice
deviation by the mask (:mod:`rewardscope.rewards.regions`): shape alone preferred wrong
masks of nicer shape (a band swallowing the crystal between patches, masks without the
small patches). The shape rewards still pulled the choice off the data on the Pareto front: a
compact band over two patches and the crystal between them (separation loss 0.32 against the
best mask's 0.13, IoU 0.77 instead of 0.87) sat nearer the ideal point than the true patches,
because the front's extreme masks stretch the separation axis. So the point is chosen among the
masks whose separation loss is within ``separation_gate`` (2) times the front's best
(:func:`~rewardscope.optimize.select.gated`): the data decide first, the shape among the masks
they cannot tell apart. On noisy images every mask separates about as badly (losses 0.38-0.50)
and the gate changes nothing. The dilation starts at one neighbour distance: smaller discs leave holes
between a lattice's atoms, a spray of discs that per-region compactness would call compact. Finish: the chosen
trial's per-atom table. :func:`map_amorphous` runs it all through
:func:`~rewardscope.workflows.base.run_workflow`; :class:`AmorphousConfig` is the single
source of defaults for the API and the CLI.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage

from rewardscope.classify.clusters import species_clusters
from rewardscope.classify.mask import MaskBuilder
from rewardscope.classify.order import lattice_deviation, neighbour_distance_px, neighbourhood_mean, ordered_atoms
from rewardscope.classify.patches import centre_crop, extract_patches, gaussian_taper, window_px, window_side_px
from rewardscope.classify.table import atom_positions, read_atoms
from rewardscope.config import make_config
from rewardscope.errors import CalibrationError
from rewardscope.io.load import Input, load_input
from rewardscope.optimize import CategoricalParam, FloatParam, SearchSpace, StudyResult
from rewardscope.progress import ProgressArg, ProgressCallback, silent, start_stage
from rewardscope.result import Result
from rewardscope.rewards.regions import REGION_REWARDS
from rewardscope.units import Length, parse_length
from rewardscope.workflows.base import Reward, Workflow, run_workflow
from rewardscope.workflows.amorphous_config import AmorphousConfig  # noqa: F401  (re-exported)


@dataclass
class AmorphousState:
    """Parameter-independent data of one image (built by :meth:`AmorphousWorkflow.prepare`)."""

    shape: tuple[int, int]
    atoms: pd.DataFrame  # the atom table (given or found)
    xy: np.ndarray
    nn_px: float
    pixel_size: Length
    classes: np.ndarray
    ordered: np.ndarray
    deviation: np.ndarray
    patches: np.ndarray
    builder: MaskBuilder
    inside: np.ndarray  # per patch pixel: does it lie inside the image (patches of atoms near the edge are cut)
    pixel_index: tuple[np.ndarray, np.ndarray]  # (row, col) of each atom's pixel
    cache: dict  # features by patch side, probabilities by (side, covariance type)


@dataclass
class AmorphousOutput:
    """One trial's result: per-atom probability, the atoms above threshold, and the pixel mask.

    ``in_region`` says which atoms lie in the mask and ``disorder`` is their lattice deviation
    (window-independent), what the separation reward compares.
    """

    probability: np.ndarray
    amorphous: np.ndarray
    mask: np.ndarray
    in_region: np.ndarray
    disorder: np.ndarray


@dataclass
class AmorphousMap:
    """The finished map (:meth:`AmorphousWorkflow.finish`): the per-atom table and the chosen trial's output."""

    atoms: pd.DataFrame
    output: AmorphousOutput
    state: AmorphousState


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
    inside = centre_crop(state.inside, side).reshape(len(pts), -1).astype(float)
    whole = inside.all(axis=1)
    corr = np.zeros(len(flat))
    amp = np.zeros(len(flat))
    for k in np.unique(state.classes):
        sel = state.classes == k
        ref_set = sel & state.ordered if (sel & state.ordered).any() else sel
        ref_set = ref_set & whole if (ref_set & whole).any() else ref_set  # references from uncut patches
        ref = np.median(flat[ref_set] - flat[ref_set].mean(axis=1, keepdims=True), axis=0)
        corr[sel], amp[sel] = _masked_match(flat[sel], inside[sel], ref)
    dev = neighbourhood_mean(state.xy, state.deviation, radius=side / 2.0)
    feats = np.column_stack([1.0 - corr, dev, amp])
    state.cache[side] = feats
    return feats


def patch_inside(shape: tuple[int, int], xy: np.ndarray, *, side: int) -> np.ndarray:
    """Which pixels of each atom's patch (as :func:`extract_patches` samples it) lie inside the image.

    Returns
    -------
    numpy.ndarray of bool, shape (n, side, side)

    Examples
    --------
    >>> patch_inside((10, 10), np.array([[0.0, 5.0]]), side=3)[0].astype(int).tolist()
    [[0, 1, 1], [0, 1, 1], [0, 1, 1]]
    """
    off = np.arange(side) - (side - 1) / 2.0
    rows = xy[:, 1][:, None, None] + off[None, :, None]
    cols = xy[:, 0][:, None, None] + off[None, None, :]
    return (rows >= 0) & (rows <= shape[0] - 1) & (cols >= 0) & (cols <= shape[1] - 1)


def atom_pixels(shape: tuple[int, int], xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, col) index of the pixel of each atom, clipped to the image.

    Examples
    --------
    >>> atom_pixels((10, 10), np.array([[2.4, 9.7], [-0.3, 3.5]]))
    (array([9, 4]), array([2, 0]))
    """
    rows = np.clip(np.round(xy[:, 1]).astype(int), 0, shape[0] - 1)
    cols = np.clip(np.round(xy[:, 0]).astype(int), 0, shape[1] - 1)
    return rows, cols


def _masked_match(x: np.ndarray, inside: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Correlation and amplitude (regression slope) of each patch against ``ref`` over its pixels inside the image.

    A patch cut by the frame edge is compared on the part that exists (means removed over
    that part), so being near the edge does not look like disorder; for an uncut patch this
    is the plain correlation and ``x . ref / |ref|^2`` of mean-free vectors.
    """
    xm = x * inside
    n = np.maximum(inside.sum(axis=1), 1.0)
    sx, sr = xm.sum(axis=1), inside @ ref
    cov = xm @ ref - sx * sr / n
    var_x = (xm * x).sum(axis=1) - sx * sx / n
    var_r = inside @ (ref * ref) - sr * sr / n
    corr = cov / (np.sqrt(np.clip(var_x * var_r, 0, None)) + 1e-12)
    amp = cov / np.where(var_r > 0, var_r, 1.0)
    return corr, amp


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
    """Search space (window, threshold, covariance type, dilation), prepare/run, shape rewards.

    Parameters
    ----------
    config : AmorphousConfig
    atoms : pandas.DataFrame or path, optional
        Atom table with ``x``, ``y`` (pixels); default: found by LoG* with ``config.lattice``
        in :meth:`prepare`.
    pixel_size : str or Length, optional
        Calibration of the images given to :meth:`prepare` (:meth:`load` sets it from the input).
    rewards : mapping of str to callable, optional
        ``name -> reward(output, context)`` on :class:`AmorphousOutput` (minimised); default
        :data:`~rewardscope.rewards.regions.REGION_REWARDS` (compactness, perimeter, separation).

    Examples
    --------
    >>> from rewardscope.simulate import simulate_haadf
    >>> sim = simulate_haadf("ybco-100", size=96, amorphous_fraction=0.25, noise=0.1, seed=0)
    >>> wf = AmorphousWorkflow(config=AmorphousConfig(), atoms=sim.truth, pixel_size=sim.pixel_size)
    >>> out = wf.run(wf.prepare(sim.image), {"window_nm": 1.2, "threshold": 0.5, "covariance": "full",
    ...                                      "dilation_nn": 1.5})
    >>> out.mask.shape, sorted(wf.evaluate(out))
    ((96, 96), ['area_fraction', 'compactness', 'n_amorphous', 'perimeter', 'separation'])
    """

    def __init__(self, *, config: AmorphousConfig, atoms: pd.DataFrame | str | Path | None = None,
                 pixel_size: str | Length | None = None, rewards: Mapping[str, Reward] | None = None) -> None:
        rewards = dict(rewards or REGION_REWARDS)
        gate = config.separation_gate
        super().__init__(rewards=rewards, context=None,
                         reward_gates={"separation": gate} if gate is not None and "separation" in rewards else None)
        self.config = config
        self.atoms = None if atoms is None else read_atoms(atoms)
        self.pixel_size = None if pixel_size is None else parse_length(pixel_size)

    def search_space(self) -> SearchSpace:
        """window_nm, threshold, covariance (categorical), dilation_nn."""
        c = self.config
        return SearchSpace([
            FloatParam("window_nm", c.window_range[0].nm, c.window_range[1].nm),
            FloatParam("threshold", *c.threshold_range),
            CategoricalParam("covariance", tuple(c.covariance_types)),
            FloatParam("dilation_nn", *c.dilation_range_nn),
        ])

    def load(self, source: Any, pixel_size: Any = None) -> Input:
        """One image with its pixel size (required): the argument's, else this workflow's, else the source's."""
        inp = load_input(source, pixel_size or self.pixel_size)
        self.pixel_size = inp.require_pixel_size("amorphous mapping")
        return inp

    def prepare(self, image: np.ndarray, *, progress: ProgressCallback = silent) -> AmorphousState:
        """Atoms (given or LoG*), classes, lattice deviation, patches at the largest window, nearest-atom map.

        Stages: LoG*'s when no atoms were given, then ``"atom features"``.
        """
        c = self.config
        ps = self._pixel_size()
        table = self._atoms(image, ps, progress)
        xy = atom_positions(table, min_atoms=max(c.classes, 10))
        nn = neighbour_distance_px(xy, lattice=c.lattice, pixel_size=ps)
        advance = start_stage(progress, "atom features", total=3, unit="steps")
        deviation = lattice_deviation(xy, nn_px=nn)
        ordered = ordered_atoms(neighbourhood_mean(xy, deviation, radius=1.5 * nn), seed=c.study.seed)
        advance()
        class_side = window_side_px(c.class_window, ps, image.shape)
        patches = extract_patches(image, xy, side=max(class_side, window_side_px(c.window_range[1], ps, image.shape)))
        advance()
        classes, _ = species_clusters(centre_crop(patches, class_side), ordered, classes=c.classes,
                                      pca_components=8, symmetrize=True, n_init=3, seed=c.study.seed)
        advance()
        return AmorphousState(shape=image.shape, atoms=table, xy=xy, nn_px=nn, pixel_size=ps, classes=classes,
                              ordered=ordered, deviation=deviation, patches=patches,
                              builder=MaskBuilder(image.shape, xy), cache={},
                              inside=patch_inside(image.shape, xy, side=patches.shape[-1]),
                              pixel_index=atom_pixels(image.shape, xy))

    def _pixel_size(self) -> Length:
        if self.pixel_size is None:
            raise CalibrationError("amorphous mapping needs the pixel size: pass --pixel-size (e.g. 0.35A) "
                                   "or use a file that stores its calibration")
        return self.pixel_size

    def _atoms(self, image: np.ndarray, pixel_size: Length, progress: ProgressCallback) -> pd.DataFrame:
        """The given atom table, or LoG* atoms found with the config's lattice."""
        if self.atoms is not None:
            return self.atoms
        from rewardscope.workflows.atoms import find_atoms

        found = find_atoms(image, lattice=self.config.lattice, pixel_size=pixel_size, trials=self.config.atom_trials,
                           seed=self.config.study.seed, lattice_prior=False, progress=progress)  # keep disordered atoms
        return found.atoms.reset_index(drop=True)

    def run(self, state: AmorphousState, params: dict[str, Any]) -> AmorphousOutput:
        """Probability per atom, atoms above threshold, smoothed region mask."""
        side = min(window_px(Length(params["window_nm"], "nm"), state.pixel_size), state.patches.shape[-1])
        key = (side, params["covariance"])
        if key not in state.cache:
            state.cache[key] = amorphous_probability(order_features(state, side),
                                                     covariance_type=params["covariance"], seed=self.config.study.seed)
        prob = state.cache[key]
        chosen = prob > params["threshold"]
        mask = state.builder.mask(chosen, radius_px=params["dilation_nn"] * state.nn_px)
        smooth = self.config.smooth_nn * state.nn_px
        if smooth > 0 and mask.any():
            mask = ndimage.gaussian_filter(mask.astype(float), smooth) > 0.5
        return AmorphousOutput(probability=prob, amorphous=chosen, mask=mask,
                               in_region=mask[state.pixel_index], disorder=state.deviation)

    def describe(self, output: AmorphousOutput) -> dict[str, float]:
        """Area share of the mask and number of amorphous atoms, recorded per trial."""
        return {"area_fraction": float(output.mask.mean()), "n_amorphous": float(output.amorphous.sum())}

    def finish(self, output: AmorphousOutput, *, state: AmorphousState, inp: Input,
               progress: ProgressCallback) -> tuple[AmorphousMap, dict[str, Any]]:
        """The atom table with ``class``, ``lattice_deviation``, ``amorphous_probability``, ``amorphous``.

        Summary entries: ``n_atoms``, ``n_amorphous``, ``area_fraction``, ``neighbour_distance_px``,
        ``atoms_source`` (``given`` or ``log-star``).
        """
        table = state.atoms.assign(**{"class": state.classes, "lattice_deviation": state.deviation,
                                      "amorphous_probability": output.probability, "amorphous": output.amorphous})
        extra = {"n_atoms": len(table), "n_amorphous": int(output.amorphous.sum()),
                 "area_fraction": float(output.mask.mean()), "neighbour_distance_px": state.nn_px,
                 "atoms_source": "given" if self.atoms is not None else "log-star"}
        return AmorphousMap(atoms=table, output=output, state=state), extra

    def to_result(self, output: AmorphousMap, *, study: StudyResult, inp: Input,
                  summary: dict[str, Any]) -> AmorphousResult:
        """Tables ``atoms``, ``trials``, ``pareto``; array ``mask``; extras ``study``, ``state``, ``output``."""
        return AmorphousResult(tables={"atoms": output.atoms, "trials": study.trials, "pareto": study.pareto},
                               arrays={"mask": output.output.mask.astype(np.uint8)}, summary=summary,
                               image=inp.image, pixel_size=inp.pixel_size,
                               extras={"study": study, "state": output.state, "output": output.output})


def map_amorphous(source: Any, *, atoms: pd.DataFrame | str | Path | None = None,
                  config: AmorphousConfig | None = None, pixel_size: str | Length | None = None,
                  rewards: Mapping[str, Reward] | None = None, progress: ProgressArg = False,
                  **overrides: Any) -> AmorphousResult:
    """Map amorphised regions: per-atom amorphous probability and a pixel mask, tuned by shape rewards.

    Parameters
    ----------
    source : path, numpy.ndarray (rows, cols), ImageData, HyperSpy-like signal, ...
        The image: anything :func:`rewardscope.io.load_input` accepts.
    atoms : pandas.DataFrame or path, optional
        Atom table with ``x``, ``y`` (pixels); default: found by LoG* with ``config.lattice``.
    config : AmorphousConfig, optional
        Settings; keyword ``overrides`` (``trials=50, lattice="srtio3-001"``...) replace fields
        (study fields such as ``trials``, ``sampler``, ``seed`` go into ``config.study``).
    pixel_size : str or Length, optional
        Overrides the source's calibration.
    rewards : mapping of str to callable, optional
        Region rewards ``(AmorphousOutput, context) -> float`` (minimised) replacing the
        default compactness, perimeter and separation (:data:`~rewardscope.rewards.regions.REGION_REWARDS`).
    progress : bool or callable
        ``True``: progress of every stage (LoG* when atoms are not given, atom features,
        trials) on stderr, bars on a terminal and log lines elsewhere; or a callback
        ``progress(stage, done, total)`` (:mod:`rewardscope.progress`).

    Returns
    -------
    AmorphousResult
        Summary in the one schema of :func:`~rewardscope.workflows.base.run_workflow`, plus
        ``n_atoms``, ``n_amorphous``, ``area_fraction``, ``neighbour_distance_px``, ``atoms_source``.

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
    >>> res.mask.shape, res.summary["objectives"], res.summary["n_trials"]
    ((128, 128), ['compactness', 'perimeter', 'separation'], 10)
    """
    if pixel_size is not None:
        overrides["pixel_size"] = pixel_size
    cfg = make_config(AmorphousConfig, config, **overrides)
    return run_workflow(AmorphousWorkflow(config=cfg, atoms=atoms, rewards=rewards), source, cfg, progress=progress)

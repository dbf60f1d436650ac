"""Reward-driven atom finding: LoG* (LoG tuned by multi-objective BO) and plain LoG.

:func:`find_atoms` takes an image, a lattice (preset, CIF + zone axis, or a
:class:`~rewardscope.physics.ProjectedCrystal`) and a pixel size, builds the physics
prior (expected column count, ideal 4-NN distance sum), and either optimizes the five
LoG parameters against the label-free rewards QC and ER (``method="log-star"``) or runs
LoG once with fixed parameters (``method="log"``). :class:`AtomsConfig` is the single
source of defaults for this API and the ``rewardscope atoms`` command.

The sigma bounds of the search space are the published LoG* ones (min_sigma 0.1-3,
max_sigma 1-6 px) at a reference pixel size of 0.35 Å, scaled by reference / actual
pixel size (``sigma_scale`` in the summary), so the same physical blob sizes are searched
at any magnification. ``min_sigma`` and ``max_sigma`` are the two ends of blob_log's sigma
sweep, searched independently; when ``min_sigma > max_sigma`` the ends are swapped, so
the summary's ``sigma_range_px`` gives the range used (``parameters_doc`` says all this).

Every result is checked for plausibility (:mod:`rewardscope.workflows.plausibility`): a
pixel size that makes the cell smaller than 4 px or larger than 200 px (checked first),
a count far from the expected one, detections that do not form the lattice (noise).
Each problem is a :class:`~rewardscope.errors.PlausibilityWarning`, listed under
``"warnings"`` in the summary; with ``strict=True`` it is an error instead. Atom centres
are kept inside the image (:func:`rewardscope.detect.refine.inside_image`).

More methods plug in with :func:`register_atom_method` (e.g. a DCNN finder); an oracle's
count replaces the lattice's expected count through ``n_expected``.

With ``lattice_prior=True`` the found columns only seed :mod:`rewardscope.detect.lattice`:
the lattice is fitted to them, every site is tested for a column and positions are pulled
towards the sites (much better at high noise and below the single-column Cramér-Rao
bound on perfect crystals; biased where noise hides vacancies or isolated displacements).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from rewardscope.config import make_config
from rewardscope.detect.log import ScaleSpace, find_blobs, prepare_scale_space, sigma_grid
from rewardscope.detect.refine import fit_gaussians, inside_image
from rewardscope.errors import CalibrationError, ParameterError
from rewardscope.optimize import FloatParam, IntParam, SearchSpace, StudyResult
from rewardscope.progress import ProgressArg, ProgressCallback, progress_scope, silent, start_stage
from rewardscope.result import Result
from rewardscope.rewards.atoms import ATOM_REWARDS, ER_FACTOR, AtomReward, AtomRewardContext
from rewardscope.units import Length, parse_length
from rewardscope.optimize.settings import StudySettings
from rewardscope.workflows.base import Workflow, optimize
from rewardscope.workflows.plausibility import (Checks, cell_size_problem, cell_size_px, count_problem, order_problem,
                                                outside_problem)

LOG_PARAMS = ("min_sigma", "max_sigma", "num_sigma", "threshold", "overlap")
#: Cap on the cached scale space, bytes (response + local maxima, float32).
SCALE_SPACE_BUDGET_BYTES = 400 * 2**20
#: Columns fitted per call of the final Gaussian refinement (bounds memory, paces the progress).
FIT_CHUNK = 20_000
#: What the LoG parameters and the sigma scale in ``summary.json`` mean (its ``parameters_doc``).
LOG_PARAMETER_DOC = {
    "min_sigma": "first sigma of the LoG sweep linspace(min_sigma, max_sigma, num_sigma), px at this image's pixel "
                 "size; searched independently of max_sigma (ranges: sigma_search_px), so it may exceed max_sigma, "
                 "and then the two ends are swapped: sigma_range_px is the range used",
    "max_sigma": "last sigma of the LoG sweep, px at this image's pixel size (see min_sigma)",
    "num_sigma": "number of sigmas in the sweep",
    "threshold": "lowest scale-normalized LoG response of an atom (image scaled to [0, 1])",
    "overlap": "of two blobs overlapping by more than this share of the smaller one's area, the smaller is dropped",
    "sigma_range_px": "[smallest, largest] sigma of the chosen sweep, px",
    "sigma_search_px": "the ranges searched for min_sigma and max_sigma, px at this image's pixel size: the config's "
                       "min_sigma_range and max_sigma_range (px at reference_pixel_size) times sigma_scale",
    "sigma_scale": "reference_pixel_size / pixel_size (both in Å): converts the config's sigma ranges to this image",
}


class AtomsConfig(BaseModel):
    """Settings of atom finding (defaults shared by :func:`find_atoms` and the CLI)."""

    model_config = ConfigDict(extra="forbid")

    lattice: str | None = Field(None, description="Preset lattice (ybco-100, ybco-010, srtio3-001, si-110, au-001).")
    cif: str | None = Field(None, description="CIF file of the crystal (use with --zone).")
    zone: tuple[int, int, int] | None = Field(None, description="Zone axis U V W for --cif.")
    pixel_size: str | None = Field(None, description="Pixel size with unit, e.g. 0.35A (default: from the file).")
    method: str = Field("log-star", description="log-star (LoG tuned by Bayesian optimization), log (fixed parameters) or dcnn (the shipped network).")
    trials: int = Field(200, ge=1, le=100_000, description="Number of optimization trials.")
    sampler: Literal["tpe", "gp", "nsga2"] = Field("tpe", description="Optuna sampler: tpe, gp or nsga2.")
    select: Literal["euclidean", "chebyshev"] = Field("euclidean", description="Rule choosing one Pareto point.")
    seed: int = Field(0, description="Random seed of the optimizer.")
    sampler_options: dict[str, Any] | None = Field(None, description="Extra sampler arguments, e.g. {'population_size': 100} for nsga2.")
    n_expected: float | None = Field(None, gt=0, description="Expected number of columns; overrides the lattice's count (e.g. an oracle's).")
    ensemble: int = Field(1, ge=1, le=8, description="DCNN (method or oracle): dihedral test-time views averaged; above 1 each atom gets uncertainty_px and support.")
    er_factor: float = Field(ER_FACTOR, gt=0, le=2, description="An atom is an error when its 4-NN distance sum is below this times the ideal lattice's.")
    k_neighbours: int = Field(4, ge=1, le=8, description="Neighbours in the error reward.")
    reference_pixel_size: str = Field("0.35A", description="Pixel size at which the sigma ranges below apply; they scale by reference / actual.")
    min_sigma_range: tuple[float, float] = Field((0.1, 3.0), description="Search range of min_sigma, px at the reference pixel size.")
    max_sigma_range: tuple[float, float] = Field((1.0, 6.0), description="Search range of max_sigma, px at the reference pixel size.")
    num_sigma_range: tuple[int, int] = Field((2, 20), description="Search range of num_sigma.")
    threshold_range: tuple[float, float] = Field((0.01, 0.4), description="Search range of the LoG threshold (image scaled to [0, 1]).")
    overlap_range: tuple[float, float] = Field((0.01, 0.5), description="Search range of the blob overlap fraction.")
    log_params: dict[str, float] = Field(
        {"min_sigma": 1.0, "max_sigma": 3.0, "num_sigma": 10, "threshold": 0.05, "overlap": 0.5},
        description="Fixed parameters of --method log (sigmas in px at the reference pixel size).")
    refine: bool = Field(True, description="Refine positions to sub-pixel in every trial (parabolic fit).")
    fit_gaussian: bool = Field(True, description="Refine the final positions by a 2-D Gaussian fit per column.")
    lattice_prior: bool = Field(False, description="Fit the lattice to the found columns, test every site for a column (Bayes rule) and drop off-lattice detections; positions are pulled towards their sites. For one crystal filling the field of view: where noise hides a vacancy, the site is reported as a column.")
    displacement_sigma: str = Field("auto", description="With the lattice prior: how far columns stray from their lattice sites (per axis, with unit, or auto = estimated from the image). Positions are shrunk towards the sites by sigma^2 / (sigma^2 + fit error^2); make it large (e.g. 10A) to keep the fitted positions.")
    vacancy_prior: float = Field(0.01, gt=0, lt=1, description="With the lattice prior: prior probability that a lattice site holds no column.")
    storage: str | None = Field(None, description="SQLite file holding the study; rerunning with it resumes.")
    study_name: str | None = Field(None, description="Study name inside --storage.")
    strict: bool = Field(False, description="Stop with an error instead of a warning when the input or result is "
                         "implausible: the pixel size makes the cell under 4 or over 200 px (checked first), the "
                         "count is off the expected one by over 2x or QC is worse than 0.5, the detections do "
                         "not form the lattice, or over a fifth of the centres lay outside the image.")


@dataclass
class AtomsResult(Result):
    """Atoms found in one image, with the optimization that chose the parameters.

    Tables: ``atoms`` (x, y sub-pixel px with x = column, sigma px, intensity, response),
    ``trials`` (every parameter set and objective values), ``pareto``. ``summary`` holds
    the chosen parameters, objective values, n_atoms, n_expected, hypervolume, timings.
    ``extras`` keeps ``study`` (StudyResult), ``context`` and ``crystal``.
    """

    @property
    def atoms(self) -> pd.DataFrame:
        """One row per atomic column: x, y (px), sigma, intensity, response."""
        return self.tables["atoms"]

    @property
    def trials(self) -> pd.DataFrame:
        """Every evaluated parameter set with its objective values."""
        return self.tables["trials"]

    @property
    def pareto(self) -> pd.DataFrame:
        """The non-dominated trials (``selected`` marks the chosen one)."""
        return self.tables["pareto"]

    @property
    def best_params(self) -> dict[str, Any]:
        """The chosen LoG parameters (sigmas in px)."""
        return dict(self.summary["best_params"])

    @property
    def study(self) -> StudyResult | None:
        """The optimization (None for fixed-parameter methods)."""
        return self.extras.get("study")


class LogStarWorkflow(Workflow):
    """LoG atom finding as a workflow: 5 parameters, a cached scale space, QC and ER."""

    def __init__(self, *, config: AtomsConfig, context: AtomRewardContext, sigma_scale: float,
                 rewards: Mapping[str, AtomReward] | None = None, fixed: Mapping[str, Any] | None = None) -> None:
        super().__init__(rewards=dict(rewards or ATOM_REWARDS), context=context,
                         reference_point=[1.0] * len(rewards or ATOM_REWARDS))
        self.config = config
        self.sigma_scale = sigma_scale
        self.fixed = dict(fixed) if fixed else None

    def search_space(self) -> SearchSpace:
        """min_sigma, max_sigma (px, scaled to the pixel size), num_sigma, threshold, overlap.

        With ``fixed`` parameters every one is fixed (plain LoG, one evaluation).
        """
        if self.fixed:
            return SearchSpace.fixed_at(self.fixed)
        c, s = self.config, self.sigma_scale
        return SearchSpace([
            FloatParam("min_sigma", c.min_sigma_range[0] * s, c.min_sigma_range[1] * s),
            FloatParam("max_sigma", c.max_sigma_range[0] * s, c.max_sigma_range[1] * s),
            IntParam("num_sigma", *c.num_sigma_range),
            FloatParam("threshold", *c.threshold_range),
            FloatParam("overlap", *c.overlap_range),
        ])

    def sigma_bounds(self) -> tuple[float, float]:
        """Smallest and largest sigma any trial can ask for, px."""
        c, s = self.config, self.sigma_scale
        return (min(c.min_sigma_range[0], c.max_sigma_range[0]) * s,
                max(c.min_sigma_range[1], c.max_sigma_range[1]) * s)

    def prepare(self, image: np.ndarray, *, progress: ProgressCallback = silent) -> ScaleSpace:
        """Scale space over the whole sigma range, once (memory-capped grid); its stages go to ``progress``."""
        lo, hi = self.sigma_bounds()
        if self.fixed:
            lo, hi = sorted((self.fixed["min_sigma"], self.fixed["max_sigma"]))
        levels = max(8, min(96, SCALE_SPACE_BUDGET_BYTES // (8 * int(np.prod(np.shape(image))))))
        floor = min(self.config.threshold_range[0], float(self.config.log_params.get("threshold", 1.0)))
        grid = sigma_grid(lo, hi, ratio=1.05, max_levels=levels)
        if self.fixed:  # exactly the sigmas blob_log would use
            grid = np.linspace(lo, hi, int(self.fixed["num_sigma"]))
        return prepare_scale_space(image, sigmas=grid, floor=floor, progress=progress)

    def run(self, state: ScaleSpace, params: dict[str, Any]) -> pd.DataFrame:
        """Blobs for one parameter set (no filtering)."""
        return find_blobs(state, refine=self.config.refine, **{k: params[k] for k in LOG_PARAMS})

    def describe(self, output: pd.DataFrame) -> dict[str, float]:
        """Record the number of atoms per trial."""
        return {"n_atoms": float(len(output))}


# ---------------------------------------------------------------------------------------
# methods


AtomMethod = Callable[[np.ndarray, AtomsConfig, AtomRewardContext, "MethodOptions"], "MethodOutput"]


@dataclass
class MethodOptions:
    """Run-time options handed to an atom method (not part of the config)."""

    sigma_scale: float
    rewards: Mapping[str, AtomReward] | None = None
    warm_start: Sequence[Mapping[str, Any]] | None = None
    progress: ProgressCallback = silent


@dataclass
class MethodOutput:
    """What an atom method returns to :func:`find_atoms`."""

    atoms: pd.DataFrame
    study: StudyResult
    seconds: dict[str, float]


_METHODS: dict[str, AtomMethod] = {}


def register_atom_method(name: str, method: AtomMethod) -> None:
    """Make ``method`` available as ``find_atoms(..., method=name)`` and ``--method name``.

    Parameters
    ----------
    name : str
        Method name, e.g. ``"dcnn"``.
    method : callable
        ``method(image, config, context, options) -> MethodOutput``.
    """
    _METHODS[name] = method


def atom_methods() -> list[str]:
    """Names of the registered atom-finding methods."""
    return list(_METHODS)


def _log_star(image: np.ndarray, config: AtomsConfig, context: AtomRewardContext,
              options: MethodOptions) -> MethodOutput:
    wf = LogStarWorkflow(config=config, context=context, sigma_scale=options.sigma_scale, rewards=options.rewards)
    out = optimize(wf, image, StudySettings(trials=config.trials, sampler=config.sampler, seed=config.seed,
                                           selection=config.select, storage=config.storage,
                                           study_name=config.study_name, sampler_options=config.sampler_options),
                   warm_start=options.warm_start, progress=options.progress)
    return MethodOutput(atoms=out.output, study=out.study, seconds=out.seconds)


def _log_fixed(image: np.ndarray, config: AtomsConfig, context: AtomRewardContext,
               options: MethodOptions) -> MethodOutput:
    wf = LogStarWorkflow(config=config, context=context, sigma_scale=options.sigma_scale, rewards=options.rewards,
                         fixed=fixed_log_params(config, options.sigma_scale))
    out = optimize(wf, image, StudySettings(trials=1, seed=config.seed, selection=config.select), progress=options.progress,
                   stage="LoG at fixed parameters")
    return MethodOutput(atoms=out.output, study=out.study, seconds=out.seconds)


def fixed_log_params(config: AtomsConfig, sigma_scale: float) -> dict[str, float]:
    """The parameters of ``method="log"`` with sigmas scaled to the pixel size."""
    missing = [k for k in LOG_PARAMS if k not in config.log_params]
    if missing:
        raise ParameterError(f"log_params lacks {missing}")
    p = {k: float(config.log_params[k]) for k in LOG_PARAMS}
    p["min_sigma"] *= sigma_scale
    p["max_sigma"] *= sigma_scale
    p["num_sigma"] = int(p["num_sigma"])
    return p


register_atom_method("log-star", _log_star)
register_atom_method("log", _log_fixed)


# ---------------------------------------------------------------------------------------
# inputs


def resolve_crystal(config: AtomsConfig, lattice: Any = None) -> Any:
    """The projected crystal from ``lattice`` (object or name) or the config's lattice / CIF."""
    from rewardscope.physics import ProjectedCrystal, from_cif, get_lattice

    if isinstance(lattice, ProjectedCrystal):
        return lattice
    if config.lattice and config.cif:
        raise ParameterError("give either a lattice name or a CIF file, not both")
    if config.lattice:
        return get_lattice(config.lattice)
    if config.cif:
        if config.zone is None:
            raise ParameterError("a CIF file needs a zone axis: --zone U V W")
        return from_cif(config.cif, zone=config.zone)  # a missing file is a FileFormatError
    raise ParameterError("atom finding needs a lattice: pass --lattice NAME (e.g. ybco-100) "
                         "or --cif FILE --zone U V W")


def _resolve_image(image: Any, config: AtomsConfig) -> tuple[np.ndarray, Length]:
    from rewardscope.io import ImageData, as_image, read_image

    if isinstance(image, (str, Path)):
        image = read_image(image, pixel_size=config.pixel_size)
    pixel_size = parse_length(config.pixel_size) if config.pixel_size else None
    if isinstance(image, ImageData):
        pixel_size = pixel_size or image.pixel_size
        image = image.data
    if pixel_size is None:
        raise CalibrationError("atom finding needs the pixel size: pass --pixel-size (e.g. 0.35A) "
                               "or use a file that stores its calibration")
    arr = as_image(image)
    if float(np.std(arr)) < 1e-12 * max(1.0, float(np.abs(arr).max())):
        raise ParameterError("the image has no contrast; there are no atoms to find")
    return arr, pixel_size


def find_atoms(image: Any, *, config: AtomsConfig | None = None, lattice: Any = None,
               pixel_size: str | Length | None = None, rewards: Mapping[str, AtomReward] | None = None,
               warm_start: Sequence[Mapping[str, Any]] | pd.DataFrame | AtomsResult | None = None,
               progress: ProgressArg = False, **overrides: Any) -> AtomsResult:
    """Find atomic columns in a HAADF-STEM image without labels.

    Parameters
    ----------
    image : numpy.ndarray (rows, cols), ImageData, or path
        The image (bright columns).
    config : AtomsConfig, optional
        All settings; keyword ``overrides`` (e.g. ``trials=100, sampler="nsga2"``) replace fields.
    lattice : str or ProjectedCrystal, optional
        Preset name or crystal (overrides ``config.lattice`` / ``config.cif``).
    pixel_size : str or Length, optional
        E.g. ``"0.35A"`` (default: the config's, then the file's).
    rewards : mapping of str to callable, optional
        ``name -> reward(atoms, context)``, all minimised; default ``{"qc": ..., "er": ...}``.
    warm_start : list of dict, DataFrame of parameters, or AtomsResult, optional
        Parameter sets tried first, e.g. the Pareto set of the previous frame or tile.
    progress : bool or callable
        ``True``: progress of every stage (scale space, trials, refinement, lattice
        prior) on stderr, as bars on a terminal and log lines elsewhere; or a callback
        ``progress(stage, done, total)`` (:mod:`rewardscope.progress`).

    Returns
    -------
    AtomsResult
        ``summary["warnings"]`` lists the plausibility warnings given.

    Raises
    ------
    CalibrationError
        No pixel size.
    ParameterError
        No lattice, bad settings, or nothing found.
    PlausibilityError
        With ``strict=True``: an implausible pixel size (before any work) or result.

    Warns
    -----
    PlausibilityWarning
        Without ``strict``, for each implausible input or result.

    Examples
    --------
    >>> from rewardscope.simulate import simulate_haadf
    >>> sim = simulate_haadf("srtio3-001", size=96, noise=0.1, seed=0)
    >>> res = find_atoms(sim.image, lattice="srtio3-001", pixel_size="0.35A", trials=30)
    >>> abs(len(res.atoms) - len(sim.truth)) < 10
    True
    """
    if isinstance(lattice, str):
        overrides["lattice"] = lattice
    if pixel_size is not None:
        overrides["pixel_size"] = pixel_size if isinstance(pixel_size, str) else pixel_size.text
    cfg = make_config(AtomsConfig, config, **overrides)
    if cfg.method not in _METHODS:
        raise ParameterError(f"unknown method {cfg.method!r}; use one of {', '.join(_METHODS)}")
    crystal = resolve_crystal(cfg, None if isinstance(lattice, str) else lattice)
    arr, ps = _resolve_image(image, cfg)
    checks = Checks(strict=cfg.strict)
    checks.report(cell_size_problem(crystal, ps))  # before any heavy work
    context = AtomRewardContext.from_lattice(crystal, shape=arr.shape, pixel_size=ps, k=cfg.k_neighbours,
                                             er_factor=cfg.er_factor, n_expected=cfg.n_expected)
    scale = parse_length(cfg.reference_pixel_size).angstrom / ps.angstrom
    with progress_scope(progress) as report:
        options = MethodOptions(sigma_scale=scale, rewards=rewards, warm_start=_warm_start_sets(warm_start),
                                progress=report)
        out, prior = _detect(arr, cfg, crystal, ps, context, options)
    n_found = len(out.atoms)
    out.atoms, outside = inside_image(out.atoms, arr.shape)
    result = _assemble(arr, ps, cfg, crystal, context, out, scale)
    if prior is not None:
        result.summary["lattice_prior"] = prior
    result.summary["positions_outside_image"] = outside
    _check_result(result, checks, crystal, n_found=n_found)
    return result


def _detect(arr: np.ndarray, cfg: AtomsConfig, crystal: Any, ps: Length, context: AtomRewardContext,
            options: MethodOptions) -> tuple[MethodOutput, dict[str, Any] | None]:
    """The method's atoms, refined by Gaussian fits or completed by the lattice prior (and what it did)."""
    out = _METHODS[cfg.method](arr, cfg, context, options)
    if len(out.atoms) == 0:
        raise ParameterError("no atoms were found at any tried parameter set; check the image and the lattice")
    if cfg.fit_gaussian and not cfg.lattice_prior:  # the prior fits every column itself
        out.atoms = gaussian_refine(arr, out.atoms, min_nn_distance_px=context.min_nn_distance_px or 6.0,
                                    progress=options.progress)
    prior = _lattice_prior(arr, out, cfg, crystal, ps, options.progress) if cfg.lattice_prior else None
    return out, prior


def _check_result(result: AtomsResult, checks: Checks, crystal: Any, *, n_found: int) -> None:
    """Plausibility of the found atoms: count, QC, lattice order, centres outside; into the summary."""
    from rewardscope.detect.lattice import lattice_order

    s = result.summary
    order = lattice_order(result.atoms[["x", "y"]].to_numpy(float), crystal, pixel_size=result.pixel_size)
    qc = s["objectives"].get("qc")
    s["plausibility"] = {"cell_px": list(cell_size_px(crystal, result.pixel_size)),
                         "count_ratio": s["n_atoms"] / s["n_expected"], "qc": qc, "lattice_order": order}
    checks.report(count_problem(s["n_atoms"], s["n_expected"], qc),
                  order_problem(order, s["lattice"], s["n_atoms"]),
                  outside_problem(s["positions_outside_image"]["dropped"], n_found))
    s["warnings"] = list(checks.messages)


def _lattice_prior(arr: np.ndarray, out: MethodOutput, cfg: AtomsConfig, crystal: Any, ps: Length,
                   progress: ProgressCallback) -> dict[str, Any]:
    """Replace ``out.atoms`` by the lattice-completed set; return what the prior did."""
    from time import perf_counter

    from rewardscope.detect.lattice import apply_lattice_prior

    t0 = perf_counter()
    sigma = None if cfg.displacement_sigma == "auto" else parse_length(cfg.displacement_sigma).angstrom / ps.angstrom
    out.atoms, info = apply_lattice_prior(arr, out.atoms, crystal, pixel_size=ps, displacement_sigma_px=sigma,
                                          vacancy_prior=cfg.vacancy_prior, progress=progress)
    out.seconds["lattice_prior"] = perf_counter() - t0
    out.seconds["total"] = out.seconds.get("total", 0.0) + out.seconds["lattice_prior"]
    return info.as_dict() | {"displacement_sigma": cfg.displacement_sigma, "vacancy_prior": cfg.vacancy_prior}


def gaussian_refine(image: np.ndarray, atoms: pd.DataFrame, *, min_nn_distance_px: float,
                    progress: ProgressCallback = silent) -> pd.DataFrame:
    """Replace x, y by a 2-D Gaussian fit in a window of half the column spacing.

    A fit that moves an atom by more than 1 px (noise pulling it away) is rejected, except
    within the window radius of the frame edge, where the reflected scale space merges a
    column with its mirror image and the LoG peak sits on the edge (up to 0.75 radius).
    Adds ``fit_sigma`` (px), ``fit_amplitude`` and ``fit_converged``; atoms whose fit fails
    keep their detected position. Columns are fitted in chunks of :data:`FIT_CHUNK`,
    reported to ``progress`` as stage ``"Gaussian refinement"``. A fit can move a centre
    out of the image (see :func:`rewardscope.detect.refine.inside_image`).
    """
    radius = int(np.clip(round(0.5 * min_nn_distance_px), 2, 4))
    xy = atoms[["x", "y"]].to_numpy(float)
    rows, cols = image.shape
    near_edge = (xy.min(axis=1) < radius) | (xy[:, 0] > cols - 1 - radius) | (xy[:, 1] > rows - 1 - radius)
    max_shift = np.where(near_edge, 0.75 * radius, min(1.0, radius / 2))
    advance = start_stage(progress, "Gaussian refinement", total=len(xy), unit="columns")
    parts = []
    for start in range(0, len(xy), FIT_CHUNK):
        part = slice(start, start + FIT_CHUNK)
        parts.append(fit_gaussians(image, xy[part], radius_px=radius, sigma_px=max(0.17 * min_nn_distance_px, 0.7),
                                   iterations=15, max_shift_px=max_shift[part]))
        advance(len(xy[part]))
    fit = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else {}
    out = atoms.copy()
    if not fit:
        return out
    out["x"], out["y"] = fit["x"], fit["y"]
    out["fit_sigma"], out["fit_amplitude"], out["fit_converged"] = fit["sigma"], fit["amplitude"], fit["converged"]
    return out


def _warm_start_sets(warm: Any) -> list[dict[str, Any]] | None:
    if warm is None:
        return None
    if isinstance(warm, AtomsResult):
        warm = warm.pareto
    if isinstance(warm, pd.DataFrame):
        missing = [k for k in LOG_PARAMS if k not in warm.columns]
        if missing:
            raise ParameterError(f"warm-start table lacks columns {missing}")
        return warm[list(LOG_PARAMS)].to_dict("records")
    return [dict(w) for w in warm]


def _assemble(arr: np.ndarray, ps: Length, cfg: AtomsConfig, crystal: Any, context: AtomRewardContext,
              out: MethodOutput, scale: float) -> AtomsResult:
    study = out.study
    summary = {
        "method": cfg.method, "lattice": getattr(crystal, "name", str(crystal)),
        "pixel_size_angstrom": ps.angstrom, "image_shape": list(arr.shape),
        "n_atoms": int(len(out.atoms)), "n_expected": context.n_expected,
        "ideal_nn_sum_px": context.ideal_nn_sum_px, "er_threshold_px": context.er_threshold_px,
        "best_params": study.best_params, "objectives": study.best_values,
        "hypervolume": study.hypervolume, "hypervolume_reference": study.reference_point,
        "n_trials": int(len(study.trials)), "n_pareto": int(len(study.pareto)),
        "sampler": cfg.sampler if cfg.method == "log-star" else None, "selection": cfg.select,
        "seed": cfg.seed, "sigma_scale": scale, "seconds": out.seconds,
        **_sigma_summary(study.best_params, cfg, scale),
        "config": cfg.model_dump(mode="json"),
    }
    return AtomsResult(tables={"atoms": out.atoms.reset_index(drop=True), "trials": study.trials,
                               "pareto": study.pareto},
                       summary=summary, image=arr, pixel_size=ps,
                       extras={"study": study, "context": context, "crystal": crystal})


def _sigma_summary(best: Mapping[str, Any], cfg: AtomsConfig, scale: float) -> dict[str, Any]:
    """``sigma_range_px``, ``sigma_search_px`` and ``parameters_doc`` for LoG parameters (else nothing)."""
    if not {"min_sigma", "max_sigma"} <= set(best):
        return {}
    search = {"min_sigma": [v * scale for v in cfg.min_sigma_range],
              "max_sigma": [v * scale for v in cfg.max_sigma_range]}
    if cfg.method == "log":
        search = {k: [best[k], best[k]] for k in search}  # fixed, not searched
    return {"sigma_range_px": sorted((float(best["min_sigma"]), float(best["max_sigma"]))),
            "sigma_search_px": search, "parameters_doc": LOG_PARAMETER_DOC}


__all__ = ["AtomsConfig", "AtomsResult", "LogStarWorkflow", "MethodOptions", "MethodOutput", "atom_methods",
           "find_atoms", "fixed_log_params", "register_atom_method", "resolve_crystal"]

# The DCNN finder (helper "dcnn"): registered here so that find_atoms(method="dcnn") and
# --method dcnn work without importing torch until it is used.
from rewardscope.workflows.atoms_dcnn import dcnn_method  # noqa: E402

register_atom_method("dcnn", dcnn_method)

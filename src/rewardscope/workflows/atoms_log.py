"""LoG atom finding as a workflow: LoG* (the five LoG parameters tuned by the study) and plain LoG.

The sigma bounds of the search space are the published LoG* ones (min_sigma 0.1-3,
max_sigma 1-6 px) at a reference pixel size of 0.35 Å, scaled by reference / actual
pixel size (``sigma_scale`` in the summary), so the same physical blob sizes are searched
at any magnification. ``min_sigma`` and ``max_sigma`` are the two ends of blob_log's sigma
sweep, searched independently; when ``min_sigma > max_sigma`` the ends are swapped, so
the summary's ``sigma_range_px`` gives the range used (``parameters_doc`` says all this).
``prepare`` computes the scale space once over the whole sigma range (memory-capped);
``run`` picks the blobs of one parameter set from it (milliseconds).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from rewardscope.detect.log import ScaleSpace, blob_arrays, find_blobs, prepare_scale_space, sigma_grid
from rewardscope.errors import ParameterError
from rewardscope.optimize import FloatParam, IntParam, SearchSpace
from rewardscope.progress import ProgressCallback, silent
from rewardscope.rewards.atoms import AtomReward, AtomRewardContext
from rewardscope.workflows.atoms_base import AtomsConfig, AtomWorkflow

LOG_PARAMS = ("min_sigma", "max_sigma", "num_sigma", "threshold", "overlap")
#: Cap on the cached scale space, bytes (response + local maxima, float32).
SCALE_SPACE_BUDGET_BYTES = 400 * 2**20
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


class LogStarWorkflow(AtomWorkflow):
    """LoG atom finding: 5 parameters, a cached scale space, QC and ER; with ``fixed``, plain LoG (one trial).

    Parameters are those of :class:`AtomWorkflow`, plus ``fixed``: every LoG parameter's
    value (sigmas in px at this image's pixel size), see :func:`fixed_log_params`.

    Examples
    --------
    >>> from rewardscope.physics import get_lattice
    >>> ctx = AtomRewardContext(n_expected=100, ideal_nn_sum_px=20.0)
    >>> wf = LogStarWorkflow(config=AtomsConfig(), context=ctx, crystal=get_lattice("ybco-100"), sigma_scale=1.0)
    >>> wf.search_space().tunable_names
    ['min_sigma', 'max_sigma', 'num_sigma', 'threshold', 'overlap']
    """

    def __init__(self, *, config: AtomsConfig, context: AtomRewardContext, crystal: Any, sigma_scale: float,
                 rewards: Mapping[str, AtomReward] | None = None, fixed: Mapping[str, Any] | None = None) -> None:
        super().__init__(config=config, context=context, crystal=crystal, sigma_scale=sigma_scale, rewards=rewards)
        self.fixed = dict(fixed) if fixed else None
        self._scored: tuple[Any, dict[bytes, dict[str, float]]] = (None, {})
        self.stage = "LoG at fixed parameters" if self.fixed else None

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

    def score(self, state: ScaleSpace, params: dict[str, Any]) -> dict[str, float]:
        """:meth:`evaluate` of :meth:`run`'s blobs, without building their table (built-in rewards only).

        Many parameter sets give exactly the same blobs (about half of a 200-trial study):
        their scores are remembered per prepared state, keyed by a 128-bit hash of the blob positions.
        """
        if not self.builtin_rewards:
            return super().score(state, params)
        blobs = blob_arrays(state, refine=self.config.refine, **{k: params[k] for k in LOG_PARAMS})
        xy = np.column_stack([blobs["x"], blobs["y"]])
        if self._scored[0] is not state:
            self._scored = (state, {})
        key = hashlib.blake2b(xy.tobytes(), digest_size=16).digest()
        if key not in self._scored[1]:
            self._scored[1][key] = self.evaluate(xy)
        return dict(self._scored[1][key])

    def parameter_summary(self, best_params: Mapping[str, Any]) -> dict[str, Any]:
        """``sigma_range_px`` (the sweep used), ``sigma_search_px`` (the ranges searched) and ``parameters_doc``."""
        best, scale = best_params, self.sigma_scale
        search = {"min_sigma": [v * scale for v in self.config.min_sigma_range],
                  "max_sigma": [v * scale for v in self.config.max_sigma_range]}
        if self.fixed:
            search = {k: [best[k], best[k]] for k in search}  # fixed, not searched
        return {"sigma_range_px": sorted((float(best["min_sigma"]), float(best["max_sigma"]))),
                "sigma_search_px": search, "parameters_doc": LOG_PARAMETER_DOC}


def fixed_log_params(config: AtomsConfig, sigma_scale: float) -> dict[str, float]:
    """The parameters of ``method="log"`` with sigmas scaled to the pixel size.

    Examples
    --------
    >>> fixed_log_params(AtomsConfig(), 2.0)["max_sigma"]
    6.0
    """
    missing = [k for k in LOG_PARAMS if k not in config.log_params]
    if missing:
        raise ParameterError(f"log_params lacks {missing}")
    p = {k: float(config.log_params[k]) for k in LOG_PARAMS}
    p["min_sigma"] *= sigma_scale
    p["max_sigma"] *= sigma_scale
    p["num_sigma"] = int(p["num_sigma"])
    return p


def log_star_workflow(config: AtomsConfig, context: AtomRewardContext, *, crystal: Any, sigma_scale: float,
                      rewards: Mapping[str, AtomReward] | None = None) -> LogStarWorkflow:
    """``method="log-star"``: the five LoG parameters tuned by the study."""
    return LogStarWorkflow(config=config, context=context, crystal=crystal, sigma_scale=sigma_scale, rewards=rewards)


def log_workflow(config: AtomsConfig, context: AtomRewardContext, *, crystal: Any, sigma_scale: float,
                 rewards: Mapping[str, AtomReward] | None = None) -> LogStarWorkflow:
    """``method="log"``: LoG once at the config's ``log_params`` (sigmas scaled to the pixel size)."""
    return LogStarWorkflow(config=config, context=context, crystal=crystal, sigma_scale=sigma_scale, rewards=rewards,
                           fixed=fixed_log_params(config, sigma_scale))


__all__ = ["LOG_PARAMETER_DOC", "LOG_PARAMS", "LogStarWorkflow", "fixed_log_params", "log_star_workflow",
           "log_workflow"]

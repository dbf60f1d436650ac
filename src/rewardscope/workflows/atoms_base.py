"""What every atom-finding method shares: its config, its result and the :class:`AtomWorkflow` base.

An atom method (LoG*, plain LoG, the DCNN, your own) is an :class:`AtomWorkflow`: a search
space, ``prepare`` and ``run`` giving a table of atoms (``x``, ``y`` px, x = column),
scored by the atom rewards (QC, ER). The base class does the rest, the same for every
method: :meth:`AtomWorkflow.load` checks the input (pixel size, contrast, a plausible
cell size before any heavy work), :meth:`AtomWorkflow.finish` refines the chosen columns
by Gaussian fits (:func:`gaussian_refine`) or completes them with the lattice prior
(:mod:`rewardscope.detect.lattice`), keeps the centres inside the image and runs the
plausibility checks (:mod:`rewardscope.workflows.plausibility`), and
:meth:`AtomWorkflow.to_result` builds the :class:`AtomsResult`.
:class:`AtomsConfig` is the single source of defaults for :func:`~rewardscope.workflows.atoms.find_atoms`
and the ``rewardscope atoms`` command.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from rewardscope.detect.refine import fit_gaussians, inside_image
from rewardscope.errors import ParameterError
from rewardscope.io.load import Input, load_input
from rewardscope.optimize import StudyResult
from rewardscope.progress import ProgressCallback, silent, start_stage
from rewardscope.result import Result
from rewardscope.rewards.atoms import ATOM_REWARDS, AtomPoints, AtomReward, AtomRewardContext, atom_weights
from rewardscope.units import Length
from rewardscope.workflows.atoms_config import AtomsConfig, AutoOrLength  # noqa: F401  (re-exported)
from rewardscope.workflows.base import Workflow
from rewardscope.workflows.plausibility import (Checks, cell_size_problem, cell_size_px, count_problem, order_problem,
                                                outside_problem)

#: Columns fitted per call of the final Gaussian refinement (bounds memory, paces the progress).
FIT_CHUNK = 20_000


@dataclass
class AtomsResult(Result):
    """Atoms found in one image, with the optimization that chose the parameters.

    Tables: ``atoms`` (x, y sub-pixel px with x = column, sigma px, intensity, response),
    ``trials`` (every parameter set and objective values), ``pareto``. ``summary`` holds
    the study (:func:`~rewardscope.workflows.base.study_summary`: ``objectives`` = reward
    names, ``best_params``, ``best_values``, ``hypervolume``, ...), n_atoms, n_expected,
    the plausibility checks and timings. ``extras`` keeps ``study`` (StudyResult),
    ``context`` and ``crystal``.
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
        """The chosen parameters (LoG: sigmas in px)."""
        return dict(self.summary["best_params"])

    @property
    def study(self) -> StudyResult | None:
        """The optimization (one trial for fixed-parameter methods)."""
        return self.extras.get("study")


class AtomWorkflow(Workflow):
    """What every atom-finding method shares: input checks, the finishing step and the result.

    A method (LoG*, LoG, DCNN, your own) subclasses it with a search space, ``prepare``
    and ``run`` giving a table of atoms (``x``, ``y`` px); scored by the atom rewards.

    Parameters
    ----------
    config : AtomsConfig
    context : AtomRewardContext
        The physics prior of the rewards (expected count, ideal NN distances).
    crystal : ProjectedCrystal
        The lattice (plausibility checks, lattice prior).
    sigma_scale : float
        Reference / actual pixel size (converts the config's sigma ranges to this image).
    rewards : mapping of str to callable, optional
        Default :data:`~rewardscope.rewards.atoms.ATOM_REWARDS` (QC, ER).
    """

    def __init__(self, *, config: AtomsConfig, context: AtomRewardContext, crystal: Any, sigma_scale: float,
                 rewards: Mapping[str, AtomReward] | None = None) -> None:
        rewards = dict(rewards or ATOM_REWARDS)
        super().__init__(rewards=rewards, context=context, reference_point=[1.0] * len(rewards))
        self.config = config
        self.crystal = crystal
        self.sigma_scale = sigma_scale
        self.checks = Checks(strict=config.strict)

    @property
    def builtin_rewards(self) -> bool:
        """Whether every reward is one of :data:`~rewardscope.rewards.atoms.ATOM_REWARDS` (they take points)."""
        return all(fn in ATOM_REWARDS.values() for fn in self.rewards.values())

    def evaluate(self, output: Any) -> dict[str, float]:
        """Every reward plus :meth:`describe`; with only the built-in rewards, points and edge weights are made once."""
        if self.builtin_rewards and not isinstance(output, AtomPoints):
            output = AtomPoints.of(output, self.context)
        return super().evaluate(output)

    def describe(self, output: pd.DataFrame | AtomPoints) -> dict[str, float]:
        """Record the number of atoms per trial, and their count under the rewards' edge window (``n_in_window``)."""
        w = atom_weights(output, self.context)
        return {"n_atoms": float(len(output)), "n_in_window": float(len(output) if w is None else w.sum())}

    def load(self, source: Any, pixel_size: Any = None) -> Input:
        """One image with a pixel size and contrast; the cell size is checked before any heavy work."""
        inp = load_input(source, pixel_size)
        ps = inp.require_pixel_size("atom finding")
        if float(np.std(inp.image)) < 1e-12 * max(1.0, float(np.abs(inp.image).max())):
            raise ParameterError("the image has no contrast; there are no atoms to find")
        self.checks = Checks(strict=self.config.strict)
        self.checks.report(cell_size_problem(self.crystal, ps))
        return inp

    def finish(self, output: pd.DataFrame, *, state: Any, inp: Input,
               progress: ProgressCallback) -> tuple[pd.DataFrame, dict[str, Any]]:
        """Gaussian refinement (or the lattice prior), centres kept inside the image, plausibility checks.

        Returns the final atoms and the summary entries: ``method``, ``lattice``,
        ``n_atoms``, ``n_expected``, the prior's numbers, ``lattice_prior`` (with the
        prior), ``positions_outside_image``, ``plausibility`` and ``warnings``.
        """
        if len(output) == 0:
            raise ParameterError("no atoms were found at any tried parameter set; check the image and the lattice")
        qc = float(self.rewards["qc"](output, self.context)) if "qc" in self.rewards else None  # at the chosen point
        atoms, extra = self._complete(output, inp, progress)
        n_found = len(atoms)
        atoms, outside = inside_image(atoms, inp.image.shape)
        atoms = atoms.reset_index(drop=True)
        ctx = self.context
        extra = {"method": self.config.method, "lattice": getattr(self.crystal, "name", str(self.crystal)),
                 "n_atoms": int(len(atoms)), "n_expected": ctx.n_expected, "n_expected_window": ctx.n_expected_window,
                 "edge_taper_px": ctx.edge_taper_px, "ideal_nn_sum_px": ctx.ideal_nn_sum_px,
                 "er_threshold_px": ctx.er_threshold_px, "sigma_scale": self.sigma_scale, **extra,
                 "positions_outside_image": outside}
        return atoms, extra | self._plausibility(atoms, inp.pixel_size, qc=qc, n_found=n_found, outside=outside,
                                                 detections=output)

    def _complete(self, atoms: pd.DataFrame, inp: Input,
                  progress: ProgressCallback) -> tuple[pd.DataFrame, dict[str, Any]]:
        """The chosen atoms refined by Gaussian fits, or completed by the lattice prior (with what it did).

        ``lattice_prior=None`` (the default) tries the prior and falls back to the Gaussian
        refinement, with a warning, when the lattice does not fit the detections.
        """
        cfg = self.config
        if cfg.lattice_prior:  # required: the prior fits every column itself
            return self._lattice_prior(atoms, inp, progress)
        if cfg.lattice_prior is None:  # the default: the prior wherever the lattice fits the detections
            try:
                return self._lattice_prior(atoms, inp, progress)
            except ParameterError as exc:  # not one crystal of this lattice: strict leaves it to the order check
                skipped = f"the lattice prior was not applied ({exc}); the columns are the detector's alone"
                if not self.checks.strict:
                    self.checks.report(skipped)
                return self._refined(atoms, inp, progress), {"lattice_prior_skipped": str(exc)}
        return self._refined(atoms, inp, progress), {}

    def _refined(self, atoms: pd.DataFrame, inp: Input, progress: ProgressCallback) -> pd.DataFrame:
        """The atoms refined by Gaussian fits (with ``fit_gaussian``), else as they are."""
        if self.config.fit_gaussian:
            return gaussian_refine(inp.image, atoms, min_nn_distance_px=self.context.min_nn_distance_px or 6.0,
                                   progress=progress)
        return atoms

    def _lattice_prior(self, atoms: pd.DataFrame, inp: Input,
                       progress: ProgressCallback) -> tuple[pd.DataFrame, dict[str, Any]]:
        """Atoms completed by :func:`~rewardscope.detect.lattice.apply_lattice_prior`, and its ``lattice_prior`` block."""
        from rewardscope.detect.lattice import apply_lattice_prior

        cfg, ps = self.config, inp.pixel_size
        sigma = cfg.displacement_sigma
        sigma_px = None if sigma == "auto" else sigma.angstrom / ps.angstrom
        atoms, info = apply_lattice_prior(inp.image, atoms, self.crystal, pixel_size=ps,
                                          displacement_sigma_px=sigma_px, vacancy_prior=cfg.vacancy_prior,
                                          progress=progress)
        text = sigma if sigma == "auto" else sigma.text
        return atoms, {"lattice_prior": info.as_dict() | {"displacement_sigma": text,
                                                          "vacancy_prior": cfg.vacancy_prior}}

    def _plausibility(self, atoms: pd.DataFrame, ps: Length, *, qc: float | None, n_found: int,
                      outside: dict[str, int], detections: pd.DataFrame) -> dict[str, Any]:
        """Count, QC, lattice order and centres outside, checked; ``plausibility`` and ``warnings``.

        The lattice order judges the detector's ``detections`` at the chosen point, not the
        final ``atoms``: the lattice prior puts its columns on lattice sites, so after it
        even detections in noise would look ordered.
        """
        from rewardscope.detect.lattice import lattice_order, min_lattice_order

        n_atoms, n_expected = int(len(atoms)), self.context.n_expected
        order = lattice_order(detections[["x", "y"]].to_numpy(float), self.crystal, pixel_size=ps)
        self.checks.report(count_problem(n_atoms, n_expected, qc),
                           order_problem(order, getattr(self.crystal, "name", str(self.crystal)), len(detections)),
                           outside_problem(outside["dropped"], n_found))
        return {"plausibility": {"cell_px": list(cell_size_px(self.crystal, ps)), "count_ratio": n_atoms / n_expected,
                                 "qc": qc, "lattice_order": order,
                                 "lattice_order_needed": min_lattice_order(len(detections))},
                "warnings": list(self.checks.messages)}

    def parameter_summary(self, best_params: Mapping[str, Any]) -> dict[str, Any]:
        """Summary entries explaining the chosen parameters (none by default)."""
        return {}

    def to_result(self, output: pd.DataFrame, *, study: StudyResult, inp: Input,
                  summary: dict[str, Any]) -> AtomsResult:
        """The :class:`AtomsResult`: tables ``atoms``, ``trials``, ``pareto``; the study, context and crystal."""
        summary.update(self.parameter_summary(study.best_params))
        return AtomsResult(tables={"atoms": output, "trials": study.trials, "pareto": study.pareto},
                           summary=summary, image=inp.image, pixel_size=inp.pixel_size,
                           extras={"study": study, "context": self.context, "crystal": self.crystal})


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


__all__ = ["AtomWorkflow", "AtomsConfig", "AtomsResult", "gaussian_refine"]

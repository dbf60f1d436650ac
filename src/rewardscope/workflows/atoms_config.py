"""The settings of atom finding, :class:`AtomsConfig`, in a light module (pydantic and units only).

It is the single source of defaults for :func:`~rewardscope.workflows.atoms.find_atoms` and the
``rewardscope atoms`` command; the command line imports it without loading numpy, pandas or
the detectors. :mod:`rewardscope.workflows.atoms_base` re-exports it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, WithJsonSchema

from rewardscope.optimize.settings import StudySettings
from rewardscope.defaults import ER_FACTOR
from rewardscope.units import Length, LengthValue, parse_length

#: LoG*'s TPE draws this many trials per fit of its model: its trials take ~1 ms, the fit ~2 ms. On the
#: atoms benchmark (14 images) 8 matches 1 in F1 (min 0.9984 vs 0.9978) and halves the study.
ATOMS_TPE_BATCH = 8


def _auto_or_length(value: object) -> object:
    """Pydantic hook: ``"auto"`` stays; anything else is read as a length (one error line if it is none)."""
    return value if value == "auto" or isinstance(value, Length) else parse_length(str(value))


#: A config field holding ``"auto"`` or a length (``"0.1A"``), held as ``"auto"`` or a
#: :class:`~rewardscope.units.Length` and written back as text.
AutoOrLength = Annotated[
    Literal["auto"] | Length,
    BeforeValidator(_auto_or_length),
    PlainSerializer(lambda v: v if v == "auto" else v.text, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["auto", "0.1A", "10pm"]}),
]


class AtomsConfig(BaseModel):
    """Settings of atom finding (defaults shared by :func:`find_atoms` and the CLI).

    Lengths (``pixel_size``, ``reference_pixel_size``, ``displacement_sigma``) take text
    with a unit or a :class:`~rewardscope.units.Length` and hold a ``Length``; the study
    settings nest as ``study`` (``make_config(AtomsConfig, trials=100)`` routes there).

    Examples
    --------
    >>> from rewardscope.config import make_config
    >>> cfg = make_config(AtomsConfig, lattice="ybco-100", pixel_size="35pm", trials=50)
    >>> cfg.pixel_size.angstrom, cfg.study.trials, cfg.model_dump(mode="json")["reference_pixel_size"]
    (0.35, 50, '0.35A')
    >>> AtomsConfig().displacement_sigma, AtomsConfig(displacement_sigma="10pm").displacement_sigma.angstrom
    ('auto', 0.1)
    """

    model_config = ConfigDict(extra="forbid")

    lattice: str | None = Field(None, description="Preset lattice (ybco-100, ybco-010, srtio3-001, si-110, au-001).")
    cif: str | None = Field(None, description="CIF file of the crystal (use with --zone).")
    zone: tuple[int, int, int] | None = Field(None, description="Zone axis U V W for --cif.")
    pixel_size: LengthValue | None = Field(None, description="Pixel size with unit, e.g. 0.35A (default: from the file).")
    method: str = Field("log-star", description="log-star (LoG tuned by Bayesian optimization), log (fixed parameters) or dcnn (the shipped network).")
    n_expected: float | None = Field(None, gt=0, description="Expected number of columns; overrides the lattice's count (e.g. an oracle's).")
    ensemble: int = Field(1, ge=1, le=8, description="DCNN (method or oracle): dihedral test-time views averaged; above 1 each atom gets uncertainty_px and support.")
    er_factor: float = Field(ER_FACTOR, gt=0, le=2, description="An atom is an error when its 4-NN distance sum is below this times the ideal lattice's.")
    k_neighbours: int = Field(4, ge=1, le=8, description="Neighbours in the error reward.")
    reference_pixel_size: LengthValue = Field(Length(0.35, "A"), description="Pixel size at which the sigma ranges below apply; they scale by reference / actual.")
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
    lattice_prior: bool | None = Field(None, description="Fit the lattice to the found columns, test every site for a column (Bayes rule) and drop off-lattice detections; positions are pulled towards their sites. Default (neither flag): on whenever the lattice fits the detections, the physics the rewards already assume (one crystal filling the field of view), otherwise LoG* alone with a warning; --lattice-prior: required (an error if it does not fit). Where noise hides a vacancy the site is reported as a column: use --no-lattice-prior to count vacancies, map displacements, or for amorphous or multi-grain images.")
    displacement_sigma: AutoOrLength = Field("auto", description="With the lattice prior: how far columns stray from their lattice sites (per axis, with unit, or auto = estimated from the image). Positions are shrunk towards the sites by sigma^2 / (sigma^2 + fit error^2); make it large (e.g. 10A) to keep the fitted positions.")
    vacancy_prior: float = Field(0.01, gt=0, lt=1, description="With the lattice prior: prior probability that a lattice site holds no column.")
    warm_trials: int = Field(40, ge=1, description="Many images (find_atoms_batch, rewardscope atoms FILES...): "
                             "trials for each image after the first, which start from the previous image's Pareto set.")
    study: StudySettings = Field(default_factory=lambda: StudySettings(tpe_batch=ATOMS_TPE_BATCH),
                                 description="The optimization of LoG*: trials, sampler, selection rule, seed, "
                                 "storage (plain LoG and the DCNN run one trial).")
    strict: bool = Field(False, description="Stop with an error instead of a warning when the input or result is "
                         "implausible: the pixel size makes the cell under 4 or over 200 px (checked first), the "
                         "count is off the expected one by over 2x or QC is worse than 0.5, the detections do "
                         "not form the lattice, or over a fifth of the centres lay outside the image.")


__all__ = ["AtomsConfig", "AutoOrLength"]

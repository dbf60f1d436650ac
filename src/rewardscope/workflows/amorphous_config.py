"""The settings of amorphous-region mapping, :class:`AmorphousConfig`, in a light module (pydantic and units only).

The single source of defaults of :func:`~rewardscope.workflows.amorphous.map_amorphous` and
``rewardscope amorphous``, read by the command line without loading the workflow;
:mod:`rewardscope.workflows.amorphous` re-exports it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rewardscope.defaults import COVARIANCE_TYPES
from rewardscope.optimize.settings import StudySettings
from rewardscope.units import Length, LengthValue


class AmorphousConfig(BaseModel):
    """Settings of amorphous-region mapping (defaults shared by :func:`map_amorphous` and the CLI).

    Examples
    --------
    >>> from rewardscope.config import make_config
    >>> cfg = make_config(AmorphousConfig, trials=30, class_window="15A")
    >>> cfg.study.trials, cfg.class_window.nm, cfg.window_range[1].text
    (30, 1.5, '2.0nm')
    """

    model_config = ConfigDict(extra="forbid")

    lattice: str = Field("ybco-100", description="Preset lattice (neighbour distance; LoG* when no atoms are given).")
    pixel_size: LengthValue | None = Field(None, description="Pixel size with unit, e.g. 0.35A (default: from the file).")
    study: StudySettings = Field(default_factory=lambda: StudySettings(trials=100),
                                 description="The mask's study: trials (100), sampler, selection rule, seed (also "
                                             "of the mixtures and of LoG*), storage.")
    window_range: tuple[LengthValue, LengthValue] = Field(
        (Length(0.5, "nm"), Length(2.0, "nm")),
        description="Search range of the patch window (wider windows smear the region edge).")
    threshold_range: tuple[float, float] = Field((0.05, 0.95), description="Search range of the amorphous-probability threshold.")
    covariance_types: tuple[str, ...] = Field(COVARIANCE_TYPES, description="Covariance types of the mixture to search (full, tied, diag, spherical).")
    dilation_range_nn: tuple[float, float] = Field(
        (1.0, 3.0), description="Search range of the dilation radius, in neighbour distances (below ~0.7 the discs "
                                "of a lattice's atoms leave holes: a spray of atom discs, not a region).")
    smooth_nn: float = Field(0.5, ge=0, le=5, description="Gaussian smoothing of the mask edge, in neighbour distances.")
    classes: int = Field(4, ge=1, le=50, description="Atom classes whose median patches are the crystalline references.")
    class_window: LengthValue = Field(Length(2.0, "nm"), description="Patch window of the class clustering.")
    atom_trials: int = Field(100, ge=1, le=100_000, description="LoG* trials when atoms are not given.")
    separation_gate: float | None = Field(
        2.0, ge=1, description="The mask is chosen among the Pareto masks whose separation loss is at most this "
                               "factor times the front's best (the data first, the shape among masks the data "
                               "cannot tell apart); None: among the whole front.")

    @field_validator("covariance_types")
    @classmethod
    def _known_covariance_types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [t for t in value if t not in COVARIANCE_TYPES]
        if bad or not value:
            raise ValueError(f"covariance types must be among {list(COVARIANCE_TYPES)}, got {list(value)}")
        return value


__all__ = ["AmorphousConfig"]

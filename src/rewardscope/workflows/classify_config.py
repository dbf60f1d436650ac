"""The settings of atom classification, :class:`ClassifyConfig`, in a light module (pydantic and units only).

The single source of defaults of :func:`~rewardscope.workflows.classify.classify_atoms` and
``rewardscope classify``, read by the command line without loading the workflow;
:mod:`rewardscope.workflows.classify` re-exports it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from rewardscope.units import Length, LengthValue


class ClassifyConfig(BaseModel):
    """Settings of atom classification (defaults shared by :func:`classify_atoms` and the CLI)."""

    model_config = ConfigDict(extra="forbid")

    classes: int = Field(4, ge=1, le=50, description="Number of atom classes (YBCO [100]: 4).")
    window: LengthValue = Field(Length(2.0, "nm"), description="Side of the patch around each atom, with unit (e.g. 2.0nm).")
    pixel_size: LengthValue | None = Field(None, description="Pixel size with unit, e.g. 0.35A (default: from the file).")
    lattice: str | None = Field(None, description="Preset lattice giving the neighbour distance (default: estimated from the atoms).")
    subclass: str | None = Field(None, description="Split one class again, CLASS:N (e.g. 0:2 for two orientations of class 0).")
    pca_components: int = Field(8, ge=1, le=100, description="Principal components of the patches fed to the mixture.")
    symmetrize: bool = Field(True, description="Average each patch with its mirror images so orientation variants share a class.")
    n_init: int = Field(5, ge=1, le=50, description="Restarts of the mixture fit.")
    seed: int = Field(0, description="Random seed.")


__all__ = ["ClassifyConfig"]

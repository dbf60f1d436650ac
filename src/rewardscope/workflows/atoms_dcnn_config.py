"""The settings of the DCNN over many files, :class:`DcnnFilesConfig`, in a light module (pydantic and units only).

The single source of defaults of :func:`~rewardscope.workflows.atoms_dcnn.find_atoms_dcnn_files`
and ``rewardscope atoms-dcnn``, read by the command line without torch;
:mod:`rewardscope.workflows.atoms_dcnn` re-exports it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rewardscope.defaults import DEFAULT_THRESHOLD
from rewardscope.units import LengthValue


class DcnnFilesConfig(BaseModel):
    """Settings of the DCNN over many files (defaults shared by :func:`find_atoms_dcnn_files` and ``atoms-dcnn``).

    Examples
    --------
    >>> DcnnFilesConfig(pixel_size="0.35A").model_dump(mode="json")["pixel_size"]
    '0.35A'
    """

    model_config = ConfigDict(extra="forbid")

    pixel_size: LengthValue | None = Field(None, description="Override the files' pixel size, e.g. 0.35A (without "
                                           "one the image is used at its own pixels).")
    ensemble: int = Field(1, ge=1, le=8, description="Dihedral test-time views (1-8); above 1 adds uncertainty_px "
                          "and support.")
    threshold: float = Field(DEFAULT_THRESHOLD, gt=0, lt=1, description="Smallest peak probability of an atom.")
    device: Literal["cpu", "cuda"] = Field("cpu", description="cpu or cuda.")
    batch_size: int = Field(16, ge=1, description="Images or tiles per forward pass.")


__all__ = ["DcnnFilesConfig"]

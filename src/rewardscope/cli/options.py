"""Build typer options from config models, so defaults and help live in one place.

A workflow's pydantic config model is the single source of defaults and descriptions;
:func:`option` reads a field's default and description and returns a ``typer.Option``.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import typer
from pydantic import BaseModel

from rewardscope.units import Length


def option(model: type[BaseModel], name: str, *flags: str, **kwargs: Any) -> Any:
    """Return a ``typer.Option`` whose default and help come from ``model.<name>``.

    Parameters
    ----------
    model : type of pydantic.BaseModel
        The config model.
    name : str
        Field name.
    *flags : str
        Option names, e.g. ``"--trials"``; default ``--<name with dashes>``.
    **kwargs
        Passed on to ``typer.Option``.

    Examples
    --------
    >>> from pydantic import BaseModel, Field
    >>> class C(BaseModel):
    ...     trials: int = Field(200, description="Number of trials.")
    >>> option(C, "trials").default
    200
    >>> from rewardscope.units import LengthValue
    >>> class W(BaseModel):
    ...     window: LengthValue = Field(Length(2.0, "nm"), description="Patch window.")
    >>> option(W, "window").default
    '2.0nm'
    """
    fld = model.model_fields[name]
    default = fld.default
    if isinstance(default, Length):  # lengths are typed as text on the command line
        default = default.text
    elif isinstance(default, Enum):
        default = default.value
    flags = flags or (f"--{name.replace('_', '-')}",)
    return typer.Option(default, *flags, help=fld.description, **kwargs)

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
        Field name; ``"study.trials"`` names a field of a nested model (default: the nested
        model's default inside ``model``, e.g. a workflow's own trial count).
    *flags : str
        Option names, e.g. ``"--trials"``; default ``--<last part of name with dashes>``.
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
    >>> class S(BaseModel):
    ...     study: C = Field(default_factory=lambda: C(trials=50))
    >>> option(S, "study.trials").default, option(S, "study.trials").param_decls
    (50, ('--trials',))
    """
    default, fld = _default_and_field(model, name)
    if isinstance(default, Length):  # lengths are typed as text on the command line
        default = default.text
    elif isinstance(default, Enum):
        default = default.value
    flags = flags or (f"--{name.rpartition('.')[2].replace('_', '-')}",)
    return typer.Option(default, *flags, help=fld.description, **kwargs)


def _default_and_field(model: type[BaseModel], name: str) -> tuple[Any, Any]:
    """Default value and pydantic field of ``name`` (:func:`rewardscope.config.field_default`)."""
    from rewardscope.config import field_default

    return field_default(model, name)

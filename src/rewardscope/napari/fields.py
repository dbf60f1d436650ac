"""magicgui widgets built from a workflow's pydantic config model.

The config models (:class:`~rewardscope.workflows.atoms_base.AtomsConfig`, ...) are the one
source of defaults and help texts for the API and the CLI (:func:`rewardscope.cli.options.option`);
:func:`config_widgets` reads the same fields for the napari widgets, so no third copy of a
default exists. magicgui has no public builder from pydantic fields, hence this module.
"""

from __future__ import annotations

import typing
from enum import Enum
from typing import Any

from magicgui.widgets import ComboBox, Widget, create_widget
from pydantic import BaseModel

from rewardscope.config import field_default, make_config
from rewardscope.units import Length


#: The choice of an optional switch (``bool | None``) that leaves the model's default (None).
AUTO = "auto"


def _literal_choices(annotation: Any) -> tuple[Any, ...] | None:
    """The values of a ``Literal[...]`` annotation (also inside ``Optional``), else None."""
    if typing.get_origin(annotation) is typing.Literal:
        return typing.get_args(annotation)
    for arg in typing.get_args(annotation):
        if typing.get_origin(arg) is typing.Literal:
            return typing.get_args(arg)
    return None


def field_widget(model: type[BaseModel], name: str, *, choices: list[Any] | None = None) -> Widget:
    """One widget for a config field: its default, its description as tooltip and label.

    Parameters
    ----------
    model : type of pydantic.BaseModel
        The config model.
    name : str
        Field name (``"study.trials"`` for a nested field).
    choices : list, optional
        Offer these values in a drop-down (e.g. registered method names); ``Literal``
        fields get theirs automatically.

    Returns
    -------
    magicgui.widgets.Widget
        Named after the field's last part; lengths and optional values are text fields
        (empty = the model's ``None``).
    """
    default, fld = field_default(model, name)
    label = name.rpartition(".")[2]
    options = {"tooltip": fld.description or ""}
    if default is None and bool in typing.get_args(fld.annotation):  # optional switch: auto / on / off
        return ComboBox(name=label, label=label.replace("_", " "), choices=[AUTO, True, False], value=AUTO,
                        tooltip=options["tooltip"])
    literal = choices or _literal_choices(fld.annotation)
    if literal:
        return ComboBox(name=label, label=label.replace("_", " "), choices=list(literal), value=default,
                        tooltip=options["tooltip"])
    if isinstance(default, Length):
        default = default.text
    elif isinstance(default, Enum):
        default = default.value
    if isinstance(default, bool) or (isinstance(default, (int, float)) and not isinstance(default, bool)):
        kind: Any = type(default)
        extra = {"min": -1e9, "max": 1e9} if kind is float else {"min": 0, "max": 10**9}
        return create_widget(value=default, annotation=kind, name=label, label=label.replace("_", " "),
                             options={**options, **({} if kind is bool else extra)})
    return create_widget(value="" if default is None else str(default), annotation=str, name=label,
                         label=label.replace("_", " "), options=options)


def config_widgets(model: type[BaseModel], names: list[str], *,
                   choices: dict[str, list[Any]] | None = None) -> list[Widget]:
    """Widgets for several fields of ``model`` (see :func:`field_widget`)."""
    choices = choices or {}
    return [field_widget(model, n, choices=choices.get(n)) for n in names]


def config_from(model: type[BaseModel], widgets: list[Widget], **extra: Any) -> BaseModel:
    """The config that the widgets' values (empty text = the field's default) and ``extra`` give.

    Invalid values raise :class:`~rewardscope.errors.ParameterError` (one line per field), as
    on the command line.
    """
    values: dict[str, Any] = {}
    for w in widgets:
        value = w.value
        if value == AUTO and isinstance(w, ComboBox) and AUTO in w.choices:
            continue
        if isinstance(value, str):
            value = value.strip()
            if not value:
                continue
            if value.lower() == "none":
                value = None
        values[w.name] = value
    values.update(extra)
    return make_config(model, **values)

"""Validation of configuration models with one readable error line.

Every workflow's configuration is a pydantic model (defaults and descriptions in one
place, shared by the API and the CLI). :func:`make_config` builds one from a base config
plus keyword overrides and turns pydantic's multi-line report into a
:class:`~rewardscope.errors.ParameterError` that the CLI prints as one line.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from rewardscope.errors import ParameterError

M = TypeVar("M", bound=BaseModel)


def make_config(model: type[M], base: M | None = None, **overrides: Any) -> M:
    """Return ``model`` built from ``base`` (or defaults) with ``overrides`` applied and validated.

    Parameters
    ----------
    model : type of pydantic.BaseModel
    base : model instance, optional
    **overrides
        Field values to replace.

    Raises
    ------
    ParameterError
        One line naming each bad field, e.g. ``size: Input should be greater than or equal to 16``.

    Examples
    --------
    >>> from pydantic import BaseModel, Field
    >>> class C(BaseModel):
    ...     trials: int = Field(10, ge=1)
    >>> make_config(C, trials=5).trials
    5

    A config that nests ``study`` settings (:class:`~rewardscope.optimize.StudySettings`)
    takes their fields as plain overrides too: ``make_config(AtomsConfig, trials=7)``.

    A mapping given for a nested config model changes only the fields it names; the
    others keep the base's (or the field's default) values:

    >>> from rewardscope.workflows.tracking_config import TrackConfig
    >>> seg = make_config(TrackConfig, segment={"study": {"trials": 12}}).segment
    >>> seg.study.trials, seg.split_rule  # the tracker's default split rule is kept
    (12, 'necks')
    """
    instance = base or model()
    data = _merged(instance, instance.model_dump(), _route_study_settings(model, instance.model_dump(), overrides))
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        parts = [f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']} (got {e.get('input')!r})"
                 for e in exc.errors()]
        raise ParameterError("; ".join(parts)) from None


def _merged(instance: BaseModel, data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``data`` (``instance`` dumped) with ``overrides``; a mapping for a nested model merges into its fields."""
    out = dict(data)
    for key, value in overrides.items():
        current = getattr(instance, key, None)
        if isinstance(value, dict) and isinstance(current, BaseModel) and isinstance(out.get(key), dict):
            out[key] = _merged(current, out[key], value)
        else:
            out[key] = value
    return out


def _route_study_settings(model: type[BaseModel], data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Move overrides that name a field of the nested ``study`` settings (``trials=100``) into it."""
    from rewardscope.optimize.settings import StudySettings

    if "study" not in model.model_fields:
        return overrides
    names = set(StudySettings.model_fields)
    routed = {k: v for k, v in overrides.items() if k in names and k not in model.model_fields}
    if not routed:
        return overrides
    rest = {k: v for k, v in overrides.items() if k not in routed}
    study = rest.get("study", data.get("study"))
    study = study.model_dump() if isinstance(study, BaseModel) else dict(study or {})
    return {**rest, "study": {**study, **routed}}


def field_default(model: type[BaseModel], name: str) -> tuple[Any, Any]:
    """Default value and pydantic field of ``name``; ``"a.b"``: field ``b`` of the default of field ``a``.

    The one reading of a config field's default, shared by the CLI options and the napari widgets.

    Examples
    --------
    >>> from rewardscope.optimize.settings import StudySettings
    >>> class C(BaseModel):
    ...     study: StudySettings = StudySettings(trials=7)
    >>> field_default(C, "study.trials")[0]
    7
    """
    default: Any = None
    fld: Any = None
    for depth, part in enumerate(name.split(".")):
        fld = model.model_fields[part]
        default = fld.get_default(call_default_factory=True) if depth == 0 else getattr(default, part)
        model = type(default)
    return default, fld

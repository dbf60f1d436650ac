"""Physical lengths with explicit units.

Lengths on the command line and in the API carry their unit: ``"0.35A"``, ``"0.035nm"``,
``"35pm"``, ``"0.5 Å"``. Internally lengths are converted to ångström.  No units library
is used because only lengths (four units) are needed and pint would add a heavy
dependency for one parse function.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

from rewardscope.errors import CalibrationError, ParameterError

#: Size of one unit in ångström.
UNIT_IN_ANGSTROM: dict[str, float] = {"A": 1.0, "nm": 10.0, "pm": 0.01, "um": 1.0e4}

_ALIASES = {
    "a": "A", "å": "A", "angstrom": "A", "angstroms": "A", "ang": "A",
    "nm": "nm", "nanometer": "nm", "nanometers": "nm", "nanometre": "nm",
    "pm": "pm", "picometer": "pm", "picometre": "pm",
    "um": "um", "µm": "um", "μm": "um", "micron": "um", "micrometer": "um",
}
_PATTERN = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([^\d\s].*)?$")


@dataclass(frozen=True)
class Length:
    """A length with a unit.

    Parameters
    ----------
    value : float
        Magnitude in ``unit``.
    unit : str
        One of ``"A"`` (ångström), ``"nm"``, ``"pm"``, ``"um"``.

    Examples
    --------
    >>> Length(0.035, "nm").angstrom
    0.35
    """

    value: float
    unit: str = "A"

    def __post_init__(self) -> None:
        if self.unit not in UNIT_IN_ANGSTROM:
            raise CalibrationError(f"unknown length unit {self.unit!r}; use A, nm, pm or um")
        if not math.isfinite(self.value) or self.value <= 0:
            raise CalibrationError(f"a length must be positive and finite, got {self.value} {self.unit}")

    @property
    def angstrom(self) -> float:
        """The length in ångström."""
        return _tidy(self.value * UNIT_IN_ANGSTROM[self.unit])

    @property
    def nm(self) -> float:
        """The length in nanometres."""
        return self.to("nm")

    @property
    def text(self) -> str:
        """The length as text that :func:`parse_length` reads back exactly, e.g. ``"0.35A"``."""
        return f"{self.value!r}{self.unit}"

    def to(self, unit: str) -> float:
        """Return the magnitude in ``unit`` (``A``, ``nm``, ``pm`` or ``um``)."""
        unit = _normalize_unit(unit)
        return _tidy(self.value * UNIT_IN_ANGSTROM[self.unit] / UNIT_IN_ANGSTROM[unit])

    def __str__(self) -> str:
        return f"{self.value:g} {'Å' if self.unit == 'A' else self.unit}"


def _tidy(value: float) -> float:
    """Drop float noise from unit conversion (0.35000000000000003 -> 0.35), keeping 13 digits."""
    return float(f"{value:.13g}")


def _normalize_unit(unit: str) -> str:
    key = unit.strip()
    if key in UNIT_IN_ANGSTROM:
        return key
    norm = _ALIASES.get(key.lower())
    if norm is None:
        raise CalibrationError(f"unknown length unit {unit!r}; use A, nm, pm or um")
    return norm


def parse_length(text: str | float | Length, *, default_unit: str | None = None) -> Length:
    """Parse a length such as ``"0.35A"``, ``"0.035 nm"`` or ``"35pm"``.

    Parameters
    ----------
    text : str, float or Length
        The length. A bare number is accepted only when ``default_unit`` is given.
    default_unit : str, optional
        Unit for a bare number.

    Returns
    -------
    Length
        The parsed, validated length (positive and finite).

    Raises
    ------
    CalibrationError
        If the text is not a positive length with a known unit.

    Examples
    --------
    >>> parse_length("35pm").angstrom
    0.35
    """
    if isinstance(text, Length):
        return text
    if isinstance(text, (int, float)):
        if default_unit is None:
            raise CalibrationError(f"length {text} has no unit; write e.g. '{text}A' or '{text}nm'")
        return Length(float(text), _normalize_unit(default_unit))
    match = _PATTERN.match(str(text))
    if match is None:
        raise CalibrationError(f"cannot read {text!r} as a length; write e.g. '0.35A', '0.035nm' or '35pm'")
    value, unit = float(match.group(1)), match.group(2)
    if unit is None:
        if default_unit is None:
            raise CalibrationError(f"length {text!r} has no unit; write e.g. '{text}A' or '{text}nm'")
        unit = default_unit
    return Length(value, _normalize_unit(unit))


def _validate_length(value: object) -> Length:
    """Pydantic hook: text such as ``"0.35A"`` or a :class:`Length` -> :class:`Length`."""
    if isinstance(value, Length):
        return value
    if isinstance(value, str):
        return parse_length(value)
    if isinstance(value, dict) and set(value) == {"value", "unit"}:
        return Length(float(value["value"]), str(value["unit"]))
    raise ValueError(f"a length needs a unit, e.g. '0.35A' or '0.035nm' (got {value!r})")


#: The length type of config fields: parsed once on input (``"0.35A"`` or a
#: :class:`Length`), held as a :class:`Length`, written back as text (``"0.35A"``) by
#: ``model_dump()``.
#:
#: Examples
#: --------
#: >>> from pydantic import BaseModel
#: >>> class C(BaseModel):
#: ...     window: LengthValue = Length(2.0, "nm")
#: >>> C(window="35pm").window.angstrom
#: 0.35
#: >>> C().model_dump(mode="json")
#: {'window': '2.0nm'}
LengthValue = Annotated[
    Length,
    BeforeValidator(_validate_length),
    PlainSerializer(lambda length: length.text, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["0.35A", "0.035nm", "35pm"]}),
]


@dataclass(frozen=True)
class Pixels:
    """A size in pixels, for settings that take either pixels or a length (e.g. ``"4px"`` or ``"1nm"``).

    Parameters
    ----------
    value : float
        Number of pixels, finite and >= 0.

    Examples
    --------
    >>> Pixels(4.0).text
    '4px'
    """

    value: float

    def __post_init__(self) -> None:
        if not math.isfinite(self.value) or self.value < 0:
            raise ParameterError(f"a size in pixels must be a non-negative number, got {self.value}")

    @property
    def text(self) -> str:
        """The size as text, e.g. ``"4px"``."""
        return f"{self.value:g}px"

    def __str__(self) -> str:
        return self.text


def _validate_length_or_pixels(value: object) -> Length | Pixels:
    """Pydantic hook: ``"4px"`` or a :class:`Pixels` -> :class:`Pixels`; lengths as :data:`LengthValue`."""
    if isinstance(value, Pixels):
        return value
    if isinstance(value, str) and value.strip().lower().endswith("px"):
        try:
            number = float(value.strip()[:-2])
        except ValueError:
            raise ValueError(f"{value!r} is not a number of pixels, e.g. 4px") from None
        return Pixels(number)
    if isinstance(value, dict) and value.get("unit") == "px":
        return Pixels(float(value["value"]))  # type: ignore[arg-type]
    return _validate_length(value)


#: A config field holding pixels (``"4px"``) or a length (``"1nm"``): parsed once on input to
#: :class:`Pixels` or :class:`Length`, written back as text by ``model_dump()``.
#:
#: Examples
#: --------
#: >>> from pydantic import BaseModel
#: >>> class C(BaseModel):
#: ...     size: LengthOrPixels = Pixels(4.0)
#: >>> C(size="1nm").size.angstrom, C().model_dump(mode="json")
#: (10.0, {'size': '4px'})
LengthOrPixels = Annotated[
    Length | Pixels,
    BeforeValidator(_validate_length_or_pixels),
    PlainSerializer(lambda size: size.text, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["4px", "1nm", "12A"]}),
]


def size_in_px(size: Length | Pixels, pixel_size: Length | None, what: str) -> float:
    """A size given in px (as is) or as a length (converted with ``pixel_size``), in pixels.

    Raises
    ------
    CalibrationError
        ``size`` is a length but there is no pixel size.

    Examples
    --------
    >>> size_in_px(Length(1.0, "nm"), Length(0.5, "A"), "min_diameter")
    20.0
    >>> size_in_px(Pixels(4.0), None, "min_diameter")
    4.0
    """
    if isinstance(size, Pixels):
        return size.value
    if pixel_size is None:
        raise CalibrationError(f"{what} {size.text} is a length but the image has no pixel size; give "
                               "--pixel-size or state it in px (e.g. 4px)")
    return size.nm / pixel_size.nm

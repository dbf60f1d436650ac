import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewardscope.errors import CalibrationError
from rewardscope.units import Length, parse_length


@pytest.mark.parametrize(("text", "angstrom"), [
    ("0.35A", 0.35), ("0.035nm", 0.35), ("35pm", 0.35), ("0.35 Å", 0.35), ("1e-4um", 1.0), ("2 nm", 20.0),
])
def test_parse_length_units(text, angstrom):
    assert parse_length(text).angstrom == pytest.approx(angstrom)


@pytest.mark.parametrize("text", ["-0.35A", "0A", "abc", "0.35 furlong", "nanA", "0.35"])
def test_parse_length_rejects(text):
    with pytest.raises(CalibrationError):
        parse_length(text)


def test_bare_number_needs_default_unit():
    assert parse_length(0.5, default_unit="nm").angstrom == 5.0
    with pytest.raises(CalibrationError):
        parse_length(0.5)


@given(st.floats(min_value=1e-6, max_value=1e6), st.sampled_from(["A", "nm", "pm", "um"]))
def test_roundtrip_conversion(value, unit):
    length = Length(value, unit)
    assert math.isclose(Length(length.to("nm"), "nm").angstrom, length.angstrom, rel_tol=1e-9)
    assert parse_length(f"{value!r}{unit}").angstrom == pytest.approx(length.angstrom, rel=1e-12)
    assert parse_length(length.text) == length

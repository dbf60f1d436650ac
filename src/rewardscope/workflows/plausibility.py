"""Plausibility checks of atom finding: warn, or in strict mode refuse, when input or result cannot be right.

A unit slip (``--pixel-size 35nm`` for 0.35 Å) or an image without a crystal (pure noise)
still gives a table of "atoms"; these checks say so. Each check returns a one-line
message or None, and :class:`Checks` emits every message as a
:class:`~rewardscope.errors.PlausibilityWarning` (kept for ``summary.json`` under
``"warnings"``) or, strict, raises :class:`~rewardscope.errors.PlausibilityError` (an
``InputError``: one error line and exit code 2 on the command line).

* :func:`cell_size_problem`, before any heavy work: the projected cell must span
  :data:`MIN_CELL_PX` to :data:`MAX_CELL_PX` pixels;
* :func:`count_problem`: the found count within :data:`MAX_COUNT_RATIO` of the expected
  one (either way), else the best count reward QC no worse than :data:`MAX_QC`;
* :func:`order_problem`: the detections form the lattice
  (:func:`rewardscope.detect.lattice.lattice_order` at least
  :func:`~rewardscope.detect.lattice.min_lattice_order` of their number);
* :func:`outside_problem`: no more than :data:`MAX_DROPPED_SHARE` of the detections lay
  outside the image (they are dropped by :func:`rewardscope.detect.refine.inside_image`).

Examples
--------
>>> from rewardscope.physics import get_lattice
>>> from rewardscope.units import Length
>>> cell_size_problem(get_lattice("ybco-100"), Length(0.35, "A")) is None
True
>>> print(cell_size_problem(get_lattice("ybco-100"), Length(35, "nm")))  # doctest: +ELLIPSIS
pixel size 35nm makes the ybco-100 cell 0.0111 x 0.0334 px, under 4 px: ...
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewardscope.errors import PlausibilityError, PlausibilityWarning
from rewardscope.units import Length

#: The projected cell must span at least this many pixels along its shorter side ...
MIN_CELL_PX = 4.0
#: ... and at most this many along its longer side.
MAX_CELL_PX = 200.0
#: Found / expected atom count beyond this factor (either way) is implausible.
MAX_COUNT_RATIO = 2.0
#: A best count reward ``|N - N_expected| / N_expected`` above this is implausible.
MAX_QC = 0.5
#: Share of detections lying outside the image above which something is wrong.
MAX_DROPPED_SHARE = 0.2


@dataclass
class Checks:
    """Collects plausibility problems: warns (default) or raises (``strict``).

    Attributes
    ----------
    strict : bool
        Raise :class:`PlausibilityError` at the first problem instead of warning.
    messages : list of str
        The warnings given so far (for ``summary.json``).

    Examples
    --------
    >>> import warnings
    >>> checks = Checks()
    >>> with warnings.catch_warnings(record=True):
    ...     checks.report(None, "too few atoms")
    >>> checks.messages
    ['too few atoms']
    """

    strict: bool = False
    messages: list[str] = field(default_factory=list)

    def report(self, *problems: str | None) -> None:
        """Warn about (or, strict, raise on) every message that is not None."""
        found = [p for p in problems if p]
        if found and self.strict:
            raise PlausibilityError("; ".join(found) + " (strict: implausible input or result is an error)")
        for message in found:
            warnings.warn(message, PlausibilityWarning, stacklevel=3)
            self.messages.append(message)


def cell_size_px(crystal: Any, pixel_size: Length) -> tuple[float, float]:
    """Lengths of the projected cell vectors in pixels, shorter first."""
    lengths = np.hypot(*np.asarray(crystal.basis, float).T) / pixel_size.angstrom
    return float(lengths.min()), float(lengths.max())


def cell_size_problem(crystal: Any, pixel_size: Length) -> str | None:
    """A message when the pixel size makes the cell under :data:`MIN_CELL_PX` or over :data:`MAX_CELL_PX` px."""
    short, long = cell_size_px(crystal, pixel_size)
    name = getattr(crystal, "name", "lattice")
    size = f"pixel size {pixel_size.text} makes the {name} cell {short:.3g} x {long:.3g} px"
    if short < MIN_CELL_PX:
        return (f"{size}, under {MIN_CELL_PX:g} px: its columns cannot be resolved; check the pixel size and its "
                "unit (e.g. 0.35A, not 35nm)")
    if long > MAX_CELL_PX:
        return (f"{size}, over {MAX_CELL_PX:g} px: far finer than atomic-resolution images; check the pixel size "
                "and its unit (e.g. 0.35A, not 0.35pm)")
    return None


def count_problem(n_atoms: int, n_expected: float, qc: float | None) -> str | None:
    """A message when the count is off by more than :data:`MAX_COUNT_RATIO` or the best QC exceeds :data:`MAX_QC`.

    Examples
    --------
    >>> count_problem(100, 105, 0.05) is None
    True
    >>> print(count_problem(5068, 1060168328, 1.0))
    found 5068 atoms, 4.78e-06 x the 1060168328 expected from the lattice and the pixel size; check both, and the image
    """
    ratio = n_atoms / n_expected
    if not 1 / MAX_COUNT_RATIO <= ratio <= MAX_COUNT_RATIO:
        return (f"found {n_atoms} atoms, {ratio:.3g} x the {n_expected:.0f} expected from the lattice and the pixel "
                "size; check both, and the image")
    if qc is not None and qc > MAX_QC:
        return (f"the best count error QC = {qc:.2f} is worse than {MAX_QC:g} (found counts far from the "
                f"{n_expected:.0f} expected); check the lattice, the pixel size and the image")
    return None


def order_problem(order: float, name: str, n_atoms: int) -> str | None:
    """A message when the lattice order of ``n_atoms`` detections is below the crystal threshold for that many."""
    from rewardscope.detect.lattice import min_lattice_order

    needed = min_lattice_order(n_atoms)
    if not np.isfinite(order) or order >= needed:
        return None
    return (f"the {n_atoms} detections do not form the {name} lattice (lattice order {order:.2f}; a crystal of "
            f"that many columns scores above {needed:.2g}, noise near 0): is this an image of that crystal, at that "
            "pixel size?")


def outside_problem(n_dropped: int, n_found: int) -> str | None:
    """A message when more than :data:`MAX_DROPPED_SHARE` of the found centres lay outside the image."""
    if n_found == 0 or n_dropped <= MAX_DROPPED_SHARE * n_found:
        return None
    return (f"{n_dropped} of {n_found} atom centres lay outside the image and were dropped; the positions near "
            "the edges are unreliable")


__all__ = ["MAX_COUNT_RATIO", "MAX_DROPPED_SHARE", "MAX_QC", "MAX_CELL_PX", "MIN_CELL_PX", "Checks",
           "cell_size_problem", "cell_size_px", "count_problem", "order_problem", "outside_problem"]

"""Projected crystals: presets, CIF + zone axis, expected column counts, ideal distances.

Examples
--------
>>> from rewardscope.physics import get_lattice
>>> from rewardscope.units import Length
>>> srtio3 = get_lattice("srtio3-001")
>>> round(srtio3.expected_count(shape=(256, 256), pixel_size=Length(0.35, "A")))
1053
"""

from rewardscope.physics.cif import from_cif
from rewardscope.physics.crystal import ProjectedCrystal, UnitCell, project
from rewardscope.physics.presets import PRESETS, get_lattice

__all__ = ["PRESETS", "ProjectedCrystal", "UnitCell", "from_cif", "get_lattice", "project"]

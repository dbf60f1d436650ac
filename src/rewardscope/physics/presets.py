"""Preset crystals (unit cells from the literature) and their common zone axes.

YBa2Cu3O7 (Pmmm, a = 3.82, b = 3.89, c = 11.68 Å; Jorgensen et al., PRB 41, 1863 (1990)),
SrTiO3 (Pm-3m, a = 3.905 Å), Si (Fd-3m, a = 5.431 Å) and Au (Fm-3m, a = 4.078 Å).
"""

from __future__ import annotations

import numpy as np

from rewardscope.errors import ParameterError
from rewardscope.physics.crystal import ProjectedCrystal, UnitCell, project


def _cubic(a: float) -> np.ndarray:
    return np.eye(3) * a


_YBCO_ATOMS = [
    ("Y", 0.5, 0.5, 0.5), ("Ba", 0.5, 0.5, 0.1843), ("Ba", 0.5, 0.5, 0.8157),
    ("Cu", 0.0, 0.0, 0.0), ("Cu", 0.0, 0.0, 0.3556), ("Cu", 0.0, 0.0, 0.6444),
    ("O", 0.0, 0.5, 0.0), ("O", 0.5, 0.0, 0.3779), ("O", 0.5, 0.0, 0.6221),
    ("O", 0.0, 0.5, 0.3790), ("O", 0.0, 0.5, 0.6210), ("O", 0.0, 0.0, 0.1590), ("O", 0.0, 0.0, 0.8410),
]
_FCC = [(0, 0, 0), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5)]
_DIAMOND = _FCC + [(x + 0.25, y + 0.25, z + 0.25) for x, y, z in _FCC]


def _cell(name: str, cell: np.ndarray, atoms: list[tuple]) -> UnitCell:
    return UnitCell(name=name, cell=cell, frac=np.array([a[1:] for a in atoms], float) % 1.0,
                    species=tuple(a[0] for a in atoms))


UNIT_CELLS: dict[str, UnitCell] = {
    "YBa2Cu3O7": _cell("YBa2Cu3O7", np.diag([3.82, 3.89, 11.68]), _YBCO_ATOMS),
    "SrTiO3": _cell("SrTiO3", _cubic(3.905), [("Sr", 0, 0, 0), ("Ti", 0.5, 0.5, 0.5), ("O", 0.5, 0.5, 0),
                                               ("O", 0.5, 0, 0.5), ("O", 0, 0.5, 0.5)]),
    "Si": _cell("Si", _cubic(5.431), [("Si", *p) for p in _DIAMOND]),
    "Au": _cell("Au", _cubic(4.078), [("Au", *p) for p in _FCC]),
}

#: Preset name -> (unit cell name, zone axis).
PRESETS: dict[str, tuple[str, tuple[int, int, int]]] = {
    "ybco-100": ("YBa2Cu3O7", (1, 0, 0)),
    "ybco-010": ("YBa2Cu3O7", (0, 1, 0)),
    "srtio3-001": ("SrTiO3", (0, 0, 1)),
    "si-110": ("Si", (1, 1, 0)),
    "au-001": ("Au", (0, 0, 1)),
}


def get_lattice(name: str) -> ProjectedCrystal:
    """Return a preset projected crystal.

    Parameters
    ----------
    name : str
        One of ``ybco-100``, ``ybco-010``, ``srtio3-001``, ``si-110``, ``au-001``.

    Returns
    -------
    ProjectedCrystal

    Examples
    --------
    >>> get_lattice("srtio3-001").species
    ('Sr', 'TiO', 'O', 'O')
    """
    key = name.strip().lower()
    if key not in PRESETS:
        raise ParameterError(f"unknown lattice {name!r}; presets: {', '.join(PRESETS)} (or give --cif FILE --zone U V W)")
    cell_name, zone = PRESETS[key]
    return project(UNIT_CELLS[cell_name], zone, name=key)

"""Projected crystals from CIF files (read with ase; we do not parse CIF ourselves)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rewardscope.errors import FileFormatError
from rewardscope.physics.crystal import ProjectedCrystal, UnitCell, project


def read_cif(path: str | Path) -> UnitCell:
    """Read the first structure of a CIF file into a :class:`UnitCell` (symmetry expanded).

    Raises
    ------
    FileFormatError
        Missing or unreadable file.
    """
    from ase.io import read

    path = Path(path)
    if not path.exists():
        raise FileFormatError(f"{path}: no such file")
    try:
        atoms = read(path, format="cif")
    except Exception as exc:  # ase raises many kinds of errors on bad CIFs
        raise FileFormatError(f"{path.name}: cannot read CIF ({type(exc).__name__}: {exc})") from None
    if len(atoms) == 0:
        raise FileFormatError(f"{path.name}: CIF holds no atoms")
    return UnitCell(name=atoms.get_chemical_formula(mode="metal"), cell=atoms.cell.array.copy(),
                    frac=atoms.get_scaled_positions(wrap=True), species=tuple(atoms.get_chemical_symbols()))


def from_cif(path: str | Path, *, zone: Sequence[int]) -> ProjectedCrystal:
    """Project the crystal of a CIF file along a zone axis.

    Parameters
    ----------
    path : str or Path
        CIF file.
    zone : (u, v, w)
        Zone axis in direct-lattice indices.

    Returns
    -------
    ProjectedCrystal

    Examples
    --------
    >>> from importlib.resources import files
    >>> sto = from_cif(files("rewardscope.physics") / "cif" / "SrTiO3.cif", zone=(0, 0, 1))
    >>> sto.n_visible_per_cell
    2
    """
    cell = read_cif(path)
    return project(cell, zone, name=f"{Path(path).stem} [{''.join(str(int(v)) for v in zone)}]")

"""Projected crystals from CIF files (read with ase; we do not parse CIF ourselves).

CIFs shipped in ``rewardscope/physics/cif/`` are found by name (``from_cif("SrTiO3.cif")``)
when no such file exists at the given path; a file at the path always wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path

from rewardscope.errors import FileFormatError
from rewardscope.physics.crystal import ProjectedCrystal, UnitCell, project


def shipped_cifs() -> list[str]:
    """File names of the CIFs shipped with rewardscope.

    Examples
    --------
    >>> "SrTiO3.cif" in shipped_cifs()
    True
    """
    folder = files("rewardscope.physics") / "cif"
    return sorted(p.name for p in folder.iterdir() if p.name.lower().endswith(".cif"))


def shipped_cif(name: str | Path) -> Path | None:
    """The shipped CIF called ``name`` (case-insensitive, ``.cif`` optional), or ``None``.

    Examples
    --------
    >>> shipped_cif("srtio3").name, shipped_cif("nothing.cif")
    ('SrTiO3.cif', None)
    """
    wanted = Path(name).name.lower()
    for candidate in shipped_cifs():
        if candidate.lower() in (wanted, f"{wanted}.cif"):
            return Path(str(files("rewardscope.physics") / "cif" / candidate))
    return None


def resolve_cif(path: str | Path) -> Path:
    """``path`` if it exists, else the shipped CIF of that name (only for a bare file name).

    Raises
    ------
    FileFormatError
        Neither exists (the message lists the shipped CIFs).

    Examples
    --------
    >>> resolve_cif("SrTiO3.cif").parent.name
    'cif'
    """
    path = Path(path)
    if path.exists():
        return path
    shipped = shipped_cif(path) if path.parent == Path(".") else None
    if shipped is None:
        raise FileFormatError(f"{path}: no such file (CIFs shipped with rewardscope, usable by name: "
                              f"{', '.join(shipped_cifs())})")
    return shipped


def read_cif(path: str | Path) -> UnitCell:
    """Read the first structure of a CIF file into a :class:`UnitCell` (symmetry expanded).

    Parameters
    ----------
    path : str or Path
        A CIF file, or the name of a shipped one (see :func:`resolve_cif`).

    Raises
    ------
    FileFormatError
        Missing or unreadable file.
    """
    from ase.io import read

    path = resolve_cif(path)
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
        CIF file, or the name of a CIF shipped in ``rewardscope/physics/cif/`` (e.g.
        ``"SrTiO3.cif"``), used when no file exists at ``path``.
    zone : (u, v, w)
        Zone axis in direct-lattice indices.

    Returns
    -------
    ProjectedCrystal

    Examples
    --------
    >>> sto = from_cif("SrTiO3.cif", zone=(0, 0, 1))   # shipped with rewardscope
    >>> sto.n_visible_per_cell
    2
    """
    cell = read_cif(path)
    return project(cell, zone, name=f"{Path(path).stem} [{''.join(str(int(v)) for v in zone)}]")

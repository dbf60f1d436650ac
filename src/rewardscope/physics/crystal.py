"""Projection of a 3-D unit cell along a zone axis into atomic columns.

A :class:`ProjectedCrystal` is a 2-D cell (two vectors in ångström) plus the columns in
it: fractional position, species label, HAADF weight (sum of Z^1.7 of the atoms in one
repeat of the column) and a *visible* flag (columns made only of light atoms, Z <= 8
such as O, are invisible in HAADF by default). No library projects crystals into
columns with HAADF weights, so this is ours; CIF reading itself is left to ase.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from rewardscope.errors import ParameterError
from rewardscope.units import Length

#: Exponent of the atomic number in incoherent HAADF contrast.
Z_EXPONENT = 1.7
#: Columns whose heaviest atom has Z <= this are invisible by default.
LIGHT_Z = 8
#: Atoms closer than this in projection (ångström) share one column.
MERGE_TOLERANCE_ANGSTROM = 0.5


def atomic_number(symbol: str) -> int:
    """Atomic number of an element symbol (via ase's table)."""
    from ase.data import atomic_numbers

    try:
        return int(atomic_numbers[symbol])
    except KeyError:
        raise ParameterError(f"unknown element {symbol!r}") from None


@dataclass(frozen=True)
class UnitCell:
    """A 3-D unit cell.

    Parameters
    ----------
    name : str
        Label, e.g. ``"YBa2Cu3O7"``.
    cell : array_like, shape (3, 3)
        Rows are the cell vectors a, b, c in ångström (Cartesian).
    frac : array_like, shape (n, 3)
        Fractional coordinates of the atoms.
    species : sequence of str, length n
        Element symbols.
    """

    name: str
    cell: np.ndarray
    frac: np.ndarray
    species: tuple[str, ...]

    @property
    def volume_angstrom3(self) -> float:
        """Cell volume in Å^3."""
        return float(abs(np.linalg.det(self.cell)))


@dataclass(frozen=True, eq=False)
class ProjectedCrystal:
    """Atomic columns of a crystal seen along a zone axis.

    Attributes
    ----------
    name : str
    a_vec, b_vec : numpy.ndarray, shape (2,)
        In-plane cell vectors, ångström; ``a_vec`` lies along +x.
    frac : numpy.ndarray, shape (n, 2)
        Column positions as fractions of (a_vec, b_vec).
    species : tuple of str
        Column labels (e.g. ``"Ba"``, ``"CuO"``).
    weight : numpy.ndarray, shape (n,)
        HAADF weight, sum of Z^1.7 of the atoms in one repeat.
    visible : numpy.ndarray of bool, shape (n,)
    zone : tuple of int
        The zone axis [uvw].
    """

    name: str
    a_vec: np.ndarray
    b_vec: np.ndarray
    frac: np.ndarray
    species: tuple[str, ...]
    weight: np.ndarray
    visible: np.ndarray
    zone: tuple[int, int, int] = (0, 0, 1)

    @property
    def basis(self) -> np.ndarray:
        """(2, 2) matrix whose rows are ``a_vec`` and ``b_vec`` (Å)."""
        return np.vstack([self.a_vec, self.b_vec])

    @property
    def cell_area_angstrom2(self) -> float:
        """Area of the 2-D cell in Å^2."""
        return float(abs(np.linalg.det(self.basis)))

    @property
    def n_visible_per_cell(self) -> int:
        """Number of visible columns in one 2-D cell."""
        return int(self.visible.sum())

    @property
    def columns(self) -> pd.DataFrame:
        """The columns of one cell: frac_a, frac_b, x_angstrom, y_angstrom, species, weight, visible."""
        xy = self.frac @ self.basis
        return pd.DataFrame({
            "frac_a": self.frac[:, 0], "frac_b": self.frac[:, 1], "x_angstrom": xy[:, 0],
            "y_angstrom": xy[:, 1], "species": list(self.species), "weight": self.weight,
            "visible": self.visible,
        })

    def expected_count(self, *, shape: Sequence[int], pixel_size: Length) -> float:
        """Expected number of visible columns in a field of view.

        Parameters
        ----------
        shape : (rows, cols)
            Image size in pixels.
        pixel_size : Length
            Size of one pixel.

        Returns
        -------
        float
            Visible-column density times the field-of-view area.

        Examples
        --------
        >>> from rewardscope.physics import get_lattice
        >>> round(get_lattice("ybco-100").expected_count(shape=(256, 256), pixel_size=Length(0.35, "A")))
        1060
        """
        rows, cols = int(shape[0]), int(shape[1])
        area = rows * cols * pixel_size.angstrom ** 2
        return area * self.n_visible_per_cell / self.cell_area_angstrom2

    @cached_property
    def _visible_neighbours(self) -> tuple[np.ndarray, np.ndarray]:
        """Distances (Å) from each visible column to all visible columns of a 7x7 supercell."""
        vis = self.frac[self.visible]
        shifts = np.array([(i, j) for i in range(-3, 4) for j in range(-3, 4)], float)
        cloud = (vis[None, :, :] + shifts[:, None, :]).reshape(-1, 2) @ self.basis
        centre = vis @ self.basis
        dist, _ = cKDTree(cloud).query(centre, k=9)
        return centre, dist[:, 1:]  # drop the zero self-distance

    @property
    def min_nn_distance_angstrom(self) -> float:
        """Smallest distance between two visible columns, Å."""
        return float(self._visible_neighbours[1][:, 0].min())

    def nn_distances_angstrom(self, *, k: int = 4) -> np.ndarray:
        """Sorted distances (Å) of each visible column to its k nearest visible columns.

        Returns
        -------
        numpy.ndarray, shape (n_visible_per_cell, k)
        """
        if not 1 <= k <= 8:
            raise ParameterError(f"k must be between 1 and 8, got {k}")
        return self._visible_neighbours[1][:, :k].copy()

    def ideal_nn_sum_px(self, *, pixel_size: Length, k: int = 4) -> float:
        """Smallest summed distance to the k nearest visible columns, pixels.

        This is the reference of the error reward: a detected atom whose k-NN distance sum is
        well below it sits where the ideal lattice has no column.
        """
        return float(self.nn_distances_angstrom(k=k).sum(axis=1).min() / pixel_size.angstrom)

    def positions(self, *, shape: Sequence[int], pixel_size: Length, rotation_deg: float = 0.0,
                  origin_px: Sequence[float] = (0.0, 0.0), margin_px: float = 0.0,
                  visible_only: bool = False) -> pd.DataFrame:
        """Ideal column positions in an image, pixels.

        Parameters
        ----------
        shape : (rows, cols)
            Image size.
        pixel_size : Length
        rotation_deg : float
            Counter-clockwise rotation of the lattice about the image centre (degrees).
        origin_px : (x, y)
            Position of the cell origin before rotation, pixels.
        margin_px : float
            Also return columns up to this far outside the image.
        visible_only : bool
            Drop invisible columns.

        Returns
        -------
        pandas.DataFrame
            Columns ``x``, ``y`` (pixels, x = column), ``species``, ``weight``, ``visible``.
        """
        rows, cols = int(shape[0]), int(shape[1])
        ps = pixel_size.angstrom
        theta = np.deg2rad(rotation_deg)
        rot = np.array([[np.cos(theta), np.sin(theta)], [-np.sin(theta), np.cos(theta)]])
        basis_px = self.basis @ rot / ps
        centre = np.array([cols / 2, rows / 2])
        corners = np.array([[0, 0], [cols, 0], [0, rows], [cols, rows]], float)
        pad = margin_px + np.abs(basis_px).sum()
        rel = np.vstack([corners + d for d in ([-pad, -pad], [pad, -pad], [-pad, pad], [pad, pad])])
        ij = np.linalg.solve(basis_px.T, (rel - centre - (np.asarray(origin_px) - centre) @ rot).T).T
        lo, hi = np.floor(ij.min(0)) - 1, np.ceil(ij.max(0)) + 1
        ii, jj = np.meshgrid(np.arange(lo[0], hi[0] + 1), np.arange(lo[1], hi[1] + 1), indexing="ij")
        cells = np.column_stack([ii.ravel(), jj.ravel()])
        frac = (cells[:, None, :] + self.frac[None, :, :]).reshape(-1, 2)
        xy = frac @ basis_px + centre + (np.asarray(origin_px) - centre) @ rot
        idx = np.tile(np.arange(len(self.frac)), len(cells))
        keep = ((xy[:, 0] >= -margin_px) & (xy[:, 0] < cols + margin_px)
                & (xy[:, 1] >= -margin_px) & (xy[:, 1] < rows + margin_px))
        if visible_only:
            keep &= self.visible[idx]
        xy, idx = xy[keep], idx[keep]
        return pd.DataFrame({
            "x": xy[:, 0], "y": xy[:, 1], "species": np.asarray(self.species, dtype=object)[idx],
            "weight": self.weight[idx], "visible": self.visible[idx],
        })


def _projected_basis(cell: np.ndarray, zone: np.ndarray, e1: np.ndarray,
                     e2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Reduced basis of the projected 2-D lattice.

    Returns
    -------
    basis : numpy.ndarray, shape (2, 2)
        Rows a, b in Å, with a along +x and b in the lower half of the image (+y).
    rot : numpy.ndarray, shape (2, 2)
        Rotation taking (e1, e2) coordinates into that frame.
    """
    t = zone @ cell
    target = abs(np.linalg.det(cell)) / np.linalg.norm(t)
    rng = np.arange(-4, 5)
    n = np.array(np.meshgrid(rng, rng, rng, indexing="ij")).reshape(3, -1).T
    vec = n @ cell
    p = np.column_stack([vec @ e1, vec @ e2])
    length = np.round(np.linalg.norm(p, axis=1), 9)
    order = [i for i in np.lexsort((-p[:, 0], length)) if length[i] > 1e-6]
    a = p[order[0]]
    for i in order[1:]:
        area = abs(a[0] * p[i][1] - a[1] * p[i][0])
        if area > 1e-6 and abs(area - target) < 1e-3 * target:
            b = p[i]
            break
    else:  # pragma: no cover - every primitive zone axis has such a pair
        raise ParameterError(f"cannot find a 2-D cell for zone axis {zone.tolist()}")
    angle = np.arctan2(a[1], a[0])
    rot = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    a, b = rot @ a, rot @ b
    if b[1] < 0:
        b = -b
    return np.vstack([a, b]), rot


def _in_plane_axes(cell: np.ndarray, zone: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = zone @ cell
    t = t / np.linalg.norm(t)
    helper = np.array([1.0, 0, 0]) if abs(t[0]) < 0.9 else np.array([0, 1.0, 0])
    e1 = np.cross(t, helper)
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(t, e1)


def _merge_columns(frac2: np.ndarray, species: Sequence[str], basis: np.ndarray,
                   tol: float) -> list[list[int]]:
    """Group atoms whose projected positions (periodic) lie within ``tol`` Å."""
    groups: list[list[int]] = []
    centres: list[np.ndarray] = []
    for i, f in enumerate(frac2):
        for g, c in zip(groups, centres):
            d = f - c
            d -= np.round(d)
            if np.linalg.norm(d @ basis) < tol:
                g.append(i)
                break
        else:
            groups.append([i])
            centres.append(f)
    return groups


def _column_label(symbols: list[str]) -> str:
    heavy_first = sorted(set(symbols), key=lambda s: (-atomic_number(s), s))
    return "".join(heavy_first)


def project(cell: UnitCell, zone: Sequence[int], *, name: str | None = None,
            merge_tolerance_angstrom: float = MERGE_TOLERANCE_ANGSTROM,
            light_z: int = LIGHT_Z) -> ProjectedCrystal:
    """Project a unit cell along a zone axis into atomic columns.

    Parameters
    ----------
    cell : UnitCell
        The 3-D crystal.
    zone : (u, v, w)
        Zone axis in direct-lattice indices (made coprime).
    name : str, optional
        Label of the result (default ``"<cell name> [uvw]"``).
    merge_tolerance_angstrom : float
        Atoms closer than this in projection form one column.
    light_z : int
        Columns whose heaviest atom has Z <= light_z are invisible.

    Returns
    -------
    ProjectedCrystal

    Examples
    --------
    >>> from rewardscope.physics.presets import UNIT_CELLS
    >>> project(UNIT_CELLS["SrTiO3"], (0, 0, 1)).n_visible_per_cell
    2
    """
    uvw = np.asarray(zone, int)
    if uvw.shape != (3,) or not uvw.any():
        raise ParameterError(f"zone axis must be three integers, not all zero; got {list(zone)}")
    uvw = uvw // np.gcd.reduce(np.abs(uvw))
    e1, e2 = _in_plane_axes(cell.cell, uvw)
    basis3, rot = _projected_basis(cell.cell, uvw, e1, e2)
    cart = np.asarray(cell.frac) @ cell.cell
    p = np.column_stack([cart @ e1, cart @ e2]) @ rot.T
    frac2 = np.linalg.solve(basis3.T, p.T).T % 1.0
    groups = _merge_columns(frac2, cell.species, basis3, merge_tolerance_angstrom)
    fr, labels, weights, visible = [], [], [], []
    for g in groups:
        symbols = [cell.species[i] for i in g]
        z = np.array([atomic_number(s) for s in symbols])
        ref = frac2[g[0]]
        d = frac2[g] - ref
        d -= np.round(d)
        fr.append((ref + (d * z[:, None] ** Z_EXPONENT).sum(0) / (z ** Z_EXPONENT).sum()) % 1.0)
        labels.append(_column_label(symbols))
        weights.append(float((z ** Z_EXPONENT).sum()))
        visible.append(bool(z.max() > light_z))
    fr_arr = np.round(np.asarray(fr), 10) % 1.0
    return ProjectedCrystal(
        name=name or f"{cell.name} [{''.join(str(int(v)) for v in uvw)}]", a_vec=basis3[0], b_vec=basis3[1],
        frac=fr_arr, species=tuple(labels), weight=np.asarray(weights), visible=np.asarray(visible),
        zone=tuple(int(v) for v in uvw),
    )

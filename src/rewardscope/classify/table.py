"""Atom tables as the classify and amorphous workflows take them: read, check, positions.

An atom table has one row per atom with ``x`` (column) and ``y`` (row) in pixels; any
other columns (``species``, ``sigma``, ...) are kept and passed through.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rewardscope.errors import FileFormatError, ParameterError


def atom_positions(atoms: pd.DataFrame | np.ndarray, *, min_atoms: int = 1) -> np.ndarray:
    """(n, 2) float array of (x, y) pixel positions from a table or an array.

    Parameters
    ----------
    atoms : pandas.DataFrame with ``x``, ``y`` columns, or array_like of shape (n, 2)
    min_atoms : int
        Fewest atoms accepted.

    Returns
    -------
    numpy.ndarray, shape (n, 2)
        x (column), y (row), pixels.

    Raises
    ------
    FileFormatError
        Table without ``x``/``y`` columns or with non-finite values.
    ParameterError
        Fewer than ``min_atoms`` atoms.

    Examples
    --------
    >>> atom_positions(pd.DataFrame({"x": [1.0], "y": [2.0]})).tolist()
    [[1.0, 2.0]]
    """
    if isinstance(atoms, pd.DataFrame):
        missing = [c for c in ("x", "y") if c not in atoms.columns]
        if missing:
            raise FileFormatError(f"atoms table needs columns x and y (pixels); missing {missing}, "
                                  f"has {list(atoms.columns)}")
        xy = atoms[["x", "y"]].to_numpy(float)
    else:
        xy = np.asarray(atoms, float).reshape(-1, 2)
    if not np.isfinite(xy).all():
        raise FileFormatError("atom positions contain NaN or infinite values")
    if len(xy) < min_atoms:
        raise ParameterError(f"need at least {min_atoms} atoms, got {len(xy)}")
    return xy


def read_atoms(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """Atom table from a CSV/Parquet file or a DataFrame; it must have ``x`` and ``y`` (pixels).

    Parameters
    ----------
    source : path or pandas.DataFrame
        A DataFrame is copied, never changed.

    Returns
    -------
    pandas.DataFrame
        With a fresh 0..n-1 index.

    Raises
    ------
    FileFormatError
        Missing or unreadable file, or no ``x``/``y`` columns.

    Examples
    --------
    >>> read_atoms(pd.DataFrame({"x": [1.0, 2.0], "y": [3.0, 4.0]}, index=[7, 9])).index.tolist()
    [0, 1]
    """
    if isinstance(source, pd.DataFrame):
        table = source.copy()
    else:
        path = Path(source)
        if not path.is_file():
            raise FileFormatError(f"atoms file {path} does not exist")
        try:
            table = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
        except Exception as exc:  # noqa: BLE001  (any parser failure is a bad file)
            raise FileFormatError(f"cannot read atoms file {path}: {exc}") from None
    atom_positions(table, min_atoms=0)
    return table.reset_index(drop=True)

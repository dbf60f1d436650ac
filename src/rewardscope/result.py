"""A small result object that every workflow returns.

It holds tables (pandas), arrays (numpy) and a JSON-able summary, saves itself to a
folder (CSV or Parquet, TIFF, ``summary.json``) and shows itself in Jupyter. Figures are
drawn by :mod:`rewardscope.report`, which the core never imports.
"""

from __future__ import annotations

import functools
import html
import json
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rewardscope.io.write import write_json, write_table, write_tiff
from rewardscope.units import Length


def versions() -> dict[str, str]:
    """Versions of Python and of the libraries results depend on (a copy of :func:`_versions`)."""
    return dict(_versions())


@functools.cache
def _versions() -> dict[str, str]:
    """Read once per process: ``importlib.metadata`` scans the installed packages (~20 ms)."""
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for name in ("rewardscope", "numpy", "scipy", "scikit-image", "scikit-learn", "optuna", "torch", "pandas"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return out


@dataclass
class Result:
    """Tables, arrays and a summary produced by one analysis.

    Attributes
    ----------
    tables : dict of str to pandas.DataFrame
        Saved as ``<name>.csv`` (``<name>.parquet`` with ``table_format="parquet"``).
    arrays : dict of str to numpy.ndarray
        Saved as ``<name>.tif`` with the pixel size.
    summary : dict
        Saved as ``summary.json`` together with versions and the command line.
    image : numpy.ndarray, optional
        The analysed image, kept for figures; not saved.
    pixel_size : Length, optional
        Calibration of ``image``.

    Examples
    --------
    >>> r = Result(tables={"atoms": pd.DataFrame({"x": [1.0], "y": [2.0]})}, summary={"n_atoms": 1})
    >>> r["atoms"].shape
    (1, 2)
    """

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    image: np.ndarray | None = None
    pixel_size: Length | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name]

    def save(self, folder: str | Path, *, table_format: str = "csv") -> Path:
        """Write tables, arrays and ``summary.json`` into ``folder`` (created if needed)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, table in self.tables.items():
            write_table(folder / f"{name}.{table_format}", table)
        for name, arr in self.arrays.items():
            write_tiff(folder / f"{name}.tif", arr, pixel_size=self.pixel_size)
        summary = dict(self.summary)
        summary.setdefault("pixel_size", self.pixel_size)
        summary["versions"] = versions()
        summary["command"] = " ".join(sys.argv) if sys.argv else None
        summary["saved_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        write_json(folder / "summary.json", summary)
        return folder

    def to_markers(self, table: str | None = None, *, signal: Any = None, colour_by: str | None = "class",
                   size: float = 10.0) -> dict[str, Any]:
        """A table's points as keyword arguments of HyperSpy's ``hs.plot.markers.Points``.

        HyperSpy places markers in the signal's calibrated axis coordinates, so ``x``, ``y``
        (px, x = column) become ``offset + scale * px`` of the signal's two signal axes when
        ``signal`` is given (read duck-typed; hyperspy is not imported), else ``px *
        pixel size`` in nm (pixels when there is no pixel size).

        Parameters
        ----------
        table : str, optional
            Table with ``x``, ``y`` columns (default: ``atoms``, else ``particles``, else
            the first table that has them).
        signal : HyperSpy-like signal, optional
            The signal the markers go on (its axes' ``scale`` and ``offset``).
        colour_by : str, optional
            Integer column (e.g. ``class``) giving each point a colour of matplotlib's
            ``tab10`` cycle; ignored when the table lacks it.
        size : float
            Marker size (points).

        Returns
        -------
        dict
            ``offsets`` (n, 2) float array of [x, y], ``sizes``, ``color`` (one RGBA row per
            point, or one colour name), so ``hs.plot.markers.Points(**result.to_markers())``.

        Examples
        --------
        >>> r = Result(tables={"atoms": pd.DataFrame({"x": [10.0, 20.0], "y": [5.0, 6.0], "class": [0, 1]})},
        ...            pixel_size=Length(0.35, "A"))
        >>> m = r.to_markers()
        >>> m["offsets"].round(3).tolist(), m["color"].shape
        ([[0.35, 0.175], [0.7, 0.21]], (2, 4))
        """
        name = table or next((n for n in ("atoms", "particles") if n in self.tables), None) or next(
            (n for n, t in self.tables.items() if {"x", "y"} <= set(t.columns)), None)
        if name is None or name not in self.tables or not {"x", "y"} <= set(self.tables[name].columns):
            from rewardscope.errors import ParameterError

            raise ParameterError(f"no table {name or ''} with x, y columns to make markers from; "
                                 f"tables: {', '.join(self.tables) or 'none'}")
        points = self.tables[name]
        xy = points[["x", "y"]].to_numpy(float)
        if signal is not None:
            axes = list(getattr(signal.axes_manager, "signal_axes", []))[:2]
            scale = np.array([float(getattr(a, "scale", 1.0)) for a in axes])
            offset = np.array([float(getattr(a, "offset", 0.0)) for a in axes])
            offsets = offset + scale * xy
        else:
            offsets = xy * (self.pixel_size.nm if self.pixel_size is not None else 1.0)
        color: Any = "red"
        if colour_by and colour_by in points.columns and len(points):
            from matplotlib import colormaps

            codes = pd.to_numeric(points[colour_by], errors="coerce").fillna(-1).astype(int).to_numpy()
            color = np.array(colormaps["tab10"](np.mod(codes, 10)))
            color[codes < 0] = (0.5, 0.5, 0.5, 1.0)
        return {"offsets": offsets, "sizes": float(size), "color": color}

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(json.dumps(v, default=str)[:120])}</td></tr>"
            for k, v in self.summary.items() if not isinstance(v, (dict, list))
        )
        tables = "".join(
            f"<p><b>{html.escape(n)}</b> ({len(t)} rows)</p>{t.head(5).to_html(float_format='%.4g')}"
            for n, t in self.tables.items()
        )
        return f"<div><b>{type(self).__name__}</b><table>{rows}</table>{tables}</div>"

    def __repr__(self) -> str:
        tabs = ", ".join(f"{n}: {len(t)} rows" for n, t in self.tables.items())
        return f"{type(self).__name__}({tabs})"

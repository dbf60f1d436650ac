"""Markdown pipe tables for benchmark reports (pandas' ``to_markdown`` needs tabulate, which we do not depend on)."""

from __future__ import annotations

import pandas as pd


def _cell(value: object, digits: int, fixed: bool) -> str:
    if isinstance(value, float):
        if value != value:  # NaN
            return "nan"
        if value.is_integer() and abs(value) < 1e6:
            return str(int(value))
        return f"{value:.{digits}f}" if fixed else f"{value:.{digits}g}"
    return str(value)


def markdown_table(table: pd.DataFrame, *, digits: int = 4, fixed: bool = False) -> str:
    """Format a DataFrame as a GitHub pipe table.

    Parameters
    ----------
    table : pandas.DataFrame
    digits : int
        Significant digits of floats (decimals with ``fixed=True``); integral floats print as integers.
    fixed : bool
        Fixed-point instead of significant digits.

    Returns
    -------
    str

    Examples
    --------
    >>> print(markdown_table(pd.DataFrame({"a": [1.0, 0.123456], "b": ["x", "y"]}), digits=3))
    | a | b |
    |---|---|
    | 1 | x |
    | 0.123 | y |
    """
    head = "| " + " | ".join(map(str, table.columns)) + " |\n|" + "---|" * len(table.columns)
    rows = ("| " + " | ".join(_cell(v, digits, fixed) for v in row) + " |" for row in table.itertuples(index=False))
    return head + "".join("\n" + r for r in rows)

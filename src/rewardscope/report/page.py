"""The report page: one self-contained ``index.html`` per output folder.

:func:`build_page` reads what a command wrote into its ``--out`` folder (``summary.json``,
the PNG/GIF figures, the CSV/Parquet tables, sub-folders such as the demo's steps) and
writes ``index.html`` with, per folder: what was run (command, workflow, input,
parameters, library versions), the chosen point of the study with the Pareto front
(``pareto.csv``, the chosen row marked), every figure embedded as a base64 data URI, and
the first rows of every table. The page has no script and loads nothing from outside,
so it opens from disk in any browser without a server.

Written with the standard library (``html.escape`` + string formatting) and pandas'
``to_html``: the page is one fixed layout, so a template engine (Jinja2) would add a
dependency for nothing. The CLI writes the page into every output folder
(:func:`rewardscope.cli.common.write_outputs`) and ``rewardscope report DIR`` rebuilds it
(:func:`rebuild_page`).
"""

from __future__ import annotations

import base64
import html
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rewardscope.errors import InputError
from rewardscope.io.output import MANIFEST, add_to_manifest, read_manifest

if TYPE_CHECKING:  # pandas loads when a page is built, not when the CLI starts
    import pandas as pd

#: File name of the page.
PAGE = "index.html"
#: Rows of each table shown on the page.
TABLE_ROWS = 10
#: Rows of the Pareto front shown (it is usually short).
PARETO_ROWS = 50
#: Figure types embedded, with their MIME types.
FIGURE_TYPES = {".png": "image/png", ".gif": "image/gif", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
#: Table types shown.
TABLE_TYPES = (".csv", ".parquet")

_CSS = """
body{font-family:system-ui,-apple-system,'DejaVu Sans',sans-serif;margin:1.5em auto;max-width:1200px;
padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.6em;border-bottom:2px solid #345;padding-bottom:.2em}
h2{font-size:1.3em;margin-top:1.6em;border-bottom:1px solid #ccc}
h3{font-size:1.05em;margin-top:1.2em}
table{border-collapse:collapse;font-size:.85em;margin:.4em 0}
th,td{border:1px solid #ccc;padding:2px 6px;text-align:right}
th{background:#eef2f6}
td.k{text-align:left;font-weight:600;background:#f7f7f7}
td.v{text-align:left}
tr.chosen td{background:#ffe9a8;font-weight:600}
figure{display:inline-block;margin:.5em 1em .5em 0;vertical-align:top}
figure img{max-width:min(100%,560px);border:1px solid #ddd}
figcaption{font-size:.85em;color:#555}
.scroll{overflow-x:auto}
code{background:#f3f3f3;padding:0 .2em}
.note{color:#666;font-size:.85em}
.row{display:flex;flex-wrap:wrap;gap:1.5em;align-items:flex-start}
.row p{margin:.2em 0}
summary{cursor:pointer;margin-top:1em}
"""


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _plain(value: Any) -> str:
    """A summary value as short text (dicts and lists as compact JSON)."""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return str(value)


def _key_values(rows: dict[str, Any]) -> str:
    """A two-column table of ``key: value`` rows (None values left out)."""
    body = "".join(f"<tr><td class='k'>{_esc(k)}</td><td class='v'>{_esc(_plain(v))}</td></tr>"
                   for k, v in rows.items() if v is not None)
    return f"<table>{body}</table>" if body else ""


def _read_summary(folder: Path) -> dict[str, Any]:
    path = folder / "summary.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _read_table(path: Path, rows: int) -> tuple[pd.DataFrame, int]:
    """The first ``rows`` rows of a table file and its total row count."""
    import pandas as pd

    if path.suffix == ".parquet":
        table = pd.read_parquet(path)
        return table.head(rows), len(table)
    with path.open("rb") as fh:
        total = max(sum(1 for _ in fh) - 1, 0)
    return pd.read_csv(path, nrows=rows), total


def _table_html(table: pd.DataFrame, *, chosen: pd.Series | None = None) -> str:
    text = table.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="", border=0)
    if chosen is not None and "<tbody>" in text:  # mark the chosen row(s) of the body
        head, body = text.split("<tbody>", 1)
        rows = body.split("<tr>")
        rows = [rows[0]] + [("<tr class='chosen'>" if i < len(chosen) and bool(chosen.iloc[i]) else "<tr>") + r
                            for i, r in enumerate(rows[1:])]
        text = head + "<tbody>" + "".join(rows)
    return f"<div class='scroll'>{text}</div>"


def _run_section(summary: dict[str, Any]) -> str:
    """What was run: command, workflow, input, parameters (the config), versions."""
    if not summary:
        return ""
    run = {k: summary.get(k) for k in ("command", "workflow", "method", "input", "lattice", "image_shape",
                                        "pixel_size_angstrom", "saved_at")}
    if summary.get("pixel_size_angstrom") is None and summary.get("pixel_size") is not None:
        run["pixel_size"] = summary["pixel_size"]
    parts = ["<h3>What was run</h3>", _key_values(run)]
    if summary.get("warnings"):
        parts += ["<h3>Warnings</h3>", "<ul>" + "".join(f"<li>{_esc(w)}</li>" for w in summary["warnings"]) + "</ul>"]
    return "".join(parts)


def _details_section(summary: dict[str, Any]) -> str:
    """Every parameter (the config) and the library versions, folded (``<details>``, no script)."""
    parts = []
    if isinstance(summary.get("config"), dict):
        parts.append(f"<details open><summary><b>Parameters</b></summary>{_key_values(summary['config'])}</details>")
    if isinstance(summary.get("versions"), dict):
        parts.append(f"<details open><summary><b>Versions</b></summary>{_key_values(summary['versions'])}</details>")
    return "".join(parts)


def _choice_section(folder: Path, summary: dict[str, Any]) -> str:
    """The chosen point (parameters and reward values) and the Pareto front table."""
    parts: list[str] = []
    if "best_params" in summary or "best_values" in summary:
        study = summary.get("study") if isinstance(summary.get("study"), dict) else {}
        facts = {"selection": study.get("selection"), "sampler": study.get("sampler"),
                 "trials": summary.get("n_trials"), "points on the Pareto front": summary.get("n_pareto"),
                 "hypervolume": summary.get("hypervolume"), "hypervolume reference": summary.get("hypervolume_reference")}
        boxes = [("study", facts), ("parameters", summary.get("best_params") or {}),
                 ("reward values (all minimised)", summary.get("best_values") or {})]
        parts += ["<h3>Chosen point</h3><div class='row'>"
                  + "".join(f"<div><p>{_esc(name)}</p>{_key_values(rows)}</div>" for name, rows in boxes if rows)
                  + "</div>"]
    pareto = folder / "pareto.csv"
    if pareto.is_file():
        table, total = _read_table(pareto, PARETO_ROWS)
        chosen = table["selected"].astype(str).str.lower().eq("true") if "selected" in table else None
        more = f" (first {len(table)} of {total})" if total > len(table) else ""
        parts += [f"<h3>Pareto front{more}</h3><p class='note'>the chosen point is highlighted</p>",
                  _table_html(table, chosen=chosen)]
    return "".join(parts)


def _figures_section(folder: Path) -> str:
    figures = sorted(p for p in folder.iterdir() if p.suffix.lower() in FIGURE_TYPES and p.is_file())
    if not figures:
        return ""
    items = []
    for path in figures:
        data = base64.b64encode(path.read_bytes()).decode("ascii")
        items.append(f"<figure><img alt='{_esc(path.name)}' src='data:{FIGURE_TYPES[path.suffix.lower()]};base64,"
                     f"{data}'><figcaption>{_esc(path.name)}</figcaption></figure>")
    return "<h3>Figures</h3>" + "".join(items)


def _tables_section(folder: Path, rows: int) -> str:
    tables = sorted(p for p in folder.iterdir() if p.suffix in TABLE_TYPES and p.is_file() and p.name != "pareto.csv")
    parts = []
    for path in tables:
        table, total = _read_table(path, rows)
        parts.append(f"<h3>{_esc(path.name)} <span class='note'>({total} rows; first {len(table)} shown)</span></h3>"
                     + _table_html(table))
    return "<h3>Tables</h3>" + "".join(parts) if parts else ""


def _folder_section(folder: Path, heading: str | None, rows: int) -> str:
    summary = _read_summary(folder)
    body = (_run_section(summary) + _choice_section(folder, summary) + _figures_section(folder)
            + _tables_section(folder, rows) + _details_section(summary))
    if not body:
        return ""
    return (f"<section><h2>{_esc(heading)}</h2>" if heading else "<section>") + body + "</section>"


def page_html(folder: str | Path, *, title: str | None = None, table_rows: int = TABLE_ROWS) -> str:
    """The report page of an output folder as HTML text (see :func:`build_page`)."""
    folder = Path(folder)
    sections = [_folder_section(folder, None, table_rows)]
    subfolders = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    sections += [_folder_section(sub, sub.name, table_rows) for sub in subfolders]
    names = ", ".join(sub.name for sub in subfolders if _read_summary(sub) or any(sub.glob("*.png")))
    contents = f"<p>Sections: {_esc(names)}</p>" if names else ""
    title = title or f"rewardscope: {folder.name}"
    return ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>"
            f"<h1>{_esc(title)}</h1>{contents}{''.join(s for s in sections if s)}"
            "<p class='note'>Written by rewardscope; figures are embedded, the page needs no server.</p>"
            "</body></html>\n")


def build_page(folder: str | Path, *, title: str | None = None, table_rows: int = TABLE_ROWS) -> Path:
    """Write ``index.html`` into an output folder: what was run, the choice, figures, tables.

    Parameters
    ----------
    folder : str or Path
        An output folder (``summary.json``, figures, tables; sub-folders get their own sections).
    title : str, optional
        Page title (default ``rewardscope: <folder name>``).
    table_rows : int
        First rows shown of each table.

    Returns
    -------
    Path
        The page.

    Examples
    --------
    >>> import tempfile
    >>> import pandas as pd
    >>> folder = Path(tempfile.mkdtemp())
    >>> pd.DataFrame({"x": [1.5], "y": [2.0]}).to_csv(folder / "atoms.csv", index=False)
    >>> page = build_page(folder)
    >>> page.name, "atoms.csv" in page.read_text()
    ('index.html', True)
    """
    folder = Path(folder)
    path = folder / PAGE
    tmp = folder / f".{PAGE}.partial-{os.getpid()}"
    try:
        tmp.write_text(page_html(folder, title=title, table_rows=table_rows), encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def rebuild_page(folder: str | Path, *, table_rows: int = TABLE_ROWS) -> Path:
    """Rebuild ``index.html`` in a folder rewardscope wrote; the manifest then lists the page.

    Parameters
    ----------
    folder : str or Path
        A folder carrying rewardscope's manifest (``.rewardscope.json``).
    table_rows : int
        First rows shown of each table.

    Returns
    -------
    Path
        The page.

    Raises
    ------
    InputError
        The folder does not exist, carries no manifest, or holds an ``index.html`` that
        rewardscope did not write (it is never overwritten).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder} is not a folder")
    manifest = read_manifest(folder)
    if manifest is None:
        raise InputError(f"{folder} was not written by rewardscope (no {MANIFEST}); no report page written")
    page = folder / PAGE
    if (page.exists() or page.is_symlink()) and PAGE not in manifest["files"]:
        raise InputError(f"{page} was not written by rewardscope; it is left as it is")
    if page.is_symlink():
        raise InputError(f"{page} is a link; it is left as it is")
    if table_rows < 1:
        raise InputError(f"--table-rows must be at least 1, got {table_rows}")
    path = build_page(folder, table_rows=table_rows)
    add_to_manifest(folder, [PAGE])
    return path


__all__ = ["PAGE", "build_page", "page_html", "rebuild_page"]

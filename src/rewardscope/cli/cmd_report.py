"""``rewardscope report DIR``: rebuild the report page ``index.html`` of an output folder.

Every command writes the page into its ``--out`` folder; this rebuilds it (after a new
version of rewardscope, or after figures were redrawn) from what the folder holds. Only
folders that rewardscope wrote are touched, and an ``index.html`` it did not write is
never overwritten.
"""

from __future__ import annotations

from pathlib import Path

import typer

from rewardscope.cli.common import console, guard
from rewardscope.report.page import TABLE_ROWS


@guard
def report(
    folder: Path = typer.Argument(..., help="An output folder written by rewardscope (it carries .rewardscope.json)."),
    table_rows: int = typer.Option(TABLE_ROWS, "--table-rows", help="First rows shown of each table."),
) -> None:
    """Rebuild FOLDER/index.html: what was run, the chosen point and Pareto front, figures, first rows of each table."""
    from rewardscope.report.page import rebuild_page

    page = rebuild_page(folder, table_rows=table_rows)
    console.print(f"[green]wrote[/green] {page}")


def register(app: typer.Typer) -> None:
    """Attach ``report``."""
    app.command("report")(report)

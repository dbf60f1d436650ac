"""``rewardscope demo``: the main job on built-in sample data, end to end.

Each step simulates its own input with exact truth (nothing is downloaded), runs the
analysis through the same API the commands use, and scores it against the truth.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from rewardscope.cli.common import console, guard, write_outputs

DemoStep = Callable[[Path], str]


def _simulate_step(folder: Path) -> str:
    from rewardscope.cli.cmd_simulate import save_haadf
    from rewardscope.simulate import simulate_haadf

    sim = simulate_haadf("ybco-100", size=256, pixel_size="0.35A", noise=0.2, amorphous_fraction=0.15, seed=0)
    target = folder / "01_haadf_simulated"
    target.mkdir()
    save_haadf(sim, target)
    return f"simulated YBCO [100] HAADF image, {len(sim.truth)} true columns -> {target.name}/"


STEPS: list[DemoStep] = [_simulate_step]


@guard
def demo(out: Path = typer.Option(Path("demo-output"), "--out", help="Folder for all demo outputs.")) -> None:
    """Run every workflow on built-in simulated data and write the results to OUT."""

    def run_all(tmp: Path) -> None:
        for step in STEPS:
            console.print(f"[bold]demo[/bold] {step(tmp)}")

    write_outputs(out, run_all)
    console.print(f"[bold green]demo finished[/bold green]: outputs in {out.resolve()}")


def register(app: typer.Typer) -> None:
    """Attach ``demo``."""
    app.command("demo")(demo)

"""``rewardscope bench ...``: LoG* versus the DCNN (noise robustness, speed)."""

from __future__ import annotations

from pathlib import Path

import typer

from rewardscope.bench import NoiseBenchConfig, SpeedBenchConfig
from rewardscope.cli.common import console, guard, overwrite_option, progress_bar, write_outputs
from rewardscope.cli.feedback import print_warnings, progress_option
from rewardscope.cli.options import option
from rewardscope.io.output import check_output_path

bench_app = typer.Typer(no_args_is_help=True, help="Benchmarks of LoG* against the DCNN on simulated images.")


def _markdown(tables: dict, title: str, note: str) -> str:
    """Title, note and one pipe table per entry of ``tables``."""
    from rewardscope.report.tables import markdown_table

    parts = [f"# {title}", "", note, ""]
    for name, df in tables.items():
        parts += [f"## {name}", "", markdown_table(df), ""]
    return "\n".join(parts)


@bench_app.command("noise")
@guard
def noise(
    out: Path = typer.Option(..., "--out", help="Output folder: per_image.csv, per_level.csv, pareto_*.csv, noise.md, noise.png, summary.json."),
    overwrite: bool = overwrite_option(),
    images: int = option(NoiseBenchConfig, "images"),
    logstar_images: int = option(NoiseBenchConfig, "logstar_images", "--logstar-images"),
    trials: int = option(NoiseBenchConfig, "trials"),
    ensemble: int = option(NoiseBenchConfig, "ensemble"),
    pixel_size: str = option(NoiseBenchConfig, "pixel_size"),
    lattice: str = option(NoiseBenchConfig, "lattice"),
    seed: int = option(NoiseBenchConfig, "seed"),
    progress: bool = progress_option(),
) -> None:
    """Atoms found and F1 of LoG* and the DCNN on simulated images, noise 0 to 1.0."""
    check_output_path(out, overwrite=overwrite)
    from rewardscope.bench import bench_noise
    from rewardscope.report.bench import plot_noise

    with print_warnings(), progress_bar(progress) as report:
        res = bench_noise(images=images, logstar_images=logstar_images, trials=trials, ensemble=ensemble,
                          pixel_size=pixel_size, lattice=lattice, seed=seed, progress=report)
    cols = ["method", "noise", "n_images", "n_true", "n_found", "n_found_std", "f1", "f1_std", "precision",
            "recall", "rmse_px"]
    level = res.tables["per_level"]
    params = level[level["method"] == "log-star"]
    note = (f"Command: `rewardscope bench noise --out {out}`. {res.summary['scoring']}; "
            f"{images} {lattice} images ({NoiseBenchConfig().size} px, {pixel_size}) per level, DCNN on all, "
            f"LoG* ({trials} trials) on the first {logstar_images}.")
    tables = {"F1 and counts per level": level[[c for c in cols if c in level]]}
    if len(params):
        tables["LoG* chosen parameters (mean over its images)"] = params[
            ["noise", "min_sigma", "max_sigma", "num_sigma", "threshold", "overlap", "qc", "er", "f1_vs_oracle"]]

    def write(tmp: Path) -> None:
        res.save(tmp)
        plot_noise(level, res.extras["studies"], path=tmp / "noise.png")
        (tmp / "noise.md").write_text(_markdown(tables, "Noise robustness: LoG* vs DCNN", note))

    write_outputs(out, write, overwrite=overwrite)
    for row in level.itertuples():
        console.print(f"noise {row.noise:.1f}: {row.method} F1 {row.f1:.4f}")


@bench_app.command("speed")
@guard
def speed(
    out: Path = typer.Option(..., "--out", help="Output folder: per_image.csv, per_method.csv, speed.md, speed.png, summary.json."),
    overwrite: bool = overwrite_option(),
    images: int = option(SpeedBenchConfig, "images"),
    trials: int = option(SpeedBenchConfig, "trials"),
    warm_trials: int = option(SpeedBenchConfig, "warm_trials", "--warm-trials"),
    threads: list[int] = typer.Option([1, 2], "--threads", help="torch CPU thread counts the DCNN is timed with (repeat the option)."),
    seed: int = option(SpeedBenchConfig, "seed"),
    progress: bool = progress_option(),
) -> None:
    """Seconds per 256 x 256 image: LoG*, warm-started LoG*, plain LoG, DCNN (CPU, GPU)."""
    check_output_path(out, overwrite=overwrite)
    from rewardscope.bench import bench_speed
    from rewardscope.report.bench import plot_speed

    with print_warnings(), progress_bar(progress) as report:
        res = bench_speed(images=images, trials=trials, warm_trials=warm_trials, threads=tuple(threads), seed=seed,
                          progress=report)
    note = (f"Command: `rewardscope bench speed --out {out}`. Load average during the run: "
            f"{res.summary['load_average']} on a machine with 2 cores shared with other jobs; compare ratios. "
            f"GPU: {res.summary['gpu']}.")

    def write(tmp: Path) -> None:
        res.save(tmp)
        plot_speed(res.tables["per_method"], path=tmp / "speed.png")
        (tmp / "speed.md").write_text(_markdown({"per method": res.tables["per_method"]}, "Speed per image", note))

    write_outputs(out, write, overwrite=overwrite)
    for row in res.tables["per_method"].itertuples():
        console.print(f"{row.method}: {row.seconds_per_image:.4g} s/image" if row.available
                      else f"{row.method}: not available")


def register(app: typer.Typer) -> None:
    """Attach the ``bench`` command group to the main app."""
    app.add_typer(bench_app, name="bench")

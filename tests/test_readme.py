"""The README runs as written: every ```python block executes, every `rewardscope` command parses."""

import re
import shlex
import time
from pathlib import Path

import pytest
import typer

from rewardscope.cli.main import app

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README.read_text(encoding="utf-8"), flags=re.M | re.S)


def _words(line: str) -> list[str]:
    """Shell words of one line, with ``|``, ``&&``, ``;`` as words of their own and comments dropped."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    return list(lexer)


def _commands() -> list[list[str]]:
    """Every ``rewardscope ...`` line of the README's bash blocks (continuations joined), as shell words."""
    commands = []
    for block in _blocks("bash"):
        for line in block.replace("\\\n", " ").splitlines():
            words = _words(line)
            if words[:1] == ["rewardscope"]:
                commands.append(words)
    return commands


def _parse(args: list[str]) -> str:
    """Parse ``args`` as the CLI would (options, types, choices), without running the command."""
    command = typer.main.get_command(app)
    ctx = command.make_context("rewardscope", list(args))
    names = []
    while hasattr(command, "resolve_command"):
        pending = [*getattr(ctx, "_protected_args", getattr(ctx, "protected_args", [])), *ctx.args]
        name, command, rest = command.resolve_command(ctx, pending)
        ctx = command.make_context(name, rest, parent=ctx)
        names.append(name)
    return " ".join(names)


def test_readme_has_the_blocks_we_run():
    assert len(_blocks("python")) >= 2
    assert len(_commands()) >= 15


def _check_api_block(ns: dict) -> None:
    """The first block's results, against what its comments promise."""
    assert ns["img"].pixel_size.angstrom == pytest.approx(0.35)
    assert ns["sto"].n_visible_per_cell == 2
    expected = ns["ybco"].expected_count(shape=ns["img"].data.shape, pixel_size=ns["img"].pixel_size)
    assert abs(len(ns["atoms"].atoms) - expected) / expected < 0.1
    assert set(ns["drift"].shifts.columns) >= {"frame", "dx", "dy", "jump"}
    assert ns["particles"].labels.shape == (512, 512) and len(ns["particles"].particles) > 5


def _check_workflow_block(ns: dict) -> None:
    from pathlib import Path

    import pandas as pd

    result = ns["result"]
    assert 0.15 < result.arrays["output"].mean() < 0.35  # the threshold found keeps ~25 % of the pixels
    assert abs(result.summary["best_params"]["t"] - 0.75) < 0.1  # uniform pixels: t = 0.75 keeps 25 %
    assert result.summary["objectives"] == ["too_many", "too_few"]
    saved = Path("threshold-run")
    assert {"trials.csv", "pareto.csv", "output.tif", "summary.json"} <= {p.name for p in saved.iterdir()}
    assert len(pd.read_csv(saved / "trials.csv")) == 40


CHECKS = {0: _check_api_block, 1: _check_workflow_block}


@pytest.mark.parametrize("index", range(len(_blocks("python"))))
def test_python_block_runs_as_written(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ns: dict = {"__name__": "__readme__"}
    started = time.perf_counter()
    exec(compile(_blocks("python")[index], f"README.md python block {index}", "exec"), ns)
    assert time.perf_counter() - started < 45, "README examples must stay quick (small trial counts)"
    CHECKS.get(index, lambda ns: None)(ns)


@pytest.mark.parametrize("words", _commands(), ids=lambda a: " ".join(a[1:])[:60])
def test_readme_command_is_one_valid_command(words):
    assert not {"|", "||", "&", "&&", ";"} & set(words), "one command per line (alternatives go in a comment)"
    assert _parse(words[1:])


def test_parse_rejects_what_the_old_readme_had():
    with pytest.raises(Exception):
        _parse(["atoms", "a.tif", "--zone", "0", "0", "--out", "o"])
    with pytest.raises(Exception):
        _parse(["drift", "m.tif", "--out", "o", "--no-such-flag"])


def test_shipped_cif_by_name_works_on_the_command_line(tmp_path, monkeypatch):
    """The README's ``--cif SrTiO3.cif``: the CIF shipped with rewardscope, found by name."""
    from typer.testing import CliRunner

    from rewardscope import datasets

    monkeypatch.chdir(tmp_path)
    image = datasets.haadf_sample(tmp_path / "img.tif", lattice="srtio3-001", pixel_size="0.3A", size=48)
    res = CliRunner().invoke(app, ["atoms", str(image), "--cif", "SrTiO3.cif", "--zone", "0", "0", "1",
                                   "--trials", "3", "--no-progress", "--out", "atoms"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "atoms" / "atoms.csv").is_file()

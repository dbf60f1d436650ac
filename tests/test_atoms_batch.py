"""Many images in one process: find_atoms_batch and ``rewardscope atoms FILES... --out DIR``."""

from __future__ import annotations

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from rewardscope.cli.main import app
from rewardscope.metrics import score_atoms
from rewardscope.simulate import simulate_haadf
from rewardscope.workflows.atoms import find_atoms_batch

SIMS = [simulate_haadf("srtio3-001", size=96, noise=0.05, seed=s) for s in (0, 1, 2)]


def test_batch_warm_starts_each_image_from_the_previous_one():
    runs = list(find_atoms_batch([s.image for s in SIMS], lattice="srtio3-001", pixel_size="0.35A", trials=30,
                                 warm_trials=6, lattice_prior=False))
    assert [len(r.trials) for r in runs] == [30, 6, 6]
    assert [r.summary["warm_started"] for r in runs] == [False, True, True]
    first = runs[0].pareto.iloc[0]
    assert runs[1].trials.iloc[0]["threshold"] == first["threshold"]  # the previous Pareto set is tried first
    for res, sim in zip(runs, SIMS, strict=True):
        assert score_atoms(res.atoms, sim, margin_nn=1.0).f1 >= 0.98


def test_the_chain_finishing_in_a_second_thread_equals_one_image_after_the_other():
    """Image k finishes (lattice prior) while image k + 1's study runs: the results of a plain loop of find_atoms."""
    from rewardscope.workflows.atoms import find_atoms

    kw = dict(lattice="srtio3-001", pixel_size="0.35A", trials=20, seed=4)
    runs = list(find_atoms_batch([s.image for s in SIMS], warm_trials=8, **kw))
    previous = None
    for res, sim in zip(runs, SIMS, strict=True):
        ref = find_atoms(sim.image, warm_start=previous, **{**kw, "trials": 20 if previous is None else 8})
        pd.testing.assert_frame_equal(res.atoms, ref.atoms)
        pd.testing.assert_frame_equal(res.trials.drop(columns="seconds"), ref.trials.drop(columns="seconds"))
        assert res.summary["lattice_prior"] == ref.summary["lattice_prior"]
        previous = ref


def test_cli_batch_writes_one_folder_per_file_and_a_summary(tmp_path):
    paths = []
    for i, sim in enumerate(SIMS[:2]):
        paths.append(tmp_path / f"frame{i}.npy")
        np.save(paths[-1], sim.image)
    out = tmp_path / "out"
    args = ["atoms", *map(str, paths), "--lattice", "srtio3-001", "--pixel-size", "0.35A", "--trials", "12",
            "--warm-trials", "4", "--no-progress", "--out", str(out)]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    table = pd.read_csv(out / "summary.csv")
    assert table["folder"].tolist() == ["frame0", "frame1"] and table["trials"].tolist() == [12, 4]
    assert table["warm_started"].tolist() == [False, True]
    for name in ("frame0", "frame1"):  # tables and summary always; no figures by default in batch form
        files = {p.name for p in (out / name).iterdir()}
        assert {"atoms.csv", "trials.csv", "pareto.csv", "summary.json"} <= files and not files & {"overlay.png", "pareto.png"}
        assert len(pd.read_csv(out / name / "atoms.csv")) == table.set_index("folder").loc[name, "n_atoms"]
    drawn = CliRunner().invoke(app, [*args[:-1], str(tmp_path / "drawn"), "--figures"])
    assert drawn.exit_code == 0, drawn.output
    for name in ("frame0", "frame1"):
        assert {"overlay.png", "pareto.png"} <= {p.name for p in (tmp_path / "drawn" / name).iterdir()}
    assert pd.read_csv(tmp_path / "drawn" / "summary.csv")["n_atoms"].tolist() == table["n_atoms"].tolist()
    bad = CliRunner().invoke(app, [*args[:-1], str(tmp_path / "other"), "--window", "64px"])
    assert bad.exit_code == 2 and "takes one IMAGE" in bad.output
    assert not (tmp_path / "other").exists()


def test_batch_as_dask_tasks_same_on_a_real_cluster_as_serial(tmp_path):
    """With a scheduler every image after the first starts from the FIRST one's Pareto set: serial == cluster."""
    from distributed import Client

    from rewardscope.parallel import local_cluster

    kw = dict(lattice="srtio3-001", pixel_size="0.35A", trials=20, warm_trials=6, lattice_prior=False)
    serial = list(find_atoms_batch([s.image for s in SIMS], scheduler="serial", **kw))
    assert [r.summary["warm_started"] for r in serial] == [False, True, True]
    first = serial[0].pareto.iloc[0]
    for later in serial[1:]:
        assert later.trials.iloc[0]["threshold"] == first["threshold"]  # the first image's set, not the previous
    with local_cluster(2) as cluster, Client(cluster) as client:
        remote = list(find_atoms_batch([s.image for s in SIMS], scheduler=client, **kw))
    for a, b, sim in zip(serial, remote, SIMS, strict=True):
        pd.testing.assert_frame_equal(a.atoms, b.atoms)
        assert score_atoms(b.atoms, sim, margin_nn=1.0).f1 >= 0.98
    paths = []
    for i, sim in enumerate(SIMS):
        paths.append(tmp_path / f"f{i}.npy")
        np.save(paths[-1], sim.image)
    args = ["atoms", *map(str, paths), "--lattice", "srtio3-001", "--pixel-size", "0.35A", "--trials", "20",
            "--warm-trials", "6", "--no-lattice-prior", "--no-progress", "--scheduler", "serial", "--out",
            str(tmp_path / "out")]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert len(pd.read_csv(tmp_path / "out" / "f2" / "atoms.csv")) == len(serial[2].atoms)
    bad = CliRunner().invoke(app, [*args[:-1], str(tmp_path / "bad"), "--scheduler", "tcp://127.0.0.1:9"])
    assert bad.exit_code == 2 and "scheduler" in bad.output and not (tmp_path / "bad").exists()

"""Tests of the DCNN atom finder: shipped weights, peak extraction, tiling, training, CLI."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from rewardscope.cli.main import app
from rewardscope.config import make_config
from rewardscope.detect.dcnn import (CANONICAL_PIXEL_SIZE_ANGSTROM, AtomModel, AtomUNet, TrainConfig, find_atoms_dcnn,
                                     load_model, n_parameters, peak_positions, probability_map, save_model,
                                     train_atom_unet)
from rewardscope.detect.dcnn.inference import _tiles
from rewardscope.detect.dcnn.training import heatmap_loss, make_pool, noisy_batch
from rewardscope.metrics import score_atoms
from rewardscope.errors import FileFormatError, ParameterError
from rewardscope.io import read_image
from rewardscope.physics import get_lattice
from rewardscope.simulate import simulate_haadf

TINY = dict(steps=25, pool=6, batch_size=4, crop=32, channels=(4, 8), lr=1e-2)


def _f1(found, sim) -> float:
    return score_atoms(found.atoms, sim).f1


def test_shipped_weights_load_offline_and_are_small():
    from importlib import resources

    model = load_model()
    with resources.as_file(resources.files("rewardscope").joinpath("models", "atoms_dcnn.pt")) as path:
        assert path.is_file() and 0.5e6 < path.stat().st_size < 2e6  # 0.63 MB (models/README.md)
    assert isinstance(model.net, AtomUNet) and not model.net.training
    assert n_parameters(model.net) == 152_388  # models/README.md
    assert model.net.channels == (16, 32, 48, 64) and model.net.in_channels == 2
    assert model.pixel_size_angstrom == CANONICAL_PIXEL_SIZE_ANGSTROM == 0.4
    assert model.meta["config"] == TrainConfig().model_dump()  # shipped = the default recipe (reproducible)


def test_shipped_model_finds_srtio3_columns():
    sim = simulate_haadf("srtio3-001", size=96, noise=0.1, pixel_size="0.35A", rotation_deg=17.0, seed=4242)
    found = find_atoms_dcnn(sim.image, pixel_size=sim.pixel_size)
    assert _f1(found, sim) >= 0.97
    assert found.probability.shape == sim.image.shape


def test_batch_equals_single_and_ensemble_has_uncertainty():
    sims = [simulate_haadf("ybco-100", size=64, noise=0.2, seed=s) for s in (7, 8)]
    batch = find_atoms_dcnn([s.image for s in sims], pixel_size="0.35A")
    single = find_atoms_dcnn(sims[1].image, pixel_size="0.35A")
    np.testing.assert_allclose(batch[1].atoms[["x", "y"]], single.atoms[["x", "y"]], atol=1e-4)
    ens = find_atoms_dcnn(sims[0].image, pixel_size="0.35A", ensemble=4)
    assert {"uncertainty_px", "support"} <= set(ens.atoms.columns)
    assert ens.atoms["support"].between(0, 1).all() and (ens.atoms["uncertainty_px"] >= 0).all()
    assert ens.atoms["uncertainty_px"].median() < 0.5


@pytest.mark.parametrize("seed", [0, 1])
def test_peak_positions_exact_to_a_tenth_of_a_pixel(seed):
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(np.arange(6, 60, 8.0), np.arange(6, 60, 8.0)), -1).reshape(-1, 2)
    true = grid + rng.uniform(-0.5, 0.5, grid.shape)
    yy, xx = np.mgrid[:64, :64]
    m = sum(np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 1.0 ** 2)) for x, y in true)
    found = peak_positions(m, threshold=0.5)
    assert len(found) == len(true)
    d = np.linalg.norm(found[["x", "y"]].to_numpy()[:, None] - true[None], axis=2).min(1)
    assert d.max() < 0.1


def test_peak_positions_threshold_and_empty_map():
    assert len(peak_positions(np.zeros((16, 16)))) == 0
    m = np.zeros((16, 16))
    m[5, 5], m[10, 10] = 0.9, 0.3
    assert peak_positions(m, threshold=0.5)[["x", "y"]].values.tolist() == [[5.0, 5.0]]


def test_tiles_cover_every_pixel_once():
    for n, tile, overlap in [(100, 512, 32), (700, 256, 16), (1000, 512, 32)]:
        keep = np.zeros(n, int)
        for start, stop, k0, k1 in _tiles(n, tile, overlap):
            assert 0 <= start <= k0 < k1 <= stop <= n and stop - start <= tile
            keep[k0:k1] += 1
        assert (keep == 1).all()


def test_tiled_inference_matches_whole_image_away_from_seams():
    torch.manual_seed(0)
    model = AtomModel(net=AtomUNet((4, 8)).eval())
    img = np.random.default_rng(0).standard_normal((1, 1, 96, 150)).astype(np.float32)
    whole = probability_map(model, img, tile_px=512)
    tiled = probability_map(model, img, tile_px=64, overlap_px=16)
    assert tiled.shape == whole.shape == (1, 1, 96, 150)
    assert np.abs(tiled - whole).mean() < 0.02


def _fixed_batch_loss(net, cfg) -> float:
    x, y = noisy_batch(make_pool(cfg), np.arange(cfg.pool), np.random.default_rng(99), crop=cfg.crop, noise_max=0.3)
    net.train()  # batch statistics, as during training
    with torch.no_grad():
        return float(heatmap_loss(net(x), y))


def test_tiny_training_reduces_loss_and_is_deterministic(tmp_path):
    cfg = make_config(TrainConfig, seed=3, **TINY)
    torch.manual_seed(3)
    before = _fixed_batch_loss(AtomUNet(cfg.channels, in_channels=cfg.in_channels), cfg)  # the initial weights of the run below
    a = train_atom_unet(cfg)
    b = train_atom_unet(cfg)
    c = train_atom_unet(cfg, seed=4)
    assert a.losses == b.losses and a.losses != c.losses
    for k, v in a.model.net.state_dict().items():
        assert torch.equal(v, b.model.net.state_dict()[k])
    assert _fixed_batch_loss(a.model.net, cfg) < 0.9 * before  # (updates BN statistics: compare first)
    path = save_model(a.model, tmp_path / "m.pt")
    again = load_model(path)
    assert again.meta["config"]["seed"] == 3 and again.net.channels == (4, 8)


def test_training_reports_progress_stages_and_every_loss():
    calls, losses = [], []
    res = train_atom_unet(steps=3, pool=2, batch_size=2, crop=32, channels=(4, 8), progress=lambda *a: calls.append(a),
                          on_loss=lambda step, loss: losses.append((step, loss)))
    assert [c for c in calls if c[1] == 0] == [("simulating training crops", 0, 2), ("training", 0, 3)]
    assert calls[-1] == ("training", 3, 3) and ("simulating training crops", 2, 2) in calls
    assert losses == list(enumerate(res.losses, start=1)) and len(res.losses) == 3


def test_bad_inputs_raise_input_errors(tmp_path):
    img = simulate_haadf("au-001", size=32, seed=0).image
    with pytest.raises(ParameterError):
        find_atoms_dcnn(img, pixel_size="0.35A", ensemble=9)
    with pytest.raises(ParameterError):
        find_atoms_dcnn(img, pixel_size="0.35A", threshold=1.5)
    with pytest.raises(ParameterError):
        find_atoms_dcnn([img, img[:16]], pixel_size="0.35A")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a model")
    with pytest.raises(FileFormatError):
        load_model(bad)


def test_train_cli_writes_weights_and_rejects_bad_suffix(tmp_path):
    runner = CliRunner()
    out = tmp_path / "w.pt"
    ok = runner.invoke(app, ["train", "atoms-dcnn", "--out", str(out), "--steps", "2", "--pool", "2",
                             "--batch-size", "2", "--crop", "32"])
    assert ok.exit_code == 0, ok.output
    assert load_model(out).meta["config"]["steps"] == 2
    bad = runner.invoke(app, ["train", "atoms-dcnn", "--out", str(tmp_path / "w.txt"), "--steps", "1"])
    assert bad.exit_code == 2


def test_find_atoms_method_dcnn_scores_rewards():
    from rewardscope.workflows.atoms import find_atoms

    sim = simulate_haadf("srtio3-001", size=64, noise=0.1, seed=5)
    res = find_atoms(sim.image, lattice="srtio3-001", pixel_size="0.35A", method="dcnn", fit_gaussian=False)
    assert res.summary["method"] == "dcnn"
    assert res.summary["best_values"]["qc"] < 0.2
    assert _f1(SimpleNamespace(atoms=res.atoms), sim) >= 0.97


def _write_sim(folder, name, **kw):
    from rewardscope.io import write_tiff

    sim = simulate_haadf(**kw)
    path = folder / f"{name}.tif"
    write_tiff(path, sim.image, pixel_size=sim.pixel_size)
    return path, sim


def test_atoms_cli_oracle_dcnn_and_method_dcnn(tmp_path):
    path, sim = _write_sim(tmp_path, "ybco", lattice="ybco-100", size=96, noise=0.2, seed=31)
    runner = CliRunner()
    r = runner.invoke(app, ["atoms", str(path), "--lattice", "ybco-100", "--oracle", "dcnn", "--trials", "40",
                            "--no-progress", "--out", str(tmp_path / "o1")])
    assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "o1" / "summary.json").read_text())
    oracle = pd.read_csv(tmp_path / "o1" / "oracle_atoms.csv")
    found = pd.read_csv(tmp_path / "o1" / "atoms.csv")
    network = find_atoms_dcnn(read_image(path).data, pixel_size=sim.pixel_size)
    assert s["n_expected"] == s["oracle_count"] == len(oracle) == network.count  # the oracle is the network's count
    assert score_atoms(oracle, sim).f1 >= 0.98  # and it is right (measured 1.0, 153 columns)
    again = score_atoms(found, oracle, shape=sim.image.shape, crystal=get_lattice("ybco-100"), pixel_size=sim.pixel_size)
    assert s["oracle_f1"] == pytest.approx(again.f1) and s["oracle_precision"] == pytest.approx(again.precision)
    assert s["oracle_f1"] >= 0.8 and s["oracle_precision"] >= 0.95  # LoG* (40 trials) measured 1.0 and 1.0; 20 trials
    # are too few for the edge-windowed rewards on a 96 px YBCO frame (one study picked qc 0.64)
    r = runner.invoke(app, ["atoms", str(path), "--lattice", "ybco-100", "--method", "dcnn", "--ensemble", "3",
                            "--no-lattice-prior",  # the network's own per-atom uncertainty; the prior has position_error_px
                            "--no-progress", "--out", str(tmp_path / "o2")])
    assert r.exit_code == 0, r.output
    atoms = pd.read_csv(tmp_path / "o2" / "atoms.csv")
    assert {"uncertainty_px", "support"} <= set(atoms.columns)
    assert _f1(SimpleNamespace(atoms=atoms), sim) >= 0.95
    bad = runner.invoke(app, ["atoms", str(path), "--lattice", "ybco-100", "--oracle", "magic",
                              "--out", str(tmp_path / "o3")])
    assert bad.exit_code == 2 and not (tmp_path / "o3").exists()


def test_atoms_dcnn_cli_batches_files_of_mixed_shapes(tmp_path):
    a, sa = _write_sim(tmp_path, "a", lattice="srtio3-001", size=64, noise=0.1, seed=41)
    b, sb = _write_sim(tmp_path, "b", lattice="srtio3-001", size=64, noise=0.1, seed=42)
    c, sc = _write_sim(tmp_path, "c", lattice="au-001", size=80, noise=0.1, seed=43)
    r = CliRunner().invoke(app, ["atoms-dcnn", str(a), str(b), str(c), "--out", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    for name, sim in (("a", sa), ("b", sb), ("c", sc)):
        table = pd.read_csv(tmp_path / "out" / f"{name}.csv")
        assert (table["frame"] == 0).all()
        assert _f1(SimpleNamespace(atoms=table), sim) >= 0.95


def test_bragg_filter_recovers_the_lattice_and_ignores_pure_noise():
    from rewardscope.detect.dcnn import bragg_filter, normalize_image

    clean = simulate_haadf("srtio3-001", size=128, noise=0.0, seed=9).image
    noisy = clean + np.random.default_rng(9).normal(0, 1.0, clean.shape)
    filtered = bragg_filter(normalize_image(noisy))
    corr = lambda a, b: float(np.corrcoef(a.ravel(), b.ravel())[0, 1])  # noqa: E731
    assert corr(filtered, clean) > 0.5 and corr(filtered, clean) > 3 * corr(noisy, clean)
    pure = bragg_filter(np.random.default_rng(1).standard_normal((128, 128)).astype(np.float32))
    assert abs(corr(pure, clean)) < 0.1


def test_atoms_cli_method_dcnn_needs_no_lattice(tmp_path):
    from rewardscope.io import write_tiff

    sim = simulate_haadf("srtio3-001", size=128, noise=0.2, seed=21)
    write_tiff(tmp_path / "img.tif", sim.image, pixel_size=sim.pixel_size)
    res = CliRunner().invoke(app, ["atoms", str(tmp_path / "img.tif"), "--method", "dcnn", "--out", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    atoms = pd.read_csv(tmp_path / "o" / "atoms.csv")
    score = score_atoms(atoms, sim)
    assert score.f1 > 0.98
    assert (tmp_path / "o" / "overlay.png").exists()

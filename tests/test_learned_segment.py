"""Learned particle segmentation (issue 13): dataset crops, tiny U-Net / autoencoder, tiling, shipped weights, CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from skimage.io import imsave
from typer.testing import CliRunner

from rewardscope.cli.main import app
from rewardscope.datasets import hrtem_path, sample_hrtem
from rewardscope.errors import FileFormatError, ImageShapeError, ParameterError
from rewardscope.metrics import mask_iou
from rewardscope.nn.tiling import tiled_map
from rewardscope.nn.unet import CompactUNet
from rewardscope.segment.autoencoder import (BORDER_PX, reconstruct, reconstruction_loss, standardize,
                                             train_autoencoder)
from rewardscope.segment.dataset import Frames, augment, crop_windows, make_crops, random_batch, read_frames
from rewardscope.segment.networks import (ConvAutoencoder, SegmenterModel, load_segmenter, save_segmenter,
                                          shipped_unet_path)
from rewardscope.segment.unet import train_segment_unet, unet_probability
from rewardscope.workflows.particles import segment_image

runner = CliRunner()


def _run(*args):
    return runner.invoke(app, [str(a) for a in args])


def _one_error_line(res) -> None:
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("rewardscope: error:"), res.output


def disc(size: int = 64, seed: int = 0, noise: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """A dark disc (r = 14 px) on a bright noisy support, and its mask."""
    yy, xx = np.mgrid[:size, :size]
    mask = (yy - size / 2 + 3) ** 2 + (xx - size / 2 - 2) ** 2 < 14 ** 2
    image = 1.0 - 0.8 * mask + np.random.default_rng(seed).normal(0, noise, (size, size))
    return image.astype(np.float32), mask


# --------------------------------------------------------------------------- dataset


def test_crops_rotations_and_flips_keep_masks_aligned_exactly():
    rng = np.random.default_rng(1)
    images = rng.random((2, 40, 52)).astype(np.float32)
    images[1] += 10.0                                   # frame 1's values are all >= 10: crops cannot mix frames
    masks = images % 1.0 > 0.6                          # the mask is a pixel-wise function of the image
    crops = make_crops(read_frames(images, masks=masks), crop=16, stride=12, rotations=4, flips=True)
    n_windows = len(crop_windows((40, 52), 16, 12))
    assert len(crops.index) == 2 * n_windows * 8
    for k, row in crops.index.iterrows():
        img, m = crops.images[k], crops.masks[k]
        assert np.array_equal(img % 1.0 > 0.6, m)       # exact alignment after rotation / flip
        assert (img >= 10).all() if row.frame == 1 else (img < 10).all()
        window = images[row.frame, row.y0:row.y0 + 16, row.x0:row.x0 + 16]
        expect = np.rot90(window, row.rotation)
        assert np.array_equal(img, expect[:, ::-1] if row.flip else expect)


def test_crop_windows_cover_the_frame_to_its_edge():
    covered = np.zeros((37, 50), bool)
    for y0, x0 in crop_windows(covered.shape, 16, 10):
        covered[y0:y0 + 16, x0:x0 + 16] = True
    assert covered.all()


def test_random_batch_and_jitter_keep_masks_aligned():
    rng = np.random.default_rng(0)
    images = rng.random((3, 48, 48)).astype(np.float32)
    fr = Frames(list(images), ["a", "b", "c"], list(images > 0.5))
    x, y = random_batch(fr, np.random.default_rng(3), batch=6, crop=24, channels=[im[None] for im in images])
    assert np.array_equal(x[:, 0] > 0.5, y[:, 0] > 0.5)
    jittered, m = augment(images[0], images[0] > 0.5, rotation=3, flip=True, gain=1.2, offset=0.1, noise=0.1,
                          rng=np.random.default_rng(0))
    assert np.array_equal(m, np.rot90(images[0] > 0.5, 3)[:, ::-1]) and not np.allclose(jittered, images[0])


def _write_pngs(folder: Path, stems: list[str], arrays: list[np.ndarray]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for stem, arr in zip(stems, arrays):
        imsave(folder / f"{stem}.png", arr, check_contrast=False)


def test_masks_are_matched_by_name_or_number_and_mismatches_are_errors(tmp_path):
    img, mask = disc()
    u8 = (img.clip(0, 1.5) / 1.5 * 255).astype(np.uint8)
    m8 = mask.astype(np.uint8) * 255
    _write_pngs(tmp_path / "images", ["image_2", "image_10"], [u8, u8.T.copy()])
    _write_pngs(tmp_path / "labels", ["label_10", "label_2"], [m8.T.copy(), m8])
    fr = read_frames(tmp_path / "images", masks=tmp_path / "labels")
    assert fr.names == ["image_2", "image_10"]                       # natural order
    assert np.array_equal(fr.masks[0], mask) and np.array_equal(fr.masks[1], mask.T)
    _write_pngs(tmp_path / "wrong", ["label_2", "label_3"], [m8, m8])
    with pytest.raises(ImageShapeError, match="no mask for image_10"):
        read_frames(tmp_path / "images", masks=tmp_path / "wrong")
    _write_pngs(tmp_path / "shapes", ["label_2", "label_10"], [m8, m8[:40]])
    with pytest.raises(ImageShapeError, match="has shape 40x64"):
        read_frames(tmp_path / "images", masks=tmp_path / "shapes")


def test_colour_image_is_read_as_grey_with_a_note(tmp_path):
    img, _ = disc()
    rgb = np.stack([(img.clip(0, 1) * 255).astype(np.uint8)] * 3, axis=-1)
    rgb[..., 0] = 255 - rgb[..., 0]                                    # really a colour image
    imsave(tmp_path / "colour.png", rgb, check_contrast=False)
    from rewardscope.errors import PlausibilityWarning

    with pytest.warns(PlausibilityWarning, match="colour image; read as grey"):
        fr = read_frames(tmp_path / "colour.png")
    assert fr.images[0].shape == (64, 64) and fr.notes


# --------------------------------------------------------------------------- networks


def test_tiny_unet_overfits_a_disc_deterministically():
    img, mask = disc()
    fr = Frames([img, disc(seed=1)[0]], ["disc", "disc again"], [mask, mask])
    kw = dict(steps=300, batch_size=2, crop=64, channels=(8, 16), blur_sigma_px=0.0, residual=False, jitter=0.0,
              lr=1e-2, seed=3)
    a, b = train_segment_unet(fr, **kw), train_segment_unet(fr, **kw)
    assert a.losses == b.losses                                         # same seed, same training
    prob = unet_probability(a.model, [img])[0]
    assert mask_iou(prob > 0.5, mask) > 0.95
    assert a.losses[-1] < 0.3 * a.losses[0]


def test_tiny_autoencoder_overfits_a_disc_and_the_rewards_threshold_it(tmp_path):
    img, mask = disc()
    fr = Frames([img], ["disc"])
    kw = dict(epochs=4, batch_size=2, crop=64, crops_per_frame=4, seed=5, lr=5e-3)
    a, b = train_autoencoder(fr, **kw), train_autoencoder(fr, **kw)
    assert a.losses == b.losses and a.losses[-1] < 0.5 * a.losses[0]
    res = segment_image(img, method="autoencoder", model=a.model, trials=12, split_trials=0)
    assert mask_iou(res.labels > 0, mask) > 0.95
    assert res.summary["method"] == "autoencoder" and "sigma_px" in res.summary["best_params"]


def test_autoencoder_loss_weighs_the_low_passed_residual():
    t = torch.zeros(1, 1, 64, 64)
    fringes = 0.5 * torch.cos(torch.pi * torch.arange(64.0)).view(1, 1, 1, 64).expand(1, 1, 64, 64)
    # a Nyquist-frequency residual has no low-pass part: the loss is plain MSE (0.25)
    assert abs(float(reconstruction_loss(fringes, t, sigma_px=2.0, weight=16.0)) - 0.25) < 1e-4
    # a constant offset of 0.5 passes the low pass whole: 0.25 + 16 x 0.25
    assert abs(float(reconstruction_loss(t + 0.5, t, sigma_px=2.0, weight=16.0)) - 4.25) < 1e-4
    assert float(reconstruction_loss(t + 0.5, t, sigma_px=0.0)) == 0.25


def test_autoencoder_reads_the_frame_with_reflected_borders():
    torch.manual_seed(0)
    model = SegmenterModel(net=ConvAutoencoder((4, 8)).eval(), kind="autoencoder")
    img = np.random.default_rng(0).random((40, 52)).astype(np.float32)
    x = np.pad(standardize(img), BORDER_PX, mode="reflect")
    with torch.no_grad():
        want = model.net(torch.from_numpy(x)[None, None])[0, 0].numpy()[BORDER_PX:-BORDER_PX, BORDER_PX:-BORDER_PX]
    np.testing.assert_allclose(reconstruct(model, img), want, atol=1e-5)


def test_tiled_inference_equals_whole_image_inference():
    torch.manual_seed(0)
    net = CompactUNet((4, 8), in_channels=2).eval()                     # receptive field < 2 x 24 px
    x = np.random.default_rng(0).normal(size=(3, 2, 90, 130)).astype(np.float32)

    def fn(t: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(net(t))[:, 0]

    whole = tiled_map(fn, x, multiple=net.multiple, tile_px=4096, overlap_px=0, batch_size=3)
    tiled = tiled_map(fn, x, multiple=net.multiple, tile_px=48, overlap_px=16, batch_size=5)
    assert whole.shape == (3, 90, 130)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)


def test_shipped_unet_loads_offline_and_is_small():
    path = shipped_unet_path()
    assert path.is_file() and path.stat().st_size < 5e6
    model = load_segmenter()
    assert model.kind == "unet" and not model.net.training and model.meta["n_images"] == 20


def test_shipped_unet_segments_the_sample_image():
    image, mask = sample_hrtem()
    res = segment_image(image, method="unet")
    assert mask_iou(res.labels > 0, mask) > 0.98
    assert res.summary["method"] == "unet" and res.summary["model"] == "shipped"


def test_wrong_kind_and_missing_model_are_errors(tmp_path):
    ae = SegmenterModel(net=ConvAutoencoder((4, 8)), kind="autoencoder")
    save_segmenter(ae, tmp_path / "ae.pt")
    with pytest.raises(FileFormatError, match="autoencoder model, not a rewardscope U-Net"):
        load_segmenter(tmp_path / "ae.pt", kind="unet")
    with pytest.raises(FileFormatError, match="not found"):
        load_segmenter(tmp_path / "nope.pt")
    with pytest.raises(ParameterError, match="needs --model"):
        segment_image(sample_hrtem()[0], method="autoencoder")


def test_fewer_images_than_one_batch_is_an_error():
    img, mask = disc()
    with pytest.raises(ParameterError, match="fewer than one batch"):
        train_segment_unet(Frames([img], ["disc"], [mask]), batch_size=2, crop=32, steps=1)


# --------------------------------------------------------------------------- command line


def test_cli_segment_unet_on_the_sample_image(tmp_path):
    res = _run("segment", hrtem_path(), "--method", "unet", "--out", tmp_path / "out", "--no-progress")
    assert res.exit_code == 0, res.output
    import tifffile

    labels = tifffile.imread(tmp_path / "out" / "masks.tif")
    assert mask_iou(np.asarray(labels).reshape(512, 512) > 0, sample_hrtem()[1]) > 0.98


def test_cli_segment_reads_a_colour_image_as_grey_with_a_note(tmp_path):
    img, truth = sample_hrtem()
    grey = np.asarray(img, np.uint8)
    rgb = np.stack([grey, grey, grey], axis=-1)
    rgb[..., 2] = grey // 2                                              # a tint: really a colour image
    imsave(tmp_path / "colour.png", rgb, check_contrast=False)
    res = _run("segment", tmp_path / "colour.png", "--method", "unet",
               "--out", tmp_path / "out", "--no-progress")
    assert res.exit_code == 0, res.output
    assert "colour image; read as grey" in res.output
    import tifffile

    labels = tifffile.imread(tmp_path / "out" / "masks.tif")
    assert mask_iou(np.asarray(labels).reshape(512, 512) > 0, truth) > 0.98


def test_cli_dataset_writes_crops_and_index(tmp_path):
    img, mask = disc()
    _write_pngs(tmp_path / "images", ["image_0"], [(img.clip(0, 1) * 255).astype(np.uint8)])
    _write_pngs(tmp_path / "labels", ["label_0"], [mask.astype(np.uint8) * 255])
    res = _run("dataset", tmp_path / "images", "--masks", tmp_path / "labels", "--crop", 32, "--stride", 32,
               "--flips", "--out", tmp_path / "ds")
    assert res.exit_code == 0, res.output
    import pandas as pd
    import tifffile

    index = pd.read_csv(tmp_path / "ds" / "index.csv")
    assert len(index) == 4 * 4 * 2 and (tmp_path / "ds" / ".rewardscope.json").is_file()
    row = index.iloc[5]
    crop = tifffile.imread(tmp_path / "ds" / "masks" / f"{row.crop}.tif") > 0
    expect = np.rot90(mask[row.y0:row.y0 + 32, row.x0:row.x0 + 32], row.rotation)
    assert np.array_equal(crop, expect[:, ::-1] if row.flip else expect)


@pytest.mark.parametrize("case", ["mask_names", "mask_shapes", "wrong_kind", "missing_model", "few_images"])
def test_cli_bad_inputs_one_error_line_and_no_output(tmp_path, case):
    img, mask = disc()
    u8, m8 = (img.clip(0, 1) * 255).astype(np.uint8), mask.astype(np.uint8) * 255
    _write_pngs(tmp_path / "images", ["image_0", "image_1"], [u8, u8])
    out = tmp_path / "out"
    if case in ("mask_names", "mask_shapes"):
        _write_pngs(tmp_path / "labels", ["label_0", "label_7" if case == "mask_names" else "label_1"],
                    [m8, m8 if case == "mask_names" else m8[:50]])
        res = _run("dataset", tmp_path / "images", "--masks", tmp_path / "labels", "--crop", 32, "--out", out)
        _one_error_line(res)
        res2 = _run("train", "segment-unet", "--images", tmp_path / "images", "--masks", tmp_path / "labels",
                    "--out", tmp_path / "m.pt", "--no-progress")
        _one_error_line(res2)
        assert not (tmp_path / "m.pt").exists()
    elif case == "wrong_kind":
        save_segmenter(SegmenterModel(net=ConvAutoencoder((4, 8)), kind="autoencoder"), tmp_path / "ae.pt")
        res = _run("segment", tmp_path / "images" / "image_0.png", "--method", "unet", "--model",
                   tmp_path / "ae.pt", "--out", out)
        _one_error_line(res)
        assert "autoencoder model" in res.output
    elif case == "missing_model":
        res = _run("segment", tmp_path / "images" / "image_0.png", "--method", "unet", "--model",
                   tmp_path / "nope.pt", "--out", out)
        _one_error_line(res)
        assert "not found" in res.output
    else:
        _write_pngs(tmp_path / "labels", ["label_0", "label_1"], [m8, m8])
        res = _run("train", "segment-unet", "--images", tmp_path / "images", "--masks", tmp_path / "labels",
                   "--crop", 32, "--out", tmp_path / "m.pt", "--no-progress")
        _one_error_line(res)
        assert "fewer than one batch" in res.output and not (tmp_path / "m.pt").exists()
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_cli_train_segment_ae_then_segment_with_it(tmp_path):
    img, _ = disc(size=64)
    np.save(tmp_path / "movie.npy", np.stack([img, np.roll(img, 3, axis=1)]))
    res = _run("train", "segment-ae", tmp_path / "movie.npy", "--out", tmp_path / "ae.pt", "--epochs", 1,
               "--crop", 32, "--batch-size", 4, "--no-progress")
    assert res.exit_code == 0, res.output
    res = _run("segment", tmp_path / "movie.npy", "--method", "autoencoder", "--model", tmp_path / "ae.pt",
               "--trials", 6, "--split-trials", 0, "--no-drift", "--out", tmp_path / "seg", "--no-progress")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "seg" / "masks.tif").is_file()

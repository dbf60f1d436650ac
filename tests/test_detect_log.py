"""Tests of the cached LoG scale space, overlap pruning, refinement and border scoring."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from skimage.feature import blob_log
from skimage.feature.blob import _compute_disk_overlap

from rewardscope.detect import (disk_overlap, find_blobs, fit_gaussians, prepare_scale_space, prune_overlapping,
                                sigma_grid)
from rewardscope.detect import log as log_module
from rewardscope.errors import ImageValueError, ParameterError
from rewardscope.metrics import match_points, score_detections


def _blobs(n=30, size=96, sigma=1.5, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    centres = []
    while len(centres) < n:
        c = rng.uniform(6, size - 6, 2)
        if all(np.hypot(*(c - d)) > 8 for d in centres):
            centres.append(c)
    centres = np.asarray(centres)
    amp = rng.uniform(0.5, 1.0, n)
    img = sum(a * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma ** 2)) for a, (x, y) in zip(amp, centres))
    return img, centres


IMG, CENTRES = _blobs()
SPACE = prepare_scale_space(IMG, sigmas=sigma_grid(0.5, 5.0, ratio=1.02), floor=0.01)


@pytest.mark.parametrize("params", [
    dict(min_sigma=1.0, max_sigma=3.0, num_sigma=10, threshold=0.05, overlap=0.5),
    dict(min_sigma=0.8, max_sigma=4.0, num_sigma=5, threshold=0.2, overlap=0.1),
])
def test_matches_skimage_blob_log(params):
    ours = find_blobs(SPACE, **params)
    ref = blob_log(IMG / IMG.max(), **params)
    m = match_points(ours[["x", "y"]].to_numpy(), ref[:, [1, 0]], tolerance_px=0.75)
    assert m.f1 == 1.0
    assert len(ours) == len(CENTRES) == len(ref)


def test_trials_do_not_refilter(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("filtered again")

    monkeypatch.setattr(log_module.ndimage, "gaussian_laplace", boom)
    for thr in (0.02, 0.1, 0.3):
        for ov in (0.05, 0.5):
            find_blobs(SPACE, min_sigma=1, max_sigma=3, num_sigma=8, threshold=thr, overlap=ov)


def test_threshold_is_monotone():
    counts = [len(find_blobs(SPACE, min_sigma=1, max_sigma=3, num_sigma=8, threshold=t, overlap=0.5))
              for t in (0.02, 0.15, 0.3, 0.45)]
    assert counts == sorted(counts, reverse=True) and counts[-1] < counts[0]


def test_subpixel_positions():
    found = find_blobs(SPACE, min_sigma=1, max_sigma=2, num_sigma=6, threshold=0.05, overlap=0.5)
    m = match_points(found[["x", "y"]].to_numpy(), CENTRES, tolerance_px=1.0)
    assert m.tp == len(CENTRES) and m.rmse_px < 0.15
    fit = fit_gaussians(IMG, found[["x", "y"]].to_numpy(), radius_px=3, sigma_px=1.0, iterations=15)
    m2 = match_points(np.column_stack([fit["x"], fit["y"]]), CENTRES, tolerance_px=1.0)
    assert m2.rmse_px < 0.02 and fit["converged"].all()
    assert np.allclose(fit["sigma"], 1.5, atol=0.05)


def test_gaussian_fit_under_noise_beats_integer_peaks():
    rng = np.random.default_rng(1)
    noisy = IMG + rng.normal(0, 0.05, IMG.shape)
    start = np.round(CENTRES)
    fit = fit_gaussians(noisy, start, radius_px=3, sigma_px=1.2, iterations=15)
    err = np.hypot(fit["x"] - CENTRES[:, 0], fit["y"] - CENTRES[:, 1])
    assert np.sqrt(np.mean(err ** 2)) < 0.2 < np.sqrt(np.mean(np.sum((start - CENTRES) ** 2, 1)))


def test_disk_overlap_matches_skimage_formula():
    rng = np.random.default_rng(0)
    for _ in range(50):
        r1, r2 = rng.uniform(0.5, 3, 2)
        d = rng.uniform(abs(r1 - r2) + 1e-3, r1 + r2 - 1e-3)
        assert disk_overlap(np.array([d]), np.array([r1]), np.array([r2]))[0] == pytest.approx(
            _compute_disk_overlap(d, r1, r2), abs=1e-9)


def test_prune_keeps_larger_and_is_order_free():
    xy = np.array([[0.0, 0], [0.5, 0], [20, 20], [20.4, 20]])
    sigma = np.array([1.0, 2.0, 1.0, 1.0])
    resp = np.array([1.0, 0.5, 0.2, 0.9])
    keep = prune_overlapping(xy, sigma, resp, overlap=0.3)
    assert keep.tolist() == [False, True, False, True]
    perm = np.array([3, 1, 2, 0])
    assert prune_overlapping(xy[perm], sigma[perm], resp[perm], overlap=0.3).tolist() == keep[perm].tolist()
    assert prune_overlapping(xy, sigma, resp, overlap=1.0).all()
    with pytest.raises(ParameterError):
        prune_overlapping(xy, sigma, resp, overlap=1.5)


def test_border_rule_treats_truth_and_detections_alike():
    truth = np.array([[1.0, 30.0], [30.0, 30.0], [58.5, 30.0]])
    pred = np.array([[3.2, 30.0], [30.1, 30.0], [45.0, 45.0], [0.5, 5.0]])
    m = score_detections(pred, truth, shape=(64, 64), tolerance_px=3.0, margin_px=2.0)
    # (3.2, 30) matches truth outside the margin: ignored; (45, 45) is a false positive inside;
    # (0.5, 5) lies in the border: ignored; truth (58.5, 30) is inside and missed
    assert (m.tp, m.fp, m.fn) == (1, 1, 1)


def test_bad_inputs():
    with pytest.raises(ImageValueError):
        prepare_scale_space(np.zeros((32, 32)), sigmas=[1.0, 2.0])
    with pytest.raises(ParameterError):
        sigma_grid(2.0, 1.0)
    with pytest.raises(ParameterError):
        find_blobs(SPACE, min_sigma=1, max_sigma=2, num_sigma=0, threshold=0.1, overlap=0.5)
    with pytest.raises(ParameterError, match="floor"):
        find_blobs(SPACE, min_sigma=1, max_sigma=2, num_sigma=3, threshold=0.001, overlap=0.5)


def test_levels_made_on_demand_equal_every_level_made_up_front():
    lazy = prepare_scale_space(IMG, sigmas=sigma_grid(0.5, 5.0, ratio=1.02), floor=0.01)
    eager = prepare_scale_space(IMG, sigmas=sigma_grid(0.5, 5.0, ratio=1.02), floor=0.01, lazy=False)
    assert lazy.n_made == 0 and eager.n_made == len(eager.sigmas)
    params = {"min_sigma": 1.0, "max_sigma": 3.0, "num_sigma": 5, "threshold": 0.05, "overlap": 0.5}
    a, b = find_blobs(lazy, **params), find_blobs(eager, **params)
    assert lazy.n_made == 5 and len(a) > 0
    pd.testing.assert_frame_equal(a, b)
    k = int(lazy.level_indices(np.array([2.0]))[0])
    np.testing.assert_array_equal(lazy._response[k], eager._response[k])
    np.testing.assert_array_equal(lazy.response, eager.response)  # reading the stack makes every level
    assert lazy.n_made == len(lazy.sigmas)

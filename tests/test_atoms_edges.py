"""The frame edge: rewards and detections refer to one region, so edge blobs do not buy the count.

The images here put the lattice's origin on the frame corner: the first row and column of
columns are cut in half by the edges, the columns just beyond the far edges leave the tails
of their probes in the frame, and the number of column centres inside the sharp frame is 4 %
above the lattice's density x area (YBCO [100], 128 px). Before the edge window (rewards) and
the mirror-axis rule (detect), LoG* met the expected count with ~25 edge responses and missed
16 dim interior columns there (F1 0.958 in the interior, checked once against the old code).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rewardscope.detect.log import find_blobs, prepare_scale_space, sigma_grid
from rewardscope.metrics import score_atoms
from rewardscope.physics import get_lattice
from rewardscope.rewards.atoms import (AtomRewardContext, edge_weights, error_rate, quantity_error,
                                       window_area_px)
from rewardscope.simulate.haadf import render_columns
from rewardscope.units import Length
from rewardscope.workflows.atoms import find_atoms


def cut_frame(lattice: str, *, size: int, pixel_size: float, noise: float, seed: int):
    """Image whose edges cut columns in half (origin on the corner), and its columns inside."""
    xtal, ps = get_lattice(lattice), Length(pixel_size, "A")
    sigma = 1.0 / 2.3548 / pixel_size  # 1 Å FWHM probe
    cols = xtal.positions(shape=(size, size), pixel_size=ps, origin_px=(0.0, 0.0), margin_px=5 * sigma)
    cols = cols[cols["visible"]]
    img = render_columns((size, size), cols["x"].to_numpy(), cols["y"].to_numpy(), cols["weight"].to_numpy(),
                         sigma_px=sigma)
    img = img / img.max() + 0.05
    img = img / img.max() + np.random.default_rng(seed).normal(0, noise, img.shape)
    xy = cols[["x", "y"]].to_numpy()
    inside = ((xy >= -0.5) & (xy <= size - 0.5)).all(axis=1)
    return img, xy[inside], xtal, ps


def test_edge_cut_image_is_counted_right():
    """LoG* alone (no lattice prior): the interior is complete; the old code reached F1 0.958 here (16 missed)."""
    img, truth, xtal, ps = cut_frame("ybco-100", size=128, pixel_size=0.35, noise=0.15, seed=0)
    res = find_atoms(img, lattice="ybco-100", pixel_size=ps, trials=150, seed=0, lattice_prior=False)
    m = score_atoms(res.atoms, truth, shape=img.shape, crystal=xtal, pixel_size=ps, margin_nn=1.0)
    assert m.f1 >= 0.99 and m.fn <= 2, (m.f1, m.fp, m.fn)
    xy = res.atoms[["x", "y"]].to_numpy()
    assert ((xy >= 0) & (xy <= 127)).all()
    # no pile-up of detections at the edge: at most the true columns within 2 px of it
    near = lambda p: ((p < 2) | (p > 125)).any(axis=1).sum()  # noqa: E731
    assert near(xy) <= near(truth)


def test_reward_prefers_the_interior_to_edge_blobs():
    """QC: the columns a detector can see beat a set that swaps dim interior columns for edge blobs."""
    size, ps = 128, Length(0.35, "A")
    xtal = get_lattice("srtio3-001")
    _, truth, _, _ = cut_frame("srtio3-001", size=size, pixel_size=0.35, noise=0.0, seed=0)
    ctx = AtomRewardContext.from_lattice(xtal, shape=(size, size), pixel_size=ps)
    seen = truth[((truth >= 1.0) & (truth <= size - 2.0)).all(axis=1)]  # half-cut columns are not measurable
    n_blobs = int(round(ctx.n_expected)) - len(seen) + 5
    blobs = np.column_stack([np.zeros(n_blobs), np.linspace(3, size - 4, n_blobs)])  # on the left edge
    interior = ((seen > 20) & (seen < size - 20)).all(axis=1)
    swapped = np.vstack([np.delete(seen, np.flatnonzero(interior)[:5], axis=0), blobs])
    assert len(swapped) == round(ctx.n_expected)  # the plain count is met exactly by the swap
    assert quantity_error(seen, ctx) < 0.01
    assert quantity_error(seen, ctx) < quantity_error(swapped, ctx)
    assert error_rate(seen, ctx) == 0.0
    plain = AtomRewardContext(n_expected=ctx.n_expected, ideal_nn_sum_px=ctx.ideal_nn_sum_px)
    assert quantity_error(swapped, plain) < quantity_error(seen, plain)  # what the whole-frame count preferred


def test_edge_window_count_matches_any_phase():
    """The windowed expected count equals the weighted count of the ideal lattice at any origin and rotation."""
    rng = np.random.default_rng(3)
    for name in ("srtio3-001", "ybco-100"):
        xtal = get_lattice(name)
        for ps in (0.25, 0.45):
            ctx = AtomRewardContext.from_lattice(xtal, shape=(256, 256), pixel_size=Length(ps, "A"))
            for _ in range(6):
                cols = xtal.positions(shape=(256, 256), pixel_size=Length(ps, "A"), origin_px=rng.uniform(0, 30, 2),
                                      rotation_deg=rng.uniform(0, 90), visible_only=True)
                weighted = edge_weights(cols[["x", "y"]].to_numpy(), (256, 256), ctx.edge_taper_px).sum()
                assert weighted == pytest.approx(ctx.n_expected_window, rel=0.01)


def test_edge_weights_and_window():
    w = edge_weights(np.array([[-3.0, 50.0], [-0.5, 50.0], [0.0, 50.0], [30.0, 50.0], [np.nan, 1.0]]), (100, 100), 8.0)
    assert w[0] == w[1] == w[4] == 0.0 and 0 < w[2] < 0.01 and w[3] == 1.0
    xs = np.linspace(-0.5, 99.5, 20001)  # the window's integral along one axis is cols - taper
    line = edge_weights(np.column_stack([xs, np.full_like(xs, 50.0)]), (100, 100), 8.0)
    assert np.trapezoid(line, xs) == pytest.approx(100 - 8.0, rel=1e-4)
    assert window_area_px((100, 100), 8.0) == 92.0 ** 2
    # a double detection at the edge weighs as little in ER as it does in QC
    grid = np.stack(np.meshgrid(np.arange(2.0, 98, 6), np.arange(2.0, 98, 6)), -1).reshape(-1, 2)
    ctx = AtomRewardContext(n_expected=len(grid), ideal_nn_sum_px=24.0, shape=(100, 100), edge_taper_px=8.0)
    inner = np.vstack([grid, [[50.0 + 1, 50.0]]])
    outer = np.vstack([grid, [[2.0 + 1, 50.0]]])
    assert error_rate(outer, ctx) < 0.5 * error_rate(inner, ctx)
    with pytest.raises(ValueError):
        AtomRewardContext(n_expected=10, ideal_nn_sum_px=5.0, shape=(20, 20), edge_taper_px=15.0)


def test_no_blob_from_a_column_beyond_the_edge():
    """Reflection makes a column 2 px beyond the edge look like a blob on the mirror axis: not a detection."""
    yy, xx = np.mgrid[0:48, 0:48]
    img = sum(np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 1.5 ** 2)) for x, y in [(-2.0, 20.0), (4.0, 34.0),
                                                                                        (24.0, 24.0)])
    space = prepare_scale_space(img, sigmas=sigma_grid(1.0, 3.0))
    blobs = find_blobs(space, min_sigma=1.0, max_sigma=3.0, num_sigma=10, threshold=0.02, overlap=0.5)
    got = sorted(map(tuple, blobs[["x", "y"]].round(0).to_numpy()))
    assert got == [(4.0, 34.0), (24.0, 24.0)]
    assert isinstance(blobs, pd.DataFrame)

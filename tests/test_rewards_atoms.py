"""Truth-based tests of the atom rewards (QC and ER) on hand-made point sets."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardscope.errors import CalibrationError, ParameterError
from rewardscope.physics import get_lattice
from rewardscope.rewards import AtomRewardContext, error_rate, knn_sums, quantity_error
from rewardscope.units import Length

SPACING = 6.0
GRID = np.stack(np.meshgrid(np.arange(12.0), np.arange(12.0)), -1).reshape(-1, 2) * SPACING
CTX = AtomRewardContext(n_expected=len(GRID), ideal_nn_sum_px=4 * SPACING)


def test_perfect_lattice_scores_zero():
    assert quantity_error(GRID, CTX) == 0.0
    assert error_rate(GRID, CTX) == 0.0


def test_point_between_two_columns_is_an_error():
    extra = np.vstack([GRID, [[3 * SPACING + SPACING / 2, 4 * SPACING]]])
    sums = knn_sums(extra)
    assert sums[-1] < CTX.er_threshold_px  # the added point itself is flagged
    assert error_rate(extra, CTX) >= 1 / len(extra)
    assert error_rate(extra, CTX) <= 3 / len(extra)  # it and at most its two neighbours
    assert quantity_error(extra, CTX) == pytest.approx(1 / len(GRID))


def test_double_detection_is_an_error_and_jitter_is_not():
    rng = np.random.default_rng(0)
    jittered = GRID + rng.normal(0, 0.2, GRID.shape)
    assert error_rate(jittered, CTX) == 0.0
    doubled = np.vstack([GRID, GRID[:5] + [1.0, 0.0]])
    assert error_rate(doubled, CTX) == pytest.approx(10 / len(doubled))


def test_missing_atoms_raise_qc_only():
    half = GRID[: len(GRID) // 2]
    assert quantity_error(half, CTX) == pytest.approx(0.5)
    assert error_rate(half, CTX) == 0.0
    assert error_rate(np.zeros((0, 2)), CTX) == 1.0 and quantity_error(np.zeros((0, 2)), CTX) == 1.0


def test_ideal_projected_lattice_scores_zero():
    for name in ("srtio3-001", "ybco-100"):
        crystal = get_lattice(name)
        ps = Length(0.35, "A")
        pos = crystal.positions(shape=(200, 200), pixel_size=ps, visible_only=True)
        ctx = AtomRewardContext.from_lattice(crystal, shape=(200, 200), pixel_size=ps)
        assert error_rate(pos, ctx) == 0.0
        assert quantity_error(pos, ctx) < 0.02
        assert ctx.min_nn_distance_px == pytest.approx(crystal.min_nn_distance_angstrom / 0.35)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 100), st.floats(0, 100)), min_size=0, max_size=60))
def test_rewards_are_bounded_and_order_free(points):
    pts = np.asarray(points, float).reshape(-1, 2)
    er = error_rate(pts, CTX)
    assert 0.0 <= er <= 1.0 and quantity_error(pts, CTX) >= 0.0
    assert error_rate(pts[::-1], CTX) == er


def test_context_checks():
    with pytest.raises(CalibrationError, match="pixel size"):
        AtomRewardContext.from_lattice(get_lattice("srtio3-001"), shape=(64, 64), pixel_size=None)
    with pytest.raises(ParameterError):
        AtomRewardContext(n_expected=0, ideal_nn_sum_px=10)
    oracle = AtomRewardContext.from_lattice(get_lattice("srtio3-001"), shape=(64, 64), pixel_size=Length(0.35),
                                            n_expected=42)
    assert oracle.n_expected == 42


def test_atom_points_and_bounded_knn_give_the_same_rewards():
    """AtomPoints (points + weights made once) and knn_sums(below=...) change no reward value."""
    import pandas as pd

    from rewardscope.rewards import AtomPoints

    rng = np.random.default_rng(2)
    grid = np.stack(np.meshgrid(np.arange(20.0), np.arange(20.0)), -1).reshape(-1, 2) * 5 + 2
    xy = np.vstack([grid + rng.normal(0, 0.3, grid.shape), rng.uniform(0, 100, (30, 2))])
    ctx = AtomRewardContext(n_expected=400, ideal_nn_sum_px=20.0, shape=(100, 100), edge_taper_px=6.0)
    table = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1]})
    pts = AtomPoints.of(table, ctx)
    assert len(pts) == len(xy) and pts.weights is not None
    for fn in (quantity_error, error_rate):
        assert fn(pts, ctx) == fn(table, ctx) == fn(xy, ctx)
    full, bounded = knn_sums(xy, k=4), knn_sums(xy, k=4, below=ctx.er_threshold_px)
    assert np.array_equal(full < ctx.er_threshold_px, bounded < ctx.er_threshold_px)
    assert 0.0 < error_rate(pts, ctx) < 1.0  # the random points do crowd some columns

"""Shape rewards of region masks against shapes with known compactness and perimeter."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardscope.rewards.regions import (REGION_REWARDS, compactness, compactness_loss, normalized_perimeter,
                                         perimeter_px)


def disc(shape=(200, 200), centre=(100, 100), r=40):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return (xx - centre[0]) ** 2 + (yy - centre[1]) ** 2 <= r ** 2


def square(side, shape=(200, 200), corner=20):
    m = np.zeros(shape, bool)
    m[corner:corner + side, corner:corner + side] = True
    return m


@pytest.mark.parametrize("r", [15, 40, 80])
def test_disc_is_perfectly_compact_and_perimeter_is_2_pi_r(r):
    m = disc(r=r)
    assert compactness(m) == pytest.approx(1.0, abs=0.03)
    assert perimeter_px(m) == pytest.approx(2 * np.pi * r, rel=0.02)
    assert compactness_loss(m) < 0.03


@pytest.mark.parametrize("side", [50, 120])
def test_square_compactness_is_pi_over_4(side):
    assert compactness(square(side)) == pytest.approx(np.pi / 4, rel=0.04)
    assert perimeter_px(square(side)) == pytest.approx(4 * side, rel=0.03)


def test_two_equal_discs_score_one_half_and_double_perimeter():
    two = disc(centre=(50, 50), r=30) | disc(centre=(150, 150), r=30)
    assert compactness(two) == pytest.approx(0.5, abs=0.02)
    assert perimeter_px(two) == pytest.approx(2 * perimeter_px(disc(r=30)), rel=0.01)


def test_image_border_is_not_a_boundary():
    m = np.zeros((100, 100), bool)
    m[:, :50] = True  # one straight cut across the image
    assert perimeter_px(m) == pytest.approx(100, abs=1.0)
    assert normalized_perimeter(m) == pytest.approx(300 / 400, abs=0.01)  # the reward counts the frame
    # mirrored across top, bottom and left: a 100 x 300 strip, 4 pi 30000 / 800^2
    assert compactness(m) == pytest.approx(4 * np.pi * 30000 / 800 ** 2, rel=0.02)


@pytest.mark.parametrize("centre", [(100, 0), (0, 100), (0, 0), (199, 199)])
def test_disc_cut_by_the_frame_is_as_compact_as_a_whole_disc(centre):
    m = disc(centre=centre, r=40)  # half disc on an edge, quarter disc in a corner
    assert compactness(m) == pytest.approx(1.0, abs=0.03)
    assert compactness(m | disc(centre=(100, 100), r=40)) == pytest.approx(0.5, abs=0.03)


def test_band_along_the_edge_loses_to_the_true_patches_it_swallows():
    # truth: three half discs cut by the top edge (the simulator's patches wrap across the frame);
    # the band covers them and the crystal between them, as on benchmark image 0
    truth = disc((256, 256), (50, 0), 35) | disc((256, 256), (128, 0), 35) | disc((256, 256), (206, 0), 35)
    band = np.zeros((256, 256), bool)
    band[:37] = True
    assert band[truth].all() and band.sum() > 1.3 * truth.sum()
    # mirrored: three whole discs (1/3) and a 768 x 74 strip
    assert compactness(truth) == pytest.approx(1 / 3, abs=0.02)
    assert compactness(band) == pytest.approx(4 * np.pi * 768 * 74 / (2 * (768 + 74)) ** 2, rel=0.03)
    # the old rules (frame free) scored the band 0.0 / 0.25 and the truth 0.34 / 0.33: the band won both
    assert compactness_loss(band) > compactness_loss(truth) + 0.03
    # perimeter with the frame: band 2 x 256 + 2 x 37, truth three half circles + 3 x 70 on the frame
    assert normalized_perimeter(band) == pytest.approx((512 + 74) / 1024, rel=0.03)
    assert normalized_perimeter(truth) == pytest.approx((3 * np.pi * 35 + 210) / 1024, rel=0.03)
    assert normalized_perimeter(band) > normalized_perimeter(truth) + 0.03


def test_empty_and_full_masks():
    empty = np.zeros((50, 50), bool)
    assert compactness(empty) == 0.0 and compactness_loss(empty) == 1.0
    assert normalized_perimeter(empty) == 0.0
    assert perimeter_px(np.ones((50, 50), bool)) == 0.0


def test_ragged_mask_is_less_compact_than_smooth_one_of_same_area():
    rng = np.random.default_rng(0)
    smooth = disc(r=40)
    blocks = np.kron(rng.random((50, 50)) > 0.4, np.ones((4, 4), bool))  # 4-px pieces
    ragged = smooth & blocks
    assert compactness(ragged) < 0.2 < compactness(smooth)
    assert normalized_perimeter(ragged) > 3 * normalized_perimeter(smooth)


def test_rewards_read_the_mask_attribute_of_an_output():
    class Out:
        mask = disc(r=30)

    assert REGION_REWARDS["compactness"](Out(), None) == pytest.approx(compactness_loss(Out.mask))
    assert REGION_REWARDS["perimeter"](Out.mask, None) == pytest.approx(normalized_perimeter(Out.mask))


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1), st.floats(0.05, 0.95))
def test_compactness_is_between_zero_and_one(seed, density):
    m = np.random.default_rng(seed).random((24, 24)) < density
    c = compactness(m)
    assert 0.0 <= c <= 1.0
    assert normalized_perimeter(m) >= 0.0

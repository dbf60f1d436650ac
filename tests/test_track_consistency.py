"""Temporal consistency of labels (issue 12): one-frame cuts and bridges are undone, real events kept."""

from __future__ import annotations

import numpy as np

from rewardscope.track.consistency import shift_labels, temporal_consistency
from rewardscope.workflows.tracking import track_particles


def _disc(shape, cy, cx, r):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


def _two_apart(n_frames=8, shape=(48, 72)):
    """Two discs (r = 7) 24 px apart, static: labels 1 and 2 in every frame."""
    labels = np.zeros((n_frames, *shape), np.int32)
    for f in range(n_frames):
        labels[f][_disc(shape, 24, 24, 7)] = 1
        labels[f][_disc(shape, 24, 48, 7)] = 2
    return labels


def _fix(labels, touch_frames=2):
    return np.stack(list(temporal_consistency(labels, None, touch_frames=touch_frames)))


def _n(frame):
    return len(np.unique(frame[frame > 0]))


def test_a_particle_cut_for_one_frame_is_one_particle_again():
    labels = _two_apart()
    cut = labels[3].copy()
    cut[:, 24] = 0                       # particle 1 cut through its middle in frame 3
    left = cut == 1
    left[:, 25:] = False
    cut[left] = 3
    labels[3] = cut
    assert _n(labels[3]) == 3
    fixed = _fix(labels)
    assert [_n(f) for f in fixed] == [2] * 8
    assert _n(_fix(labels, touch_frames=0)[3]) == 3   # off: kept as segmented


def test_two_particles_bridged_for_one_frame_are_cut_apart_along_their_own_shapes():
    labels = _two_apart()
    joined = labels[4].copy()
    joined[22:27, 24:49] = 1               # a bridge joins them in frame 4
    joined[joined == 2] = 1
    labels[4] = joined
    fixed = _fix(labels)
    assert [_n(f) for f in fixed] == [2] * 8
    truth = _two_apart()[4]
    for lab in (1, 2):                     # each disc goes back to one label, whole
        assert len(np.unique(fixed[4][truth == lab])) == 1
    assert _n(_fix(labels, touch_frames=0)[4]) == 1


def test_a_lasting_coalescence_is_kept():
    labels = _two_apart(10)
    for f in range(4, 10):                 # from frame 4 on they are one particle for good
        labels[f][labels[f] == 2] = 1
        labels[f][22:27, 24:49] = 1
    fixed = _fix(labels)
    assert [_n(f) for f in fixed] == [2] * 4 + [1] * 6


def test_a_bridge_of_one_frame_gives_no_merge_in_the_workflow():
    labels = _two_apart(10)
    labels[5][22:27, 24:49] = 1
    labels[5][labels[5] == 2] = 1
    movie = np.where(labels > 0, 1.0, 0.1).astype(np.float32)
    res = track_particles(movie, masks=labels, drift=False, trials=8, seed=0)
    assert res.events.empty and res.tracks.track_id.nunique() == 2
    off = track_particles(movie, masks=labels, drift=False, trials=8, seed=0, touch_frames=0)
    assert off.tracks.track_id.nunique() > 2  # without it, the bridge breaks identities


def test_shift_labels_moves_by_whole_pixels():
    lab = np.zeros((5, 5), np.int32)
    lab[1, 1] = 7
    assert np.argwhere(shift_labels(lab, 2, -1) == 7).tolist() == [[3, 0]]

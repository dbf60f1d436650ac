"""Temporal consistency of per-frame labels: undo splits and joins that last only a few frames.

A segmenter that sees one frame at a time flickers: a particle is cut in two by a noise
dip for a frame, or two neighbours are bridged for a frame when the smoothing fills
the gap between them. A linker takes the first as a split or as a new track next to an
old one (a fragmentation that later "merges" back), the second as a merge followed by
new tracks, and both break the particle's identity. Time tells them apart from real
events: real coalescence is permanent (the sintered particle does not come apart again),
a split particle is one particle in the frames around the split.

:func:`temporal_consistency` walks the movie once, frame by frame, and looks at the
frame before (already corrected) and up to ``touch_frames`` frames after, each shifted
by the measured stage drift into the frame's grid:

- **fuse**: labels of this frame that one label of the frame before covers (each by at
  least half of its area), and that one label of a later frame covers again, are one
  particle: they are relabelled as one;
- **separate**: a label that covers two or more labels of the frame before (each by at
  least half of *their* area), while a later frame shows the same labels apart again, is
  a touch: it is cut among them at its necks (a watershed on the label's distance map
  from the cores of the previous frame's drift-shifted particles).

Events that last longer than ``touch_frames`` are kept as they are: they are real.
No library does this (trackers take labels as given; laptrack's merging and splitting
costs act on centroids, not on masks), hence this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pandas as pd
from scipy import ndimage as ndi

#: A label "covers" another when their overlap is at least this share of the other's area.
COVER = 0.5


def shift_labels(labels: np.ndarray, dy: float, dx: float) -> np.ndarray:
    """``labels`` moved by the whole-pixel rounding of ``(dy, dx)``, zero-filled.

    Examples
    --------
    >>> shift_labels(np.array([[1, 2, 0]]), 0, 1).tolist()
    [[0, 1, 2]]
    """
    iy, ix = int(round(dy)), int(round(dx))
    out = np.zeros_like(labels)
    rows, cols = labels.shape
    if abs(iy) >= rows or abs(ix) >= cols:
        return out
    out[max(iy, 0):rows + min(iy, 0), max(ix, 0):cols + min(ix, 0)] = \
        labels[max(-iy, 0):rows - max(iy, 0), max(-ix, 0):cols - max(ix, 0)]
    return out


def overlaps(a: np.ndarray, b: np.ndarray) -> pd.DataFrame:
    """Pixel overlaps of the non-zero labels of two label images of one shape.

    Returns
    -------
    pandas.DataFrame
        ``a, b, n, cover_a, cover_b``: the label pair, overlapping pixels, and that count
        as a share of ``a``'s and of ``b``'s area.

    Examples
    --------
    >>> overlaps(np.array([[1, 1, 0, 2]]), np.array([[3, 0, 3, 3]]))[["a", "b", "n"]].values.tolist()
    [[1, 3, 1], [2, 3, 1]]
    """
    a, b = np.asarray(a).ravel().astype(np.int64), np.asarray(b).ravel().astype(np.int64)
    both = (a > 0) & (b > 0)
    width = int(b.max()) + 1
    key = a[both] * width + b[both]
    if (int(a.max()) + 1) * width <= 1 << 22:  # small label range: counting beats sorting
        counts = np.bincount(key)
        keys = np.flatnonzero(counts)
        n = counts[keys]
    else:
        keys, n = np.unique(key, return_counts=True)
    la, lb = keys // width, keys % width
    area_a, area_b = np.bincount(a), np.bincount(b)
    return pd.DataFrame({"a": la, "b": lb, "n": n, "cover_a": n / area_a[la], "cover_b": n / area_b[lb]})


def _multi(ov: pd.DataFrame) -> dict[int, list[int]]:
    """``a -> [b, ...]`` for the labels ``a`` that cover two or more ``b`` (each >= :data:`COVER` of ``b``)."""
    hit = ov["cover_b"].to_numpy() >= COVER
    a, b = ov["a"].to_numpy()[hit], ov["b"].to_numpy()[hit]
    many = np.flatnonzero(np.bincount(a) >= 2) if a.size else []
    return {int(k): sorted(int(v) for v in b[a == k]) for k in many}


def _swap(ov: pd.DataFrame) -> pd.DataFrame:
    """The overlap table of ``(b, a)`` from that of ``(a, b)``."""
    return ov.rename(columns={"a": "b", "b": "a", "cover_a": "cover_b", "cover_b": "cover_a"})


def _groups(current: np.ndarray, other: np.ndarray) -> dict[int, list[int]]:
    """For every label of ``other``: the labels of ``current`` it covers (>= :data:`COVER` of their area), if >= 2."""
    return _multi(overlaps(other, current))


def _covered(current: np.ndarray, other: np.ndarray) -> dict[int, list[int]]:
    """For every label of ``current``: the labels of ``other`` it covers (>= :data:`COVER` of their area), if >= 2."""
    return _multi(overlaps(current, other))


def _fuse(current: np.ndarray, previous: np.ndarray, later: Iterable[np.ndarray],
          ov: pd.DataFrame | None = None) -> tuple[np.ndarray, int]:
    """Relabel as one the labels that one particle covers both before and within the later frames.

    ``ov``: ``overlaps(previous, current)`` when already computed.
    """
    groups = list((_groups(current, previous) if ov is None else _multi(ov)).values())
    if not groups:
        return current, 0
    lut = np.arange(int(current.max()) + 1)
    fused = 0
    for frame in later:
        again = {tuple(g) for g in _groups(current, frame).values()}
        for group in [g for g in groups if tuple(g) in again]:
            lut[group] = group[0]
            fused += len(group) - 1
        groups = [g for g in groups if tuple(g) not in again]
        if not groups:
            break
    return (lut[current] if fused else current), fused


def _separate(current: np.ndarray, previous: np.ndarray, later: Iterable[np.ndarray],
              ov: pd.DataFrame | None = None) -> tuple[np.ndarray, int]:
    """Cut among the previous frame's particles a label that joined them, when a later frame shows them apart.

    ``ov``: ``overlaps(previous, current)`` when already computed.
    """
    joined = _covered(current, previous) if ov is None else _multi(_swap(ov))
    if not joined:
        return current, 0
    out, next_label, separated = current.copy(), int(current.max()) + 1, 0
    for label, parts in joined.items():
        region = current == label
        for frame in later:
            seen = overlaps(region.astype(np.int32), frame)
            if (seen["cover_b"] >= COVER).sum() >= 2:  # apart again: it was a touch
                out, next_label = _cut(out, region, previous, parts, next_label)
                separated += 1
                break
    return out, separated


def _cut(out: np.ndarray, region: np.ndarray, previous: np.ndarray, parts: list[int],
         next_label: int) -> tuple[np.ndarray, int]:
    """Cut ``region`` among the previous frame's ``parts`` at its necks (new labels but the first).

    Markers are the cores of the parts inside the region (pixels at least half their
    part's largest inner distance from its outline), grown by a watershed on the region's
    distance map: the cut follows the neck between touching particles rather than the
    previous outlines (which drift over a long touch).
    """
    from skimage.segmentation import watershed

    sl = ndi.find_objects(region.astype(np.int8))[0]
    inside = region[sl]
    markers = np.zeros(inside.shape, np.int32)
    for k, part in enumerate(parts, start=1):
        piece = (previous[sl] == part) & inside
        if not piece.any():
            continue
        depth = ndi.distance_transform_edt(piece)
        markers[depth >= 0.5 * depth.max()] = k
    if len(np.unique(markers[markers > 0])) < 2:
        return out, next_label
    grown = watershed(-ndi.distance_transform_edt(inside), markers, mask=inside)
    window = out[sl]
    for k in range(2, len(parts) + 1):
        window[inside & (grown == k)] = next_label
        next_label += 1
    return out, next_label


def temporal_consistency(labels: Any, drift: pd.DataFrame | None, *, touch_frames: int = 2) -> Iterator[np.ndarray]:
    """Per-frame labels with short-lived splits fused and short-lived joins separated.

    Parameters
    ----------
    labels : array_like, shape (frames, rows, cols), int
        Per-frame labels (0 = background); read one frame at a time (may be memory-mapped).
    drift : pandas.DataFrame or None
        ``frame, dx, dy``: where frame 0's content is in every frame, px (None: no drift).
    touch_frames : int
        Longest split or join that is undone, frames (0: labels unchanged).

    Yields
    ------
    numpy.ndarray, shape (rows, cols), int32
        The corrected labels of every frame, in order.

    Examples
    --------
    >>> yy, xx = np.mgrid[:20, :40]
    >>> disc = lambda x: (yy - 10) ** 2 + (xx - x) ** 2 < 25
    >>> one = disc(10).astype(int) + 2 * disc(28)
    >>> cut = one.copy(); cut[:, 10:15][cut[:, 10:15] == 1] = 3  # particle 1 cut in two in frame 1
    >>> out = list(temporal_consistency(np.stack([one, cut, one]), None))
    >>> [len(np.unique(f)) - 1 for f in out]
    [2, 2, 2]
    """
    n = len(labels)
    shift = np.zeros((n, 2)) if drift is None else drift[["dy", "dx"]].to_numpy(float)
    frames = _FrameCache(labels)
    previous = None
    for f in range(n):
        current = frames.get(f)
        if touch_frames > 0 and previous is not None and f + 1 < n:
            later = _Later(frames, shift, f, min(f + 1 + touch_frames, n))
            prev = shift_labels(previous, *(shift[f] - shift[f - 1]))
            ov = overlaps(prev, current)
            current, fused = _fuse(current, prev, later, ov)
            current, _ = _separate(current, prev, later, None if fused else ov)
        frames.forget_before(f + 1)
        previous = current
        yield current


class _FrameCache:
    """Frames of a label stack read once each, as int32, kept until forgotten."""

    def __init__(self, labels: Any) -> None:
        self.labels, self.kept = labels, {}

    def get(self, f: int) -> np.ndarray:
        if f not in self.kept:
            self.kept[f] = np.asarray(self.labels[f]).astype(np.int32)
        return self.kept[f]

    def forget_before(self, f: int) -> None:
        for g in [g for g in self.kept if g < f]:
            del self.kept[g]


class _Later:
    """The frames after ``f`` (up to ``stop``), drift-shifted into frame ``f``'s grid, read only when iterated.

    Each is shifted once and kept: :func:`_fuse` and every joined label of :func:`_separate`
    iterate them again.
    """

    def __init__(self, frames: _FrameCache, shift: np.ndarray, f: int, stop: int) -> None:
        self.frames, self.shift, self.f, self.stop = frames, shift, f, stop
        self._shifted: dict[int, np.ndarray] = {}

    def __iter__(self) -> Iterator[np.ndarray]:
        for g in range(self.f + 1, self.stop):
            if g not in self._shifted:
                self._shifted[g] = shift_labels(self.frames.get(g), *(self.shift[self.f] - self.shift[g]))
            yield self._shifted[g]


__all__ = ["overlaps", "shift_labels", "temporal_consistency"]

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
  a touch: it is cut among them, every pixel going to the nearest of the previous
  frame's particles (its drift-shifted mask inside the label).

Events that last longer than ``touch_frames`` are kept as they are: they are real.
No library does this (trackers take labels as given; laptrack's merging and splitting
costs act on centroids, not on masks), hence this module.
"""

from __future__ import annotations

from collections.abc import Iterator
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
    keys, n = np.unique(a[both] * (int(b.max()) + 1) + b[both], return_counts=True)
    la, lb = keys // (int(b.max()) + 1), keys % (int(b.max()) + 1)
    area_a, area_b = np.bincount(a), np.bincount(b)
    return pd.DataFrame({"a": la, "b": lb, "n": n, "cover_a": n / area_a[la], "cover_b": n / area_b[lb]})


def _groups(current: np.ndarray, other: np.ndarray) -> dict[int, list[int]]:
    """For every label of ``other``: the labels of ``current`` it covers (>= :data:`COVER` of their area), if >= 2."""
    ov = overlaps(other, current)
    ov = ov[ov["cover_b"] >= COVER]
    return {int(k): sorted(int(v) for v in g["b"]) for k, g in ov.groupby("a") if len(g) >= 2}


def _covered(current: np.ndarray, other: np.ndarray) -> dict[int, list[int]]:
    """For every label of ``current``: the labels of ``other`` it covers (>= :data:`COVER` of their area), if >= 2."""
    ov = overlaps(current, other)
    ov = ov[ov["cover_b"] >= COVER]
    return {int(k): sorted(int(v) for v in g["b"]) for k, g in ov.groupby("a") if len(g) >= 2}


def _fuse(current: np.ndarray, previous: np.ndarray, later: list[np.ndarray]) -> tuple[np.ndarray, int]:
    """Relabel as one the labels that one particle covers both before and within the later frames."""
    groups = list(_groups(current, previous).values())
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


def _separate(current: np.ndarray, previous: np.ndarray, later: list[np.ndarray]) -> tuple[np.ndarray, int]:
    """Cut among the previous frame's particles a label that joined them, when a later frame shows them apart."""
    joined = _covered(current, previous)
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
    """Give every pixel of ``region`` to the nearest of the previous frame's ``parts`` (new labels but the first)."""
    seeds = np.where(np.isin(previous, parts) & region, previous, 0)
    if len(np.unique(seeds[seeds > 0])) < 2:
        return out, next_label
    sl = ndi.find_objects(region.astype(np.int8))[0]
    _, (iy, ix) = ndi.distance_transform_edt(seeds[sl] == 0, return_indices=True)
    nearest = seeds[sl][iy, ix]
    window = out[sl]
    inside = region[sl]
    for part in parts[1:]:
        window[inside & (nearest == part)] = next_label
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
    previous = None
    for f in range(n):
        current = np.asarray(labels[f]).astype(np.int32)
        if touch_frames > 0 and previous is not None and f + 1 < n:
            later = [shift_labels(np.asarray(labels[g]).astype(np.int32), *(shift[f] - shift[g]))
                     for g in range(f + 1, min(f + 1 + touch_frames, n))]
            prev = shift_labels(previous, *(shift[f] - shift[f - 1]))
            current, _ = _fuse(current, prev, later)
            current, _ = _separate(current, prev, later)
        previous = current
        yield current


__all__ = ["overlaps", "shift_labels", "temporal_consistency"]

"""Tiled, batched inference of a fully convolutional network on images of any size.

High-resolution frames do not fit one forward pass (memory) and networks need sides that
are multiples of their pooling factor. :func:`tiles` cuts an axis into overlapping windows
whose seams sit in the middle of the overlap, so every output pixel comes from a tile
centre at least ``overlap`` pixels away from a tile edge; :func:`padded` pads a batch to
the network's multiple (reflecting, replicating for tiny inputs); :func:`tiled_map` runs a
per-batch function over all tiles and stitches the kept centres. Shared by the atom DCNN
(:mod:`rewardscope.detect.dcnn.inference`) and the particle segmenters
(:mod:`rewardscope.segment.unet`). Written here: a dozen lines that no installed library
offers without pulling in a framework (MONAI's sliding window would be a large dependency).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch.nn import functional as F


def tiles(n: int, tile: int, overlap: int, *, align: int = 1) -> list[tuple[int, int, int, int]]:
    """(start, stop, keep_from, keep_to) windows covering 0..n; seams sit mid-overlap (>= ``overlap`` from tile edges).

    ``align``: starts are multiples of it (give the network's pooling multiple, with ``n``
    and ``tile`` multiples of it too, so that every tile sees the pooling grid of the whole image).

    Examples
    --------
    >>> tiles(100, 64, 8)
    [(0, 64, 0, 50), (36, 100, 50, 100)]
    >>> tiles(96, 64, 8, align=16)
    [(0, 64, 0, 48), (32, 96, 48, 96)]
    """
    if n <= tile:
        return [(0, n, 0, n)]
    step = max(align, (tile - 2 * overlap) // align * align)
    starts = list(range(0, n - tile, step)) + [n - tile]
    seams = [0] + [(a + b + tile) // 2 for a, b in zip(starts[:-1], starts[1:])] + [n]
    return [(s, s + tile, seams[i], seams[i + 1]) for i, s in enumerate(starts)]


def padded(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """``x`` (..., rows, cols) padded at the bottom/right to multiples of ``multiple``, and the original size.

    Examples
    --------
    >>> y, size = padded(torch.zeros(1, 1, 30, 33), 16)
    >>> tuple(y.shape[-2:]), size
    ((32, 48), (30, 33))
    """
    rows, cols = x.shape[-2:]
    pr, pc = (-rows) % multiple, (-cols) % multiple
    if pr or pc:
        mode = "reflect" if pr < rows and pc < cols else "replicate"
        x = F.pad(x, (0, pc, 0, pr), mode=mode)
    return x, (rows, cols)


def tiled_map(fn: Callable[[torch.Tensor], torch.Tensor], images: np.ndarray, *, multiple: int, tile_px: int,
              overlap_px: int, batch_size: int, device: str = "cpu",
              advance: Callable[[], None] | None = None) -> np.ndarray:
    """Run ``fn`` (batch, C, h, w) -> (batch, h, w) over overlapping tiles of ``images`` and stitch them.

    Parameters
    ----------
    fn : callable
        A per-batch map, e.g. the sigmoid of a network's logits (runs under ``torch.inference_mode``).
    images : numpy.ndarray, shape (n, channels, rows, cols)
    multiple : int
        Tiles are padded to multiples of this before ``fn`` and cropped after.
    tile_px, overlap_px : int
        Tile side and the margin each tile drops at inner seams.
    batch_size : int
        Tiles per call of ``fn``.
    device : str
        Where ``fn`` runs.
    advance : callable, optional
        Called once per call of ``fn`` (progress).

    Returns
    -------
    numpy.ndarray, float32, shape (n, rows, cols)

    Examples
    --------
    >>> x = np.random.default_rng(0).random((2, 1, 50, 70)).astype(np.float32)
    >>> out = tiled_map(lambda t: t[:, 0] * 2, x, multiple=8, tile_px=32, overlap_px=4, batch_size=3)
    >>> bool(np.allclose(out, 2 * x[:, 0]))
    True
    """
    arr = torch.from_numpy(np.ascontiguousarray(images, np.float32))
    rows, cols = arr.shape[-2:]
    arr = padded(arr, multiple)[0].numpy()  # the whole image once, so that tiles share its pooling grid
    n, prow, pcol = arr.shape[0], arr.shape[-2], arr.shape[-1]
    out = np.zeros((n, prow, pcol), np.float32)
    tile_px = max(multiple, tile_px // multiple * multiple)
    windows = [(r, c) for r in tiles(prow, tile_px, overlap_px, align=multiple)
               for c in tiles(pcol, tile_px, overlap_px, align=multiple)]
    jobs = [(i, r, c) for i in range(n) for r, c in windows]
    with torch.inference_mode():
        for b in range(0, len(jobs), batch_size):
            chunk = jobs[b:b + batch_size]
            shapes = {(r[1] - r[0], c[1] - c[0]) for _, r, c in chunk}
            groups = [[j for j in chunk if (j[1][1] - j[1][0], j[2][1] - j[2][0]) == s] for s in sorted(shapes)]
            for group in groups:
                x = torch.from_numpy(np.stack([arr[i, :, r[0]:r[1], c[0]:c[1]] for i, r, c in group]))
                x, (h, w) = padded(x.to(device), multiple)
                p = fn(x)[:, :h, :w].float().cpu().numpy()
                for k, (i, (r0, _, kr0, kr1), (c0, _, kc0, kc1)) in enumerate(group):
                    out[i, kr0:kr1, kc0:kc1] = p[k, kr0 - r0:kr1 - r0, kc0 - c0:kc1 - c0]
            if advance is not None:
                advance()
    return out[:, :rows, :cols]

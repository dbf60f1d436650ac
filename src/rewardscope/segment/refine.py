"""Fast-then-refine U-Net inference for large frames (2048 px and more).

The hybrid the reference work (Duan et al. 2024) proposes for high-resolution frames: find
the particles on a downscaled copy (cheap: ``1 / factor**2`` of the pixels), then segment
each particle's neighbourhood at full resolution, so the network runs at full resolution
only where particles are. Here:

1. the frame is downscaled by ``factor`` (area averaging) and run through the U-Net (tiled);
2. every coarse particle's bounding box, grown by ``margin_px`` (full-resolution pixels) and
   merged with the boxes it overlaps, is cut from the full-resolution network input -- the
   input is normalized once for the whole frame, so every crop sees the same Otsu level;
3. each box is run at full resolution; the probability outside the boxes is the coarse one,
   upsampled (bilinear).

``benchmarks/segmenters.py`` reports the speed-up and the IoU cost against full-resolution
inference on upscaled frames. Written here: the box logic is specific to this hybrid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from rewardscope.errors import ParameterError
from rewardscope.segment.networks import SegmenterModel
from rewardscope.segment.unet import probability_of_inputs, unet_input

#: Frames at least this large (px, longer side) use fast-then-refine by default.
REFINE_FROM_PX = 2048


@dataclass
class Refined:
    """What :func:`fast_then_refine` did.

    Attributes
    ----------
    probability : numpy.ndarray (rows, cols), float32
    boxes : list of (row0, row1, col0, col1)
        The full-resolution boxes that were refined.
    refined_fraction : float
        Share of the frame's pixels run at full resolution.
    """

    probability: np.ndarray
    boxes: list[tuple[int, int, int, int]]
    refined_fraction: float


def _merge(boxes: list[list[int]]) -> list[list[int]]:
    """Merge overlapping boxes until none overlap."""
    boxes = [list(b) for b in boxes]
    merged = True
    while merged:
        merged = False
        out: list[list[int]] = []
        for b in boxes:
            for o in out:
                if b[0] < o[1] and o[0] < b[1] and b[2] < o[3] and o[2] < b[3]:
                    o[:] = [min(o[0], b[0]), max(o[1], b[1]), min(o[2], b[2]), max(o[3], b[3])]
                    merged = True
                    break
            else:
                out.append(b)
        boxes = out
    return boxes


def fast_then_refine(model: SegmenterModel, image: np.ndarray, *, factor: int = 4, margin_px: int = 32,
                     device: str = "cpu", batch_size: int = 8) -> Refined:
    """U-Net probability of a large frame: coarse pass at ``1/factor``, full resolution only around particles.

    Parameters
    ----------
    model : SegmenterModel
        Kind ``"unet"``.
    image : numpy.ndarray (rows, cols)
    factor : int
        Downscaling of the coarse pass (2-16).
    margin_px : int
        Growth of each coarse particle's box, full-resolution px.
    device : {"cpu", "cuda"}
    batch_size : int
        Tiles per forward pass.

    Returns
    -------
    Refined

    Examples
    --------
    >>> from rewardscope.datasets import sample_hrtem
    >>> from rewardscope.segment.networks import load_segmenter
    >>> image, mask = sample_hrtem()
    >>> big = np.kron(image.astype(np.float32), np.ones((2, 2), np.float32))
    >>> r = fast_then_refine(load_segmenter(), big, factor=2)
    >>> r.probability.shape, 0 < r.refined_fraction <= 1
    ((1024, 1024), True)
    """
    if not 2 <= factor <= 16:
        raise ParameterError(f"factor must be 2-16, got {factor}")
    img = np.asarray(image, np.float32)
    rows, cols = img.shape
    r_c, c_c = rows // factor, cols // factor
    small = img[:r_c * factor, :c_c * factor].reshape(r_c, factor, c_c, factor).mean(axis=(1, 3))
    coarse = probability_of_inputs(model, [unet_input(model, small)], device=device, batch_size=batch_size)[0]
    zoom = (rows / r_c, cols / c_c)
    prob = np.clip(ndi.zoom(coarse, zoom, order=1, grid_mode=True, mode="grid-constant"), 0, 1)[:rows, :cols]
    if prob.shape != (rows, cols):
        prob = np.pad(prob, ((0, rows - prob.shape[0]), (0, cols - prob.shape[1])), mode="edge")
    labels, n = ndi.label(coarse > 0.5)
    boxes = []
    for sl in ndi.find_objects(labels):
        r0, r1 = int(sl[0].start * zoom[0]) - margin_px, int(np.ceil(sl[0].stop * zoom[0])) + margin_px
        c0, c1 = int(sl[1].start * zoom[1]) - margin_px, int(np.ceil(sl[1].stop * zoom[1])) + margin_px
        boxes.append([max(0, r0), min(rows, r1), max(0, c0), min(cols, c1)])
    boxes = _merge(boxes)
    full = unet_input(model, img)  # normalized once for the whole frame
    crops = [full[:, r0:r1, c0:c1] for r0, r1, c0, c1 in boxes]
    probs = probability_of_inputs(model, crops, device=device, batch_size=batch_size) if crops else []
    for (r0, r1, c0, c1), p in zip(boxes, probs):
        prob[r0:r1, c0:c1] = p
    area = sum((r1 - r0) * (c1 - c0) for r0, r1, c0, c1 in boxes)
    return Refined(probability=prob.astype(np.float32), boxes=[tuple(b) for b in boxes],  # type: ignore[misc]
                   refined_fraction=float(area / (rows * cols)))

"""The segmenters as pluggable steps: :func:`get_segmenter` (classical, autoencoder, U-Net).

Workflows that need particle masks of every frame (tracking,
:mod:`rewardscope.workflows.tracking`) call ``get_segmenter(name, model=...)`` once and then
the returned function per movie; the network is loaded once, the per-frame policy of
:func:`~rewardscope.workflows.movie.segment_movie` (reward-tuned smoothing and split,
re-optimized when the rewards drop) is the same for every method.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from rewardscope.config import make_config
from rewardscope.segment.learned import METHODS, load_method_model
from rewardscope.workflows.particles import SegmentConfig

#: ``segmenter(movie, *, pixel_size=None, progress=None) -> labels (frames, rows, cols), int32``.
Segmenter = Callable[..., np.ndarray]


def get_segmenter(name: str = "classical", *, model: Any = None, config: SegmentConfig | None = None,
                  **overrides: Any) -> Segmenter:
    """A per-movie segmentation function for one method.

    Parameters
    ----------
    name : {"classical", "autoencoder", "unet"}
        The method (:data:`rewardscope.segment.learned.METHODS`).
    model : path or SegmenterModel, optional
        The network (``unet``: default the shipped weights; ``autoencoder``: required).
    config : SegmentConfig, optional
        Settings; keyword ``overrides`` replace single fields (``trials=20``, ``device="cuda"``).
        The segmenter's own drift step is off (the caller aligns).

    Returns
    -------
    callable
        ``segmenter(movie, *, pixel_size=None, progress=None)``: label images of every frame.

    Raises
    ------
    ParameterError, FileFormatError
        Unknown method, a missing model file or a file of another kind (raised here, before any movie).

    Examples
    --------
    >>> yy, xx = np.mgrid[:64, :64]
    >>> frames = np.stack([1.0 - ((yy - 32) ** 2 + (xx - 30 - k) ** 2 < 100) for k in range(2)])
    >>> seg = get_segmenter("classical", trials=8, split_trials=0)
    >>> seg(frames + np.random.default_rng(0).normal(0, .2, frames.shape)).max(axis=(1, 2)).tolist()
    [1, 1]
    """
    if name not in METHODS:
        from rewardscope.errors import ParameterError

        raise ParameterError(f"segmenter must be one of {', '.join(METHODS)}, got {name!r}")
    cfg = make_config(SegmentConfig, config, **{**overrides, "method": name, "drift": False})
    net = load_method_model(name, model if model is not None else cfg.network)

    def segmenter(movie: Any, *, pixel_size: Any = None, progress: Any = None) -> np.ndarray:
        from rewardscope.workflows.movie import segment_movie

        run_cfg = cfg if pixel_size is None else cfg.model_copy(update={"pixel_size": pixel_size})
        return np.asarray(segment_movie(movie, config=run_cfg, model=net, progress=progress).labels)

    segmenter.method = name  # type: ignore[attr-defined]
    return segmenter

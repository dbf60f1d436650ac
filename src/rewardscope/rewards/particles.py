"""Label-free rewards of a particle segmentation (all minimised, all in [0, 1]).

Two rewards choose the denoising (how much to smooth before the threshold); both read
only the smoothed image and the threshold of a :class:`~rewardscope.segment.classical.Segmentation`:

* ``overlap`` -- Bhattacharyya coefficient between the intensity distributions of
  particle and support pixels in the smoothed image (Gaussian approximation of each
  class; 0 = perfectly separable, 1 = identical). Too little smoothing leaves speckle and
  fringes that widen both classes; too much smears the edges into intermediate values.
  Its minimum sits where the two classes are most distinct.
* ``ambiguity`` -- share of pixels whose smoothed value lies within ``band`` x (class-mean
  gap) of the threshold: pixels the segmentation is unsure about. Noise puts support and
  particle pixels there at small widths; at large widths the blurred edge band widens in
  proportion to the width. Its minimum is at a somewhat smaller width than ``overlap``'s,
  so the two span a short Pareto front and the chosen compromise lies between them.

Two rewards choose the split of touching particles (on a fixed foreground):

* ``concavity`` -- 1 - area-weighted mean solidity of the particles (a merged pair is
  non-convex);
* ``cuts`` -- length of the cut lines / foreground perimeter (splitting round particles
  costs long cuts).

``size_outliers`` (share of particle area in particles whose equivalent diameter lies
outside the stated physical range; border-cut particles only count when too small) is
recorded per trial. A reward is any callable ``(segmentation, context) -> float``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage as ndi

from rewardscope.errors import ParameterError
from rewardscope.segment.postprocess import solidities
from rewardscope.defaults import AMBIGUITY_BAND  # noqa: F401  (re-exported; SegmentConfig reads it there)
from rewardscope.units import Length

ParticleReward = Callable[[Any, "ParticleRewardContext"], float]


@dataclass(frozen=True)
class ParticleRewardContext:
    """The prior the particle rewards use.

    Attributes
    ----------
    min_diameter_px : float
        Smallest equivalent diameter a real particle has, pixels.
    max_diameter_px : float or None
        Largest one (None: no upper bound).
    band : float
        Half-width of the ``ambiguity`` band, in units of the particle/support mean gap.
    pixel_size : Length or None
        Calibration the pixel numbers were derived from.

    Examples
    --------
    >>> ParticleRewardContext(min_diameter_px=4.0).min_area_px
    12.566370614359172
    """

    min_diameter_px: float = 4.0
    max_diameter_px: float | None = None
    band: float = AMBIGUITY_BAND
    pixel_size: Length | None = None

    def __post_init__(self) -> None:
        if not np.isfinite(self.min_diameter_px) or self.min_diameter_px < 0:
            raise ParameterError(f"minimum particle diameter must be >= 0 px, got {self.min_diameter_px}")
        if self.max_diameter_px is not None and not self.max_diameter_px > self.min_diameter_px:
            raise ParameterError(f"maximum particle diameter ({self.max_diameter_px} px) must exceed the "
                                 f"minimum ({self.min_diameter_px} px)")
        if not 0 < self.band < 0.5:
            raise ParameterError(f"ambiguity band must be in (0, 0.5), got {self.band}")

    @property
    def min_area_px(self) -> float:
        """Area of a disc of the smallest diameter, pixels."""
        return float(np.pi * self.min_diameter_px ** 2 / 4)


def _class_stats(seg: Any) -> tuple[float, float, float, float, float] | None:
    """(mean_particle, std_particle, mean_support, std_support, threshold) or None if a class is empty.

    Memoised on the segmentation object (both foreground rewards need it).
    """
    cached = getattr(seg, "_class_stats", None)
    if cached is not None and cached[0] is seg.smoothed and cached[1] == seg.threshold:
        return cached[2]
    stats = _compute_class_stats(seg.smoothed, seg.threshold)
    try:
        seg._class_stats = (seg.smoothed, seg.threshold, stats)
    except AttributeError:  # objects that take no attributes are simply not cached
        pass
    return stats


def _compute_class_stats(s: np.ndarray, t: float) -> tuple[float, float, float, float, float] | None:
    fg = s > t
    n_fg = int(fg.sum())
    if n_fg == 0 or n_fg == s.size:
        return None
    a, b = s[fg], s[~fg]
    return float(a.mean()), float(a.std()), float(b.mean()), float(b.std()), float(t)


def class_overlap(seg: Any, ctx: ParticleRewardContext) -> float:
    """Bhattacharyya coefficient of particle vs support intensities (Gaussian classes), in [0, 1].

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> s = np.r_[np.zeros(50), np.ones(50)] + np.random.default_rng(0).normal(0, 0.05, 100)
    >>> round(class_overlap(SimpleNamespace(smoothed=s, threshold=0.5), ParticleRewardContext()), 3)
    0.0
    """
    stats = _class_stats(seg)
    if stats is None:
        return 1.0
    m1, s1, m0, s0, _ = stats
    var = s1 * s1 + s0 * s0
    if var <= 0:
        return 0.0
    distance = (m1 - m0) ** 2 / (4 * var) + 0.5 * np.log(var / (2 * max(s1 * s0, 1e-12)))
    return float(np.exp(-distance))


def ambiguity(seg: Any, ctx: ParticleRewardContext) -> float:
    """Share of pixels within ``ctx.band`` x (class-mean gap) of the threshold, in [0, 1].

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> s = np.r_[np.zeros(45), np.full(10, 0.5), np.ones(45)]
    >>> ambiguity(SimpleNamespace(smoothed=s, threshold=0.5), ParticleRewardContext())
    0.1
    """
    stats = _class_stats(seg)
    if stats is None:
        return 1.0
    m1, _, m0, _, t = stats
    return float(np.mean(np.abs(seg.smoothed - t) < ctx.band * abs(m1 - m0)))


def concavity(seg: Any, ctx: ParticleRewardContext) -> float:
    """1 - area-weighted mean solidity of the labelled particles (0 when all are convex)."""
    area, solidity = solidities(seg.labels)
    if area.sum() == 0:
        return 0.0
    return float(1.0 - np.sum(area * solidity) / area.sum())


def cut_fraction(seg: Any, ctx: ParticleRewardContext) -> float:
    """Length of the split cuts through particle bodies (not necks) relative to the foreground perimeter (0 without)."""
    fg = seg.labels > 0
    perimeter = int(np.sum(fg & ~ndi.binary_erosion(fg)))
    return float(seg.cut_px / perimeter) if perimeter else 0.0


def size_outliers(seg: Any, ctx: ParticleRewardContext) -> float:
    """Share of particle area in particles outside the stated diameter range, in [0, 1]."""
    labels = seg.labels
    areas = np.bincount(labels.ravel())[1:].astype(float)
    if areas.size == 0 or areas.sum() == 0:
        return 0.0
    diam = np.sqrt(4 * areas / np.pi)
    bad = diam < ctx.min_diameter_px
    if ctx.max_diameter_px is not None:
        edge = np.unique(np.r_[labels[0], labels[-1], labels[:, 0], labels[:, -1]])
        on_border = np.isin(np.arange(1, areas.size + 1), edge)
        bad |= (diam > ctx.max_diameter_px) & ~on_border
    return float(areas[bad].sum() / areas.sum())


#: Rewards that choose the smoothing width (the foreground).
FOREGROUND_REWARDS: dict[str, ParticleReward] = {"overlap": class_overlap, "ambiguity": ambiguity}
#: Rewards that choose the split depth (the labels).
SPLIT_REWARDS: dict[str, ParticleReward] = {"concavity": concavity, "cuts": cut_fraction}

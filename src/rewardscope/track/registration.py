"""Drift measurement: sub-pixel registration of every frame of a movie to frame 0.

Shifts come from cross-correlation with local upsampled-DFT refinement, the method of
:func:`skimage.registration.phase_cross_correlation` (which the tests use as reference).
We run it ourselves on real-FFT (half) spectra because that halves the two costs that
dominate (inverse FFT and matrix-multiply DFT), and because frames are read lazily in
batches and Fourier-transformed once per pass (batched ``scipy.fft`` with workers, cosine
edge taper), so movies larger than memory work and no reference spectrum is recomputed.
The ``mean`` reference registers each frame to a running mean of the frames aligned so
far (on a 2x-downsampled band: fast and low-noise; any jump size is followed), then
registers every frame again to the final full-resolution mean template, so errors do
not accumulate as they do frame to frame. Jumps are then flagged against the recent
drift trend (:mod:`rewardscope.track.jumps`).

Convention: ``dx, dy`` (pixels, x = column) is the displacement of the frame content
relative to frame 0; the aligned frame (:mod:`rewardscope.track.align`) is the input
shifted by ``(-dx, -dy)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.fft
from scipy import ndimage
from threadpoolctl import threadpool_limits

from rewardscope.errors import ImageShapeError, ImageValueError
from rewardscope.io.lazy import LazyStack
from rewardscope.io.load import load_input
from rewardscope.progress import ProgressArg, progress_scope, start_stage
from rewardscope.track.config import DriftConfig
from rewardscope.track.jumps import flag_jumps
from rewardscope.units import Length

# --------------------------------------------------------------------------- spectra


def _taper(shape: tuple[int, int], fraction: float) -> np.ndarray:
    """Separable cosine edge taper (Tukey window), float32 (rows, cols)."""
    def tukey(n: int) -> np.ndarray:
        w = np.ones(n)
        m = int(round(fraction * n))
        if m > 0:
            ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(m) + 0.5) / m)
            w[:m], w[n - m:] = ramp, ramp[::-1]
        return w

    return np.outer(tukey(shape[0]), tukey(shape[1])).astype(np.float32)


def _spectra(block: np.ndarray, window: np.ndarray, workers: int) -> np.ndarray:
    """Real FFT of mean-free, tapered frames: (n, rows, cols) float32 -> (n, rows, cols//2+1) complex64."""
    block = (block - block.mean(axis=(1, 2), keepdims=True)) * window
    return scipy.fft.rfft2(block, axes=(1, 2), workers=workers)


def _ramp(shape: tuple[int, int], dx: float, dy: float) -> np.ndarray:
    """Factor on a real-FFT spectrum that moves content by (dx, dy) pixels, complex64."""
    ky = np.fft.fftfreq(shape[0]).astype(np.float32)
    kx = np.fft.rfftfreq(shape[1]).astype(np.float32)
    return np.outer(np.exp(-2j * np.pi * ky * dy), np.exp(-2j * np.pi * kx * dx)).astype(np.complex64)


class _Correlator:
    """Cross-correlation peak of two real-FFT spectra, refined by a local upsampled DFT.

    The method of Guizar-Sicairos et al. (Opt. Lett. 33, 156, 2008), as in skimage's
    ``phase_cross_correlation``, but on half (real-FFT) spectra: the inverse FFT and the
    matrix-multiply DFT each cost half, which is where drift estimation spends its time.
    ``factor > 1`` keeps only the lowest 1/factor of the frequencies (a downsampled view,
    ``factor**2`` times cheaper) for the coarse first pass of the ``mean`` reference.
    """

    def __init__(self, shape: tuple[int, int], cfg: DriftConfig, factor: int = 1) -> None:
        rows, cols = shape
        self.factor = factor if min(shape) // factor >= 64 else 1
        h = rows // (2 * self.factor)
        row_index = np.r_[0:h, rows - h:rows] if self.factor > 1 else np.arange(rows)
        col_count = cols // (2 * self.factor) + 1
        self.index = np.ix_(row_index, np.arange(col_count))
        self.small = (len(row_index), 2 * (col_count - 1) if self.factor > 1 else cols)
        ky = np.fft.fftfreq(rows)[row_index]
        kx = np.fft.rfftfreq(cols)[:col_count]
        self.ky, self.kx = ky, kx
        # Hermitian weights: columns other than kx = 0 (and the Nyquist column) stand for two
        self.col_weight = np.where((kx == 0) | (np.isclose(kx, 0.5)), 1.0, 2.0).astype(np.float32)
        half = int(np.ceil(0.75 * self.factor * cfg.upsample))
        self.offsets = np.arange(-half, half + 1) / cfg.upsample
        self.phase = cfg.normalization == "phase"

    def __call__(self, ref: np.ndarray, mov: np.ndarray) -> np.ndarray:
        """Content displacement (dx, dy) of ``mov`` relative to ``ref``, pixels."""
        if self.factor > 1:
            ref, mov = ref[self.index], mov[self.index]
        prod = np.conj(ref) * mov
        if self.phase:
            prod /= np.maximum(np.abs(prod), 1e-12)
        cc = scipy.fft.irfft2(prod, s=self.small)
        peak = np.array(np.unravel_index(np.argmax(cc), cc.shape), dtype=float)
        size = np.array(cc.shape)
        peak[peak > size // 2] -= size[peak > size // 2]
        y0, x0 = peak * self.factor
        rows = np.exp(2j * np.pi * np.outer(y0 + self.offsets, self.ky)).astype(np.complex64)
        cols = np.exp(2j * np.pi * np.outer(self.kx, x0 + self.offsets)).astype(np.complex64)
        local = (rows @ (prod * self.col_weight) @ cols).real
        iy, ix = np.unravel_index(np.argmax(local), local.shape)
        return np.array([x0 + self.offsets[ix], y0 + self.offsets[iy]])


# --------------------------------------------------------------------------- passes


def _check_frames(block: np.ndarray, start: int, first: np.ndarray, state: dict[str, bool]) -> None:
    """NaN/inf and constant frames are errors; remember whether any frame differs from frame 0."""
    for k, frame in enumerate(block):
        if not np.isfinite(frame).all():
            raise ImageValueError(f"frame {start + k} has NaN/inf pixels; clean or drop it first")
        if frame.max() == frame.min():
            raise ImageValueError(f"frame {start + k} is constant; it cannot be registered")
        if not state["differs"] and not np.array_equal(frame, first):
            state["differs"] = True


def _sequential_pass(stack: LazyStack, cfg: DriftConfig, window: np.ndarray, tick: Callable[[int], None],
                     *, build_template: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """Frame-to-frame (or to-first) registration; returns cumulative (n, 2) and the mean template."""
    n = len(stack)
    shifts = np.zeros((n, 2))
    first = stack[0]
    state = {"differs": False}
    ref: np.ndarray | None = None
    template = None
    register = _Correlator(window.shape, cfg, cfg.coarse_factor if build_template else 1)
    for start, block in stack.batches(cfg.batch):
        _check_frames(block, start, first, state)
        spectra = _spectra(block, window, cfg.workers)
        for k, spec in enumerate(spectra):
            i = start + k
            if ref is not None:
                step = register(template if build_template else ref, spec)
                shifts[i] = shifts[i - 1] + step if cfg.reference == "previous" else step
            if ref is None or cfg.reference == "previous":
                ref = spec
            if build_template:  # running mean of the frames aligned so far (frame-0 coordinates)
                moved = spec * _ramp(window.shape, -shifts[i, 0], -shifts[i, 1])
                template = moved if template is None else template + moved
        tick(len(block))
    if not state["differs"]:
        raise ImageValueError(f"all {n} frames of {stack.name} are identical; there is no drift to measure")
    return shifts, template


def _template_pass(stack: LazyStack, cfg: DriftConfig, window: np.ndarray, template: np.ndarray,
                   tick: Callable[[int], None]) -> np.ndarray:
    """Register every frame against the mean template; shifts relative to frame 0."""
    shifts = np.zeros((len(stack), 2))
    register = _Correlator(window.shape, cfg)
    for start, block in stack.batches(cfg.batch):
        for k, spec in enumerate(_spectra(block, window, cfg.workers)):
            shifts[start + k] = register(template, spec)
        tick(len(block))
    return shifts - shifts[0]


def as_movie(movie: Any, *, pixel_size: str | Length | None = None) -> LazyStack:
    """The frames of any movie input (lazily, :func:`~rewardscope.io.load_input`); at least two.

    ``pixel_size`` overrides the input's own calibration.

    Raises
    ------
    ImageShapeError
        A single image, or frames of different sizes.
    """
    stack = load_input(movie, pixel_size, movie=True, name="movie").image
    if len(stack) < 2:
        raise ImageShapeError(f"{stack.name} is a single image; drift correction needs a movie of 2 or more frames")
    return stack


def estimate_drift(movie: LazyStack | np.ndarray | Sequence[np.ndarray] | str, *,
                   config: DriftConfig | None = None, progress: ProgressArg = None) -> pd.DataFrame:
    """Measure the drift of every frame relative to frame 0.

    Parameters
    ----------
    movie : LazyStack, numpy.ndarray (frames, rows, cols), list of 2-D arrays, or path
        The movie; paths are opened lazily with :func:`~rewardscope.io.lazy.open_stack`.
    config : DriftConfig, optional
        Reference, upsampling, taper and jump settings.
    progress : bool or callable, optional
        Progress per batch of frames (:mod:`rewardscope.progress`): stage ``"drift: registering
        frames"``, or with the ``mean`` reference ``"drift: running-mean pass"`` then
        ``"drift: template pass"``.

    Returns
    -------
    pandas.DataFrame
        ``frame, dx, dy, jump``: content displacement (px, x = column) relative to frame 0,
        and True on frames reached by a stage jump.

    Raises
    ------
    ImageShapeError
        A single image, or frames of different sizes.
    ImageValueError
        All frames identical, or a frame with NaN/inf or constant values.

    Examples
    --------
    >>> from scipy.ndimage import shift
    >>> rng = np.random.default_rng(0)
    >>> base = ndimage.gaussian_filter(rng.normal(size=(96, 96)), 1.5)
    >>> movie = np.stack([base, shift(base, (0.0, 2.5), order=3, mode="wrap")])
    >>> round(float(estimate_drift(movie, config=DriftConfig(reference="first")).dx[1]), 1)
    2.5
    """
    cfg = config or DriftConfig()
    stack = as_movie(movie)
    n = len(stack)
    mean = cfg.reference == "mean"
    window = _taper(stack.frame_shape, cfg.taper)
    # single-threaded BLAS: the small upsampled-DFT products get slower, not faster, with threads
    with progress_scope(progress) as report, scipy.fft.set_workers(cfg.workers), \
            threadpool_limits(limits=1, user_api="blas"):
        tick = start_stage(report, "drift: running-mean pass" if mean else "drift: registering frames", total=n,
                           unit="frames")
        shifts, template = _sequential_pass(stack, cfg, window, tick, build_template=mean)
        if template is not None:
            tick = start_stage(report, "drift: template pass", total=n, unit="frames")
            shifts = _template_pass(stack, cfg, window, template, tick)
    return pd.DataFrame({"frame": np.arange(n), "dx": shifts[:, 0], "dy": shifts[:, 1],
                         "jump": flag_jumps(shifts, config=cfg)})

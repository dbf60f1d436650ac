"""Sub-pixel refinement of peak positions: a quick parabolic fit and a Gaussian fit.

* :func:`refine_peaks` (per trial, microseconds): a separable parabola through each
  integer peak's 3 x 3 neighbourhood on the scale-space level that found it; offsets are
  clipped to half a pixel. Good enough for the rewards.
* :func:`fit_gaussians` (once, on the final atoms): a least-squares fit of a 2-D Gaussian
  plus constant background in a small window around every atom, all atoms at once
  (vectorised Levenberg-Marquardt in numpy). For Gaussian noise this is the maximum-
  likelihood position and gets close to the Cramér-Rao bound, whereas the parabola on a
  smoothed level is biased by the neighbouring columns the smoothing pulls in.
  scipy's ``curve_fit`` would need one Python call per atom (1000s per image).
* :func:`inside_image` (once, on the final atoms): no table has a centre outside the
  image. A fit near the edge can move a column out of the frame (its centre really lies
  outside and only its tail is in the image); such centres are dropped, and centres
  within the image's pixels but beyond the outermost pixel centres are clipped to them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def parabolic_offsets(minus: np.ndarray, centre: np.ndarray, plus: np.ndarray) -> np.ndarray:
    """Offset of the vertex of the parabola through (-1, minus), (0, centre), (1, plus).

    Parameters
    ----------
    minus, centre, plus : numpy.ndarray, shape (n,)
        Values left of, at, and right of each peak.

    Returns
    -------
    numpy.ndarray, shape (n,)
        Offsets in pixels, in [-0.5, 0.5] (0 where the curvature is not negative).

    Examples
    --------
    >>> parabolic_offsets(np.array([1.0]), np.array([2.0]), np.array([1.0])).tolist()
    [0.0]
    >>> round(float(parabolic_offsets(np.array([0.0]), np.array([1.0]), np.array([0.5]))[0]), 4)
    0.1667
    """
    curvature = minus - 2.0 * centre + plus
    with np.errstate(divide="ignore", invalid="ignore"):
        off = np.where(curvature < 0, 0.5 * (minus - plus) / curvature, 0.0)
    return np.clip(np.nan_to_num(off), -0.5, 0.5) + 0.0


def refine_peaks(plane_index: np.ndarray, rows: np.ndarray, cols: np.ndarray,
                 stack: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sub-pixel (x, y) of integer peaks by parabolic interpolation in a stack of planes.

    Parameters
    ----------
    plane_index : numpy.ndarray of int, shape (n,)
        Which plane of ``stack`` each peak was found in.
    rows, cols : numpy.ndarray of int, shape (n,)
        Integer peak positions.
    stack : numpy.ndarray, shape (n_planes, n_rows, n_cols)
        The response the peaks are maxima of.

    Returns
    -------
    x, y : numpy.ndarray, shape (n,)
        Refined positions in pixels (x = column). Peaks on the image edge keep their
        integer coordinate along that axis.

    Examples
    --------
    >>> yy, xx = np.mgrid[0:9, 0:9]
    >>> plane = np.exp(-((xx - 4.3) ** 2 + (yy - 3.8) ** 2) / 8.0)[None]
    >>> x, y = refine_peaks(np.array([0]), np.array([4]), np.array([4]), plane)
    >>> bool(abs(x[0] - 4.3) < 0.05 and abs(y[0] - 3.8) < 0.05)
    True
    """
    n_rows, n_cols = stack.shape[1:]
    k, r, c = (np.asarray(a, int) for a in (plane_index, rows, cols))
    x, y = c.astype(float), r.astype(float)
    inner_x = (c > 0) & (c < n_cols - 1)
    inner_y = (r > 0) & (r < n_rows - 1)
    cx, cy = np.clip(c, 1, n_cols - 2), np.clip(r, 1, n_rows - 2)
    centre = stack[k, r, c]
    x += np.where(inner_x, parabolic_offsets(stack[k, r, cx - 1], centre, stack[k, r, cx + 1]), 0.0)
    y += np.where(inner_y, parabolic_offsets(stack[k, cy - 1, c], centre, stack[k, cy + 1, c]), 0.0)
    return x, y


def fit_gaussians(image: np.ndarray, xy: np.ndarray, *, radius_px: int = 3, sigma_px: float = 1.0,
                  iterations: int = 8, max_shift_px: float | np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Fit ``b + A exp(-|r - r0|^2 / (2 s^2))`` around every point (vectorised).

    Parameters
    ----------
    image : numpy.ndarray, shape (rows, cols)
    xy : numpy.ndarray, shape (n, 2)
        Starting positions (x = column, y = row), pixels.
    radius_px : int
        Half-width of the square fit window, pixels (keep it below half the column spacing).
    sigma_px : float
        Starting Gaussian width, pixels.
    iterations : int
        Levenberg-Marquardt steps.
    max_shift_px : float or numpy.ndarray of shape (n,), optional
        Largest accepted move from the start (default ``radius_px / 2``).

    Returns
    -------
    dict of str to numpy.ndarray, each shape (n,)
        ``x``, ``y`` (pixels), ``amplitude``, ``sigma`` (pixels), ``background`` and
        ``converged`` (bool; False where the fit left the window or failed, and the
        starting position is returned instead).

    Examples
    --------
    >>> yy, xx = np.mgrid[0:16, 0:16]
    >>> img = 0.1 + np.exp(-((xx - 7.3) ** 2 + (yy - 8.6) ** 2) / (2 * 1.2 ** 2))
    >>> fit = fit_gaussians(img, np.array([[7.0, 9.0]]))
    >>> [round(float(fit[k][0]), 3) for k in ("x", "y", "sigma")]
    [7.3, 8.6, 1.2]
    """
    img = np.asarray(image, float)
    start = np.asarray(xy, float).reshape(-1, 2)
    r = max(int(radius_px), 1)
    off = np.arange(-r, r + 1)
    cx, cy = np.round(start[:, 0]).astype(int), np.round(start[:, 1]).astype(int)
    gx = cx[:, None, None] + off[None, None, :]
    gy = cy[:, None, None] + off[None, :, None]
    gx, gy = np.broadcast_arrays(gx, gy)
    inside = (gx >= 0) & (gx < img.shape[1]) & (gy >= 0) & (gy < img.shape[0])
    data = np.where(inside, img[np.clip(gy, 0, img.shape[0] - 1), np.clip(gx, 0, img.shape[1] - 1)], 0.0)
    w = inside.reshape(len(start), -1).astype(float)
    X, Y, D = (a.reshape(len(start), -1).astype(float) for a in (gx, gy, data))
    lo = np.where(w > 0, D, np.inf).min(1)
    p = np.column_stack([start, D.max(1) - lo, np.full(len(start), float(sigma_px)), lo])
    lam = np.full(len(start), 1e-2)
    cost = _gauss_cost(p, X, Y, D, w)
    for _ in range(int(iterations)):
        p, cost, lam = _lm_step(p, X, Y, D, w, lam, cost)
    shift = r / 2 if max_shift_px is None else np.asarray(max_shift_px, float)
    ok = (np.isfinite(p).all(1) & (np.hypot(p[:, 0] - start[:, 0], p[:, 1] - start[:, 1]) <= shift)
          & (p[:, 2] > 0) & (p[:, 3] > 0.2) & (p[:, 3] < 2 * r))
    x = np.where(ok, p[:, 0], start[:, 0])
    y = np.where(ok, p[:, 1], start[:, 1])
    return {"x": x, "y": y, "amplitude": p[:, 2], "sigma": np.abs(p[:, 3]), "background": p[:, 4],
            "converged": ok}


def _gauss_parts(p: np.ndarray, X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, ...]:
    """Offsets ``dx``, ``dy``, ``s^2``, ``r^2 = dx^2 + dy^2``, the unit Gaussian ``g`` and the model."""
    dx, dy = X - p[:, 0:1], Y - p[:, 1:2]
    s2 = p[:, 3:4] ** 2
    r2 = dx * dx + dy * dy
    g = np.exp(-r2 / (2 * s2))
    return dx, dy, s2, r2, g, p[:, 4:5] + p[:, 2:3] * g


def _gauss_model(p: np.ndarray, X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The model and its Jacobian in (x0, y0, A, s, b)."""
    dx, dy, s2, r2, g, model = _gauss_parts(p, X, Y)
    ag = p[:, 2:3] * g
    jac = np.stack([ag * dx / s2, ag * dy / s2, g, ag * r2 / (s2 * p[:, 3:4]), np.ones_like(g)], -1)
    return model, jac


def _gauss_cost(p: np.ndarray, X: np.ndarray, Y: np.ndarray, D: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted squared residuals per fit (the model only: no Jacobian)."""
    model = _gauss_parts(p, X, Y)[-1]
    return (w * (D - model) ** 2).sum(1)


def _lm_step(p: np.ndarray, X: np.ndarray, Y: np.ndarray, D: np.ndarray, w: np.ndarray, lam: np.ndarray,
             cost: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One damped Gauss-Newton step for every fit; accepted only where it lowers the cost."""
    model, jac = _gauss_model(p, X, Y)
    jw = jac * w[..., None]
    jtj = jw.transpose(0, 2, 1) @ jac
    jtr = (jw.transpose(0, 2, 1) @ (D - model)[..., None])[..., 0]
    diag = np.diagonal(jtj, axis1=1, axis2=2)
    a = jtj + (lam[:, None] * (diag + 1e-12))[:, :, None] * np.eye(5)[None]
    try:
        step = np.linalg.solve(a, jtr[..., None])[..., 0]
    except np.linalg.LinAlgError:
        step = np.zeros_like(p)
    trial = p + np.nan_to_num(step)
    new_cost = _gauss_cost(trial, X, Y, D, w)
    better = np.isfinite(new_cost) & (new_cost < cost)
    return (np.where(better[:, None], trial, p), np.where(better, new_cost, cost),
            np.where(better, lam * 0.3, lam * 10.0))


def inside_image(atoms: pd.DataFrame, shape: tuple[int, int]) -> tuple[pd.DataFrame, dict[str, int]]:
    """Keep atom centres inside the image: ``0 <= x <= cols - 1``, ``0 <= y <= rows - 1``.

    A centre outside the image's pixels (more than half a pixel beyond the outermost pixel
    centres, or not finite) is dropped; one within half a pixel is clipped onto the edge.

    Parameters
    ----------
    atoms : pandas.DataFrame
        With ``x``, ``y`` (pixels, x = column); other columns are kept.
    shape : (rows, cols)
        Image size.

    Returns
    -------
    atoms : pandas.DataFrame
        The kept rows (index reset), positions clipped.
    counts : dict
        ``{"dropped": n, "clipped": m}``.

    Examples
    --------
    >>> table = pd.DataFrame({"x": [-2.8, -0.3, 5.0, 9.4], "y": [3.0, 3.0, 3.0, 3.0]})
    >>> kept, counts = inside_image(table, (10, 10))
    >>> kept["x"].tolist(), counts
    ([0.0, 5.0, 9.0], {'dropped': 1, 'clipped': 2})
    """
    rows, cols = shape
    x, y = atoms["x"].to_numpy(float), atoms["y"].to_numpy(float)
    inside = (x >= -0.5) & (x <= cols - 0.5) & (y >= -0.5) & (y <= rows - 0.5)  # False for NaN
    x, y = x[inside], y[inside]
    cx, cy = np.clip(x, 0, cols - 1), np.clip(y, 0, rows - 1)
    kept = atoms.loc[inside].reset_index(drop=True)
    kept["x"], kept["y"] = cx, cy
    return kept, {"dropped": int((~inside).sum()), "clipped": int(((cx != x) | (cy != y)).sum())}

"""Sliding-window optimization: one study per window, warm-started from its neighbours, stitched.

Thickness, mis-tilt or contamination change image quality across a large field of view,
so one parameter set does not fit all of it (Barakati et al. 2024 propose a sliding
window). :func:`sliding_atoms` cuts the image into overlapping windows
(:func:`window_grid`: ``window`` px or a length, ``overlap`` px or a length; the last
window of a row or column is moved inwards so that all windows have the same size) and
optimizes each one on the shared optimizer (the atom method's workflow through
:func:`~rewardscope.workflows.base.run_workflow`, with the window's own expected count).

* **Warm start.** Window (row, col) starts its study with the Pareto sets of its upper and
  left neighbours (the existing warm start of :func:`~rewardscope.workflows.base.optimize`).
  The windows therefore form a wavefront: all windows of one anti-diagonal are independent
  tasks, which :class:`~rewardscope.parallel.Engine` runs in parallel (``scheduler``).
* **Too few columns.** A window whose chosen point has fewer than ``min_columns`` columns,
  a count reward (QC) above :data:`~rewardscope.workflows.plausibility.MAX_QC` or
  detections that do not form the lattice (lattice order below
  :func:`~rewardscope.detect.lattice.order.min_lattice_order` of their number: its rewards cannot judge it,
  e.g. vacuum or contamination, where LoG* meets the count with noise) or that finds nothing borrows the
  chosen parameters of its nearest good neighbour and runs once at them (``status``
  ``borrowed`` in the window table) instead of failing.
* **Stitching without duplicates.** The cores of the windows (each window less half the
  overlap on each inner side) tile the image. Each window contributes its columns inside
  its core plus a margin of half the smallest column distance; columns of different
  windows closer than that are one site, kept from the window whose core holds their mean
  position; so every site is reported once, also when two windows place it on either
  side of a seam.
* **Map.** ``windows`` (a table, ``windows.csv``): per window its bounds, status, chosen
  parameters, reward values, hypervolume, columns and seconds (plotted by
  :func:`rewardscope.report.windows.plot_window_map`).

The windowing, the wavefront and the seam rule are ours (no library tiles an
optimization with warm starts); the execution is dask's (:mod:`rewardscope.parallel`).
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from rewardscope.detect.lattice.order import MIN_LATTICE_ORDER
from rewardscope.errors import InputError, ParameterError
from rewardscope.io.load import Input
from rewardscope.optimize.settings import StudySettings
from rewardscope.parallel import Engine
from rewardscope.progress import ProgressArg, progress_scope, start_stage
from rewardscope.rewards.atoms import ATOM_REWARDS, AtomRewardContext
from rewardscope.units import Length, size_in_px
from rewardscope.workflows.atoms_base import AtomsConfig, AtomsResult
from rewardscope.workflows.base import run_workflow
from rewardscope.workflows.plausibility import MAX_QC, cell_size_px
from rewardscope.workflows.windows_config import WindowConfig, window_config  # noqa: F401  (re-exported)

#: A window must span at least this many unit cells (the rewards need whole cells).
MIN_WINDOW_CELLS = 4
#: Pareto points passed on from the neighbours as a window's warm start, at most.
MAX_WARM = 32


@dataclass(frozen=True)
class Window:
    """One window of the grid: its bounds and its core (the part it owns), half-open px ranges.

    Attributes
    ----------
    index, row, col : int
        Position in the grid (row-major index).
    y0, y1, x0, x1 : int
        The window (rows y0:y1, columns x0:x1).
    cy0, cy1, cx0, cx1 : int
        Its core: the cores of all windows tile the image without overlap.
    """

    index: int
    row: int
    col: int
    y0: int
    y1: int
    x0: int
    x1: int
    cy0: int
    cy1: int
    cx0: int
    cx1: int

    def owns(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """True where the global position (x, y) px lies in this window's core (centres of pixels)."""
        return (x >= self.cx0 - 0.5) & (x < self.cx1 - 0.5) & (y >= self.cy0 - 0.5) & (y < self.cy1 - 0.5)


def _starts(length: int, window: int, overlap: int) -> list[int]:
    """Window starts along one axis: equal windows, neighbours overlapping by at least ``overlap``."""
    if length <= window:
        return [0]
    n = math.ceil((length - window) / (window - overlap)) + 1
    return [int(round(s)) for s in np.linspace(0, length - window, n)]


def window_grid(shape: Sequence[int], *, window_px: int, overlap_px: int) -> list[Window]:
    """The windows covering an image of ``shape`` (rows, cols), row by row.

    Examples
    --------
    >>> grid = window_grid((100, 60), window_px=48, overlap_px=8)
    >>> [(w.row, w.col, w.y0, w.y1, w.cy0, w.cy1) for w in grid if w.col == 0]
    [(0, 0, 0, 48, 0, 37), (1, 0, 26, 74, 37, 63), (2, 0, 52, 100, 63, 100)]
    >>> sum((w.cy1 - w.cy0) * (w.cx1 - w.cx0) for w in grid) == 100 * 60
    True
    """
    rows, cols = (int(s) for s in shape[:2])
    if overlap_px >= window_px:
        raise ParameterError(f"overlap ({overlap_px} px) must be smaller than the window ({window_px} px)")
    ys, xs = _starts(rows, window_px, overlap_px), _starts(cols, window_px, overlap_px)

    def bounds(starts: list[int], length: int) -> list[tuple[int, int, int, int]]:
        ends = [min(s + window_px, length) for s in starts]
        cuts = [0] + [(ends[k] + starts[k + 1]) // 2 for k in range(len(starts) - 1)] + [length]
        return [(starts[k], ends[k], cuts[k], cuts[k + 1]) for k in range(len(starts))]

    out = []
    for r, (y0, y1, cy0, cy1) in enumerate(bounds(ys, rows)):
        for c, (x0, x1, cx0, cx1) in enumerate(bounds(xs, cols)):
            out.append(Window(len(out), r, c, y0, y1, x0, x1, cy0, cy1, cx0, cx1))
    return out


def window_sizes_px(config: WindowConfig, pixel_size: Length | None, crystal: Any = None) -> tuple[int, int]:
    """(window, overlap) in whole pixels, checked: overlap below the window, window >= 4 unit cells.

    Examples
    --------
    >>> window_sizes_px(WindowConfig(window="2nm", overlap="8px"), Length(0.5, "A"))
    (40, 8)
    """
    window = size_in_px(config.window, pixel_size, "window")
    overlap = size_in_px(config.overlap, pixel_size, "overlap")
    if crystal is not None and pixel_size is not None:
        cell = cell_size_px(crystal, pixel_size)[1]
        if window < MIN_WINDOW_CELLS * cell:
            raise ParameterError(f"--window {config.window.text} ({window:.0f} px) is smaller than "
                                 f"{MIN_WINDOW_CELLS} unit cells of {getattr(crystal, 'name', 'the lattice')} "
                                 f"({MIN_WINDOW_CELLS} x {cell:.1f} px); give at least "
                                 f"{math.ceil(MIN_WINDOW_CELLS * cell)}px")
    if overlap >= window:
        raise ParameterError(f"--overlap {config.overlap.text} ({overlap:.0f} px) must be smaller than "
                             f"--window {config.window.text} ({window:.0f} px)")
    return int(round(window)), int(round(overlap))


# --------------------------------------------------------------------------- one window (a task)


@dataclass
class WindowJob:
    """What a window task needs (pickled to a worker).

    Attributes
    ----------
    window : Window
    image : numpy.ndarray
        The window's pixels.
    pixel_size : Length
    config : AtomsConfig
        With the window's own expected count (when the whole image's was given).
    crystal : ProjectedCrystal
    factory : callable
        The atom method's workflow factory (see :mod:`rewardscope.workflows.atoms`).
    rewards : mapping, optional
    min_columns : int
    """

    window: Window
    image: np.ndarray
    pixel_size: Length
    config: AtomsConfig
    crystal: Any
    factory: Callable[..., Any]
    rewards: Mapping[str, Any] | None
    min_columns: int


@dataclass
class WindowOutcome:
    """What a window task returns.

    Attributes
    ----------
    window : Window
    status : str
        ``optimized``, ``borrowed`` (ran at a neighbour's parameters), ``too_few`` (to borrow) or
        ``unjudged`` (too few columns and no good window to borrow from: its own result, with a warning).
    params, values : dict
        The chosen parameters and their reward values.
    warm : list of dict
        Parameter sets passed on to the neighbours (this window's Pareto set; a window that
        has to borrow passes on what it got).
    atoms : DataFrame
        Columns in image coordinates with ``window``: those within the core + margin.
    trials, pareto : DataFrame
        The window's study, with ``window``.
    """

    window: Window
    status: str
    params: dict[str, Any] = field(default_factory=dict)
    values: dict[str, float] = field(default_factory=dict)
    warm: list[dict[str, Any]] = field(default_factory=list)
    atoms: pd.DataFrame = field(default_factory=pd.DataFrame)
    trials: pd.DataFrame = field(default_factory=pd.DataFrame)
    pareto: pd.DataFrame = field(default_factory=pd.DataFrame)
    hypervolume: float | None = None
    n_found: int = 0
    n_expected: float = 0.0
    borrowed_from: int | None = None
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _merge_warm(neighbours: Sequence[WindowOutcome]) -> list[dict[str, Any]] | None:
    """The neighbours' Pareto sets, without repeats, at most :data:`MAX_WARM`."""
    seen, out = set(), []
    for nb in neighbours:
        for p in nb.warm:
            key = tuple(sorted(p.items()))
            if key not in seen:
                seen.add(key)
                out.append(dict(p))
    return out[:MAX_WARM] or None


def _workflow(job: WindowJob, fixed: Mapping[str, Any] | None = None) -> Any:
    """The window's workflow: the method's (or plain LoG at ``fixed``), its prior from the window's own size.

    The atom rewards weigh columns near the window's edges down (the edge window of
    :mod:`rewardscope.rewards.atoms`), so edge blobs do not stand in for faint inner columns.
    """
    from rewardscope.workflows.atoms_log import LogStarWorkflow

    ps = job.pixel_size
    context = AtomRewardContext.from_lattice(job.crystal, shape=job.image.shape, pixel_size=ps,
                                             k=job.config.k_neighbours, er_factor=job.config.er_factor,
                                             n_expected=job.config.n_expected)
    scale = job.config.reference_pixel_size.angstrom / ps.angstrom
    if fixed is not None:
        return LogStarWorkflow(config=job.config, context=context, crystal=job.crystal, sigma_scale=scale,
                               rewards=job.rewards, fixed=fixed)
    return job.factory(job.config, context, crystal=job.crystal, sigma_scale=scale, rewards=job.rewards)


def _run(job: WindowJob, warm: list[dict[str, Any]] | None, fixed: Mapping[str, Any] | None = None) -> AtomsResult:
    wf = _workflow(job, fixed)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run_workflow(wf, Input(job.image, job.pixel_size), job.config, warm_start=warm, progress=False)
    result.summary["window_warnings"] = [str(w.message) for w in caught]
    return result


def _outcome(job: WindowJob, result: AtomsResult, status: str, *, margin_px: float, t0: float,
             borrowed_from: int | None = None, warm: list[dict[str, Any]] | None = None) -> WindowOutcome:
    w = job.window
    s = result.summary
    atoms = result.atoms.copy()
    atoms["x"] += w.x0
    atoms["y"] += w.y0
    keep = ((atoms["x"] >= w.cx0 - 0.5 - margin_px) & (atoms["x"] < w.cx1 - 0.5 + margin_px)
            & (atoms["y"] >= w.cy0 - 0.5 - margin_px) & (atoms["y"] < w.cy1 - 0.5 + margin_px))
    atoms = atoms[keep].reset_index(drop=True)
    atoms.insert(0, "window", w.index)
    names = list(s["best_params"])
    pareto = result.pareto
    own_warm = [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
                for row in pareto[[c for c in names if c in pareto.columns]].to_dict("records")]
    return WindowOutcome(window=w, status=status, params=dict(s["best_params"]), values=dict(s["best_values"]),
                         warm=own_warm if warm is None else warm, atoms=atoms,
                         trials=result.trials.assign(window=w.index), pareto=pareto.assign(window=w.index),
                         hypervolume=s.get("hypervolume"), n_found=int(s["n_atoms"]),
                         n_expected=float(s["n_expected"]), borrowed_from=borrowed_from,
                         warnings=[f"window {w.index}: {m}" for m in s.get("window_warnings", [])],
                         seconds=time.perf_counter() - t0)


def margin_px(job_or_crystal: Any, pixel_size: Length) -> float:
    """The seam margin: half the crystal's smallest ideal column distance, px."""
    crystal = getattr(job_or_crystal, "crystal", job_or_crystal)
    return 0.5 * crystal.min_nn_distance_angstrom / pixel_size.angstrom


def optimize_window(job: WindowJob, *neighbours: WindowOutcome) -> WindowOutcome:
    """Task: the study of one window, warm-started from the neighbours' Pareto sets.

    Returns ``status="too_few"`` (with what it found, and the neighbours' warm sets to pass
    on) when the window's rewards cannot judge it; :func:`borrow_window` then finishes it.
    """
    t0 = time.perf_counter()
    warm = _merge_warm(neighbours)
    margin = margin_px(job, job.pixel_size)
    try:
        result = _run(job, warm)
    except InputError:  # nothing found at any parameter set
        return WindowOutcome(window=job.window, status="too_few", warm=warm or [], seconds=time.perf_counter() - t0)
    s = result.summary
    qc = s["best_values"].get("qc")
    plaus = s.get("plausibility", {})
    order, needed = plaus.get("lattice_order", 1.0), plaus.get("lattice_order_needed", MIN_LATTICE_ORDER)
    if s["n_atoms"] < job.min_columns or (qc is not None and qc > MAX_QC) or not order >= needed:
        out = _outcome(job, result, "too_few", margin_px=margin, t0=t0, warm=warm or [])
        return out
    return _outcome(job, result, "optimized", margin_px=margin, t0=t0)


def borrow_window(job: WindowJob, donor: WindowOutcome) -> WindowOutcome:
    """Task: run a window once at a good neighbour's chosen parameters (plain LoG at them)."""
    t0 = time.perf_counter()
    fixed = {k: donor.params[k] for k in ("min_sigma", "max_sigma", "num_sigma", "threshold", "overlap")}
    fixed["num_sigma"] = int(fixed["num_sigma"])
    try:
        result = _run(job, None, fixed=fixed)
    except InputError:
        return WindowOutcome(window=job.window, status="borrowed", params=dict(donor.params),
                             borrowed_from=donor.window.index, seconds=time.perf_counter() - t0)
    out = _outcome(job, result, "borrowed", margin_px=margin_px(job, job.pixel_size), t0=t0,
                   borrowed_from=donor.window.index)
    out.params = dict(donor.params)
    return out


# --------------------------------------------------------------------------- stitching


def stitch_atoms(outcomes: Sequence[WindowOutcome], *, radius_px: float) -> pd.DataFrame:
    """One column per site from the windows' columns (see the module text: cores, margin, seam rule).

    Examples
    --------
    >>> grid = window_grid((40, 80), window_px=48, overlap_px=16)
    >>> a = WindowOutcome(grid[0], "optimized", atoms=pd.DataFrame({"window": 0, "x": [10.0, 39.6], "y": [5.0, 5.0]}))
    >>> b = WindowOutcome(grid[1], "optimized", atoms=pd.DataFrame({"window": 1, "x": [40.2, 60.0], "y": [5.1, 5.2]}))
    >>> kept = stitch_atoms([a, b], radius_px=2.0)
    >>> kept["window"].tolist(), kept["x"].tolist()
    ([0, 1, 1], [10.0, 40.2, 60.0])
    """
    parts = [o.atoms for o in outcomes if len(o.atoms)]
    if not parts:
        return pd.DataFrame(columns=["window", "x", "y"])
    atoms = pd.concat(parts, ignore_index=True)
    xy = atoms[["x", "y"]].to_numpy(float)
    win = atoms["window"].to_numpy()
    windows = {o.window.index: o.window for o in outcomes}
    pairs = cKDTree(xy).query_pairs(radius_px, output_type="ndarray")
    pairs = pairs[win[pairs[:, 0]] != win[pairs[:, 1]]] if len(pairs) else pairs
    parent = np.arange(len(xy))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in pairs:
        ri, rj = find(int(i)), find(int(j))
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    roots = np.array([find(i) for i in range(len(xy))])
    keep = np.ones(len(xy), bool)
    for root in np.unique(roots[np.bincount(roots, minlength=len(xy))[roots] > 1]):
        members = np.flatnonzero(roots == root)
        mx, my = xy[members].mean(axis=0)
        owner = next((k for k, w in windows.items() if w.owns(np.array(mx), np.array(my))), None)
        if owner is None or not np.any(win[members] == owner):  # the owner did not see it: the nearest core
            owner = min(set(win[members].tolist()), key=lambda k: _core_distance(windows[k], mx, my))
        keep[members[win[members] != owner]] = False
    return atoms[keep].sort_values(["window", "y", "x"], kind="stable").reset_index(drop=True)


def _core_distance(w: Window, x: float, y: float) -> float:
    dx = max(w.cx0 - 0.5 - x, 0.0, x - (w.cx1 - 0.5))
    dy = max(w.cy0 - 0.5 - y, 0.0, y - (w.cy1 - 0.5))
    return float(np.hypot(dx, dy))


def window_table(outcomes: Sequence[WindowOutcome], objective_names: Sequence[str],
                 stitched: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per window: bounds, core, status, parameters, reward values, columns, hypervolume, seconds.

    Columns: ``n_found`` (the window's own result), ``n_candidates`` (those in its core +
    margin), ``n_kept`` (those in the stitched result, when ``stitched`` is given).
    """
    kept = stitched["window"].value_counts() if stitched is not None and len(stitched) else pd.Series(dtype=int)
    rows = []
    for o in sorted(outcomes, key=lambda o: o.window.index):
        w = o.window
        row: dict[str, Any] = {"window": w.index, "row": w.row, "col": w.col, "x0": w.x0, "x1": w.x1, "y0": w.y0,
                               "y1": w.y1, "core_x0": w.cx0, "core_x1": w.cx1, "core_y0": w.cy0, "core_y1": w.cy1,
                               "status": o.status, "borrowed_from": o.borrowed_from}
        row.update({k: o.params.get(k) for k in o.params})
        row.update({k: o.values.get(k) for k in objective_names})
        row.update({"n_found": o.n_found, "n_candidates": int(len(o.atoms)), "n_kept": int(kept.get(w.index, 0)),
                    "n_expected": o.n_expected,
                    "hypervolume": o.hypervolume, "seconds": o.seconds})
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- the call


def _nearest_good(w: Window, done: Mapping[int, WindowOutcome]) -> WindowOutcome | None:
    good = [o for o in done.values() if o.status == "optimized"]
    if not good:
        return None
    return min(good, key=lambda o: (abs(o.window.row - w.row) + abs(o.window.col - w.col), o.window.index))


def _summary(outcomes: Sequence[WindowOutcome], atoms: pd.DataFrame, *, inp: Input, config: AtomsConfig,
             windows: WindowConfig, sizes: tuple[int, int], grid: list[Window], context: AtomRewardContext,
             rewards: Mapping[str, Any], seconds: float) -> dict[str, Any]:
    good = [o for o in outcomes if o.status == "optimized"]
    names = list(rewards)
    params = pd.DataFrame([o.params for o in good]) if good else pd.DataFrame()
    best_params = {k: (int(round(float(params[k].median()))) if k == "num_sigma" else float(params[k].median()))
                   for k in params.columns}
    values = {k: float(fn(atoms, context)) for k, fn in rewards.items()} if len(atoms) else {}
    hv = [o.hypervolume for o in good if o.hypervolume is not None]
    n_rows, n_cols = grid[-1].row + 1, grid[-1].col + 1
    return {"workflow": "SlidingWindow", "pixel_size_angstrom": inp.pixel_size.angstrom,
            "image_shape": list(inp.image.shape), "objectives": names, "best_params": best_params,
            "best_values": values, "hypervolume": float(np.mean(hv)) if hv else None,
            "hypervolume_reference": [1.0] * len(names),
            "n_trials": int(sum(len(o.trials) for o in outcomes)),
            "n_pareto": int(sum(len(o.pareto) for o in outcomes)),
            "study": config.study.model_dump(mode="json"),
            "seconds": {"total": seconds, "windows": float(sum(o.seconds for o in outcomes))},
            "method": config.method, "lattice": getattr(context, "name", None) or config.lattice,
            "n_atoms": int(len(atoms)), "n_expected": context.n_expected,
            "windows": {"window_px": sizes[0], "overlap_px": sizes[1], "grid": [n_rows, n_cols],
                        "n_windows": len(grid), "n_optimized": len(good),
                        "n_borrowed": sum(o.status == "borrowed" for o in outcomes),
                        "scheduler": windows.parallel.scheduler, "workers": windows.parallel.workers,
                        "min_columns": windows.min_columns,
                        "best_params": "median over the optimized windows (each window's: windows.csv)",
                        "best_values": "rewards of the stitched columns against the whole image's prior",
                        "hypervolume": "mean over the optimized windows"},
            "warnings": [m for o in outcomes for m in o.warnings],
            "config": config.model_dump(mode="json"), "window_config": windows.model_dump(mode="json")}


def sliding_atoms(inp: Input, config: AtomsConfig, *, crystal: Any, factory: Callable[..., Any],
                  windows: WindowConfig, rewards: Mapping[str, Any] | None = None,
                  progress: ProgressArg = False, engine: Engine | None = None) -> AtomsResult:
    """Atoms of a large image by sliding windows (what ``find_atoms(..., window=...)`` runs).

    Parameters
    ----------
    inp : Input
        The loaded image with its pixel size.
    config : AtomsConfig
        The atom settings (``n_expected``, if given, is for the whole image: scaled per window).
    crystal : ProjectedCrystal
    factory : callable
        The atom method's workflow factory (``log-star``).
    windows : WindowConfig
        Window side, overlap, ``min_columns``, scheduler.
    rewards : mapping, optional
    progress : bool or callable
        Stage ``"optimizing windows"``, one unit per window.
    engine : Engine, optional
        An open engine to use (default: one from ``windows.parallel``).

    Returns
    -------
    AtomsResult
        ``atoms`` (stitched, with ``window``), ``trials`` and ``pareto`` (with ``window``),
        ``windows`` (the map); the summary in the one schema (see ``summary["windows"]``
        for what ``best_params``, ``best_values`` and ``hypervolume`` mean here).

    Examples
    --------
    >>> from rewardscope.physics import get_lattice
    >>> from rewardscope.simulate import simulate_haadf
    >>> from rewardscope.workflows.atoms_log import log_star_workflow
    >>> sim = simulate_haadf("srtio3-001", size=96, noise=0.05, seed=0)
    >>> from rewardscope.config import make_config
    >>> res = sliding_atoms(Input(sim.image, sim.pixel_size), make_config(AtomsConfig, lattice="srtio3-001", trials=15),
    ...                     crystal=get_lattice("srtio3-001"), factory=log_star_workflow,
    ...                     windows=WindowConfig(window="64px", overlap="16px", scheduler="serial"))
    >>> res.tables["windows"]["status"].tolist(), abs(len(res.atoms) - len(sim.truth)) < 8
    (['optimized', 'optimized', 'optimized', 'optimized'], True)
    """
    if config.method not in ("log-star", "log"):
        raise ParameterError(f"sliding windows work with the LoG methods (log-star, log), not {config.method!r}")
    t0 = time.perf_counter()
    ps = inp.require_pixel_size("atom finding")
    image = np.asarray(inp.image)
    sizes = window_sizes_px(windows, ps, crystal)
    grid = window_grid(image.shape, window_px=sizes[0], overlap_px=sizes[1])
    whole = AtomRewardContext.from_lattice(crystal, shape=image.shape, pixel_size=ps, k=config.k_neighbours,
                                           er_factor=config.er_factor, n_expected=config.n_expected)

    def job(w: Window) -> WindowJob:
        cfg = config
        if config.n_expected is not None:
            share = (w.y1 - w.y0) * (w.x1 - w.x0) / image.size
            cfg = config.model_copy(update={"n_expected": config.n_expected * share})
        return WindowJob(window=w, image=np.ascontiguousarray(image[w.y0:w.y1, w.x0:w.x1]), pixel_size=ps,
                         config=cfg, crystal=crystal, factory=factory, rewards=rewards,
                         min_columns=windows.min_columns)

    own = engine is None
    engine = engine or Engine(windows.parallel.scheduler, workers=windows.parallel.workers)
    done: dict[int, WindowOutcome] = {}
    try:
        if own:
            engine.__enter__()
        with progress_scope(progress) as report:
            advance = start_stage(report, "optimizing windows", total=len(grid), unit="windows")
            by_pos: dict[tuple[int, int], Any] = {}
            tasks = []
            for w in grid:  # row-major: the upper and left neighbours are submitted first
                deps = [by_pos[p] for p in ((w.row - 1, w.col), (w.row, w.col - 1)) if p in by_pos]
                by_pos[(w.row, w.col)] = engine.submit(optimize_window, job(w), *deps)
                tasks.append(by_pos[(w.row, w.col)])
            for _, outcome in engine.as_completed(tasks):
                done[outcome.window.index] = outcome
                if outcome.status != "too_few":
                    advance()
            borrow = []
            for w in grid:
                if done[w.index].status == "too_few":
                    donor = _nearest_good(w, done)
                    if donor is None:  # nobody to borrow from: keep what the window found, and say so
                        kept = done[w.index]
                        kept.status = "unjudged"
                        kept.warnings.append(f"window {w.index}: too few columns for its rewards and no "
                                             "neighbour with enough to borrow parameters from")
                        advance()
                        continue
                    borrow.append(engine.submit(borrow_window, job(w), donor))
            for _, outcome in engine.as_completed(borrow):
                done[outcome.window.index] = outcome
                advance()
    finally:
        if own:
            engine.__exit__(None, None, None)
    outcomes = [done[w.index] for w in grid]
    atoms = stitch_atoms(outcomes, radius_px=margin_px(crystal, ps))
    reward_fns = dict(rewards or ATOM_REWARDS)
    names = list(reward_fns)
    summary = _summary(outcomes, atoms, inp=inp, config=config, windows=windows, sizes=sizes, grid=grid,
                       context=whole, rewards=reward_fns, seconds=time.perf_counter() - t0)
    summary["lattice"] = getattr(crystal, "name", config.lattice)
    table = window_table(outcomes, names, atoms)
    trials = pd.concat([o.trials for o in outcomes if len(o.trials)], ignore_index=True)
    pareto = pd.concat([o.pareto for o in outcomes if len(o.pareto)], ignore_index=True)
    return AtomsResult(tables={"atoms": atoms, "trials": trials, "pareto": pareto, "windows": table},
                       summary=summary, image=image, pixel_size=ps,
                       extras={"context": whole, "crystal": crystal, "outcomes": outcomes})


# --------------------------------------------------------------------------- particle segmentation


@dataclass
class SegmentWindowJob:
    """What a segmentation window task needs: the window, its pixels, the settings."""

    window: Window
    image: np.ndarray
    pixel_size: Length | None
    config: Any
    rewards: Mapping[str, Any] | None = None
    split_rewards: Mapping[str, Any] | None = None


def segment_window(job: SegmentWindowJob, *neighbours: WindowOutcome,
                   params: Mapping[str, Any] | None = None) -> WindowOutcome:
    """Task: both segmentation studies on one window (warm-started from a neighbour's choice), or one run at ``params``.

    A window the studies cannot judge (a constant patch: an :class:`InputError`) borrows
    (``status="too_few"``, finished by :func:`sliding_particles`).
    """
    from rewardscope.workflows.particles import make_workflow

    t0 = time.perf_counter()
    wf = make_workflow(job.config, job.pixel_size, rewards=job.rewards, split_rewards=job.split_rewards)
    warm = next((dict(nb.params) for nb in neighbours if nb.status == "optimized"), None)
    try:
        state = wf.prepare(job.image, name=f"window {job.window.index}")
        if params is not None:
            seg = wf.run(state, {k: v for k, v in params.items() if v is not None})
            return WindowOutcome(window=job.window, status="borrowed", params=dict(params),
                                 values={k: float(fn(seg, wf.context)) for k, fn in wf.rewards.items()},
                                 atoms=pd.DataFrame({"labels": [seg.labels]}), n_found=int(seg.n_particles),
                                 seconds=time.perf_counter() - t0)
        chosen = wf.choose(state, job.config.study, warm=warm)
    except InputError:
        return WindowOutcome(window=job.window, status="too_few", seconds=time.perf_counter() - t0)
    fg = chosen.studies["foreground"]
    return WindowOutcome(window=job.window, status="optimized", params=chosen.params, values=chosen.reference,
                         warm=[chosen.params], atoms=pd.DataFrame({"labels": [chosen.output.labels]}),
                         trials=chosen.table("trials").assign(window=job.window.index),
                         pareto=chosen.table("pareto").assign(window=job.window.index),
                         hypervolume=fg.hypervolume, n_found=int(chosen.output.n_particles),
                         seconds=time.perf_counter() - t0)


def stitch_labels(outcomes: Sequence[WindowOutcome], shape: Sequence[int]) -> np.ndarray:
    """One label image from the windows' labels: each core from its window, particles merged across seams.

    Two labels touching across a core boundary (4-neighbours on either side, both
    foreground) are one particle (union-find), so a particle cut by a seam is counted once.

    Examples
    --------
    >>> grid = window_grid((8, 12), window_px=8, overlap_px=4)
    >>> lab = np.zeros((8, 8), int); lab[2:5, 3:8] = 1
    >>> a = WindowOutcome(grid[0], "optimized", atoms=pd.DataFrame({"labels": [lab]}))
    >>> lab2 = np.zeros((8, 8), int); lab2[2:5, 0:5] = 7
    >>> b = WindowOutcome(grid[1], "optimized", atoms=pd.DataFrame({"labels": [lab2]}))
    >>> out = stitch_labels([a, b], (8, 12))
    >>> int(out.max()), sorted(np.unique(out[2]).tolist())
    (1, [0, 1])
    """
    out = np.zeros(tuple(int(v) for v in shape[:2]), np.int64)
    offset = 0
    for o in outcomes:
        if not len(o.atoms):
            continue
        w = o.window
        lab = np.asarray(o.atoms["labels"].iloc[0])[w.cy0 - w.y0:w.cy1 - w.y0, w.cx0 - w.x0:w.cx1 - w.x0]
        out[w.cy0:w.cy1, w.cx0:w.cx1] = np.where(lab > 0, lab.astype(np.int64) + offset, 0)
        offset += int(lab.max()) + 1
    parent = np.arange(offset + 1)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    cuts_x = sorted({o.window.cx0 for o in outcomes if o.window.cx0 > 0})
    cuts_y = sorted({o.window.cy0 for o in outcomes if o.window.cy0 > 0})
    pairs = [np.stack([out[:, c - 1], out[:, c]], 1) for c in cuts_x] + \
            [np.stack([out[c - 1, :], out[c, :]], 1) for c in cuts_y]
    for pair in pairs:
        for a, b in np.unique(pair[(pair[:, 0] > 0) & (pair[:, 1] > 0)], axis=0):
            ra, rb = find(int(a)), find(int(b))
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    roots = np.array([find(i) for i in range(offset + 1)])
    merged = roots[out]
    _, relabelled = np.unique(merged, return_inverse=True)
    return relabelled.reshape(out.shape).astype(np.int32)


def sliding_particles(image: Any, *, config: Any = None, window: Any = "512px", overlap: Any = None,
                      scheduler: Any = None, workers: int | None = None, rewards: Mapping[str, Any] | None = None,
                      split_rewards: Mapping[str, Any] | None = None, progress: ProgressArg = False,
                      **overrides: Any) -> Any:
    """Particles of a large image by sliding windows: both studies per window, labels merged across seams.

    Parameters are those of :func:`~rewardscope.workflows.particles.segment_image` plus
    ``window``, ``overlap``, ``scheduler`` and ``workers`` (:class:`WindowConfig`). A window
    whose studies fail (e.g. a constant patch) borrows its nearest good neighbour's parameters.

    Returns
    -------
    ParticleResult
        ``particles`` (measured on the stitched labels), ``masks``, ``trials``/``pareto``
        (with ``window``), ``windows`` (the map: chosen ``sigma_px``, ``split_depth_px`` and
        rewards per window).

    Examples
    --------
    >>> yy, xx = np.mgrid[:96, :160]
    >>> img = 1.0 - (((yy - 48) ** 2 + (xx - 80) ** 2 < 14 ** 2) | ((yy - 20) ** 2 + (xx - 20) ** 2 < 9 ** 2))
    >>> img = img + np.random.default_rng(0).normal(0, .2, img.shape)
    >>> res = sliding_particles(img, window="96px", overlap="32px", scheduler="serial", trials=10, split_trials=0)
    >>> len(res.particles), len(res.tables["windows"])
    (2, 2)
    """
    from rewardscope.config import make_config
    from rewardscope.segment.measure import measure_particles
    from rewardscope.workflows.particles import ParticleResult, SegmentConfig, segmentation_summary

    t0 = time.perf_counter()
    cfg = make_config(SegmentConfig, config, **overrides)
    from rewardscope.io.load import load_input

    inp = load_input(image, cfg.pixel_size)
    img = np.asarray(inp.image)
    wcfg = window_config(window=window, overlap=overlap, scheduler=scheduler if isinstance(scheduler, str) else None,
                         workers=workers)
    sizes = window_sizes_px(wcfg, inp.pixel_size)
    grid = window_grid(img.shape, window_px=sizes[0], overlap_px=sizes[1])

    def job(w: Window) -> SegmentWindowJob:
        return SegmentWindowJob(w, np.ascontiguousarray(img[w.y0:w.y1, w.x0:w.x1]), inp.pixel_size, cfg, rewards,
                                split_rewards)

    done: dict[int, WindowOutcome] = {}
    engine = Engine(scheduler if scheduler is not None and not isinstance(scheduler, str)
                    else wcfg.parallel.scheduler, workers=wcfg.parallel.workers)
    with engine, progress_scope(progress) as report:
        advance = start_stage(report, "optimizing windows", total=len(grid), unit="windows")
        by_pos: dict[tuple[int, int], Any] = {}
        for w in grid:
            deps = [by_pos[p] for p in ((w.row - 1, w.col), (w.row, w.col - 1)) if p in by_pos]
            by_pos[(w.row, w.col)] = engine.submit(segment_window, job(w), *deps)
        for _, outcome in engine.as_completed(list(by_pos.values())):
            done[outcome.window.index] = outcome
            advance()
        retry = []
        for w in grid:
            if done[w.index].status == "too_few":
                donor = _nearest_good(w, done)
                if donor is None:
                    raise ParameterError("no window could be segmented; check the image or use a larger --window")
                retry.append((engine.submit(segment_window, job(w), params=donor.params), donor.window.index))
        for task, donor_index in retry:
            outcome = engine.result(task)
            outcome.borrowed_from = donor_index
            done[outcome.window.index] = outcome
    outcomes = [done[w.index] for w in grid]
    labels = stitch_labels(outcomes, img.shape)
    particles = measure_particles(labels, img, pixel_size=inp.pixel_size)
    names = list(next(o.values for o in outcomes if o.status == "optimized"))
    table = window_table(outcomes, names)
    table = table.drop(columns=["n_candidates", "n_kept"]).rename(columns={"n_found": "n_particles"})
    good = [o for o in outcomes if o.status == "optimized"]
    params = pd.DataFrame([o.params for o in good])
    summary = {"workflow": "SlidingWindow(ForegroundWorkflow)",
               "pixel_size_angstrom": inp.pixel_size.angstrom if inp.pixel_size else None,
               "image_shape": list(img.shape), "objectives": names,
               "best_params": {k: float(params[k].median()) for k in params.columns if params[k].notna().any()},
               "best_values": {k: float(np.median([o.values[k] for o in good])) for k in names},
               "hypervolume": float(np.mean([o.hypervolume for o in good if o.hypervolume is not None])),
               "hypervolume_reference": None, "n_trials": int(sum(len(o.trials) for o in outcomes)),
               "n_pareto": int(sum(len(o.pareto) for o in outcomes)), "study": cfg.study.model_dump(mode="json"),
               "seconds": {"total": time.perf_counter() - t0}, "config": cfg.model_dump(mode="json"),
               "n_particles": int(len(particles)),
               "windows": {"window_px": sizes[0], "overlap_px": sizes[1], "grid": [grid[-1].row + 1, grid[-1].col + 1],
                           "n_windows": len(grid), "n_borrowed": sum(o.status == "borrowed" for o in outcomes),
                           "scheduler": engine.scheduler,
                           "best_params": "median over the optimized windows (each window's: windows.csv)",
                           "best_values": "median over the optimized windows"}}
    from rewardscope.workflows.particles import reward_context

    summary.update(segmentation_summary(cfg, reward_context(cfg, inp.pixel_size), inp.pixel_size))
    trials = pd.concat([o.trials for o in outcomes if len(o.trials)], ignore_index=True)
    pareto = pd.concat([o.pareto for o in outcomes if len(o.pareto)], ignore_index=True)
    return ParticleResult(tables={"particles": particles, "trials": trials, "pareto": pareto, "windows": table},
                          arrays={"masks": labels}, summary=summary, image=img, pixel_size=inp.pixel_size,
                          extras={"outcomes": outcomes})


__all__ = ["MIN_WINDOW_CELLS", "SegmentWindowJob", "segment_window", "sliding_particles", "stitch_labels", "Window", "WindowConfig", "window_config", "WindowJob", "WindowOutcome", "borrow_window",
           "optimize_window", "sliding_atoms", "stitch_atoms", "window_grid", "window_sizes_px", "window_table"]

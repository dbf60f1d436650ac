"""Label-free rewards of a particle tracking (all minimised, 0 at best).

A reward is ``(linked, context) -> float``; ``linked`` has the tables of
:class:`~rewardscope.track.linking.Linked` (``tracks``: ``frame, track_id, x, y, area_px``
and optionally ``x_aligned, y_aligned``; ``lineage``: ``track_id, start, end, parents``;
``events``: ``frame, event, parents, child``). No annotation is read: each reward checks
what real particles on a support do, so linking cut-offs that are too tight or too loose
both score badly.

* ``fragmentation`` -- tracks that start after the first frame or end before the last
  one without a reason: no parents (merge/split) at a start, no children at an end, no
  contact with the field of view's edge (the particle entered or left) and not small
  (below ``vanish_area_px`` the particle may nucleate or dissolve: Ostwald ripening),
  unless a track starts right after close to where one ended (:func:`resumed`: a broken
  track; small jittery particles would otherwise be broken for free).
  Counted per unexplained start or end and divided by the mean number of detections per
  frame (a property of the movie, not of the linking). Cut-offs that are too tight break
  tracks and raise it.
* ``area_conservation`` -- mass is conserved. At a merge the child's projected area lies
  between that of one sphere of the parents' total volume, ``(sum A_p**1.5)**(2/3)``
  (fully coalesced), and the sum of the parents' areas (just touching), widened by
  ``merge_area_tolerance``; the error is the relative distance of ``A_child`` to that
  interval (0 inside). At a split the same with
  parent and children swapped. A plain link whose area jumps by more than
  ``area_jump_tolerance`` (relative) next to a track that ends (grows) or starts
  (shrinks) there is an error of that size too: it is what a merge (split) linked as a
  continuation looks like; a jump without such a neighbour is segmentation noise that no
  linking changes, and is not counted (else breaking tracks at noisy frames would pay). The errors are summed and divided, like
  ``fragmentation``, by the mean number of detections per frame (a property of the
  movie): a mean over events would let many moderately wrong merges dilute a few large
  errors (tight link cut-offs that break tracks and "explain" the breaks by false merges
  lowered a mean). A merge cut-off that is too loose joins a neighbour passing by (child
  area far below the interval); one that is too tight leaves the jump; both raise it.
  Counting only events would reward finding no merges at all.
* ``motion`` -- plausibility of the steps after drift correction against the movie's own
  step distribution: the mean over all links of ``max(0, log(1 + (step / scale)**2) -
  log(1 + k**2))``, a step over a gap of ``g`` frames divided by ``sqrt(g)`` (diffusion),
  ``scale`` the median distance from a detection to its nearest detection in the next
  frame (:func:`step_scale_px`, computed once per movie), ``k`` = ``motion_tolerance``
  (steps up to k times the typical one are free). A swapped identity or a link to a wrong
  particle is a long step and raises it. Ordinary steps cost nothing, so that breaking
  a track at its longest (still plausible) steps does not pay off against
  ``fragmentation``.

Examples
--------
>>> from types import SimpleNamespace
>>> tracks = pd.DataFrame({"frame": [0, 1, 2], "track_id": [1, 1, 1], "x": [10.0, 11.0, 12.0],
...                        "y": [10.0, 10.0, 10.0], "area_px": [20.0, 20.0, 20.0]})
>>> lineage = pd.DataFrame({"track_id": [1], "start": [0], "end": [2], "parents": [""]})
>>> linked = SimpleNamespace(tracks=tracks, lineage=lineage, events=pd.DataFrame(columns=["frame", "event",
...                          "parents", "child"]))
>>> ctx = TrackRewardContext(frame_shape=(32, 32), n_frames=3, step_scale_px=0.25, detections_per_frame=1.0)
>>> fragmentation(linked, ctx), area_conservation(linked, ctx), round(motion(linked, ctx), 4)
(0.0, 0.0, 0.5306)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

#: A tracking reward: ``(linked, context) -> float``, minimised.
TrackReward = Callable[[Any, "TrackRewardContext"], float]


@dataclass(frozen=True)
class TrackRewardContext:
    """What the tracking rewards compare against (all from the movie, none from labels).

    Attributes
    ----------
    frame_shape : (rows, cols)
        Size of a frame, px.
    n_frames : int
        Frames in the movie.
    step_scale_px : float
        Typical frame-to-frame step of a particle, px (:func:`step_scale_px`).
    detections_per_frame : float
        Mean number of detections per frame.
    edge_margin_px : float
        A particle whose edge is this close to the frame's edge touches it, px.
    vanish_area_px : float
        Tracks that start or end smaller than this may nucleate or dissolve, px**2.
    area_jump_tolerance : float
        Relative area change of a plain frame-to-frame link above which it counts as an
        area-conservation error (segmentation noise and growth stay below it).
    merge_area_tolerance : float
        Relative widening of the interval a merged particle's area may take (pixelated,
        blurred outlines).
    motion_tolerance : float
        Steps up to this many typical steps cost nothing in ``motion``.
    """

    frame_shape: tuple[int, int]
    n_frames: int
    step_scale_px: float
    detections_per_frame: float
    edge_margin_px: float = 2.0
    vanish_area_px: float = 0.0
    area_jump_tolerance: float = 0.35
    merge_area_tolerance: float = 0.15
    motion_tolerance: float = 3.0


def _positions(tracks: pd.DataFrame) -> list[str]:
    return ["x_aligned", "y_aligned"] if {"x_aligned", "y_aligned"} <= set(tracks) else ["x", "y"]


def near_edge(rows: pd.DataFrame, frame_shape: tuple[int, int], margin_px: float) -> np.ndarray:
    """True where a detection's equivalent disc comes within ``margin_px`` of the frame's edge.

    Uses the frame coordinates ``x, y`` (px) and ``area_px``; a ``touches_border``
    column, when present, also counts.

    Examples
    --------
    >>> rows = pd.DataFrame({"x": [3.0, 16.0], "y": [16.0, 16.0], "area_px": [12.6, 12.6]})
    >>> near_edge(rows, (32, 32), 1.0).tolist()
    [True, False]
    """
    rows_n, cols_n = frame_shape
    x, y = rows["x"].to_numpy(float), rows["y"].to_numpy(float)
    radius = np.sqrt(rows["area_px"].to_numpy(float) / np.pi)
    gap = np.minimum.reduce([x, y, cols_n - 1 - x, rows_n - 1 - y]) - radius
    edge = gap <= margin_px
    if "touches_border" in rows:
        edge |= rows["touches_border"].to_numpy(bool)
    return edge


def _ends(tracks: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """First and last row of every track (indexed by track_id)."""
    ordered = tracks.sort_values(["track_id", "frame"], kind="stable")
    return ordered.groupby("track_id").head(1).set_index("track_id"), \
        ordered.groupby("track_id").tail(1).set_index("track_id")


def _parent_map(lineage: pd.DataFrame) -> dict[int, list[int]]:
    return {int(t): [int(p) for p in str(ps).split()] for t, ps in zip(lineage["track_id"], lineage["parents"])}


def fragmentation(linked: Any, context: TrackRewardContext) -> float:
    """Unexplained track starts and ends per mean detections per frame (see the module docstring)."""
    tracks = linked.tracks
    if tracks.empty:
        return 0.0
    first, last = _ends(tracks)
    parents = _parent_map(linked.lineage)
    has_children = {p for ps in parents.values() for p in ps}
    ids = first.index.to_numpy()
    explained_start = np.array([bool(parents.get(int(t))) for t in ids])
    explained_end = np.array([int(t) in has_children for t in ids])
    broken_end, broken_start = resumed(first, last, context)
    bad = 0
    for rows, at_bound, explained, broken in (
            (first, first["frame"].to_numpy() == 0, explained_start, broken_start),
            (last, last["frame"].to_numpy() == context.n_frames - 1, explained_end, broken_end)):
        edge = near_edge(rows, context.frame_shape, context.edge_margin_px)
        small = rows["area_px"].to_numpy(float) < context.vanish_area_px
        bad += int(np.sum(~(at_bound | explained | ((edge | small) & ~broken))))
    return bad / max(context.detections_per_frame, 1.0)


def resumed(first: pd.DataFrame, last: pd.DataFrame, context: TrackRewardContext) -> tuple[np.ndarray, np.ndarray]:
    """Track ends followed in the next frame by a track start close by, and those starts (a broken track).

    Close: within the ending particle's equivalent radius plus ``motion_tolerance``
    typical steps. Such an end is not a particle leaving at the edge or dissolving, and
    such a start is not one entering or nucleating, however small or close to the edge:
    the edge and size exemptions of :func:`fragmentation` do not apply to them.

    Parameters
    ----------
    first, last : pandas.DataFrame
        First and last row of every track, indexed by ``track_id`` in the same order.
    context : TrackRewardContext

    Returns
    -------
    (numpy.ndarray, numpy.ndarray) of bool
        Per track: its end is resumed; its start resumes an end.

    Examples
    --------
    >>> first = pd.DataFrame({"frame": [0, 3], "x": [5.0, 5.5], "y": [5.0, 5.0], "area_px": [9.0, 9.0]}, index=[1, 2])
    >>> last = pd.DataFrame({"frame": [2, 6], "x": [5.0, 5.5], "y": [5.0, 5.0], "area_px": [9.0, 9.0]}, index=[1, 2])
    >>> ctx = TrackRewardContext(frame_shape=(32, 32), n_frames=7, step_scale_px=0.5, detections_per_frame=1.0)
    >>> [a.tolist() for a in resumed(first, last, ctx)]
    [[True, False], [False, True]]
    """
    cols = _positions(first)
    reach = np.sqrt(last["area_px"].to_numpy(float) / np.pi) + context.motion_tolerance * context.step_scale_px
    return resumed_ends(last["frame"].to_numpy(), last[cols].to_numpy(float), reach, first["frame"].to_numpy(),
                        first[cols].to_numpy(float))


def resumed_ends(end_frame: np.ndarray, end_xy: np.ndarray, reach: np.ndarray, start_frame: np.ndarray,
                 start_xy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ends with a start in the next frame within their ``reach``, and those starts (the arrays behind :func:`resumed`).

    Parameters
    ----------
    end_frame, end_xy, reach : numpy.ndarray, shapes (n,), (n, 2), (n,)
        Last frame, position (px) and reach (px) of every track end.
    start_frame, start_xy : numpy.ndarray, shapes (m,), (m, 2)
        First frame and position (px) of every track start.

    Returns
    -------
    (numpy.ndarray of shape (n,), numpy.ndarray of shape (m,)) of bool

    Examples
    --------
    >>> [a.tolist() for a in resumed_ends(np.array([2]), np.array([[5.0, 5.0]]), np.array([1.0]),
    ...                                   np.array([3, 3]), np.array([[5.5, 5.0], [9.0, 5.0]]))]
    [[True], [True, False]]
    """
    broken_end, broken_start = np.zeros(len(end_frame), bool), np.zeros(len(start_frame), bool)
    for k in range(len(end_frame)):
        near = (start_frame == end_frame[k] + 1) & (np.hypot(*(start_xy - end_xy[k]).T) <= reach[k])
        if near.any():
            broken_end[k] = True
            broken_start |= near
    return broken_end, broken_start


def merged_area_error(one: float, many: np.ndarray, tolerance: float = 0.0) -> float:
    """Relative distance of ``one`` area to the interval a merge of ``many`` areas allows (0 inside).

    The interval runs from the area of one sphere of the same total volume to the sum,
    widened by ``tolerance`` (relative) on both sides for segmentation noise.

    Examples
    --------
    >>> merged_area_error(100.0, np.array([50.0, 50.0])), round(merged_area_error(50.0, np.array([50.0, 50.0])), 3)
    (0.0, 0.37)
    """
    low = float(np.sum(many ** 1.5)) ** (2 / 3) * (1 - tolerance)
    high = float(np.sum(many)) * (1 + tolerance)
    if one < low:
        return (low - one) / max(low, 1.0)
    return max(one - high, 0.0) / max(high, 1.0)


def area_jumps(tracks: pd.DataFrame, tolerance: float, *, ignore: np.ndarray | None = None,
               reach: float = 1.5) -> np.ndarray:
    """Relative area changes ``|A_next - A_prev| / min(A)`` (at most 1) of plain links that look like missed events.

    A link counts when its area grows by more than ``tolerance`` while another track
    ends in the frame before within ``reach`` radii of the grown particle (a merge linked
    as a continuation), or shrinks by more while another track starts in the frame after
    within ``reach`` radii of the shrunk one (a split linked so). Jumps with no such
    neighbour are segmentation noise that no linking can change: counting them would pay
    the linking for breaking tracks at them.

    Parameters
    ----------
    tracks : pandas.DataFrame
        ``frame, track_id, x, y, area_px`` (``x_aligned, y_aligned`` when present), px.
    tolerance : float
        Relative change below which a link is plain growth or noise.
    ignore : array of bool, optional
        One flag per row of ``tracks``: every link from or to a flagged row is dropped
        (particles cut by the frame's edge change their visible area fast).
    reach : float
        Neighbour distance, in equivalent radii of the grown (shrunk) particle.

    Returns
    -------
    numpy.ndarray
        The counted relative changes.

    Examples
    --------
    >>> t = pd.DataFrame({"frame": [0, 1, 2, 0, 1], "track_id": [1, 1, 1, 2, 2], "x": [5.0, 5, 5, 9, 9],
    ...                   "y": [5.0, 5, 5, 5, 5], "area_px": [100.0, 110.0, 170.0, 60.0, 60.0]})
    >>> area_jumps(t, 0.35).round(3).tolist()
    [0.545]
    >>> area_jumps(t[t.track_id == 1], 0.35).tolist()
    []
    """
    cols = _positions(tracks)
    order = np.lexsort((tracks["frame"].to_numpy(), tracks["track_id"].to_numpy()))
    ids = tracks["track_id"].to_numpy()[order]
    frame = tracks["frame"].to_numpy()[order]
    xy = tracks[cols].to_numpy(float)[order]
    keep = ids[1:] == ids[:-1]
    if ignore is not None:
        flagged = np.asarray(ignore, bool)[order]
        keep &= ~(flagged[1:] | flagged[:-1])
    area = np.maximum(tracks["area_px"].to_numpy(float)[order], 1.0)
    jump = np.minimum(np.abs(np.diff(area)) / np.minimum(area[1:], area[:-1]), 1.0)
    last = np.r_[ids[1:] != ids[:-1], True]
    first = np.r_[True, ids[1:] != ids[:-1]]
    counted = []
    for k in np.flatnonzero(keep & (jump > tolerance)):
        grew = area[k + 1] > area[k]
        big = k + 1 if grew else k
        ends = (last & (frame == frame[k])) if grew else (first & (frame == frame[k + 1]))
        ends &= ids != ids[k]
        radius = np.sqrt(area[big] / np.pi)
        if np.any(np.hypot(*(xy[ends] - xy[big]).T) <= reach * radius):
            counted.append(jump[k])
    return np.asarray(counted, float)


def area_conservation(linked: Any, context: TrackRewardContext) -> float:
    """Summed area error of merges, splits and area jumps of plain links per mean detections per frame."""
    events = linked.events
    tracks = linked.tracks
    if tracks.empty:
        return 0.0
    ignore = near_edge(tracks, context.frame_shape, context.edge_margin_px) | (
        tracks["area_px"].to_numpy(float) < context.vanish_area_px)
    errors = list(area_jumps(tracks, context.area_jump_tolerance, ignore=ignore))
    if events is not None and len(events):
        first, last = _ends(tracks)
        first_area, last_area = first["area_px"], last["area_px"]
        for child, group in events[events["event"] == "merge"].groupby("child"):
            parents = [int(p) for p in str(group["parents"].iloc[0]).split()]
            errors.append(merged_area_error(float(first_area.loc[int(child)]),
                                            last_area.loc[parents].to_numpy(float), context.merge_area_tolerance))
        for parent, group in events[events["event"] == "split"].groupby("parents"):
            children = first_area.loc[group["child"].astype(int).tolist()].to_numpy(float)
            errors.append(merged_area_error(float(last_area.loc[int(parent)]), children, context.merge_area_tolerance))
    return float(np.sum(errors)) / max(context.detections_per_frame, 1.0)


def track_steps(tracks: pd.DataFrame) -> np.ndarray:
    """Step lengths within tracks, px per sqrt(frame) (drift-corrected positions when present).

    Examples
    --------
    >>> t = pd.DataFrame({"frame": [0, 1, 3], "track_id": [1, 1, 1], "x": [0.0, 3.0, 3.0], "y": [0.0, 4.0, 6.0]})
    >>> track_steps(t).round(3).tolist()
    [5.0, 1.414]
    """
    cols = _positions(tracks)
    ordered = tracks.sort_values(["track_id", "frame"], kind="stable")
    same = ordered["track_id"].to_numpy()[1:] == ordered["track_id"].to_numpy()[:-1]
    xy = ordered[cols].to_numpy(float)
    gaps = np.diff(ordered["frame"].to_numpy(float))
    steps = np.hypot(*np.diff(xy, axis=0).T) / np.sqrt(np.maximum(gaps, 1.0))
    return steps[same]


def motion(linked: Any, context: TrackRewardContext) -> float:
    """Mean excess ``log(1 + (step / step_scale_px)**2)`` over ``log(1 + k**2)`` of all links (0 without links)."""
    steps = track_steps(linked.tracks)
    if steps.size == 0:
        return 0.0
    cost = np.log1p((steps / max(context.step_scale_px, 1e-6)) ** 2) - np.log1p(context.motion_tolerance ** 2)
    return float(np.mean(np.maximum(cost, 0.0)))


def step_scale_px(detections: pd.DataFrame, *, floor_px: float = 0.5) -> float:
    """The movie's typical step: median distance to the nearest detection in the next frame, px.

    Parameters
    ----------
    detections : pandas.DataFrame
        ``frame`` and ``x, y`` (``x_aligned, y_aligned`` when present), px.
    floor_px : float
        Smallest value returned (a still movie still has localisation noise).

    Returns
    -------
    float

    Examples
    --------
    >>> d = pd.DataFrame({"frame": [0, 0, 1, 1], "x": [0.0, 20.0, 2.0, 21.0], "y": [0.0, 0.0, 0.0, 0.0]})
    >>> step_scale_px(d)
    1.5
    """
    cols = _positions(detections)
    groups = {int(f): g[cols].to_numpy(float) for f, g in detections.groupby("frame")}
    nearest = []
    for f, here in groups.items():
        after = groups.get(f + 1)
        if after is not None and len(after) and len(here):
            nearest.append(cKDTree(after).query(here)[0])
    if not nearest:
        return floor_px
    return max(float(np.median(np.concatenate(nearest))), floor_px)


#: The default tracking rewards.
TRACK_REWARDS: dict[str, TrackReward] = {"fragmentation": fragmentation, "area_conservation": area_conservation,
                                         "motion": motion}

#: Scales of the tracking rewards in the choice of the Pareto point (smallest spans,
#: :func:`rewardscope.optimize.select.selection_distances`). ``fragmentation`` and
#: ``area_conservation`` count errors per particle in a frame: 1 = as many errors as
#: particles. ``motion`` is a mean per link: 0.05 = one link in about 30 at twice the
#: tolerated step. Plain min-max normalisation would stretch a reward that hardly varies
#: on the front (a few px of area, one long step) to the same weight as a fragmentation
#: that varies by tens of broken tracks, and choose the broken tracks.
TRACK_REWARD_SCALES: dict[str, float] = {"fragmentation": 1.0, "area_conservation": 1.0, "motion": 0.05}

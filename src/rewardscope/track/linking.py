"""Linking per-frame particle detections into tracks with merges and splits (laptrack).

Why laptrack: it solves the linear assignment problem of Jaqaman et al. (2008) with gap
closing, *merging* and splitting, i.e. it can represent two particles sintering into
one, which one-to-one linkers (trackpy) and btrack/ultrack cannot. We do not write a LAP
solver. What this module adds:

- the **features** it links on: the centroid after drift correction (``x_aligned,
  y_aligned``, px) plus the equivalent radius ``sqrt(area_px / pi)`` scaled by an
  ``area_weight``, so that a squared-Euclidean cost is ``dx**2 + dy**2 + (w * dr)**2`` in px**2;
- **cut-offs in pixels** (:class:`LinkParams`: maximum displacement, missed frames and
  distance of gap closing, merge and split distances), which the tracking workflow
  (:mod:`rewardscope.workflows.tracking`) chooses per movie by label-free rewards;
- **track ids from 1** (0 is background in label masks), numbered by start frame, and
  the **lineage convention** read by the evaluation: a merge ENDS both parent tracks and
  STARTS a new track whose parents are the two; a split ends the parent and starts two
  children (laptrack's segments follow it already: a branch node starts a new segment).
  More than two particles merging in one frame give one multi-parent merge (all parents
  listed in one event), not successive merges;
- the tables: per-frame rows with ``track_id``, ``lineage`` (``track_id, start, end,
  parents``) and ``events`` (``frame, event, parents, child``; frame = the child's
  first frame).

:func:`link_overlap` is the alternative engine, laptrack's ``OverLapTrack`` (costs from
mask overlap instead of centroid distance), with the same output.

Examples
--------
>>> rows = [{"frame": f, "label": 1, "x": 10.0 + f, "y": 5.0, "area_px": 50.0} for f in range(3)]
>>> rows += [{"frame": f, "label": 2, "x": 20.0 - f, "y": 5.0, "area_px": 50.0} for f in range(3)]
>>> rows += [{"frame": f, "label": 1, "x": 15.0, "y": 5.0, "area_px": 100.0} for f in (3, 4)]
>>> linked = link_tracks(pd.DataFrame(rows), LinkParams(max_displacement_px=4, merge_distance_px=6))
>>> linked.events.to_dict("records")
[{'frame': 3, 'event': 'merge', 'parents': '1 2', 'child': 3}]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

#: Columns of :attr:`Linked.lineage` and :attr:`Linked.events`.
LINEAGE_COLUMNS = ["track_id", "start", "end", "parents"]
EVENT_COLUMNS = ["frame", "event", "parents", "child"]


@dataclass(frozen=True)
class LinkParams:
    """Cut-offs of one linking, in pixels (after drift correction).

    Attributes
    ----------
    max_displacement_px : float
        Largest frame-to-frame link (centroid distance, px).
    gap_frames : int
        Missed frames a gap-closing link may bridge (0: no gap closing).
    gap_distance_px : float
        Largest centroid distance of a gap-closing link, px.
    merge_distance_px : float or None
        Largest distance from a parent's last position to the merged particle, px (None: no merges).
        laptrack also lets a track end reach the *first* point of a track in the next frame
        within this distance (a plain link then), so it acts as a second link cut-off for
        track starts.
    split_distance_px : float or None
        The same for splits (None: no splits).
    area_weight : float
        Weight of the equivalent-radius difference (px) in the link cost (0: centroids only).
    merge_reach : float or None
        A track that ends with its centroid within this many equivalent radii of a
        detection in the next ``gap_frames + 1`` frames merged into it (adds the parents
        laptrack cannot give: a third parent, or one whose partner's plain link did not
        reach the merged particle); None: laptrack's merges only.
    out_of_view_frames : int
        A track that ends cut by the frame's edge resumes in one that starts (cut or whole) up
        to this many frames later at the same drift-corrected place, when its predicted
        position lay at the edge or beyond in every frame between (the stage moved it out
        of view; needs ``frame_shape``). 0 or 1: only the next frame (:func:`_stitch_edges`).
    frame_shape : (int, int) or None
        The frames' ``(rows, cols)``, for ``out_of_view_frames``.
    stitch_jumps : bool
        Also join across stage jumps (:func:`_stitch_edges`): an end and a start of which only
        one is cut by the edge, and ends that went out of view (``out_of_view_frames``).
        False: only an end and a start both cut by the edge, a frame apart. The tracking
        workflow's study scores its trials without it (see :mod:`rewardscope.workflows.tracking`).
    """

    max_displacement_px: float = 15.0
    gap_frames: int = 1
    gap_distance_px: float = 15.0
    merge_distance_px: float | None = 15.0
    split_distance_px: float | None = None
    area_weight: float = 0.0
    merge_reach: float | None = 1.5
    out_of_view_frames: int = 0
    frame_shape: tuple[int, int] | None = None
    stitch_jumps: bool = True

    @classmethod
    def from_params(cls, params: dict[str, Any], *, merges: bool = True, splits: bool = False) -> LinkParams:
        """From a study's parameter dict (``max_displacement_px``, ``gap_frames``, ...)."""
        merge = float(params["merge_distance_px"]) if merges and "merge_distance_px" in params else None
        split = float(params.get("split_distance_px", params.get("merge_distance_px", 0.0))) if splits else None
        reach = float(params.get("merge_reach", 1.5)) if merges else None
        return cls(max_displacement_px=float(params["max_displacement_px"]), gap_frames=int(params["gap_frames"]),
                   gap_distance_px=float(params["gap_distance_px"]), merge_distance_px=merge,
                   split_distance_px=split, area_weight=float(params.get("area_weight", 0.0)), merge_reach=reach)


@dataclass
class Linked:
    """Tracks, lineage and events of one linking.

    Attributes
    ----------
    tracks : pandas.DataFrame
        The detections (one row per particle per frame, their own columns kept) with
        ``track_id`` (int, from 1).
    lineage : pandas.DataFrame
        ``track_id, start, end, parents``: first and last frame; parents space-separated ("" if none).
    events : pandas.DataFrame
        ``frame, event, parents, child``: ``merge`` (parents "a b" -> child) or ``split``
        (one row per child); frame = the child's first frame.
    params : LinkParams or None
        The cut-offs of this linking (set by the tracking workflow).
    """

    tracks: pd.DataFrame
    lineage: pd.DataFrame
    events: pd.DataFrame
    params: LinkParams | None = None

    def parents(self) -> dict[int, list[int]]:
        """``track_id -> parent track ids`` (empty list without parents)."""
        return {int(t): [int(p) for p in str(ps).split()] for t, ps in zip(self.lineage.track_id,
                                                                          self.lineage.parents)}


def _position_columns(detections: pd.DataFrame) -> list[str]:
    """``y_aligned, x_aligned`` when present (drift-corrected), else ``y, x``."""
    return ["y_aligned", "x_aligned"] if {"x_aligned", "y_aligned"} <= set(detections) else ["y", "x"]


def _cutoff(distance_px: float | None) -> float | bool:
    """A squared-Euclidean cut-off (px**2), or False (the link kind is off)."""
    return False if distance_px is None or distance_px <= 0 else float(distance_px) ** 2


def _coords(det: pd.DataFrame, cols: list[str]) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """laptrack's per-frame coordinate arrays and, per row of ``det``, its (frame, index) node.

    Frames without detections get an empty array (laptrack allows them), so a movie
    with some empty frames links across them by gap closing.
    """
    frames, index, order, starts, counts = _nodes(det)
    values = det[cols].to_numpy(float)
    coords = [values[order[a:a + c]] if c else np.zeros((0, len(cols))) for a, c in zip(starts, counts)]
    return coords, frames, index


def _nodes(det: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per row of ``det`` its frame and its index among that frame's rows (laptrack's node ``(frame, index)``).

    Also the rows in frame order and each frame's first position and count in it. The
    index is the row's rank among its frame's rows in table order, so a window of frames
    cut from a movie's table gives its rows the same indices as the whole table does.
    """
    frames = det["frame"].to_numpy(int)
    order = np.argsort(frames, kind="stable")
    counts = np.bincount(frames, minlength=int(frames.max()) + 1)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int)
    index = np.empty(len(det), int)
    index[order] = np.arange(len(det)) - np.repeat(starts, counts)
    return frames, index, order, starts, counts


def _tree_tables(tree: Any, frames: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, list, list]:
    """Segments of laptrack's track tree: a track id per row, merge and split (parent, child) pairs.

    laptrack's own ``tree_to_dataframe`` does the same with one pandas ``.loc`` write per
    node (seconds for a few thousand detections, most of a linking's time); here a node
    continues its predecessor's segment when it has exactly one predecessor that has
    exactly one successor, else it starts a new one: the same rule (a branch node
    starts a new segment).
    """
    pred, succ = tree.pred, tree.succ
    seg: dict[tuple[int, int], int] = {}
    for node in sorted(tree.nodes):
        ps = pred[node]
        if len(ps) == 1:
            (p,) = ps
            if len(succ[p]) == 1:
                seg[node] = seg[p]
                continue
        seg[node] = len(seg)
    merges, splits = set(), set()
    for node in tree.nodes:
        ps, cs = pred[node], succ[node]
        if len(ps) > 1:
            merges |= {(seg[p], seg[node]) for p in ps}
        if len(cs) > 1:
            splits |= {(seg[node], seg[c]) for c in cs}
    ids = np.array([seg[(int(f), int(i))] for f, i in zip(frames, index)], int)
    return ids, sorted(merges), sorted(splits)


def link_tracks(detections: pd.DataFrame, params: LinkParams) -> Linked:
    """Link detections with laptrack's ``LapTrack`` on centroid + equivalent-radius features.

    Parameters
    ----------
    detections : pandas.DataFrame
        One row per particle per frame: ``frame`` (int), ``x``, ``y`` (px; ``x_aligned,
        y_aligned`` are used instead when present), ``area_px``; other columns are kept.
    params : LinkParams
        The cut-offs.

    Returns
    -------
    Linked
        Rows in the order of ``detections`` with ``track_id``; lineage and events.
    """
    det = detections.reset_index(drop=True)
    if det.empty:
        return _linked(det.assign(track_id=np.zeros(0, int)), [], [])
    return linked_from_graph(det, lap_graph(det, params), params)


def lap_graph(detections: pd.DataFrame, params: LinkParams) -> Any:
    """laptrack's ``LapTrack`` link graph of non-empty detections (nodes ``(frame, index in frame)``).

    Parameters
    ----------
    detections : pandas.DataFrame
        As :func:`link_tracks` takes, at least one row; frames from 0.
    params : LinkParams

    Returns
    -------
    networkx.DiGraph
        An edge per link (frame-to-frame, gap-closing, merge or split), from the earlier node.
    """
    from laptrack import LapTrack

    pos = _position_columns(detections)
    features = detections[["frame", *pos]].copy()
    features["radius_w"] = params.area_weight * np.sqrt(detections["area_px"].to_numpy(float) / np.pi)
    tracker = LapTrack(cutoff=_cutoff(params.max_displacement_px),
                       gap_closing_cutoff=_cutoff(params.gap_distance_px) if params.gap_frames > 0 else False,
                       gap_closing_max_frame_count=int(params.gap_frames) + 1,
                       merging_cutoff=_cutoff(params.merge_distance_px),
                       splitting_cutoff=_cutoff(params.split_distance_px))
    coords, _, _ = _coords(features, [*pos, "radius_w"])
    return tracker.predict(coords)


def linked_from_graph(det: pd.DataFrame, graph: Any, params: LinkParams) -> Linked:
    """Tracks, lineage and events from a link graph of ``det`` (rows indexed 0..n-1, frames from 0).

    ``graph`` has ``nodes``, ``pred`` and ``succ`` as a networkx ``DiGraph`` (laptrack's, or
    windows joined by :class:`~rewardscope.track.windows.WindowedLinking`). Merge
    completion and the edge stitching (``touches_border``) follow, as in :func:`link_tracks`.
    """
    frames, index, *_ = _nodes(det)
    ids, merges, splits = _tree_tables(graph, frames, index)
    pos = _position_columns(det)
    if params.merge_reach and params.merge_distance_px:
        ids, merges = _complete_merges(det, pos, ids, merges, params)
    if "touches_border" in det:
        ids, merges, splits = _stitch_edges(det, pos, ids, merges, splits, params.max_displacement_px or 1.0,
                                            jumps=params.stitch_jumps, out_of_view=_out_of_view(det, pos, params),
                                            max_frames=params.out_of_view_frames)
    return _linked(det.assign(track_id=ids), merges, splits)


def _out_of_view(det: pd.DataFrame, pos: list[str], params: LinkParams) -> Callable[[np.ndarray, float, int, int],
                                                                                      bool] | None:
    """``(aligned yx, radius, first, last) -> True`` when a particle there is at the edge or beyond in frames first..last.

    The predicted position in frame ``f`` is the drift-corrected one plus that frame's
    drift (``x - x_aligned`` of its detections; interpolated over frames without any).
    None when the rule is off (``out_of_view_frames`` <= 1 or no ``frame_shape``).
    """
    if params.out_of_view_frames <= 1 or params.frame_shape is None or not params.stitch_jumps:
        return None
    frames = det["frame"].to_numpy(int)
    n = int(frames.max()) + 1
    raw = det[["y", "x"]].to_numpy(float) - det[pos].to_numpy(float) if pos != ["y", "x"] else np.zeros((len(det), 2))
    count = np.bincount(frames, minlength=n)
    seen = np.flatnonzero(count)
    shift = np.stack([np.interp(np.arange(n), seen, (np.bincount(frames, raw[:, k], n) / np.maximum(count, 1))[seen])
                      for k in (0, 1)], axis=1)
    limit = np.asarray(params.frame_shape, float) - 1.0

    def hidden(yx: np.ndarray, radius: float, first: int, last: int) -> bool:
        at = yx + shift[first:last + 1]
        return bool(np.all(np.minimum(at, limit - at).min(axis=1) < radius))

    return hidden


def _resumed_ends(frames: np.ndarray, xy: np.ndarray, radius: np.ndarray, first: dict[int, int],
                  last: dict[int, int], step_px: float) -> set[int]:
    """Tracks whose end is followed in the next frame by a track start within their radius plus ``step_px``.

    Such a track was broken, not ended: merge completion must not take it as a parent
    that vanished a frame or more before the merge (its continuation is the particle).
    The test is :func:`~rewardscope.rewards.tracks.resumed_ends`, as the fragmentation reward's.
    """
    from rewardscope.rewards.tracks import resumed_ends

    ends, starts = np.fromiter(last.values(), int, len(last)), np.fromiter(first.values(), int, len(first))
    broken, _ = resumed_ends(frames[ends], xy[ends].reshape(-1, 2), radius[ends] + step_px, frames[starts],
                             xy[starts].reshape(-1, 2))
    return {t for t, b in zip(last, broken, strict=True) if b}


def _stitch_edges(det: pd.DataFrame, pos: list[str], ids: np.ndarray, merges: list[tuple[int, int]],
                  splits: list[tuple[int, int]], step_px: float, *, jumps: bool = True,
                  out_of_view: Callable[[np.ndarray, float, int, int], bool] | None = None,
                  max_frames: int = 1) -> tuple[np.ndarray, list, list]:
    """Join a track that ends to one that starts next to it later, when the frame's edge cut either.

    A particle that the stage moves across the edge loses (or gains) visible pixels from
    one frame to the next: its visible area and centroid jump by up to its radius, beyond
    any cut-off that keeps the interior's links right. A track ending without children
    and a track starting in the next frame without parents, both cut by the edge (with
    ``jumps``: one of the two), closer than ``step_px`` plus twice the larger visible part's equivalent radius,
    are one particle (ends taken in time order, each joined to its nearest start, each
    track once): a stage jump can cut a particle that was whole a frame before, or bring a
    cut one wholly into view. Twice: a cut particle's visible part is smaller than the
    particle (half a disc of radius R has the equivalent radius 0.71 R), and in a corner
    its centroid moves along both axes.

    With ``out_of_view`` (:func:`_out_of_view`), for an end cut by the edge, a start (cut
    or whole) up to ``max_frames`` frames later is taken too (the earliest first), within
    ``step_px * sqrt(frames)`` plus the same radii, when the particle's predicted place lay
    at the edge or beyond, closer to it than the larger of the two tracks' largest radii,
    in every frame between: it was out of view, as after a stage jump that comes back, not lost.
    """
    frames = det["frame"].to_numpy(int)
    xy = det[pos].to_numpy(float)
    radius = np.sqrt(det["area_px"].to_numpy(float) / np.pi)
    edge = det["touches_border"].to_numpy(bool)
    ids = ids.copy()
    order = np.lexsort((frames, ids))
    first = {int(ids[i]): int(i) for i in order[::-1]}
    last = {int(ids[i]): int(i) for i in order}
    largest = pd.Series(radius).groupby(ids).max().to_dict() if out_of_view is not None else {}  # trials: none
    parented = {c for _, c in merges + splits}
    parenting = {p for p, _ in merges + splits}
    starts: dict[int, list[int]] = {}
    for t, i in first.items():
        if t not in parented:
            starts.setdefault(int(frames[i]), []).append(t)
    ahead = max(1, int(max_frames)) if out_of_view is not None else 1
    rename: dict[int, int] = {}
    for t in sorted(last, key=lambda t: frames[last[t]]):
        t = rename.get(t, t)
        i = last[t]
        if t in parenting:
            continue
        for gap in range(1, (ahead if edge[i] else 1) + 1):
            cands = [u for u in starts.get(int(frames[i]) + gap, []) if u != t and u not in rename
                     and (edge[first[u]] or edge[i]) and (jumps or edge[first[u]] and edge[i])]
            dist = [np.hypot(*(xy[first[u]] - xy[i])) - 2 * max(radius[i], radius[first[u]]) for u in cands]
            if gap > 1:
                keep = [k for k, u in enumerate(cands) if out_of_view(  # type: ignore[misc]
                    xy[i], max(largest[t], largest[u]), int(frames[i]) + 1, int(frames[i]) + gap - 1)]
                cands, dist = [cands[k] for k in keep], [dist[k] for k in keep]
            if cands and min(dist) <= step_px * np.sqrt(gap):
                break
        else:
            continue
        u = cands[int(np.argmin(dist))]
        ids[ids == u] = t
        rename[u] = t
        last[t] = last.pop(u)
        if largest:
            largest[t] = max(largest[t], largest[u])
        if u in parenting:  # its children are the joined track's now: it no longer ends
            parenting.add(t)
    if rename:
        merges = sorted({(rename.get(p, p), c) for p, c in merges})
        splits = sorted({(rename.get(p, p), c) for p, c in splits})
    return ids, merges, splits


def _complete_merges(det: pd.DataFrame, pos: list[str], ids: np.ndarray, merges: list[tuple[int, int]],
                     params: LinkParams) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Add the merge parents laptrack's LAP cannot give: a track that ends inside a particle.

    laptrack merges at most two parents into one point, and only when one parent's plain
    link reaches the merged particle. Here a track that ends (no children) within
    ``gap_frames + 1`` frames before a detection, with its last centroid inside that
    detection's equivalent disc times ``merge_reach`` (particles do not overlap, so only
    a particle that fused into this one ends there), becomes a parent of it: of the track
    that starts there (when it then has two or more parents), or of a new track split
    off at that detection from the track that continues into it. Particles cut by the
    frame's edge (``touches_border``) take no part: their visible part shrinks and its
    centroid moves as they leave, which looks like a particle ending inside a neighbour.
    """
    frames = det["frame"].to_numpy(int)
    xy = det[pos].to_numpy(float)
    radius = np.sqrt(det["area_px"].to_numpy(float) / np.pi)
    edge = det["touches_border"].to_numpy(bool) if "touches_border" in det else np.zeros(len(det), bool)
    ids = ids.copy()
    order = np.lexsort((frames, ids))
    first = {int(ids[i]): int(i) for i in order[::-1]}
    last = {int(ids[i]): int(i) for i in order}
    parents: dict[int, set[int]] = {}
    for p, c in merges:
        parents.setdefault(c, set()).add(p)
    has_children = {p for p, _ in merges}
    ends_at: dict[int, list[int]] = {}
    for t, i in last.items():
        if t not in has_children and not edge[i]:
            ends_at.setdefault(int(frames[i]), []).append(t)
    by_frame: dict[int, np.ndarray] = {}
    for i in np.argsort(frames, kind="stable"):
        by_frame.setdefault(int(frames[i]), []).append(int(i))  # type: ignore[attr-defined]
    next_id = int(ids.max()) + 1
    used: set[int] = set()
    resumed = _resumed_ends(frames, xy, radius, first, last, params.max_displacement_px or 1.0)
    for f in sorted(by_frame):
        cands = [t for g in range(1, int(params.gap_frames) + 2) for t in ends_at.get(f - g, [])
                 if t not in used and (g == 1 or t not in resumed)]
        if not cands:
            continue
        for d in by_frame[f]:
            if edge[d]:
                continue
            track = int(ids[d])
            near = [t for t in cands if t != track and t not in used
                    and np.hypot(*(xy[last[t]] - xy[d])) <= params.merge_reach * radius[d]]
            if not near:
                continue
            if first[track] == d:
                if len(parents.get(track, set()) | set(near)) < 2:
                    continue
                parents.setdefault(track, set()).update(near)
            else:  # split the continuing track at d: its later part is the merged particle
                later = (ids == track) & (frames >= f)
                ids[later] = next_id
                parents[next_id] = {track, *near}
                for kids in parents.values():  # the track's children now belong to its later part
                    if track in kids and kids is not parents[next_id]:
                        kids.discard(track)
                        kids.add(next_id)
                first[next_id], last[next_id], last[track] = d, last[track], int(
                    np.flatnonzero((ids == track))[np.argmax(frames[ids == track])])
                ended = ends_at.get(int(frames[last[next_id]]), [])
                if track in ended:  # the track's end is its later part's now (not a candidate twice)
                    ended[ended.index(track)] = next_id
                next_id += 1
            used.update(near)
    return ids, sorted((p, c) for c, ps in parents.items() for p in ps)


def link_overlap(labels: np.ndarray, detections: pd.DataFrame, params: LinkParams) -> Linked:
    """Link label masks with laptrack's ``OverLapTrack`` (cost ``1 - overlap / area``).

    Parameters
    ----------
    labels : numpy.ndarray, shape (frames, rows, cols), int
        Label masks (0 = background).
    detections : pandas.DataFrame
        One row per label per frame (``frame``, ``label`` plus any columns to keep).
    params : LinkParams
        Only ``gap_frames`` and whether merges / splits are allowed are used; the
        overlap cut-off is fixed (any overlap links).

    Returns
    -------
    Linked
    """
    from functools import partial

    from laptrack import OverLapTrack
    from laptrack.metric_utils import LabelOverlap

    det = detections.reset_index(drop=True)
    if det.empty:
        return _linked(det.assign(track_id=np.zeros(0, int)), [], [])
    tracker = OverLapTrack(cutoff=0.999, gap_closing_cutoff=0.999 if params.gap_frames > 0 else False,
                           gap_closing_max_frame_count=int(params.gap_frames) + 1,
                           merging_cutoff=0.999 if params.merge_distance_px else False,
                           splitting_cutoff=0.999 if params.split_distance_px else False)
    overlap = LabelOverlap(np.asarray(labels))

    def metric(c1: np.ndarray, c2: np.ndarray, coefs: tuple[float, ...]) -> float:
        # the cost OverLapTrack.predict_overlap_dataframe sets, without its slow table conversion
        (f1, l1), (f2, l2) = sorted([(int(c1[0]), int(c1[1])), (int(c2[0]), int(c2[1]))])
        return coefs[0] + sum(c * v for c, v in zip(coefs[1:], overlap.calc_overlap(f1, l1, f2, l2)))

    for name in ("metric", "gap_closing_metric", "splitting_metric", "merging_metric"):
        setattr(tracker, name, partial(metric, coefs=tuple(getattr(tracker, f"{name}_coefs"))))
    coords, frames, index = _coords(det, ["frame", "label"])
    ids, merges, splits = _tree_tables(tracker.predict(coords), frames, index)
    return _linked(det.assign(track_id=ids), merges, splits)


def _linked(tracks: pd.DataFrame, merge_pairs: list[tuple[int, int]], split_pairs: list[tuple[int, int]]) -> Linked:
    """Renumber tracks from 1 by (start frame, old id) and build lineage and events."""
    if tracks.empty:
        return Linked(tracks, pd.DataFrame(columns=LINEAGE_COLUMNS), pd.DataFrame(columns=EVENT_COLUMNS))
    span = tracks.groupby("track_id")["frame"].agg(["min", "max"]).reset_index()
    span = span.sort_values(["min", "track_id"], kind="stable")
    new = dict(zip(span["track_id"].astype(int), range(1, len(span) + 1)))
    tracks = tracks.assign(track_id=tracks["track_id"].map(new).astype(int))
    merges = [(new[p], new[c]) for p, c in merge_pairs]
    splits = [(new[p], new[c]) for p, c in split_pairs]
    parents: dict[int, list[int]] = {}
    for p, c in merges + splits:
        parents.setdefault(c, []).append(p)
    start = dict(zip(span["track_id"].map(new), span["min"]))
    lineage = pd.DataFrame({"track_id": [new[t] for t in span["track_id"]], "start": span["min"].astype(int),
                            "end": span["max"].astype(int)})
    lineage["parents"] = [" ".join(map(str, sorted(parents.get(t, [])))) for t in lineage["track_id"]]
    return Linked(tracks, lineage.reset_index(drop=True), _events(merges, splits, start))


def _events(merges: list[tuple[int, int]], splits: list[tuple[int, int]], start: dict[int, int]) -> pd.DataFrame:
    """One row per merge (all parents of a child) and one per split child, by frame."""
    rows = []
    for child in sorted({c for _, c in merges}):
        ps = sorted(p for p, c in merges if c == child)
        rows.append({"frame": int(start[child]), "event": "merge", "parents": " ".join(map(str, ps)), "child": child})
    rows += [{"frame": int(start[c]), "event": "split", "parents": str(p), "child": c} for p, c in splits]
    events = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    return events.sort_values(["frame", "child"], kind="stable").reset_index(drop=True)

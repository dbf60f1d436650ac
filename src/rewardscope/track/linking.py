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
    """

    max_displacement_px: float = 15.0
    gap_frames: int = 1
    gap_distance_px: float = 15.0
    merge_distance_px: float | None = 15.0
    split_distance_px: float | None = None
    area_weight: float = 0.0

    @classmethod
    def from_params(cls, params: dict[str, Any], *, merges: bool = True, splits: bool = False) -> LinkParams:
        """From a study's parameter dict (``max_displacement_px``, ``gap_frames``, ...)."""
        merge = float(params["merge_distance_px"]) if merges and "merge_distance_px" in params else None
        split = float(params.get("split_distance_px", params.get("merge_distance_px", 0.0))) if splits else None
        return cls(max_displacement_px=float(params["max_displacement_px"]), gap_frames=int(params["gap_frames"]),
                   gap_distance_px=float(params["gap_distance_px"]), merge_distance_px=merge,
                   split_distance_px=split, area_weight=float(params.get("area_weight", 0.0)))


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
    """

    tracks: pd.DataFrame
    lineage: pd.DataFrame
    events: pd.DataFrame

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
    from laptrack import LapTrack

    det = detections.reset_index(drop=True)
    if det.empty:
        return _linked(det.assign(track_id=np.zeros(0, int)), pd.DataFrame(), pd.DataFrame())
    pos = _position_columns(det)
    features = det[["frame", *pos]].assign(row=np.arange(len(det)))
    features["radius_w"] = params.area_weight * np.sqrt(det["area_px"].to_numpy(float) / np.pi)
    tracker = LapTrack(cutoff=_cutoff(params.max_displacement_px),
                       gap_closing_cutoff=_cutoff(params.gap_distance_px) if params.gap_frames > 0 else False,
                       gap_closing_max_frame_count=int(params.gap_frames) + 1,
                       merging_cutoff=_cutoff(params.merge_distance_px),
                       splitting_cutoff=_cutoff(params.split_distance_px))
    track_df, split_df, merge_df = tracker.predict_dataframe(features, [*pos, "radius_w"], frame_col="frame",
                                                             only_coordinate_cols=False)
    ids = track_df.sort_values("row")["track_id"].to_numpy()
    return _linked(det.assign(track_id=np.asarray(ids, int)), split_df, merge_df)


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
    from laptrack import OverLapTrack

    det = detections.reset_index(drop=True)
    if det.empty:
        return _linked(det.assign(track_id=np.zeros(0, int)), pd.DataFrame(), pd.DataFrame())
    tracker = OverLapTrack(cutoff=0.999, gap_closing_cutoff=0.999 if params.gap_frames > 0 else False,
                           gap_closing_max_frame_count=int(params.gap_frames) + 1,
                           merging_cutoff=0.999 if params.merge_distance_px else False,
                           splitting_cutoff=0.999 if params.split_distance_px else False)
    track_df, split_df, merge_df = tracker.predict_overlap_dataframe(np.asarray(labels))
    ids = track_df["track_id"].rename("track_id").reset_index()
    tracked = det.merge(ids, on=["frame", "label"], how="left", validate="one_to_one")
    return _linked(tracked.assign(track_id=tracked["track_id"].astype(int)), split_df, merge_df)


def _pairs(table: pd.DataFrame) -> list[tuple[int, int]]:
    if table is None or table.empty:
        return []
    return [(int(p), int(c)) for p, c in zip(table["parent_track_id"], table["child_track_id"])]


def _linked(tracks: pd.DataFrame, split_df: pd.DataFrame, merge_df: pd.DataFrame) -> Linked:
    """Renumber tracks from 1 by (start frame, old id) and build lineage and events."""
    if tracks.empty:
        return Linked(tracks, pd.DataFrame(columns=LINEAGE_COLUMNS), pd.DataFrame(columns=EVENT_COLUMNS))
    span = tracks.groupby("track_id")["frame"].agg(["min", "max"]).reset_index()
    span = span.sort_values(["min", "track_id"], kind="stable")
    new = dict(zip(span["track_id"].astype(int), range(1, len(span) + 1)))
    tracks = tracks.assign(track_id=tracks["track_id"].map(new).astype(int))
    merges = [(new[p], new[c]) for p, c in _pairs(merge_df)]
    splits = [(new[p], new[c]) for p, c in _pairs(split_df)]
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

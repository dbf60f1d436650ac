"""Scores of a particle tracking against a simulation's truth (``benchmarks/tracking.py``, tests).

Both sides are given as track-id masks (frames, rows, cols; value = track id, 0 =
background), a per-frame track table (``frame, track_id, x, y``) and a lineage table
(``track_id, start, end, parents``, parents space-separated: the convention of
:mod:`rewardscope.track.linking`, which :func:`rewardscope.simulate.simulate_movie`'s
truth follows). Torch-free.

* :func:`frame_matches`: which predicted track is which true track in every frame, by
  mask overlap (IoU >= 0.5, so at most one partner each; the rule of CTC's DET with a
  symmetric threshold);
* :func:`identity`: the share of true tracks of >= ``min_frames`` frames that one
  predicted track covers for >= ``coverage`` of their frames (id swaps and broken tracks
  lower it; TRA hardly moves for them);
* :func:`merge_scores`: merge-event precision, recall and F1: a predicted merge matches a
  true one within ``tolerance`` frames whose parents are the same true tracks, each
  predicted parent being named by the true track it overlaps most in its last frame;
* :func:`tracking_graph` and :func:`ctc_scores`: the CTC measures TRA, DET and LNK of
  traccuracy (``CTCMatcher`` + ``CTCMetrics``) on graphs whose nodes are (frame, track
  id) and whose edges join consecutive detections of a track and every parent's last node
  to its child's first node (a merge is a node with two or more parents).

We write the matching and the two event/identity scores ourselves because traccuracy
scores divisions, not merges, and has no identity measure of this kind; the CTC measures
are traccuracy's own.

Examples
--------
>>> masks = np.zeros((3, 8, 8), np.uint16)
>>> masks[:, 2:5, 2:5] = 1
>>> tracks = pd.DataFrame({"frame": [0, 1, 2], "track_id": [1, 1, 1], "x": [3.0] * 3, "y": [3.0] * 3})
>>> identity(frame_matches(masks, masks), tracks, min_frames=3)
1.0
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def frame_matches(true_masks: Any, pred_masks: Any, *, min_iou: float = 0.5) -> pd.DataFrame:
    """Pairs (frame, true id, predicted id) whose masks overlap with IoU >= ``min_iou``.

    Parameters
    ----------
    true_masks, pred_masks : array_like (frames, rows, cols) of int
        Track-id masks (read frame by frame: memory maps work).
    min_iou : float
        Least intersection over union of a match (0.5 or more: one partner at most).

    Returns
    -------
    pandas.DataFrame
        ``frame, true_id, pred_id, overlap_px, iou``; also one row per true track and frame
        with its largest-overlap predicted id when that IoU is lower (``iou`` < ``min_iou``,
        used to name merge parents).
    """
    rows = []
    for f in range(len(true_masks)):
        t = np.asarray(true_masks[f]).ravel().astype(np.int64)
        p = np.asarray(pred_masks[f]).ravel().astype(np.int64)
        t_area = np.bincount(t)
        p_area = np.bincount(p)
        both = (t > 0) & (p > 0)
        if not both.any():
            continue
        key = t[both] * (int(p.max()) + 1) + p[both]
        uniq, counts = np.unique(key, return_counts=True)
        ti, pi = uniq // (int(p.max()) + 1), uniq % (int(p.max()) + 1)
        iou = counts / (t_area[ti] + p_area[pi] - counts)
        rows.append(pd.DataFrame({"frame": f, "true_id": ti, "pred_id": pi, "overlap_px": counts, "iou": iou}))
    if not rows:
        return pd.DataFrame(columns=["frame", "true_id", "pred_id", "overlap_px", "iou"])
    return pd.concat(rows, ignore_index=True)


def identity(matches: pd.DataFrame, true_tracks: pd.DataFrame, *, min_frames: int = 5, coverage: float = 0.9,
             min_iou: float = 0.5) -> float:
    """Share of true tracks of >= ``min_frames`` frames covered for >= ``coverage`` of them by ONE predicted track.

    Examples
    --------
    >>> m = pd.DataFrame({"frame": range(10), "true_id": 1, "pred_id": [1] * 9 + [2], "iou": 1.0})
    >>> t = pd.DataFrame({"frame": range(10), "track_id": 1})
    >>> identity(m, t), identity(m, t, coverage=0.95)
    (1.0, 0.0)
    """
    lengths = true_tracks.groupby("track_id")["frame"].nunique()
    long = lengths[lengths >= min_frames]
    if long.empty:
        return float("nan")
    good = matches[matches["iou"] >= min_iou]
    best = good.groupby(["true_id", "pred_id"])["frame"].nunique().groupby("true_id").max()
    covered = best.reindex(long.index).fillna(0) >= coverage * long
    return float(covered.mean())


def _parents(lineage: pd.DataFrame) -> dict[int, list[int]]:
    return {int(t): [int(p) for p in str(ps).split()] for t, ps in zip(lineage["track_id"], lineage["parents"])
            if str(ps).strip() and str(ps) != "nan"}


def merge_scores(true_events: pd.DataFrame, pred_events: pd.DataFrame, pred_lineage: pd.DataFrame,
                 matches: pd.DataFrame, *, tolerance: int = 2) -> dict[str, float]:
    """Precision, recall and F1 of merge events (see the module docstring for the rule).

    Parameters
    ----------
    true_events, pred_events : pandas.DataFrame
        ``frame, event, parents, child`` (only ``event == "merge"`` rows count).
    pred_lineage : pandas.DataFrame
        ``track_id, start, end``: the frame in which a predicted parent is named.
    matches : pandas.DataFrame
        :func:`frame_matches` of the two mask stacks.
    tolerance : int
        Largest frame difference of matching merges.

    Returns
    -------
    dict
        ``merge_precision, merge_recall, merge_f1, n_true_merges, n_pred_merges, n_matched_merges``.
    """
    truth = true_events[true_events["event"] == "merge"]
    pred = pred_events[pred_events["event"] == "merge"] if len(pred_events) else pred_events
    end = dict(zip(pred_lineage["track_id"].astype(int), pred_lineage["end"].astype(int)))
    best = matches.sort_values("overlap_px", ascending=False).drop_duplicates(["frame", "pred_id"])
    name = {(int(f), int(p)): int(t) for f, p, t in zip(best["frame"], best["pred_id"], best["true_id"])}
    used: set[int] = set()
    matched = 0
    true_sets = [(int(f), frozenset(int(p) for p in str(ps).split())) for f, ps in zip(truth["frame"], truth["parents"])]
    for f, ps in zip(pred["frame"] if len(pred) else [], pred["parents"] if len(pred) else []):
        named = frozenset(name.get((end.get(int(p), -1), int(p)), -int(p)) for p in str(ps).split())
        for k, (tf, tps) in enumerate(true_sets):
            if k not in used and abs(int(f) - tf) <= tolerance and named == tps:
                used.add(k)
                matched += 1
                break
    n_true, n_pred = len(true_sets), len(pred)
    precision = matched / n_pred if n_pred else float(n_true == 0)
    recall = matched / n_true if n_true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"merge_precision": precision, "merge_recall": recall, "merge_f1": f1, "n_true_merges": n_true,
            "n_pred_merges": n_pred, "n_matched_merges": matched}


def tracking_graph(tracks: pd.DataFrame, lineage: pd.DataFrame) -> Any:
    """networkx DiGraph: nodes ``(frame, track_id)`` (attributes t, x, y, segmentation_id), track and parent edges.

    Examples
    --------
    >>> t = pd.DataFrame({"frame": [0, 0, 1], "track_id": [1, 2, 3], "x": [1.0, 5.0, 3.0], "y": [1.0] * 3})
    >>> g = tracking_graph(t, pd.DataFrame({"track_id": [1, 2, 3], "parents": ["", "", "1 2"]}))
    >>> sorted(g.edges), g.in_degree((1, 3))
    ([((0, 1), (1, 3)), ((0, 2), (1, 3))], 2)
    """
    import networkx as nx

    graph = nx.DiGraph()
    ordered = tracks.sort_values(["track_id", "frame"], kind="stable")
    frames, ids = ordered["frame"].to_numpy(int).tolist(), ordered["track_id"].to_numpy(int).tolist()
    xs, ys = ordered["x"].to_numpy(float).tolist(), ordered["y"].to_numpy(float).tolist()
    graph.add_nodes_from(((f, t), {"t": f, "x": x, "y": y, "segmentation_id": t})
                         for f, t, x, y in zip(frames, ids, xs, ys))
    graph.add_edges_from(((frames[i], ids[i]), (frames[i + 1], ids[i + 1])) for i in range(len(ids) - 1)
                         if ids[i] == ids[i + 1])
    first = ordered.groupby("track_id")["frame"].min()
    last = ordered.groupby("track_id")["frame"].max()
    for child, parents in _parents(lineage).items():
        for p in parents:
            if p in last.index and child in first.index:
                graph.add_edge((int(last[p]), p), (int(first[child]), child))
    return graph


def ctc_scores(true_masks: np.ndarray, true_tracks: pd.DataFrame, true_lineage: pd.DataFrame,
               pred_masks: np.ndarray, pred_tracks: pd.DataFrame, pred_lineage: pd.DataFrame) -> dict[str, float]:
    """CTC TRA, DET and LNK (traccuracy) of a predicted tracking against the truth.

    The masks are read whole (traccuracy's CTC matcher needs the arrays).

    Returns
    -------
    dict
        ``TRA, DET, LNK`` and traccuracy's error counts (``fp_nodes``, ``fn_nodes``,
        ``ns_nodes``, ``fp_edges``, ``fn_edges``, ``ws_edges``).
    """
    from traccuracy import TrackingGraph, run_metrics
    from traccuracy.matchers import CTCMatcher
    from traccuracy.metrics import CTCMetrics

    gt = TrackingGraph(tracking_graph(true_tracks, true_lineage), segmentation=np.asarray(true_masks))
    pr = TrackingGraph(tracking_graph(pred_tracks, pred_lineage), segmentation=np.asarray(pred_masks))
    results, _ = run_metrics(gt, pr, CTCMatcher(), [CTCMetrics()])
    values = results[0]["results"]
    return {k: float(v) for k, v in values.items()}


def score_tracking(truth: Any, pred_masks: Any, pred_tracks: pd.DataFrame, pred_lineage: pd.DataFrame,
                   pred_events: pd.DataFrame, *, ctc: bool = True) -> dict[str, float]:
    """All scores of one tracking against a :class:`~rewardscope.simulate.movie.SimulatedMovie`.

    Returns
    -------
    dict
        ``identity``, the :func:`merge_scores` keys, with ``ctc`` also ``TRA, DET, LNK``, and
        ``n_true_tracks``, ``n_pred_tracks``.
    """
    matches = frame_matches(truth.masks, pred_masks)
    row: dict[str, float] = {"identity": identity(matches, truth.tracks),
                             **merge_scores(truth.events, pred_events, pred_lineage, matches),
                             "n_true_tracks": int(len(truth.lineage)), "n_pred_tracks": int(len(pred_lineage))}
    if ctc:
        ctc_row = ctc_scores(truth.masks, truth.tracks, truth.lineage, pred_masks, pred_tracks, pred_lineage)
        row.update({k: ctc_row[k] for k in ("TRA", "DET", "LNK")})
    return row


__all__ = ["ctc_scores", "frame_matches", "identity", "merge_scores", "score_tracking", "tracking_graph"]

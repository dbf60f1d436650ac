"""Linking a long movie in overlapping windows of frames, as its frames arrive.

laptrack links a movie in one call: its frame-to-frame LAP and then its gap-closing and
merging LAP over whole track segments. It has no online mode, so a movie of thousands of
frames segmented by dask workers could only be linked after its last frame. Here the
movie is cut into windows of ``window`` frames (their *cores*), each linked by laptrack
with ``overlap`` frames of context on both sides as soon as those frames are there, and
the windows' link graphs are joined at the seams: the links *into* a detection are the
ones of the window whose core holds the detection's frame. Every detection's
predecessors are therefore one LAP's answer, given ``overlap`` frames of context before
and after it, and the joined graph is read as laptrack's own (track segments, merges,
splits: :func:`~rewardscope.track.linking.linked_from_graph`). No library joins LAP
windows, so this is ours; the LAP itself stays laptrack's.

One conflict is possible at a seam: a detection just before it whose successor the
earlier window put before the seam while the later window links it across the seam
(gap closing). With splits off, the earlier window's link is kept and the later one
dropped (a second successor would read as a split).

Examples
--------
>>> import pandas as pd
>>> from rewardscope.track.linking import LinkParams
>>> frames = [pd.DataFrame({"frame": [f], "x": [10.0 + f], "y": [5.0], "area_px": [50.0]}) for f in range(30)]
>>> linking = WindowedLinking(LinkParams(max_displacement_px=3.0), n_frames=30, window=10, overlap=4)
>>> for table in frames:
...     linking.add(table)
>>> linking.windows_linked, linking.result().lineage.to_dict("records")
(3, [{'track_id': 1, 'start': 0, 'end': 29, 'parents': ''}])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from rewardscope.track.linking import Linked, LinkParams, lap_graph, link_tracks, linked_from_graph

Node = tuple[int, int]


@dataclass
class LinkGraph:
    """Links between detections ``(frame, index in frame)``, as laptrack's graph exposes them.

    Attributes
    ----------
    pred, succ : dict of node to list of nodes
        Predecessors and successors of every node (every detection is a node).
    """

    pred: dict[Node, list[Node]] = field(default_factory=dict)
    succ: dict[Node, list[Node]] = field(default_factory=dict)

    @property
    def nodes(self) -> list[Node]:
        """Every detection."""
        return list(self.pred)

    def add_nodes(self, frame: int, count: int) -> None:
        """The ``count`` detections of ``frame``, not linked yet."""
        for i in range(count):
            self.pred.setdefault((frame, i), [])
            self.succ.setdefault((frame, i), [])

    def add_edge(self, u: Node, v: Node) -> None:
        """A link from the earlier ``u`` to ``v``."""
        self.succ[u].append(v)
        self.pred[v].append(u)


def window_spans(n_frames: int, window: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """``(start, stop, core_start, core_stop)`` of each window: the frames linked and those it decides.

    Examples
    --------
    >>> window_spans(25, 10, 3)
    [(0, 13, 0, 10), (7, 23, 10, 20), (17, 25, 20, 25)]
    """
    cores = list(range(0, n_frames, window))
    return [(max(0, a - overlap), min(n_frames, a + window + overlap), a, min(n_frames, a + window)) for a in cores]


class WindowedLinking:
    """Link per-frame detection tables in windows as they are added (frame 0 first).

    Parameters
    ----------
    params : LinkParams
        The cut-offs (the same for every window).
    n_frames : int
        Frames of the movie.
    window : int
        Frames per window core (> 0).
    overlap : int
        Frames of context linked on either side of a core (more than ``params.gap_frames + 1``).
    link : callable, optional
        ``(detections, params) -> graph`` of one window (default laptrack's :func:`lap_graph`).
    """

    def __init__(self, params: LinkParams, *, n_frames: int, window: int, overlap: int,
                 link: Callable[[pd.DataFrame, LinkParams], Any] = lap_graph) -> None:
        if window <= 0 or overlap <= params.gap_frames + 1:
            raise ValueError(f"a window needs > 0 frames and an overlap > gap frames + 1; got {window}, {overlap}")
        self.params, self.n_frames, self._link = params, int(n_frames), link
        self.spans = window_spans(self.n_frames, int(window), int(overlap))
        self.tables: list[pd.DataFrame] = []
        self.graph = LinkGraph()
        self.windows_linked = 0

    def add(self, table: pd.DataFrame) -> None:
        """The next frame's detections (any columns :func:`link_tracks` reads; ``frame`` is set here)."""
        frame = len(self.tables)
        if frame >= self.n_frames:
            raise ValueError(f"more than the movie's {self.n_frames} frames added")
        self.tables.append(table.assign(frame=frame))
        self.graph.add_nodes(frame, len(table))
        while self.windows_linked < len(self.spans) and self.spans[self.windows_linked][1] <= len(self.tables):
            self._link_window(*self.spans[self.windows_linked])
            self.windows_linked += 1

    def _link_window(self, start: int, stop: int, core_start: int, core_stop: int) -> None:
        det = pd.concat(self.tables[start:stop], ignore_index=True)
        if det.empty:
            return
        graph = self._link(det.assign(frame=det["frame"] - start), self.params)
        splits = self.params.split_distance_px is not None
        for (fu, iu), (fv, iv) in sorted(graph.edges):
            u, v = (int(fu) + start, int(iu)), (int(fv) + start, int(iv))
            if not core_start <= v[0] < core_stop:
                continue
            if not splits and self.graph.succ[u]:  # an earlier window's link out of u is kept
                continue
            self.graph.add_edge(u, v)

    def result(self) -> Linked:
        """Tracks, lineage and events of the whole movie (every frame added)."""
        if len(self.tables) != self.n_frames:
            raise ValueError(f"{len(self.tables)} of the movie's {self.n_frames} frames added")
        det = pd.concat(self.tables, ignore_index=True)
        if det.empty:
            return link_tracks(det, self.params)
        return linked_from_graph(det, self.graph, self.params)


__all__ = ["LinkGraph", "WindowedLinking", "window_spans"]

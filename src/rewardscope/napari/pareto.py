"""The Pareto front of the last study as a napari dock widget; a click shows another trial.

Every trial is a grey dot (first two rewards; all are minimised), the non-dominated
trials are blue, the point the selection rule chose is a red star. Clicking a point of
the front marks it (orange ring) and calls the analysis widget back with that trial's
parameters, which re-runs the analysis at exactly those parameters and replaces the
result layer: the reward-driven choice, and its alternatives, seen on the image.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from weakref import WeakKeyDictionary

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from qtpy.QtWidgets import QLabel, QVBoxLayout, QWidget

_DOCKED: WeakKeyDictionary[Any, ParetoWidget] = WeakKeyDictionary()


class ParetoWidget(QWidget):
    """Dock widget with the Pareto front of a :class:`~rewardscope.optimize.StudyResult`.

    Attributes
    ----------
    study : StudyResult or None
        The study shown.
    picked : int or None
        Row of ``study.pareto`` last clicked.
    """

    def __init__(self, napari_viewer: Any = None) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.figure = Figure(figsize=(4, 3.2), tight_layout=True)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.ax = self.figure.add_subplot(111)
        self.info = QLabel("run an analysis: its Pareto front appears here")
        self.info.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.canvas)
        layout.addWidget(self.info)
        self.study: Any = None
        self.picked: int | None = None
        self._on_pick: Callable[[dict[str, Any]], Any] | None = None
        self._front_artist: Any = None
        self._ring: Any = None
        self.canvas.mpl_connect("pick_event", self._picked)
        if napari_viewer is not None:
            _DOCKED[napari_viewer] = self

    def show_study(self, study: Any, *, on_pick: Callable[[dict[str, Any]], Any] | None = None,
                   title: str = "") -> None:
        """Draw ``study``'s trials, front and chosen point; ``on_pick(params)`` on a click on the front."""
        self.study, self._on_pick, self.picked, self._ring = study, on_pick, None, None
        names = list(study.objective_names)[:2]
        ax = self.ax
        ax.clear()
        trials, front = study.trials, study.pareto
        if len(names) == 1:
            names = [names[0], "trial"]
        x, y = names
        ax.scatter(trials[x], trials[y], s=10, c="0.7", label=f"trials ({len(trials)})")
        self._front_artist = ax.scatter(front[x], front[y], s=30, c="tab:blue", picker=6,
                                        label=f"Pareto front ({len(front)})", zorder=3)
        chosen = front[front["selected"]]
        ax.scatter(chosen[x], chosen[y], s=160, marker="*", c="tab:red", zorder=4,
                   label=f"chosen ({study.selection})")
        ax.set_xlabel(f"{x} (minimised)")
        ax.set_ylabel(f"{y} (minimised)")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7, loc="upper right")
        self.canvas.draw_idle()
        hint = "click a blue point to see that trial on the image" if on_pick else "the chosen point is the red star"
        self.info.setText(f"{len(front)} points on the front; {hint}")

    def point_position(self, index: int) -> tuple[float, float]:
        """Display (pixel) coordinates of the front's point ``index`` on the canvas (for clicks)."""
        names = list(self.study.objective_names)[:2]
        row = self.study.pareto.iloc[index]
        return tuple(self.ax.transData.transform((float(row[names[0]]), float(row[names[1]]))))

    def _picked(self, event: Any) -> None:
        if event.artist is not self._front_artist or not len(event.ind):
            return
        # of the points within the pick radius, the one nearest to the click (close points on a wide view)
        hits = [int(i) for i in event.ind]
        click = np.array([event.mouseevent.x, event.mouseevent.y], float)
        self.pick(min(hits, key=lambda i: float(np.hypot(*(np.array(self.point_position(i)) - click)))))

    def pick(self, index: int) -> Any:
        """Mark the front's point ``index`` and show that trial (through the analysis widget)."""
        front = self.study.pareto
        row = front.iloc[index]
        self.picked = index
        names = list(self.study.objective_names)[:2]
        if self._ring is not None:
            self._ring.remove()
        self._ring = self.ax.scatter([row[names[0]]], [row[names[1]]], s=220, facecolors="none",
                                     edgecolors="tab:orange", linewidths=2, zorder=5)
        self.canvas.draw_idle()
        params = {p: row[p] for p in self.study.param_names}
        values = ", ".join(f"{n} = {row[n]:.4g}" for n in self.study.objective_names)
        self.info.setText(f"trial {int(row['trial'])}: {values}" + (" (the chosen one)" if row["selected"] else ""))
        return self._on_pick(params) if self._on_pick is not None else None


def pareto_widget(viewer: Any) -> ParetoWidget:
    """The viewer's Pareto dock widget, created and docked on first use."""
    widget = _DOCKED.get(viewer)
    if widget is None:
        widget = ParetoWidget(viewer)
        viewer.window.add_dock_widget(widget, name="Pareto front", area="right")
    return widget


__all__ = ["ParetoWidget", "pareto_widget"]

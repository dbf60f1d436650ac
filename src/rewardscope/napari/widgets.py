"""napari dock widgets: atoms, classify, amorphous, segment, drift and track.

Each widget picks an image layer, shows the options of its workflow's config model (built
by :mod:`rewardscope.napari.fields`, so the defaults are the API's and the CLI's), and runs
the public API call (``rewardscope.find_atoms``, ``classify_atoms``, ``map_amorphous``,
``segment_image`` / ``segment_movie``, ``correct_drift``, ``track_particles``) in a worker
thread (:func:`napari.qt.threading.create_worker`): the viewer stays responsive, the
progress bar follows the API's ``progress(stage, done, total)`` calls, and *Cancel* makes
the next such call raise :class:`Cancelled`, which stops the work.

Results become layers: Points (one per atom, with every column of the atom table as a
feature: class, class_probability, uncertainty_px, ...; faces coloured by class), Labels
(particle masks, amorphous mask, track-id masks), Tracks (``[track_id, t, y, x]`` with
``graph={child: [parent1, parent2]}`` for merges) and, for drift, the aligned movie. A
layer's calibration is read from ``metadata["pixel_size"]`` (set by the reader and the
sample data), else from its scale (nm per pixel); results get the image's scale, so they
sit on the image. Studies go to the Pareto dock widget (:mod:`rewardscope.napari.pareto`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from magicgui.widgets import ComboBox, Container, Label, ProgressBar, PushButton
from napari.layers import Image, Points
from napari.qt.threading import create_worker
from pydantic import BaseModel
from qtpy.QtCore import QObject, Signal

from rewardscope.errors import InputError, ParameterError
from rewardscope.napari.fields import config_from, config_widgets
from rewardscope.workflows.base import keeping_state, trial_output

#: Points colours of atom classes (matplotlib tab10), class -1 / unknown grey.
CLASS_COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                 "#bcbd22", "#17becf"]


class Cancelled(Exception):
    """Raised inside the worker by the progress callback after *Cancel* was pressed."""


class _Relay(QObject):
    """Carries progress calls from the worker thread to the GUI thread (a queued Qt signal)."""

    progressed = Signal(str, int, int)


def layer_pixel_size(layer: Any) -> str | None:
    """A layer's pixel size as rewardscope text: ``metadata["pixel_size"]``, else its scale in nm (1 = none)."""
    text = (layer.metadata or {}).get("pixel_size")
    if text:
        return str(text)
    scale = float(layer.scale[-1])
    return None if scale == 1.0 else f"{scale!r}nm"


def atoms_table(layer: Any) -> pd.DataFrame:
    """The atoms of a Points layer as a table: its features with ``x``, ``y`` from the point positions."""
    data = np.asarray(layer.data, float)
    table = pd.DataFrame(layer.features).reset_index(drop=True) if len(layer.features) == len(data) else pd.DataFrame()
    table["x"], table["y"] = data[:, -1], data[:, -2]
    return table


def class_colours(values: Any) -> np.ndarray:
    """One RGBA row per point from an integer class column (tab10; missing or negative: grey)."""
    from napari.utils.colormaps.standardize_color import transform_color

    codes = pd.to_numeric(pd.Series(values), errors="coerce").fillna(-1).astype(int).to_numpy()
    palette = transform_color(CLASS_COLOURS)
    colours = palette[np.mod(codes, len(CLASS_COLOURS))]
    colours[codes < 0] = (0.6, 0.6, 0.6, 1.0)
    return colours


def lineage_graph(lineage: pd.DataFrame) -> dict[int, list[int]]:
    """napari's Tracks graph from a lineage table: ``{child: [parent, ...]}`` (parents space-separated)."""
    graph: dict[int, list[int]] = {}
    for row in lineage.itertuples(index=False):
        parents = row.parents
        if isinstance(parents, str):
            ids = [int(p) for p in parents.replace(",", " ").split()]
        elif isinstance(parents, (list, tuple, np.ndarray)):
            ids = [int(p) for p in parents]
        elif parents is None or (isinstance(parents, float) and np.isnan(parents)):
            ids = []
        else:
            ids = [int(parents)]
        if ids:
            graph[int(row.track_id)] = ids
    return graph


class AnalysisWidget(Container):
    """Base of the analysis widgets: image choice, config fields, Run / Cancel, progress, worker.

    Subclasses set :attr:`model` and :attr:`fields` and implement :meth:`job` (returns a
    function ``f(progress) -> result`` that runs in the worker) and :meth:`show` (turns the
    result into layers, in the GUI thread).

    Attributes
    ----------
    result : object
        The last result (a :class:`~rewardscope.result.Result`).
    error : BaseException or None
        The last run's error (:class:`Cancelled` after *Cancel*).
    worker : napari worker or None
        The running (or last) worker.
    """

    model: type[BaseModel]
    fields: list[str] = []
    needs_movie = False
    run_label = "Run"

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__(labels=True)
        self.viewer = napari_viewer
        self.image = ComboBox(name="image", label="image", choices=self._image_choices)
        self.config_fields = config_widgets(self.model, self.fields, choices=self.choices())
        self.run_button = PushButton(text=self.run_label)
        self.cancel_button = PushButton(text="Cancel", enabled=False)
        self.progress_bar = ProgressBar(value=0, min=0, max=1, label="progress")
        self.status = Label(value="")
        self.extend([self.image, *self.extra_inputs(), *self.config_fields, self.run_button, self.cancel_button,
                     self.progress_bar, self.status])
        self.run_button.changed.connect(lambda *_: self.start())
        self.cancel_button.changed.connect(lambda *_: self.cancel())
        self.viewer.layers.events.inserted.connect(lambda *_: self.reset_choices())
        self.viewer.layers.events.removed.connect(lambda *_: self.reset_choices())
        self._relay = _Relay()
        self._relay.progressed.connect(self._on_progress)
        self._cancelled = False
        self.result: Any = None
        self.error: BaseException | None = None
        self.worker: Any = None
        self.reset_choices()

    # -- to override ------------------------------------------------------------------------
    def choices(self) -> dict[str, list[Any]]:
        """Drop-down values of config fields that are not ``Literal`` (e.g. registered methods)."""
        return {}

    def extra_inputs(self) -> list[Any]:
        """Further input widgets (e.g. an atoms layer) placed after the image choice."""
        return []

    def job(self, layer: Any, config: Any) -> Callable[[Callable[..., None]], Any]:
        """The API call to run in the worker, as ``f(progress) -> result``."""
        raise NotImplementedError

    def show(self, result: Any, layer: Any) -> None:
        """Put ``result`` into the viewer as layers."""
        raise NotImplementedError

    # -- the machinery ----------------------------------------------------------------------
    def _image_choices(self, widget: Any = None) -> list[tuple[str, Any]]:
        return [(lay.name, lay) for lay in self.viewer.layers if isinstance(lay, Image)]

    def image_layer(self) -> Any:
        """The chosen image layer (an error when there is none or it has the wrong dimensions)."""
        layer = self.image.value
        if layer is None:
            raise ParameterError("open an image first (File > Open, or File > Open Sample > rewardscope)")
        ndim = np.ndim(layer.data)
        if self.needs_movie and ndim != 3:
            raise ParameterError(f"{layer.name} is one image; this step needs a movie (frames on the time axis)")
        return layer

    def frame(self, layer: Any) -> np.ndarray:
        """The layer's image: a movie gives the frame shown on the time slider."""
        data = np.asarray(layer.data)
        if data.ndim == 3:
            return np.asarray(data[int(self.viewer.dims.current_step[0])])
        return data

    def config(self, layer: Any, **extra: Any) -> Any:
        """The config from the fields; an empty pixel size is the layer's."""
        values = {w.name: w.value for w in self.config_fields}
        if "pixel_size" in self.model.model_fields and not str(values.get("pixel_size", "") or "").strip():
            extra.setdefault("pixel_size", layer_pixel_size(layer))
        return config_from(self.model, self.config_fields, **extra)

    def start(self, job: Callable[[Callable[..., None]], Any] | None = None, *, layer: Any = None) -> Any:
        """Start the worker (``job`` default: :meth:`job` on the chosen layer and config); returns it."""
        self.error = None
        try:
            if job is None:
                layer = self.image_layer()
                job = self.job(layer, self.config(layer))
        except InputError as exc:
            self.error = exc
            self.status.value = f"error: {exc}"
            return None
        self._cancelled = False
        relay = self._relay

        def progress(stage: str, done: int, total: int | None) -> None:
            if self._cancelled:
                raise Cancelled("cancelled")
            relay.progressed.emit(str(stage), int(done), -1 if total is None else int(total))

        # our own "errored" handler: napari then does not re-raise (a cancel is not a crash)
        worker = create_worker(job, progress, _start_thread=False,
                               _connect={"returned": lambda result: self._on_done(result, layer),
                                         "errored": self._on_error, "finished": self._on_finished})
        self.worker = worker
        self.run_button.enabled, self.cancel_button.enabled = False, True
        self.status.value = "running ..."
        worker.start()
        return worker

    def cancel(self) -> None:
        """Stop the running work at its next progress report."""
        self._cancelled = True
        self.status.value = "cancelling ..."

    def _on_progress(self, stage: str, done: int, total: int) -> None:
        if total > 0:
            self.progress_bar.max = total
            self.progress_bar.value = min(done, total)
        self.progress_bar.label = stage
        self.status.value = f"{stage}: {done}" + (f"/{total}" if total > 0 else "")

    def _on_done(self, result: Any, layer: Any) -> None:
        self.result = result
        self.show(result, layer)
        self.status.value = self.describe(result)

    def describe(self, result: Any) -> str:
        """One status line about a result."""
        return "done"

    def _on_error(self, exc: BaseException) -> None:
        self.error = exc
        if isinstance(exc, Cancelled):
            self.status.value = "cancelled"
        elif isinstance(exc, InputError):
            self.status.value = f"error: {exc}"
        else:
            self.status.value = f"failed: {type(exc).__name__}: {exc}"
            from napari.utils.notifications import show_error

            show_error(f"rewardscope: {type(exc).__name__}: {exc}")

    def _on_finished(self) -> None:
        self.run_button.enabled, self.cancel_button.enabled = True, False

    # -- layers -----------------------------------------------------------------------------
    def put_layer(self, kind: str, data: Any, name: str, *, like: Any, ndim: int = 2, **kwargs: Any) -> Any:
        """Add a layer placed on ``like`` (its scale, translate and units of the last ``ndim`` axes).

        A layer of the same name (an earlier run's) is replaced.
        """
        if name in self.viewer.layers:
            self.viewer.layers.remove(name)
        scale, translate = tuple(like.scale[-ndim:]), tuple(like.translate[-ndim:])
        units = tuple(like.units[-ndim:])
        if len(scale) < ndim:  # e.g. tracks (t, y, x) on one image
            pad = ndim - len(scale)
            scale, translate, units = (1.0,) * pad + scale, (0.0,) * pad + translate, ("pixel",) * pad + units
        return getattr(self.viewer, f"add_{kind}")(data, name=name, scale=scale, translate=translate, units=units,
                                                   **kwargs)

    def show_points(self, table: pd.DataFrame, layer: Any, name: str, *, colour_by: str | None = "class") -> Any:
        """A Points layer of ``table`` (x, y px) on ``layer``: features = the table, faces coloured by class."""
        sigma = pd.to_numeric(table.get("sigma", pd.Series(dtype=float)), errors="coerce")
        size = float(np.clip(2.5 * np.nanmedian(sigma), 3.0, 30.0)) if sigma.notna().any() else 5.0
        colour: Any = "red"
        if colour_by and colour_by in table.columns:
            colour = class_colours(table[colour_by])
        return self.put_layer("points", table[["y", "x"]].to_numpy(float), name, features=table.reset_index(drop=True),
                              face_color=colour, border_color="white", border_width=0.05, size=size, like=layer,
                              opacity=0.9)

    def show_study(self, study: Any, on_pick: Callable[[dict[str, Any]], None] | None, title: str) -> None:
        """Show a study in the Pareto dock widget (created and docked when needed)."""
        from rewardscope.napari.pareto import pareto_widget

        pareto_widget(self.viewer).show_study(study, on_pick=on_pick, title=title)


# --------------------------------------------------------------------------- atoms


class AtomsWidget(AnalysisWidget):
    """Find atomic columns (LoG* tuned by the rewards, plain LoG, or the shipped DCNN)."""

    from rewardscope.workflows.atoms_base import AtomsConfig as model  # noqa: N813

    fields = ["lattice", "method", "pixel_size", "study.trials", "study.sampler", "study.selection", "study.seed",
              "ensemble", "lattice_prior"]
    run_label = "Find atoms"

    def choices(self) -> dict[str, list[Any]]:
        from rewardscope.workflows.atoms import atom_methods

        return {"method": atom_methods()}

    def config(self, layer: Any, **extra: Any) -> Any:
        lattice = next(w for w in self.config_fields if w.name == "lattice")
        if not str(lattice.value).strip() and (layer.metadata or {}).get("lattice"):
            extra.setdefault("lattice", layer.metadata["lattice"])
        return super().config(layer, **extra)

    def job(self, layer: Any, config: Any) -> Callable[[Callable[..., None]], Any]:
        from rewardscope.workflows.atoms import find_atoms

        image = self.frame(layer)
        if config.method == "dcnn" and config.lattice is None and config.cif is None:
            return self._dcnn_alone(image, config)

        def run(progress: Callable[..., None]) -> Any:
            with keeping_state():  # the Pareto widget re-runs trials on the kept scale space
                return find_atoms(image, config=config, progress=progress)

        return run

    @staticmethod
    def _dcnn_alone(image: np.ndarray, config: Any) -> Callable[[Callable[..., None]], Any]:
        """``method="dcnn"`` without a lattice: the network alone (no rewards, no study), as the CLI does."""
        from rewardscope.detect.dcnn import find_atoms_dcnn
        from rewardscope.result import Result

        def run(progress: Callable[..., None]) -> Any:
            found = find_atoms_dcnn(image, pixel_size=config.pixel_size, ensemble=config.ensemble, progress=progress)
            return Result(tables={"atoms": found.atoms}, image=image, pixel_size=config.pixel_size,
                          summary={"method": "dcnn", "n_atoms": int(len(found.atoms)), "n_expected": float("nan")})

        return run

    def show(self, result: Any, layer: Any) -> None:
        self.layer = layer
        self.atoms_layer = self.show_points(result["atoms"], layer, "atoms")
        study = result.extras.get("study")
        if study is not None:
            self.show_study(study, self.show_trial, f"atoms: {result.summary['n_atoms']} (expected "
                                                    f"{result.summary['n_expected']:.0f})")

    def describe(self, result: Any) -> str:
        if result.summary.get("method") == "dcnn" and "study" not in result.extras:
            return f"{result.summary['n_atoms']} atoms (DCNN, no lattice: no rewards)"
        return f"{result.summary['n_atoms']} atoms (expected {result.summary['n_expected']:.0f})"

    def show_trial(self, params: dict[str, Any]) -> pd.DataFrame:
        """Show one trial's atoms: its detections exactly as the rewards scored them (before refinement).

        The chosen trial's point shows the final result again (with refinement).
        """
        chosen = self.result.summary["best_params"]
        if all(params.get(k) == v for k, v in chosen.items()):
            atoms = self.result.atoms
        else:
            atoms = trial_output(self.result, params)
        self.atoms_layer = self.show_points(atoms, self.layer, "atoms")
        self.status.value = f"trial: {len(atoms)} atoms"
        return atoms


# --------------------------------------------------------------------------- classify, amorphous


def _points_choices(viewer: Any) -> Callable[..., list[tuple[str, Any]]]:
    return lambda *_: [(lay.name, lay) for lay in viewer.layers if isinstance(lay, Points)]


class ClassifyWidget(AnalysisWidget):
    """Sort the atoms of a Points layer into classes by the look of their surroundings."""

    from rewardscope.workflows.classify import ClassifyConfig as model  # noqa: N813

    fields = ["classes", "window", "pixel_size", "lattice", "subclass", "seed"]
    run_label = "Classify"

    def extra_inputs(self) -> list[Any]:
        self.atoms = ComboBox(name="atoms", label="atoms", choices=_points_choices(self.viewer))
        return [self.atoms]

    def job(self, layer: Any, config: Any) -> Callable[[Callable[..., None]], Any]:
        from rewardscope.workflows.classify import classify_atoms

        if self.atoms.value is None:
            raise ParameterError("choose a Points layer of atoms (find atoms first)")
        image, table = self.frame(layer), atoms_table(self.atoms.value)
        return lambda progress: classify_atoms(image, table, config=config, progress=progress)

    def show(self, result: Any, layer: Any) -> None:
        self.show_points(result.atoms, layer, self.atoms.value.name if self.atoms.value else "atoms")

    def describe(self, result: Any) -> str:
        return f"{result.atoms['class'].nunique()} classes"


class AmorphousWidget(AnalysisWidget):
    """Map amorphised regions (per-atom probability and a mask, tuned by shape rewards)."""

    from rewardscope.workflows.amorphous import AmorphousConfig as model  # noqa: N813

    fields = ["lattice", "pixel_size", "study.trials", "study.seed", "classes", "atom_trials"]
    run_label = "Map amorphous regions"

    def extra_inputs(self) -> list[Any]:
        self.atoms = ComboBox(name="atoms", label="atoms (optional)", nullable=True,
                              choices=_points_choices(self.viewer))
        return [self.atoms]

    def job(self, layer: Any, config: Any) -> Callable[[Callable[..., None]], Any]:
        from rewardscope.workflows.amorphous import map_amorphous

        image = self.frame(layer)
        table = atoms_table(self.atoms.value) if self.atoms.value is not None else None
        return lambda progress: map_amorphous(image, atoms=table, config=config, progress=progress)

    def show(self, result: Any, layer: Any) -> None:
        self.put_layer("labels", np.asarray(result.mask, dtype=np.uint8), "amorphous", like=layer, opacity=0.35)
        self.show_points(result.atoms, layer, "atoms (amorphous)", colour_by="amorphous")
        study = result.extras.get("study")
        if study is not None:
            self.show_study(study, None, f"amorphous: {result.mask.mean():.1%} of the image")

    def describe(self, result: Any) -> str:
        return f"amorphous area {result.mask.mean():.1%}"


# --------------------------------------------------------------------------- particles, drift, tracks


class SegmentWidget(AnalysisWidget):
    """Segment particles (label-free, rewards choose the smoothing and the split); movies frame by frame."""

    from rewardscope.workflows.particles import SegmentConfig as model  # noqa: N813

    fields = ["polarity", "pixel_size", "study.trials", "split_trials", "min_diameter", "study.seed", "drift"]
    run_label = "Segment"

    def job(self, layer: Any, config: Any) -> Callable[[Callable[..., None]], Any]:
        data = np.asarray(layer.data)
        if data.ndim == 3:
            from rewardscope.workflows.movie import segment_movie

            return lambda progress: segment_movie(data, config=config, progress=progress)
        from rewardscope.workflows.particles import segment_image

        def run(progress: Callable[..., None]) -> Any:
            with keeping_state():  # the Pareto widget re-runs trials on the kept state
                return segment_image(data, config=config, progress=progress)

        return run

    def show(self, result: Any, layer: Any) -> None:
        self.layer = layer
        masks = result.arrays.get("masks")
        if masks is not None:
            self.put_layer("labels", np.asarray(masks), "particles", like=layer, ndim=np.ndim(masks), opacity=0.5)
        fg = result.extras.get("studies", {}).get("foreground")
        if fg is not None and np.ndim(layer.data) == 2:
            self.show_study(fg, self.show_trial, f"particles: {self.describe(result)}")

    def describe(self, result: Any) -> str:
        return f"{result.summary.get('n_particles', len(result.particles))} particles"

    def show_trial(self, params: dict[str, Any]) -> np.ndarray:
        """Show the particles at one trial's smoothing width (before the split study; the chosen point: final)."""
        chosen = self.result.extras["studies"]["foreground"].best_params
        if all(params.get(k) == v for k, v in chosen.items()):
            labels = np.asarray(self.result.arrays["masks"])
        else:
            labels = np.asarray(trial_output(self.result, params).labels)
        self.put_layer("labels", labels, "particles", like=self.layer, opacity=0.5)
        self.status.value = f"trial: {int(labels.max())} particles"
        return labels


class DriftWidget(AnalysisWidget):
    """Measure the stage drift of a movie and show the aligned movie."""

    from rewardscope.track.config import DriftConfig as model  # noqa: N813

    fields = ["reference", "upsample", "border"]
    needs_movie = True
    run_label = "Correct drift"

    def job(self, layer: Any, config: Any) -> Callable[[Callable[..., None]], Any]:
        from rewardscope.workflows.drift import correct_drift

        data = np.asarray(layer.data)
        return lambda progress: correct_drift(data, config=config, progress=progress)

    def show(self, result: Any, layer: Any) -> None:
        if result.aligned is not None:
            self.put_layer("image", np.asarray(result.aligned), f"{layer.name} (aligned)", like=layer, ndim=3,
                           metadata={**(layer.metadata or {}), "shifts": result.shifts})

    def describe(self, result: Any) -> str:
        s = result.shifts
        return f"largest shift {float(np.hypot(s.dx, s.dy).max()):.2f} px; {int(s.jump.sum())} jumps"


class TrackWidget(AnalysisWidget):
    """Track particles through a movie (``rewardscope.track_particles``): Tracks with merges, track-id masks."""

    from rewardscope.workflows.tracking import TrackConfig as model  # noqa: N813

    fields = ["linker", "pixel_size", "study.trials", "study.seed", "max_gap_frames", "merges", "splits", "drift"]
    needs_movie = True
    run_label = "Track"

    def job(self, layer: Any, config: Any) -> Callable[[Callable[..., None]], Any]:
        import rewardscope

        data = np.asarray(layer.data)
        return lambda progress: rewardscope.track_particles(data, config=config, progress=progress)

    def show(self, result: Any, layer: Any) -> None:
        tracks = result.tracks
        data = tracks[["track_id", "frame", "y", "x"]].to_numpy(float)
        self.put_layer("labels", np.asarray(result.masks), "track ids", like=layer, ndim=3, opacity=0.4)
        self.put_layer("tracks", data, "tracks", like=layer, ndim=3, graph=lineage_graph(result.lineage),
                       tail_length=10, features=tracks.reset_index(drop=True))

    def describe(self, result: Any) -> str:
        n_merge = int((result.events["event"] == "merge").sum()) if len(result.events) else 0
        return f"{result.tracks['track_id'].nunique()} tracks, {n_merge} merges"


__all__ = ["AmorphousWidget", "AnalysisWidget", "AtomsWidget", "Cancelled", "ClassifyWidget", "DriftWidget",
           "SegmentWidget", "TrackWidget", "atoms_table", "class_colours", "layer_pixel_size", "lineage_graph"]

"""The napari plugin (issue 16) with napari's own ``make_napari_viewer`` fixture (pytest-qt).

The canvas needs OpenGL, which Qt's ``offscreen`` platform does not give: these tests run
under Xvfb (pytest-xvfb starts it; ``.ci/run`` installs Debian's xvfb and the libraries
PyQt6 links against). They skip, saying why, only where napari or an X server is missing.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pandas as pd
import pytest

napari = pytest.importorskip("napari", reason="the optional extra rewardscope[napari] is not installed")
if not os.environ.get("DISPLAY") and shutil.which("Xvfb") is None:
    pytest.skip("no X server: Xvfb is missing (.ci/run installs it with apt-get)", allow_module_level=True)

from rewardscope.io.write import write_tiff  # noqa: E402
from rewardscope.metrics import mask_iou, score_atoms  # noqa: E402
from rewardscope.simulate import simulate_haadf, simulate_movie  # noqa: E402
from rewardscope.units import Length  # noqa: E402

WAIT_MS = 120_000


def _field(widget, name):
    return next(w for w in widget.config_fields if w.name == name)


def _run(qtbot, widget, worker=None):
    """Start (or take) the widget's worker and wait until it has finished."""
    worker = worker or widget.start()
    assert worker is not None, widget.status.value
    qtbot.waitUntil(lambda: widget.run_button.enabled, timeout=WAIT_MS)  # enabled again when the worker ends
    return widget.result


@pytest.fixture(scope="module")
def haadf():
    return simulate_haadf("srtio3-001", size=96, pixel_size="0.35A", noise=0.05, seed=0)


def _viewer_with_image(make_napari_viewer, data, pixel_size=None, *, show=False, **kwargs):
    from rewardscope.napari.reader import image_layer_data

    viewer = make_napari_viewer(show=show)
    array, kw, _ = image_layer_data(data, pixel_size, name="image")
    kw.update(kwargs)
    viewer.add_image(array, **kw)
    return viewer


# --------------------------------------------------------------------------- reader and samples


def test_reader_opens_an_image_and_a_movie_with_their_calibration_as_scale(make_napari_viewer, tmp_path):
    image = np.random.default_rng(0).random((40, 50)).astype(np.float32)
    movie = np.random.default_rng(1).random((5, 32, 48)).astype(np.float32)
    write_tiff(tmp_path / "image.tif", image, pixel_size=Length(0.35, "A"))
    write_tiff(tmp_path / "movie.tif", movie, pixel_size=Length(0.5, "nm"))
    viewer = make_napari_viewer()
    [layer] = viewer.open(str(tmp_path / "image.tif"), plugin="rewardscope")
    assert layer.data.shape == (40, 50) and tuple(layer.scale) == pytest.approx((0.035, 0.035))
    assert layer.metadata["pixel_size"] == "0.035nm" and [str(u) for u in layer.units] == ["nanometer"] * 2
    np.testing.assert_allclose(layer.data, image)
    [mov] = viewer.open(str(tmp_path / "movie.tif"), plugin="rewardscope")
    assert mov.data.shape == (5, 32, 48) and tuple(mov.scale) == pytest.approx((1.0, 0.5, 0.5))
    assert tuple(mov.axis_labels) == ("t", "y", "x")
    assert viewer.dims.nsteps[0] == 5  # the frames are on the time slider


def test_reader_declines_files_it_cannot_read_and_reports_a_bad_one(tmp_path):
    from rewardscope.napari.reader import get_reader

    assert get_reader(str(tmp_path / "notes.txt")) is None
    (tmp_path / "broken.tif").write_bytes(b"not a tiff")
    with pytest.raises(ValueError, match="rewardscope: .*broken.tif"):
        get_reader(str(tmp_path / "broken.tif"))(str(tmp_path / "broken.tif"))


def test_sample_data_are_calibrated(make_napari_viewer):
    viewer = make_napari_viewer()
    [haadf] = viewer.open_sample("rewardscope", "haadf")
    assert haadf.data.shape == (256, 256) and tuple(haadf.scale) == pytest.approx((0.035, 0.035))
    [hrtem] = viewer.open_sample("rewardscope", "hrtem")
    assert hrtem.data.shape == (512, 512) and tuple(hrtem.scale) == (1.0, 1.0)  # no calibration: pixels
    assert "CC-BY-4.0" in hrtem.metadata["attribution"]


# --------------------------------------------------------------------------- atoms, classes, Pareto


def test_atoms_widget_finds_the_true_columns_with_properties_and_scale(make_napari_viewer, qtbot, haadf):
    from rewardscope.napari.widgets import AtomsWidget

    viewer = _viewer_with_image(make_napari_viewer, haadf.image, haadf.pixel_size, metadata={"lattice": "srtio3-001"})
    widget = AtomsWidget(viewer)
    viewer.window.add_dock_widget(widget)
    from rewardscope.workflows.atoms_base import AtomsConfig

    assert _field(widget, "trials").value == AtomsConfig().study.trials  # defaults from the config model
    _field(widget, "trials").value = 30
    result = _run(qtbot, widget)
    assert widget.error is None, widget.status.value
    points = viewer.layers["atoms"]
    assert len(points.data) == len(result.atoms)
    np.testing.assert_allclose(points.data[:, 1], result.atoms["x"])  # napari (row, col) = (y, x)
    np.testing.assert_allclose(points.data[:, 0], result.atoms["y"])
    assert tuple(points.scale) == pytest.approx((0.035, 0.035))
    assert list(points.features.columns) == list(result.atoms.columns)  # every column a per-atom property
    np.testing.assert_allclose(points.features["x"], result.atoms["x"])
    score = score_atoms(pd.DataFrame({"x": points.data[:, 1], "y": points.data[:, 0]}), haadf)
    assert score.f1 >= 0.95, score


def test_atoms_widget_runs_the_shipped_dcnn_with_per_atom_uncertainty(make_napari_viewer, qtbot, haadf):
    from rewardscope.napari.widgets import AtomsWidget

    viewer = _viewer_with_image(make_napari_viewer, haadf.image, haadf.pixel_size)  # no lattice: the network alone
    widget = AtomsWidget(viewer)
    _field(widget, "method").value = "dcnn"
    _field(widget, "ensemble").value = 4
    _run(qtbot, widget)
    assert widget.error is None, widget.status.value
    points = viewer.layers["atoms"]
    assert "uncertainty_px" in points.features and (points.features["uncertainty_px"] >= 0).all()
    score = score_atoms(pd.DataFrame({"x": points.data[:, 1], "y": points.data[:, 0]}), haadf)
    assert score.f1 >= 0.95, score


def test_pareto_click_shows_that_trials_atoms_and_classify_colours_by_class(make_napari_viewer, qtbot):
    from matplotlib.backend_bases import MouseEvent

    from rewardscope.napari.pareto import pareto_widget
    from rewardscope.napari.widgets import AtomsWidget, ClassifyWidget

    noisy = simulate_haadf("srtio3-001", size=96, pixel_size="0.35A", noise=0.3, seed=0)  # a front of 2 points
    viewer = _viewer_with_image(make_napari_viewer, noisy.image, noisy.pixel_size, metadata={"lattice": "srtio3-001"})
    widget = AtomsWidget(viewer)
    _field(widget, "trials").value = 30
    result = _run(qtbot, widget)
    pareto = pareto_widget(viewer)
    assert pareto.study is result.extras["study"]
    front = pareto.study.pareto
    assert len(front) >= 2, "a one-point front cannot be clicked elsewhere"
    other = int(np.flatnonzero(~front["selected"].to_numpy())[0])
    pareto.canvas.draw()
    x, y = pareto.point_position(other)
    MouseEvent("button_press_event", pareto.canvas, x, y, button=1)._process()  # a click on that point
    assert pareto.picked == other
    trial = front.iloc[other]
    shown = viewer.layers["atoms"].data
    assert len(shown) == trial["n_atoms"] != result.summary["n_atoms"]  # that trial's atoms, not the chosen
    from rewardscope.rewards.atoms import error_rate, quantity_error

    table = pd.DataFrame({"x": shown[:, 1], "y": shown[:, 0]})
    context = result.extras["context"]
    assert quantity_error(table, context) == pytest.approx(trial["qc"])  # exactly as its rewards scored it
    assert error_rate(table, context) == pytest.approx(trial["er"])
    x, y = pareto.point_position(int(np.flatnonzero(front["selected"].to_numpy())[0]))
    MouseEvent("button_press_event", pareto.canvas, x, y, button=1)._process()  # back to the chosen point
    assert len(viewer.layers["atoms"].data) == len(result.atoms)

    classify = ClassifyWidget(viewer)
    classify.reset_choices()
    classify.atoms.value = viewer.layers["atoms"]
    _field(classify, "classes").value = 2
    res = _run(qtbot, classify)
    assert classify.error is None, classify.status.value
    points = viewer.layers["atoms"]
    assert set(points.features["class"]) == {0, 1} and len(points.data) == len(res.atoms)
    colours = {tuple(np.round(c, 3)) for c in points.face_color}
    assert len(colours) == 2  # coloured by class


def test_cancel_stops_the_work_and_adds_no_layer(make_napari_viewer, qtbot, haadf):
    from rewardscope.napari.widgets import AtomsWidget, Cancelled

    viewer = _viewer_with_image(make_napari_viewer, haadf.image, haadf.pixel_size, metadata={"lattice": "srtio3-001"})
    widget = AtomsWidget(viewer)
    _field(widget, "trials").value = 5000
    worker = widget.start()
    qtbot.waitUntil(lambda: "trials" in widget.status.value or "optimizing" in widget.status.value, timeout=WAIT_MS)
    widget.cancel_button.changed.emit(True)  # press Cancel
    _run(qtbot, widget, worker)
    assert isinstance(widget.error, Cancelled) and widget.status.value == "cancelled"
    assert "atoms" not in viewer.layers and widget.result is None


def test_a_bad_option_or_input_is_one_status_line_not_a_crash(make_napari_viewer, qtbot):
    from rewardscope.errors import CalibrationError
    from rewardscope.napari.widgets import AtomsWidget

    viewer = _viewer_with_image(make_napari_viewer, np.random.default_rng(0).random((32, 32)), None)
    widget = AtomsWidget(viewer)
    _field(widget, "lattice").value = "srtio3-001"
    _field(widget, "pixel_size").value = "35 parsecs"
    assert widget.start() is None and widget.status.value.startswith("error: ") and "pixel" in widget.status.value
    _field(widget, "pixel_size").value = ""  # the layer has no calibration either: the API says so
    _run(qtbot, widget)
    assert isinstance(widget.error, CalibrationError) and widget.status.value.startswith("error: ")
    assert "\n" not in widget.status.value and "atoms" not in viewer.layers


def test_amorphous_widget_gives_a_mask_layer_and_per_atom_probabilities(make_napari_viewer, qtbot):
    from rewardscope.metrics import mask_iou as iou
    from rewardscope.napari.widgets import AmorphousWidget

    sim = simulate_haadf("ybco-100", size=128, pixel_size="0.35A", noise=0.1, amorphous_fraction=0.3, seed=0)
    viewer = _viewer_with_image(make_napari_viewer, sim.image, sim.pixel_size)
    viewer.add_points(sim.truth[["y", "x"]].to_numpy(), name="true atoms", scale=(0.035, 0.035))
    widget = AmorphousWidget(viewer)
    widget.reset_choices()
    widget.atoms.value = viewer.layers["true atoms"]
    _field(widget, "trials").value = 20
    result = _run(qtbot, widget)
    assert widget.error is None, widget.status.value
    mask = viewer.layers["amorphous"].data
    np.testing.assert_array_equal(mask, result.mask)
    assert iou(mask > 0, sim.amorphous_mask) >= 0.5
    points = viewer.layers["atoms (amorphous)"]
    assert len(points.data) == len(sim.truth) and points.features["amorphous_probability"].between(0, 1).all()


# --------------------------------------------------------------------------- particles, drift, tracks


def test_segment_widget_gives_labels_that_match_the_true_particles(make_napari_viewer, qtbot):
    from rewardscope.napari.pareto import pareto_widget
    from rewardscope.napari.widgets import SegmentWidget

    sim = simulate_movie(frames=2, size=128, n_particles=6, seed=2)
    viewer = _viewer_with_image(make_napari_viewer, sim.movie[0], sim.pixel_size)
    widget = SegmentWidget(viewer)
    _field(widget, "trials").value = 12
    result = _run(qtbot, widget)
    assert widget.error is None, widget.status.value
    labels = viewer.layers["particles"]
    assert labels.data.shape == (128, 128) and tuple(labels.scale) == pytest.approx(2 * (sim.pixel_size.nm,))
    assert mask_iou(labels.data > 0, sim.masks[0] > 0) >= 0.85
    assert labels.data.max() == len(result.particles)
    assert pareto_widget(viewer).study is result.extras["studies"]["foreground"]


def test_track_widget_gives_tracks_with_the_merge_graph(make_napari_viewer, qtbot):
    from test_track import _merging_movie  # two discs fusing at frame 4

    from rewardscope.napari.widgets import TrackWidget

    viewer = _viewer_with_image(make_napari_viewer, _merging_movie()[0], None, scale=(1.0, 0.05, 0.05),
                                metadata={"pixel_size": "0.5A"})
    widget = TrackWidget(viewer)
    _field(widget, "linker").value = "overlap"  # links by mask overlap: the fused disc overlaps both
    _field(widget, "trials").value = 12
    _field(widget, "drift").value = False
    result = _run(qtbot, widget)
    assert widget.error is None, widget.status.value
    tracks = viewer.layers["tracks"]
    ids = sorted(set(tracks.data[:, 0].astype(int)))
    assert len(ids) == 3
    child = int(result.events.iloc[0]["child"])
    assert tracks.graph == {child: sorted(set(ids) - {child})}  # {child: [parent1, parent2]}
    assert set(tracks.data[tracks.data[:, 0] == child][:, 1].astype(int)) == set(range(4, 8))
    assert tuple(tracks.scale) == pytest.approx((1.0, 0.05, 0.05))
    masks = viewer.layers["track ids"].data
    assert masks.shape == (8, 48, 64) and set(np.unique(masks[6])) == {0, child}


def test_drift_widget_recovers_the_true_shifts(make_napari_viewer, qtbot):
    from rewardscope.napari.widgets import DriftWidget

    sim = simulate_movie(frames=6, size=96, n_particles=5, seed=1)
    viewer = _viewer_with_image(make_napari_viewer, sim.movie, sim.pixel_size)
    widget = DriftWidget(viewer)
    result = _run(qtbot, widget)
    assert widget.error is None, widget.status.value
    err = np.hypot(result.shifts.dx - sim.shifts.dx, result.shifts.dy - sim.shifts.dy)
    assert float(np.sqrt(np.mean(err ** 2))) < 0.3
    assert viewer.layers["image (aligned)"].data.shape[0] == 6


def test_viewer_screenshot_with_atoms_over_the_image(make_napari_viewer, qtbot, haadf, tmp_path):
    """A shown viewer renders atoms over the image (the README screenshot is made the same way)."""
    from rewardscope.napari.widgets import AtomsWidget

    viewer = _viewer_with_image(make_napari_viewer, haadf.image, haadf.pixel_size, show=True,
                                metadata={"lattice": "srtio3-001"})
    widget = AtomsWidget(viewer)
    _field(widget, "trials").value = 20
    _run(qtbot, widget)
    shot = viewer.screenshot(canvas_only=True, flash=False)
    assert shot.ndim == 3 and shot.shape[2] == 4
    red = (shot[..., 0] > 150) & (shot[..., 1] < 100) & (shot[..., 2] < 100)
    assert red.mean() > 0.01  # the red atom markers are drawn on the grey image

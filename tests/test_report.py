"""Figures state facts: scale bars of the right length, Pareto views that hold the front,
FD histogram bins, integer counts, full-resolution overlays, species names, drift residuals."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib_scalebar.scalebar import ScaleBar  # noqa: E402

from rewardscope.report.atoms import plot_atoms  # noqa: E402
from rewardscope.report.classes import class_species, classes_figure  # noqa: E402
from rewardscope.report.common import add_scale_bar, fd_bins, show_image  # noqa: E402
from rewardscope.report.drift import drift_figure, drift_residual  # noqa: E402
from rewardscope.report.pareto import draw_front, hypervolume_text, plot_pareto  # noqa: E402
from rewardscope.report.particles import overlay_figure, plot_overlays, sizes_figure  # noqa: E402


def _scale_bars(fig) -> list[ScaleBar]:
    return [a for ax in fig.axes for a in ax.artists if isinstance(a, ScaleBar)]


def _texts(fig) -> list[str]:
    out = [t.get_text() for ax in fig.axes for t in ax.texts]
    out += [ax.get_title() for ax in fig.axes]
    out += [t.get_text() for ax in fig.axes if ax.get_legend() for t in ax.get_legend().get_texts()]
    return out


# --------------------------------------------------------------------------- scale bars


@pytest.mark.parametrize(("pixel_size", "cols", "value_nm", "text"), [
    ("0.35A", 256, 1.0, "1 nm"),      # 8.96 nm field: 20 % = 1.79 nm -> 1 nm bar
    ("0.035nm", 100, 0.5, "5 Å"),     # 3.5 nm field: 0.7 nm -> 0.5 nm, written in Å
    ("2nm", 300, 100.0, "100 nm"),    # 600 nm field: 120 nm -> 100 nm
])
def test_scale_bar_length_matches_pixel_size(pixel_size, cols, value_nm, text):
    fig, ax = plt.subplots()
    show_image(ax, np.random.default_rng(0).random((50, cols)), pixel_size=pixel_size)
    fig.canvas.draw()
    (bar,) = _scale_bars(fig)
    from rewardscope.units import parse_length

    nm_per_px = parse_length(pixel_size).nm
    assert bar.info.value == pytest.approx(value_nm)
    assert bar.info.length_px == pytest.approx(value_nm / nm_per_px)   # data units = pixels
    assert bar.info.scale_text == text
    plt.close(fig)


def test_no_scale_bar_without_pixel_size():
    fig, ax = plt.subplots()
    show_image(ax, np.zeros((20, 20)))
    assert _scale_bars(fig) == []
    assert add_scale_bar(ax, None) is None
    plt.close(fig)


def test_atoms_overlay_has_scale_bar_and_the_pixel_size_in_the_title():
    atoms = pd.DataFrame({"x": [10.0, 50.0], "y": [20.0, 60.0]})
    fig = plot_atoms(np.random.default_rng(1).random((128, 128)), atoms, pixel_size="0.5A")
    fig.canvas.draw()
    (bar,) = _scale_bars(fig)
    assert bar.info.length_px == pytest.approx(1.0 / 0.05)   # 0.2 x 6.4 nm -> 1 nm bar = 20 px
    assert "0.5 Å/px" in fig.axes[0].get_title()
    plt.close(fig)


# --------------------------------------------------------------------------- Pareto


def _study(trials: np.ndarray, front_idx: list[int], chosen: int, *, reference=(1.0, 1.0)) -> SimpleNamespace:
    names = ["qc", "er"]
    table = pd.DataFrame(trials, columns=names)
    pareto = table.iloc[front_idx].reset_index(drop=True)
    pareto["selected"] = np.arange(len(pareto)) == front_idx.index(chosen)
    return SimpleNamespace(trials=table, pareto=pareto, objective_names=names, selection="euclidean",
                           hypervolume=0.987, reference_point=reference)


def test_pareto_view_holds_the_front_and_clamps_a_planted_outlier():
    front = np.array([[0.01, 0.05], [0.02, 0.03], [0.04, 0.01]])
    dominated = np.array([[0.03, 0.04], [0.035, 0.02], [0.015, 0.051]])
    outlier = np.array([[4.3, 1.0]])
    trials = np.vstack([front, dominated, outlier])
    fig = plot_pareto(_study(trials, [0, 1, 2], 1))
    ax = fig.axes[0]
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    assert x0 < front[:, 0].min() and x1 > front[:, 0].max()
    assert y0 < front[:, 1].min() and y1 > front[:, 1].max()
    assert x1 < 0.2 and y1 < 0.2                       # zoomed: the outlier (4.3, 1.0) is outside
    clamped = [c for c in ax.collections if c.get_label().startswith("1 trials outside")]
    assert len(clamped) == 1
    np.testing.assert_allclose(clamped[0].get_offsets(), [[x1, y1]])   # drawn at the corner
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("1 trials outside the view") for t in legend)
    assert ax.get_xscale() == "linear"
    assert "count error |N - N_expected| / N_expected" in ax.get_xlabel().replace("\n", " ")
    assert "crowding error" in ax.get_ylabel()
    title = ax.get_title().replace("\n", " ")
    assert "hypervolume 0.987" in title and "reference (1, 1)" in title and "raw (qc, er)" in title
    plt.close(fig)


def test_pareto_title_states_the_normalized_space():
    text = hypervolume_text(1.21, reference_point=None, objective_names=["compactness", "perimeter"], n_trials=100)
    assert "min-max normalized over 100 trials" in text and "reference (1.1, 1.1)" in text
    assert "at most 1.21" in text


def test_pareto_log_axis_has_few_ticks_that_do_not_overlap():
    front = np.array([[1e-4, 0.3], [1e-3, 0.2], [1e-2, 0.1], [1e-1, 0.05]])
    trials = np.vstack([front, front * 1.05])
    fig, ax = plt.subplots(figsize=(4, 3))
    view = draw_front(ax, trials, front, front[1], names=["a", "b"])
    assert view.xscale == "log" and view.yscale == "linear" and view.n_clamped == 0
    fig.canvas.draw()
    boxes = [t.get_window_extent() for t in ax.get_xticklabels() if t.get_text() and t.get_visible()
             and ax.get_xlim()[0] <= t.get_position()[0] <= ax.get_xlim()[1]]
    assert 2 <= len(boxes) <= 6
    boxes.sort(key=lambda b: b.x0)
    assert all(a.x1 <= b.x0 for a, b in zip(boxes, boxes[1:]))
    plt.close(fig)


def test_pareto_of_a_real_study():
    from rewardscope.optimize import FloatParam, SearchSpace, run_study

    res = run_study(lambda p: [p["x"], (1 - p["x"]) ** 2 + (50.0 if p["x"] > 0.97 else 0.0)],
                    SearchSpace([FloatParam("x", 0.0, 1.0)]), objective_names=["a", "b"], trials=30,
                    progress=False, seed=1)
    fig = plot_pareto(res, title="toy")
    ax = fig.axes[0]
    front = res.pareto[["a", "b"]].to_numpy()
    assert ax.get_xlim()[0] < front[:, 0].min() and ax.get_xlim()[1] > front[:, 0].max()
    assert ax.get_ylim()[0] < front[:, 1].min() and ax.get_ylim()[1] > front[:, 1].max()
    assert ax.get_title().startswith("toy. hypervolume")
    plt.close(fig)


# --------------------------------------------------------------------------- histograms, overlays


def _particles(diameters: np.ndarray, frame: int = 0) -> pd.DataFrame:
    n = len(diameters)
    return pd.DataFrame({"frame": frame, "label": np.arange(1, n + 1), "equivalent_diameter_nm": diameters,
                         "touches_border": np.arange(n) % 5 == 0})


def test_size_histogram_uses_fd_bins_and_integer_counts():
    d = np.random.default_rng(3).normal(7.0, 1.5, 120)
    expected = len(np.histogram_bin_edges(d, bins="fd")) - 1
    assert 4 <= expected <= 40
    fig = sizes_figure(_particles(d))
    ax = fig.axes[0]
    assert len(ax.containers[0]) == expected                  # one bar per FD bin
    fig.canvas.draw()
    ticks = ax.get_yticks()
    np.testing.assert_array_equal(ticks, np.round(ticks))
    inside = d[np.arange(len(d)) % 5 != 0]
    assert f"mean equivalent diameter {inside.mean():.3g} nm" in ax.get_title().replace("\n", " ")
    plt.close(fig)


def test_fd_bins_respects_bounds():
    assert len(fd_bins(np.array([1.0, 2.0, 3.0]))) - 1 == 4                      # FD gives 1-2: minimum
    heavy = np.r_[np.random.default_rng(0).normal(0, 0.01, 500), 1e4]          # tiny IQR: huge count
    assert len(fd_bins(heavy)) - 1 == 40
    assert len(fd_bins(np.array([]))) == 2


def test_overlay_is_full_resolution_and_labels_particles(tmp_path):
    rows, cols = 300, 180
    image = np.random.default_rng(0).random((rows, cols))
    labels = np.zeros((rows, cols), int)
    labels[40:80, 30:70], labels[200:260, 100:150] = 1, 2
    table = pd.DataFrame({"label": [1, 2], "x": [49.5, 124.5], "y": [59.5, 229.5]})
    fig = overlay_figure([image], [labels], titles=["t"], particles=[table], pixel_size="1nm")
    fig.canvas.draw()
    ax = fig.axes[0]
    box = ax.get_window_extent()
    zoom = 2   # smallest integer zoom reaching 400 px on the long side
    assert box.width == pytest.approx(zoom * cols, abs=1) and box.height == pytest.approx(zoom * rows, abs=1)
    texts = {t.get_text(): t.get_position() for t in ax.texts}
    assert texts == {"1": (49.5, 59.5), "2": (124.5, 229.5)}
    assert len(_scale_bars(fig)) == 1
    plt.close(fig)
    path = plot_overlays([image], [labels], tmp_path / "o.png", particles=[table])
    png = plt.imread(path)
    assert png.shape[0] >= zoom * rows and png.shape[1] >= zoom * cols


def test_overlay_outline_is_two_tone():
    from rewardscope.report.particles import INNER_OUTLINE, OUTER_OUTLINE, outline_rgb

    labels = np.zeros((20, 20), int)
    labels[5:15, 5:15] = 1
    rgb = outline_rgb(np.zeros((20, 20)), labels)
    np.testing.assert_allclose(rgb[5, 10], INNER_OUTLINE)     # inside edge: bright
    np.testing.assert_allclose(rgb[4, 10], OUTER_OUTLINE)     # outside edge: dark red
    np.testing.assert_allclose(rgb[10, 10], 0.0)              # interior untouched


# --------------------------------------------------------------------------- classes


def test_class_matching_uses_counts_and_brightness():
    # four classes in the order a GMM might return them: shares 1:2:2:1 of the ordered
    # atoms and centre brightness; YBCO [100] columns: Ba 2, Y 1, CuO2 plane 2, Cu chain 1 per cell
    counts = {0: 20, 1: 40, 2: 41, 3: 19}
    brightness = {0: 0.30, 1: 0.32, 2: 0.90, 3: 0.50}
    atoms = pd.DataFrame({"class": np.repeat(list(counts), list(counts.values()))})
    atoms["ordered"] = True
    patches = np.stack([np.full((7, 7), brightness[k]) for k in range(4)])
    names = class_species(atoms, patches, lattice="ybco-100")
    assert names == {0: "Cu chain", 1: "CuO2 plane", 2: "Ba", 3: "Y"}


@pytest.mark.slow
def test_classes_of_a_simulated_image_are_named_by_their_true_species():
    from rewardscope.simulate import simulate_haadf
    from rewardscope.workflows.classify import classify_atoms

    sim = simulate_haadf("ybco-100", size=256, pixel_size="0.35A", noise=0.1, seed=0)
    res = classify_atoms(sim.image, sim.truth[["x", "y"]], pixel_size=sim.pixel_size)
    names = class_species(res.atoms, res.extras["mean_patches"], lattice="ybco-100")
    readable = {"Ba": "Ba", "Y": "Y", "Cu": "Cu chain", "CuO": "CuO2 plane"}
    majority = {k: readable[sim.truth["species"][res.atoms["class"] == k].mode().iloc[0]] for k in range(4)}
    assert sorted(majority.values()) == ["Ba", "Cu chain", "CuO2 plane", "Y"]   # a clean classification
    assert names == majority
    fig = classes_figure(res.image, res.atoms, res.extras["mean_patches"], pixel_size=sim.pixel_size,
                         lattice="ybco-100")
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    for species in ("Ba", "Y", "Cu chain", "CuO2 plane"):
        assert any(t.startswith(f"{species} (class") for t in legend)
    assert len(_scale_bars(fig)) == 5    # the image and each mean patch
    plt.close(fig)


def test_classes_without_lattice_keep_numbers_and_species_column_wins():
    atoms = pd.DataFrame({"class": [0, 0, 1], "x": [1.0, 2, 3], "y": [1.0, 2, 3]})
    patches = np.zeros((2, 5, 5))
    assert class_species(atoms, patches) == {0: "class 0", 1: "class 1"}
    atoms["species"] = ["Cu", "Cu", "CuO"]
    assert class_species(atoms, patches, lattice="ybco-100") == {0: "Cu chain", 1: "CuO2 plane"}


# --------------------------------------------------------------------------- drift


def test_drift_residual_panel_shows_the_computed_rms():
    frames = np.arange(6)
    truth = pd.DataFrame({"frame": frames, "dx": 0.5 * frames, "dy": -0.2 * frames, "jump": False})
    err = np.array([0.0, 0.1, -0.1, 0.05, 0.0, 0.2])
    shifts = pd.DataFrame({"frame": frames, "dx": truth.dx + err, "dy": truth.dy - err,
                           "jump": frames == 3})
    _, rms = drift_residual(shifts, truth)
    assert rms == pytest.approx(np.sqrt(np.mean(2 * err ** 2)))
    fig = drift_figure(shifts, truth=truth, pixel_size="0.5A")
    assert len(fig.axes[:3]) == 3
    residual_title = fig.axes[2].get_title().replace("\n", " ")
    assert f"RMS {rms:.3f} px = {rms * 0.5:.3g} Å" in residual_title
    assert "cumulative shift" in fig.axes[1].get_title()
    truth_line = next(line for line in fig.axes[1].lines if line.get_label() == "truth")
    measured = next(line for line in fig.axes[1].lines if line.get_label() == "dx measured")
    assert truth_line.get_linewidth() > measured.get_linewidth() and truth_line.get_zorder() < measured.get_zorder()
    jump_lines = [line for line in fig.axes[1].lines if line.get_label() == "stage jump"]
    assert len(jump_lines) == 1 and jump_lines[0].get_xdata()[0] == 3
    plt.close(fig)


def test_drift_without_truth_has_two_panels_and_no_residual():
    shifts = pd.DataFrame({"frame": [0, 1, 2], "dx": [0, 0.5, 9], "dy": [0, 0.2, 4], "jump": [False, False, True]})
    fig = drift_figure(shifts)
    titles = _texts(fig)
    assert not any("residual" in t for t in titles)
    assert sum(1 for ax in fig.axes if ax.get_xlabel() == "frame") == 1
    plt.close(fig)

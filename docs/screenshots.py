"""Make the README's screenshots: the napari viewer with atoms over an image, and a report page.

Run under an X server (napari's canvas needs OpenGL; Qt's offscreen platform has none)::

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/screenshots.py

Writes docs/figures/napari_atoms.png and docs/figures/report_page.png (headless chromium).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FIGURES = Path(__file__).resolve().parent / "figures"


def napari_screenshot(path: Path) -> None:
    """The simulated HAADF sample, LoG* atoms coloured by class, and the Pareto dock widget."""
    import napari
    from qtpy.QtWidgets import QApplication

    from rewardscope.napari.widgets import AtomsWidget, ClassifyWidget

    viewer = napari.Viewer(show=True)
    viewer.window._qt_window.resize(1500, 900)
    viewer.open_sample("rewardscope", "haadf")
    app = QApplication.instance()

    def run(widget: object) -> None:
        widget.start()
        while not widget.run_button.enabled:
            app.processEvents()
            time.sleep(0.02)
        if widget.error is not None:
            raise SystemExit(f"{type(widget).__name__}: {widget.error}")

    atoms = AtomsWidget(viewer)
    viewer.window.add_dock_widget(atoms, name="Atoms (LoG*, DCNN)", area="right")
    next(w for w in atoms.config_fields if w.name == "trials").value = 100
    run(atoms)
    classify = ClassifyWidget(viewer)
    viewer.window.add_dock_widget(classify, name="Classify atoms", area="right", tabify=True)
    classify.reset_choices()
    classify.atoms.value = viewer.layers["atoms"]
    run(classify)
    viewer.layers["atoms"].size = 6
    viewer.scale_bar.visible = True  # the layer scale is nm per pixel
    viewer.reset_view()
    for _ in range(20):
        app.processEvents()
        time.sleep(0.05)
    viewer.screenshot(str(path), canvas_only=False, flash=False)
    viewer.close()


def report_screenshot(path: Path) -> None:
    """The report page of a small ``rewardscope atoms`` run, in headless chromium."""
    from rewardscope.cli.main import main
    from rewardscope.io.write import write_tiff
    from rewardscope.simulate import simulate_haadf

    base = Path(tempfile.mkdtemp())
    sim = simulate_haadf("ybco-100", size=128, pixel_size="0.35A", noise=0.2, seed=0)
    write_tiff(base / "image.tif", sim.image, pixel_size=sim.pixel_size)
    try:
        main(["atoms", str(base / "image.tif"), "--lattice", "ybco-100", "--trials", "60", "--out",
              str(base / "atoms"), "--no-progress"])
    except SystemExit as exc:
        if exc.code:
            raise
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={base / 'profile'}", "--window-size=1200,2200", "--hide-scrollbars",
                    f"--screenshot={path}", (base / "atoms" / "index.html").as_uri()],
                   check=True, capture_output=True, timeout=120)


if __name__ == "__main__":
    FIGURES.mkdir(exist_ok=True)
    which = sys.argv[1:] or ["napari", "report"]
    if "report" in which:
        report_screenshot(FIGURES / "report_page.png")
    if "napari" in which:
        napari_screenshot(FIGURES / "napari_atoms.png")
    print("wrote", ", ".join(str(FIGURES / name) for name in ("report_page.png", "napari_atoms.png")))

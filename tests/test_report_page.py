"""The report page (issue 16): index.html in every output folder, ``rewardscope report DIR``,
and the page opened in a real headless browser (Debian's chromium; ``.ci/run`` installs it).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rewardscope.cli.main import app
from rewardscope.io.output import read_manifest
from rewardscope.io.write import write_tiff
from rewardscope.simulate import simulate_haadf

RUNNER = CliRunner()
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: The flags of every headless run: no network, no first-run work, a new empty profile.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def atoms_out(tmp_path_factory):
    """``rewardscope atoms`` on a small simulated image: a folder with tables, figures and a study."""
    base = tmp_path_factory.mktemp("page")
    sim = simulate_haadf("srtio3-001", size=64, pixel_size="0.35A", noise=0.3, seed=0)
    write_tiff(base / "image.tif", sim.image, pixel_size=sim.pixel_size)
    out = base / "atoms"
    done = RUNNER.invoke(app, ["atoms", str(base / "image.tif"), "--lattice", "srtio3-001", "--trials", "25",
                               "--out", str(out), "--no-progress"])
    assert done.exit_code == 0, done.output
    return out


def test_every_output_folder_gets_index_html_listed_in_its_manifest(atoms_out):
    page = (atoms_out / "index.html").read_text()
    assert "index.html" in read_manifest(atoms_out)["files"]
    summary = json.loads((atoms_out / "summary.json").read_text())
    assert "What was run" in page and "Versions" in page and "Parameters" in page
    assert "srtio3-001" in page and summary["versions"]["numpy"] in page
    pngs = sorted(p.name for p in atoms_out.glob("*.png"))
    assert pngs == ["overlay.png", "pareto.png"]
    assert page.count("<img ") == len(pngs) and page.count("src='data:image/png;base64,") == len(pngs)
    pareto = pd.read_csv(atoms_out / "pareto.csv")
    assert page.count("<tr class='chosen'>") == int(pareto["selected"].sum()) == 1
    chosen = pareto[pareto["selected"]].iloc[0]
    assert f"{chosen['qc']:.4g}" in page  # the chosen point's reward value
    atoms = pd.read_csv(atoms_out / "atoms.csv")
    assert f"({len(atoms)} rows; first 10 shown)" in page
    assert f"{atoms['x'].iloc[0]:.4g}" in page and f"{atoms['x'].iloc[10]:.4g}" not in page.split("atoms.csv", 1)[1][:3000]
    assert "http://" not in page and "https://" not in page and "<script" not in page  # self-contained


def test_report_rebuilds_the_page_and_touches_only_folders_we_wrote(atoms_out, tmp_path):
    before = (atoms_out / "index.html").read_text()
    (atoms_out / "index.html").unlink()
    done = RUNNER.invoke(app, ["report", str(atoms_out)])
    assert done.exit_code == 0, done.output
    rebuilt = (atoms_out / "index.html").read_text()
    assert rebuilt.replace("atoms", "") == before.replace("atoms", "")
    assert read_manifest(atoms_out)["files"].count("index.html") == 1

    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "summary.json").write_text("{}")
    from rewardscope.cli.main import main

    def run(args):
        try:
            main(args)
        except SystemExit as exc:
            return exc.code
        return 0

    assert run(["report", str(foreign)]) == 2 and not (foreign / "index.html").exists()
    copy = tmp_path / "copy"
    shutil.copytree(atoms_out, copy)
    (copy / "index.html").unlink()
    manifest = json.loads((copy / ".rewardscope.json").read_text())
    manifest["files"].remove("index.html")
    (copy / ".rewardscope.json").write_text(json.dumps(manifest))
    (copy / "index.html").write_text("my own page")  # a file we did not write is never overwritten
    assert run(["report", str(copy)]) == 2 and (copy / "index.html").read_text() == "my own page"


def test_the_demo_style_folder_gets_one_section_per_step(tmp_path):
    from rewardscope.report.page import build_page

    for step in ("01_a", "02_b"):
        (tmp_path / step).mkdir()
        pd.DataFrame({"x": np.arange(12.0)}).to_csv(tmp_path / step / "table.csv", index=False)
    page = build_page(tmp_path).read_text()
    assert "<h2>01_a</h2>" in page and "<h2>02_b</h2>" in page and page.count("(12 rows; first 10 shown)") == 2


# --------------------------------------------------------------------------- a real browser

CHECK = """<script>
window.addEventListener('load', () => {
  const out = [];
  for (const img of document.images) {
    const r = img.getBoundingClientRect();
    const c = document.createElement('canvas');
    c.width = img.naturalWidth; c.height = img.naturalHeight;
    let spread = 0;
    if (img.complete && img.naturalWidth > 0) {
      const g = c.getContext('2d'); g.drawImage(img, 0, 0);
      const d = g.getImageData(0, 0, c.width, c.height).data;
      let lo = 255, hi = 0;
      for (let i = 0; i < d.length; i += 4) { const v = d[i] + d[i + 1] + d[i + 2]; lo = Math.min(lo, v); hi = Math.max(hi, v); }
      spread = hi - lo;
    }
    out.push({alt: img.alt, width: r.width, height: r.height, natural: img.naturalWidth, spread: spread,
              visible: getComputedStyle(img).visibility === 'visible' && getComputedStyle(img).display !== 'none'});
  }
  const pre = document.createElement('pre'); pre.id = 'rs-check'; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def _chromium(tmp_path, *args):
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"  # a new empty profile each run
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
                           "--window-size=1280,2000", *args], capture_output=True, text=True, timeout=120)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs Debian's chromium)")
def test_the_page_loads_in_headless_chromium_without_console_errors_and_shows_every_figure(atoms_out, tmp_path):
    page = atoms_out / "index.html"
    plain = _chromium(tmp_path, "--dump-dom", page.as_uri())
    assert plain.returncode == 0, plain.stderr[-2000:]
    console = [line for line in plain.stderr.splitlines() if ":CONSOLE" in line]
    assert console == [], console  # the page has no script: any console line is an error or a warning
    assert plain.stdout.count("<img ") == 2
    checked = tmp_path / "checked.html"
    checked.write_text(page.read_text().replace("</body>", CHECK + "</body>"))
    run = _chromium(tmp_path, "--virtual-time-budget=10000", "--dump-dom", checked.as_uri())
    found = re.search(r"<pre id=\"rs-check\">(.*?)</pre>", run.stdout, re.S)
    assert found, run.stderr[-2000:]
    import html

    figures = json.loads(html.unescape(found.group(1)))
    assert [f["alt"] for f in figures] == ["overlay.png", "pareto.png"]
    for f in figures:
        assert f["visible"] and f["natural"] > 100 and f["width"] > 100 and f["height"] > 100, f
        assert f["spread"] > 200, f  # not blank: dark and light pixels
    shot = tmp_path / "page.png"
    run = _chromium(tmp_path, f"--screenshot={shot}", page.as_uri())
    assert shot.is_file(), run.stderr[-2000:]
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("L"), float)
    assert pixels.shape == (2000, 1280) and pixels.std() > 10

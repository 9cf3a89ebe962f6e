"""The demo's report in a real browser (headless Chromium): it renders, every image loads, the
sections are there. Slow: runs the quick demo first."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import cli

from celltool.imageio import read_image

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# Appended to a copy of the page (the report itself has no script): after load, write what the
# browser made of every image and section into the DOM, where --dump-dom shows it.
PROBE = """<script>
window.addEventListener("load", () => {
  const images = [...document.images].map(i => ({src: i.getAttribute("src"),
    complete: i.complete, width: i.naturalWidth, height: i.naturalHeight}));
  const sections = [...document.querySelectorAll("section > h2")].map(h => h.textContent);
  const heads = [...document.querySelectorAll("h2")].map(h => h.textContent);
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({images, sections, heads,
    width: document.documentElement.scrollWidth, height: document.body.scrollHeight});
  document.body.appendChild(out);
});
</script>"""


def chromium(*args: str, profile: Path) -> tuple[str, str]:
    """Run Chromium; (stdout, stderr). Output goes through files, not pipes: a helper process
    of Chromium's may hold inherited pipes open for many seconds after the browser exits."""
    out, err = profile / "stdout.txt", profile / "stderr.txt"
    with out.open("w") as fo, err.open("w") as fe:
        subprocess.run(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile / 'profile'}", *args],
            stdout=fo,
            stderr=fe,
            timeout=120,
        )
    return out.read_text(), err.read_text()


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory) -> Path:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (Debian: apt-get install -y chromium)")
    cwd = tmp_path_factory.mktemp("browser")
    res = cli("demo", "--quick", "-o", "demo", cwd=cwd)
    assert res.returncode == 0, res.stderr
    assert res.stdout == "demo/report/index.html\n"  # the demo ends with its report
    return cwd / "demo" / "report"


def test_every_image_loads_and_every_section_is_there(demo_report, tmp_path):
    page = demo_report / "probe.html"  # beside index.html, so relative links resolve the same
    page.write_text((demo_report / "index.html").read_text().replace("</body>", PROBE + "</body>"))
    args = ("--window-size=1280,900", "--dump-dom", "--virtual-time-budget=15000", page.as_uri())
    dom, err = chromium(*args, profile=tmp_path)
    page.unlink()
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, err[-2000:]
    probe = json.loads(found[1].replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
    images = probe["images"]
    assert len(images) > 40
    broken = [i["src"] for i in images if not (i["complete"] and i["width"] > 0)]
    assert not broken, broken
    sections = "\n".join(probe["sections"])
    stages = ("sim", "segment", "sketch", "pairs", "run", "generate", "sequence", "evaluate")
    for stage in stages:
        assert re.search(rf"\d+\. {stage}\s", sections), stage
    for kind in ("simulation", "segmentation", "sketch", "pairs", "run", "generated", "sequence"):
        assert kind in sections
    assert {"Contents", "Chains"} <= set(probe["heads"])
    assert probe["width"] <= 1280  # a laptop-sized window: no horizontal scrolling


def test_screenshot_shows_the_page(demo_report, tmp_path):
    shot = tmp_path / "shot.png"
    page = (demo_report / "index.html").as_uri()
    _, err = chromium("--window-size=1280,2400", f"--screenshot={shot}", page, profile=tmp_path)
    assert shot.is_file(), err[-2000:]
    image = read_image(shot)
    assert image.shape[:2] == (2400, 1280)
    gray = image[..., :3].mean(axis=2)
    assert (gray < 250).mean() > 0.05  # text, tables and thumbnails, not a blank page
    rgb = image[..., :3].astype(np.int64) // 32
    colours = np.unique(rgb[..., 0] * 64 + rgb[..., 1] * 8 + rgb[..., 2])
    assert len(colours) > 20  # coloured label maps and grays: the images were drawn

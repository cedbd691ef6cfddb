"""The HTML report rendered in a real browser (Debian's headless Chromium).

The report of the tiny plan (tests/integration/scenario/scenario_builders.py)
is opened from disk with networking off. A copy of it carries a small
inline script that, once the page has loaded, writes into the DOM how many
images decoded with a non-zero natural size; ``--dump-dom`` reads it back.
A screenshot is then checked for real pixels: not blank, and holding the
map's and charts' colours.

Chromium is ``/usr/bin/chromium`` (``apt-get install chromium``); no tool
downloads its own browser. Without it the test is skipped locally and
fails in CI (``CI=true``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "scenario"))
from scenario_builders import SIMPLE, build_scenario  # noqa: E402

from territory.services.report import write_report  # noqa: E402
from territory.storage.engine import make_engine, migrate  # noqa: E402

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--virtual-time-budget=10000",
]
_PROBE = """
<script>
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; });
  var m = document.createElement("div");
  m.id = "render-check";
  m.textContent = "images=" + imgs.length + " decoded=" + ok.length +
    " widths=" + ok.map(function (i) { return i.naturalWidth; }).join(",");
  document.body.appendChild(m);
});
</script>
"""


def _chromium() -> str:
    if os.path.exists(CHROMIUM) and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    found = shutil.which("chromium")
    if found:
        return found
    reason = (
        "headless Chromium is not installed (/usr/bin/chromium); install it with "
        "`apt-get install -y chromium`"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def _run(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary, *_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**os.environ, "HOME": str(profile)},
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    engine = make_engine(f"sqlite:///{folder / 'territory.db'}")
    try:
        migrate(engine)
        build_scenario(engine)
        return write_report(engine, "plan", folder, config=SIMPLE)
    finally:
        engine.dispose()


def test_report_images_decode_in_chromium(report: Path, tmp_path: Path) -> None:
    binary = _chromium()
    probe = tmp_path / "probe.html"
    probe.write_text(
        report.read_text(encoding="utf-8").replace("</body>", _PROBE + "</body>"),
        encoding="utf-8",
    )
    done = _run(binary, tmp_path / "profile", "--dump-dom", probe.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(
        r'<div id="render-check">images=(\d+) decoded=(\d+) widths=([\d,]*)</div>',
        done.stdout,
    )
    assert found, done.stdout[-2000:]
    assert (found[1], found[2]) == ("3", "3")
    assert all(int(w) >= 400 for w in found[3].split(","))
    assert "<h1>plan</h1>" in done.stdout
    assert 'id="quota"' in done.stdout


def test_report_screenshot_shows_map_and_charts(report: Path, tmp_path: Path) -> None:
    binary = _chromium()
    shot = tmp_path / "report.png"
    done = _run(
        binary,
        tmp_path / "profile",
        f"--screenshot={shot}",
        "--window-size=1280,2000",
        report.as_uri(),
    )
    assert done.returncode == 0, done.stderr[-2000:]
    from matplotlib.image import imread

    pixels = imread(shot)[:, :, :3]
    assert pixels.shape[:2] == (2000, 1280)
    flat = np.round(pixels * 255).astype(np.int64) @ np.array([65536, 256, 1])
    # Not blank: many distinct colours, and a fair share of non-background.
    assert np.unique(flat).size > 200
    background = np.isclose(pixels, pixels[5, 5], atol=0.02).all(axis=2)
    assert background.mean() < 0.9
    # The balance bars' orange (above the band, #f58518) is on screen.
    orange = (
        (np.abs(pixels[:, :, 0] - 0xF5 / 255) < 0.05)
        & (np.abs(pixels[:, :, 1] - 0x85 / 255) < 0.05)
        & (np.abs(pixels[:, :, 2] - 0x18 / 255) < 0.05)
    )
    assert orange.sum() > 2_000

"""The HTML report rendered in a real browser (Debian's headless Chromium).

The report of a 20-territory plan (two regions of ten one-county
territories on a 5 × 4 grid of 1° squares, and an overlay of another type
over five accounts; 40 sample accounts) is opened from disk with
networking off. A copy of it carries a small inline script that, once the
page has loaded, writes into the DOM what a reader would see: how many
images decoded, which territories the map's legend names, which rows of the
territory table are on screen (the browser's hit test at each row finds the
row's own cell, so no row is hidden in a scroll box), whether any cell
sticks out of its section (a hidden column), whether any box clips what it
holds, and whether the sample-data mark is shown; ``--dump-dom`` reads it
back. A screenshot is then checked for real pixels: not blank, the charts'
colours, and the dark ink of the territory labels inside the map.

Chromium is ``/usr/bin/chromium`` (``apt-get install chromium``); no tool
downloads its own browser. Without it the test is skipped locally and
fails in CI (``CI=true``).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest
import shapely
from sqlalchemy import Engine, insert

sys.path.insert(0, str(Path(__file__).parent / "scenario"))
from scenario_builders import SIMPLE  # noqa: E402

from territory.services.models import create_model  # noqa: E402
from territory.services.report import write_report  # noqa: E402
from territory.storage import tables as t  # noqa: E402
from territory.storage.engine import make_engine, migrate  # noqa: E402

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
WINDOW = (1280, 7000)
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
    f"--window-size={WINDOW[0]},{WINDOW[1]}",
]
_PROBE = """
<script>
window.addEventListener("load", function () {
  var all = function (q) {
    return Array.prototype.slice.call(document.querySelectorAll(q));
  };
  var imgs = all("img");
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; });
  var map = document.querySelector('img[alt="territory map"]').getBoundingClientRect();
  var section = document.getElementById("territories").getBoundingClientRect();
  var seen = function (el) {
    var r = el.getBoundingClientRect();
    var hit = document.elementFromPoint(r.left + 4, r.top + r.height / 2);
    return hit !== null && (hit === el || el.contains(hit));
  };
  var out = {
    images: imgs.length,
    decoded: ok.length,
    widths: ok.map(function (i) { return i.naturalWidth; }),
    map: [map.left + window.scrollX, map.top + window.scrollY,
          map.width, map.height],
    legend: all("#map-legend li b").filter(seen)
      .map(function (b) { return b.textContent; }),
    rows: all("#territories tbody tr")
      .filter(function (tr) { return seen(tr.cells[0]); })
      .map(function (tr) {
        return tr.cells[0].textContent.trim().split(/\\s+/)[0]; }),
    outside: all("#territories td, #territories th").filter(function (c) {
      return c.getBoundingClientRect().right > section.right + 0.5; }).length,
    clipped: all("main *").filter(function (e) {
      var s = getComputedStyle(e);
      return (s.overflowX !== "visible" || s.overflowY !== "visible") &&
        (e.scrollHeight > e.clientHeight + 1 ||
         e.scrollWidth > e.clientWidth + 1); }).length,
    sample: (function () { var b = document.getElementById("sample-data");
      return b !== null && seen(b) && b.textContent.indexOf("Sample data.") === 0; })(),
  };
  var m = document.createElement("pre");
  m.id = "render-check";
  m.textContent = JSON.stringify(out);
  document.body.appendChild(m);
});
</script>
"""

LEAVES = [f"T{k:02d}" for k in range(1, 21)]


def build_grid(engine: Engine) -> None:
    """Store model ``grid``: R1 = T01–T10, R2 = T11–T20, OVL over five accounts."""
    model = create_model(engine, "grid", actor="test")
    now = datetime.now(UTC)
    cells = [(k % 5, k // 5) for k in range(20)]  # (column, row) of each county
    with engine.begin() as conn:
        conn.execute(
            insert(t.geo_unit),
            [
                {"kind": "county", "id": f"C{k:02d}", "name": f"County {k}",
                 "state": "XX", "centroid_lat": r + 0.5, "centroid_lon": c + 0.5,
                 "geometry": shapely.to_wkb(shapely.box(c, r, c + 1.0, r + 1.0))}
                for k, (c, r) in enumerate(cells)
            ],
        )  # fmt: skip
        conn.execute(
            insert(t.geo_unit_metric),
            [
                {"kind": "county", "unit_id": f"C{k:02d}", "metric": "population",
                 "value": 1000.0 * (k + 1)}
                for k in range(20)
            ],
        )  # fmt: skip
        conn.execute(
            insert(t.territory_type),
            [{"id": "ovl", "name": "Overlay", "priority": 50, "description": ""}],
        )
        territories = [("R1", None, None), ("R2", None, None), ("OVL", None, "ovl")]
        territories += [(tid, "R1" if k < 10 else "R2", None)
                        for k, tid in enumerate(LEAVES)]  # fmt: skip
        conn.execute(
            insert(t.territory),
            [
                {"model_id": model.id, "id": tid, "name": f"Territory {tid}",
                 "parent_id": parent, "type_id": type_id, "description": "",
                 "is_catch_all": False, "attributes": {}}
                for tid, parent, type_id in territories
            ],
        )  # fmt: skip
        conn.execute(
            insert(t.unit_assignment),
            [
                {"model_id": model.id, "unit_kind": "county", "unit_id": f"C{k:02d}",
                 "territory_id": tid, "cause": "design"}
                for k, tid in enumerate(LEAVES)
            ],
        )  # fmt: skip
        accounts = [
            (f"A{2 * k + j:02d}", k, c + 0.3 + 0.4 * j, r + 0.5)
            for k, (c, r) in enumerate(cells)
            for j in range(2)
        ]
        conn.execute(
            insert(t.account),
            [
                {"id": aid, "name": aid, "annual_revenue": 2e6 if k % 3 else 5e5,
                 "latitude": lat, "longitude": lon, "county_id": f"C{k:02d}",
                 "custom_fields": {"potential": 100.0 + 10 * k}, "is_sample": True,
                 "created_at": now, "updated_at": now}
                for aid, k, lon, lat in accounts
            ],
        )  # fmt: skip
        conn.execute(
            insert(t.account_assignment),
            [
                {"model_id": model.id, "account_id": aid, "territory_id": LEAVES[k],
                 "cause": "design"}
                for aid, k, _lon, _lat in accounts
            ]
            + [
                {"model_id": model.id, "account_id": aid, "territory_id": "OVL",
                 "cause": "manual"}
                for aid, _k, _lon, _lat in accounts[:5]
            ],
        )  # fmt: skip
        conn.execute(
            insert(t.rep),
            [
                {"id": f"P{k:02d}", "name": f"Rep {k}", "home_lat": r + 0.5,
                 "home_lon": c + 0.5}
                for k, (c, r) in enumerate(cells)
            ],
        )  # fmt: skip
        conn.execute(
            insert(t.territory_membership),
            [
                {"model_id": model.id, "territory_id": tid, "rep_id": f"P{k:02d}",
                 "role": "owner", "start_date": date(2020, 1, 1)}
                for k, tid in enumerate(LEAVES)
            ],
        )  # fmt: skip
        conn.execute(
            insert(t.sales_history),
            [
                {"account_id": aid, "period": "2027", "amount": 10.0 + 7 * (k % 4)}
                for aid, k, _lon, _lat in accounts
            ],
        )
        conn.execute(
            insert(t.quota),
            [
                {"model_id": model.id, "territory_id": tid, "period": "2027",
                 "amount": 30.0}
                for tid in LEAVES
            ],
        )  # fmt: skip


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
        build_grid(engine)
        return write_report(engine, "grid", folder, config=SIMPLE)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def seen(report: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """What the browser shows, as the probe script wrote it into the DOM."""
    binary = _chromium()
    folder = tmp_path_factory.mktemp("probe")
    probe = folder / "probe.html"
    probe.write_text(
        report.read_text(encoding="utf-8").replace("</body>", _PROBE + "</body>"),
        encoding="utf-8",
    )
    done = _run(binary, folder / "profile", "--dump-dom", probe.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r'<pre id="render-check">(.*?)</pre>', done.stdout, re.S)
    assert found, done.stdout[-2000:]
    assert "<h1>grid</h1>" in done.stdout and 'id="quota"' in done.stdout
    return dict(json.loads(html.unescape(found[1])))


def test_report_images_decode_in_chromium(seen: dict[str, object]) -> None:
    assert (seen["images"], seen["decoded"]) == (3, 3)
    assert all(int(w) >= 400 for w in seen["widths"])  # type: ignore[attr-defined]


def test_every_territory_row_and_column_is_on_screen(seen: dict[str, object]) -> None:
    # regions with their ten territories each, then the overlay apart
    assert seen["rows"] == ["R1", *LEAVES[:10], "R2", *LEAVES[10:], "OVL"]
    assert seen["outside"] == 0  # no column beyond the section's edge
    assert seen["clipped"] == 0  # no scroll box hiding rows or columns


def test_map_legend_names_every_territory_and_sample_data_is_marked(
    seen: dict[str, object],
) -> None:
    assert seen["legend"] == LEAVES
    assert seen["sample"] is True


def test_report_screenshot_shows_labelled_map_and_charts(
    report: Path, seen: dict[str, object], tmp_path: Path
) -> None:
    binary = _chromium()
    shot = tmp_path / "report.png"
    done = _run(binary, tmp_path / "profile", f"--screenshot={shot}", report.as_uri())
    assert done.returncode == 0, done.stderr[-2000:]
    from matplotlib.image import imread

    pixels = imread(shot)[:, :, :3]
    assert pixels.shape[:2] == (WINDOW[1], WINDOW[0])
    flat = np.round(pixels * 255).astype(np.int64) @ np.array([65536, 256, 1])
    # Not blank: many distinct colours, and a fair share of non-background.
    assert np.unique(flat).size > 200
    background = np.isclose(pixels, pixels[5, 5], atol=0.02).all(axis=2)
    assert background.mean() < 0.95
    # The balance bars' orange (above the band, #f58518) is on screen.
    orange = (
        (np.abs(pixels[:, :, 0] - 0xF5 / 255) < 0.05)
        & (np.abs(pixels[:, :, 1] - 0x85 / 255) < 0.05)
        & (np.abs(pixels[:, :, 2] - 0x18 / 255) < 0.05)
    )
    assert orange.sum() > 2_000
    # Territory labels: the map's own area (below its title strip) holds the
    # labels' near-black ink (#1a1a1a); fills and borders are lighter.
    x, y, w, h = (int(round(v)) for v in seen["map"])  # type: ignore[attr-defined]
    inner = pixels[y + int(0.15 * h) : y + int(0.9 * h), x : x + w]
    assert (inner.max(axis=2) < 0x2A / 255).sum() > 20 * 40

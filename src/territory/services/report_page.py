"""The report's HTML: title block, sections and tables, styled inline.

Pure formatting: it takes the measured figures and the PNG pictures and
returns one page with no external reference (styles inline, system fonts,
images as base64 ``data:`` URLs).
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import polars as pl

from territory.services.charts import within_band
from territory.services.performance import MetricsResult
from territory.services.sizing import SizingResult

__all__ = ["BALANCED_MEASURES", "LegendEntry", "ReportFigures", "render_report"]

BALANCED_MEASURES = (
    ("accounts", "Accounts"),
    ("potential", "Potential (USD)"),
    ("sales", "Sales (USD)"),
    ("workload_hours", "Workload (hours)"),
)


@dataclass(frozen=True, slots=True)
class LegendEntry:
    """One territory of the map's legend: its colour, name and owner."""

    territory_id: str
    name: str
    colour: str
    owner: str | None


@dataclass(frozen=True, slots=True)
class ReportFigures:
    """The report's pictures (PNG bytes) and notes on what they show.

    ``map_note`` says what could not be drawn and why; ``legend`` lists the
    territory map's colours; ``choropleth_caption`` explains units without a
    value (or the measure shown instead of one that has none).
    """

    territory_map: bytes | None
    choropleth: bytes | None
    balance: bytes
    map_note: str
    legend: tuple[LegendEntry, ...] = ()
    choropleth_caption: str = ""
    #: The measure the choropleth shows (another than asked when that has none).
    choropleth_metric: str = ""


# --------------------------------------------------------------------------- #
# formatting


def _money(v: float | None) -> str:
    if v is None or not math.isfinite(v):
        return "—"
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:,.2f}B"
    if a >= 1e6:
        return f"{v / 1e6:,.2f}M"
    if a >= 1e4:
        return f"{v / 1e3:,.1f}k"
    return f"{v:,.0f}"


def _num(v: float | None, digits: int = 0) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    return f"{v:,.{digits}f}"


def _pct(v: float | None) -> str:
    if v is None or not math.isfinite(v):
        return "—"
    return f"{v:.0%}"


def _img(png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    numeric: Sequence[bool],
    css: str = "",
) -> str:
    head = "".join(
        f'<th class="{"num" if n else ""}">{html.escape(h)}</th>'
        for h, n in zip(headers, numeric, strict=True)
    )
    body = "\n".join(
        "<tr>"
        + "".join(
            f'<td class="{"num" if n else ""}">{cell}</td>'
            for cell, n in zip(row, numeric, strict=True)
        )
        + "</tr>"
        for row in rows
    )
    # Every row and column is on the page (no scroll box): long cells wrap,
    # and printing repeats the header on each page.
    return (
        f'<div class="tablewrap {css}"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


# --------------------------------------------------------------------------- #
# sections


def _hierarchy_order(table: pl.DataFrame) -> pl.DataFrame:
    parent = dict(
        zip(table["territory_id"].to_list(), table["parent_id"].to_list(), strict=True)
    )

    def path(tid: str) -> tuple[str, ...]:
        out = [tid]
        seen = {tid}
        while parent.get(out[-1]) is not None and parent[out[-1]] not in seen:
            out.append(parent[out[-1]])
            seen.add(out[-1])
        return tuple(reversed(out))

    kinds = (
        table["kind"].to_list()
        if "kind" in table.columns
        else ["region"] * table.height
    )
    keys = [
        (kind != "region", path(tid))
        for tid, kind in zip(table["territory_id"].to_list(), kinds, strict=True)
    ]
    order = sorted(range(len(keys)), key=lambda k: keys[k])
    return table[order]


def _territory_rows(table: pl.DataFrame) -> str:
    rows = []
    for r in table.iter_rows(named=True):
        indent = "&nbsp;&nbsp;&nbsp;" * int(r["depth"])
        contiguous = r["contiguous"]
        rows.append(
            [
                f"{indent}<b>{html.escape(r['territory_id'])}</b> "
                f"<span class=muted>{html.escape(r['name'] or '')}</span>",
                html.escape(r["owner"] or "—"),
                _num(r["accounts"]),
                _money(r["potential"]),
                _money(r["sales"]),
                _money(r["quota"]),
                _pct(r["attainment"]),
                _num(r["workload_hours"]),
                _pct(r["utilisation"]),
                _num(r["account_diameter_km"]),
                "—"
                if contiguous is None
                else (
                    "yes"
                    if contiguous
                    else f"<span class=warn>{r['pieces']} pieces</span>"
                ),
            ]
        )
    headers = ["territory", "owner", "accounts", "potential", "sales", "quota",
               "attainment", "workload h", "utilisation", "account diameter km",
               "contiguous"]  # fmt: skip
    numeric = [False, False, *([True] * 8), False]
    return _table(headers, rows, numeric=numeric, css="wide")


def _territory_section(metrics: MetricsResult) -> str:
    table = _hierarchy_order(metrics.table)
    regions = table.filter(pl.col("kind") == "region")
    overlays = table.filter(pl.col("kind") == "overlay")
    out = _territory_rows(regions)
    if overlays.height:
        out += (
            "<h3>Overlays</h3><p class=note>Top-level territories of another type "
            "(an industry or named-account team): they cover the regions' accounts "
            "a second time, so they are shown apart and left out of the balance."
            f"</p>{_territory_rows(overlays)}"
        )
    return out + (
        '<p class="note">Account diameter: the greatest distance between two '
        "accounts of the territory (at their coordinates, else their ZIP or county "
        "centroid). The design's diameter is measured between unit centres and "
        "can differ.</p>"
    )


def _headcount(frame: pl.DataFrame, what: str) -> str:
    return _table(
        [what, "territories", "accounts", "workload h", "FTE", "reps needed"],
        [
            [
                f"<b>{html.escape(r['region_id'])}</b> "
                f"<span class=muted>{html.escape(r['name'] or '')}</span>",
                _num(r["territories"]),
                _num(r["accounts"]),
                _num(r["workload_hours"]),
                _num(r["fte"], 1),
                _num(r["reps_needed"]),
            ]
            for r in frame.sort("region_id").iter_rows(named=True)
        ],
        numeric=[False, True, True, True, True, True],
    )


def _sizing_section(sizing: SizingResult) -> str:
    overlays = sizing.overlays
    extra_team = (
        f" The overlays' <b>{_num(sizing.overlay_workload_hours)} h</b> need "
        f"<b>{sizing.overlay_reps_needed:,}</b> more, sized apart."
        if overlays.height
        else ""
    )
    head = (
        f"<p class=lead>The regions' workload is "
        f"<b>{_num(sizing.workload_hours)} h</b> a year; at "
        f"<b>{_num(sizing.capacity_hours)} h</b> per rep it needs "
        f"<b>{sizing.reps_needed:,} rep{'' if sizing.reps_needed == 1 else 's'}</b>."
        f"{extra_team} Territories above capacity: "
        f"<b>{sizing.over.height:,}</b> of {sizing.region_territories.height:,}; "
        f"below {1 - sizing.tolerance:.0%} of it: "
        f"<b>{sizing.under.height:,}</b>.</p>"
    )
    regions = _headcount(sizing.regions, "region")
    if overlays.height:
        regions += "<h3>Overlays</h3>" + _headcount(overlays, "overlay")
    shown = pl.concat([sizing.over.head(10), sizing.under.head(10)])
    load = _table(
        ["territory", "region", "workload h", "utilisation", "gap h", "status"],
        [
            [
                html.escape(r["territory_id"]),
                html.escape(r["region_id"]),
                _num(r["workload_hours"]),
                _pct(r["utilisation"]),
                f"{r['gap_hours']:+,.0f}",
                f'<span class="tag {r["status"]}">{r["status"]}</span>',
            ]
            for r in shown.iter_rows(named=True)
        ],
        numeric=[False, False, True, True, True, False],
    )
    extra = (
        f"<h3>Furthest from capacity (up to 10 over, 10 under)</h3>{load}"
        if shown.height
        else "<p>Every territory is within capacity.</p>"
    )
    return f"{head}<h3>By region</h3>{regions}{extra}"


def _quota_section(metrics: MetricsResult) -> str:
    table = _hierarchy_order(metrics.table)
    if float(table["quota"].sum()) == 0.0:
        return (
            f"<p>No quota is stored for {html.escape(metrics.period)}; allocate one "
            "with <code>territory quota --model M --total AMOUNT --period P</code>."
            "</p>"
        )
    rows = []
    for r in table.iter_rows(named=True):
        quota, potential = r["quota"], r["potential"]
        share = quota / potential if potential else None
        rows.append(
            [
                "&nbsp;&nbsp;&nbsp;" * int(r["depth"])
                + f"<b>{html.escape(r['territory_id'])}</b>",
                _money(quota),
                _money(potential),
                _pct(share),
                _money(r["sales"]),
                _pct(r["attainment"]),
                _money(r["open_pipeline"]),
            ]
        )
    return _table(
        [
            "territory",
            "quota",
            "potential",
            "quota ÷ potential",
            "sales",
            "attainment",
            "open pipeline",
        ],  # fmt: skip
        rows,
        numeric=[False, *([True] * 6)],
    )


def _balance_table(metrics: MetricsResult, tolerance: float) -> str:
    leaves = metrics.compared_rows()
    by = {b.measure: b for b in metrics.balance}
    rows = []
    for col, label in BALANCED_MEASURES:
        b = by.get(col)
        inside = int(
            (
                within_band(
                    leaves[col].cast(pl.Float64).fill_null(0.0).to_numpy(), tolerance
                )
                == 0
            ).sum()
        )
        rows.append(
            [
                label,
                _num(b.cv, 3) if b else "—",
                _num(b.max_min, 2) if b else "—",
                _num(b.gini, 3) if b else "—",
                f"{inside:,} of {leaves.height:,}",
            ]
        )
    return _table(
        ["measure", "CV", "max/min", "Gini", f"within ±{tolerance:.0%}"],
        rows,
        numeric=[False, True, True, True, True],
    )


_CSS = """
:root { --ink:#1f2933; --muted:#616e7c; --line:#e4e7eb; --accent:#0b7285;
        --bg:#f7f9fa; --warn:#c2410c; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
       font: 15px/1.5 -apple-system, "Segoe UI", Roboto, "Helvetica Neue",
       Arial, "Noto Sans", "Liberation Sans", sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 28px 32px 60px; }
header.title { background: #fff; border: 1px solid var(--line);
       border-top: 5px solid var(--accent); border-radius: 8px;
       padding: 22px 26px; margin-bottom: 26px; }
header.title h1 { margin: 0 0 4px; font-size: 28px; letter-spacing: -0.01em; }
.meta { color: var(--muted); margin: 0 0 18px; }
.state { display:inline-block; padding:1px 9px; border-radius: 10px;
       background:#e3f2f5; color: var(--accent); font-weight:600; font-size:13px;
       text-transform: uppercase; letter-spacing: .04em; }
.cards { display:grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr));
       gap: 12px; }
.card { border:1px solid var(--line); border-radius: 6px; padding: 10px 14px;
       background: #fcfdfd; }
.card .v { font-size: 24px; font-weight: 650; font-variant-numeric: tabular-nums; }
.card .k { color: var(--muted); font-size: 12.5px; text-transform: uppercase;
       letter-spacing: .04em; }
section { background:#fff; border:1px solid var(--line); border-radius: 8px;
       padding: 18px 24px 22px; margin-bottom: 22px; }
section h2 { margin: 0 0 10px; font-size: 20px; }
section h3 { margin: 18px 0 8px; font-size: 15px; color: var(--muted); }
nav { margin: 0 0 20px; color: var(--muted); font-size: 14px; }
nav a { color: var(--accent); text-decoration: none; margin-right: 14px; }
.grid2 { display:grid; grid-template-columns: 1fr 1fr; gap: 18px; }
@media (max-width: 900px) { .grid2 { grid-template-columns: 1fr; } }
.maps figure { margin: 0 auto 18px; max-width: 1000px; }
figure { margin: 0; }
figure img, section > img { width: 100%; height: auto; display:block;
       border:1px solid var(--line); border-radius: 4px; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 6px; }
.tablewrap { border:1px solid var(--line); border-radius: 4px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th { background: #f1f4f6; text-align: left; vertical-align: bottom;
     font-weight: 600; padding: 6px 8px; border-bottom: 1px solid var(--line); }
td { padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top;
     overflow-wrap: anywhere; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
th.num { white-space: normal; }
.banner { background:#fff4e5; border:1px solid #f5c27a; border-left: 5px solid #e8900c;
       border-radius: 6px; padding: 10px 16px; margin: 0 0 18px; font-size: 14.5px; }
.banner b { color: #8a4b00; }
.legend { display:flex; flex-wrap: wrap; gap: 4px 14px; margin: -6px auto 22px;
       max-width: 1000px; padding: 0; list-style: none; font-size: 13px; }
.legend li { display:flex; align-items: center; gap: 6px; }
.swatch { display:inline-block; width: 14px; height: 14px; border-radius: 3px;
       border: 1px solid #777; }
@media print {
  body { background: #fff; font-size: 12px; }
  main { max-width: none; padding: 0; }
  nav { display: none; }
  section, header.title { border: none; padding: 0; margin: 0 0 14px; }
  .maps figure { max-width: 17cm; }
  figure, img, .banner, .cards { break-inside: avoid; }
  thead { display: table-header-group; }
  tr { break-inside: avoid; }
  table { font-size: 10.5px; }
  th, td { padding: 2px 4px; }
}
tbody tr:nth-child(even) { background: #fafbfc; }
.muted { color: var(--muted); }
.warn { color: var(--warn); font-weight: 600; }
.lead { font-size: 15.5px; }
.tag { padding: 1px 7px; border-radius: 8px; font-size: 12px; font-weight: 600; }
.tag.over { background:#fde2d3; color:#9a3412; }
.tag.under { background:#e9e2f6; color:#5b3f8c; }
.tag.ok { background:#dcefd9; color:#276221; }
.note { color: var(--muted); font-size: 13.5px; }
footer { color: var(--muted); font-size: 12.5px; text-align: center; }
"""


def _card(value: str, label: str) -> str:
    return (
        f'<div class="card"><div class="v">{value}</div>'
        f'<div class="k">{label}</div></div>'
    )


def _legend_html(entries: Sequence[LegendEntry]) -> str:
    if not entries:
        return ""
    items = "".join(
        f'<li><span class="swatch" style="background:{html.escape(e.colour)}">'
        f"</span><b>{html.escape(e.territory_id)}</b>"
        + (
            f' <span class="muted">{html.escape(e.name)}</span>'
            if e.name and e.name != e.territory_id
            else ""
        )
        + (f' <span class="muted">· {html.escape(e.owner)}</span>' if e.owner else "")
        + "</li>"
        for e in entries
    )
    return f'<ul class="legend" id="map-legend">{items}</ul>'


def _sample_banner(sample_accounts: int, n_accounts: int) -> str:
    if sample_accounts <= 0:
        return ""
    share = (
        "All"
        if sample_accounts >= n_accounts
        else f"{sample_accounts:,} of the {n_accounts:,}"
    )
    return (
        '<div class="banner" id="sample-data"><b>Sample data.</b> '
        f"{share} accounts of this model are generated sample records (from "
        "<code>territory data sample-accounts</code>), with generated sales "
        "history and opportunities: they are not real customers, and the sales, "
        "quota and attainment figures below illustrate the method only.</div>"
    )


def render_report(
    model_name: str,
    state: str,
    today: date,
    metrics: MetricsResult,
    sizing: SizingResult,
    figures: ReportFigures,
    metric: str,
    tolerance: float,
    *,
    sample_accounts: int = 0,
) -> str:
    """Return the report page: title block, maps, balance, tables (one HTML file).

    ``sample_accounts`` counts the model's accounts that are sample data; the
    page says so at the top when there are any.
    """
    table = metrics.table
    by = {b.measure: b for b in metrics.balance}
    peers = metrics.compared_rows()
    n_regions = int(
        table.filter((pl.col("depth") == 0) & (pl.col("kind") == "region")).height
    )
    n_overlays = int(
        table.filter((pl.col("depth") == 0) & (pl.col("kind") == "overlay")).height
    )
    reps = table.filter(pl.col("kind") == "region")["owner"].drop_nulls().n_unique()
    diam = peers["account_diameter_km"].drop_nulls()
    max_diam = float(diam.max()) if diam.len() else None  # type: ignore[arg-type]
    pot_cv = by["potential"].cv if "potential" in by else None
    work_cv = by["workload_hours"].cv if "workload_hours" in by else None
    where = [f"{n_regions:,} regions"] if n_regions != peers.height else []
    if n_overlays:
        where.append(f"{n_overlays:,} overlays apart")
    cards = "".join(
        [
            _card(f"{peers.height:,}", " · ".join(["territories", *where])),
            _card(
                f"{metrics.n_accounts:,}",
                "accounts · sample data" if sample_accounts else "accounts",
            ),
            _card(f"{reps:,}", "reps owning territories"),
            _card(_num(pot_cv, 3), "balance CV · potential"),
            _card(_num(work_cv, 3), "balance CV · workload"),
            _card(f"{_num(max_diam)} km", "max account diameter"),
            _card(
                f"{sizing.reps_needed:,}",
                f"reps needed · +{sizing.overlay_reps_needed:,} overlays"
                if sizing.overlays.height
                else "reps needed",
            ),
        ]
    )
    shown = figures.choropleth_metric or metric
    maps_html = ""
    if figures.territory_map is not None:
        labelled = (
            "labelled with its id (the legend below names its owner)"
            if figures.legend
            else "too many to label"
        )
        maps_html += (
            f"<figure>{_img(figures.territory_map, 'territory map')}"
            f"<figcaption>Each territory in its own colour, {labelled}; dark "
            "lines are territory borders.</figcaption></figure>"
            + _legend_html(figures.legend)
        )
    if figures.choropleth is not None:
        caption = (
            f" <b>{html.escape(figures.choropleth_caption)}</b>"
            if figures.choropleth_caption
            else ""
        )
        maps_html += (
            f"<figure>{_img(figures.choropleth, f'choropleth of {shown}')}"
            f"<figcaption>{html.escape(shown.replace('_', ' ')).capitalize()} in "
            f"quantile classes (darker is more), territory borders on top.{caption}"
            "</figcaption></figure>"
        )
    note = (
        f'<p class="note" id="map-note">{html.escape(figures.map_note)}</p>'
        if figures.map_note
        else ""
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in metrics.notes)
    notes += "".join(f"<li>{html.escape(n)}</li>" for n in sizing.notes)
    notes_html = f'<ul class="note">{notes}</ul>' if notes else ""
    title = f"{model_name} — territory report"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<main>
<header class="title" id="summary">
<h1>{html.escape(model_name)}</h1>
<p class="meta"><span class="state">{html.escape(state)}</span>
&nbsp; period {html.escape(metrics.period)} · report of {today.isoformat()}</p>
{_sample_banner(sample_accounts, metrics.n_accounts)}
<div class="cards">{cards}</div>
</header>
<nav><a href="#maps">Maps</a><a href="#balance">Balance</a>
<a href="#territories">Territories</a><a href="#sizing">Sizing</a>
<a href="#quota">Quota</a></nav>
<section id="maps"><h2>Territory map{
        f" and {html.escape(shown.replace('_', ' '))}" if figures.choropleth else ""
    }</h2>
<div class="maps">{maps_html}</div>{note}</section>
<section id="balance"><h2>Balance across {peers.height:,} territories</h2>
{_balance_table(metrics, tolerance)}
<h3>Each territory against the mean (line) and the ±{tolerance:.0%} band</h3>
{_img(figures.balance, "balance bar charts")}
</section>
<section id="territories"><h2>Territories</h2>
{_territory_section(metrics)}{notes_html}</section>
<section id="sizing"><h2>Sizing</h2>{_sizing_section(sizing)}</section>
<section id="quota"><h2>Quota {html.escape(metrics.period)}</h2>
{_quota_section(metrics)}</section>
<footer>territory · self-contained report, no network needed</footer>
</main>
</body>
</html>
"""

"""The model report: one self-contained HTML file people can read at a glance.

``write_report`` measures a model (:func:`compute_metrics`), sizes it
(:func:`size_model`) and writes ``report.html`` holding:

* a title block: model, state, period, date and headline numbers
  (territories, accounts, reps, balance CV, largest diameter, reps needed);
* a territory map and a choropleth of a chosen metric (a geo-unit metric
  such as ``population``, or a territory measure such as ``potential``);
* balance bar charts of each measure against the mean and its tolerance band;
* the per-territory table, the sizing result and the quota table.

Every picture is a PNG embedded as base64 and all styling is inline, so the
file opens offline and can be mailed as it is. Nothing is written to the
store.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
from sqlalchemy import Connection, Engine, select

from territory.errors import InputError
from territory.services import maps
from territory.services.charts import BalancePanel, draw_balance_bars, within_band
from territory.services.models import resolve_model
from territory.services.performance import MetricsResult, compute_metrics
from territory.services.plan import load_plan, read_frame, unit_metric_frame
from territory.services.sizing import SizingResult, size_model
from territory.services.workload import WorkloadConfig
from territory.storage import tables as t

__all__ = ["REPORT_STEPS", "TERRITORY_MEASURES", "write_report"]

Progress = Callable[[str], None]

#: The steps reported to ``progress``, in order (one call each).
REPORT_STEPS: tuple[str, ...] = (
    "measuring territories",
    "sizing",
    "reading geo units",
    "drawing the territory map",
    "drawing the choropleth",
    "drawing balance charts",
    "writing the report",
)

#: Territory measures a choropleth can show (columns of the metrics table).
TERRITORY_MEASURES: tuple[str, ...] = (
    "accounts",
    "potential",
    "sales",
    "quota",
    "open_pipeline",
    "workload_hours",
    "attainment",
    "penetration",
    "utilisation",
    "diameter_km",
)
_BALANCED = (
    ("accounts", "Accounts"),
    ("potential", "Potential (USD)"),
    ("sales", "Sales (USD)"),
    ("workload_hours", "Workload (hours)"),
)


@dataclass(frozen=True, slots=True)
class _Figures:
    territory_map: bytes | None
    choropleth: bytes | None
    balance: bytes
    map_note: str


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
    return (
        f'<div class="scroll {css}"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


# --------------------------------------------------------------------------- #
# data for the pictures


def _unit_assignments(conn: Connection, model_id: str) -> pl.DataFrame:
    ua = t.unit_assignment
    return read_frame(
        conn,
        select(ua.c.unit_kind, ua.c.unit_id, ua.c.territory_id).where(
            ua.c.model_id == model_id
        ),
        {"unit_kind": pl.String, "unit_id": pl.String, "territory_id": pl.String},
    )


def _known_unit_metrics(conn: Connection, kind: str) -> list[str]:
    gm = t.geo_unit_metric
    rows = conn.execute(
        select(gm.c.metric).where(gm.c.kind == kind).distinct().order_by(gm.c.metric)
    ).all()
    return [r[0] for r in rows]


def _unit_values(
    conn: Connection,
    metric: str,
    kind: str,
    unit_ids: list[str],
    unit_territory: list[str | None],
    table: pl.DataFrame,
) -> tuple[np.ndarray, str]:
    if metric in TERRITORY_MEASURES:
        values = dict(
            zip(
                table["territory_id"].to_list(),
                table[metric].cast(pl.Float64).to_list(),
                strict=True,
            )
        )
        arr = np.array(
            [values.get(tid) if tid is not None else None for tid in unit_territory],
            dtype=np.float64,
        )
        return arr, f"{metric.replace('_', ' ')} per territory"
    frame = unit_metric_frame(conn, kind, [metric])
    if frame.height == 0:
        known = _known_unit_metrics(conn, kind)
        raise InputError(
            f"Metric '{metric}' is neither a territory measure nor a metric of the "
            f"{kind} units in the store; choose one of "
            f"{', '.join([*TERRITORY_MEASURES, *known])}.",
            code="report_metric",
            details={"metric": metric, "unit_metrics": known},
        )
    lookup = dict(zip(frame["unit_id"].to_list(), frame[metric].to_list(), strict=True))
    arr = np.array([lookup.get(u) for u in unit_ids], dtype=np.float64)
    return arr, f"{metric.replace('_', ' ')} per {kind}"


def _figures(
    engine: Engine,
    model_id: str,
    model_name: str,
    metrics: MetricsResult,
    metric: str,
    tolerance: float,
    step: Progress,
) -> _Figures:
    table = metrics.table
    leaves = table.filter(
        ~pl.col("territory_id").is_in(table["parent_id"].drop_nulls().implode())
    )
    step(REPORT_STEPS[2])
    with engine.connect() as conn:
        units = _unit_assignments(conn, model_id)
        territory_map = choropleth = None
        note = ""
        if units.height:
            kind = (
                units.group_by("unit_kind")
                .len()
                .sort(["len", "unit_kind"], descending=[True, False])["unit_kind"][0]
            )
            units = units.filter(pl.col("unit_kind") == kind)
            shapes = maps.read_unit_shapes(conn, kind, units["unit_id"].to_list())
            ordered = pl.DataFrame(
                {"unit_id": shapes.unit_id.tolist()}, schema={"unit_id": pl.String}
            ).join(units, on="unit_id", how="left", maintain_order="left")
            unit_territory = ordered["territory_id"].to_list()
            ids = sorted(
                set(leaves["territory_id"].to_list())
                | {x for x in unit_territory if x is not None}
            )
            index = {tid: k for k, tid in enumerate(ids)}
            labels = np.array(
                [index.get(x, -1) if x is not None else -1 for x in unit_territory],
                dtype=np.int64,
            )
            values, label = _unit_values(
                conn,
                metric,
                kind,
                shapes.unit_id.tolist(),
                unit_territory,
                table,
            )
            step(REPORT_STEPS[3])
            territory_map = maps.draw_territory_map(
                shapes,
                labels,
                title=f"{model_name}: {len(set(labels[labels >= 0].tolist())):,} "
                f"territories over {shapes.n_units:,} {kind} units",
            )
            step(REPORT_STEPS[4])
            choropleth = maps.draw_choropleth(
                shapes,
                values,
                label=label,
                labels=labels,
                title=f"{label.capitalize()} (quantile classes)",
            )
        else:
            plan = load_plan(conn, model_name)
            a = plan.assignments
            step(REPORT_STEPS[3])
            territory_map = maps.draw_account_points(
                a["longitude"].to_numpy(),
                a["latitude"].to_numpy(),
                a["t_idx"].to_numpy(),
                title=f"{model_name}: accounts by territory",
            )
            step(REPORT_STEPS[4])
            note = (
                "The model assigns no geo units, so the map shows accounts and "
                "there is no choropleth; assign units (for example with "
                "`territory design`) to see them."
            )
    step(REPORT_STEPS[5])
    panels = [
        BalancePanel(label, leaves[col].cast(pl.Float64).fill_null(0.0).to_numpy())
        for col, label in _BALANCED
    ]
    return _Figures(
        territory_map,
        choropleth,
        draw_balance_bars(panels, tolerance=tolerance),
        note,
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

    keys = [path(tid) for tid in table["territory_id"].to_list()]
    order = sorted(range(len(keys)), key=lambda k: keys[k])
    return table[order]


def _territory_section(metrics: MetricsResult) -> str:
    table = _hierarchy_order(metrics.table)
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
                _num(r["diameter_km"]),
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
               "attainment", "workload h", "utilisation", "diameter km",
               "contiguous"]  # fmt: skip
    numeric = [False, False, *([True] * 8), False]
    return _table(headers, rows, numeric=numeric, css="tall")


def _sizing_section(sizing: SizingResult) -> str:
    head = (
        f"<p class=lead>The plan's workload is <b>{_num(sizing.workload_hours)} h</b> "
        f"a year; at <b>{_num(sizing.capacity_hours)} h</b> per rep it needs "
        f"<b>{sizing.reps_needed:,} rep{'' if sizing.reps_needed == 1 else 's'}</b>. "
        "Territories above capacity: "
        f"<b>{sizing.over.height:,}</b>; below {1 - sizing.tolerance:.0%} of it: "
        f"<b>{sizing.under.height:,}</b>.</p>"
    )
    regions = _table(
        ["region", "territories", "accounts", "workload h", "FTE", "reps needed"],
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
            for r in sizing.regions.sort("region_id").iter_rows(named=True)
        ],
        numeric=[False, True, True, True, True, True],
    )
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
        css="tall",
    )


def _balance_table(metrics: MetricsResult, tolerance: float) -> str:
    leaves = metrics.table.filter(
        ~pl.col("territory_id").is_in(metrics.table["parent_id"].drop_nulls().implode())
    )
    by = {b.measure: b for b in metrics.balance}
    rows = []
    for col, label in _BALANCED:
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
figure { margin: 0; }
figure img, section > img { width: 100%; height: auto; display:block;
       border:1px solid var(--line); border-radius: 4px; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 6px; }
.scroll { overflow: auto; border:1px solid var(--line); border-radius: 4px; }
.scroll.tall { max-height: 520px; }
table { border-collapse: collapse; width: 100%; font-size: 13.5px; }
th { position: sticky; top: 0; background: #f1f4f6; text-align: left;
     font-weight: 600; padding: 7px 10px; border-bottom: 1px solid var(--line); }
td { padding: 5px 10px; border-bottom: 1px solid var(--line); white-space: nowrap; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
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


def _render(
    model_name: str,
    state: str,
    today: date,
    metrics: MetricsResult,
    sizing: SizingResult,
    figures: _Figures,
    metric: str,
    tolerance: float,
) -> str:
    table = metrics.table
    leaves = table.filter(
        ~pl.col("territory_id").is_in(table["parent_id"].drop_nulls().implode())
    )
    by = {b.measure: b for b in metrics.balance}
    accounts = int(table.filter(pl.col("depth") == 0)["accounts"].sum())
    reps = table["owner"].drop_nulls().n_unique()
    diam = leaves["diameter_km"].drop_nulls()
    max_diam = float(diam.max()) if diam.len() else None  # type: ignore[arg-type]
    pot_cv = by["potential"].cv if "potential" in by else None
    work_cv = by["workload_hours"].cv if "workload_hours" in by else None
    cards = "".join(
        [
            _card(
                f"{leaves.height:,}",
                "territories"
                if table.height == leaves.height
                else f"territories · {table.height - leaves.height:,} parents",
            ),
            _card(f"{accounts:,}", "accounts"),
            _card(f"{reps:,}", "reps owning territories"),
            _card(_num(pot_cv, 3), "balance CV · potential"),
            _card(_num(work_cv, 3), "balance CV · workload"),
            _card(f"{_num(max_diam)} km", "max diameter"),
            _card(f"{sizing.reps_needed:,}", "reps needed"),
        ]
    )
    maps_html = ""
    if figures.territory_map is not None:
        maps_html += (
            f"<figure>{_img(figures.territory_map, 'territory map')}"
            "<figcaption>Each territory in its own colour; dark lines are "
            "territory borders.</figcaption></figure>"
        )
    if figures.choropleth is not None:
        maps_html += (
            f"<figure>{_img(figures.choropleth, f'choropleth of {metric}')}"
            f"<figcaption>{html.escape(metric)} in five quantile classes "
            "(darker is more), territory borders on top.</figcaption></figure>"
        )
    note = (
        f'<p class="note">{html.escape(figures.map_note)}</p>'
        if figures.map_note
        else ""
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in metrics.notes)
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
<div class="cards">{cards}</div>
</header>
<nav><a href="#maps">Maps</a><a href="#balance">Balance</a>
<a href="#territories">Territories</a><a href="#sizing">Sizing</a>
<a href="#quota">Quota</a></nav>
<section id="maps"><h2>Territory map and {html.escape(metric)}</h2>
<div class="grid2">{maps_html}</div>{note}</section>
<section id="balance"><h2>Balance across {leaves.height:,} territories</h2>
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


def write_report(
    engine: Engine,
    model: str | None,
    out_dir: Path,
    *,
    metric: str = "population",
    period: str | None = None,
    tolerance: float = 0.10,
    config: WorkloadConfig | None = None,
    progress: Progress | None = None,
    today: date | None = None,
) -> Path:
    """Write ``out_dir/report.html`` for ``model`` (default: the active one).

    ``progress`` is called once per step of :data:`REPORT_STEPS`.

    Raises
    ------
    InputError
        When the tolerance is outside (0, 1), the metric is unknown, the model
        is empty or the period is not valid.
    NotFound
        When the model does not exist.
    """
    if not 0.0 < tolerance < 1.0:
        raise InputError(
            f"Tolerance {tolerance} must be between 0 and 1 (0.1 = ±10 %).",
            code="report_tolerance",
        )
    step = progress or (lambda _msg: None)
    cfg = config or WorkloadConfig()
    with engine.connect() as conn:
        found = resolve_model(conn, model)
    step(REPORT_STEPS[0])
    metrics = compute_metrics(engine, found.name, period=period, config=cfg)
    step(REPORT_STEPS[1])
    sizing = size_model(engine, found.name, config=cfg)
    figures = _figures(engine, found.id, found.name, metrics, metric, tolerance, step)
    step(REPORT_STEPS[6])
    page = _render(
        found.name,
        found.state.value,
        today or date.today(),
        metrics,
        sizing,
        figures,
        metric,
        tolerance,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path

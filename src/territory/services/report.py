"""The model report: one self-contained HTML file people can read at a glance.

``write_report`` measures a model (:func:`compute_metrics`), sizes it
(:func:`size_model`) and writes ``report.html`` holding:

* a title block: model, state, period, date and headline numbers
  (territories, distinct accounts, reps, balance CV, largest account
  diameter, reps needed), with a mark when the accounts are sample data;
* a territory map with each territory labelled and a legend, and a
  choropleth of a chosen metric (a geo-unit metric such as ``population``,
  or a territory measure such as ``potential``; when the measure has no
  value anywhere — attainment without quota — another one is shown and the
  caption says why). A model without geo units gets its accounts drawn at
  their effective locations, and one without any place gets the reason in
  place of the map;
* balance bar charts of each measure against the mean and its tolerance band;
* the per-territory table (overlays apart), the sizing result and the quota
  table, every row and column on the page (no scroll boxes; print-friendly).

Every picture is a PNG embedded as base64 and all styling is inline, so the
file opens offline and can be mailed as it is. Nothing is written to the
store.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
from sqlalchemy import Connection, Engine, func, select

from territory.errors import InputError
from territory.services import maps
from territory.services.charts import BalancePanel, draw_balance_bars
from territory.services.models import resolve_model
from territory.services.performance import MetricsResult, compute_metrics
from territory.services.plan import (
    balance_peers,
    load_plan,
    read_frame,
    unit_metric_frame,
)
from territory.services.report_page import (
    BALANCED_MEASURES,
    LegendEntry,
    ReportFigures,
    render_report,
)
from territory.services.sizing import size_model
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
    "account_diameter_km",
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


#: Why a territory measure has no value somewhere (the choropleth's caption).
_NO_VALUE_REASON: dict[str, str] = {
    "attainment": "no quota is stored for the period",
    "penetration": "the potential is zero",
    "utilisation": "the capacity is zero",
    "account_diameter_km": "no account has a location",
}
#: Territories up to which the map labels each one and lists it in a legend.
MAX_LABELLED = 60
#: Measures tried, in order, when the chosen one has no value anywhere.
_FALLBACK_MEASURES: tuple[str, ...] = ("potential", "accounts", "workload_hours")


def _legend(
    table: pl.DataFrame, ids: list[str], colours: list[str]
) -> tuple[LegendEntry, ...]:
    """Return the map's legend: each territory's colour, name and owner."""
    rows = {
        r["territory_id"]: r
        for r in table.select("territory_id", "name", "owner").iter_rows(named=True)
    }
    return tuple(
        LegendEntry(
            tid,
            (rows.get(tid) or {}).get("name") or "",
            colours[k],
            (rows.get(tid) or {}).get("owner"),
        )
        for k, tid in enumerate(ids)
    )


def _choropleth_values(
    conn: Connection,
    metric: str,
    kind: str,
    shapes: maps.UnitShapes,
    unit_territory: list[str | None],
    metrics: MetricsResult,
) -> tuple[np.ndarray, str, str, str]:
    """Return the values to shade, their label, a caption and the measure shown.

    When ``metric`` has no value in any unit (attainment of a plan without
    quota), the first of :data:`_FALLBACK_MEASURES` that has values is shown
    instead and the caption says why.
    """
    table = metrics.table
    values, label = _unit_values(
        conn, metric, kind, shapes.unit_id.tolist(), unit_territory, table
    )
    words = metric.replace("_", " ")
    missing = int((~np.isfinite(values)).sum())
    if missing == 0:
        return values, label, "", metric
    reason = _NO_VALUE_REASON.get(
        metric,
        "the unit is in no territory"
        if metric in TERRITORY_MEASURES
        else f"the store holds no {words} for the unit",
    )
    if missing < values.size:
        return values, label, f"No value ({missing:,} units): {reason}.", metric
    for other in _FALLBACK_MEASURES:
        if other == metric:
            continue
        alt, alt_label = _unit_values(
            conn, other, kind, shapes.unit_id.tolist(), unit_territory, table
        )
        if np.isfinite(alt).any():
            return (
                alt,
                alt_label,
                f"{words.capitalize()} has no value in any territory "
                f"({reason}: {metrics.period}), so the map shows "
                f"{other.replace('_', ' ')} instead.",
                other,
            )
    return (
        values,
        label,
        f"{words.capitalize()} has no value anywhere: {reason}.",
        metric,
    )


def _figures(
    engine: Engine,
    model_id: str,
    model_name: str,
    metrics: MetricsResult,
    metric: str,
    tolerance: float,
    step: Progress,
    config: WorkloadConfig,
) -> ReportFigures:
    table = metrics.table
    leaves = table.filter(
        ~pl.col("territory_id").is_in(table["parent_id"].drop_nulls().implode())
    )
    step(REPORT_STEPS[2])
    territory_map = choropleth = None
    map_note = caption = shown = ""
    legend: tuple[LegendEntry, ...] = ()
    with engine.connect() as conn:
        units = _unit_assignments(conn, model_id)
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
                set(leaves.filter(pl.col("kind") == "region")["territory_id"].to_list())
                | {x for x in unit_territory if x is not None}
            )
            index = {tid: k for k, tid in enumerate(ids)}
            labels = np.array(
                [index.get(x, -1) if x is not None else -1 for x in unit_territory],
                dtype=np.int64,
            )
            named = len(ids) <= MAX_LABELLED
            palette = maps.territory_palette(ids)
            colours = [palette[t] for t in ids]
            if named:
                legend = _legend(table, ids, colours)
            values, label, caption, shown = _choropleth_values(
                conn, metric, kind, shapes, unit_territory, metrics
            )
            step(REPORT_STEPS[3])
            territory_map = maps.draw_territory_map(
                shapes,
                labels,
                title=f"{model_name}: {len(set(labels[labels >= 0].tolist())):,} "
                f"territories over {shapes.n_units:,} {kind} units",
                names=ids if named else None,
                palette=colours,
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
            plan = load_plan(conn, model_id, potential_field=config.potential_field)
            a = plan.assignments
            located = int(a["located_by"].is_not_null().sum())
            step(REPORT_STEPS[3])
            if located:
                ids = plan.territories["territory_id"].to_list()
                named = len(ids) <= MAX_LABELLED
                # keyed by the leaf territories, as the design map is, so
                # regions and overlays do not shift the colours
                is_peer = balance_peers(plan.territories).tolist()
                palette = maps.territory_palette(
                    t for t, leaf in zip(ids, is_peer, strict=True) if leaf
                )
                colours = [palette.get(t, maps.UNCHANGED_GREY) for t in ids]
                if named:
                    legend = _legend(table, ids, colours)
                territory_map = maps.draw_account_points(
                    a["longitude"].to_numpy(),
                    a["latitude"].to_numpy(),
                    a["t_idx"].to_numpy(),
                    title=f"{model_name}: accounts by territory",
                    names=ids if named else None,
                    palette=colours,
                )
                map_note = (
                    "The model assigns no geo units, so the map shows its accounts "
                    "(at their coordinates, else their ZIP or county centroid) and "
                    "there is no choropleth; assign units (for example with "
                    "`territory design`) to see both."
                )
            else:
                map_note = (
                    "No map: the model assigns no geo units and none of its "
                    f"{metrics.n_accounts:,} accounts has a location (no "
                    "coordinates, and no ZIP or county unit in the store with a "
                    "centroid). Assign units (for example with `territory "
                    "design`), give the accounts coordinates, or load their geo "
                    "units (`territory data load-us`) to see it."
                )
            step(REPORT_STEPS[4])
    step(REPORT_STEPS[5])
    peers = metrics.compared_rows()
    panels = [
        BalancePanel(label, peers[col].cast(pl.Float64).fill_null(0.0).to_numpy())
        for col, label in BALANCED_MEASURES
    ]
    return ReportFigures(
        territory_map,
        choropleth,
        draw_balance_bars(panels, tolerance=tolerance),
        map_note,
        legend=legend,
        choropleth_caption=caption,
        choropleth_metric=shown,
    )


def _sample_accounts(conn: Connection, model_id: str) -> int:
    """Return how many of the model's accounts are sample data."""
    a, aa = t.account, t.account_assignment
    held = select(aa.c.account_id).where(aa.c.model_id == model_id)
    return int(
        conn.execute(
            select(func.count())
            .select_from(a)
            .where(a.c.is_sample.is_(True) & a.c.id.in_(held))
        ).scalar_one()
    )


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
    figures = _figures(
        engine, found.id, found.name, metrics, metric, tolerance, step, cfg
    )
    with engine.connect() as conn:
        sample = _sample_accounts(conn, found.id)
    step(REPORT_STEPS[6])
    page = render_report(
        found.name,
        found.state.value,
        today or date.today(),
        metrics,
        sizing,
        figures,
        metric,
        tolerance,
        sample_accounts=sample,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path

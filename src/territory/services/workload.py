"""Workload and potential of a plan's accounts, with settings from YAML.

The measures themselves are pure (:mod:`territory.metrics.load` and
:mod:`territory.metrics.potential`); this module reads the optional YAML file
that overrides their documented defaults (``docs/workload.md``,
``examples/workload.yaml``) and applies them to a :class:`Plan`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl
import yaml
from sqlalchemy import Connection

from territory.errors import InputError, Issue, ValidationFailed
from territory.metrics.categories import Categories
from territory.metrics.compactness import haversine_km
from territory.metrics.load import (
    Segment,
    SegmentRule,
    TravelPolicy,
    WorkloadModel,
    account_hours,
    default_workload_model,
    segment_of,
)
from territory.metrics.potential import (
    PotentialFormula,
    account_potential,
    market_index,
)
from territory.services.plan import Plan, unit_metric_frame

__all__ = [
    "WorkloadConfig",
    "account_calls",
    "account_measures",
    "industry_categories",
    "load_workload_config",
    "territory_centres",
]

TravelFrom = Literal["centre", "owner"]


@dataclass(frozen=True, slots=True)
class WorkloadConfig:
    """Everything the workload and potential measures can be told."""

    workload: WorkloadModel = field(default_factory=default_workload_model)
    potential: PotentialFormula = field(default_factory=PotentialFormula)
    potential_field: str = "potential"
    population_metric: str = "population"
    labor_force_metric: str = "labor_force"


_RULE_KEYS = {f.name for f in fields(SegmentRule)}
_SEGMENT_KEYS = {
    "name",
    "calls_per_year",
    "minutes_per_call",
    "in_person_share",
    "when",
}
_TRAVEL_KEYS = {f.name for f in fields(TravelPolicy)}
_POTENTIAL_KEYS = {f.name for f in fields(PotentialFormula)} | {
    "field",
    "population_metric",
    "labor_force_metric",
}
_TOP_KEYS = {"capacity_hours", "travel", "segments", "potential"}


def _unknown(where: str, got: Mapping[str, Any], allowed: set[str], src: str) -> None:
    extra = sorted(set(got) - allowed)
    if extra:
        raise ValidationFailed(
            f"{src}: unknown key(s) in {where}: {', '.join(extra)}.",
            [
                Issue(
                    problem=f"unknown key '{k}' in {where}",
                    hint=f"allowed: {', '.join(sorted(allowed))}",
                    file=src,
                    field=k,
                )
                for k in extra
            ],
            code="workload_config",
        )


def _mapping(value: Any, where: str, src: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InputError(
            f"{src}: {where} must be a mapping of keys to values; see "
            "examples/workload.yaml.",
            code="workload_config",
        )
    return value


def _segment(raw: Any, k: int, src: str) -> Segment:
    seg = _mapping(raw, f"segments[{k}]", src)
    _unknown(f"segments[{k}]", seg, _SEGMENT_KEYS, src)
    when = _mapping(seg.get("when") or {}, f"segments[{k}].when", src)
    _unknown(f"segments[{k}].when", when, _RULE_KEYS, src)
    missing = [
        key for key in ("name", "calls_per_year", "minutes_per_call") if key not in seg
    ]
    if missing:
        raise InputError(
            f"{src}: segments[{k}] lacks {', '.join(missing)}; every segment needs "
            "a name, calls_per_year and minutes_per_call.",
            code="workload_config",
        )
    industries = when.get("industries", ())
    if isinstance(industries, str):
        industries = (industries,)
    rule = SegmentRule(
        **{k2: float(v) for k2, v in when.items() if k2 != "industries"},
        industries=tuple(str(i) for i in industries),
    )
    return Segment(
        name=str(seg["name"]),
        calls_per_year=float(seg["calls_per_year"]),
        minutes_per_call=float(seg["minutes_per_call"]),
        in_person_share=float(seg.get("in_person_share", 0.0)),
        when=rule,
    )


def load_workload_config(path: Path | None) -> WorkloadConfig:
    """Return the defaults, overridden by the YAML file at ``path`` if given.

    Keys left out keep their default; ``segments``, when given, replaces the
    whole default list.

    Raises
    ------
    InputError
        When the file is missing, is not YAML or holds a bad value.
    ValidationFailed
        When it holds keys the workload model does not know.
    """
    if path is None:
        return WorkloadConfig()
    src = str(path)
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise InputError(
            f"Workload file {src} does not exist; check the path "
            "(examples/workload.yaml shows the format).",
            code="workload_config",
        ) from exc
    except yaml.YAMLError as exc:
        raise InputError(
            f"Workload file {src} is not valid YAML: {exc}", code="workload_config"
        ) from exc
    top = _mapping(raw, "the file", src)
    _unknown("the file", top, _TOP_KEYS, src)
    base = default_workload_model()
    try:
        travel_raw = _mapping(top.get("travel") or {}, "travel", src)
        _unknown("travel", travel_raw, _TRAVEL_KEYS, src)
        travel = TravelPolicy(
            speed_kmh=float(travel_raw.get("speed_kmh", base.travel.speed_kmh)),
            round_trip=bool(travel_raw.get("round_trip", base.travel.round_trip)),
            max_one_way_km=float(
                travel_raw.get("max_one_way_km", base.travel.max_one_way_km)
            ),
        )
        segs = top.get("segments")
        segments = (
            base.segments
            if segs is None
            else tuple(_segment(s, k, src) for k, s in enumerate(segs))
        )
        workload = WorkloadModel(
            segments=segments,
            travel=travel,
            capacity_hours=float(top.get("capacity_hours", base.capacity_hours)),
        )
        pot_raw = dict(_mapping(top.get("potential") or {}, "potential", src))
        _unknown("potential", pot_raw, _POTENTIAL_KEYS, src)
        names = {
            "potential_field": str(pot_raw.pop("field", "potential")),
            "population_metric": str(pot_raw.pop("population_metric", "population")),
            "labor_force_metric": str(pot_raw.pop("labor_force_metric", "labor_force")),
        }
        factors = pot_raw.pop("industry_factors", None)
        kwargs: dict[str, Any] = {k: float(v) for k, v in pot_raw.items()}
        if factors is not None:
            kwargs["industry_factors"] = {
                str(k): float(v)
                for k, v in _mapping(factors, "industry_factors", src).items()
            }
        potential = PotentialFormula(**kwargs)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"Workload file {src} holds a value that is not a number where one is "
            f"expected ({exc}); see examples/workload.yaml.",
            code="workload_config",
        ) from exc
    except InputError as exc:
        exc.message = f"{src}: {exc.message}"
        exc.args = (exc.message,)
        raise
    return WorkloadConfig(workload=workload, potential=potential, **names)


def territory_centres(plan: Plan) -> tuple[np.ndarray, np.ndarray]:
    """Return the mean latitude and longitude of each territory's own accounts.

    Shape ``(n_territories,)`` each; NaN for a territory without located
    accounts.
    """
    n = plan.n_territories
    a = plan.assignments.filter(
        pl.col("latitude").is_not_null() & pl.col("longitude").is_not_null()
    )
    idx = a["t_idx"].to_numpy()
    cnt = np.bincount(idx, minlength=n).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        lat = np.bincount(idx, weights=a["latitude"].to_numpy(), minlength=n) / cnt
        lon = np.bincount(idx, weights=a["longitude"].to_numpy(), minlength=n) / cnt
    return lat, lon


def industry_categories(values: pl.Series) -> Categories:
    """Encode an industry column as :class:`Categories` (nulls as ``""``)."""
    filled = values.fill_null("").cast(pl.String)
    names = filled.unique().sort()
    table = pl.DataFrame(
        {"v": names, "code": pl.int_range(names.len(), dtype=pl.Int64, eager=True)}
    )
    codes = (
        pl.DataFrame({"v": filled})
        .join(table, on="v", how="left", maintain_order="left")["code"]
        .to_numpy()
    )
    return Categories(codes.astype(np.int64), tuple(names.to_list()))


def account_measures(
    conn: Connection,
    plan: Plan,
    config: WorkloadConfig,
    *,
    travel_from: TravelFrom = "centre",
) -> pl.DataFrame:
    """Return the plan's assignments with potential, segment and workload hours.

    Added columns: ``potential`` (USD), ``segment`` (name), ``call_hours``,
    ``travel_km`` (one way), ``travel_hours`` and ``workload_hours``. Travel
    is measured from the territory's centre (``"centre"``: its spread, used
    by sizing) or from the home of the territory's owner when one is set
    and located (``"owner"``).
    """
    a = plan.assignments
    potential, seg = _potential_and_segment(conn, a, config)
    c_lat, c_lon = territory_centres(plan)
    if travel_from == "owner":
        owners = plan.owners().join(
            plan.reps.select("rep_id", "home_lat", "home_lon"), on="rep_id", how="left"
        )
        o_idx = owners["t_idx"].to_numpy()
        h_lat = owners["home_lat"].to_numpy()
        h_lon = owners["home_lon"].to_numpy()
        ok = np.isfinite(h_lat) & np.isfinite(h_lon)
        c_lat = c_lat.copy()
        c_lon = c_lon.copy()
        c_lat[o_idx[ok]] = h_lat[ok]
        c_lon[o_idx[ok]] = h_lon[ok]
    t_idx = a["t_idx"].to_numpy()
    dist = haversine_km(
        a["latitude"].to_numpy(), a["longitude"].to_numpy(), c_lat[t_idx], c_lon[t_idx]
    )
    call_h, travel_h = account_hours(config.workload, seg, dist)
    names = pl.Series([s.name for s in config.workload.segments], dtype=pl.String)
    return a.with_columns(
        pl.Series("potential", potential, dtype=pl.Float64),
        names.gather(seg).alias("segment"),
        pl.Series("call_hours", call_h, dtype=pl.Float64),
        pl.Series("travel_km", np.nan_to_num(dist, nan=0.0), dtype=pl.Float64),
        pl.Series("travel_hours", travel_h, dtype=pl.Float64),
        pl.Series("workload_hours", call_h + travel_h, dtype=pl.Float64),
    )


def account_calls(
    conn: Connection, accounts: pl.DataFrame, config: WorkloadConfig
) -> pl.DataFrame:
    """Return ``accounts`` with potential, segment and call hours, no travel.

    ``accounts`` has the columns of :func:`~territory.services.plan.read_accounts`
    (at least ``annual_revenue, employees, industry, county_id,
    imported_potential``). Added columns: ``potential`` (USD), ``segment``
    (name) and ``call_hours`` (calls per year × minutes per call ÷ 60), the
    same values :func:`account_measures` gives; travel is left out because
    it depends on the territory an account lands in.
    """
    potential, seg = _potential_and_segment(conn, accounts, config)
    call_h, _ = account_hours(config.workload, seg, np.full(accounts.height, np.nan))
    names = pl.Series([s.name for s in config.workload.segments], dtype=pl.String)
    return accounts.with_columns(
        pl.Series("potential", potential, dtype=pl.Float64),
        names.gather(seg).alias("segment"),
        pl.Series("call_hours", call_h, dtype=pl.Float64),
    )


def _potential_and_segment(
    conn: Connection, a: pl.DataFrame, config: WorkloadConfig
) -> tuple[np.ndarray, np.ndarray]:
    industry = industry_categories(a["industry"])
    potential = account_potential(
        config.potential,
        revenue=a["annual_revenue"].to_numpy(),
        employees=a["employees"].to_numpy(),
        industry=industry,
        market=_market(conn, a, config),
        imported=a["imported_potential"].to_numpy(),
    )
    seg = segment_of(
        config.workload,
        revenue=a["annual_revenue"].to_numpy(),
        employees=a["employees"].to_numpy(),
        industry=industry,
        potential=potential,
    )
    return potential, seg


def _market(conn: Connection, a: pl.DataFrame, config: WorkloadConfig) -> np.ndarray:
    pop, lf = config.population_metric, config.labor_force_metric
    units = unit_metric_frame(conn, "county", [pop, lf])
    if units.height == 0:
        return np.ones(a.height)
    idx = market_index(
        units[pop].to_numpy(), units[lf].to_numpy(), config.potential.market_weight
    )
    table = pl.DataFrame(
        {"county_id": units["unit_id"], "_market": pl.Series(idx, dtype=pl.Float64)}
    )
    joined = a.select("county_id").join(
        table, on="county_id", how="left", maintain_order="left"
    )
    return joined["_market"].fill_null(1.0).to_numpy()

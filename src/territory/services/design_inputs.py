"""Read what a territory design needs from the store and from the user's files.

* :func:`read_units` selects the units of one level (``county``, ``zip`` or
  ``account``) in the chosen states, with their locations projected to planar
  kilometres;
* :func:`read_activities` gives each unit its activities: unit metrics
  (``population``, ``labor_force``) or account aggregates (``accounts``,
  ``revenue``, ``potential``, ``workload``);
* :func:`read_unit_adjacency` gives the neighbour pairs: the stored polygon
  contiguity (``queen``/``rook``), or a Delaunay triangulation of the unit
  locations (ZIPs without stored adjacency, accounts, ``none``);
* :func:`read_centers_file` and :func:`read_lock_file` parse the fixed-centre
  and locked-unit CSV files.

Projection: a spherical Albers equal-area conic (Snyder 1987, *Map
Projections — A Working Manual*, USGS PP 1395, eqs. 14-1 to 14-4, sphere of
radius 6371.0088 km) with standard parallels one sixth of the latitude range
inside the units' extent and the central meridian at the middle of their
longitudes. Over the contiguous US, distances between county centroids are
within about 1 % of the great-circle distance, so diameters read in km.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
from scipy.spatial import Delaunay, QhullError
from sqlalchemy import Connection, and_, func, select

from territory.errors import InputError, Issue, ValidationFailed
from territory.services.location import with_effective_location
from territory.services.plan import read_accounts
from territory.services.workload import WorkloadConfig, account_calls
from territory.storage.tables import account, geo_adjacency, geo_unit, geo_unit_metric

__all__ = [
    "ACCOUNT_AGGREGATES",
    "EARTH_RADIUS_KM",
    "LEVELS",
    "UNIT_METRICS",
    "Units",
    "project_km",
    "read_activities",
    "read_centers_file",
    "read_lock_file",
    "read_unit_adjacency",
    "read_units",
]

LEVELS = ("county", "zip", "account")
UNIT_METRICS = ("population", "labor_force")
ACCOUNT_AGGREGATES = ("accounts", "revenue", "potential", "workload")
#: Aggregates of the workload model's per-account measures (USD, hours a year).
_MEASURED = {"potential": "potential", "workload": "call_hours"}
EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True)
class Units:
    """The units of one design, in engine order (sorted by id).

    ``lat``/``lon`` are centroids in degrees, ``xy_km`` their ``(n, 2)``
    projection in km, ``state`` the two-letter state of each unit.
    """

    level: str
    ids: tuple[str, ...]
    names: tuple[str, ...]
    state: tuple[str, ...]
    lat: npt.NDArray[np.float64]
    lon: npt.NDArray[np.float64]
    xy_km: npt.NDArray[np.float64]
    left_out: dict[str, int]


def project_km(
    lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Project degrees to planar km with an Albers equal-area conic.

    Returns ``(n, 2)`` x, y in km. See the module docstring for the
    parameters.

    Examples
    --------
    >>> xy = project_km(np.array([40.0, 40.0]), np.array([-100.0, -99.0]))
    >>> round(float(np.hypot(*(xy[0] - xy[1]))), 0)
    85.0
    """
    la = np.radians(np.asarray(lat, dtype=np.float64))
    lo = np.asarray(lon, dtype=np.float64)
    if la.size == 0:
        return np.zeros((0, 2))
    lo_min, lo_max = float(lo.min()), float(lo.max())
    lon0 = (lo_min + lo_max) / 2
    dlon = np.radians((lo - lon0 + 180.0) % 360.0 - 180.0)
    lat_min, lat_max = float(la.min()), float(la.max())
    span = lat_max - lat_min
    phi1 = lat_min + span / 6
    phi2 = lat_max - span / 6
    n = (math.sin(phi1) + math.sin(phi2)) / 2
    if abs(n) < 1e-6:  # on the equator: the cone is a cylinder
        r = EARTH_RADIUS_KM
        return np.column_stack([r * dlon, r * la])
    c = math.cos(phi1) ** 2 + 2 * n * math.sin(phi1)
    phi0 = (lat_min + lat_max) / 2
    rho0 = EARTH_RADIUS_KM * math.sqrt(c - 2 * n * math.sin(phi0)) / n
    rho = EARTH_RADIUS_KM * np.sqrt(c - 2 * n * np.sin(la)) / n
    theta = n * dlon
    return np.column_stack([rho * np.sin(theta), rho0 - rho * np.cos(theta)])


def _check_level(level: str) -> str:
    if level not in LEVELS:
        raise InputError(
            f"Level {level!r} is not known; use county, zip or account.",
            code="bad_level",
        )
    return level


def read_units(conn: Connection, level: str, states: Sequence[str] | None) -> Units:
    """Return the units of ``level`` in ``states`` (all stored states if None).

    At account level the units are the accounts whose county (else ZIP, else
    billing state) lies in ``states``, at their effective location (their
    coordinates, else their ZIP's or county's centroid); accounts without any
    location are named in ``left_out``.

    Raises
    ------
    InputError
        When the level is unknown or no unit matches.
    """
    _check_level(level)
    left_out: dict[str, int] = {}
    rows: Sequence[Any]
    if level == "account":
        rows = _located_accounts(conn, states, left_out)
    else:
        stmt = select(
            geo_unit.c.id,
            geo_unit.c.name,
            geo_unit.c.state,
            geo_unit.c.centroid_lat,
            geo_unit.c.centroid_lon,
        ).where(geo_unit.c.kind == level)
        if states is not None:
            stmt = stmt.where(geo_unit.c.state.in_(list(states)))
        rows = conn.execute(stmt.order_by(geo_unit.c.id)).all()
    if not rows:
        where = "" if states is None else f" in {', '.join(states)}"
        hint = (
            "load accounts with locations first"
            if level == "account"
            else f"load them first, e.g. `territory data load-us --level {level}`"
        )
        raise InputError(
            f"No {level} units are stored{where}; {hint}.",
            code="no_units",
            details={"level": level, "states": list(states or [])},
        )
    lat = np.array([r[3] for r in rows], dtype=np.float64)
    lon = np.array([r[4] for r in rows], dtype=np.float64)
    return Units(
        level=level,
        ids=tuple(str(r[0]) for r in rows),
        names=tuple(str(r[1]) for r in rows),
        state=tuple(str(r[2] or "") for r in rows),
        lat=lat,
        lon=lon,
        xy_km=project_km(lat, lon),
        left_out=left_out,
    )


def _located_accounts(
    conn: Connection, states: Sequence[str] | None, left_out: dict[str, int]
) -> list[tuple[str, str, str, float, float]]:
    """``(id, name, state, lat, lon)`` of the accounts in ``states``, by id.

    An account's place is its *effective location*
    (:func:`~territory.services.location.with_effective_location`): its own
    coordinates, else its ZIP unit's centroid, else its county unit's. Its
    state is its county's, else its ZIP's, else its billing state. Accounts
    with no location at all cannot be placed on the map of units: they are
    named in ``left_out`` (the first 20 ids), never dropped silently.
    """
    units_state = (
        select(geo_unit.c.kind, geo_unit.c.id, geo_unit.c.state)
        .where(geo_unit.c.kind.in_(("county", "zip")))
        .subquery()
    )
    county_state = units_state.alias("county_state")
    zip_state = units_state.alias("zip_state")
    stmt = (
        select(
            account.c.id.label("account_id"),
            account.c.name,
            func.coalesce(
                county_state.c.state, zip_state.c.state, account.c.billing_state
            ).label("state"),
            account.c.latitude,
            account.c.longitude,
            account.c.county_id,
            account.c.zip_id,
        )
        .select_from(
            account.outerjoin(
                county_state,
                and_(
                    county_state.c.kind == "county",
                    county_state.c.id == account.c.county_id,
                ),
            ).outerjoin(
                zip_state,
                and_(zip_state.c.kind == "zip", zip_state.c.id == account.c.zip_id),
            )
        )
        .order_by(account.c.id)
    )
    raw = conn.execute(stmt).all()
    if states is not None:
        wanted = set(states)
        raw = [r for r in raw if r[2] in wanted]
    frame = pl.DataFrame(
        [tuple(r) for r in raw],
        schema={
            "account_id": pl.String,
            "name": pl.String,
            "state": pl.String,
            "latitude": pl.Float64,
            "longitude": pl.Float64,
            "county_id": pl.String,
            "zip_id": pl.String,
        },
        orient="row",
    )
    if frame.height:
        frame = with_effective_location(conn, frame)
        lost = frame.filter(pl.col("located_by").is_null())
        if lost.height:
            ids = lost["account_id"].to_list()
            shown = ", ".join(ids[:20]) + (" ..." if len(ids) > 20 else "")
            left_out[
                "accounts without a location (no coordinates, and no stored ZIP or "
                f"county unit of theirs), left out of the design: {shown}; give "
                "them coordinates or a ZIP code, or load their geo units"
            ] = len(ids)
        by_zip = int((frame["located_by"] == "zip").sum())
        by_county = int((frame["located_by"] == "county").sum())
        if by_zip:
            left_out["accounts without coordinates placed at their ZIP's centroid"] = (
                by_zip
            )
        if by_county:
            left_out[
                "accounts without coordinates placed at their county's centroid"
            ] = by_county
        frame = frame.filter(pl.col("located_by").is_not_null())
    return [
        (r[0], r[1], r[2], r[3], r[4])
        for r in frame.select(
            "account_id", "name", "state", "latitude", "longitude"
        ).iter_rows()
    ]


def _account_unit_column(level: str):  # type: ignore[no-untyped-def]
    return {"county": account.c.county_id, "zip": account.c.zip_id}.get(
        level, account.c.id
    )


def _measured_sums(
    conn: Connection, units: Units, config: WorkloadConfig
) -> dict[str, npt.NDArray[np.float64]]:
    """Sum each account's potential and call hours over its unit.

    Returns ``{"potential": (n_units,), "workload": (n_units,)}``; a unit
    without accounts gets 0.
    """
    n = len(units.ids)
    key = {"county": "county_id", "zip": "zip_id"}.get(units.level, "account_id")
    index = pl.DataFrame(
        {key: list(units.ids), "_pos": np.arange(n, dtype=np.int64)},
        schema={key: pl.String, "_pos": pl.Int64},
    )
    accounts = read_accounts(conn, config.potential_field).join(
        index, on=key, how="inner"
    )
    measured = account_calls(conn, accounts, config)
    pos = measured["_pos"].to_numpy()
    return {
        name: np.bincount(pos, weights=measured[col].to_numpy(), minlength=n).astype(
            np.float64
        )
        for name, col in _MEASURED.items()
    }


def read_activities(
    conn: Connection,
    units: Units,
    names: Sequence[str],
    config: WorkloadConfig | None = None,
) -> tuple[npt.NDArray[np.float64], dict[str, int]]:
    """Return ``(n_units, len(names))`` activities and notes on missing values.

    ``accounts`` counts the accounts in each unit and ``revenue`` sums their
    ``annual_revenue`` (USD; a blank revenue counts as 0 and is reported).
    ``potential`` sums the accounts' potential (USD) and ``workload`` their
    yearly call hours, both as :func:`~territory.services.workload.account_calls`
    measures them with ``config`` (the documented defaults when None).
    Workload leaves out travel: travel hours depend on the territory an
    account lands in, so they cannot be a unit's activity.

    Raises
    ------
    InputError
        When an activity is unknown, or a unit metric is asked for at
        account level.
    ValidationFailed
        When units lack a stored value of a unit metric.
    """
    n = len(units.ids)
    pos = {u: i for i, u in enumerate(units.ids)}
    out = np.zeros((n, len(names)))
    notes: dict[str, int] = {}
    unit_col = _account_unit_column(units.level)
    measured: dict[str, npt.NDArray[np.float64]] | None = None
    for a, name in enumerate(names):
        if name in UNIT_METRICS:
            if units.level == "account":
                raise InputError(
                    f"'{name}' is a metric of geographic units; at account level "
                    "balance on accounts, revenue, potential or workload instead.",
                    code="bad_activity",
                    details={"activity": name},
                )
            rows = conn.execute(
                select(geo_unit_metric.c.unit_id, geo_unit_metric.c.value).where(
                    geo_unit_metric.c.kind == units.level,
                    geo_unit_metric.c.metric == name,
                )
            ).all()
            seen = np.zeros(n, dtype=bool)
            for uid, value in rows:
                i = pos.get(uid)
                if i is not None:
                    out[i, a] = float(value)
                    seen[i] = True
            missing = [units.ids[i] for i in np.flatnonzero(~seen)]
            if missing:
                raise ValidationFailed(
                    f"{len(missing)} {units.level} unit(s) have no stored "
                    f"'{name}'; load the metric for them or balance on another "
                    "activity.",
                    [
                        Issue(
                            problem=f"no {name} value",
                            hint="load the unit metrics",
                            field=u,
                        )
                        for u in missing
                    ],
                    code="missing_metric",
                )
        elif name in _MEASURED:
            if measured is None:
                measured = _measured_sums(conn, units, config or WorkloadConfig())
            out[:, a] = measured[name]
        elif name in ACCOUNT_AGGREGATES:
            if units.level == "account":
                if name == "accounts":
                    out[:, a] = 1.0
                    continue
                rows = conn.execute(
                    select(account.c.id, account.c.annual_revenue)
                ).all()
                blank = 0
                for aid, rev in rows:
                    i = pos.get(aid)
                    if i is None:
                        continue
                    if rev is None:
                        blank += 1
                    else:
                        out[i, a] = max(0.0, float(rev))
            else:
                agg = (
                    func.count()
                    if name == "accounts"
                    else func.coalesce(func.sum(account.c.annual_revenue), 0.0)
                )
                rows = conn.execute(
                    select(unit_col, agg)
                    .where(unit_col.is_not(None))
                    .group_by(unit_col)
                ).all()
                for uid, value in rows:
                    i = pos.get(uid)
                    if i is not None:
                        out[i, a] = max(0.0, float(value or 0.0))
                blank = 0
                if name == "revenue":
                    blank = int(
                        conn.execute(
                            select(func.count()).where(
                                account.c.annual_revenue.is_(None),
                                unit_col.is_not(None),
                            )
                        ).scalar_one()
                    )
            if name == "revenue" and blank:
                notes["accounts with blank revenue (counted as 0)"] = blank
        else:
            raise InputError(
                f"Cannot balance on '{name}': use a unit metric "
                f"({', '.join(UNIT_METRICS)}) or an account aggregate "
                f"({', '.join(ACCOUNT_AGGREGATES)}).",
                code="bad_activity",
                details={"activity": name},
            )
    return out, notes


@dataclass(frozen=True)
class UnitAdjacency:
    """Neighbour pairs ``(n_pairs, 2)`` of unit indices, and how they were made.

    ``merged_locations`` lists groups of unit ids that share one location
    (triangulated adjacency only): they neighbour each other through the
    group's first unit, which carries the group's links to other locations.
    """

    pairs: npt.NDArray[np.int64]
    source: str
    merged_locations: tuple[tuple[str, ...], ...] = ()


def _delaunay_pairs(
    units: Units,
) -> tuple[npt.NDArray[np.int64], tuple[tuple[str, ...], ...]]:
    xy = units.xy_km
    n = len(units.ids)
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64), ()
    rounded = np.round(xy, 6)
    _, first, inverse = np.unique(
        rounded, axis=0, return_index=True, return_inverse=True
    )
    inverse = inverse.reshape(-1)
    m = first.size
    # the representative of a location is its first unit in id order
    rep = np.full(m, n, dtype=np.int64)
    np.minimum.at(rep, inverse, np.arange(n))
    pts = xy[rep]
    if m == 1:
        loc_edges = np.zeros((0, 2), dtype=np.int64)
    elif m == 2:
        loc_edges = np.array([[0, 1]], dtype=np.int64)
    else:
        try:
            tri = Delaunay(pts)
            s = tri.simplices
            e = np.vstack([s[:, [0, 1]], s[:, [1, 2]], s[:, [0, 2]]])
            loc_edges = np.unique(np.sort(e, axis=1), axis=0)
        except QhullError:  # collinear: link the locations along the line
            order = np.lexsort((pts[:, 1], pts[:, 0]))
            loc_edges = np.sort(np.column_stack([order[:-1], order[1:]]), axis=1)
    pairs = [rep[loc_edges]]
    others = np.flatnonzero(rep[inverse] != np.arange(n))
    if others.size:
        pairs.append(np.column_stack([rep[inverse[others]], others]))
    allp = np.sort(np.vstack(pairs), axis=1).astype(np.int64)
    allp = np.unique(allp, axis=0)
    groups: tuple[tuple[str, ...], ...] = ()
    if others.size:
        counts = np.bincount(inverse, minlength=m)
        order = np.argsort(inverse, kind="stable")
        starts = np.concatenate([[0], np.cumsum(counts)])
        groups = tuple(
            tuple(units.ids[i] for i in order[starts[k] : starts[k + 1]])
            for k in np.flatnonzero(counts > 1)
        )
        groups = tuple(sorted(groups))
    return allp, groups


def read_unit_adjacency(
    conn: Connection, units: Units, contiguity: str
) -> UnitAdjacency:
    """Return the neighbour pairs among ``units``.

    ``queen``/``rook`` read the stored polygon adjacency of counties (and of
    ZIPs when stored); ZIPs without stored adjacency, accounts and ``none``
    use a Delaunay triangulation of the unit locations, where units sharing a
    location are merged (and reported).

    Raises
    ------
    InputError
        When the contiguity is unknown, or counties have no stored adjacency
        of that kind.
    """
    if contiguity not in ("queen", "rook", "none"):
        raise InputError(
            f"Contiguity {contiguity!r} is not known; use queen, rook or none.",
            code="bad_contiguity",
        )
    if units.level in ("county", "zip") and contiguity != "none":
        rows = conn.execute(
            select(geo_adjacency.c.a, geo_adjacency.c.b).where(
                and_(
                    geo_adjacency.c.kind == units.level,
                    geo_adjacency.c.contiguity == contiguity,
                )
            )
        ).all()
        if rows:
            pos = {u: i for i, u in enumerate(units.ids)}
            pairs = [(pos[a], pos[b]) for a, b in rows if a in pos and b in pos]
            arr = np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)
            return UnitAdjacency(np.sort(arr, axis=1), f"{contiguity} (stored)")
        if units.level == "county":
            raise InputError(
                f"No {contiguity} adjacency of counties is stored; load the "
                f"counties with that contiguity, e.g. `territory data load-us "
                f"--contiguity {contiguity}`, or choose --contiguity none.",
                code="no_adjacency",
                details={"contiguity": contiguity},
            )
    triangulated, groups = _delaunay_pairs(units)
    return UnitAdjacency(triangulated, "delaunay", groups)


# ------------------------------------------------------------------ user files


def _read_csv_rows(
    path: Path, required: Sequence[str]
) -> list[tuple[int, dict[str, str]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(
            f"Cannot read {path}: {exc.strerror}; check the path.",
            code="file_unreadable",
            details={"file": str(path)},
        ) from exc
    reader = csv.DictReader(text.splitlines())
    header = [h.strip().lower() for h in reader.fieldnames or []]
    reader.fieldnames = header
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(
            f"{path.name} lacks the column(s) {', '.join(missing)}; its header is "
            f"'{','.join(header)}'.",
            code="bad_header",
            details={"file": str(path), "missing": missing},
        )
    return [
        (row_no, {k: (v or "").strip() for k, v in row.items() if k is not None})
        for row_no, row in enumerate(reader, start=2)
    ]


@dataclass(frozen=True)
class CenterSpec:
    """One fixed centre from the centres file: a unit, or a point to snap."""

    territory: str
    row: int
    unit_id: str | None = None
    lat: float | None = None
    lon: float | None = None


def read_centers_file(path: Path) -> list[CenterSpec]:
    """Parse ``territory,lat,lon`` or ``territory,unit_id`` rows.

    Raises
    ------
    ValidationFailed
        On a blank territory, a repeated territory, or a bad coordinate.
    InputError
        When the header has neither ``lat,lon`` nor ``unit_id``.
    """
    head = _read_csv_rows(path, ["territory"])
    cols = set(head[0][1]) if head else set()
    by_point = {"lat", "lon"} <= cols
    if not by_point and "unit_id" not in cols and head:
        raise InputError(
            f"{path.name} needs the columns territory,lat,lon or territory,unit_id.",
            code="bad_header",
            details={"file": str(path)},
        )
    issues: list[Issue] = []
    out: list[CenterSpec] = []
    seen: dict[str, int] = {}
    for row_no, row in head:
        terr = row.get("territory", "")
        if not terr:
            issues.append(
                Issue(
                    "territory is blank",
                    "name the territory",
                    path.name,
                    row_no,
                    "territory",
                )
            )
            continue
        if terr in seen:
            issues.append(
                Issue(
                    f"territory '{terr}' already has a centre (row {seen[terr]})",
                    "give each territory one centre",
                    path.name,
                    row_no,
                    "territory",
                )
            )
            continue
        seen[terr] = row_no
        if by_point:
            try:
                lat, lon = float(row["lat"]), float(row["lon"])
            except ValueError:
                issues.append(
                    Issue(
                        "lat/lon is not a number",
                        "use decimal degrees",
                        path.name,
                        row_no,
                        "lat",
                    )
                )
                continue
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                issues.append(
                    Issue(
                        f"({lat}, {lon}) is not a location",
                        "use decimal degrees",
                        path.name,
                        row_no,
                        "lat",
                    )
                )
                continue
            out.append(CenterSpec(terr, row_no, lat=lat, lon=lon))
        else:
            unit = row.get("unit_id", "")
            if not unit:
                issues.append(
                    Issue(
                        "unit_id is blank",
                        "name the centre unit",
                        path.name,
                        row_no,
                        "unit_id",
                    )
                )
                continue
            out.append(CenterSpec(terr, row_no, unit_id=unit))
    if issues:
        raise ValidationFailed(
            f"{path.name} has {len(issues)} problem(s); fix them and run again.",
            issues,
            code="bad_centers",
        )
    return out


def read_lock_file(path: Path) -> list[tuple[int, str, str]]:
    """Parse ``unit_id,territory`` rows into ``(row, unit_id, territory)``.

    Raises
    ------
    ValidationFailed
        On blank cells, or a unit locked twice.
    """
    issues: list[Issue] = []
    out: list[tuple[int, str, str]] = []
    seen: dict[str, int] = {}
    for row_no, row in _read_csv_rows(path, ["unit_id", "territory"]):
        unit, terr = row["unit_id"], row["territory"]
        if not unit or not terr:
            issues.append(
                Issue("unit_id or territory is blank", "fill both", path.name, row_no)
            )
            continue
        if unit in seen:
            issues.append(
                Issue(
                    f"unit '{unit}' is locked twice (first at row {seen[unit]})",
                    "lock each unit once",
                    path.name,
                    row_no,
                    "unit_id",
                )
            )
            continue
        seen[unit] = row_no
        out.append((row_no, unit, terr))
    if issues:
        raise ValidationFailed(
            f"{path.name} has {len(issues)} problem(s); fix them and run again.",
            issues,
            code="bad_lock",
        )
    return out

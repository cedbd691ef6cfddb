"""Load the shipped US geography into the store, and generate sample accounts.

``load_us`` reads the county map, population 2019, labour force 2009 and (for
``level="zip"``) the ZIP units from installed packages, builds the adjacency,
and writes ``geo_unit``, ``geo_unit_metric``, ``metric_source`` and
``geo_adjacency`` in one transaction. A load replaces the units of the same
kind in the states it covers; units of other states stay, and the adjacency
of that kind and contiguity is rebuilt over every state in the store, so
loading GA and then FL links the counties along their border.

Adjacency rows hold each unordered pair once, with ``a < b``.

ZIP-level metrics: the ZIP files carry no population, so a county's
population and labour force are split equally among its ZIP units (active
STANDARD ZIPs whose county resolves). Counties without any ZIP unit keep
their people out of the ZIP-level totals; the report lists them.

``generate_sample_accounts`` draws accounts at real ZIP centroids in
proportion to county population, with industry, revenue and employees, all
from one seed; sales history and open opportunities follow from each
account's potential (``services.sample_history``). Every row is flagged
``is_sample`` and named "Sample ...": no real account list ships.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import polars as pl
import shapely
from sqlalchemy import Connection, Engine, delete, func, select

from territory.errors import Conflict, InputError
from territory.io.adjacency import (
    Adjacency,
    AdjacencyReport,
    components_of,
    point_adjacency,
    polygon_adjacency,
)
from territory.io.usdata import (
    LABOR_FORCE_SOURCE,
    POPULATION_SOURCE,
    STATE_FIPS,
    Counties,
    CountyReport,
    MetricReport,
    MetricSource,
    ZipReport,
    parse_states,
    read_counties,
    read_labor_force,
    read_population,
    read_zip_directory,
    read_zip_units,
)
from territory.metrics.potential import (
    PotentialFormula,
    account_potential,
    market_index,
)
from territory.optimize.random import as_generator
from territory.services.plan import unit_metric_frame
from territory.services.sample_history import (
    HISTORY_YEARS,
    SAMPLE_AS_OF,
    draw_opportunities,
    draw_sales,
)
from territory.storage.bulk import insert_columns, upsert_columns
from territory.storage.tables import (
    account,
    account_assignment,
    geo_adjacency,
    geo_unit,
    geo_unit_metric,
    opportunity,
    opportunity_split,
    opportunity_territory,
    sales_history,
)

__all__ = [
    "INDUSTRIES",
    "SALES_YEARS",
    "LoadReport",
    "ProgressCallback",
    "SampleReport",
    "StateSummary",
    "generate_sample_accounts",
    "load_us",
    "read_adjacency",
]

_log = logging.getLogger(__name__)

#: ``progress(step, n_steps, description)`` is called as each step starts.
ProgressCallback = Callable[[int, int, str], None]

LEVELS = ("county", "zip")
_ZIP_NOTE = (
    " At ZIP level (active STANDARD ZIPs of the zipcodes package) each ZIP unit "
    "holds an equal share of its county's value."
)


@dataclass(frozen=True, slots=True)
class StateSummary:
    """One state of a load: units, people, and how its units hang together.

    ``n_components`` and ``islands`` are measured on the state's own units
    (neighbours across the state line are ignored), so Massachusetts shows
    three pieces: the mainland, Dukes and Nantucket.
    """

    state: str
    n_units: int
    population: float
    labor_force: float
    n_components: int
    islands: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LoadReport:
    """What ``load_us`` wrote and every id it dropped, filled or left out."""

    level: str
    contiguity: str
    states: tuple[str, ...]
    n_units: int
    n_metric_rows: int
    n_pairs: int
    n_replaced: int
    counties: CountyReport
    population: MetricReport
    labor_force: MetricReport
    adjacency: AdjacencyReport
    by_state: tuple[StateSummary, ...]
    sources: tuple[MetricSource, ...]
    zips: ZipReport | None = None
    counties_without_zip: Mapping[str, float] = field(default_factory=dict)
    timings_s: Mapping[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def population_total(self) -> float:
        """Population of the loaded units."""
        return sum(s.population for s in self.by_state)

    @property
    def labor_force_total(self) -> float:
        """Labour force of the loaded units."""
        return sum(s.labor_force for s in self.by_state)


def _load_notes(
    states: Sequence[str],
    *,
    everywhere: bool,
    counties: CountyReport,
    labor_force: MetricReport,
    zips: ZipReport | None,
    zip_frame: pl.DataFrame | None,
    counties_without_zip: Mapping[str, float],
) -> tuple[str, ...]:
    """Return what the load dropped, mapped or filled in the loaded ``states``.

    A load of some states notes only what concerns them (no Alaska fills on
    a Rhode Island load); a load of every state also notes the county
    records outside the 50 states and DC.
    """
    wanted = set(states)

    def in_states(county_id: str) -> bool:
        return STATE_FIPS.get(county_id[:2]) in wanted

    names = ", ".join(states) if len(states) <= 8 else f"{len(states)} states"
    notes = []
    if everywhere:
        notes.append(
            f"Dropped outside the 50 states and DC: {len(counties.dropped)} "
            "county records (territories)."
        )
    remapped = {old: new for old, new in labor_force.remapped.items() if in_states(new)}
    if remapped:
        notes.append(
            "Labour force: "
            + ", ".join(f"code {o} mapped to {n}" for o, n in sorted(remapped.items()))
            + "."
        )
    filled = sorted(c for c in labor_force.filled if in_states(c))
    if filled:
        notes.append(
            f"Labour force: {len(filled)} counties filled (population x state "
            f"ratio): {', '.join(filled)}."
        )
    if zips is not None and zip_frame is not None:
        state_of = dict(
            zip(zip_frame["id"].to_list(), zip_frame["state"].to_list(), strict=True)
        )
        n_units = sum(1 for st in state_of.values() if st in wanted)
        unresolved = sum(
            n for st, n in zips.unresolved_by_state.items() if st in wanted
        )
        shared = sum(
            1
            for group in zips.shared_centroid_groups
            for z in group
            if state_of.get(z) in wanted
        )
        no_zip = sum(1 for c in counties_without_zip if in_states(c))
        notes.append(
            f"ZIP codes in {names}: {n_units:,} ZIP units; {unresolved:,} active "
            f"ZIPs without a county; {shared:,} ZIPs share a centroid with "
            f"another; {no_zip} counties have no ZIP unit."
        )
    return tuple(notes)


def _check_level(level: str) -> str:
    if level not in LEVELS:
        raise InputError(
            f"Level {level!r} is not known; use 'county' or 'zip'.",
            code="bad_level",
        )
    return level


def _check_contiguity(contiguity: str) -> str:
    value = str(contiguity).lower()
    if value not in {"queen", "rook"}:
        raise InputError(
            f"Contiguity {contiguity!r} is not known; use 'queen' (any shared "
            "point) or 'rook' (a shared stretch of border).",
            code="bad_contiguity",
        )
    return value


def _stored_states(conn: Connection, kind: str) -> set[str]:
    rows = conn.execute(
        select(geo_unit.c.state).where(geo_unit.c.kind == kind).distinct()
    )
    return {r[0] for r in rows}


def _per_state(
    ids: Sequence[str],
    states: Sequence[str],
    population: npt.NDArray[np.float64],
    labor_force: npt.NDArray[np.float64],
    adj: Adjacency,
    wanted: Sequence[str],
) -> tuple[StateSummary, ...]:
    st = np.asarray(states, dtype=object)
    out: list[StateSummary] = []
    pairs = adj.pairs
    for s in wanted:
        idx = np.flatnonzero(st == s)
        if len(idx) == 0:
            out.append(StateSummary(s, 0, 0.0, 0.0, 0, ()))
            continue
        local = np.full(len(ids), -1, dtype=np.int64)
        local[idx] = np.arange(len(idx))
        inner = pairs[(local[pairs[:, 0]] >= 0) & (local[pairs[:, 1]] >= 0)]
        comps, islands = components_of([ids[int(i)] for i in idx], local[inner])
        out.append(
            StateSummary(
                state=s,
                n_units=len(idx),
                population=float(population[idx].sum()),
                labor_force=float(labor_force[idx].sum()),
                n_components=len(comps),
                islands=islands,
            )
        )
    return tuple(out)


def load_us(
    engine: Engine,
    states: str | Sequence[str] | None = None,
    level: str = "county",
    contiguity: str = "queen",
    progress: ProgressCallback | None = None,
) -> LoadReport:
    """Load the US counties or ZIP units of ``states`` (default: all 50 + DC).

    Writes units, metrics (``population``, ``labor_force``), their sources
    and the adjacency in one transaction; a failure leaves the store as it
    was.

    Raises
    ------
    InputError
        When a state code, the level or the contiguity is not known.
    InternalError
        When a data package is missing or the store cannot be written.
    """
    level = _check_level(level)
    contiguity = _check_contiguity(contiguity)
    wanted = parse_states(states)
    n_steps = 6 if level == "county" else 7
    step = 0
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def begin(description: str) -> None:
        nonlocal step, clock
        now = time.perf_counter()
        if step:
            timings[_last[0]] = now - clock
        clock = now
        step += 1
        _last[0] = description
        if progress is not None:
            progress(step, n_steps, description)

    _last = [""]
    begin("reading counties")
    counties = read_counties()
    begin("reading population and labour force")
    population = read_population(counties)
    labor_force = read_labor_force(counties, population)
    pop_of = population.as_dict()
    lf_of = labor_force.as_dict()
    load_states = tuple(sorted(STATE_FIPS.values())) if wanted is None else wanted

    with engine.connect() as conn:
        existing = _stored_states(conn, level)
    graph_states = sorted(
        set(load_states) | (existing if wanted is not None else set())
    )
    if level == "county":
        begin("building county adjacency")
        graph = counties.select_states(graph_states)
        adj = polygon_adjacency(list(graph.frame["id"]), graph.geometries, contiguity)
        units = counties.select_states(load_states)
        unit_ids = list(units.frame["id"])
        unit_states = list(units.frame["state"])
        pop = np.array([pop_of[i] for i in unit_ids], dtype=np.float64)
        lf = np.array([lf_of[i] for i in unit_ids], dtype=np.float64)
        columns: dict[str, object] = {
            "kind": "county",
            "id": unit_ids,
            "name": units.frame["name"],
            "state": units.frame["state"],
            "parent_id": None,
            "centroid_lat": units.frame["centroid_lat"],
            "centroid_lon": units.frame["centroid_lon"],
            "geometry": shapely.to_wkb(units.geometries).tolist(),
        }
        zip_report = None
        zip_frame: pl.DataFrame | None = None
        without_zip: dict[str, float] = {}
    else:
        begin("reading ZIP codes")
        directory = read_zip_directory(counties)
        all_units = read_zip_units(directory)
        zip_report = all_units.report
        frame = zip_frame = all_units.frame
        # Equal share of the county's people per ZIP unit, counted over
        # every ZIP unit of the county so subset loads agree.
        per_county = frame.group_by("county_fips").len()
        n_in = dict(zip(per_county["county_fips"], per_county["len"], strict=True))
        without_zip = {c: pop_of[c] for c in counties.frame["id"] if c not in n_in}
        begin("building ZIP adjacency")
        gframe = frame.filter(pl.col("state").is_in(graph_states))
        parents = gframe["county_fips"].to_list()
        parent_states = sorted(
            set(graph_states) | {STATE_FIPS[p[:2]] for p in parents if p}
        )
        csel = counties.select_states(parent_states)
        # ZIP neighbours must lie in the same or neighbouring counties,
        # neighbouring in the requested sense (queen or rook).
        cadj = polygon_adjacency(list(csel.frame["id"]), csel.geometries, contiguity)
        adj = point_adjacency(
            list(gframe["id"]),
            gframe["centroid_lat"].to_numpy(),
            gframe["centroid_lon"].to_numpy(),
            parents=parents,
            parent_pairs=cadj.id_pairs(),
        )
        uframe = frame.filter(pl.col("state").is_in(list(load_states)))
        unit_ids = list(uframe["id"])
        unit_states = list(uframe["state"])
        cf = uframe["county_fips"].to_list()
        pop = np.array(
            [pop_of[c] / n_in[c] if c else 0.0 for c in cf], dtype=np.float64
        )
        lf = np.array([lf_of[c] / n_in[c] if c else 0.0 for c in cf], dtype=np.float64)
        columns = {
            "kind": "zip",
            "id": unit_ids,
            "name": uframe["name"],
            "state": uframe["state"],
            "parent_id": cf,
            "centroid_lat": uframe["centroid_lat"],
            "centroid_lon": uframe["centroid_lon"],
            "geometry": None,
        }

    with engine.begin() as conn:
        if wanted is not None and _stored_states(conn, level) != existing:
            raise Conflict(
                f"Another load changed the stored {level} units while this one "
                "was running; run the command again.",
                code="concurrent_load",
            )
        begin("replacing stored units")
        unit_filter = geo_unit.c.kind == level
        metric_filter = geo_unit_metric.c.kind == level
        if wanted is not None:
            sub = select(geo_unit.c.id).where(
                geo_unit.c.kind == level, geo_unit.c.state.in_(list(wanted))
            )
            metric_filter = metric_filter & geo_unit_metric.c.unit_id.in_(sub)
            unit_filter = unit_filter & geo_unit.c.state.in_(list(wanted))
        conn.execute(delete(geo_unit_metric).where(metric_filter))
        n_replaced = conn.execute(delete(geo_unit).where(unit_filter)).rowcount
        conn.execute(
            delete(geo_adjacency).where(
                geo_adjacency.c.kind == level,
                geo_adjacency.c.contiguity == contiguity,
            )
        )

        begin("writing units, metrics and sources")
        insert_columns(conn, geo_unit, columns)
        n = len(unit_ids)
        n_metric = insert_columns(
            conn,
            geo_unit_metric,
            {
                "kind": level,
                "unit_id": unit_ids + unit_ids,
                "metric": ["population"] * n + ["labor_force"] * n,
                "value": np.concatenate([pop, lf]),
            },
        )
        geometry_note = (
            " Units: Census 2016 counties (plotly-geo "
            "_plotly_geo/package_data/cb_2016_us_county_500k.shp, vintage 2016)."
        )
        sources = (POPULATION_SOURCE, LABOR_FORCE_SOURCE)
        upsert_columns(
            conn,
            "metric_source",
            {
                "metric": [s.metric for s in sources],
                "source": [s.source for s in sources],
                "vintage": [s.vintage for s in sources],
                "notes": [s.notes + geometry_note + _ZIP_NOTE for s in sources],
            },
        )

        begin("writing adjacency")
        id_pairs = adj.id_pairs()
        insert_columns(
            conn,
            geo_adjacency,
            {
                "kind": level,
                "contiguity": contiguity,
                "a": [a for a, _ in id_pairs],
                "b": [b for _, b in id_pairs],
                "shared_km": adj.shared_km,
            },
        )
    timings[_last[0]] = time.perf_counter() - clock

    by_state = _per_state(
        unit_ids,
        unit_states,
        pop,
        lf,
        _restrict(adj, unit_ids),
        load_states,
    )
    report = LoadReport(
        level=level,
        contiguity=contiguity,
        states=load_states,
        n_units=len(unit_ids),
        n_metric_rows=n_metric,
        n_pairs=len(id_pairs),
        n_replaced=int(n_replaced or 0),
        counties=counties.report,
        population=population.report,
        labor_force=labor_force.report,
        adjacency=adj.report,
        by_state=by_state,
        sources=(counties.source, POPULATION_SOURCE, LABOR_FORCE_SOURCE),
        zips=zip_report,
        counties_without_zip=without_zip,
        timings_s=timings,
        notes=_load_notes(
            load_states,
            everywhere=wanted is None,
            counties=counties.report,
            labor_force=labor_force.report,
            zips=zip_report,
            zip_frame=zip_frame,
            counties_without_zip=without_zip,
        ),
    )
    _log.info(
        "loaded %d %s units (%d adjacency pairs) in %.2f s",
        report.n_units,
        level,
        report.n_pairs,
        sum(timings.values()),
    )
    return report


def _restrict(adj: Adjacency, ids: Sequence[str]) -> Adjacency:
    """Return the adjacency among ``ids`` only (which must be a subset)."""
    if len(ids) == len(adj.ids):
        return adj
    pos = {u: k for k, u in enumerate(ids)}
    local = np.array([pos.get(u, -1) for u in adj.ids], dtype=np.int64)
    p = local[adj.pairs] if len(adj.pairs) else adj.pairs
    keep = (p[:, 0] >= 0) & (p[:, 1] >= 0) if len(p) else np.zeros(0, dtype=bool)
    pairs = np.sort(p[keep], axis=1) if len(p) else p
    comps, islands = components_of(list(ids), pairs)
    report = AdjacencyReport(
        n_units=len(ids),
        n_pairs=len(pairs),
        contiguity=adj.report.contiguity,
        islands=islands,
        components=comps,
    )
    return Adjacency(tuple(ids), pairs, adj.shared_km[keep], report)


def read_adjacency(
    conn: Connection, kind: str = "county", contiguity: str = "queen"
) -> list[tuple[str, str, float | None]]:
    """Return the stored neighbour pairs ``(a, b, shared_km)``, ``a < b``, sorted."""
    rows = conn.execute(
        select(geo_adjacency.c.a, geo_adjacency.c.b, geo_adjacency.c.shared_km)
        .where(
            geo_adjacency.c.kind == kind,
            geo_adjacency.c.contiguity == contiguity,
        )
        .order_by(geo_adjacency.c.a, geo_adjacency.c.b)
    )
    return [(r[0], r[1], r[2]) for r in rows]


# --------------------------------------------------------------------------
# Sample accounts
# --------------------------------------------------------------------------

#: Industries (Salesforce's standard picklist) and how common each is.
INDUSTRIES: Mapping[str, float] = {
    "Agriculture": 2.0,
    "Apparel": 1.5,
    "Banking": 3.0,
    "Biotechnology": 2.0,
    "Chemicals": 1.5,
    "Communications": 3.0,
    "Construction": 6.0,
    "Consulting": 5.0,
    "Education": 4.0,
    "Electronics": 2.5,
    "Energy": 2.0,
    "Engineering": 3.0,
    "Entertainment": 2.0,
    "Environmental": 1.0,
    "Finance": 4.0,
    "Food & Beverage": 4.0,
    "Government": 2.0,
    "Healthcare": 8.0,
    "Hospitality": 4.0,
    "Insurance": 3.0,
    "Machinery": 2.0,
    "Manufacturing": 8.0,
    "Media": 2.0,
    "Not For Profit": 3.0,
    "Recreation": 1.5,
    "Retail": 9.0,
    "Shipping": 1.5,
    "Technology": 7.0,
    "Telecommunications": 2.0,
    "Transportation": 3.0,
    "Utilities": 1.0,
    "Other": 4.0,
}
#: Years of sample sales history (the last one up to ``SAMPLE_AS_OF``).
SALES_YEARS: tuple[str, ...] = tuple(str(y) for y in HISTORY_YEARS)
#: Sample rows carry this fixed timestamp so a seed gives identical rows.
_SAMPLE_TIMESTAMP = datetime(2026, 1, 1, tzinfo=UTC)
_SAMPLE_PREFIX = "SAMPLE-"


@dataclass(frozen=True, slots=True)
class SampleReport:
    """What ``generate_sample_accounts`` wrote.

    ``counties_without_zip`` maps the counties left out of the draw (no
    active ZIP with coordinates to place an account at) to their population.
    ``counties_at_other_zips`` lists the counties without a ZIP unit whose
    accounts sit at their PO BOX or UNIQUE ZIPs (``zip_id`` left empty).
    """

    n_accounts: int
    n_sales_rows: int
    n_opportunities: int
    seed: int
    states: tuple[str, ...]
    by_state: Mapping[str, int]
    n_replaced: int
    counties_without_zip: Mapping[str, float]
    counties_at_other_zips: tuple[str, ...] = ()


def _delete_samples(conn: Connection) -> int:
    sample_ids = select(account.c.id).where(account.c.is_sample.is_(True))
    assigned = conn.execute(
        select(func.count())
        .select_from(account_assignment)
        .where(account_assignment.c.account_id.in_(sample_ids))
    ).scalar_one()
    if assigned:
        raise Conflict(
            f"{assigned} territory assignment(s) point at sample accounts; "
            "remove those assignments (or use a fresh store) before generating "
            "new sample accounts.",
            code="sample_accounts_assigned",
            details={"assignments": int(assigned)},
        )
    sample_opps = select(opportunity.c.id).where(opportunity.c.is_sample.is_(True))
    for child in (opportunity_split, opportunity_territory):
        conn.execute(delete(child).where(child.c.opportunity_id.in_(sample_opps)))
    conn.execute(delete(opportunity).where(opportunity.c.is_sample.is_(True)))
    conn.execute(delete(sales_history).where(sales_history.c.is_sample.is_(True)))
    return int(
        conn.execute(delete(account).where(account.c.is_sample.is_(True))).rowcount or 0
    )


def _width(n: int) -> int:
    return max(6, len(str(max(n, 1))))


def _draw_accounts(
    n: int,
    rng: np.random.Generator,
    county_ids: list[str],
    county_pop: npt.NDArray[np.float64],
    zips: pl.DataFrame,
) -> pl.DataFrame:
    """Draw ``n`` accounts: county ∝ population, then a ZIP of it uniformly."""
    zips = zips.sort("county_fips", "id")
    zc = np.array(zips["county_fips"].to_list(), dtype="U5")
    wanted = np.array(county_ids, dtype="U5")
    starts = np.searchsorted(zc, wanted)
    counts = np.searchsorted(zc, wanted, side="right") - starts
    p = county_pop / county_pop.sum() if len(county_pop) else county_pop
    county = rng.choice(len(county_ids), size=n, p=p)
    offset = np.floor(rng.random(n) * counts[county]).astype(np.int64)
    row = starts[county] + offset
    w = _width(n)
    ids = [f"{_SAMPLE_PREFIX}{k:0{w}d}" for k in range(1, n + 1)]
    names = [f"Sample Account {k:0{w}d}" for k in range(1, n + 1)]
    ind_names = list(INDUSTRIES)
    ind_w = np.array(list(INDUSTRIES.values()))
    industry = rng.choice(len(ind_names), size=n, p=ind_w / ind_w.sum())
    # Employees: heavy-tailed (most accounts are small), 1 .. 250,000.
    employees = np.clip(
        np.round(np.exp(rng.normal(3.2, 1.6, size=n))), 1, 250_000
    ).astype(np.int64)
    # Revenue per employee ~ lognormal around 180k USD.
    revenue = np.round(employees * np.exp(rng.normal(np.log(180_000), 0.5, size=n)), -3)
    picked = zips[row.tolist()]
    return pl.DataFrame(
        {
            "id": ids,
            "name": names,
            "billing_city": picked["name"],
            "billing_state": picked["state"],
            "billing_postal_code": picked["id"],
            "billing_country": pl.repeat("US", n, eager=True),
            "industry": np.array(ind_names, dtype=object)[industry].tolist(),
            "annual_revenue": revenue,
            "employees": employees,
            "latitude": picked["centroid_lat"],
            "longitude": picked["centroid_lon"],
            "county_id": picked["county_fips"],
            "zip_id": picked.select(
                pl.when(pl.col("is_unit")).then(pl.col("id")).alias("zip_id")
            ).to_series(),
        }
    )


def _sample_potential(
    conn: Connection, accounts: pl.DataFrame
) -> npt.NDArray[np.float64]:
    """Return each account's potential by the default formula (USD, ``(n,)``).

    The market index comes from the counties in the store, as in
    ``territory metrics``; without stored counties it is 1.
    """
    formula = PotentialFormula()
    units = unit_metric_frame(conn, "county", ["population", "labor_force"])
    market = np.ones(accounts.height)
    if units.height:
        idx = market_index(
            units["population"].to_numpy(),
            units["labor_force"].to_numpy(),
            formula.market_weight,
        )
        table = pl.DataFrame(
            {"county_id": units["unit_id"], "_m": pl.Series(idx, dtype=pl.Float64)}
        )
        joined = accounts.select("county_id").join(
            table, on="county_id", how="left", maintain_order="left"
        )
        market = joined["_m"].fill_null(1.0).to_numpy()
    return account_potential(
        formula,
        revenue=accounts["annual_revenue"].to_numpy().astype(np.float64),
        employees=accounts["employees"].to_numpy().astype(np.float64),
        industry=accounts["industry"].to_list(),
        market=market,
    )


def generate_sample_accounts(
    engine: Engine,
    n: int,
    seed: int = 0,
    states: str | Sequence[str] | None = None,
    progress: ProgressCallback | None = None,
) -> SampleReport:
    """Write ``n`` sample accounts with sales history and open opportunities.

    Accounts sit at real ZIP centroids: a county is drawn in proportion to its
    2019 population, then one of its ZIP units uniformly (a county without
    ZIP units uses its other active ZIPs, and one without any is left out
    and reported). Industry, revenue and employees are drawn; sales history
    (``SALES_YEARS``, as of ``SAMPLE_AS_OF``) and open opportunities are
    drawn shares of each account's potential by the default formula (see
    ``territory.services.sample_history``). Everything comes from ``seed``;
    the same seed and store give the same rows. Earlier sample accounts (and
    their sales and opportunities) are replaced; real accounts are never
    touched.

    Raises
    ------
    InputError
        When ``n`` is negative or a state code is not known.
    Conflict
        When earlier sample accounts are assigned to territories.
    """
    if n < 0:
        raise InputError(
            f"Cannot generate {n} sample accounts; give --n 0 or more.",
            code="bad_sample_count",
        )
    wanted = parse_states(states)
    load_states = tuple(sorted(STATE_FIPS.values())) if wanted is None else wanted
    total = 5

    def tick(k: int, text: str) -> None:
        if progress is not None:
            progress(k, total, text)

    tick(1, "reading counties, population and ZIP codes")
    counties: Counties = read_counties()
    population = read_population(counties)
    directory = read_zip_directory(counties)
    cframe = counties.frame.filter(pl.col("state").is_in(list(load_states)))
    in_states = pl.col("county_fips").is_in(cframe["id"].to_list())
    units = (
        read_zip_units(directory)
        .frame.filter(in_states)
        .with_columns(pl.lit(True).alias("is_unit"))
    )
    # A county without a ZIP unit (mostly Alaska) still gets its share of
    # accounts, at its other active ZIPs (PO BOX, UNIQUE) when it has any.
    no_unit = sorted(set(cframe["id"]) - set(units["county_fips"]))
    other = directory.filter(
        pl.col("active")
        & pl.col("lat").is_not_null()
        & pl.col("county_fips").is_in(no_unit)
    ).select(
        pl.col("zip").alias("id"),
        pl.col("city").alias("name"),
        "state",
        "county_fips",
        pl.col("lat").alias("centroid_lat"),
        pl.col("lon").alias("centroid_lon"),
        pl.lit(False).alias("is_unit"),
    )
    zips = pl.concat([units, other])
    with_zip = set(zips["county_fips"].to_list())
    via_other = tuple(sorted(set(other["county_fips"])))
    pop_of = population.as_dict()
    county_ids = [c for c in cframe["id"] if c in with_zip]
    without = {c: pop_of[c] for c in cframe["id"] if c not in with_zip}
    county_pop = np.array([pop_of[c] for c in county_ids], dtype=np.float64)

    tick(2, "drawing sample accounts")
    rng = as_generator(seed)
    if n and not county_ids:
        raise InputError(
            "The selected states have no ZIP units to place sample accounts at.",
            code="no_zip_units",
        )
    accounts = _draw_accounts(n, rng, county_ids, county_pop, zips)
    # Sales and pipeline are shares of the potential the product computes,
    # so penetration and coverage come out in plausible ranges.
    with engine.connect() as conn:
        potential = _sample_potential(conn, accounts)
    sales = draw_sales(potential, rng, SAMPLE_AS_OF)
    opps = draw_opportunities(potential, sales.is_customer, rng, SAMPLE_AS_OF)
    acc_ids = np.array(accounts["id"].to_list(), dtype=object)
    m = len(opps.account)
    w = _width(m)

    with engine.begin() as conn:
        tick(3, "replacing earlier sample accounts")
        n_replaced = _delete_samples(conn)
        tick(4, "writing sample accounts")
        insert_columns(
            conn,
            account,
            {
                **{c: accounts[c] for c in accounts.columns},
                "placed_by": "zip",
                "is_sample": True,
                "excluded_from_realign": False,
                "custom_fields": {"sample": True},
                "created_at": _SAMPLE_TIMESTAMP,
                "updated_at": _SAMPLE_TIMESTAMP,
            },
        )
        tick(5, "writing sales history and opportunities")
        n_sales = insert_columns(
            conn,
            sales_history,
            {
                "account_id": acc_ids[sales.account].tolist(),
                "period": sales.period,
                "amount": sales.amount,
                "is_sample": True,
            },
        )
        insert_columns(
            conn,
            opportunity,
            {
                "id": [f"{_SAMPLE_PREFIX}OPP-{k:0{w}d}" for k in range(1, m + 1)],
                "account_id": acc_ids[opps.account].tolist(),
                "name": [f"Sample Opportunity {k:0{w}d}" for k in range(1, m + 1)],
                "amount": opps.amount,
                "stage": opps.stage,
                "close_date": opps.close_date,
                "is_closed": False,
                "is_won": False,
                "excluded_from_territory_assignment": False,
                "is_sample": True,
            },
        )
    counts = accounts.group_by("billing_state").len().sort("billing_state")
    by_state = dict(zip(counts["billing_state"], counts["len"], strict=True))
    return SampleReport(
        n_accounts=n,
        n_sales_rows=n_sales,
        n_opportunities=m,
        seed=int(seed),
        states=load_states,
        by_state=by_state,
        n_replaced=n_replaced,
        counties_without_zip=without,
        counties_at_other_zips=via_other,
    )

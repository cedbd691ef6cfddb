"""Sample reps for trying staffing on real geography.

No real rep roster ships with territory, so these reps are labelled sample
data everywhere: ids ``SAMPLE-REP-001``, names ``Sample Rep 001``.

A sales team is hired to cover its market, so the reps are spread the way
people are: the loaded counties are cut into ``n`` compact groups of about equal 2019
population (recursive cuts across the wider extent at population
quantiles), and each rep lives near the centre of the most populous county
of one group.
Reps therefore live where people are, and no large stretch of the market is
left without one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Engine, delete, func, insert, select

from territory.errors import Conflict, InputError
from territory.io.usdata import parse_states
from territory.storage import tables as t

__all__ = ["SampleRepReport", "generate_sample_reps"]

_PREFIX = "SAMPLE-REP-"


@dataclass(frozen=True, slots=True)
class SampleRepReport:
    """What ``generate_sample_reps`` wrote."""

    n_reps: int
    replaced: int
    capacity_hours: float
    states: tuple[str, ...]


def generate_sample_reps(
    engine: Engine,
    n: int,
    seed: int = 0,
    *,
    capacity_hours: float = 1600.0,
    states: str | Iterable[str] | None = None,
) -> SampleRepReport:
    """Write ``n`` sample reps with homes in loaded counties (same seed, same reps).

    Raises
    ------
    InputError
        When ``n`` is not positive or no counties with population are loaded.
    Conflict
        When earlier sample reps are still members of territories.
    """
    if n <= 0:
        raise InputError(
            f"Cannot generate {n} sample reps; give --n 1 or more.",
            code="bad_sample_count",
        )
    states = parse_states(states)
    with engine.begin() as conn:
        stmt = (
            select(
                t.geo_unit.c.id,
                t.geo_unit.c.state,
                t.geo_unit.c.centroid_lat,
                t.geo_unit.c.centroid_lon,
                t.geo_unit_metric.c.value,
            )
            .join(
                t.geo_unit_metric,
                (t.geo_unit_metric.c.kind == t.geo_unit.c.kind)
                & (t.geo_unit_metric.c.unit_id == t.geo_unit.c.id),
            )
            .where(
                t.geo_unit.c.kind == "county",
                t.geo_unit_metric.c.metric == "population",
            )
            .order_by(t.geo_unit.c.id)
        )
        if states:
            stmt = stmt.where(t.geo_unit.c.state.in_(states))
        rows = conn.execute(stmt).all()
        if not rows:
            raise InputError(
                "No counties with population are loaded"
                + (f" for {','.join(states)}" if states else "")
                + "; run `territory data load-us` first.",
                code="no_units",
            )
        in_use = conn.execute(
            select(func.count())
            .select_from(t.territory_membership)
            .where(t.territory_membership.c.rep_id.like(_PREFIX + "%"))
        ).scalar_one()
        if in_use:
            raise Conflict(
                f"{in_use} territory memberships use earlier sample reps; archive or "
                "delete those models' memberships before generating new sample reps.",
                code="sample_reps_in_use",
            )
        replaced = (
            conn.execute(delete(t.rep).where(t.rep.c.id.like(_PREFIX + "%"))).rowcount
            or 0
        )

        rng = np.random.default_rng(seed)
        pop = np.array([r[4] for r in rows], dtype=np.float64)
        lat = np.array([r[2] for r in rows], dtype=np.float64)
        lon = np.array([r[3] for r in rows], dtype=np.float64)
        pick = _spread_homes(lat, lon, pop, n, rng)
        jitter = rng.uniform(-0.05, 0.05, size=(n, 2))
        width = max(3, len(str(n)))
        reps = []
        for k in range(n):
            r = rows[int(pick[k])]
            num = str(k + 1).zfill(width)
            reps.append(
                {
                    "id": f"{_PREFIX}{num}",
                    "name": f"Sample Rep {num}",
                    "email": f"sample.rep{num}@example.com",
                    "home_lat": round(float(r[2]) + float(jitter[k, 0]), 5),
                    "home_lon": round(float(r[3]) + float(jitter[k, 1]), 5),
                    "capacity": capacity_hours,
                    "active": True,
                }
            )
        conn.execute(insert(t.rep), reps)
    return SampleRepReport(
        n_reps=n,
        replaced=int(replaced),
        capacity_hours=capacity_hours,
        states=tuple(sorted({rows[int(i)][1] for i in pick})),
    )


def _spread_homes(
    lat: np.ndarray,
    lon: np.ndarray,
    pop: np.ndarray,
    n: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Return ``n`` county indices, one home per group of about equal population.

    The counties with people are cut recursively across their wider extent
    at the population quantile that leaves each side its share of reps; each
    rep lives in the most populous county of its group. With more reps than
    such counties, the extra reps are drawn in proportion to population.
    """
    people = np.flatnonzero(pop > 0)
    if n >= people.size:
        extra = rng.choice(people, size=n - people.size, p=pop[people] / pop.sum())
        return np.concatenate([people[np.argsort(-pop[people], kind="stable")], extra])
    x = lon * np.cos(np.radians(lat))
    homes: list[int] = []

    def split(members: np.ndarray, k: int) -> None:
        if k == 1 or members.size == 1:
            homes.append(int(members[np.argmax(pop[members])]))
            return
        xs, ys = x[members], lat[members]
        coord = xs if np.ptp(xs) >= np.ptp(ys) else ys
        order = members[np.argsort(coord, kind="stable")]
        k_left = k // 2
        share = np.cumsum(pop[order]) / pop[order].sum()
        cut = int(np.searchsorted(share, k_left / k)) + 1
        cut = min(max(cut, k_left), order.size - (k - k_left))
        split(order[:cut], k_left)
        split(order[cut:], k - k_left)

    split(people, n)
    return np.asarray(homes, dtype=np.int64)

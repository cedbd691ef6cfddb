"""What the store holds, per state: units, people, accounts and map pieces.

This is the summary `make demo` prints after loading real data, and what
`territory data summary` shows at any time.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_array
from scipy.sparse.csgraph import connected_components
from sqlalchemy import Engine, func, select

from territory.storage import tables as t

__all__ = ["StateOverview", "StoreOverview", "summarise_store"]


@dataclass(frozen=True, slots=True)
class StateOverview:
    """One state's figures."""

    state: str
    units: int
    population: float
    labor_force: float
    accounts: int
    sample_accounts: int
    components: int
    islands: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class StoreOverview:
    """Per-state figures plus totals for one unit kind."""

    kind: str
    states: tuple[StateOverview, ...]
    components: int
    islands: tuple[str, ...]
    unplaced_accounts: int
    accounts_outside: int

    @property
    def units(self) -> int:
        """Total units."""
        return sum(s.units for s in self.states)

    @property
    def population(self) -> float:
        """Total population."""
        return sum(s.population for s in self.states)

    @property
    def accounts(self) -> int:
        """Accounts placed in the listed states."""
        return sum(s.accounts for s in self.states)


def _components(ids: list[str], pairs: list[tuple[str, str]]) -> tuple[int, np.ndarray]:
    index = {u: i for i, u in enumerate(ids)}
    rows = [index[a] for a, b in pairs if a in index and b in index]
    cols = [index[b] for a, b in pairs if a in index and b in index]
    n = len(ids)
    graph = coo_array(
        (
            np.ones(len(rows)),
            (np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64)),
        ),
        shape=(n, n),
    )
    return connected_components(graph, directed=False)  # type: ignore[no-any-return]


def summarise_store(
    engine: Engine, kind: str = "county", contiguity: str = "queen"
) -> StoreOverview:
    """Summarise the units of ``kind`` and the accounts in them, per state.

    Components count separate pieces of the adjacency graph within each state
    and over all loaded states; islands are units with no neighbour at all.
    """
    with engine.connect() as conn:
        units = conn.execute(
            select(t.geo_unit.c.id, t.geo_unit.c.state)
            .where(t.geo_unit.c.kind == kind)
            .order_by(t.geo_unit.c.id)
        ).all()
        metrics = conn.execute(
            select(
                t.geo_unit_metric.c.unit_id,
                t.geo_unit_metric.c.metric,
                t.geo_unit_metric.c.value,
            ).where(
                t.geo_unit_metric.c.kind == kind,
                t.geo_unit_metric.c.metric.in_(("population", "labor_force")),
            )
        ).all()
        pairs = [
            (a, b)
            for a, b in conn.execute(
                select(t.geo_adjacency.c.a, t.geo_adjacency.c.b).where(
                    t.geo_adjacency.c.kind == kind,
                    t.geo_adjacency.c.contiguity == contiguity,
                )
            )
        ]
        unit_col = t.account.c.county_id if kind == "county" else t.account.c.zip_id
        per_unit = conn.execute(
            select(unit_col, t.account.c.is_sample, func.count()).group_by(
                unit_col, t.account.c.is_sample
            )
        ).all()
        unplaced = conn.execute(
            select(func.count())
            .select_from(t.account)
            .where(t.account.c.placed_by == "unplaced")
        ).scalar_one()

    state_of: dict[str, str] = {str(u): str(s) for u, s in units}
    value: dict[tuple[str, str], float] = {(u, m): v for u, m, v in metrics}
    acc: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    outside = 0
    for unit, is_sample, n in per_unit:
        st = state_of.get(unit) if unit is not None else None
        if st is None:
            if unit is not None:
                outside += int(n)
            continue
        acc[st][0] += int(n)
        if is_sample:
            acc[st][1] += int(n)

    ids = [u for u, _ in units]
    degree: dict[str, int] = defaultdict(int)
    for a, b in pairs:
        degree[a] += 1
        degree[b] += 1
    n_all, _ = _components(ids, pairs) if ids else (0, np.array([]))

    by_state: dict[str, list[str]] = defaultdict(list)
    for u, s in units:
        by_state[s].append(u)
    rows: list[StateOverview] = []
    for st in sorted(by_state):
        members = by_state[st]
        n_comp, _ = _components(members, pairs)
        rows.append(
            StateOverview(
                state=st,
                units=len(members),
                population=sum(value.get((u, "population"), 0.0) for u in members),
                labor_force=sum(value.get((u, "labor_force"), 0.0) for u in members),
                accounts=acc[st][0],
                sample_accounts=acc[st][1],
                components=int(n_comp),
                islands=tuple(u for u in members if degree[u] == 0),
            )
        )
    return StoreOverview(
        kind=kind,
        states=tuple(rows),
        components=int(n_all),
        islands=tuple(u for u in ids if degree[u] == 0),
        unplaced_accounts=int(unplaced),
        accounts_outside=outside,
    )

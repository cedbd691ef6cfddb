"""Territory and TerritoryType."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from territory.domain.ids import ModelId, TerritoryId, TerritoryTypeId
from territory.errors import InputError

__all__ = ["Territory", "TerritoryType", "check_hierarchy", "parent_cycles"]


@dataclass(frozen=True, slots=True)
class TerritoryType:
    """A kind of territory; the larger ``priority`` wins where priorities decide.

    Priorities are unique across types, as in Salesforce ETM.
    """

    id: TerritoryTypeId
    name: str
    priority: int
    description: str = ""


@dataclass(frozen=True, slots=True)
class Territory:
    """A territory in one model, with an optional parent (unlimited depth)."""

    id: TerritoryId
    model_id: ModelId
    name: str
    type_id: TerritoryTypeId | None = None
    parent_id: TerritoryId | None = None
    description: str = ""
    is_catch_all: bool = False
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.id or not str(self.id).strip():
            raise InputError("A territory needs a non-empty id.", code="territory_id")
        if self.parent_id == self.id:
            raise InputError(
                f"Territory '{self.id}' names itself as its parent; "
                "leave parent empty for a top-level territory.",
                code="territory_cycle",
            )


def check_hierarchy(parents: Mapping[str, str | None]) -> None:
    """Raise ``InputError`` if the parent links name a missing territory or a cycle.

    Parameters
    ----------
    parents
        Territory id -> parent id (``None`` for a top-level territory).

    Raises
    ------
    InputError
        Naming the territory whose parent is unknown, or the ids in a cycle.

    Examples
    --------
    >>> check_hierarchy({"R1": None, "D1": "R1", "T1": "D1"})
    """
    for tid, parent in parents.items():
        if parent is not None and parent not in parents:
            raise InputError(
                f"Territory '{tid}' names parent '{parent}', which is not in the "
                "model; create the parent first or leave the parent empty.",
                code="territory_parent_missing",
                details={"territory": tid, "parent": parent},
            )
    done: set[str] = set()
    for start in parents:
        path: list[str] = []
        seen: set[str] = set()
        node: str | None = start
        while node is not None and node not in done:
            if node in seen:
                cycle = path[path.index(node) :] + [node]
                raise InputError(
                    "Territory parents form a cycle: "
                    + " -> ".join(cycle)
                    + "; break it by changing one parent.",
                    code="territory_cycle",
                    details={"cycle": cycle},
                )
            seen.add(node)
            path.append(node)
            node = parents[node]
        done.update(path)


def parent_cycles(parents: Mapping[str, str | None]) -> list[list[str]]:
    """Return every cycle of the parent links, each from its smallest id.

    A parent missing from ``parents`` ends its chain (no cycle). Cycles come
    sorted, so the answer does not depend on the mapping's order.

    Examples
    --------
    >>> parent_cycles({"T1": "T2", "T2": "T1", "R": None, "T3": "T1"})
    [['T1', 'T2']]
    >>> parent_cycles({"A": "A", "B": "C"})
    [['A']]
    """
    done: set[str] = set()
    cycles: list[list[str]] = []
    for start in sorted(parents):
        path: list[str] = []
        on_path: set[str] = set()
        node: str | None = start
        while node is not None and node in parents and node not in done:
            if node in on_path:
                cycle = path[path.index(node) :]
                first = cycle.index(min(cycle))
                cycles.append(cycle[first:] + cycle[:first])
                break
            on_path.add(node)
            path.append(node)
            node = parents[node]
        done.update(path)
    return sorted(cycles)

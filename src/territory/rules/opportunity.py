"""Opportunity territory: one of its account's territories, by type priority."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["OpportunityTerritory", "choose_opportunity_territory"]


@dataclass(frozen=True, slots=True)
class OpportunityTerritory:
    """The chosen territory (or ``None``) and why."""

    territory_id: str | None
    reason: str


def choose_opportunity_territory(
    account_territories: Iterable[str],
    type_of: Mapping[str, str | None],
    priority_of: Mapping[str, int],
) -> OpportunityTerritory:
    """Pick the territory whose type has the largest priority number.

    A tie at the top, or an account with no territory, gives ``None``;
    territories without a type never win.

    Examples
    --------
    >>> types = {"T1": "geo", "T2": "overlay"}
    >>> choose_opportunity_territory(["T1", "T2"], types, {"geo": 1, "overlay": 5})
    ... # doctest: +NORMALIZE_WHITESPACE
    OpportunityTerritory(territory_id='T2',
        reason='type overlay has the top priority 5')
    >>> choose_opportunity_territory([], types, {}).territory_id is None
    True
    """
    ranked: list[tuple[int, str]] = []
    for tid in sorted(set(account_territories)):
        type_id = type_of.get(tid)
        if type_id is not None and type_id in priority_of:
            ranked.append((priority_of[type_id], tid))
    if not ranked:
        return OpportunityTerritory(
            None, "the account has no territory with a typed priority"
        )
    top = max(p for p, _ in ranked)
    winners = [tid for p, tid in ranked if p == top]
    if len(winners) > 1:
        return OpportunityTerritory(
            None,
            f"territories {', '.join(winners)} tie at priority {top}; a tie gives none",
        )
    return OpportunityTerritory(
        winners[0], f"type {type_of[winners[0]]} has the top priority {top}"
    )

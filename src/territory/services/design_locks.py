"""Refuse a ``--lock`` file that no plan can honour, before any search.

Locked units stay in their territory. When the locked units of one
territory already hold more of an activity than its upper bound
``(1 + tolerance) × target``, no search can meet the tolerance: the design
stops at once and says which territory, which units, by how much, and how
to fix it (:func:`~territory.optimize.diagnose.diagnose_locks` finds them).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from territory.errors import InfeasibleError
from territory.optimize import DesignOptions, DesignProblem
from territory.optimize.diagnose import LockOverflow, diagnose_locks
from territory.services.design_inputs import Units

__all__ = ["refuse_overfull_locks"]

_SHOWN = 10


def _units_text(units: Units, over: LockOverflow, weights: Sequence[float]) -> str:
    parts = []
    for u in over.units[:_SHOWN]:
        st = f", {units.state[u]}" if units.state[u] else ""
        parts.append(f"{units.names[u]}{st} ({units.ids[u]}: {weights[u]:,.0f})")
    more = f" and {len(over.units) - _SHOWN} more" if len(over.units) > _SHOWN else ""
    return "; ".join(parts) + more


def refuse_overfull_locks(
    problem: DesignProblem,
    options: DesignOptions,
    units: Units,
    territory_ids: Sequence[str],
    lock_file: Path | None,
) -> None:
    """Raise when the locked units of a territory exceed its balance bound.

    Raises
    ------
    InfeasibleError
        ``infeasible_lock``: names each territory, its locked units, the
        activity, the share over the target, and the tolerance that would
        hold (``details["overflows"]`` lists them).
    """
    overflows = diagnose_locks(problem, options)
    if not overflows:
        return
    names = problem.activity_names
    lines = []
    for x in overflows:
        name = names[x.activity]
        w = problem.weights[:, x.activity].tolist()
        lines.append(
            f"The units locked to {territory_ids[x.territory]} in {lock_file} "
            f"already hold {x.locked:,.0f} {name}, {x.over:.1%} over its target "
            f"of {x.target:,.0f}, more than --balance {name}={x.tolerance:g} "
            f"allows (at most {x.target * (1 + x.tolerance):,.0f}): "
            f"{_units_text(units, x, w)}."
        )
    need: dict[int, float] = {}
    for x in overflows:
        need[x.activity] = max(need.get(x.activity, 0.0), x.over)
    widen = ", ".join(
        f"--balance {names[a]}={_round_up(t):g}" for a, t in sorted(need.items())
    )
    raise InfeasibleError(
        "\n".join(lines)
        + "\nNo plan can meet the tolerance with these locks, so nothing was "
        f"searched or saved. Unlock some of these units, or widen the tolerance "
        f"to at least {widen}.",
        code="infeasible_lock",
        details={
            "overflows": [
                {
                    "territory": territory_ids[x.territory],
                    "activity": names[x.activity],
                    "units": [units.ids[u] for u in x.units],
                    "locked": x.locked,
                    "target": x.target,
                    "tolerance": x.tolerance,
                    "over": x.over,
                }
                for x in overflows
            ]
        },
    )


def _round_up(share: float) -> float:
    """Round a tolerance up to the next hundredth, so it holds when given back.

    Examples
    --------
    >>> _round_up(0.6612), _round_up(0.66)
    (0.67, 0.66)
    """
    cents = share * 100
    return float(-(-round(cents, 9) // 1)) / 100

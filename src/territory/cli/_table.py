"""Terminal tables read at a glance: compact cells, columns that fit the console.

Cells are written for the eye (``28.7M``, ``38.1%``, ``1.25``); files written
with ``--out`` keep full precision. When a table is wider than the console,
its least important columns are left out and one line names them, so no
number is squeezed into an ellipsis and no id is cut.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

__all__ = ["Column", "money", "percent", "print_table", "ratio"]

#: Width used to measure a table's natural size, wider than any console.
_UNBOUNDED = 10_000
_SUFFIXES = ((1e3, "k"), (1e6, "M"), (1e9, "B"), (1e12, "T"))


def _is_missing(v: object) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def money(v: object, missing: str = "n/a") -> str:
    """Write an amount with a k/M/B/T suffix and about three significant digits.

    Examples
    --------
    >>> [money(x) for x in (28_729_612.4, 906_210, 1_234_000_000, 950, 999_960)]
    ['28.7M', '906k', '1.2B', '950', '1.0M']
    >>> money(-12_345), money(None)
    ('-12.3k', 'n/a')
    """
    if _is_missing(v):
        return missing
    x = float(v)  # type: ignore[arg-type]
    sign = "-" if x < 0 else ""
    size = abs(x)
    if round(size) < 1000:
        return f"{x:.0f}"
    for scale, suffix in _SUFFIXES:
        scaled = size / scale
        digits = 0 if scaled >= 100 else 1
        if round(scaled, digits) < 1000 or suffix == "T":
            return f"{sign}{scaled:.{digits}f}{suffix}"
    raise AssertionError("unreachable: the last suffix always answers")


def percent(v: object, missing: str = "n/a") -> str:
    """Write a fraction as a percentage: one decimal below 100 %, whole above.

    Examples
    --------
    >>> [percent(x) for x in (0.381, 3.774, 0.0, 0.99996, 0.0004)]
    ['38.1%', '377%', '0.0%', '100%', '0.0%']
    """
    if _is_missing(v):
        return missing
    p = 100 * float(v)  # type: ignore[arg-type]
    if abs(round(p, 1)) >= 100:
        return f"{p:.0f}%"
    return f"{p:.1f}%"


def ratio(v: object, digits: int = 2, missing: str = "—") -> str:
    """Write a ratio with ``digits`` decimals (thousands separated).

    Examples
    --------
    >>> ratio(2.6234), ratio(0.0337, 2), ratio(1910.8, 0), ratio(float("nan"))
    ('2.62', '0.03', '1,911', '—')
    """
    if _is_missing(v):
        return missing
    return f"{float(v):,.{digits}f}"  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a terminal table.

    ``rank`` orders the columns by importance: 0 is always shown, and when the
    console is too narrow the highest ranks are left out first. An ``is_id``
    column never wraps and is at least as wide as its longest cell, and its
    cells are printed as plain text (an id is never read as markup).
    """

    header: str
    rank: int = 0
    justify: Literal["left", "right"] = "right"
    is_id: bool = False


def _build(
    title: str | None,
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    keep: Sequence[int],
) -> Table:
    table = Table(title=title)
    for i in keep:
        col = columns[i]
        min_width = None
        if col.is_id:
            min_width = max(
                [cell_len(col.header), *(cell_len(r[i]) for r in rows)], default=1
            )
        table.add_column(
            col.header, justify=col.justify, no_wrap=True, min_width=min_width
        )
    for r in rows:
        table.add_row(*(Text(r[i]) if columns[i].is_id else r[i] for i in keep))
    return table


def print_table(
    console: Console,
    columns: Sequence[Column],
    rows: Sequence[Sequence[str]],
    *,
    title: str | None = None,
    hint: str = "a wider terminal shows them",
) -> list[str]:
    """Print the table, leaving out low-ranked columns until it fits ``console``.

    Cells are rich markup, except in ``is_id`` columns. When columns are left
    out, a one-line note names them and ends with ``hint`` (where to find
    them). Returns the headers left out, in table order.
    """
    keep = list(range(len(columns)))
    wide = console.options.update_width(_UNBOUNDED)
    table = _build(title, columns, rows, keep)
    while console.measure(table, options=wide).maximum > console.width:
        droppable = [i for i in keep if columns[i].rank > 0]
        if not droppable:
            break
        # Highest rank first; on a tie, the column further right.
        keep.remove(max(droppable, key=lambda i: (columns[i].rank, i)))
        table = _build(title, columns, rows, keep)
    console.print(table)
    dropped = [c.header for i, c in enumerate(columns) if i not in keep]
    if dropped:
        console.print(
            f"Not shown at {console.width} columns: {', '.join(dropped)} ({hint}).",
            soft_wrap=True,
            markup=False,
            highlight=False,
        )
    return dropped

"""ImportReport: what an import read, wrote, skipped and could not place."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from territory.errors import Issue

__all__ = ["ImportReport"]


@dataclass(frozen=True, slots=True)
class ImportReport:
    """The outcome of one import.

    ``rows_imported`` = ``rows_inserted`` + ``rows_updated``; every row not
    imported is in ``skipped`` (with each of its issues) and counted in
    ``rows_skipped``. ``placement`` counts accounts by ``placed_by``;
    ``unplaced`` lists the ids of accounts that could not be placed;
    ``blank_rows`` the wholly blank rows left out (not counted as read).
    """

    entity: str
    file: str
    rows_read: int
    rows_inserted: int = 0
    rows_updated: int = 0
    rows_skipped: int = 0
    skipped: tuple[Issue, ...] = ()
    model: str | None = None
    placement: Mapping[str, int] = field(default_factory=dict)
    unplaced: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    #: Row numbers of wholly blank rows, skipped without being records.
    blank_rows: tuple[int, ...] = ()

    @property
    def rows_imported(self) -> int:
        """Rows written to the store (new plus updated)."""
        return self.rows_inserted + self.rows_updated

    def summary_lines(self) -> list[str]:
        """Return the report as short readable lines."""
        where = f" into model '{self.model}'" if self.model else ""
        lines = [
            f"{self.entity} from {self.file}{where}: {self.rows_read} rows read, "
            f"{self.rows_imported} imported ({self.rows_inserted} new, "
            f"{self.rows_updated} updated), {self.rows_skipped} skipped"
        ]
        if self.blank_rows:
            n = len(self.blank_rows)
            lines.append(
                f"{n} blank row{'s' if n != 1 else ''} skipped: "
                f"{_row_ranges(self.blank_rows)}"
            )
        if self.placement:
            parts = ", ".join(
                f"{k} {v}" for k, v in sorted(self.placement.items()) if v
            )
            lines.append(f"placed by: {parts}")
        if self.unplaced:
            shown = ", ".join(self.unplaced[:20])
            more = (
                f" and {len(self.unplaced) - 20} more"
                if len(self.unplaced) > 20
                else ""
            )
            lines.append(
                f"{len(self.unplaced)} account(s) could not be placed (no "
                f"coordinates and no known ZIP code): {shown}{more}"
            )
        lines.extend(self.notes)
        if self.skipped:
            lines.append(f"skipped rows ({self.rows_skipped}):")
            lines.extend(f"  - {i.render()}" for i in self.skipped)
        return lines


def _row_ranges(rows: tuple[int, ...]) -> str:
    """Return ``rows`` as spreadsheet ranges.

    Examples
    --------
    >>> _row_ranges((12, 13, 14))
    'rows 12-14'
    >>> _row_ranges((3, 7, 8))
    'rows 3, 7-8'
    >>> _row_ranges((5,))
    'row 5'
    """
    spans: list[str] = []
    start = prev = rows[0]
    for r in (*rows[1:], None):
        if r is not None and r == prev + 1:
            prev = r
            continue
        spans.append(str(start) if start == prev else f"{start}-{prev}")
        if r is not None:
            start = prev = r
    return ("row " if len(rows) == 1 else "rows ") + ", ".join(spans)

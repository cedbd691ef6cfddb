"""Import entity files (CSV, Parquet, GeoJSON) into the store.

``import_file`` reads the file as text, types and checks every row
(:mod:`territory.io.validation`), checks references against the store, and
writes in **one transaction**:

* By default the import is all or nothing: any issue raises
  :class:`~territory.errors.ValidationFailed` listing every issue (file, row,
  field, problem, hint) and the store is left exactly as it was.
* With ``skip_invalid=True`` the valid rows are imported and every skipped
  row is reported, with each of its issues, in the :class:`ImportReport`.
  Problems with the file as a whole (a required column missing) still
  refuse it, and so does a file whose every row is invalid.

Re-importing a record that already exists updates it (upsert): the columns
present in the file replace the stored values (a blank cell clears an
optional field), columns absent from the file keep their stored values, and
nothing is ever deleted by an import. The keys are: accounts, reps and
opportunities by ``id``; units by ``(kind, id)``; territories by model and
``id``; assignments by model, account and territory; memberships by model,
territory, rep, role and start date; sales by account and period; quotas by
model, territory or rep, and period. An opportunity's ``splits`` cell, when
the column is present, replaces all of its splits.

Accounts are imported by :mod:`territory.services.account_import`, which
checks their coordinates against their postal place and places them
(:mod:`territory.services.placement`); ``county_id`` and ``zip_id`` in a file
are recomputed, and ``placed_by`` too unless it says ``zip`` for coordinates
that are the ZIP's centroid. Imports into an archived model are refused
(``model_archived``). Assignments and memberships write an audit row for every link they
add or change, in the same transaction; imported account-territory links
are ``manual`` (unless the file says ``import``) with source
``import:<file name>`` unless the file gives one.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from territory.errors import InputError
from territory.io.columns import resolve_header
from territory.io.report import ImportReport
from territory.io.schema import ENTITIES, Extras, schema_of
from territory.io.tabular import read_table
from territory.io.validation import validate
from territory.services.account_import import import_accounts, stored_custom_fields
from territory.services.import_catalogue import (
    import_opportunities,
    import_reps,
    import_sales,
    import_units,
)
from territory.services.import_plans import (
    import_assignments,
    import_memberships,
    import_quotas,
    import_territories,
)
from territory.services.import_support import ImportContext, Progress
from territory.services.placement import ZipDirectoryReader

__all__ = ["ImportReport", "check_entity", "import_file"]

_log = logging.getLogger(__name__)

_IMPORTERS: dict[str, Callable[[ImportContext], ImportReport]] = {
    "accounts": import_accounts,
    "reps": import_reps,
    "units": import_units,
    "territories": import_territories,
    "assignments": import_assignments,
    "memberships": import_memberships,
    "opportunities": import_opportunities,
    "sales": import_sales,
    "quotas": import_quotas,
}


def check_entity(entity: str) -> str:
    """Return ``entity`` if territory can import and export it.

    Raises
    ------
    InputError
        Naming the entities that exist.
    """
    if entity not in ENTITIES:
        raise InputError(
            f"Cannot import or export '{entity}'; choose one of {', '.join(ENTITIES)}.",
            code="unknown_entity",
            details={"entity": entity},
        )
    return entity


def import_file(
    engine: Engine,
    entity: str,
    path: str | Path,
    *,
    model: str | None = None,
    skip_invalid: bool = False,
    encoding: str | None = None,
    actor: str = "unknown",
    read_zip_directory: ZipDirectoryReader | None = None,
    on_progress: Progress | None = None,
) -> ImportReport:
    """Import ``path`` as ``entity`` in one transaction; return what happened.

    Parameters
    ----------
    model
        Name or id of the territory model for territories, assignments,
        memberships, quotas and opportunity territories; ``None`` means the
        active model.
    skip_invalid
        Import the valid rows and report the others instead of refusing
        the whole file.
    encoding
        The CSV file's encoding when it is not UTF-8.
    read_zip_directory
        Replaces the packaged ZIP directory used to place accounts when the
        store has no ZIP units.
    on_progress
        Called with the number of rows written after each batch.

    Raises
    ------
    ValidationFailed
        Listing every issue, when any row is invalid (and ``skip_invalid``
        is false) or the file's columns are wrong; nothing is written.
    InputError
        When the file cannot be read, the entity is unknown, or a model is
        needed and none is named or active (``NotFound``).
    """
    schema = schema_of(check_entity(entity))
    raw = read_table(path, encoding=encoding)
    with engine.begin() as conn:
        stored_custom: list[str] = []
        if schema.extras is Extras.CUSTOM_FIELDS:
            header = resolve_header(raw.columns, schema, file=raw.file)
            if header.extras or header.fatal:
                stored_custom = stored_custom_fields(conn)
        validated = validate(raw, schema, stored_custom=stored_custom)
        ctx = ImportContext(
            conn=conn,
            validated=validated,
            model=model,
            skip_invalid=skip_invalid,
            actor=actor,
            now=datetime.now(UTC),
            read_zip_directory=read_zip_directory,
            on_progress=on_progress,
            stored_custom=tuple(stored_custom),
        )
        report = _IMPORTERS[entity](ctx)
    if validated.blank_rows:
        report = replace(report, blank_rows=validated.blank_rows)
    _log.info("imported %s", report.summary_lines()[0])
    return report

"""Importers of a model's plan: territories, assignments, memberships, quotas.

See :mod:`territory.services.importing` for the semantics every import shares.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import polars as pl
from sqlalchemy import and_, bindparam, select

from territory.domain import check_hierarchy
from territory.domain.territory import parent_cycles
from territory.errors import Issue, NotFound
from territory.io.report import ImportReport
from territory.io.tabular import ROW_COLUMN
from territory.io.validation import (
    BAD_COLUMN,
    Validated,
    check_references,
    flag_rows,
)
from territory.services.import_support import (
    ImportContext,
    accept_rows,
    audit_changes,
    exists_mask,
    file_values,
    fill_defaults,
    known_ids,
    model_of,
    store_frame,
    write_rows,
)
from territory.services.models import resolve_writable_model
from territory.storage.bulk import insert_columns
from territory.storage.tables import (
    account,
    account_assignment,
    quota,
    rep,
    territory,
    territory_membership,
    territory_type,
)

__all__ = [
    "import_assignments",
    "import_memberships",
    "import_quotas",
    "import_territories",
]

# -------------------------------------------------------------- territories


def import_territories(ctx: ImportContext) -> ImportReport:
    conn = ctx.conn
    v = ctx.validated
    frame = v.frame
    # Resolve the model of each row: its own column, else --model/active.
    model_col = (
        frame.get_column("model")
        if "model" in frame.columns
        else pl.Series("model", [None] * frame.height, dtype=pl.String)
    )
    names = sorted(set(model_col.drop_nulls().to_list()))
    resolved: dict[str, str] = {}
    for name in names:
        try:
            model = resolve_writable_model(conn, name, action="take territories")
        except NotFound:
            continue  # reported on its rows below
        resolved[name] = str(model.id)
    v = check_references(
        v,
        "model",
        list(resolved),
        what="territory model",
        hint="create the model with `territory model create NAME` or fix the name",
    )
    default_id: str | None = None
    default_name: str | None = None
    if bool(model_col.is_null().any()) and frame.height:
        default_id, default_name = model_of(ctx, action="take territories")
    model_ids = model_col.replace_strict(resolved, default=None, return_dtype=pl.String)
    if default_id is not None:
        model_ids = model_ids.fill_null(default_id)
    frame = v.frame.with_columns(model_ids.alias("_model_id"))
    v = replace(v, frame=frame)
    # Types by id or name.
    types = conn.execute(select(territory_type.c.id, territory_type.c.name)).all()
    type_map = {t.id: t.id for t in types} | {t.name: t.id for t in types}
    if "type" in frame.columns:
        v = check_references(
            v,
            "type",
            list(type_map),
            what="territory type",
            hint="use the id or name of an existing territory type",
        )
    # Parents: in the same model, in the file or already in the store.
    model_list = sorted({m for m in model_ids.to_list() if m is not None})
    stored = store_frame(
        conn,
        select(territory.c.model_id, territory.c.id, territory.c.parent_id).where(
            territory.c.model_id.in_(model_list)
        ),
        {"_model_id": pl.String, "id": pl.String, "parent": pl.String},
    )
    if "parent" in frame.columns:
        known = (
            pl.concat(
                [stored.select("_model_id", "id"), frame.select("_model_id", "id")]
            )
            .select(pl.concat_str(["_model_id", "id"], separator="\x1f"))
            .to_series()
        )
        key = frame.select(
            pl.concat_str(["_model_id", "parent"], separator="\x1f")
        ).to_series()
        missing = frame.get_column("parent").is_not_null() & ~key.is_in(known)
        v = flag_rows(
            v,
            missing,
            "parent",
            "unknown parent territory '{v}'",
            "the parent must be a territory of the same model, in this file or "
            "already imported; leave it blank for a top-level territory",
        )
        v = _flag_parent_cycles(v, stored, model_list)
    ctx.validated = v
    good, skipped = accept_rows(ctx)
    good = good.with_columns(
        pl.col("type").replace_strict(type_map, default=None, return_dtype=pl.String)
        if "type" in good.columns
        else pl.lit(None, dtype=pl.String).alias("type")
    )
    # Cycles over the stored and the imported parent links of each model; the
    # rows of a cycle were refused above, so this holds once they are skipped.
    for model_id in model_list:
        links = {
            r[0]: r[1]
            for r in stored.filter(pl.col("_model_id") == model_id)
            .select("id", "parent")
            .iter_rows()
        }
        mine = good.filter(pl.col("_model_id") == model_id)
        parents = (
            mine.get_column("parent").to_list()
            if "parent" in mine.columns
            else [links.get(i) for i in mine.get_column("id").to_list()]
        )
        links.update(zip(mine.get_column("id").to_list(), parents, strict=True))
        check_hierarchy(links)
    columns: dict[str, Any] = {
        "model_id": good.get_column("_model_id"),
        "id": good.get_column("id"),
        "name": good.get_column("name"),
    }
    if "parent" in good.columns:
        columns["parent_id"] = good.get_column("parent")
    if "type" in v.present:
        columns["type_id"] = good.get_column("type")
    if "description" in good.columns:
        columns["description"] = good.get_column("description").fill_null("")
    exists = exists_mask(
        conn, territory, good.rename({"_model_id": "model_id"}), ["model_id", "id"]
    )
    n_new, n_old = write_rows(
        conn,
        territory,
        columns,
        exists,
        update=[c for c in columns if c not in ("model_id", "id")],
    )
    model_label = default_name or (", ".join(names) if names else None)
    return ImportReport(
        "territories",
        ctx.file,
        v.n_rows,
        n_new,
        n_old,
        v.n_bad,
        skipped,
        model=model_label,
    )


def _flag_parent_cycles(
    v: Validated, stored: pl.DataFrame, model_list: list[str]
) -> Validated:
    """Flag the file's rows whose parent links close a cycle, naming its rows.

    The links are the stored ones with the file's valid rows laid over them,
    per model; a cycle may pass through stored territories the file does not
    name, and only the file's rows on it are flagged.
    """
    frame = v.frame
    flagged: dict[int, str] = {}
    for model_id in model_list:
        links: dict[str, str | None] = {
            r[0]: r[1]
            for r in stored.filter(pl.col("_model_id") == model_id)
            .select("id", "parent")
            .iter_rows()
        }
        mine = frame.filter((pl.col("_model_id") == model_id) & ~pl.col(BAD_COLUMN))
        row_of = dict(
            zip(
                mine.get_column("id").to_list(),
                mine.get_column(ROW_COLUMN).to_list(),
                strict=True,
            )
        )
        links.update(
            zip(
                mine.get_column("id").to_list(),
                mine.get_column("parent").to_list(),
                strict=True,
            )
        )
        for cycle in parent_cycles(links):
            rows = sorted(row_of[t] for t in cycle if t in row_of)
            where = (
                f"row {rows[0]}"
                if len(rows) == 1
                else "rows " + ", ".join(map(str, rows[:-1])) + f" and {rows[-1]}"
            )
            text = " -> ".join([*cycle, cycle[0]])
            for r in rows:
                flagged[r] = f"territory parents form a cycle: {text} ({where})"
    if not flagged:
        return v
    hint = (
        "break the cycle: give one of its territories another parent, or leave "
        "its parent blank for a top-level territory"
    )
    issues = [
        Issue(problem=problem, hint=hint, file=v.file, row=r, field="parent")
        for r, problem in sorted(flagged.items())
    ]
    mask = frame.get_column(ROW_COLUMN).is_in(list(flagged))
    frame = frame.with_columns((pl.col(BAD_COLUMN) | mask).alias(BAD_COLUMN))
    return replace(v, frame=frame, issues=[*v.issues, *issues])


# -------------------------------------------------------------- assignments


def import_assignments(ctx: ImportContext) -> ImportReport:
    conn = ctx.conn
    model_id, model_name = model_of(ctx, action="take account assignments")
    v = ctx.validated
    v = check_references(
        v,
        "account_id",
        known_ids(conn, account.c.id, among=file_values(v, "account_id")),
        what="account",
        hint="import the account first (territory import accounts FILE)",
    )
    v = check_references(
        v,
        "territory_id",
        known_ids(
            conn,
            territory.c.id,
            territory.c.model_id == model_id,
            among=file_values(v, "territory_id"),
        ),
        what="territory",
        within=f"model '{model_name}'",
        hint="import the territory first, or pick its model with --model",
    )
    ctx.validated = v
    good, skipped = accept_rows(ctx)
    good = fill_defaults(good, v.schema)
    n = good.height
    default_source = f"import:{ctx.file}"
    rows = good.with_columns(
        (pl.col("cause") if "cause" in good.columns else pl.lit("manual")).alias(
            "cause"
        ),
        (
            pl.col("source")
            if "source" in good.columns
            else pl.lit(None, dtype=pl.String)
        ).alias("source"),
        *[
            pl.lit(None, dtype=pl.Date).alias(c)
            for c in ("start_date", "end_date")
            if c not in good.columns
        ],
    )
    stored = store_frame(
        conn,
        select(
            account_assignment.c.account_id,
            account_assignment.c.territory_id,
            account_assignment.c.cause,
            account_assignment.c.source,
            account_assignment.c.start_date,
            account_assignment.c.end_date,
        ).where(account_assignment.c.model_id == model_id),
        {
            "account_id": pl.String,
            "territory_id": pl.String,
            "old_cause": pl.String,
            "old_source": pl.String,
            "old_start_date": pl.Date,
            "old_end_date": pl.Date,
        },
    ).with_columns(pl.lit(True).alias("_exists"))
    joined = rows.join(
        stored, on=["account_id", "territory_id"], how="left", maintain_order="left"
    ).with_columns(
        pl.col("_exists").fill_null(False),
        # A link re-imported without a source keeps the one it has.
        pl.coalesce("source", "old_source", pl.lit(default_source)).alias("source"),
    )
    fields = ("cause", "source", "start_date", "end_date")
    changed = pl.any_horizontal(
        [pl.col(f).ne_missing(pl.col(f"old_{f}")) for f in fields]
    )
    new = joined.filter(~pl.col("_exists"))
    upd = joined.filter(pl.col("_exists") & changed)
    if new.height:
        insert_columns(
            conn,
            account_assignment,
            {
                "model_id": model_id,
                "account_id": new.get_column("account_id"),
                "territory_id": new.get_column("territory_id"),
                "cause": new.get_column("cause"),
                "source": new.get_column("source"),
                "start_date": new.get_column("start_date"),
                "end_date": new.get_column("end_date"),
            },
        )
    if upd.height:
        stmt = (
            account_assignment.update()
            .where(
                and_(
                    account_assignment.c.model_id == model_id,
                    account_assignment.c.account_id == bindparam("b_account"),
                    account_assignment.c.territory_id == bindparam("b_territory"),
                )
            )
            .values(
                cause=bindparam("b_cause"),
                source=bindparam("b_source"),
                start_date=bindparam("b_start"),
                end_date=bindparam("b_end"),
            )
        )
        conn.execute(
            stmt,
            [
                {
                    "b_account": r["account_id"],
                    "b_territory": r["territory_id"],
                    "b_cause": r["cause"],
                    "b_source": r["source"],
                    "b_start": r["start_date"],
                    "b_end": r["end_date"],
                }
                for r in upd.iter_rows(named=True)
            ],
        )
    audited = pl.concat([new, upd]) if upd.height else new
    recs = list(audited.iter_rows(named=True))
    audit_changes(
        ctx,
        "account_assignment",
        model_id,
        [f"{r['account_id']}->{r['territory_id']}" for r in recs],
        ["update" if r["_exists"] else "insert" for r in recs],
        [
            {f: r[f"old_{f}"] for f in fields} | {"territory_id": r["territory_id"]}
            if r["_exists"]
            else None
            for r in recs
        ],
        [{f: r[f] for f in fields} | {"territory_id": r["territory_id"]} for r in recs],
        [r["cause"] for r in recs],
        [r["source"] for r in recs],
    )
    return ImportReport(
        "assignments",
        ctx.file,
        v.n_rows,
        new.height,
        n - new.height,
        v.n_bad,
        skipped,
        model=model_name,
        notes=(f"{len(recs)} audit row(s) written",),
    )


# -------------------------------------------------------------- memberships


def import_memberships(ctx: ImportContext) -> ImportReport:
    conn = ctx.conn
    model_id, model_name = model_of(ctx, action="take rep memberships")
    v = ctx.validated
    v = check_references(
        v,
        "territory_id",
        known_ids(
            conn,
            territory.c.id,
            territory.c.model_id == model_id,
            among=file_values(v, "territory_id"),
        ),
        what="territory",
        within=f"model '{model_name}'",
        hint="import the territory first, or pick its model with --model",
    )
    v = check_references(
        v,
        "rep_id",
        known_ids(conn, rep.c.id, among=file_values(v, "rep_id")),
        what="rep",
        hint="import the rep first (territory import reps FILE)",
    )
    ctx.validated = v
    good, skipped = accept_rows(ctx)
    good = fill_defaults(good, v.schema).with_columns(
        [
            pl.lit(default, dtype=dtype).alias(c)
            for c, default, dtype in (
                ("role", "owner", pl.String),
                ("start_date", None, pl.Date),
                ("end_date", None, pl.Date),
            )
            if c not in good.columns
        ]
    )
    key = ["territory_id", "rep_id", "role", "start_date"]
    stored = store_frame(
        conn,
        select(
            territory_membership.c.id,
            territory_membership.c.territory_id,
            territory_membership.c.rep_id,
            territory_membership.c.role,
            territory_membership.c.start_date,
            territory_membership.c.end_date,
        ).where(territory_membership.c.model_id == model_id),
        {
            "_id": pl.Int64,
            "territory_id": pl.String,
            "rep_id": pl.String,
            "role": pl.String,
            "start_date": pl.Date,
            "old_end_date": pl.Date,
        },
    )
    joined = good.join(
        stored, on=key, how="left", nulls_equal=True, maintain_order="left"
    )
    new = joined.filter(pl.col("_id").is_null())
    old = joined.filter(pl.col("_id").is_not_null())
    upd = old.filter(pl.col("end_date").ne_missing(pl.col("old_end_date")))
    if new.height:
        insert_columns(
            conn,
            territory_membership,
            {"model_id": model_id} | {c: new.get_column(c) for c in (*key, "end_date")},
        )
    if upd.height:
        conn.execute(
            territory_membership.update()
            .where(territory_membership.c.id == bindparam("b_id"))
            .values(end_date=bindparam("b_end")),
            [
                {"b_id": r["_id"], "b_end": r["end_date"]}
                for r in upd.iter_rows(named=True)
            ],
        )
    fields = ("territory_id", "rep_id", "role", "start_date", "end_date")
    recs = [(r, False) for r in new.iter_rows(named=True)] + [
        (r, True) for r in upd.iter_rows(named=True)
    ]
    audit_changes(
        ctx,
        "territory_membership",
        model_id,
        [f"{r['rep_id']}@{r['territory_id']}:{r['role']}" for r, _ in recs],
        ["update" if u else "insert" for _, u in recs],
        [
            ({f: r[f] for f in fields} | {"end_date": r["old_end_date"]}) if u else None
            for r, u in recs
        ],
        [{f: r[f] for f in fields} for r, _ in recs],
        ["manual"] * len(recs),
        [f"import:{ctx.file}"] * len(recs),
    )
    return ImportReport(
        "memberships",
        ctx.file,
        v.n_rows,
        new.height,
        old.height,
        v.n_bad,
        skipped,
        model=model_name,
    )


# ------------------------------------------------------------ opportunities


# ------------------------------------------------------------------- quotas


def import_quotas(ctx: ImportContext) -> ImportReport:
    conn = ctx.conn
    model_id, model_name = model_of(ctx, action="take quotas")
    v = ctx.validated
    v = check_references(
        v,
        "territory_id",
        known_ids(
            conn,
            territory.c.id,
            territory.c.model_id == model_id,
            among=file_values(v, "territory_id"),
        ),
        what="territory",
        within=f"model '{model_name}'",
        hint="import the territory first, or pick its model with --model",
    )
    v = check_references(
        v,
        "rep_id",
        known_ids(conn, rep.c.id, among=file_values(v, "rep_id")),
        what="rep",
        hint="import the rep first (territory import reps FILE)",
    )
    ctx.validated = v
    good, skipped = accept_rows(ctx)
    good = good.with_columns(
        pl.lit(None, dtype=pl.String).alias(c)
        for c in ("territory_id", "rep_id")
        if c not in good.columns
    )
    replaced = 0
    for owner in ("territory_id", "rep_id"):
        part = good.filter(pl.col(owner).is_not_null())
        if part.height == 0:
            continue
        result = conn.execute(
            quota.delete().where(
                and_(
                    quota.c.model_id == model_id,
                    quota.c[owner] == bindparam("b_owner"),
                    quota.c.period == bindparam("b_period"),
                )
            ),
            [
                {"b_owner": o, "b_period": p}
                for o, p in part.select(owner, "period").iter_rows()
            ],
        )
        replaced += max(result.rowcount or 0, 0)
    if good.height:
        insert_columns(
            conn,
            quota,
            {
                "model_id": model_id,
                "territory_id": good.get_column("territory_id"),
                "rep_id": good.get_column("rep_id"),
                "period": good.get_column("period"),
                "amount": good.get_column("amount"),
            },
        )
    updated = min(replaced, good.height)
    return ImportReport(
        "quotas",
        ctx.file,
        v.n_rows,
        good.height - updated,
        updated,
        v.n_bad,
        skipped,
        model=model_name,
    )

"""Migrations create the whole schema and remove it again on both stores."""

from __future__ import annotations

from sqlalchemy import inspect

from territory.storage.engine import current_revision, downgrade, make_engine, migrate
from territory.storage.tables import metadata


def test_migrate_creates_every_table_and_downgrade_removes_them(store_url: str) -> None:
    eng = make_engine(store_url)
    assert current_revision(eng) is None
    migrate(eng)
    tables = set(inspect(eng).get_table_names())
    assert set(metadata.tables) <= tables
    head = current_revision(eng)
    assert head is not None
    migrate(eng)  # idempotent
    assert current_revision(eng) == head
    downgrade(eng, "base")
    left = set(inspect(eng).get_table_names()) - {"alembic_version"}
    assert left == set()
    eng.dispose()


def test_opportunity_territories_move_to_their_model_and_back(store_url: str) -> None:
    """0005 carries each stored opportunity territory over to its model.

    O1 names territory T of model m (carried over), O2 a territory m does
    not have (nowhere to go), O3 none; O1's split survives the column drop.
    The downgrade puts O1's territory back on the opportunity.
    """
    from datetime import UTC, datetime

    from sqlalchemy import text

    eng = make_engine(store_url)
    migrate(eng, "0004_assignment_change")
    at = datetime(2027, 1, 1, tzinfo=UTC)
    with eng.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO territory_model (id, name, state, description, "
                "created_at) VALUES ('m', 'm', 'planning', '', :at)"
            ),
            {"at": at},
        )
        conn.execute(
            text(
                "INSERT INTO territory (model_id, id, name, description, "
                "is_catch_all, attributes) VALUES ('m', 'T', 'T', '', false, '{}')"
            )
        )
        conn.execute(text("INSERT INTO rep (id, name, active) VALUES ('R', 'R', true)"))
        conn.execute(
            text(
                "INSERT INTO account (id, name, placed_by, excluded_from_realign, "
                "is_sample, created_at, updated_at) VALUES "
                "('A', 'A', 'unplaced', false, false, :at, :at)"
            ),
            {"at": at},
        )
        for oid, model, terr in (
            ("O1", "m", "T"),
            ("O2", "m", "GONE"),
            ("O3", None, None),
        ):
            conn.execute(
                text(
                    "INSERT INTO opportunity (id, account_id, name, amount, stage, "
                    "is_closed, is_won, territory_model_id, territory_id, "
                    "excluded_from_territory_assignment, is_sample) VALUES "
                    "(:o, 'A', '', 1.0, 'Open', false, false, :m, :t, false, false)"
                ),
                {"o": oid, "m": model, "t": terr},
            )
        conn.execute(
            text(
                "INSERT INTO opportunity_split (opportunity_id, rep_id, percent) "
                "VALUES ('O1', 'R', 100.0)"
            )
        )
    migrate(eng)
    with eng.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT model_id, opportunity_id, territory_id "
                "FROM opportunity_territory ORDER BY opportunity_id"
            )
        ).all()
        splits = conn.execute(text("SELECT count(*) FROM opportunity_split")).scalar()
    assert [tuple(r) for r in rows] == [("m", "O1", "T")]
    assert splits == 1
    columns = {c["name"] for c in inspect(eng).get_columns("opportunity")}
    assert not {"territory_id", "territory_model_id"} & columns
    downgrade(eng, "0004_assignment_change")
    with eng.connect() as conn:
        back = conn.execute(
            text(
                "SELECT id, territory_model_id, territory_id FROM opportunity "
                "ORDER BY id"
            )
        ).all()
    assert [tuple(r) for r in back] == [
        ("O1", "m", "T"),
        ("O2", None, None),
        ("O3", None, None),
    ]
    eng.dispose()

"""Model lifecycle on both stores: one active model, archives keep data, audit rows."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, insert, select

from territory.domain import ModelState
from territory.errors import Conflict, NotFound
from territory.services import models as svc
from territory.storage import tables as t
from territory.storage.audit import read_audit


def _fill(engine: Engine, model_id: str) -> None:
    """Two territories (R1 > T1), one unit and two account assignments, one quota."""
    with engine.begin() as conn:
        conn.execute(
            insert(t.territory),
            [
                {
                    "model_id": model_id,
                    "id": "R1",
                    "name": "Region 1",
                    "parent_id": None,
                    "description": "",
                    "is_catch_all": False,
                    "attributes": {},
                },
                {
                    "model_id": model_id,
                    "id": "T1",
                    "name": "Territory 1",
                    "parent_id": "R1",
                    "description": "",
                    "is_catch_all": False,
                    "attributes": {"segment": "SMB"},
                },
            ],
        )
        conn.execute(
            insert(t.unit_assignment),
            [
                {
                    "model_id": model_id,
                    "unit_kind": "county",
                    "unit_id": "01001",
                    "territory_id": "T1",
                    "cause": "design",
                },
            ],
        )
        conn.execute(
            insert(t.account_assignment),
            [
                {
                    "model_id": model_id,
                    "account_id": "A1",
                    "territory_id": "T1",
                    "cause": "manual",
                },
                {
                    "model_id": model_id,
                    "account_id": "A2",
                    "territory_id": "R1",
                    "cause": "rule",
                    "source": "rule-1",
                },
            ],
        )
        conn.execute(
            insert(t.quota),
            [
                {
                    "model_id": model_id,
                    "territory_id": "T1",
                    "period": "2027",
                    "amount": 1000.0,
                },
            ],
        )


def test_activate_archives_previous_and_keeps_its_data(engine: Engine) -> None:
    a = svc.create_model(engine, "FY27", actor="ana")
    _fill(engine, a.id)
    svc.activate_model(engine, "FY27", actor="ana")
    b = svc.clone_model(engine, "FY27", "FY28", actor="ana")
    assert b.model.state is ModelState.PLANNING
    assert b.counts["territory"] == 2
    assert b.counts["unit_assignment"] == 1
    assert b.counts["account_assignment"] == 2

    previous = svc.activate_model(engine, "FY28", actor="bo")
    assert previous is not None and previous.name == "FY27"
    states = {s.model.name: s.model.state for s in svc.list_models(engine)}
    assert states == {"FY27": ModelState.ARCHIVED, "FY28": ModelState.ACTIVE}

    archived = svc.show_model(engine, "FY27")
    assert archived.counts["account_assignment"] == 2
    assert archived.counts["quota"] == 1
    assert svc.show_model(engine, None).model.name == "FY28"

    with engine.connect() as conn:
        rows = read_audit(conn, entity="model")
        n_active = conn.execute(
            select(func.count())
            .select_from(t.territory_model)
            .where(t.territory_model.c.state == "active")
        ).scalar_one()
    assert n_active == 1
    changes = [
        (r["entity_id"], r["action"], r["old_value"], r["new_value"], r["actor"])
        for r in rows
        if r["action"] == "state"
    ]
    assert changes == [
        ("fy27", "state", {"state": "planning"}, {"state": "active"}, "ana"),
        ("fy27", "state", {"state": "active"}, {"state": "archived"}, "bo"),
        ("fy28", "state", {"state": "planning"}, {"state": "active"}, "bo"),
    ]


def test_clone_copies_hierarchy_and_attributes(engine: Engine) -> None:
    a = svc.create_model(engine, "Base", actor="ana")
    _fill(engine, a.id)
    b = svc.clone_model(engine, "Base", "Copy", actor="ana")
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.territory.c.id, t.territory.c.parent_id, t.territory.c.attributes)
            .where(t.territory.c.model_id == b.model.id)
            .order_by(t.territory.c.id)
        ).all()
        quotas = conn.execute(
            select(func.count())
            .select_from(t.quota)
            .where(t.quota.c.model_id == b.model.id)
        ).scalar_one()
    assert [tuple(r) for r in rows] == [
        ("R1", None, {}),
        ("T1", "R1", {"segment": "SMB"}),
    ]
    assert quotas == 0  # a new plan gets its own quotas


def test_archived_model_cannot_be_reactivated(engine: Engine) -> None:
    svc.create_model(engine, "Old", actor="ana")
    svc.archive_model(engine, "Old", actor="ana")
    with pytest.raises(Conflict, match="archived and cannot become active") as ei:
        svc.activate_model(engine, "Old", actor="ana")
    assert ei.value.code == "model_state"


def test_duplicate_name_is_rejected_and_nothing_written(engine: Engine) -> None:
    svc.create_model(engine, "Plan", actor="ana")
    with pytest.raises(Conflict, match="already exists"):
        svc.create_model(engine, "Plan", actor="ana")
    with pytest.raises(Conflict):
        svc.clone_model(engine, "Plan", "Plan", actor="ana")
    assert [s.model.name for s in svc.list_models(engine)] == ["Plan"]


def test_failed_clone_leaves_store_unchanged(engine: Engine) -> None:
    with pytest.raises(NotFound, match="No territory model named 'Ghost'"):
        svc.clone_model(engine, "Ghost", "Copy", actor="ana")
    assert svc.list_models(engine) == []


def test_no_active_model_says_how_to_fix(engine: Engine) -> None:
    with pytest.raises(NotFound, match="No territory model is active") as ei:
        svc.show_model(engine, None)
    assert ei.value.code == "no_active_model"


def test_many_models_have_no_cap(engine: Engine) -> None:
    for i in range(25):
        svc.create_model(engine, f"Scenario {i}", actor="ana")
    assert len(svc.list_models(engine)) == 25

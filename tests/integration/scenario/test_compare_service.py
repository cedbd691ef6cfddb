"""`compare_models` on the tiny plan where exactly two units move (scenario_builders).

Expected values by hand. Leaf totals (T1, T2):

==========  ==============  ===============
measure     plan            scenario
==========  ==============  ===============
accounts    2, 3            2, 3
potential   300, 1 200      400, 1 100
sales       30, 70          40, 60
workload    11, 21          20, 12
==========  ==============  ===============

so, e.g., potential CV goes from 450/750 = 3/5 to 350/750 = 7/15, its
max/min from 4 to 11/4 and its Gini (|x1−x2| / (2·2·mean) · 2 ... = d/(4·mean)
·2) from 900/3000 = 3/10 to 700/3000 = 7/30.
"""

from __future__ import annotations

import csv

import polars as pl
import pytest
from scenario_builders import SIMPLE, build_scenario
from sqlalchemy import Engine, update
from typer.testing import CliRunner

from territory.cli import app
from territory.errors import InputError, NotFound
from territory.services.compare import compare_models, draw_change_map, write_comparison
from territory.services.models import resolve_model
from territory.storage import tables as t

pytestmark = pytest.mark.integration


@pytest.fixture
def scenario(engine: Engine) -> Engine:
    build_scenario(engine)
    return engine


def test_compare_counts_exactly_the_two_moved_units_and_accounts(
    scenario: Engine,
) -> None:
    c = compare_models(scenario, "plan", "scenario", config=SIMPLE)
    assert c.period == "2027"
    assert c.n_units == 4
    assert c.n_accounts == 5
    assert c.units_moved.rows() == [
        ("county", "U2", "T1", "T2"),
        ("county", "U3", "T2", "T1"),
    ]
    assert c.accounts_moved.select(
        "account_id", "territory_a", "territory_b", "owner_a", "owner_b"
    ).rows() == [("A2", "T1", "T2", "P1", "P2"), ("A3", "T2", "T1", "P2", "P1")]
    assert c.accounts_moved["potential"].to_list() == [200.0, 300.0]
    assert c.accounts_moved["sales"].to_list() == [20.0, 30.0]
    assert c.notes == ()


def test_compare_disruption_shares_by_hand(scenario: Engine) -> None:
    c = compare_models(scenario, "plan", "scenario", config=SIMPLE)
    got = {r["measure"]: r for r in c.disruption.iter_rows(named=True)}
    assert got["accounts"]["total"] == 5 and got["accounts"]["changed_hands"] == 2
    assert c.share("accounts") == pytest.approx(2 / 5)
    assert c.share("potential") == pytest.approx(500 / 1500)  # A2 + A3
    assert c.share("sales") == pytest.approx(50 / 100)
    assert c.share("workload_hours") == pytest.approx(11 / 32)  # 1 h + 10 h of 32 h


def test_compare_per_rep_gains_and_losses(scenario: Engine) -> None:
    c = compare_models(scenario, "plan", "scenario", config=SIMPLE)
    reps = {r["rep_id"]: r for r in c.reps.iter_rows(named=True)}
    p1, p2 = reps["P1"], reps["P2"]
    # P1 gains A3 (300, 30, 10 h) and loses A2 (200, 20, 1 h); P2 the reverse.
    assert (p1["accounts_gained"], p1["accounts_lost"]) == (1, 1)
    assert (p1["potential_gained"], p1["potential_lost"]) == (300.0, 200.0)
    assert (p1["sales_gained"], p1["sales_lost"]) == (30.0, 20.0)
    assert (p1["workload_gained_hours"], p1["workload_lost_hours"]) == (10.0, 1.0)
    assert (p1["workload_a_hours"], p1["workload_b_hours"]) == (11.0, 20.0)
    assert (p2["potential_gained"], p2["potential_lost"]) == (200.0, 300.0)
    assert (p2["workload_a_hours"], p2["workload_b_hours"]) == (21.0, 12.0)
    assert (p2["accounts_a"], p2["accounts_b"]) == (3, 3)
    assert p1["name"] == "Pat One"


def test_compare_balance_side_by_side(scenario: Engine) -> None:
    c = compare_models(scenario, "plan", "scenario", config=SIMPLE)
    bal = {(r["measure"], r["index"]): r for r in c.balance.iter_rows(named=True)}
    expected = {
        ("accounts", "cv"): (1 / 5, 1 / 5),
        ("accounts", "max_min"): (3 / 2, 3 / 2),
        ("accounts", "gini"): (1 / 10, 1 / 10),
        ("potential", "cv"): (3 / 5, 7 / 15),
        ("potential", "max_min"): (4.0, 11 / 4),
        ("potential", "gini"): (3 / 10, 7 / 30),
        ("sales", "cv"): (2 / 5, 1 / 5),
        ("sales", "max_min"): (7 / 3, 3 / 2),
        ("sales", "gini"): (1 / 5, 1 / 10),
        ("workload_hours", "cv"): (5 / 16, 1 / 4),
        ("workload_hours", "max_min"): (21 / 11, 5 / 3),
        ("workload_hours", "gini"): (5 / 32, 1 / 8),
    }
    for key, (a, b) in expected.items():
        assert bal[key]["a"] == pytest.approx(a), key
        assert bal[key]["b"] == pytest.approx(b), key
        assert bal[key]["change"] == pytest.approx(b - a), key
    terr = c.territories.sort("territory_id")
    assert terr["potential_a"].to_list() == [300.0, 1200.0]
    assert terr["potential_b"].to_list() == [400.0, 1100.0]


def test_compare_new_owner_changes_hands_without_moving(scenario: Engine) -> None:
    # In the scenario T2 also goes to a new rep P3: A2, A4, A5 change hands
    # (A2 also moved); A3 now in T1 still changes hands.
    with scenario.begin() as conn:
        conn.execute(t.rep.insert().values(id="P3", name="New Rep"))
        sid = resolve_model(conn, "scenario").id
        conn.execute(
            update(t.territory_membership)
            .where(t.territory_membership.c.model_id == sid)
            .where(t.territory_membership.c.territory_id == "T2")
            .values(rep_id="P3")
        )
    c = compare_models(scenario, "plan", "scenario", config=SIMPLE)
    assert c.accounts_moved.height == 2
    assert c.share("accounts") == pytest.approx(4 / 5)  # A2, A3, A4, A5
    reps = {r["rep_id"]: r for r in c.reps.iter_rows(named=True)}
    assert (reps["P2"]["accounts_gained"], reps["P2"]["accounts_lost"]) == (0, 3)
    assert (reps["P3"]["accounts_gained"], reps["P3"]["accounts_b"]) == (3, 3)


def test_compare_rejects_the_same_model_twice(scenario: Engine) -> None:
    with pytest.raises(InputError, match="Both sides") as info:
        compare_models(scenario, "plan", "plan", config=SIMPLE)
    assert info.value.code == "compare_same_model"
    assert info.value.details == {"model": "plan"}


def test_compare_unknown_model_is_not_found(scenario: Engine) -> None:
    with pytest.raises(NotFound, match="No territory model named 'nope'"):
        compare_models(scenario, "plan", "nope", config=SIMPLE)


def test_compare_writes_csv_files_and_change_map(scenario: Engine, tmp_path) -> None:  # type: ignore[no-untyped-def]
    c = compare_models(scenario, "plan", "scenario", config=SIMPLE)
    files = write_comparison(c, tmp_path)
    assert sorted(p.name for p in files) == [
        "accounts_moved.csv",
        "balance.csv",
        "disruption.csv",
        "reps.csv",
        "territories.csv",
        "units_moved.csv",
    ]
    with (tmp_path / "units_moved.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [r["unit_id"] for r in rows] == ["U2", "U3"]
    png = draw_change_map(scenario, c, tmp_path / "changes.png")
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG")
    assert len(data) > 5_000


def test_compare_cli_prints_tables_and_writes_files(sqlite_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from territory.storage.engine import make_engine, migrate

    eng = make_engine(sqlite_url)
    migrate(eng)
    build_scenario(eng)
    eng.dispose()
    out = tmp_path / "diff"
    result = CliRunner().invoke(
        app,
        ["--db", sqlite_url, "compare", "plan", "scenario", "--out", str(out)],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "2 of 4 units and 2 of 5 accounts move" in result.output
    assert "Disruption" in result.output
    assert "Balance across leaf territories" in result.output
    assert (out / "changes.png").exists()
    assert pl.read_csv(out / "reps.csv")["rep_id"].to_list() == ["P1", "P2"]


def test_compare_cli_same_model_exits_2(sqlite_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from territory.storage.engine import make_engine, migrate

    eng = make_engine(sqlite_url)
    migrate(eng)
    build_scenario(eng)
    eng.dispose()
    result = CliRunner().invoke(
        app, ["--db", sqlite_url, "compare", "plan", "plan", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "error: Both sides of the comparison are model 'plan'" in result.output


@pytest.mark.parametrize("change", ["vacant", "unlocated_owner", "none"])
def test_compare_scenario_workload_equals_a_full_measurement(
    scenario: Engine, change: str
) -> None:
    """B's workload per territory matches measuring model B from scratch.

    Default workload settings (with travel); in the scenario T2 loses its
    owner (travel from its centre), or gets an owner without a home.
    """
    from territory.services.plan import load_plan
    from territory.services.workload import WorkloadConfig, account_measures

    with scenario.begin() as conn:
        sid = resolve_model(conn, "scenario").id
        members = t.territory_membership
        if change == "vacant":
            conn.execute(
                members.delete()
                .where(members.c.model_id == sid)
                .where(members.c.territory_id == "T2")
            )
        elif change == "unlocated_owner":
            conn.execute(t.rep.insert().values(id="P9", name="Homeless"))
            conn.execute(
                update(members)
                .where(members.c.model_id == sid)
                .where(members.c.territory_id == "T2")
                .values(rep_id="P9")
            )
    cfg = WorkloadConfig()
    c = compare_models(scenario, "plan", "scenario", config=cfg)
    with scenario.connect() as conn:
        for name, suffix in (("plan", "_a"), ("scenario", "_b")):
            plan = load_plan(conn, name)
            acc = account_measures(conn, plan, cfg, travel_from="owner")
            ids = plan.territories["territory_id"].to_list()
            full = (
                acc.group_by("t_idx").agg(pl.col("workload_hours").sum()).sort("t_idx")
            )
            want = dict(
                zip(
                    [ids[k] for k in full["t_idx"].to_list()],
                    full["workload_hours"].to_list(),
                    strict=True,
                )
            )
            got = dict(
                zip(
                    c.territories["territory_id"].to_list(),
                    c.territories[f"workload_hours{suffix}"].to_list(),
                    strict=True,
                )
            )
            assert got == pytest.approx(want), name
    assert c.share("workload_hours") is not None


def _add_pair(conn, model: str, account: str, territory: str) -> None:  # type: ignore[no-untyped-def]
    conn.execute(
        t.account_assignment.insert().values(
            model_id=resolve_model(conn, model).id,
            account_id=account,
            territory_id=territory,
            cause="manual",
        )
    )


def test_compare_account_added_to_a_second_territory(scenario: Engine) -> None:
    # Only the scenario also puts A1 (10 h) in T2: A1 moves and gains hand P2.
    with scenario.begin() as conn:
        _add_pair(conn, "scenario", "A1", "T2")
    c = compare_models(scenario, "plan", "scenario", config=SIMPLE)
    moved = {r["account_id"]: r for r in c.accounts_moved.iter_rows(named=True)}
    assert sorted(moved) == ["A1", "A2", "A3"]
    assert (moved["A1"]["territory_a"], moved["A1"]["territory_b"]) == ("T1", "T1,T2")
    assert (moved["A1"]["owner_a"], moved["A1"]["owner_b"]) == ("P1", "P1,P2")
    assert moved["A1"]["workload_b_hours"] == 20.0  # 10 h in each territory
    assert c.share("accounts") == pytest.approx(3 / 5)
    assert c.share("workload_hours") == pytest.approx(21 / 32)  # A1 + A2 + A3
    reps = {r["rep_id"]: r for r in c.reps.iter_rows(named=True)}
    assert (reps["P2"]["accounts_gained"], reps["P2"]["accounts_b"]) == (2, 4)
    assert (reps["P1"]["accounts_lost"], reps["P1"]["accounts_b"]) == (1, 2)


def test_compare_account_in_two_territories_in_both_models(scenario: Engine) -> None:
    # A1 sits in T1 and T2 in both models: it neither moves nor changes hands.
    with scenario.begin() as conn:
        _add_pair(conn, "plan", "A1", "T2")
        _add_pair(conn, "scenario", "A1", "T2")
    c = compare_models(scenario, "plan", "scenario", config=SIMPLE)
    assert c.accounts_moved["account_id"].to_list() == ["A2", "A3"]
    assert c.n_accounts == 5
    assert c.share("accounts") == pytest.approx(2 / 5)
    assert c.share("potential") == pytest.approx(500 / 1500)
    assert c.share("workload_hours") == pytest.approx(11 / 42)  # A1 counts twice
    reps = {r["rep_id"]: r for r in c.reps.iter_rows(named=True)}
    assert (reps["P2"]["accounts_a"], reps["P2"]["accounts_b"]) == (4, 4)
    assert (reps["P1"]["accounts_a"], reps["P1"]["accounts_b"]) == (2, 2)
    assert (reps["P2"]["workload_a_hours"], reps["P2"]["workload_b_hours"]) == (
        31.0,
        22.0,
    )


def test_compare_accounts_only_in_one_model(scenario: Engine) -> None:
    """A6 (600, sales 60, 10 h) is only in the scenario, in T1 (P1); A4 (400,
    40, 1 h) only in the plan, in T2 (P2).

    Changing hands: A2, A3, A4 (lost), A6 (gained) — 4 of 6 accounts,
    potential 200 + 300 + 400 + 600 = 1 500 of 2 100.
    """
    from datetime import UTC, datetime

    from sqlalchemy import delete

    now = datetime.now(UTC)
    with scenario.begin() as conn:
        conn.execute(
            t.account.insert().values(
                id="A6",
                name="Account A6",
                annual_revenue=2e6,
                latitude=0.5,
                longitude=0.5,
                county_id="U1",
                custom_fields={"potential": 600.0},
                created_at=now,
                updated_at=now,
            )
        )
        conn.execute(
            t.sales_history.insert().values(account_id="A6", period="2027", amount=60.0)
        )
        _add_pair(conn, "scenario", "A6", "T1")
        aa = t.account_assignment
        conn.execute(
            delete(aa)
            .where(aa.c.model_id == resolve_model(conn, "scenario").id)
            .where(aa.c.account_id == "A4")
        )
    c = compare_models(scenario, "plan", "scenario", config=SIMPLE)
    assert c.n_accounts == 6
    assert c.notes == ("1 accounts are only in plan and 1 only in scenario",)
    assert c.accounts_moved.select(
        "account_id", "territory_a", "territory_b"
    ).rows() == [
        ("A2", "T1", "T2"),
        ("A3", "T2", "T1"),
        ("A4", "T2", None),
        ("A6", None, "T1"),
    ]
    a6 = c.accounts_moved.filter(pl.col("account_id") == "A6").row(0, named=True)
    assert (a6["potential"], a6["sales"], a6["workload_b_hours"]) == (600.0, 60.0, 10.0)
    assert a6["workload_a_hours"] is None
    assert c.share("accounts") == pytest.approx(4 / 6)
    assert c.share("potential") == pytest.approx(1500 / 2100)
    reps = {r["rep_id"]: r for r in c.reps.iter_rows(named=True)}
    p1, p2 = reps["P1"], reps["P2"]
    assert (p1["accounts_gained"], p1["accounts_lost"], p1["accounts_b"]) == (2, 1, 3)
    assert (p1["potential_gained"], p1["workload_b_hours"]) == (900.0, 30.0)
    assert (p2["accounts_gained"], p2["accounts_lost"], p2["accounts_b"]) == (1, 2, 2)
    assert p2["potential_lost"] == 700.0
    terr = c.territories.sort("territory_id")
    assert terr["accounts_b"].to_list() == [3, 2]
    assert terr["potential_b"].to_list() == [1000.0, 700.0]


def test_compare_of_an_unchanged_clone_moves_nothing(scenario: Engine) -> None:
    """A fresh clone of the plan: no unit, account or hand changes."""
    from territory.services.models import clone_model

    clone_model(scenario, "plan", "copy", actor="test")
    res = compare_models(scenario, "plan", "copy", config=SIMPLE)
    assert (res.units_moved.height, res.accounts_moved.height) == (0, 0)
    assert res.disruption["changed_hands"].to_list() == [0.0, 0.0, 0.0, 0.0]
    assert res.n_accounts == 5
    assert res.balance["change"].drop_nulls().to_list() == [0.0] * 12

"""Scenario comparison: what changes between two territory models.

The "diff before activation". For models ``A`` (usually the active plan)
and ``B`` (a scenario) this reports:

* **units moved**: geo units whose territory differs (a unit in only one
  model counts as moved, from or to nothing);
* **accounts moved**: accounts whose set of territories differs;
* **per rep**, the accounts gained and lost with their potential, sales
  history (in the period) and workload hours;
* **disruption**: the share of each activity (accounts, potential, sales,
  workload) that changes hands;
* **balance indices** (CV, max/min, Gini) of every measure across leaf
  territories, side by side.

Who holds an account ("its hands") is the set of owners of its
territories; a territory without an owner stands for itself, so an account
moving between two vacant territories still changes hands. A rep *gains*
an account held in ``B`` but not in ``A`` and *loses* one held in ``A``
but not in ``B``. Potential and sales belong to the account and are the
same in both models; workload is measured in each model with travel from
the owner's home (the territory's centre when vacant), so a gain counts
the hours in ``B`` and a loss the hours in ``A``. Disruption shares divide
the value of the accounts that change hands by the value of every account
in either model (workload: hours in ``A``, or in ``B`` for accounts only
there).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
from sqlalchemy import Connection, Engine, select

from territory.errors import InputError
from territory.metrics.balance import balance_indices
from territory.metrics.period import Period
from territory.services import maps, scenario
from territory.services.models import resolve_model
from territory.services.performance import resolve_period
from territory.services.plan import (
    Plan,
    balance_peers,
    load_plan,
    read_frame,
    sales_by_account,
)
from territory.services.reading import is_memory_store
from territory.services.sorted_keys import has_repeats
from territory.services.workload import (
    WorkloadConfig,
    account_measures,
)
from territory.storage import tables as t

__all__ = [
    "COMPARED_MEASURES",
    "Comparison",
    "compare_models",
    "draw_change_map",
    "write_comparison",
]

Progress = Callable[[str], None]

#: Activities whose disruption and balance are compared.
COMPARED_MEASURES: tuple[str, ...] = (
    "accounts",
    "potential",
    "sales",
    "workload_hours",
)
_INDICES = ("cv", "max_min", "gini")


@dataclass(frozen=True, slots=True)
class Comparison:
    """Everything that differs between model ``a`` and model ``b``.

    ``units``: ``unit_kind, unit_id, territory_a, territory_b, moved`` (every
    unit in either model). ``units_moved``: the moved rows of ``units``.
    ``accounts_moved``: ``account_id, territory_a, territory_b, owner_a,
    owner_b, potential, sales, workload_a_hours, workload_b_hours``
    (territories and owners comma-joined, sorted). ``reps``: ``rep_id, name,
    accounts_a, accounts_b, accounts_gained, accounts_lost, potential_gained,
    potential_lost, sales_gained, sales_lost, workload_gained_hours,
    workload_lost_hours, workload_a_hours, workload_b_hours`` (every rep who
    owns in either model). ``disruption``: ``measure, total, changed_hands,
    share``. ``balance``: ``measure, index, a, b, change`` (null where
    undefined). ``territories``: per leaf territory of either model,
    ``territory_id, name`` and each measure ``_a``/``_b``.
    """

    model_a: str
    model_b: str
    period: str
    units: pl.DataFrame
    units_moved: pl.DataFrame
    accounts_moved: pl.DataFrame
    reps: pl.DataFrame
    disruption: pl.DataFrame
    balance: pl.DataFrame
    territories: pl.DataFrame
    n_accounts: int
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def n_units(self) -> int:
        """Return the number of geo units in either model."""
        return self.units.height

    def share(self, measure: str) -> float | None:
        """Return the share of ``measure`` that changes hands (None if no total)."""
        row = self.disruption.filter(pl.col("measure") == measure)
        return None if row.height == 0 else row["share"][0]


# --------------------------------------------------------------------------- #
# reading


def _units(conn: Connection, model_id: str) -> pl.DataFrame:
    ua = t.unit_assignment
    return read_frame(
        conn,
        select(ua.c.unit_kind, ua.c.unit_id, ua.c.territory_id).where(
            ua.c.model_id == model_id
        ),
        {"unit_kind": pl.String, "unit_id": pl.String, "territory_id": pl.String},
    )


def _joined(
    frame: pl.DataFrame, key: str, value: str, alias: str, *, single: bool = False
) -> pl.DataFrame:
    """Return each key's distinct values, sorted and comma-joined ("" for none).

    ``single`` says each key holds one row: then its value is the answer.
    """
    if single:
        return frame.select(key, pl.col(value).fill_null("").alias(alias))
    return frame.group_by(key).agg(
        pl.col(value).drop_nulls().unique().sort().str.join(",").alias(alias)
    )


# --------------------------------------------------------------------------- #
# the comparison


def _leaf_totals(
    plan: Plan, acc: pl.DataFrame, *, peers_only: bool = True
) -> dict[str, np.ndarray]:
    """Totals per leaf territory; ``peers_only``: only the balance peers."""
    n = plan.n_territories
    idx = acc["t_idx"].to_numpy()
    out = {
        "accounts": np.bincount(idx, minlength=n).astype(np.float64),
        "potential": np.bincount(idx, weights=acc["potential"].to_numpy(), minlength=n),
        "sales": np.bincount(idx, weights=acc["sales"].to_numpy(), minlength=n),
        "workload_hours": np.bincount(
            idx, weights=acc["workload_hours"].to_numpy(), minlength=n
        ),
    }
    leaves = (
        balance_peers(plan.territories)
        if peers_only
        else plan.territories["is_leaf"].to_numpy()
    )
    return {k: v[leaves] for k, v in out.items()}


def _balance(
    plan_a: Plan, acc_a: pl.DataFrame, plan_b: Plan, acc_b: pl.DataFrame
) -> pl.DataFrame:
    ta, tb = _leaf_totals(plan_a, acc_a), _leaf_totals(plan_b, acc_b)
    rows: list[dict[str, object]] = []
    for m in COMPARED_MEASURES:
        ba, bb = balance_indices(m, ta[m]), balance_indices(m, tb[m])
        for ix in _INDICES:
            va, vb = getattr(ba, ix), getattr(bb, ix)
            change = None if va is None or vb is None else vb - va
            rows.append({"measure": m, "index": ix, "a": va, "b": vb, "change": change})
    return pl.DataFrame(
        rows,
        schema={
            "measure": pl.String,
            "index": pl.String,
            "a": pl.Float64,
            "b": pl.Float64,
            "change": pl.Float64,
        },
        orient="row",
    )


def _territory_table(
    plan_a: Plan, acc_a: pl.DataFrame, plan_b: Plan, acc_b: pl.DataFrame
) -> pl.DataFrame:
    frames = []
    for suffix, plan, acc in (("_a", plan_a, acc_a), ("_b", plan_b, acc_b)):
        totals = _leaf_totals(plan, acc, peers_only=False)
        leaves = plan.territories.filter(pl.col("is_leaf"))
        frames.append(
            leaves.select("territory_id", "name").with_columns(
                [pl.Series(f"{m}{suffix}", totals[m]) for m in COMPARED_MEASURES]
            )
        )
    both = frames[0].join(
        frames[1], on="territory_id", how="full", coalesce=True, suffix="_other"
    )
    both = both.with_columns(pl.coalesce("name", "name_other").alias("name")).drop(
        "name_other"
    )
    fill = {c: pl.col(c).fill_null(0.0) for c in both.columns if c[-2:] in ("_a", "_b")}
    both = both.with_columns(**fill)
    return both.with_columns(
        pl.col("accounts_a").cast(pl.Int64), pl.col("accounts_b").cast(pl.Int64)
    ).sort("territory_id")


def _unit_changes(units_a: pl.DataFrame, units_b: pl.DataFrame) -> pl.DataFrame:
    key = ["unit_kind", "unit_id"]
    joined = units_a.rename({"territory_id": "territory_a"}).join(
        units_b.rename({"territory_id": "territory_b"}),
        on=key,
        how="full",
        coalesce=True,
    )
    return joined.with_columns(
        pl.col("territory_a").ne_missing(pl.col("territory_b")).alias("moved")
    ).sort(key)


def _hands(plan: Plan) -> pl.DataFrame:
    """Return ``territory_id, t_idx, hand, rep_id`` for every territory.

    ``hand`` is the owner's rep id, or ``territory:<id>`` when vacant.
    """
    return (
        plan.territories.select("t_idx", "territory_id")
        .join(plan.owners(), on="t_idx", how="left")
        .with_columns(
            pl.coalesce(
                pl.col("rep_id"), pl.lit("territory:") + pl.col("territory_id")
            ).alias("hand")
        )
    )


def _pairs(plan: Plan, acc: pl.DataFrame, hands: pl.DataFrame) -> pl.DataFrame:
    """Return ``account_id, hand, rep_id, workload_hours`` (one row per pair)."""
    pairs = acc.select("account_id", "t_idx", "workload_hours").join(
        hands.select("t_idx", "hand", "rep_id"), on="t_idx", how="left"
    )
    if pairs["account_id"].is_duplicated().any():
        pairs = pairs.group_by(["account_id", "hand"], maintain_order=True).agg(
            pl.col("rep_id").first(), pl.col("workload_hours").sum()
        )
    return pairs.select("account_id", "hand", "rep_id", "workload_hours")


def compare_models(
    engine: Engine,
    model_a: str,
    model_b: str,
    *,
    period: str | None = None,
    config: WorkloadConfig | None = None,
    progress: Progress | None = None,
) -> Comparison:
    """Compare model ``model_a`` (before) with ``model_b`` (after).

    ``period`` selects the sales history (default: model A's latest quota
    period, else the latest year with sales).

    Raises
    ------
    InputError
        When both names are the same model, a model is empty, or a period is
        not valid.
    NotFound
        When a model does not exist.
    """
    cfg = config or WorkloadConfig()
    step = progress or (lambda _msg: None)
    with engine.connect() as conn:
        found_a, target = resolve_model(conn, model_a), resolve_model(conn, model_b)
        if found_a.id == target.id:
            raise InputError(
                f"Both sides of the comparison are model '{found_a.name}'; "
                "name two different models, e.g. the active plan and a clone.",
                code="compare_same_model",
                details={"model": found_a.name},
            )
        per = resolve_period(conn, found_a.id, period)
    # The store sums the sales while this thread reads the plans (SQLite
    # works without holding the GIL).
    with ThreadPoolExecutor(max_workers=1) as pool:
        apart = not is_memory_store(engine)
        pairs_job = pool.submit(_read_pairs, engine, target.id) if apart else None
        pending = pool.submit(_sales, engine, per) if apart else None
        with engine.connect() as conn:
            step(f"reading {model_a}")
            plan_a = load_plan(conn, found_a.id, potential_field=cfg.potential_field)
            step(f"reading the differences in {target.name}")
            pairs_b = (
                pairs_job.result()
                if pairs_job
                else scenario.read_pairs(conn, target.id)
            )
            delta = scenario.assignment_diff(plan_a, pairs_b)
            diff = delta.frame
            # Whether an account sits in two territories: decides cheap counting.
            dup_a = has_repeats(plan_a.assignments["account_id"])
            b = scenario.scenario_plan(
                conn, plan_a, target, delta, dup_a, cfg.potential_field
            )
            plan_b = b.plan
            dup_b = dup_a or scenario.has_duplicates_among(
                plan_b.assignments, diff.filter(pl.col("side") == "b")["account_id"]
            )
            units = _unit_changes(
                _units(conn, plan_a.model.id), _units(conn, target.id)
            )
            step(f"reading sales for {per}")
            sales = pending.result() if pending else sales_by_account(conn, per)
            step("measuring accounts")
            acc_a = scenario.with_sales(
                account_measures(conn, plan_a, cfg, travel_from="owner"), sales
            )
            acc_b = scenario.scenario_measures(conn, plan_a, acc_a, b, cfg, sales)
    step("comparing")
    hands_a, hands_b = _hands(plan_a), _hands(plan_b)
    # Accounts can change hands only by moving, or by sitting in a territory
    # whose owner differs (or that exists in one model only).
    hand_change = (
        hands_a.select("territory_id", "hand")
        .join(
            hands_b.select("territory_id", "hand"),
            on="territory_id",
            how="full",
            coalesce=True,
        )
        .filter(pl.col("hand").ne_missing(pl.col("hand_right")))["territory_id"]
    )

    def in_changed(acc: pl.DataFrame, hands: pl.DataFrame) -> pl.DataFrame:
        t_idx = hands.filter(pl.col("territory_id").is_in(hand_change.implode()))
        return acc.filter(pl.col("t_idx").is_in(t_idx["t_idx"].implode()))

    candidates = pl.concat(
        [
            diff.select("account_id"),
            in_changed(acc_a, hands_a).select("account_id"),
            in_changed(acc_b, hands_b).select("account_id"),
        ]
    ).unique()
    cand_a = acc_a.join(candidates, on="account_id", how="semi")
    cand_b = acc_b.join(candidates, on="account_id", how="semi")
    hold_a, hold_b = _pairs(plan_a, cand_a, hands_a), _pairs(plan_b, cand_b, hands_b)
    pair_key = ["account_id", "hand"]
    gained = hold_b.join(hold_a.select(pair_key), on=pair_key, how="anti")
    lost = hold_a.join(hold_b.select(pair_key), on=pair_key, how="anti")
    changed_ids = pl.concat(
        [gained.select("account_id"), lost.select("account_id")]
    ).unique()

    # Value of each candidate account, and of all accounts (for the shares).
    def per_account(acc: pl.DataFrame, tag: str) -> pl.DataFrame:
        out = acc.group_by("account_id").agg(
            pl.col("potential").first(),
            pl.col("sales").first(),
            pl.col("workload_hours").sum().alias(f"workload_{tag}_hours"),
        )
        return out

    cand_values = (
        per_account(cand_a, "a")
        .join(per_account(cand_b, "b"), on="account_id", how="full", coalesce=True)
        .with_columns(
            pl.coalesce("potential", "potential_right").alias("potential"),
            pl.coalesce("sales", "sales_right").alias("sales"),
        )
        .drop("potential_right", "sales_right")
    )
    cand_values = cand_values.with_columns(
        pl.coalesce("workload_a_hours", "workload_b_hours", pl.lit(0.0)).alias(
            "workload_hours"
        ),
        pl.lit(1.0).alias("accounts"),
    )
    only_b = cand_values.filter(pl.col("workload_a_hours").is_null())
    only_a = cand_values.filter(pl.col("workload_b_hours").is_null())
    distinct_a = _distinct_totals(acc_a, dup_a)
    totals = {m: distinct_a[m] + float(only_b[m].sum()) for m in COMPARED_MEASURES}
    changed = cand_values.join(changed_ids, on="account_id", how="semi")
    disruption = pl.DataFrame(
        [
            {
                "measure": m,
                "total": totals[m],
                "changed_hands": float(changed[m].sum()),
                "share": float(changed[m].sum()) / totals[m] if totals[m] > 0 else None,
            }
            for m in COMPARED_MEASURES
        ],
        schema={
            "measure": pl.String,
            "total": pl.Float64,
            "changed_hands": pl.Float64,
            "share": pl.Float64,
        },
        orient="row",
    )

    # Accounts moved between territories (their set of territories differs).
    moved_ids = diff.select(pl.col("account_id").unique())
    t_a = cand_a.join(hands_a, on="t_idx", how="left")
    t_b = cand_b.join(hands_b, on="t_idx", how="left")
    accounts_moved = (
        moved_ids.join(
            _joined(t_a, "account_id", "territory_id", "territory_a", single=not dup_a),
            on="account_id",
            how="left",
        )
        .join(
            _joined(t_b, "account_id", "territory_id", "territory_b", single=not dup_b),
            on="account_id",
            how="left",
        )
        .join(
            _joined(t_a, "account_id", "rep_id", "owner_a", single=not dup_a),
            on="account_id",
            how="left",
        )
        .join(
            _joined(t_b, "account_id", "rep_id", "owner_b", single=not dup_b),
            on="account_id",
            how="left",
        )
        .join(
            cand_values.select(
                "account_id",
                "potential",
                "sales",
                "workload_a_hours",
                "workload_b_hours",
            ),
            on="account_id",
            how="left",
        )
        .with_columns(
            pl.col("owner_a").replace("", None), pl.col("owner_b").replace("", None)
        )
        .sort("account_id")
    )
    reps = _rep_changes(
        plan_a,
        plan_b,
        acc_a,
        acc_b,
        hands_a,
        hands_b,
        gained,
        lost,
        cand_values,
        dup_a,
        dup_b,
    )
    notes: list[str] = []
    vacant_gain = gained.filter(pl.col("rep_id").is_null())["account_id"].n_unique()
    vacant_loss = lost.filter(pl.col("rep_id").is_null())["account_id"].n_unique()
    if vacant_gain or vacant_loss:
        notes.append(
            f"{vacant_gain:,} accounts move into and {vacant_loss:,} out of "
            "territories without an owner (not in the rep table)"
        )
    if only_a.height or only_b.height:
        notes.append(
            f"{only_a.height:,} accounts are only in {plan_a.model.name} and "
            f"{only_b.height:,} only in {plan_b.model.name}"
        )
    return Comparison(
        model_a=plan_a.model.name,
        model_b=plan_b.model.name,
        period=str(per),
        units=units,
        units_moved=units.filter(pl.col("moved")).drop("moved"),
        accounts_moved=accounts_moved,
        reps=reps,
        disruption=disruption,
        balance=_balance(plan_a, acc_a, plan_b, acc_b),
        territories=_territory_table(plan_a, acc_a, plan_b, acc_b),
        n_accounts=int(totals["accounts"]),
        notes=tuple(notes),
    )


def _read_pairs(engine: Engine, model_id: str) -> pl.DataFrame:
    with engine.connect() as conn:
        return scenario.read_pairs(conn, model_id)


def _sales(engine: Engine, period: Period) -> pl.DataFrame:
    with engine.connect() as conn:
        return sales_by_account(conn, period)


def _distinct_totals(acc: pl.DataFrame, has_duplicates: bool) -> dict[str, float]:
    """Return each measure summed over the distinct accounts of ``acc``."""
    work = float(acc["workload_hours"].sum())
    if has_duplicates:
        acc = acc.unique(subset="account_id", keep="first", maintain_order=True)
    return {
        "accounts": float(acc.height),
        "potential": float(acc["potential"].sum()),
        "sales": float(acc["sales"].sum()),
        "workload_hours": work,
    }


def _rep_changes(
    plan_a: Plan,
    plan_b: Plan,
    acc_a: pl.DataFrame,
    acc_b: pl.DataFrame,
    hands_a: pl.DataFrame,
    hands_b: pl.DataFrame,
    gained: pl.DataFrame,
    lost: pl.DataFrame,
    values: pl.DataFrame,
    dup_a: bool,
    dup_b: bool,
) -> pl.DataFrame:
    value = values.select("account_id", "potential", "sales")

    def moved(frame: pl.DataFrame, tag: str) -> pl.DataFrame:
        return (
            frame.filter(pl.col("rep_id").is_not_null())
            .join(value, on="account_id", how="left")
            .group_by("rep_id")
            .agg(
                pl.col("account_id").n_unique().alias(f"accounts_{tag}"),
                pl.col("potential").sum().alias(f"potential_{tag}"),
                pl.col("sales").sum().alias(f"sales_{tag}"),
                pl.col("workload_hours").sum().alias(f"workload_{tag}_hours"),
            )
        )

    def held(
        acc: pl.DataFrame, hands: pl.DataFrame, tag: str, dup: bool
    ) -> pl.DataFrame:
        owners = hands.filter(pl.col("rep_id").is_not_null()).select("t_idx", "rep_id")
        work = pl.col("workload_hours").sum().alias(f"workload_{tag}_hours")
        if dup:
            # An account in two territories of one rep counts once.
            owned = acc.select("account_id", "t_idx", "workload_hours").join(
                owners, on="t_idx", how="inner"
            )
            return owned.group_by("rep_id").agg(
                pl.col("account_id").n_unique().cast(pl.Int64).alias(f"accounts_{tag}"),
                work,
            )
        # One row per account: sum each territory's own figures.
        t_idx = acc["t_idx"].to_numpy()
        top = hands["t_idx"].max()
        n = (top if isinstance(top, int) else 0) + 1
        per_territory = pl.DataFrame(
            {
                "t_idx": np.arange(n, dtype=np.int64),
                "accounts": np.bincount(t_idx, minlength=n).astype(np.int64),
                "workload_hours": np.bincount(
                    t_idx, weights=acc["workload_hours"].to_numpy(), minlength=n
                ),
            }
        )
        return (
            owners.join(per_territory, on="t_idx", how="inner")
            .group_by("rep_id")
            .agg(pl.col("accounts").sum().alias(f"accounts_{tag}"), work)
        )

    owners = pl.concat(
        [plan_a.owners().select("rep_id"), plan_b.owners().select("rep_id")]
    ).unique()
    names = plan_a.reps.select("rep_id", "name")
    out = owners.join(names, on="rep_id", how="left")
    for frame in (
        moved(gained, "gained"),
        moved(lost, "lost"),
        held(acc_a, hands_a, "a", dup_a),
        held(acc_b, hands_b, "b", dup_b),
    ):
        out = out.join(frame, on="rep_id", how="left")
    counts = [c for c in out.columns if c.startswith("accounts_")]
    sums = [c for c in out.columns if c not in ("rep_id", "name", *counts)]
    out = out.with_columns(
        [pl.col(c).fill_null(0).cast(pl.Int64) for c in counts]
        + [pl.col(c).fill_null(0.0) for c in sums]
    )
    return out.select(
        "rep_id",
        "name",
        "accounts_a",
        "accounts_b",
        "accounts_gained",
        "accounts_lost",
        "potential_gained",
        "potential_lost",
        "sales_gained",
        "sales_lost",
        "workload_gained_hours",
        "workload_lost_hours",
        "workload_a_hours",
        "workload_b_hours",
    ).sort("rep_id")


# --------------------------------------------------------------------------- #
# outputs


def draw_change_map(engine: Engine, comparison: Comparison, path: Path) -> Path:
    """Draw the change map of ``comparison`` to ``path`` (PNG) and return it.

    Units of the most common kind are drawn; changed ones in their new
    territory's colour (a unit dropped from ``B`` in red), the rest grey. The
    colours are those of ``B``'s own map (:func:`maps.territory_palette` of
    the territories ``B`` assigns units to), and a key names each receiving
    territory.

    Raises
    ------
    InputError
        When the models have no unit assignments or their units have no
        stored geo units.
    """
    units = comparison.units
    if units.height == 0:
        raise InputError(
            f"Models '{comparison.model_a}' and '{comparison.model_b}' assign no geo "
            "units, so there is no change map; assign units (for example with "
            "`territory design`) or skip the map with --no-map.",
            code="compare_no_units",
        )
    kind = (
        units.group_by("unit_kind")
        .len()
        .sort(["len", "unit_kind"], descending=[True, False])["unit_kind"][0]
    )
    # B's territories as its design map and report colour them
    territories = sorted(set(units["territory_b"].drop_nulls().to_list()))
    palette = maps.territory_palette(territories)
    units = units.filter(pl.col("unit_kind") == kind)
    with engine.connect() as conn:
        shapes = maps.read_unit_shapes(conn, kind, units["unit_id"].to_list())
    frame = pl.DataFrame(
        {"unit_id": shapes.unit_id.tolist()}, schema={"unit_id": pl.String}
    ).join(units, on="unit_id", how="left", maintain_order="left")
    index = {tid: k for k, tid in enumerate(territories)}
    labels = np.array(
        [
            index.get(x, -1) if x is not None else -1
            for x in frame["territory_b"].to_list()
        ],
        dtype=np.int64,
    )
    changed = frame["moved"].to_numpy().astype(bool)
    title = (
        f"{comparison.model_a} → {comparison.model_b}: "
        f"{int(changed.sum()):,} of {changed.size:,} units change territory"
    )
    maps.draw_change_map(
        shapes,
        labels,
        changed,
        path,
        title=title,
        palette=[palette[t] for t in territories],
        names=territories,
    )
    return path


def write_comparison(comparison: Comparison, out_dir: Path) -> list[Path]:
    """Write the comparison's tables as CSV files into ``out_dir``; return the paths.

    Files: ``units_moved.csv``, ``accounts_moved.csv``, ``reps.csv``,
    ``disruption.csv``, ``balance.csv``, ``territories.csv``. Undefined
    values are empty.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in (
        ("units_moved", comparison.units_moved),
        ("accounts_moved", comparison.accounts_moved),
        ("reps", comparison.reps),
        ("disruption", comparison.disruption),
        ("balance", comparison.balance),
        ("territories", comparison.territories),
    ):
        path = out_dir / f"{name}.csv"
        frame.write_csv(path)
        written.append(path)
    return written

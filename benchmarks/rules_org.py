"""A synthetic but realistic org for the rule benchmark: accounts, territories, rules.

Shape (seeded, deterministic):

* 1,000,000 accounts across 50 states, with 5-digit ZIPs inside each state's
  prefix block (5 % ZIP+4, 0.3 % malformed or blank), log-normal revenue,
  12 industries, a ``Tier__c`` custom field and a US country spelled three
  ways.
* 2,000 territories in a 4-level hierarchy plus overlays:
  4 regions (states, passed on) > 40 areas (states, passed on) > 400 districts
  (ZIP prefixes, or an explicit ZIP table for every fourth district, passed
  on, plus a local country rule) > 1,500 segments (revenue bands, and an
  industry vertical in 300 districts); 55 named-account overlays (an id table
  of 200 accounts each, or strategic tier AND industry) and one catch-all.

``moved_bands`` is the rule change of the benchmark's second run: the
enterprise segment starts at 40 M instead of 50 M of revenue in every
district, which moves about 2.5 % of the accounts from mid-market to
enterprise.
"""

from __future__ import annotations

import numpy as np

from territory.domain import Territory, TerritoryType
from territory.rules import (
    AccountTable,
    AssignmentRule,
    FieldKind,
    Operator,
    RuleItem,
    RuleLink,
    RuleSet,
)

STATES = [
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL",
    "IN", "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT",
    "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI",
    "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY",
]  # fmt: skip
INDUSTRIES = [
    "Technology", "Healthcare", "Life Sciences", "Financial Services", "Retail",
    "Manufacturing", "Energy", "Education", "Government", "Media", "Transportation",
    "Hospitality",
]  # fmt: skip


def make_accounts(n: int, seed: int = 42) -> tuple[dict[str, object], np.ndarray]:
    """Return raw account columns and each account's state index."""
    rng = np.random.default_rng(seed)
    weights = rng.pareto(1.2, len(STATES)) + 1.0
    weights /= weights.sum()
    state = rng.choice(len(STATES), size=n, p=weights)
    # each state owns a contiguous block of 20 three-digit prefixes
    prefix = state * 20 + rng.integers(0, 20, n)
    zips = prefix * 100 + rng.integers(0, 100, n)
    zip_text = np.char.zfill(zips.astype(str), 5).astype(object)
    plus4 = rng.random(n) < 0.05
    zip_text[plus4] = [
        f"{z}-{p:04d}"
        for z, p in zip(
            zip_text[plus4], rng.integers(0, 9999, plus4.sum()), strict=True
        )
    ]
    bad = rng.random(n) < 0.003
    zip_text[bad] = rng.choice(
        np.array(["", "9", "K1A 0B1", "ABCDE"], dtype=object), bad.sum()
    )
    revenue = np.round(rng.lognormal(15.5, 1.8, n), -3)
    revenue[rng.random(n) < 0.02] = np.nan
    industry = np.array(INDUSTRIES, dtype=object)[rng.integers(0, len(INDUSTRIES), n)]
    tier = np.array(["Strategic", "Key", "Standard", None], dtype=object)[
        rng.choice(4, n, p=[0.01, 0.04, 0.6, 0.35])
    ]
    country = np.array(["US", "USA", "United States"], dtype=object)[
        rng.choice(3, n, p=[0.7, 0.2, 0.1])
    ]
    ids = np.array([f"001{i:012d}" for i in range(n)], dtype=object)
    states_text = np.array(STATES, dtype=object)[state]
    lower = rng.random(n) < 0.1  # messy case
    states_text[lower] = [s.lower() for s in states_text[lower]]
    cols: dict[str, object] = {
        "id": ids,
        "billing_state": states_text,
        "billing_postal_code": zip_text,
        "billing_country": country,
        "industry": industry,
        "annual_revenue": revenue,
        "employees": np.round(revenue / 2e5).astype(np.float64),
        "Tier__c": tier,
    }
    return cols, state


def make_table(cols: dict[str, object]) -> AccountTable:
    """Encode raw columns as an account table."""
    data = {k: v for k, v in cols.items() if k != "id"}
    return AccountTable.from_columns(
        cols["id"],  # type: ignore[arg-type]
        data,  # type: ignore[arg-type]
        {
            "Tier__c": FieldKind.TEXT,
            "annual_revenue": FieldKind.NUMBER,
            "employees": FieldKind.NUMBER,
        },
    )


def make_rule_set(ids: np.ndarray, seed: int = 7) -> RuleSet:
    """Return the 2,000-territory rule set described in the module docstring."""
    rng = np.random.default_rng(seed)
    terrs: list[Territory] = []
    rules: list[AssignmentRule] = []
    links: list[RuleLink] = []
    sets: dict[str, frozenset[str]] = {}

    def add(tid: str, parent: str | None, type_id: str, **kw: object) -> None:
        terrs.append(
            Territory(tid, "bench", tid, type_id=type_id, parent_id=parent, **kw)
        )  # type: ignore[arg-type]

    def rule(
        rid: str,
        items: list[tuple[str, str, str]],
        tid: str,
        apply: bool,
        flt: str | None = None,
    ) -> None:
        rules.append(
            AssignmentRule(
                rid, rid, tuple(RuleItem(f, Operator(o), v) for f, o, v in items), flt
            )
        )
        links.append(RuleLink(rid, tid, apply))

    state_ids = np.arange(len(STATES))
    regions = np.array_split(state_ids, 4)
    n_area = 0
    n_district = 0
    for r, reg_states in enumerate(regions):
        reg = f"R{r}"
        add(reg, None, "geo")
        rule(
            f"rule-{reg}",
            [
                (
                    "Account.BillingState",
                    "equals",
                    ",".join(STATES[s] for s in reg_states),
                )
            ],
            reg,
            True,
        )
        for a_states in np.array_split(reg_states, 10):
            area = f"A{n_area:02d}"
            n_area += 1
            add(area, reg, "geo")
            if len(a_states) == 0:
                a_states = reg_states[:1]
            rule(
                f"rule-{area}",
                [("billing_state", "equals", ",".join(STATES[s] for s in a_states))],
                area,
                True,
            )
            prefixes = np.concatenate(
                [np.arange(s * 20, s * 20 + 20) for s in a_states]
            )
            for d_prefixes in np.array_split(prefixes, 10):
                dist = f"D{n_district:03d}"
                add(dist, area, "geo")
                if n_district % 4 == 0:
                    zip_list = [
                        f"{p * 100 + k:05d}" for p in d_prefixes for k in range(100)
                    ]
                    sets[f"zips-{dist}"] = frozenset(zip_list)
                    rule(
                        f"rule-{dist}",
                        [("billing_postal_code", "inTable", f"zips-{dist}")],
                        dist,
                        True,
                    )
                else:
                    rule(
                        f"rule-{dist}",
                        [
                            (
                                "Account.BillingPostalCode",
                                "startsWith",
                                ",".join(f"{p:03d}" for p in d_prefixes),
                            )
                        ],
                        dist,
                        True,
                    )
                rule(
                    f"rule-{dist}-us",
                    [("billing_country", "equals", "US,USA,United States")],
                    dist,
                    False,
                )
                bands = [
                    ("ENT", "greaterOrEqual", "50000000"),
                    ("MM", "between", "5000000..49999999"),
                    ("SMB", "lessThan", "5000000"),
                ]
                for seg, op, val in bands:
                    tid = f"{dist}-{seg}"
                    add(tid, dist, "segment")
                    rule(
                        f"rule-{tid}", [("Account.AnnualRevenue", op, val)], tid, False
                    )
                if n_district < 300:
                    tid = f"{dist}-HLS"
                    add(tid, dist, "segment")
                    rule(
                        f"rule-{tid}",
                        [
                            ("industry", "equals", "Healthcare,Life Sciences"),
                            ("annual_revenue", "greaterOrEqual", "1000000"),
                        ],
                        tid,
                        False,
                    )
                n_district += 1
    for k in range(55):
        tid = f"NAMED-{k:02d}"
        add(tid, None, "named")
        if k < 40:
            chosen = rng.choice(len(ids), 200, replace=False)
            sets[f"named-{k:02d}"] = frozenset(ids[chosen].tolist())
            rule(
                f"rule-{tid}", [("Account.Id", "inTable", f"named-{k:02d}")], tid, False
            )
        else:
            ind = INDUSTRIES[k % len(INDUSTRIES)]
            rule(
                f"rule-{tid}",
                [
                    ("Account.Tier__c", "equals", "Strategic"),
                    ("industry", "equals", ind),
                    ("Account.Tier__c", "equals", "Key"),
                ],
                tid,
                False,
                "(1 OR 3) AND 2",
            )
    add("CATCH-ALL", None, "geo", is_catch_all=True)
    types = (
        TerritoryType("geo", "Geography", 10),
        TerritoryType("segment", "Segment", 20),
        TerritoryType("named", "Named accounts", 30),
    )
    return RuleSet(tuple(terrs), tuple(rules), tuple(links), types, sets)


def moved_bands(rule_set: RuleSet) -> RuleSet:
    """Return only the segment rules (and their links) with the ENT/MM bound at 40 M."""
    changed = {
        "ENT": ("greaterOrEqual", "40000000"),
        "MM": ("between", "5000000..39999999"),
    }
    rules: list[AssignmentRule] = []
    for r in rule_set.rules:
        seg = r.id.rsplit("-", 1)[-1]
        if seg in changed and r.id.startswith("rule-D"):
            op, value = changed[seg]
            item = RuleItem(r.items[0].field, Operator(op), value)
            rules.append(AssignmentRule(r.id, r.name, (item,), r.boolean_filter))
    ids = {r.id for r in rules}
    links = tuple(k for k in rule_set.links if k.rule_id in ids)
    return RuleSet(rule_set.territories, tuple(rules), links, rule_set.types, {})

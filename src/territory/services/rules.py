"""Rule use cases: import, export, lint, rules from a design, export of assignments."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import Connection, Engine, func, select

from territory.domain.ids import TerritoryTypeId
from territory.domain.rule import (
    AssignmentRule,
    RuleItem,
    RuleLink,
    RuleSet,
    StoredIds,
)
from territory.domain.territory import TerritoryType
from territory.errors import InputError, Issue, NotFound
from territory.io.rules_yaml import (
    ParsedRules,
    invalid_rules_file,
    parse_rules_yaml,
    write_rules_yaml,
)
from territory.io.salesforce import (
    read_id_map,
    read_salesforce_setup,
    write_associations,
    write_salesforce_setup,
)
from territory.io.usdata import read_zip_directory
from territory.rules import AccountExplanation, LintFinding, RuleEngine, lint
from territory.rules.item_check import find_item_problems
from territory.services.account_columns import read_accounts
from territory.services.assign import (
    AssignmentDiff,
    assign_accounts,
    explain_account,
)
from territory.services.models import (
    create_model_in,
    resolve_model,
    resolve_writable_model,
)
from territory.storage import tables as t
from territory.storage.audit import AuditEntry, record
from territory.storage.repositories.model import ModelRepository
from territory.storage.repositories.rules import RuleRepository, SaveCounts

__all__ = [
    "DesignRules",
    "ImportResult",
    "RulesDemo",
    "TypeMatch",
    "export_assignments",
    "export_rules",
    "exports_yaml",
    "import_rules",
    "lint_model",
    "match_types",
    "rules_from_design",
    "run_rules_demo",
]

_YAML = (".yaml", ".yml")


@dataclass(frozen=True, slots=True)
class TypeMatch:
    """An imported territory type taken as a stored one (same name, priority)."""

    imported_id: str
    stored_id: str
    name: str
    priority: int


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What an import wrote, and whether it created the model.

    ``matched_types`` lists the imported types that are stored types under
    another id; the import's territories use the stored ids.
    """

    model_id: str
    created_model: bool
    counts: SaveCounts
    source: str
    matched_types: tuple[TypeMatch, ...] = ()


def _same(a: str | None, b: str | None) -> bool:
    """Whether two names are the same name, ignoring case and blanks around."""
    if a is None or b is None or not a.strip():
        return False
    return a.strip().casefold() == b.strip().casefold()


def match_types(
    rule_set: RuleSet,
    stored: tuple[TerritoryType, ...],
    stored_dev: Mapping[str, str],
) -> tuple[RuleSet, tuple[TypeMatch, ...]]:
    """Take imported types that are stored types under another id as those types.

    Territory types are store-wide, as in a Salesforce org, and priorities
    are unique. An imported type with another id but the same name (or
    DeveloperName, ignoring case) and the same priority as a stored type is
    that type: it is dropped from the rule set and its territories take the
    stored id. Anything else is saved as it is (a real clash then fails).
    """
    by_id = {x.id: x for x in stored}
    matches: list[TypeMatch] = []
    mapping: dict[str, str] = {}
    for x in sorted(rule_set.types, key=lambda x: x.id):
        if x.id in by_id:
            continue
        dev = rule_set.type_developer_names.get(x.id)
        for y in sorted(stored, key=lambda y: y.id):
            names = (y.name, stored_dev.get(y.id))
            if y.priority == x.priority and any(
                _same(a, b) for a in (x.name, dev) for b in names
            ):
                mapping[x.id] = y.id
                matches.append(TypeMatch(x.id, y.id, y.name, y.priority))
                break
    if not mapping:
        return rule_set, ()
    out = replace(
        rule_set,
        types=tuple(x for x in rule_set.types if x.id not in mapping),
        territories=tuple(
            replace(x, type_id=TerritoryTypeId(mapping[x.type_id]))
            if x.type_id in mapping
            else x
            for x in rule_set.territories
        ),
        type_developer_names={
            k: v for k, v in rule_set.type_developer_names.items() if k not in mapping
        },
    )
    return out, tuple(matches)


def _read(
    path: Path,
    model_id: str,
    stored: StoredIds,
    stored_sets: Callable[[], Mapping[str, frozenset[str]]],
) -> RuleSet:
    """Read the rules, refusing them with every problem of the file at once.

    ``stored_sets`` gives the model's value sets, which an ``inTable`` of the
    file may name; it is called only when an item uses ``inTable``.
    """
    if path.is_dir():
        rule_set = read_salesforce_setup(path, model_id, stored=stored)
        issues = _item_issues(rule_set, stored_sets, path.name, None)
        if issues:
            raise invalid_rules_file(path.name, issues)
        return rule_set
    if path.suffix.lower() in _YAML:
        parsed = parse_rules_yaml(path, model_id, stored=stored)
        issues = [
            *parsed.issues,
            *_item_issues(parsed.rule_set, stored_sets, parsed.name, parsed),
        ]
        if issues:
            raise invalid_rules_file(parsed.name, _in_file_order(issues))
        return parsed.rule_set
    raise InputError(
        f"{path} is neither a folder of Salesforce CSV files nor a .yaml file; "
        "give the Data Loader export folder or a YAML rule file.",
        code="rules_source_unknown",
    )


def _item_issues(
    rule_set: RuleSet,
    stored_sets: Callable[[], Mapping[str, frozenset[str]]],
    name: str,
    parsed: ParsedRules | None,
) -> list[Issue]:
    sets: dict[str, frozenset[str]] = dict(rule_set.value_sets)
    if any(i.operator.casefold() == "intable" for r in rule_set.rules for i in r.items):
        sets = {**stored_sets(), **sets}
    out = []
    for p in find_item_problems(rule_set, sets):
        where = ("items", p.item - 1, p.key) if p.item is not None else (p.key,)
        line = parsed.rule_line(p.rule_id, *where) if parsed else None
        # The engine's messages already say how to fix it; a filter's names
        # its rule.
        what = f"rule '{p.rule_id}' item {p.item}: " if p.item is not None else ""
        out.append(Issue(f"{what}{p.problem}", file=name, field=p.key, line=line))
    return out


def _in_file_order(issues: list[Issue]) -> list[Issue]:
    """Sort issues by line (stable; those without a line keep their place last)."""
    return sorted(issues, key=lambda x: (x.line is None, x.line or 0))


def _edits(a: str, b: str) -> int:
    """Return the edits (insert, delete, change, swap of two neighbours) from a to b.

    Examples
    --------
    >>> _edits("se 2072", "se 2027"), _edits("se 2072", "se 2026")
    (1, 2)
    """
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        row = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            row[j] = min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                row[j] = min(row[j], prev2[j - 2] + 1)
        prev2, prev = prev, row
    return prev[-1]


def _by_closeness(name: str, names: list[str]) -> list[str]:
    """Order ``names`` by how close each is to ``name`` (fewest edits first).

    Examples
    --------
    >>> _by_closeness("SE 2072", ["Other plan", "SE 2026", "SE 2027"])
    ['SE 2027', 'SE 2026', 'Other plan']
    """
    key = name.casefold()
    return sorted(names, key=lambda x: (_edits(key, x.casefold()), x))


def _unknown_model(conn: Connection, model: str) -> NotFound:
    names = _by_closeness(model, [m.name for m in ModelRepository(conn).list()])
    near = bool(names) and _edits(model.casefold(), names[0].casefold()) <= max(
        2, len(model) // 3
    )
    hint = f" Did you mean '{names[0]}'?" if near else ""
    known = ", ".join(f"'{x}'" for x in names) or "none yet"
    return NotFound(
        f"No territory model named '{model}' (models: {known}).{hint} Name an "
        "existing model, create it first with `territory model create NAME`, or "
        "give --create-model to make the model from this import.",
        code="model_not_found",
        details={"model": model, "models": names},
    )


def import_rules(
    engine: Engine,
    path: str | Path,
    model: str,
    *,
    actor: str,
    replace_rules: bool = False,
    create_model: bool = False,
) -> ImportResult:
    """Import a Salesforce setup folder or a YAML rule file into ``model``.

    A model that does not exist is refused (a misspelt name must not make a
    new model) unless ``create_model``, which creates it. Territories and types are
    merged by id, and an imported type that is a stored type under another
    id (same name or DeveloperName, same priority) is taken as that type
    (:func:`match_types`); rules replace the stored rules of the same id, or
    every stored rule and value set of the model when ``replace_rules``. The
    resulting rule set is checked before anything is committed.

    Raises
    ------
    InputError, ValidationFailed
        When the files are malformed or the merged rule set cannot be evaluated.
    NotFound
        When the model does not exist and ``create_model`` is not set
        (``model_not_found``; the existing models are named, closest first).
    Conflict
        When a territory type takes a priority another type holds, or the
        model is archived (``model_archived``).
    """
    source = Path(path)
    if not source.exists():
        raise InputError(
            f"{source} does not exist; give a folder of Salesforce CSV files or a "
            "YAML rule file.",
            code="rules_source_missing",
        )
    with engine.begin() as conn:
        existing = ModelRepository(conn).get_by_name(model)
        if existing is None and not create_model:
            raise _unknown_model(conn, model)
        created = existing is None
        m = (
            create_model_in(conn, model, actor=actor)
            if existing is None
            else resolve_writable_model(conn, model, action="import rules")
        )
        repo = RuleRepository(conn)
        stored = StoredIds(
            frozenset(x.id for x in repo.territories(m.id)),
            frozenset(x.id for x in repo.types()[0]),
        )
        rule_set = _read(
            source,
            m.id,
            stored,
            lambda: {} if replace_rules else repo.load(m.id).value_sets,
        )
        rule_set = replace(
            rule_set,
            territories=tuple(replace(x, model_id=m.id) for x in rule_set.territories),
        )
        rule_set, matched = match_types(rule_set, *repo.types())
        if replace_rules:
            repo.delete_rules(m.id)
        counts = repo.save(m.id, rule_set)
        merged = repo.load(m.id)
        RuleEngine(merged)  # refuse rules that cannot run; rolls the import back
        record(
            conn,
            AuditEntry(
                entity="rules",
                entity_id=m.id,
                model_id=m.id,
                action="import",
                new_value={
                    "source": str(source),
                    "rules": counts.rules,
                    "territories": counts.territories,
                    "matched_types": {x.imported_id: x.stored_id for x in matched},
                },
                cause="import",
            ),
            actor=actor,
        )
    return ImportResult(m.id, created, counts, str(source), matched)


def exports_yaml(path: str | Path) -> bool:
    """Return whether :func:`export_rules` writes ``path`` as one YAML file.

    Otherwise ``path`` is a folder for the Salesforce CSVs.

    Examples
    --------
    >>> exports_yaml("rules.yml"), exports_yaml("sf-setup")
    (True, False)
    """
    return Path(path).suffix.lower() in _YAML


def export_rules(engine: Engine, path: str | Path, model: str | None) -> list[Path]:
    """Export the model's rules as YAML (``*.yaml``) or a folder of Salesforce CSVs.

    Raises
    ------
    NotFound
        When the model does not exist.
    """
    target = Path(path)
    with engine.connect() as conn:
        m = resolve_model(conn, model)
        rule_set = RuleRepository(conn).load(m.id)
    if exports_yaml(target):
        return [write_rules_yaml(rule_set, target)]
    return write_salesforce_setup(rule_set, target, m.id)


def lint_model(engine: Engine, model: str | None) -> tuple[LintFinding, ...]:
    """Lint the model's rules against every account in the store.

    Raises
    ------
    NotFound
        When the model does not exist.
    ValidationFailed
        When the rules cannot be evaluated at all.
    """
    with engine.connect() as conn:
        m = resolve_model(conn, model)
        rule_set = RuleRepository(conn).load(m.id)
        accounts = read_accounts(conn)
    table = accounts.table
    return lint(
        RuleEngine(rule_set, table.kinds()),
        table,
        case_variants=accounts.case_variants,
    )


@dataclass(frozen=True, slots=True)
class DesignRules:
    """The rules ``rules_from_design`` wrote: one per territory."""

    model_id: str
    level: str
    n_rules: int
    n_values: int
    #: ``county`` when ZIP tables were derived from a county design.
    derived_from: str | None = None
    #: Accounts the ZIP tables place in another territory than their county's
    #: (a ZIP code that crosses a county line of two territories).
    accounts_elsewhere: int = 0


def _zip_tables_from_counties(
    conn: Connection, county_units: dict[str, list[str]]
) -> tuple[dict[str, list[str]], int]:
    """Turn a county design into one ZIP list per territory, each ZIP once.

    A ZIP goes to the territory of its own county (``zipcodes`` directory,
    every ZIP type); a postal code of a stored account that the directory
    does not place goes to the territory holding most of its accounts (ties
    to the smaller territory id). Returns the lists and how many accounts
    the ZIP tables place in another territory than their county's.
    """
    county_tid = {c: tid for tid, cs in county_units.items() for c in cs}
    directory = read_zip_directory()
    zip_tid: dict[str, str] = {}
    for z, fips in zip(
        directory["zip"].to_list(), directory["county_fips"].to_list(), strict=True
    ):
        if fips is not None and fips in county_tid:
            zip_tid[z] = county_tid[fips]
    a = t.account
    rows = conn.execute(
        select(a.c.billing_postal_code, a.c.county_id, func.count())
        .where(a.c.billing_postal_code.is_not(None), a.c.county_id.is_not(None))
        .group_by(a.c.billing_postal_code, a.c.county_id)
    ).all()
    votes: dict[str, dict[str, int]] = {}
    placed: list[tuple[str, str, int]] = []
    for code, county, n in rows:
        z5 = str(code).strip()[:5]
        tid = county_tid.get(str(county))
        if tid is None or len(z5) != 5 or not z5.isdigit():
            continue
        placed.append((z5, tid, int(n)))
        if z5 not in zip_tid:
            votes.setdefault(z5, {})
            votes[z5][tid] = votes[z5].get(tid, 0) + int(n)
    for z5, by in votes.items():
        zip_tid[z5] = min(by, key=lambda tid: (-by[tid], tid))
    elsewhere = sum(n for z5, tid, n in placed if zip_tid.get(z5) != tid)
    tables: dict[str, list[str]] = {tid: [] for tid in county_units}
    for z5 in sorted(zip_tid):
        tables[zip_tid[z5]].append(z5)
    return {tid: zs for tid, zs in tables.items() if zs}, elsewhere


def rules_from_design(
    engine: Engine, model: str | None, *, level: str = "zip", actor: str
) -> DesignRules:
    """Turn the model's designed unit assignments into one table rule per territory.

    ``level`` ``zip`` makes ``billing_postal_code inTable <zips>`` rules (ZIP+4
    accounts match on their first five digits); ``county`` makes
    ``county_id inTable <counties>`` rules, matching accounts by the county
    they were placed in. A county design asked for at ``zip`` level gets the
    ZIP codes of its counties (see :func:`_zip_tables_from_counties`), the
    way a map-drawn plan usually reaches ETM. Re-running replaces every
    earlier design rule (ids ``design-...``), so territories dropped from the
    design lose theirs.

    Raises
    ------
    NotFound
        When the model does not exist or has no unit assignments at ``level``.
    InputError
        When ``level`` is neither ``zip`` nor ``county``.
    Conflict
        When the model is archived (``model_archived``).
    """
    if level not in ("zip", "county"):
        raise InputError(
            f"Level {level!r} is not a design level; use zip or county.",
            code="design_level",
        )
    ua = t.unit_assignment
    with engine.begin() as conn:
        m = resolve_writable_model(conn, model, action="take rules from its design")
        rows = conn.execute(
            select(ua.c.territory_id, ua.c.unit_id)
            .where((ua.c.model_id == m.id) & (ua.c.unit_kind == level))
            .order_by(ua.c.territory_id, ua.c.unit_id)
        ).all()
        units: dict[str, list[str]] = {}
        for tid, uid in rows:
            units.setdefault(tid, []).append(uid)
        derived_from: str | None = None
        elsewhere = 0
        if not units and level == "zip":
            # a county design: its ZIP codes, each in its county's territory
            county_units: dict[str, list[str]] = {}
            for tid, uid in conn.execute(
                select(ua.c.territory_id, ua.c.unit_id)
                .where((ua.c.model_id == m.id) & (ua.c.unit_kind == "county"))
                .order_by(ua.c.territory_id, ua.c.unit_id)
            ).all():
                county_units.setdefault(tid, []).append(uid)
            if county_units:
                units, elsewhere = _zip_tables_from_counties(conn, county_units)
                derived_from = "county"
        if not units:
            raise NotFound(
                f"Model '{m.name}' has no {level}-level unit assignments; design the "
                "model first or choose the other --level.",
                code="design_missing",
            )
        field = "billing_postal_code" if level == "zip" else "county_id"
        repo = RuleRepository(conn)
        territories = repo.territories(m.id)
        rules, links, sets = [], [], {}
        for tid in sorted(units):
            rid = f"design-{tid}"
            set_name = f"design-{level}-{tid}"
            sets[set_name] = frozenset(units[tid])
            rules.append(
                AssignmentRule(
                    rid,
                    f"Designed {level.upper()}s of {tid}",
                    (RuleItem(field, "inTable", set_name),),
                )
            )
            links.append(RuleLink(rid, tid))
        repo.delete_rules(m.id, prefix="design-")
        repo.save(m.id, RuleSet((), tuple(rules), tuple(links), (), sets))
        RuleEngine(repo.load(m.id))
        _ = territories
        record(
            conn,
            AuditEntry(
                entity="rules",
                entity_id=m.id,
                model_id=m.id,
                action="from_design",
                new_value={
                    "level": level,
                    "rules": len(rules),
                    "derived_from": derived_from,
                    "accounts_elsewhere": elsewhere,
                },
                cause="design",
            ),
            actor=actor,
        )
    return DesignRules(
        m.id,
        level,
        len(rules),
        sum(len(v) for v in units.values()),
        derived_from,
        elsewhere,
    )


def export_assignments(
    engine: Engine,
    path: str | Path,
    model: str | None,
    *,
    for_load: bool = False,
    id_map: str | Path | None = None,
) -> int:
    """Write the model's account assignments as ObjectTerritory2Association.csv.

    Raises
    ------
    NotFound
        When the model does not exist.
    InputError
        When the id mapping file is missing or lacks an assigned territory.
    """
    mapping = read_id_map(id_map) if id_map is not None else None
    aa = t.account_assignment
    with engine.connect() as conn:
        m = resolve_model(conn, model)
        rows = list(
            conn.execute(
                select(aa.c.account_id, aa.c.territory_id, aa.c.cause).where(
                    aa.c.model_id == m.id
                )
            ).all()
        )
    return write_associations(path, rows, for_load=for_load, id_map=mapping)


@dataclass(frozen=True, slots=True)
class RulesDemo:
    """What the rules part of the demo did, and one explained account."""

    design: DesignRules
    overlays: ImportResult
    diff: AssignmentDiff
    explanation: AccountExplanation | None


def run_rules_demo(
    engine: Engine, model: str, *, overlays: str | Path, actor: str
) -> RulesDemo:
    """Turn a designed model into rules, add overlay rules, assign, explain one account.

    The designed territories become one table rule each (ZIP level when the
    design has ZIP units, county level otherwise), the overlay file (e.g.
    ``examples/overlays.yaml``) is imported into the same model, every account
    is assigned by rules, and the first account (by id) that landed in two or
    more territories is explained.

    Raises
    ------
    NotFound
        When the model does not exist or has no designed unit assignments.
    """
    ua = t.unit_assignment
    with engine.connect() as conn:
        m = resolve_model(conn, model)
        kinds = set(
            conn.execute(
                select(ua.c.unit_kind).where(ua.c.model_id == m.id).distinct()
            ).scalars()
        )
    level = "zip" if "zip" in kinds else "county"
    design = rules_from_design(engine, m.name, level=level, actor=actor)
    imported = import_rules(engine, overlays, m.name, actor=actor)
    diff = assign_accounts(engine, m.name, actor=actor)
    aa = t.account_assignment
    with engine.connect() as conn:
        pick = conn.execute(
            select(aa.c.account_id)
            .where(aa.c.model_id == m.id)
            .group_by(aa.c.account_id)
            .having(func.count() > 1)
            .order_by(aa.c.account_id)
            .limit(1)
        ).scalar()
        if pick is None:
            pick = conn.execute(
                select(aa.c.account_id)
                .where(aa.c.model_id == m.id)
                .order_by(aa.c.account_id)
                .limit(1)
            ).scalar()
    explanation = explain_account(engine, m.name, pick) if pick is not None else None
    return RulesDemo(design, imported, diff, explanation)

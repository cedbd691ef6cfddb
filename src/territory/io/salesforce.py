"""Salesforce Enterprise Territory Management setups as Data Loader CSV files.

A setup folder holds the files Data Loader exports, with the standard API
field names:

``Territory2Type.csv``
    ``Id, DeveloperName, MasterLabel, Priority, Description``
``Territory2.csv``
    ``Id, DeveloperName, Name, Territory2TypeId, ParentTerritory2Id,
    Territory2ModelId, Description`` (other columns are kept and written back)
``ObjectTerritory2AssignmentRule.csv``
    ``Id, DeveloperName, MasterLabel, BooleanFilter, ObjectType, IsActive,
    Territory2ModelId``
``ObjectTerritory2AssignmentRuleItem.csv``
    ``Id, RuleId, SortOrder, Field, Operation, Value``
``RuleTerritory2Association.csv``
    ``Id, RuleId, Territory2Id, IsInherited`` (``IsInherited`` true: the rule
    applies to child territories)

Two files are ours: ``ValueSets.csv`` (``Name, Value``) holds the value sets
that ``inTable`` items name, and ``Territory2.csv`` may carry an
``IsCatchAll`` column. Every id is kept as it came in and written back as is.
Assignments export as ``ObjectTerritory2Association.csv``.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from territory.domain.ids import ModelId, TerritoryId, TerritoryTypeId
from territory.domain.rule import (
    AssignmentRule,
    RuleItem,
    RuleLink,
    RuleSet,
    StoredIds,
)
from territory.domain.territory import Territory, TerritoryType
from territory.errors import InputError, Issue, ValidationFailed

__all__ = [
    "ASSOCIATION_FILE",
    "SETUP_FILES",
    "read_id_map",
    "read_salesforce_setup",
    "write_associations",
    "write_salesforce_setup",
]

TYPE_FILE = "Territory2Type.csv"
TERRITORY_FILE = "Territory2.csv"
RULE_FILE = "ObjectTerritory2AssignmentRule.csv"
ITEM_FILE = "ObjectTerritory2AssignmentRuleItem.csv"
LINK_FILE = "RuleTerritory2Association.csv"
VALUE_SET_FILE = "ValueSets.csv"
ASSOCIATION_FILE = "ObjectTerritory2Association.csv"
SETUP_FILES = (TYPE_FILE, TERRITORY_FILE, RULE_FILE, ITEM_FILE, LINK_FILE)

_TERRITORY_COLUMNS = [
    "Id",
    "DeveloperName",
    "Name",
    "Territory2TypeId",
    "ParentTerritory2Id",
    "Territory2ModelId",
    "Description",
]
_REQUIRED = {
    TYPE_FILE: ("Id", "Priority"),
    TERRITORY_FILE: ("Id", "Name"),
    RULE_FILE: ("Id",),
    ITEM_FILE: ("RuleId", "SortOrder", "Field", "Operation"),
    LINK_FILE: ("RuleId", "Territory2Id"),
    VALUE_SET_FILE: ("Name", "Value"),
}
T = TypeVar("T")
_TRUE = {"true", "1", "yes", "y"}
_FALSE = {"false", "0", "no", "n", ""}


def _read(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in (reader.fieldnames or [])]
            missing = [c for c in required if c not in header]
            if missing:
                raise InputError(
                    f"{path.name} lacks the column{'s' if len(missing) > 1 else ''} "
                    f"{', '.join(missing)}; export it with Data Loader using the "
                    "standard API field names.",
                    code="salesforce_column_missing",
                    details={"file": path.name, "missing": missing},
                )
            reader.fieldnames = header
            return [
                {k: (v or "").strip() for k, v in row.items() if k is not None}
                for row in reader
            ]
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path.name} is not UTF-8 text; save it as UTF-8 CSV and retry.",
            code="salesforce_encoding",
        ) from exc


def _opt(kind: Callable[[str], T], value: str | None) -> T | None:
    return kind(value) if value else None


def _bool(value: str, file: str, row: int, column: str, issues: list[Issue]) -> bool:
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v not in _FALSE:
        issues.append(
            Issue(
                f"{value!r} is not true or false",
                "write true or false",
                file=file,
                row=row,
                field=column,
            )
        )
    return False


def _first_rows(
    file: str, column: str, keyed: list[tuple[int, str]], what: str
) -> tuple[dict[str, int], list[Issue]]:
    """Map each id to its first row; an issue for every later row with it."""
    first: dict[str, int] = {}
    issues: list[Issue] = []
    for n, key in keyed:
        if key in first:
            issues.append(
                Issue(
                    f"{what} '{key}' appears again (first on row {first[key]})",
                    f"keep one row per {what}",
                    file=file,
                    row=n,
                    field=column,
                )
            )
        else:
            first[key] = n
    return first, issues


def _dangling(
    file: str, row: int, column: str, what: str, key: str, where: str, fix: str
) -> Issue:
    return Issue(
        f"{what} '{key}' does not exist in {where}",
        fix,
        file=file,
        row=row,
        field=column,
    )


def read_salesforce_setup(
    folder: str | Path, model_id: str, *, stored: StoredIds | None = None
) -> RuleSet:
    """Read a Data Loader setup folder into a rule set for model ``model_id``.

    Rows are sorted by id, so the result never depends on the row order.
    Every reference must resolve: an item's or link's ``RuleId`` to a rule
    of the folder; a link's ``Territory2Id`` and a territory's
    ``ParentTerritory2Id`` to a territory of the folder or ``stored`` (the
    model's); a ``Territory2TypeId`` to a type of the folder or ``stored``.

    Raises
    ------
    InputError
        When the folder or a required file or column is missing.
    ValidationFailed
        Listing every bad value (priority, boolean, sort order), repeated id
        and reference to nothing, with its file, row and column.
    """
    known = stored or StoredIds()
    root = Path(folder)
    if not root.is_dir():
        raise InputError(
            f"{root} is not a folder; give the folder that holds "
            f"{', '.join(SETUP_FILES)}.",
            code="salesforce_folder_missing",
        )
    absent = [f for f in SETUP_FILES if not (root / f).is_file()]
    if absent:
        raise InputError(
            f"{root} lacks {', '.join(absent)}; export every ETM object with Data "
            "Loader into the same folder.",
            code="salesforce_file_missing",
            details={"missing": absent},
        )
    issues: list[Issue] = []
    types: list[TerritoryType] = []
    dev_names: dict[str, str] = {}
    type_rows = list(enumerate(_read(root / TYPE_FILE, _REQUIRED[TYPE_FILE]), start=2))
    type_first, repeated = _first_rows(
        TYPE_FILE, "Id", [(n, r["Id"]) for n, r in type_rows], "territory type"
    )
    issues.extend(repeated)
    for n, row in type_rows:
        try:
            priority = int(row["Priority"])
        except ValueError:
            issues.append(
                Issue(
                    f"priority {row['Priority']!r} is not a whole number",
                    "give each type a whole-number priority",
                    file=TYPE_FILE,
                    row=n,
                    field="Priority",
                )
            )
            continue
        label = row.get("MasterLabel") or row.get("DeveloperName") or row["Id"]
        types.append(
            TerritoryType(
                TerritoryTypeId(row["Id"]), label, priority, row.get("Description", "")
            )
        )
        if row.get("DeveloperName"):
            dev_names[row["Id"]] = row["DeveloperName"]
    territories: list[Territory] = []
    territory_rows = list(
        enumerate(_read(root / TERRITORY_FILE, _REQUIRED[TERRITORY_FILE]), start=2)
    )
    territory_first, repeated = _first_rows(
        TERRITORY_FILE, "Id", [(n, r["Id"]) for n, r in territory_rows], "territory"
    )
    issues.extend(repeated)
    territory_ids = set(territory_first) | known.territories
    type_ids = set(type_first) | known.types
    for n, row in territory_rows:
        parent, kind = row.get("ParentTerritory2Id"), row.get("Territory2TypeId")
        if parent and parent not in territory_ids:
            issues.append(
                _dangling(
                    TERRITORY_FILE,
                    n,
                    "ParentTerritory2Id",
                    "parent territory",
                    parent,
                    f"{TERRITORY_FILE} or the model",
                    "export the parent territory too, or fix the parent id",
                )
            )
        if kind and kind not in type_ids:
            issues.append(
                _dangling(
                    TERRITORY_FILE,
                    n,
                    "Territory2TypeId",
                    "territory type",
                    kind,
                    f"{TYPE_FILE} or the store",
                    "export the territory type too, or fix the type id",
                )
            )
        extra = {
            k: v
            for k, v in row.items()
            if k not in _TERRITORY_COLUMNS and k != "IsCatchAll" and v
        }
        attributes: dict[str, Any] = {}
        if row.get("DeveloperName"):
            attributes["developer_name"] = row["DeveloperName"]
        if row.get("Territory2ModelId"):
            attributes["salesforce_model_id"] = row["Territory2ModelId"]
        if extra:
            attributes["salesforce"] = extra
        try:
            territories.append(
                Territory(
                    TerritoryId(row["Id"]),
                    ModelId(model_id),
                    row["Name"],
                    type_id=_opt(TerritoryTypeId, row.get("Territory2TypeId")),
                    parent_id=_opt(TerritoryId, row.get("ParentTerritory2Id")),
                    description=row.get("Description", ""),
                    is_catch_all=_bool(
                        row.get("IsCatchAll", ""),
                        TERRITORY_FILE,
                        n,
                        "IsCatchAll",
                        issues,
                    ),
                    attributes=attributes,
                )
            )
        except InputError as exc:
            issues.append(Issue(exc.message, file=TERRITORY_FILE, row=n))
    rule_rows = list(enumerate(_read(root / RULE_FILE, _REQUIRED[RULE_FILE]), start=2))
    rule_first, repeated = _first_rows(
        RULE_FILE, "Id", [(n, r["Id"]) for n, r in rule_rows], "rule"
    )
    issues.extend(repeated)
    items: dict[str, list[tuple[int, RuleItem]]] = defaultdict(list)
    for n, row in enumerate(_read(root / ITEM_FILE, _REQUIRED[ITEM_FILE]), start=2):
        if row["RuleId"] not in rule_first:
            issues.append(
                _dangling(
                    ITEM_FILE,
                    n,
                    "RuleId",
                    "rule",
                    row["RuleId"],
                    RULE_FILE,
                    "export the rule too, or drop the item",
                )
            )
            continue
        try:
            order = int(row["SortOrder"])
        except ValueError:
            issues.append(
                Issue(
                    f"sort order {row['SortOrder']!r} is not a whole number",
                    "number the items of a rule 1, 2, 3 ...",
                    file=ITEM_FILE,
                    row=n,
                    field="SortOrder",
                )
            )
            continue
        items[row["RuleId"]].append(
            (
                order,
                RuleItem(
                    row["Field"],
                    row["Operation"],
                    row.get("Value") or None,
                    external_id=row.get("Id") or None,
                ),
            )
        )
    rules: list[AssignmentRule] = []
    for n, row in rule_rows:
        rid = row["Id"]
        if rule_first[rid] != n:
            continue  # a repeated rule id (reported above)
        ordered = sorted(items.pop(rid, []), key=lambda p: p[0])
        orders = [o for o, _ in ordered]
        if len(set(orders)) != len(orders):
            issues.append(
                Issue(
                    f"rule '{rid}' has two items with the same sort order",
                    "give each item of a rule its own SortOrder",
                    file=ITEM_FILE,
                )
            )
        rules.append(
            AssignmentRule(
                rid,
                row.get("MasterLabel") or row.get("DeveloperName") or rid,
                tuple(i for _, i in ordered),
                boolean_filter=row.get("BooleanFilter") or None,
                is_active=_bool(
                    row.get("IsActive", "true") or "true",
                    RULE_FILE,
                    n,
                    "IsActive",
                    issues,
                ),
                object_type=row.get("ObjectType") or "Account",
                developer_name=row.get("DeveloperName") or None,
            )
        )
    links: list[RuleLink] = []
    linked: dict[tuple[str, str], int] = {}
    for n, row in enumerate(_read(root / LINK_FILE, _REQUIRED[LINK_FILE]), start=2):
        rid, tid = row["RuleId"], row["Territory2Id"]
        bad = False
        if rid not in rule_first:
            bad = True
            issues.append(
                _dangling(
                    LINK_FILE,
                    n,
                    "RuleId",
                    "rule",
                    rid,
                    RULE_FILE,
                    "export the rule too, or remove the link",
                )
            )
        if tid not in territory_ids:
            bad = True
            issues.append(
                _dangling(
                    LINK_FILE,
                    n,
                    "Territory2Id",
                    "territory",
                    tid,
                    f"{TERRITORY_FILE} or the model",
                    "export the territory too, or remove the link",
                )
            )
        if (rid, tid) in linked:
            bad = True
            issues.append(
                Issue(
                    f"rule '{rid}' is linked to territory '{tid}' again (first on "
                    f"row {linked[(rid, tid)]})",
                    "keep one link per rule and territory",
                    file=LINK_FILE,
                    row=n,
                    field="Territory2Id",
                )
            )
        if bad:
            continue
        linked[(rid, tid)] = n
        links.append(
            RuleLink(
                row["RuleId"],
                row["Territory2Id"],
                _bool(row.get("IsInherited", ""), LINK_FILE, n, "IsInherited", issues),
                external_id=row.get("Id") or None,
            )
        )
    value_sets: dict[str, set[str]] = defaultdict(set)
    if (root / VALUE_SET_FILE).is_file():
        for row in _read(root / VALUE_SET_FILE, _REQUIRED[VALUE_SET_FILE]):
            value_sets[row["Name"]].add(row["Value"])
    if issues:
        raise ValidationFailed(
            f"The Salesforce setup in {root} has {len(issues)} problem"
            f"{'s' if len(issues) > 1 else ''}; fix them and import again.",
            issues,
            code="salesforce_setup_invalid",
        )
    return RuleSet(
        tuple(sorted(territories, key=lambda t: t.id)),
        tuple(sorted(rules, key=lambda r: r.id)),
        tuple(sorted(links, key=lambda k: (k.rule_id, k.territory_id))),
        tuple(sorted(types, key=lambda t: t.id)),
        {k: frozenset(v) for k, v in sorted(value_sets.items())},
        dev_names,
    )


def _write(path: Path, header: list[str], rows: Iterable[list[Any]]) -> int:
    n = 0
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow(["" if v is None else v for v in row])
            n += 1
    return n


def _flag(value: bool) -> str:
    return "true" if value else "false"


def write_salesforce_setup(
    rule_set: RuleSet, folder: str | Path, model_id: str
) -> list[Path]:
    """Write ``rule_set`` as Data Loader CSV files into ``folder``; return the files.

    Fields keep the names they were written with (``Account.BillingState``
    stays, ``billing_state`` stays); ids are the ids that came in. Items and
    links that never had a Salesforce id get a stable one derived from their
    rule (``<rule>-item-<n>``, ``<rule>-<territory>``).
    """
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    dev = rule_set.type_developer_names
    _write(
        root / TYPE_FILE,
        ["Id", "DeveloperName", "MasterLabel", "Priority", "Description"],
        (
            [t.id, dev.get(t.id, t.id), t.name, t.priority, t.description]
            for t in sorted(rule_set.types, key=lambda t: t.id)
        ),
    )
    extra_cols = sorted(
        {k for t in rule_set.territories for k in t.attributes.get("salesforce", {})}
    )
    catch_all = any(t.is_catch_all for t in rule_set.territories)
    header = _TERRITORY_COLUMNS + extra_cols + (["IsCatchAll"] if catch_all else [])
    rows: list[list[Any]] = []
    for t in sorted(rule_set.territories, key=lambda t: t.id):
        attrs = t.attributes
        extra = attrs.get("salesforce", {})
        row = [
            t.id,
            attrs.get("developer_name", t.id),
            t.name,
            t.type_id,
            t.parent_id,
            attrs.get("salesforce_model_id", model_id),
            t.description,
            *[extra.get(c, "") for c in extra_cols],
        ]
        if catch_all:
            row.append(_flag(t.is_catch_all))
        rows.append(row)
    _write(root / TERRITORY_FILE, header, rows)
    model_of = next(
        (
            t.attributes["salesforce_model_id"]
            for t in rule_set.territories
            if "salesforce_model_id" in t.attributes
        ),
        model_id,
    )
    rules = sorted(rule_set.rules, key=lambda r: r.id)
    _write(
        root / RULE_FILE,
        [
            "Id",
            "DeveloperName",
            "MasterLabel",
            "BooleanFilter",
            "ObjectType",
            "IsActive",
            "Territory2ModelId",
        ],
        (
            [
                r.id,
                r.developer_name or r.id,
                r.name,
                r.boolean_filter,
                r.object_type,
                _flag(r.is_active),
                model_of,
            ]
            for r in rules
        ),
    )
    _write(
        root / ITEM_FILE,
        ["Id", "RuleId", "SortOrder", "Field", "Operation", "Value"],
        (
            [i.external_id or f"{r.id}-item-{n}", r.id, n, i.field, i.operator, i.value]
            for r in rules
            for n, i in enumerate(r.items, start=1)
        ),
    )
    _write(
        root / LINK_FILE,
        ["Id", "RuleId", "Territory2Id", "IsInherited"],
        (
            [
                k.external_id or f"{k.rule_id}-{k.territory_id}",
                k.rule_id,
                k.territory_id,
                _flag(k.apply_to_children),
            ]
            for k in sorted(rule_set.links, key=lambda k: (k.rule_id, k.territory_id))
        ),
    )
    written.extend(root / f for f in SETUP_FILES)
    if rule_set.value_sets:
        _write(
            root / VALUE_SET_FILE,
            ["Name", "Value"],
            (
                [name, v]
                for name in sorted(rule_set.value_sets)
                for v in sorted(rule_set.value_sets[name])
            ),
        )
        written.append(root / VALUE_SET_FILE)
    return written


def read_id_map(path: str | Path) -> dict[str, str]:
    """Read a territory id mapping file (``territory_id,salesforce_id``).

    Raises
    ------
    InputError
        When the file or a column is missing, or one of our ids maps twice.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(
            f"Id mapping file {p} does not exist; give a CSV with the columns "
            "territory_id,salesforce_id.",
            code="id_map_missing",
        )
    out: dict[str, str] = {}
    for n, row in enumerate(_read(p, ("territory_id", "salesforce_id")), start=2):
        ours, theirs = row["territory_id"], row["salesforce_id"]
        if ours in out and out[ours] != theirs:
            raise InputError(
                f"{p.name} row {n}: territory '{ours}' maps to both "
                f"'{out[ours]}' and '{theirs}'; keep one line per territory.",
                code="id_map_duplicate",
            )
        out[ours] = theirs
    return out


def write_associations(
    path: str | Path,
    rows: Iterable[tuple[str, str, str]],
    *,
    for_load: bool = False,
    id_map: Mapping[str, str] | None = None,
) -> int:
    """Write ``(account_id, territory_id, cause)`` rows as an association file.

    ``cause`` ``rule`` becomes ``Territory2AssignmentRule``, any other
    ``Territory2Manual``; ``for_load`` writes every row as
    ``Territory2Manual`` (Salesforce inserts only manual associations).
    ``id_map`` translates our territory ids to the org's.

    Raises
    ------
    InputError
        When ``id_map`` is given but lacks a territory that has assignments.
    """
    mapping = id_map or {}
    out: list[list[str]] = []
    unmapped: set[str] = set()
    for account_id, territory_id, cause in sorted(rows):
        tid = territory_id
        if id_map is not None:
            if territory_id not in mapping:
                unmapped.add(territory_id)
                continue
            tid = mapping[territory_id]
        kind = (
            "Territory2Manual"
            if for_load or cause != "rule"
            else "Territory2AssignmentRule"
        )
        out.append([account_id, tid, kind])
    if unmapped:
        listed = ", ".join(sorted(unmapped)[:10])
        raise InputError(
            f"The id mapping file has no Salesforce id for {len(unmapped)} "
            f"territor{'ies' if len(unmapped) > 1 else 'y'} ({listed}); add them "
            "so no assignment is dropped.",
            code="id_map_incomplete",
            details={"territories": sorted(unmapped)},
        )
    return _write(Path(path), ["ObjectId", "Territory2Id", "AssociationCause"], out)

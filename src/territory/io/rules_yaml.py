"""Our readable YAML rule format, equivalent to the Salesforce CSV files.

.. code-block:: yaml

    territory_types:
      - {id: geo, name: Geography, priority: 10}
    territories:
      - {id: WEST, name: West, type: geo}
      - {id: WEST-BAY, name: Bay Area, type: geo, parent: WEST}
      - {id: REST, name: Unassigned, catch_all: true}
    rules:
      - id: west-states
        name: West states
        filter: (1 AND 2) OR 3          # optional; default: all items ANDed
        active: true                    # optional
        items:
          - {field: Account.BillingState, operator: equals, value: "CA, OR, WA"}
        territories:
          - {territory: WEST, apply_to_children: true}
    value_sets:
      bay-zips: ["94105", "94107"]

Every key other than ``id`` and ``items`` is optional; Salesforce ids of
items and links, and developer names, are kept when present.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml  # type: ignore[import-untyped]

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

__all__ = ["read_rules_yaml", "rules_to_yaml", "write_rules_yaml"]

T = TypeVar("T")
_TOP = {"territory_types", "territories", "rules", "value_sets"}


def _text(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _opt(kind: Callable[[str], T], value: Any) -> T | None:
    return None if value is None or value == "" else kind(str(value))


def read_rules_yaml(
    path: str | Path, model_id: str, *, stored: StoredIds | None = None
) -> RuleSet:
    """Read a YAML rule file into a rule set for ``model_id``.

    Every reference must resolve: a territory's ``parent`` and a rule's
    ``territories`` to a territory of the file or ``stored`` (the model's),
    a territory's ``type`` to a type of the file or ``stored``.

    Raises
    ------
    InputError
        When the file is missing or is not valid YAML.
    ValidationFailed
        Listing every entry that lacks a key or has an unknown one, every
        repeated id and every reference to nothing.
    """
    known = stored or StoredIds()
    p = Path(path)
    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except FileNotFoundError as exc:
        raise InputError(
            f"Rule file {p} does not exist.", code="rules_file_missing"
        ) from exc
    except yaml.YAMLError as exc:
        raise InputError(
            f"{p.name} is not valid YAML ({exc}); fix the indentation or quoting.",
            code="rules_yaml_syntax",
        ) from exc
    name = p.name
    issues: list[Issue] = []
    if not isinstance(doc, dict):
        raise InputError(
            f"{name} must hold a mapping with {', '.join(sorted(_TOP))}.",
            code="rules_yaml_shape",
        )
    for key in sorted(set(doc) - _TOP):
        issues.append(
            Issue(
                f"unknown section '{key}'", f"use {', '.join(sorted(_TOP))}", file=name
            )
        )

    def entries(section: str) -> list[dict[str, Any]]:
        raw = doc.get(section) or []
        if not isinstance(raw, list):
            issues.append(Issue(f"'{section}' must be a list", file=name))
            return []
        good = []
        for n, e in enumerate(raw, start=1):
            if not isinstance(e, dict) or "id" not in e:
                issues.append(
                    Issue(
                        f"{section} entry {n} needs an 'id'", file=name, field=section
                    )
                )
            else:
                good.append(e)
        return good

    types = []
    dev_names: dict[str, str] = {}
    for e in entries("territory_types"):
        if "priority" not in e:
            issues.append(
                Issue(f"territory type '{e['id']}' needs a priority", file=name)
            )
            continue
        types.append(
            TerritoryType(
                TerritoryTypeId(str(e["id"])),
                str(e.get("name", e["id"])),
                int(e["priority"]),
                str(e.get("description", "")),
            )
        )
        if e.get("developer_name"):
            dev_names[str(e["id"])] = str(e["developer_name"])
    territories = []
    for e in entries("territories"):
        attrs = dict(e.get("attributes") or {})
        if e.get("developer_name"):
            attrs["developer_name"] = str(e["developer_name"])
        try:
            territories.append(
                Territory(
                    TerritoryId(str(e["id"])),
                    ModelId(model_id),
                    str(e.get("name", e["id"])),
                    type_id=_opt(TerritoryTypeId, e.get("type")),
                    parent_id=_opt(TerritoryId, e.get("parent")),
                    description=str(e.get("description", "")),
                    is_catch_all=bool(e.get("catch_all", False)),
                    attributes=attrs,
                )
            )
        except InputError as exc:
            issues.append(Issue(exc.message, file=name))
    rules: list[AssignmentRule] = []
    links: list[RuleLink] = []
    for e in entries("rules"):
        rid = str(e["id"])
        items = []
        for n, it in enumerate(e.get("items") or [], start=1):
            if not isinstance(it, dict) or "field" not in it or "operator" not in it:
                issues.append(
                    Issue(
                        f"rule '{rid}' item {n} needs 'field' and 'operator'",
                        "write items as {field: ..., operator: ..., value: ...}",
                        file=name,
                    )
                )
                continue
            items.append(
                RuleItem(
                    str(it["field"]),
                    str(it["operator"]),
                    _text(it.get("value")),
                    external_id=_text(it.get("salesforce_id")),
                )
            )
        rules.append(
            AssignmentRule(
                rid,
                str(e.get("name", rid)),
                tuple(items),
                boolean_filter=_text(e.get("filter")),
                is_active=bool(e.get("active", True)),
                object_type=str(e.get("object_type", "Account")),
                developer_name=_text(e.get("developer_name")),
            )
        )
        for lk in e.get("territories") or []:
            if isinstance(lk, str):
                links.append(RuleLink(rid, lk))
            elif isinstance(lk, dict) and "territory" in lk:
                links.append(
                    RuleLink(
                        rid,
                        str(lk["territory"]),
                        bool(lk.get("apply_to_children", False)),
                        external_id=_text(lk.get("salesforce_id")),
                    )
                )
            else:
                issues.append(
                    Issue(
                        f"rule '{rid}' has a territory entry without 'territory'",
                        "write {territory: ID, apply_to_children: true}",
                        file=name,
                    )
                )
    value_sets: dict[str, set[str]] = defaultdict(set)
    raw_sets = doc.get("value_sets") or {}
    if not isinstance(raw_sets, dict):
        issues.append(Issue("'value_sets' must map a name to a list", file=name))
        raw_sets = {}
    for set_name, values in raw_sets.items():
        value_sets[str(set_name)] |= {str(v) for v in (values or [])}
    issues.extend(_reference_issues(name, types, territories, rules, links, known))
    if issues:
        raise ValidationFailed(
            f"{name} has {len(issues)} problem{'s' if len(issues) > 1 else ''}; "
            "fix them and import again.",
            issues,
            code="rules_yaml_invalid",
        )
    return RuleSet(
        tuple(sorted(territories, key=lambda t: t.id)),
        tuple(sorted(rules, key=lambda r: r.id)),
        tuple(sorted(links, key=lambda k: (k.rule_id, k.territory_id))),
        tuple(sorted(types, key=lambda t: t.id)),
        {k: frozenset(v) for k, v in sorted(value_sets.items())},
        dev_names,
    )


def _reference_issues(
    name: str,
    types: list[TerritoryType],
    territories: list[Territory],
    rules: list[AssignmentRule],
    links: list[RuleLink],
    known: StoredIds,
) -> list[Issue]:
    """Repeated ids, and references to a territory or type that does not exist."""
    issues: list[Issue] = []
    for what, ids in (
        ("territory type", [x.id for x in types]),
        ("territory", [x.id for x in territories]),
        ("rule", [x.id for x in rules]),
    ):
        seen: set[str] = set()
        for key in ids:
            if key in seen:
                issues.append(
                    Issue(
                        f"{what} '{key}' appears more than once",
                        f"keep one entry per {what}",
                        file=name,
                        field="id",
                    )
                )
            seen.add(key)
    territory_ids = {x.id for x in territories} | known.territories
    type_ids = {x.id for x in types} | known.types
    for x in territories:
        if x.parent_id is not None and x.parent_id not in territory_ids:
            issues.append(
                Issue(
                    f"territory '{x.id}' names parent '{x.parent_id}', which does "
                    f"not exist in {name} or the model",
                    "add the parent territory, or fix the parent id",
                    file=name,
                    field="parent",
                )
            )
        if x.type_id is not None and x.type_id not in type_ids:
            issues.append(
                Issue(
                    f"territory '{x.id}' has type '{x.type_id}', which does not "
                    f"exist in {name} or the store",
                    "add the territory type under territory_types, or fix the type",
                    file=name,
                    field="type",
                )
            )
    seen_links: set[tuple[str, str]] = set()
    for k in links:
        if k.territory_id not in territory_ids:
            issues.append(
                Issue(
                    f"rule '{k.rule_id}' is linked to territory '{k.territory_id}', "
                    f"which does not exist in {name} or the model",
                    "add the territory, or remove it from the rule's territories",
                    file=name,
                    field="territories",
                )
            )
        if (k.rule_id, k.territory_id) in seen_links:
            issues.append(
                Issue(
                    f"rule '{k.rule_id}' lists territory '{k.territory_id}' twice",
                    "list each territory of a rule once",
                    file=name,
                    field="territories",
                )
            )
        seen_links.add((k.rule_id, k.territory_id))
    return issues


def rules_to_yaml(rule_set: RuleSet) -> str:
    """Return ``rule_set`` as YAML text in our format (sorted, stable)."""
    links: dict[str, list[RuleLink]] = defaultdict(list)
    for k in rule_set.links:
        links[k.rule_id].append(k)
    doc: dict[str, Any] = {}
    if rule_set.types:
        doc["territory_types"] = [
            {
                "id": t.id,
                "name": t.name,
                "priority": t.priority,
                **({"description": t.description} if t.description else {}),
                **(
                    {"developer_name": rule_set.type_developer_names[t.id]}
                    if t.id in rule_set.type_developer_names
                    else {}
                ),
            }
            for t in sorted(rule_set.types, key=lambda t: t.id)
        ]
    doc["territories"] = []
    for t in sorted(rule_set.territories, key=lambda t: t.id):
        attrs = dict(t.attributes)
        entry: dict[str, Any] = {"id": t.id, "name": t.name}
        if t.type_id:
            entry["type"] = t.type_id
        if t.parent_id:
            entry["parent"] = t.parent_id
        if t.description:
            entry["description"] = t.description
        if t.is_catch_all:
            entry["catch_all"] = True
        if "developer_name" in attrs:
            entry["developer_name"] = attrs.pop("developer_name")
        if attrs:
            entry["attributes"] = attrs
        doc["territories"].append(entry)
    doc["rules"] = []
    for r in sorted(rule_set.rules, key=lambda r: r.id):
        entry = {"id": r.id, "name": r.name}
        if r.developer_name:
            entry["developer_name"] = r.developer_name
        if r.boolean_filter:
            entry["filter"] = r.boolean_filter
        if not r.is_active:
            entry["active"] = False
        if r.object_type != "Account":
            entry["object_type"] = r.object_type
        entry["items"] = [
            {
                "field": i.field,
                "operator": i.operator,
                **({"value": i.value} if i.value is not None else {}),
                **({"salesforce_id": i.external_id} if i.external_id else {}),
            }
            for i in r.items
        ]
        entry["territories"] = [
            {
                "territory": k.territory_id,
                **({"apply_to_children": True} if k.apply_to_children else {}),
                **({"salesforce_id": k.external_id} if k.external_id else {}),
            }
            for k in sorted(links.get(r.id, []), key=lambda k: k.territory_id)
        ]
        doc["rules"].append(entry)
    if rule_set.value_sets:
        doc["value_sets"] = {
            k: sorted(v) for k, v in sorted(rule_set.value_sets.items())
        }
    text: str = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=88)
    return text


def write_rules_yaml(rule_set: RuleSet, path: str | Path) -> Path:
    """Write ``rule_set`` to ``path`` in our YAML format."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(rules_to_yaml(rule_set), encoding="utf-8")
    return p

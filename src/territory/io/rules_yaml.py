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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
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

__all__ = [
    "ParsedRules",
    "invalid_rules_file",
    "parse_rules_yaml",
    "read_rules_yaml",
    "rules_to_yaml",
    "write_rules_yaml",
]

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


KeyPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class ParsedRules:
    """A YAML rule file read without stopping at the first problem.

    ``rule_set`` holds what could be read; ``issues`` every problem found,
    each with its file, line and key; ``lines`` the 1-based line of every
    key and list entry, by its path (``("rules", 0, "items", 1, "field")``:
    the ``field`` key of the second item of the first rule).
    """

    name: str
    rule_set: RuleSet
    issues: tuple[Issue, ...]
    lines: Mapping[KeyPath, int] = field(default_factory=dict)
    rule_index: Mapping[str, int] = field(default_factory=dict)

    def line(self, *path: str | int) -> int | None:
        """Return the line of ``path``, else of its longest prefix that exists."""
        for end in range(len(path), 0, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None

    def rule_line(self, rule_id: str, *path: str | int) -> int | None:
        """Return the line of ``path`` inside the rule ``rule_id``."""
        n = self.rule_index.get(rule_id)
        return None if n is None else self.line("rules", n, *path)


def _load(text: str) -> tuple[Any, dict[KeyPath, int]]:
    """Return the document and the 1-based line of every key and list entry.

    The text is parsed once: the composed node tree gives the lines, and the
    document is built from it as ``yaml.safe_load`` would.
    """
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        doc = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    out: dict[KeyPath, int] = {}

    def walk(node: Any, path: KeyPath) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = (*path, str(key.value))
                out.setdefault(sub, key.start_mark.line + 1)
                walk(value, sub)
        elif isinstance(node, yaml.SequenceNode):
            for n, value in enumerate(node.value):
                sub = (*path, n)
                out[sub] = value.start_mark.line + 1
                walk(value, sub)

    if node is not None:
        walk(node, ())
    return doc, out


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
    parsed = parse_rules_yaml(path, model_id, stored=stored)
    if parsed.issues:
        raise invalid_rules_file(parsed.name, list(parsed.issues))
    return parsed.rule_set


def invalid_rules_file(name: str, issues: list[Issue]) -> ValidationFailed:
    """Return the error listing every problem of the rule file ``name``."""
    return ValidationFailed(
        f"{name} has {len(issues)} problem{'s' if len(issues) > 1 else ''}; "
        "fix them all and import again.",
        issues,
        code="rules_yaml_invalid",
    )


def parse_rules_yaml(
    path: str | Path, model_id: str, *, stored: StoredIds | None = None
) -> ParsedRules:
    """Read a YAML rule file, collecting every problem instead of stopping.

    Raises
    ------
    InputError
        When the file is missing or is not valid YAML.
    """
    known = stored or StoredIds()
    p = Path(path)
    try:
        doc, lines = _load(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(
            f"Rule file {p} does not exist.", code="rules_file_missing"
        ) from exc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f", line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        start = exc.context_mark
        if mark is not None and start is not None and start.line != mark.line:
            where += f" (in what starts at line {start.line + 1})"
        what = " ".join(x for x in (exc.context, exc.problem) if x) or "syntax error"
        raise InputError(
            f"{p.name}{where} is not valid YAML ({what}); fix the indentation "
            "or quoting there.",
            code="rules_yaml_syntax",
            details={"file": p.name, "line": mark.line + 1 if mark else None},
        ) from exc
    except yaml.YAMLError as exc:
        raise InputError(
            f"{p.name} is not valid YAML ({exc}); fix the indentation or quoting.",
            code="rules_yaml_syntax",
        ) from exc
    if doc is None:
        raise InputError(
            f"{p.name} is empty: it holds no territory types, territories or "
            "rules. Write them as in examples/rules.yaml, or check the file name.",
            code="rules_yaml_empty",
            details={"file": p.name},
        )
    name = p.name
    issues: list[Issue] = []

    def at(*path: str | int) -> int | None:
        for end in range(len(path), 0, -1):
            if path[:end] in lines:
                return lines[path[:end]]
        return None

    if not isinstance(doc, dict):
        raise InputError(
            f"{name} must hold a mapping with {', '.join(sorted(_TOP))}.",
            code="rules_yaml_shape",
        )
    for key in sorted(set(doc) - _TOP):
        issues.append(
            Issue(
                f"unknown section '{key}'",
                f"use {', '.join(sorted(_TOP))}",
                file=name,
                line=at(str(key)),
            )
        )

    def entries(section: str) -> list[tuple[int, dict[str, Any]]]:
        raw = doc.get(section) or []
        if not isinstance(raw, list):
            issues.append(
                Issue(f"'{section}' must be a list", file=name, line=at(section))
            )
            return []
        good = []
        for n, e in enumerate(raw):
            if not isinstance(e, dict) or "id" not in e:
                issues.append(
                    Issue(
                        f"{section} entry {n + 1} needs an 'id'",
                        file=name,
                        field=section,
                        line=at(section, n),
                    )
                )
            else:
                good.append((n, e))
        return good

    types = []
    dev_names: dict[str, str] = {}
    type_at: dict[str, int] = {}
    for n, e in entries("territory_types"):
        if "priority" not in e:
            issues.append(
                Issue(
                    f"territory type '{e['id']}' needs a priority",
                    "add priority: N (a whole number no other type holds)",
                    file=name,
                    field="priority",
                    line=at("territory_types", n),
                )
            )
            continue
        type_at.setdefault(str(e["id"]), n)
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
    territory_at: dict[str, int] = {}
    for n, e in entries("territories"):
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
            territory_at.setdefault(str(e["id"]), n)
        except InputError as exc:
            issues.append(Issue(exc.message, file=name, line=at("territories", n)))
    rules: list[AssignmentRule] = []
    links: list[RuleLink] = []
    rule_at: dict[str, int] = {}
    link_at: dict[tuple[str, str], list[int]] = defaultdict(list)
    for n, e in entries("rules"):
        rid = str(e["id"])
        rule_at.setdefault(rid, n)
        items = []
        for m, it in enumerate(e.get("items") or []):
            if not isinstance(it, dict) or "field" not in it or "operator" not in it:
                issues.append(
                    Issue(
                        f"rule '{rid}' item {m + 1} needs 'field' and 'operator'",
                        "write items as {field: ..., operator: ..., value: ...}",
                        file=name,
                        field="items",
                        line=at("rules", n, "items", m),
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
        for m, lk in enumerate(e.get("territories") or []):
            if isinstance(lk, str):
                links.append(RuleLink(rid, lk))
                link_at[(rid, lk)].append(at("rules", n, "territories", m) or 0)
            elif isinstance(lk, dict) and "territory" in lk:
                links.append(
                    RuleLink(
                        rid,
                        str(lk["territory"]),
                        bool(lk.get("apply_to_children", False)),
                        external_id=_text(lk.get("salesforce_id")),
                    )
                )
                link_at[(rid, str(lk["territory"]))].append(
                    at("rules", n, "territories", m) or 0
                )
            else:
                issues.append(
                    Issue(
                        f"rule '{rid}' has a territory entry without 'territory'",
                        "write {territory: ID, apply_to_children: true}",
                        file=name,
                        field="territories",
                        line=at("rules", n, "territories", m),
                    )
                )
    value_sets: dict[str, set[str]] = defaultdict(set)
    raw_sets = doc.get("value_sets") or {}
    if not isinstance(raw_sets, dict):
        issues.append(
            Issue(
                "'value_sets' must map a name to a list",
                file=name,
                line=at("value_sets"),
            )
        )
        raw_sets = {}
    for set_name, values in raw_sets.items():
        value_sets[str(set_name)] |= {str(v) for v in (values or [])}

    def where(kind: str, key: str, *sub: str | int) -> int | None:
        if kind == "territory" and key in territory_at:
            return at("territories", territory_at[key], *sub)
        if kind == "territory type" and key in type_at:
            return at("territory_types", type_at[key], *sub)
        if kind == "rule" and key in rule_at:
            return at("rules", rule_at[key], *sub)
        return None

    issues.extend(
        _reference_issues(name, types, territories, rules, links, known, where, link_at)
    )
    rule_set = RuleSet(
        tuple(sorted(territories, key=lambda t: t.id)),
        tuple(sorted(rules, key=lambda r: r.id)),
        tuple(sorted(links, key=lambda k: (k.rule_id, k.territory_id))),
        tuple(sorted(types, key=lambda t: t.id)),
        {k: frozenset(v) for k, v in sorted(value_sets.items())},
        dev_names,
    )
    return ParsedRules(name, rule_set, tuple(issues), lines, rule_at)


def _reference_issues(
    name: str,
    types: list[TerritoryType],
    territories: list[Territory],
    rules: list[AssignmentRule],
    links: list[RuleLink],
    known: StoredIds,
    where: Callable[..., int | None],
    link_at: Mapping[tuple[str, str], list[int]],
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
                        line=where(what, key),
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
                    line=where("territory", x.id, "parent"),
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
                    line=where("territory", x.id, "type"),
                )
            )
    seen_links: set[tuple[str, str]] = set()
    for k in links:
        pair = (k.rule_id, k.territory_id)
        places = link_at.get(pair) or []
        first = places[0] if places else None
        if k.territory_id not in territory_ids:
            issues.append(
                Issue(
                    f"rule '{k.rule_id}' is linked to territory '{k.territory_id}', "
                    f"which does not exist in {name} or the model",
                    "add the territory, or remove it from the rule's territories",
                    file=name,
                    field="territories",
                    line=first or None,
                )
            )
        if pair in seen_links:
            issues.append(
                Issue(
                    f"rule '{k.rule_id}' lists territory '{k.territory_id}' twice",
                    "list each territory of a rule once",
                    file=name,
                    field="territories",
                    line=(places[1] if len(places) > 1 else first) or None,
                )
            )
        seen_links.add(pair)
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

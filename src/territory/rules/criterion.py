"""Criterion items (``field operator value``) with Salesforce ETM semantics.

A criterion is compiled once against a field kind and the model's value sets.
The compiled form answers for one normalised value (``test_text``,
``test_number``); the vectorised engine applies the same functions to each
distinct value of a column, so both paths share one definition of meaning.

Semantics
---------
* A comma-separated value means *any of* for positive operators and *none of*
  for negative ones (``notEqual``, ``notContain``, ``excludes``); a value in
  double quotes keeps its commas.
* Text compares case-insensitively, ignoring surrounding blanks.
* A blank field never matches a positive criterion and always matches a
  negative one; ``isNull`` matches exactly the blanks.
* Range operators on a postal-code field compare only well-formed US ZIPs,
  as 5-digit numbers (ZIP+4 reduced to its first five digits); any other
  value never matches a range.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from territory.errors import InputError

__all__ = [
    "NEGATIVE_OPERATORS",
    "RANGE_OPERATORS",
    "CompiledCriterion",
    "Criterion",
    "FieldKind",
    "Operator",
    "compile_criterion",
    "normalise_text",
    "parse_operator",
    "split_values",
    "zip5",
]


class Operator(StrEnum):
    """Criterion operators; the names are the Salesforce API names."""

    EQUALS = "equals"
    NOT_EQUAL = "notEqual"
    LESS_THAN = "lessThan"
    GREATER_THAN = "greaterThan"
    LESS_OR_EQUAL = "lessOrEqual"
    GREATER_OR_EQUAL = "greaterOrEqual"
    CONTAINS = "contains"
    NOT_CONTAIN = "notContain"
    STARTS_WITH = "startsWith"
    INCLUDES = "includes"
    EXCLUDES = "excludes"
    BETWEEN = "between"
    IS_NULL = "isNull"
    IS_NOT_NULL = "isNotNull"
    IN_TABLE = "inTable"


class FieldKind(StrEnum):
    """How a field's values compare."""

    TEXT = "text"
    NUMBER = "number"
    POSTAL = "postal"


NEGATIVE_OPERATORS = frozenset(
    {Operator.NOT_EQUAL, Operator.NOT_CONTAIN, Operator.EXCLUDES}
)
RANGE_OPERATORS = frozenset(
    {
        Operator.LESS_THAN,
        Operator.GREATER_THAN,
        Operator.LESS_OR_EQUAL,
        Operator.GREATER_OR_EQUAL,
        Operator.BETWEEN,
    }
)
_NO_VALUE = frozenset({Operator.IS_NULL, Operator.IS_NOT_NULL})
_TEXT_ONLY = frozenset(
    {
        Operator.CONTAINS,
        Operator.NOT_CONTAIN,
        Operator.STARTS_WITH,
        Operator.INCLUDES,
        Operator.EXCLUDES,
    }
)
_BY_LOWER = {op.value.lower(): op for op in Operator}
_BY_LOWER.update({"notequals": Operator.NOT_EQUAL, "notcontains": Operator.NOT_CONTAIN})
_ZIP = re.compile(r"^(\d{5})(?:-?\d{4})?$")


def parse_operator(name: str, where: str = "") -> Operator:
    """Return the operator called ``name`` (any case).

    Raises
    ------
    InputError
        When ``name`` is not an operator; the message lists the valid ones.

    Examples
    --------
    >>> parse_operator("NotEqual")
    <Operator.NOT_EQUAL: 'notEqual'>
    """
    op = _BY_LOWER.get(str(name).strip().lower())
    if op is None:
        valid = ", ".join(o.value for o in Operator)
        raise InputError(
            f"Unknown operator {name!r}{where}; use one of: {valid}.",
            code="rule_operator_unknown",
            details={"operator": name},
        )
    return op


def normalise_text(value: str) -> str:
    """Return ``value`` as rules compare it: surrounding blanks removed, case folded.

    Examples
    --------
    >>> normalise_text("  New York ")
    'new york'
    """
    return value.strip().casefold()


def zip5(value: str) -> int | None:
    """Return a well-formed US ZIP (``02134``, ``02134-1234``) as a number, else None.

    Examples
    --------
    >>> zip5("02134-1234"), zip5("9"), zip5("K1A 0B1")
    (2134, None, None)
    """
    m = _ZIP.match(value.strip())
    return int(m.group(1)) if m else None


def split_values(raw: str) -> tuple[str, ...]:
    """Split a comma list; double quotes keep commas. Blank entries are dropped.

    Examples
    --------
    >>> split_values('CA, "Smith, Jones & Co" ,NY')
    ('CA', 'Smith, Jones & Co', 'NY')
    """
    out: list[str] = []
    buf: list[str] = []
    in_quotes = False
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch == '"':
            if in_quotes and raw[i + 1 : i + 2] == '"':
                buf.append('"')  # a doubled quote inside quotes is a quote
                i += 2
                continue
            in_quotes = not in_quotes
        elif ch == "," and not in_quotes:
            text = "".join(buf).strip()
            if text:
                out.append(text)
            buf = []
        else:
            buf.append(ch)
        i += 1
    if in_quotes:
        raise InputError(
            f"Value {raw!r} has an unbalanced double quote; close the quote or "
            "remove it.",
            code="rule_value_quote",
        )
    text = "".join(buf).strip()
    if text:
        out.append(text)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class Criterion:
    """One rule item as written: ``field operator value``.

    ``field`` is already resolved to the account field name (``billing_state``
    or a custom field such as ``Tier__c``).
    """

    field: str
    operator: Operator
    value: str | None = None

    def describe(self) -> str:
        """Return the item as a readable phrase."""
        if self.operator in _NO_VALUE:
            return f"{self.field} {self.operator.value}"
        return f"{self.field} {self.operator.value} {self.value!r}"


def _bad(c: Criterion, problem: str, hint: str, code: str) -> InputError:
    return InputError(
        f"Criterion '{c.describe()}': {problem}; {hint}.",
        code=code,
        details={"field": c.field, "operator": c.operator.value, "value": c.value},
    )


def _number(c: Criterion, text: str) -> float:
    try:
        x = float(text.replace("_", ""))
    except ValueError:
        raise _bad(
            c,
            f"{text!r} is not a number",
            "numeric fields compare with numbers such as 1000000 or 2.5",
            "rule_value_not_number",
        ) from None
    if math.isnan(x):
        raise _bad(
            c, "NaN is not a comparable number", "give a number", "rule_value_nan"
        )
    return x


def _range_bound(c: Criterion, kind: FieldKind, text: str) -> float | str:
    if kind is FieldKind.NUMBER:
        return _number(c, text)
    if kind is FieldKind.POSTAL:
        z = zip5(text)
        if z is None:
            raise _bad(
                c,
                f"{text!r} is not a US ZIP code",
                "range operators on postal codes take 5-digit ZIPs such as 02134",
                "rule_value_not_zip",
            )
        return float(z)
    return normalise_text(text)


@dataclass(frozen=True, slots=True)
class CompiledCriterion:
    """A criterion ready to evaluate.

    ``key`` identifies equal criteria across rules so their results are shared.
    ``equal_values`` holds the normalised values that an equality-style
    operator looks up (``equals``, ``notEqual``, ``inTable``); ``numbers``
    the numeric values of ``equals``/``notEqual`` on number fields;
    ``ranges`` inclusive/exclusive bounds as ``(low, high, low_incl, high_incl)``.
    """

    criterion: Criterion
    kind: FieldKind
    key: tuple[object, ...]
    equal_values: frozenset[str] = frozenset()
    numbers: tuple[float, ...] = ()
    texts: tuple[str, ...] = ()
    ranges: tuple[tuple[float | str, float | str, bool, bool], ...] = ()
    multi: tuple[frozenset[str], ...] = field(default=())

    @property
    def operator(self) -> Operator:
        """The criterion's operator."""
        return self.criterion.operator

    @property
    def is_negative(self) -> bool:
        """Whether a blank field matches (negative operators and ``isNull``)."""
        return self.operator in NEGATIVE_OPERATORS or self.operator is Operator.IS_NULL

    def test_text(self, value: str) -> bool:
        """Answer for one non-blank, normalised text value (text and postal fields)."""
        op = self.operator
        if op is Operator.IS_NULL:
            return False
        if op is Operator.IS_NOT_NULL:
            return True
        if op in (Operator.EQUALS, Operator.IN_TABLE):
            if value in self.equal_values:
                return True
            if op is Operator.IN_TABLE and self.kind is FieldKind.POSTAL:
                z = zip5(value)
                return z is not None and f"{z:05d}" in self.equal_values
            return False
        if op is Operator.NOT_EQUAL:
            return value not in self.equal_values
        if op is Operator.CONTAINS:
            return any(t in value for t in self.texts)
        if op is Operator.NOT_CONTAIN:
            return not any(t in value for t in self.texts)
        if op is Operator.STARTS_WITH:
            return any(value.startswith(t) for t in self.texts)
        if op in (Operator.INCLUDES, Operator.EXCLUDES):
            chosen = {normalise_text(p) for p in value.split(";")} - {""}
            hit = any(group <= chosen for group in self.multi)
            return hit if op is Operator.INCLUDES else not hit
        # range operators
        if self.kind is FieldKind.POSTAL:
            z = zip5(value)
            if z is None:
                return False
            return self._in_ranges(float(z))
        return self._in_ranges(value)

    def test_number(self, value: float) -> bool:
        """Answer for one non-blank number (number fields)."""
        op = self.operator
        if op is Operator.IS_NULL:
            return False
        if op is Operator.IS_NOT_NULL:
            return True
        if op is Operator.EQUALS:
            return value in self.numbers
        if op is Operator.NOT_EQUAL:
            return value not in self.numbers
        if op is Operator.IN_TABLE:
            return _number_text(value) in self.equal_values
        return self._in_ranges(value)

    def _in_ranges(self, value: float | str) -> bool:
        for low, high, low_in, high_in in self.ranges:
            above = value >= low if low_in else value > low  # type: ignore[operator]
            below = value <= high if high_in else value < high  # type: ignore[operator]
            if above and below:
                return True
        return False


def _number_text(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


_LOW = {
    Operator.GREATER_THAN: False,
    Operator.GREATER_OR_EQUAL: True,
}
_HIGH = {
    Operator.LESS_THAN: False,
    Operator.LESS_OR_EQUAL: True,
}


def compile_criterion(
    criterion: Criterion,
    kind: FieldKind,
    value_sets: Mapping[str, frozenset[str]] | None = None,
) -> CompiledCriterion:
    """Check ``criterion`` against its field kind and prepare it for evaluation.

    ``value_sets`` maps a value-set name to its (raw) values for ``inTable``.

    Raises
    ------
    InputError
        When the operator does not apply to the field kind, a value is
        missing or malformed, a ``between`` is not ``low..high``, or an
        ``inTable`` names an unknown value set.

    Examples
    --------
    >>> c = compile_criterion(Criterion("billing_state", Operator.EQUALS, "CA, ny"),
    ...                       FieldKind.TEXT)
    >>> c.test_text("ny"), c.test_text("tx")
    (True, False)
    """
    op = criterion.operator
    raw = criterion.value
    if op in _NO_VALUE:
        return CompiledCriterion(criterion, kind, (criterion.field, op.value))
    if raw is None or not str(raw).strip():
        raise _bad(
            criterion,
            "the value is empty",
            "give a value, or use isNull / isNotNull to test for a blank field",
            "rule_value_missing",
        )
    if kind is FieldKind.NUMBER and op in _TEXT_ONLY:
        raise _bad(
            criterion,
            f"{op.value} does not apply to the number field '{criterion.field}'",
            "use equals, notEqual, lessThan ... between, or inTable",
            "rule_operator_field_kind",
        )
    if op is Operator.IN_TABLE:
        name = str(raw).strip()
        sets = value_sets or {}
        if name not in sets:
            raise _bad(
                criterion,
                f"value set {name!r} does not exist",
                "import the value set with the rules or fix its name",
                "rule_value_set_missing",
            )
        members = frozenset(normalise_text(v) for v in sets[name] if v.strip())
        if kind is FieldKind.NUMBER:
            members = frozenset(_number_text(_number(criterion, v)) for v in members)
        return CompiledCriterion(
            criterion,
            kind,
            (criterion.field, op.value, kind, name),
            equal_values=members,
        )
    values = split_values(str(raw))
    if not values:
        raise _bad(
            criterion,
            "the value list is empty",
            "give at least one value",
            "rule_value_missing",
        )
    key_values = tuple(sorted(normalise_text(v) for v in values))
    key = (criterion.field, op.value, kind, key_values)
    if op in (Operator.EQUALS, Operator.NOT_EQUAL):
        if kind is FieldKind.NUMBER:
            nums = tuple(sorted({_number(criterion, v) for v in values}))
            return CompiledCriterion(criterion, kind, key, numbers=nums)
        return CompiledCriterion(
            criterion, kind, key, equal_values=frozenset(key_values)
        )
    if op in (Operator.CONTAINS, Operator.NOT_CONTAIN, Operator.STARTS_WITH):
        return CompiledCriterion(criterion, kind, key, texts=key_values)
    if op in (Operator.INCLUDES, Operator.EXCLUDES):
        groups = tuple(
            frozenset(normalise_text(p) for p in v.split(";") if p.strip())
            for v in values
        )
        return CompiledCriterion(criterion, kind, key, multi=groups)
    ranges: list[tuple[float | str, float | str, bool, bool]] = []
    for v in values:
        if op is Operator.BETWEEN:
            if ".." not in v:
                raise _bad(
                    criterion,
                    f"{v!r} is not a range",
                    "write between as low..high, for example 1000..5000",
                    "rule_between_syntax",
                )
            lo_text, hi_text = (s.strip() for s in v.split("..", 1))
            if not lo_text or not hi_text:
                raise _bad(
                    criterion,
                    f"{v!r} lacks a bound",
                    "write between as low..high with both bounds",
                    "rule_between_syntax",
                )
            lo = _range_bound(criterion, kind, lo_text)
            hi = _range_bound(criterion, kind, hi_text)
            if lo > hi:  # type: ignore[operator]
                raise _bad(
                    criterion,
                    f"the low bound {lo_text!r} is above the high bound {hi_text!r}",
                    "swap the bounds",
                    "rule_between_order",
                )
            ranges.append((lo, hi, True, True))
            continue
        bound = _range_bound(criterion, kind, v)
        if op in _LOW:
            top: float | str = math.inf if kind is not FieldKind.TEXT else "\U0010ffff"
            ranges.append((bound, top, _LOW[op], True))
        else:
            bottom: float | str = -math.inf if kind is not FieldKind.TEXT else ""
            ranges.append((bottom, bound, True, _HIGH[op]))
    return CompiledCriterion(criterion, kind, key, ranges=tuple(ranges))

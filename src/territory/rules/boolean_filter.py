"""Boolean filters over numbered rule items, e.g. ``(1 AND 2) OR NOT 3``.

A recursive-descent parser turns the text into a small tree; nothing is ever
passed to ``eval``. The grammar follows Salesforce's filter logic:

    expr    := unary (("AND" unary)* | ("OR" unary)*)
    unary   := "NOT" unary | primary
    primary := NUMBER | "(" expr ")"

Mixing AND and OR at one level without parentheses is rejected, as are
references to missing items, unbalanced parentheses and items the filter never
uses.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from territory.errors import InputError

__all__ = ["FilterNode", "FilterOps", "evaluate_filter", "parse_filter", "used_items"]

T = TypeVar("T")

_TOKEN = re.compile(r"\s*(?:(\d+)|(\()|(\))|([A-Za-z]+)|(\S))")


@dataclass(frozen=True, slots=True)
class FilterNode:
    """A node of a parsed filter: ``op`` is ``item``, ``and``, ``or`` or ``not``.

    ``item`` is the 1-based item number for ``item`` nodes; ``children`` the
    operands otherwise.
    """

    op: str
    item: int = 0
    children: tuple[FilterNode, ...] = ()


def _error(text: str, rule: str, problem: str, hint: str, code: str) -> InputError:
    return InputError(
        f"Boolean filter {text!r} of rule '{rule}': {problem}; {hint}.",
        code=code,
        details={"rule": rule, "filter": text},
    )


def _tokens(text: str, rule: str) -> list[str]:
    out: list[str] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:  # only trailing blanks remain
            break
        pos = m.end()
        number, lpar, rpar, word, other = m.groups()
        if other is not None:
            raise _error(
                text,
                rule,
                f"unexpected character {other!r}",
                "use item numbers, AND, OR, NOT and parentheses only",
                "rule_filter_syntax",
            )
        if word is not None:
            upper = word.upper()
            if upper not in ("AND", "OR", "NOT"):
                raise _error(
                    text,
                    rule,
                    f"unknown word {word!r}",
                    "use item numbers, AND, OR, NOT and parentheses only",
                    "rule_filter_syntax",
                )
            out.append(upper)
        else:
            out.append(number or lpar or rpar)
    return out


class _Parser:
    def __init__(self, text: str, rule: str, n_items: int) -> None:
        self.text = text
        self.rule = rule
        self.n_items = n_items
        self.tokens = _tokens(text, rule)
        self.pos = 0

    def fail(self, problem: str, hint: str, code: str = "rule_filter_syntax") -> None:
        raise _error(self.text, self.rule, problem, hint, code)

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def expr(self) -> FilterNode:
        first = self.unary()
        joiner: str | None = None
        operands = [first]
        while self.peek() in ("AND", "OR"):
            tok = self.take()
            if joiner is not None and tok != joiner:
                self.fail(
                    "it mixes AND and OR without parentheses",
                    "add parentheses to say which comes first, e.g. (1 AND 2) OR 3",
                    "rule_filter_mixed",
                )
            joiner = tok
            operands.append(self.unary())
        if joiner is None:
            return first
        return FilterNode(joiner.lower(), children=tuple(operands))

    def unary(self) -> FilterNode:
        if self.peek() == "NOT":
            self.take()
            return FilterNode("not", children=(self.unary(),))
        return self.primary()

    def primary(self) -> FilterNode:
        tok = self.peek()
        if tok is None:
            self.fail(
                "it ends too early", "complete the expression after the last operator"
            )
        assert tok is not None
        if tok == "(":
            self.take()
            node = self.expr()
            if self.peek() != ")":
                self.fail(
                    "its parentheses are unbalanced (a '(' is never closed)",
                    "close every '(' with a ')'",
                    "rule_filter_parentheses",
                )
            self.take()
            return node
        if tok == ")":
            self.fail(
                "its parentheses are unbalanced (a ')' has no matching '(')"
                if self.tokens[: self.pos].count("(")
                <= self.tokens[: self.pos].count(")")
                else "it has empty parentheses or an operator before ')'",
                "open every ')' with a '(' and put an item inside",
                "rule_filter_parentheses",
            )
        if tok in ("AND", "OR"):
            self.fail(
                f"{tok} has no left operand",
                "put an item number before AND/OR",
            )
        self.take()
        number = int(tok)
        if not 1 <= number <= self.n_items:
            self.fail(
                f"item {number} does not exist (the rule has {self.n_items} "
                f"item{'s' if self.n_items != 1 else ''})",
                f"refer only to the items 1..{self.n_items}, or add the missing item",
                "rule_filter_missing_item",
            )
        return FilterNode("item", item=number)


def used_items(node: FilterNode) -> set[int]:
    """Return the item numbers a filter refers to."""
    if node.op == "item":
        return {node.item}
    out: set[int] = set()
    for child in node.children:
        out |= used_items(child)
    return out


def parse_filter(text: str | None, n_items: int, rule: str = "?") -> FilterNode:
    """Parse a boolean filter over ``n_items`` items; blank means all items ANDed.

    Raises
    ------
    InputError
        ``rule_filter_syntax``, ``rule_filter_parentheses``,
        ``rule_filter_mixed``, ``rule_filter_missing_item`` or
        ``rule_filter_unused_item``, each naming the rule and what to change.

    Examples
    --------
    >>> node = parse_filter("(1 AND 2) OR 3", 3)
    >>> node.op, [c.op for c in node.children]
    ('or', ['and', 'item'])
    """
    if text is None or not text.strip():
        if n_items == 0:
            return FilterNode("and")
        if n_items == 1:
            return FilterNode("item", item=1)
        return FilterNode(
            "and",
            children=tuple(FilterNode("item", item=i) for i in range(1, n_items + 1)),
        )
    parser = _Parser(text, rule, n_items)
    if not parser.tokens:
        return parse_filter(None, n_items, rule)
    node = parser.expr()
    if parser.peek() is not None:
        tok = parser.peek()
        if tok == ")":
            parser.fail(
                "its parentheses are unbalanced (a ')' has no matching '(')",
                "open every ')' with a '('",
                "rule_filter_parentheses",
            )
        parser.fail(
            f"{tok!r} follows a complete expression",
            "join items with AND or OR",
        )
    missing = sorted(set(range(1, n_items + 1)) - used_items(node))
    if missing:
        listed = ", ".join(str(i) for i in missing)
        raise _error(
            text,
            rule,
            f"item{'s' if len(missing) > 1 else ''} {listed} "
            f"{'are' if len(missing) > 1 else 'is'} never used",
            "use every item in the filter or delete the unused items",
            "rule_filter_unused_item",
        )
    return node


def evaluate_filter(node: FilterNode, item: Callable[[int], T], ops: FilterOps[T]) -> T:
    """Combine item results through the tree with ``ops`` (and/or/not/true)."""
    if node.op == "item":
        return item(node.item)
    if node.op == "not":
        return ops.not_(evaluate_filter(node.children[0], item, ops))
    if not node.children:
        return ops.true()
    results = [evaluate_filter(c, item, ops) for c in node.children]
    out = results[0]
    for r in results[1:]:
        out = ops.and_(out, r) if node.op == "and" else ops.or_(out, r)
    return out


class FilterOps(Generic[T]):
    """The boolean algebra a filter is evaluated in."""

    def __init__(
        self,
        and_: Callable[[T, T], T],
        or_: Callable[[T, T], T],
        not_: Callable[[T], T],
        true: Callable[[], T],
    ) -> None:
        self.and_ = and_
        self.or_ = or_
        self.not_ = not_
        self.true = true

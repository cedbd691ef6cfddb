"""Fixtures for rule tests; the builders live in ``rules_builders``."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rules_builders import build_rule_set, build_table

from territory.rules import AccountTable, RuleSet


@pytest.fixture
def make_rule_set() -> Callable[..., RuleSet]:
    """Return :func:`rules_builders.build_rule_set`."""
    return build_rule_set


@pytest.fixture
def make_table() -> Callable[..., AccountTable]:
    """Return :func:`rules_builders.build_table`."""
    return build_table

"""The Examples sections of the metrics modules run as tests."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "allocation",
    "categories",
    "balance",
    "compactness",
    "contiguity",
    "hierarchy",
    "load",
    "performance",
    "period",
    "potential",
]


@pytest.mark.parametrize("name", MODULES)
def test_examples_in_docstrings_hold(name: str) -> None:
    module = importlib.import_module(f"territory.metrics.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0

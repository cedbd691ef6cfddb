"""Fixtures of the performance tests: the hand-drawn plan of :mod:`performance_plan`.

Helpers live in that module (a uniquely named one: ``from conftest import``
picks whichever ``conftest`` a worker imported first).
"""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from performance_plan import build_plan


@pytest.fixture
def plan_engine(engine: Engine) -> Engine:
    """The ``engine`` store holding the model ``plan`` (see :mod:`performance_plan`)."""
    build_plan(engine)
    return engine

"""Roll-up through a three-level hierarchy.

::

    R (0)
    ├── D1 (1)
    │   ├── T1 (3)   own 5
    │   └── T2 (4)   own 7
    └── D2 (2)       own 1
        └── T3 (5)   own 11
"""

from __future__ import annotations

import pytest

from territory.errors import InputError
from territory.metrics import build_hierarchy

PARENT = [-1, 0, 0, 1, 1, 2]


def test_roll_up_three_levels() -> None:
    h = build_hierarchy(PARENT)
    own = [0.0, 0.0, 1.0, 5.0, 7.0, 11.0]
    assert h.roll_up(own).tolist() == [24.0, 12.0, 12.0, 5.0, 7.0, 11.0]
    assert h.depth.tolist() == [0, 1, 1, 2, 2, 2]
    assert h.root.tolist() == [0] * 6


def test_closure_pairs_every_node_with_each_ancestor() -> None:
    node, anc = build_hierarchy(PARENT).closure()
    pairs = sorted(zip(node.tolist(), anc.tolist(), strict=True))
    assert (5, 0) in pairs and (5, 2) in pairs and (5, 5) in pairs
    assert len(pairs) == 6 + 5 + 3  # self, parent, grandparent


def test_cycle_is_refused() -> None:
    with pytest.raises(InputError, match="cycle") as exc:
        build_hierarchy([1, 0])
    assert exc.value.code == "territory_cycle"

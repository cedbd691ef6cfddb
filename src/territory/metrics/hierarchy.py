"""The territory hierarchy as arrays: depth, top-level ancestor, closure, roll-up.

Territories are indexed ``0..n-1``; ``parent[i]`` is the index of ``i``'s
parent or ``-1`` for a top-level territory (a *region*). A parent's figures
include all its descendants: :meth:`Hierarchy.roll_up` adds each territory's
own values into every ancestor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from territory.errors import InputError

__all__ = ["Hierarchy", "build_hierarchy"]

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class Hierarchy:
    """A forest of territories.

    ``parent``, ``depth`` (0 at the top) and ``root`` (index of the top-level
    ancestor, itself for a region) all have shape ``(n,)``.
    """

    parent: IntArray
    depth: IntArray
    root: IntArray

    @property
    def n(self) -> int:
        """Return the number of territories."""
        return int(self.parent.shape[0])

    def closure(self) -> tuple[IntArray, IntArray]:
        """Return ``(node, ancestor)`` pairs, each node paired with itself too.

        Examples
        --------
        >>> h = build_hierarchy([-1, 0, 1])
        >>> [a.tolist() for a in h.closure()]
        [[0, 1, 2, 1, 2, 2], [0, 1, 2, 0, 1, 0]]
        """
        nodes = [np.arange(self.n, dtype=np.int64)]
        ancestors = [np.arange(self.n, dtype=np.int64)]
        cur = np.arange(self.n, dtype=np.int64)
        alive = cur
        while True:
            nxt = self.parent[cur]
            keep = nxt >= 0
            cur, alive = nxt[keep], alive[keep]
            if cur.size == 0:
                break
            nodes.append(alive)
            ancestors.append(cur)
        return np.concatenate(nodes), np.concatenate(ancestors)

    def roll_up(self, values: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Return each territory's own values plus those of all descendants.

        ``values`` has shape ``(n,)`` or ``(n, k)``.

        Examples
        --------
        >>> build_hierarchy([-1, 0, 1, 0]).roll_up([1.0, 2.0, 3.0, 4.0]).tolist()
        [10.0, 5.0, 3.0, 4.0]
        """
        v = np.asarray(values, dtype=np.float64)
        node, anc = self.closure()
        out = np.zeros_like(v)
        np.add.at(out, anc, v[node])
        return out


def build_hierarchy(parent: npt.ArrayLike) -> Hierarchy:
    """Build the hierarchy from parent indices (``-1`` for a top-level territory).

    Raises
    ------
    InputError
        When a parent index is out of range or the links form a cycle.

    Examples
    --------
    >>> h = build_hierarchy([-1, 0, 1])
    >>> h.depth.tolist(), h.root.tolist()
    ([0, 1, 2], [0, 0, 0])
    """
    p = np.asarray(parent, dtype=np.int64).ravel()
    n = p.shape[0]
    if n and (p.min() < -1 or p.max() >= n):
        raise InputError(
            "A territory names a parent outside the model; fix its parent id.",
            code="territory_parent_missing",
        )
    depth = np.zeros(n, dtype=np.int64)
    root = np.arange(n, dtype=np.int64)
    cur = p.copy()
    active = cur >= 0
    steps = 0
    while active.any():
        steps += 1
        if steps > n:
            stuck = np.flatnonzero(active)[:5].tolist()
            raise InputError(
                f"Territory parents form a cycle (territory indices {stuck}); "
                "break it by changing one parent.",
                code="territory_cycle",
            )
        depth[active] += 1
        root[active] = cur[active]
        cur[active] = p[cur[active]]
        active = cur >= 0
    return Hierarchy(parent=p, depth=depth, root=root)

"""Construction: recursive balanced bisection along random spanning trees.

Cutting one edge of a spanning tree splits a connected set of units into two
connected halves, so every territory this construction makes is contiguous.
Each split of a set of units holding territories ``T`` draws random spanning
trees (compiled, :mod:`territory.optimize.tree_kernel`) and scores the cut
above every tree node at once:

* which territories each side would hold: anchored territories (locked units,
  fixed centres) go with their anchors, and a cut that would separate two
  anchors of one territory is invalid; the free territories are shared out so
  that each side's targets best match its activities;
* the balance error of both sides on **every** activity, relative to the
  sides' own targets and in units of each activity's tolerance;
* the moment of inertia of both sides (sum of squared distances of the units
  to their side's centroid), so that among balanced cuts the most compact
  one wins.

Both sides are checked against their own targets, so an error made high in
the recursion is carried by the later splits instead of piling up in the last
territory. When a territory below a split cannot be balanced, the split
tries its next candidate cut (backtracking, within a work budget).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

from territory.optimize.problem import DesignProblem
from territory.optimize.tree_kernel import ACCEPT, draw_cuts

__all__ = ["tree_partition"]

#: Work of drawing one tree beyond its units (in units), for the budget.
OVERHEAD = 50

_Cut = tuple[float, float, np.ndarray, np.ndarray]


class _Partitioner:
    """State shared by the recursive splits of one construction.

    Works on *nodes*: the active units, with the connected anchors of one
    territory contracted into one node (``columns`` summed, edges merged), so
    that no tree cut can ever separate them.
    """

    def __init__(
        self,
        targets: np.ndarray,
        rng: np.random.Generator,
        tolerances: np.ndarray,
        rows: np.ndarray,
        cols: np.ndarray,
        length: np.ndarray,
        columns: np.ndarray,
        anchor_of: np.ndarray,
        max_tries: int,
        retries: int,
        deadline: float | None,
        work: int,
    ) -> None:
        n = columns.shape[0]
        self.p, self.m = targets.shape
        self.targets = targets
        self.rng = rng
        self.inv_tol = 1.0 / np.maximum(tolerances, 1e-3)
        self.anchored = np.zeros(self.p, dtype=bool)
        self.anchored[anchor_of[anchor_of >= 0]] = True
        self.anchor_of = anchor_of
        self.rows, self.cols = rows, cols
        mean = length.mean() if length.size else 0.0
        self.length = length / (mean if mean > 0 else 1.0)
        self.columns = columns
        self.index = np.full(n, -1, dtype=np.int64)
        self.max_tries = max_tries
        self.deadline = deadline
        self.retries = retries
        self.work = work  # tree nodes left to draw
        self.labels = np.full(n, -1, dtype=np.int64)
        self.mask = np.zeros(n, dtype=bool)

    def late(self) -> bool:
        return self.work <= 0 or (
            self.deadline is not None and time.perf_counter() > self.deadline
        )

    def cuts(
        self, units: np.ndarray, terr: np.ndarray, edges: np.ndarray
    ) -> Iterator[tuple[float, np.ndarray, np.ndarray, np.ndarray]]:
        """Candidate cuts of ``units``, best first, drawn lazily.

        Each candidate is ``(tier, units of side a, territories of side a,
        edges inside units)``. The first trees are drawn until one has a cut
        within :data:`GOOD` of every tolerance (or, after four trees, within
        :data:`ACCEPT`), and their best cuts come out ordered: by tier, the
        most compact first within a tier. After them, each further candidate
        is the best cut of a new tree.
        """
        terr_anch = terr[self.anchored[terr]]
        terr_free = terr[~self.anchored[terr]]
        index = self.index
        index[units] = np.arange(units.size)
        r, c = index[self.rows[edges]], index[self.cols[edges]]
        index[units] = -1
        inside = (r >= 0) & (c >= 0)
        edges = edges[inside]
        r, c = r[inside], c[inside]
        values = self.columns[units]
        g = terr_anch.size
        if g:
            col_of = np.full(self.p, -1, dtype=np.int64)
            col_of[terr_anch] = np.arange(g)
            ind = np.zeros((units.size, g))
            own = self.anchor_of[units]
            hit = own >= 0
            ind[np.flatnonzero(hit), col_of[own[hit]]] = 1.0
            values = np.hstack([values, ind])
        values = np.ascontiguousarray(values)
        t_free = self.targets[terr_free]
        prefix = np.ascontiguousarray(
            np.vstack([np.zeros(self.m), np.cumsum(t_free, axis=0)])
        )
        mean_free = t_free.mean(axis=0) if terr_free.size else np.zeros(self.m)
        a0 = int(np.argmax(mean_free * self.inv_tol)) if terr_free.size else 0
        args = (
            r,
            c,
            np.ascontiguousarray(self.length[edges]),
            values,
            self.m,
            self.inv_tol,
            g,
            np.ascontiguousarray(self.targets[terr_anch]).reshape(g, self.m),
            prefix,
            self.targets[terr].sum(axis=0),
            mean_free,
            a0,
            int(terr.size),
        )

        def draw(n_trees: int, early: bool) -> list[_Cut]:
            tier = np.empty(n_trees)
            rank = np.empty(n_trees)
            jj = np.zeros(n_trees, dtype=np.int64)
            in_a = np.zeros((n_trees, g), dtype=np.bool_)
            mark = np.zeros((n_trees, units.size), dtype=np.bool_)
            state = self.rng.integers(1, 2**62, size=1).astype(np.uint64)
            drawn = draw_cuts(n_trees, early, *args, state, tier, rank, jj, in_a, mark)
            self.work -= drawn * (units.size + OVERHEAD)
            return [
                (
                    float(tier[t]),
                    float(rank[t]),
                    units[mark[t]],
                    np.sort(np.concatenate([terr_anch[in_a[t]], terr_free[: jj[t]]])),
                )
                for t in range(drawn)
                if np.isfinite(tier[t])
            ]

        first = draw(1 if self.late() else self.max_tries, True)
        first.sort(key=lambda f: (f[0], f[1]))
        for tier, _, side_units, side_terr in first:
            yield tier, side_units, side_terr, edges
        for _ in range(self.max_tries):
            if self.late():
                return
            for tier, _, side_units, side_terr in draw(1, False):
                yield tier, side_units, side_terr, edges

    def split(
        self, units: np.ndarray, terr: np.ndarray, edges: np.ndarray
    ) -> float | None:
        """Label ``units`` with ``terr``; return the worst tier, None if stuck."""
        if terr.size == 1:
            self.labels[units] = terr[0]
            return 0.0
        if units.size < terr.size:
            return None
        best_worst = np.inf
        best_labels: np.ndarray | None = None
        mask = self.mask
        for attempt, (tier, side_units, side_terr, inner) in enumerate(
            self.cuts(units, terr, edges)
        ):
            if attempt > self.retries or (attempt and self.late()):
                break
            mask[side_units] = True
            other_units = units[~mask[units]]
            mask[side_units] = False
            other_terr = np.setdiff1d(terr, side_terr)
            wa = self.split(side_units, side_terr, inner)
            wb = None if wa is None else self.split(other_units, other_terr, inner)
            if wa is None or wb is None:
                continue
            worst = max(tier, wa, wb)
            if worst < best_worst:
                best_worst = worst
                best_labels = self.labels[units].copy()
            if worst <= ACCEPT:
                return worst
        if best_labels is None:
            return None
        self.labels[units] = best_labels
        return best_worst


def tree_partition(
    problem: DesignProblem,
    adjacency: sp.csr_array,
    targets: np.ndarray,
    rng: np.random.Generator,
    *,
    tolerances: np.ndarray | None = None,
    active: np.ndarray | None = None,
    anchors: Mapping[int, int] | None = None,
    max_tries: int = 12,
    retries: int = 3,
    work: float = 40.0,
    deadline: float | None = None,
) -> np.ndarray | None:
    """Partition the active units into ``len(targets)`` contiguous territories.

    ``anchors`` maps units to the territory that must hold them (locked
    units, fixed centres). Returns the labels (``-1`` outside ``active``), or
    None when no spanning tree gives a valid cut (anchors of one territory
    that cannot share a side, or too few units for the territories).

    Each split draws up to ``max_tries`` trees, fewer once a cut within
    :data:`GOOD` (or, after four trees, :data:`ACCEPT`) of every tolerance
    is found, and takes the most compact such cut. When a territory below it
    cannot be balanced within :data:`ACCEPT`, the split tries its next cut,
    up to ``retries`` more (one fewer at each level down). The number of
    trees is capped at ``40 p``; past the cap or ``deadline``
    (``time.perf_counter``) every split takes its first cut.
    """
    n = problem.n_units
    p = targets.shape[0]
    tol = problem.tolerances if tolerances is None else np.asarray(tolerances)
    is_active = np.ones(n, dtype=bool) if active is None else np.asarray(active)
    coo = sp.coo_array(adjacency)
    keep = (coo.row < coo.col) & is_active[coo.row] & is_active[coo.col]
    rows = coo.row[keep].astype(np.int64)
    cols = coo.col[keep].astype(np.int64)
    length = np.asarray(problem.distance(rows, cols), dtype=np.float64)
    # nodes: every active unit, the connected anchors of one territory as one
    anchor_unit = np.full(n, -1, dtype=np.int64)
    for u, k in (anchors or {}).items():
        if is_active[int(u)]:
            anchor_unit[int(u)] = int(k)
    same = (anchor_unit[rows] >= 0) & (anchor_unit[rows] == anchor_unit[cols])
    glue = sp.coo_array(
        (np.ones(int(same.sum())), (rows[same], cols[same])), shape=(n, n)
    )
    _, node_of = csgraph.connected_components(glue, directed=False)
    node_of = np.where(is_active, node_of, -1)
    used = np.unique(node_of[node_of >= 0])
    renumber = np.full(n, -1, dtype=np.int64)
    renumber[used] = np.arange(used.size)
    node_of = np.where(node_of >= 0, renumber[np.maximum(node_of, 0)], -1)
    n_nodes = used.size
    if problem.coords is not None:
        xy = problem.coords
    else:
        # no coordinates: a rough embedding, the distances to two far units
        assert problem.distances is not None
        first = int(np.flatnonzero(is_active)[0])
        far = int(np.argmax(np.where(is_active, problem.distances[first], -1)))
        xy = np.column_stack([problem.distances[first], problem.distances[far]])
    geo = np.column_stack([np.ones(n), xy[:, 0], xy[:, 1], (xy * xy).sum(axis=1)])
    unit_cols = np.hstack([problem.weights, geo])
    columns = np.zeros((n_nodes, unit_cols.shape[1]))
    np.add.at(columns, node_of[is_active], unit_cols[is_active])
    anchor_of = np.full(n_nodes, -1, dtype=np.int64)
    hit = anchor_unit >= 0
    anchor_of[node_of[hit]] = anchor_unit[hit]
    a, b = node_of[rows], node_of[cols]
    cross = a != b
    a, b, length = np.minimum(a, b)[cross], np.maximum(a, b)[cross], length[cross]
    order = np.lexsort((length, b, a))
    a, b, length = a[order], b[order], length[order]
    first_of_pair = np.r_[True, (np.diff(a) != 0) | (np.diff(b) != 0)]
    a, b, length = a[first_of_pair], b[first_of_pair], length[first_of_pair]
    part = _Partitioner(
        targets,
        rng,
        tol,
        a,
        b,
        length,
        columns,
        anchor_of,
        max_tries,
        retries,
        deadline,
        work=int(work * n_nodes * max(1.0, np.log2(p))),
    )
    worst = part.split(np.arange(n_nodes), np.arange(p), np.arange(a.size))
    if worst is None:
        return None
    labels = np.full(n, -1, dtype=np.int64)
    labels[is_active] = part.labels[node_of[is_active]]
    return labels

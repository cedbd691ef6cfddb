"""Proof that no contiguous plan balances a piece of the map behind one unit.

When removing one unit ``v`` (an articulation point) cuts a piece ``C`` off
the map, every territory that holds units of ``C`` either lies wholly inside
``C`` or holds ``v`` itself: a connected territory cannot reach ``C`` any
other way, and only one territory holds ``v``. So ``C`` must be ``j`` whole
territories, each within every tolerance, plus a remainder that joins the
territory of ``v`` (within its upper tolerance, ``v`` included). Sparse maps
(road-like graphs, grids with many cells removed) have such pieces, and a
piece whose activities are lopsided (a territory's worth of units holding
112 % of a territory's demand, say) leaves no balanced contiguous plan at
all, whatever the search does.

For each piece, the counts ``j`` that the activity totals allow are found
first; each is then decided by a small MIP (HiGHS): assignment of the piece's
units to the ``j`` territories or the remainder, balance rows, and
single-commodity flows that keep each territory connected (from a root it
chooses) and the remainder connected to ``v``. When every count is
infeasible, the piece is proven unbalanceable. The contiguity flow is the
formulation of Shirabe (2005), "A model of contiguity for spatial unit
allocation", *Geographical Analysis* 37(1).
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

from territory.optimize.problem import DesignOptions, DesignProblem
from territory.optimize.result import CutOffPiece, InfeasibilityDiagnosis

__all__ = [
    "articulation_units",
    "diagnose_pieces",
    "find_unbalanceable_piece",
    "explain_cut_off",
]

#: Pieces needing more whole territories than this are not decided.
MAX_WHOLE = 3


def articulation_units(adjacency: sp.csr_array) -> np.ndarray:
    """Return the units whose removal disconnects their component, sorted.

    Iterative depth-first search with low points (Hopcroft and Tarjan 1973),
    ``O(n + edges)``.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> path = sp.csr_array(([1.0] * 4, ([0, 1, 1, 2], [1, 0, 2, 1])), shape=(3, 3))
    >>> articulation_units(path).tolist()
    [1]
    """
    adj = sp.csr_array(adjacency)
    n = adj.shape[0]
    indptr, indices = adj.indptr, adj.indices
    order = np.full(n, -1, dtype=np.int64)
    low = np.zeros(n, dtype=np.int64)
    parent = np.full(n, -1, dtype=np.int64)
    is_cut = np.zeros(n, dtype=bool)
    nxt = indptr[:-1].astype(np.int64).copy()
    clock = 0
    for root in range(n):
        if order[root] >= 0:
            continue
        order[root] = low[root] = clock
        clock += 1
        children = 0
        stack = [root]
        while stack:
            u = stack[-1]
            if nxt[u] < indptr[u + 1]:
                w = int(indices[nxt[u]])
                nxt[u] += 1
                if order[w] < 0:
                    parent[w] = u
                    order[w] = low[w] = clock
                    clock += 1
                    if u == root:
                        children += 1
                    stack.append(w)
                elif w != parent[u]:
                    low[u] = min(low[u], order[w])
            else:
                stack.pop()
                pu = int(parent[u])
                if pu >= 0:
                    low[pu] = min(low[pu], low[u])
                    if pu != root and low[u] >= order[pu]:
                        is_cut[pu] = True
        if children > 1:
            is_cut[root] = True
    return np.flatnonzero(is_cut)


def _whole_counts(
    piece_w: np.ndarray, unit_w: np.ndarray, lo: np.ndarray, hi: np.ndarray, p: int
) -> list[int]:
    """Counts ``j`` of whole territories the piece's totals allow.

    ``j`` territories hold between ``j lo`` and ``j hi``; the rest of the
    piece, at most ``hi - unit_w``, joins the cutting unit's territory.
    """
    counts = []
    for j in range(p):
        low = np.maximum(j * lo, piece_w - (hi - unit_w))
        high = np.minimum(j * hi, piece_w)
        if np.all(low <= high + 1e-9 * np.maximum(1.0, np.abs(high))):
            counts.append(j)
    return counts


def _split_exists(
    adj: sp.csr_array,
    piece: np.ndarray,
    v: int,
    weights: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    j: int,
    time_limit_s: float,
) -> bool | None:
    """Whether ``piece`` splits into ``j`` balanced connected territories plus a
    remainder connected to ``v`` within ``hi - weights[v]``; None if undecided.
    """
    from territory.optimize.exact import _Model, _solve

    size = piece.size
    big = float(size)
    local = np.full(adj.shape[0], -1, dtype=np.int64)
    local[piece] = np.arange(size)
    sub = sp.coo_array(adj[piece][:, piece])
    arcs = list(zip(sub.row.tolist(), sub.col.tolist(), strict=True))
    touches_v = np.zeros(size, dtype=bool)
    nbrs = adj.indices[adj.indptr[v] : adj.indptr[v + 1]]
    touches_v[local[nbrs[local[nbrs] >= 0]]] = True
    model = _Model()
    classes = j + 1  # class 0: the remainder, joined to v's territory
    x = [[model.var(0, 1, integer=True) for _ in range(classes)] for _ in range(size)]
    for i in range(size):
        model.row(x[i], [1.0] * classes, 1.0, 1.0)
    w = weights[piece]
    for t in range(classes):
        col = [x[i][t] for i in range(size)]
        for a in range(weights.shape[1]):
            vals = [float(w[i, a]) for i in range(size)]
            if t == 0:
                model.row(col, vals, -np.inf, float(hi[a] - weights[v, a]))
            else:
                model.row(col, vals, float(lo[a]), float(hi[a]))
    for t in range(classes):
        # one unit of flow reaches every unit of class t, from its source:
        # v for the remainder, a chosen root for each territory
        flow = [model.var(0, big) for _ in arcs]
        source = [model.var(0, big) for _ in range(size)]
        if t == 0:
            for i in range(size):
                if not touches_v[i]:
                    model.row([source[i]], [1.0], 0.0, 0.0)
                model.row([source[i], x[i][0]], [1.0, -big], -np.inf, 0.0)
        else:
            root = [model.var(0, 1, integer=True) for _ in range(size)]
            model.row(root, [1.0] * size, 1.0, 1.0)
            for i in range(size):
                model.row([root[i], x[i][t]], [1.0, -1.0], -np.inf, 0.0)
                model.row([source[i], root[i]], [1.0, -big], -np.inf, 0.0)
        into: list[list[int]] = [[] for _ in range(size)]
        out: list[list[int]] = [[] for _ in range(size)]
        for e, (a_, b_) in enumerate(arcs):
            out[a_].append(flow[e])
            into[b_].append(flow[e])
            model.row([flow[e], x[a_][t]], [1.0, -big], -np.inf, 0.0)
            model.row([flow[e], x[b_][t]], [1.0, -big], -np.inf, 0.0)
        for i in range(size):
            model.row(
                [source[i], *into[i], *out[i], x[i][t]],
                [1.0] + [1.0] * len(into[i]) + [-1.0] * len(out[i]) + [-1.0],
                0.0,
                0.0,
            )
    status, _, _, _ = _solve(model, time_limit_s, 0)
    if status == "infeasible":
        return False
    if status == "optimal":
        return True
    return None


def find_unbalanceable_piece(
    problem: DesignProblem,
    options: DesignOptions,
    targets: np.ndarray,
    *,
    adjacency: sp.csr_array | None = None,
    budget_s: float = 2.0,
) -> CutOffPiece | None:
    """Return a piece behind one unit that no contiguous plan balances, if found.

    Applies to contiguous plans with equal targets and no locks or centres
    (a pinned unit could change which territory reaches a piece); returns
    None otherwise, and when nothing is proven within ``budget_s``. Pieces
    are tried smallest first, at most half of the map each; a piece that
    would need more than :data:`MAX_WHOLE` whole territories is not decided.
    ``adjacency`` is the graph the plan must be contiguous in (bridges
    included); the problem's by default.
    """
    if (
        not options.contiguity
        or options.locked
        or (options.centers is not None and any(c >= 0 for c in options.centers))
        or not np.allclose(targets, targets[0])
    ):
        return None
    started = time.perf_counter()
    adj = sp.csr_array(problem.adjacency if adjacency is None else adjacency)
    n = adj.shape[0]
    p = options.n_territories
    weights = problem.weights
    lo = targets[0] * (1 - problem.tolerances)
    hi = targets[0] * (1 + problem.tolerances)
    candidates: list[tuple[int, int, int, np.ndarray, list[int]]] = []
    keep = np.ones(n, dtype=bool)
    for v in articulation_units(adj):
        v = int(v)
        keep[v] = False
        rest = sp.csr_array(adj[keep][:, keep])
        keep[v] = True
        _, lab = csgraph.connected_components(rest, directed=False)
        others = np.flatnonzero(np.arange(n) != v)
        sizes = np.bincount(lab)
        for c in np.flatnonzero(sizes <= n // 2):
            piece = others[lab == c]
            counts = _whole_counts(weights[piece].sum(axis=0), weights[v], lo, hi, p)
            if counts and counts[0] == 0:
                continue  # the piece may simply join v's territory
            if counts and counts[-1] > MAX_WHOLE:
                continue
            candidates.append((len(counts), int(piece.size), v, piece, counts))
        if time.perf_counter() - started > budget_s:
            return None
    # the fewest counts to decide first, then the smallest pieces
    candidates.sort(key=lambda c: (c[0], c[1], c[2]))
    for _, _, v, piece, counts in candidates:
        proven = True
        for j in counts:
            left = budget_s - (time.perf_counter() - started)
            if left <= 0:
                return None
            if _split_exists(adj, piece, v, weights, lo, hi, j, left) is not False:
                proven = False
                break
        if proven:
            shares = weights[piece].sum(axis=0) / targets[0]
            return CutOffPiece(
                unit=v,
                units=tuple(int(u) for u in piece),
                shares=tuple(float(x) for x in shares),
                whole=tuple(counts),
            )
    return None


def explain_cut_off(whole: tuple[int, ...], who: str) -> str:
    """Why no split of a cut-off piece works, given the counts its totals allow."""
    if not whole:
        return (
            "No number of whole territories matches their totals, and they are "
            f"too much to join the territory of {who}."
        )
    counts = " or ".join(str(j) for j in whole)
    noun = "territory" if whole == (1,) else "territories"
    return (
        f"They would have to form {counts} whole {noun}, with the rest joining "
        f"the territory of {who}, and no such split is balanced and connected."
    )


def diagnose_pieces(
    problem: DesignProblem,
    options: DesignOptions,
    targets: np.ndarray,
    *,
    adjacency: sp.csr_array | None = None,
    budget_s: float = 2.0,
) -> InfeasibilityDiagnosis | None:
    """Return why no contiguous plan balances a piece of the map, or None.

    Wraps :func:`find_unbalanceable_piece` in a diagnosis whose message names
    the cutting unit, the piece's size and its activity shares.
    """
    piece = find_unbalanceable_piece(
        problem, options, targets, adjacency=adjacency, budget_s=budget_s
    )
    if piece is None:
        return None
    m = problem.n_activities
    names = problem.activity_names
    tol = problem.tolerances
    shares = ", ".join(f"{names[a]} {piece.shares[a]:.1%}" for a in range(m))
    limits = ", ".join(f"{names[a]} ±{tol[a]:.2%}" for a in range(m))
    message = (
        f"No contiguous plan meets {limits}: unit {piece.unit} alone joins "
        f"{len(piece.units)} units to the rest of the map, and they hold {shares} "
        f"of a territory's target. {explain_cut_off(piece.whole, f'unit {piece.unit}')}"
    )
    return InfeasibilityDiagnosis(
        oversize_units={},
        lower_bounds=np.zeros(m),
        reached=np.full(m, np.nan),
        message=message,
        cut_off=piece,
    )

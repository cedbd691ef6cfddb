"""Compiled core of the spanning-tree construction: draw trees, score every cut.

:func:`draw_cuts` draws random spanning trees of one connected set of units
(Kruskal on jittered edge lengths) and, for each tree, scores the cut above
every node at once from subtree sums: which territories each side would hold,
the balance error of both sides, and their moment of inertia. See
:mod:`territory.optimize.tree` for the recursion that uses it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = ["ACCEPT", "GOOD", "draw_cuts"]

#: A cut within this share of every tolerance ends the drawing of trees.
GOOD = 0.35
#: A cut within this share of every tolerance is acceptable.
ACCEPT = 0.9
#: Edge weights are ``length * (JITTER + uniform(0, 1))``.
JITTER = 0.05


@njit(cache=True)
def _rand(state: npt.NDArray[np.uint64]) -> float:
    x = state[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    state[0] = x
    return (
        float((x * np.uint64(2685821657736338717)) >> np.uint64(11))
        / 9007199254740992.0
    )


@njit(cache=True)
def _find(parent: npt.NDArray[np.int64], x: int) -> int:
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:
        nxt = parent[x]
        parent[x] = root
        x = nxt
    return root


@njit(cache=True)
def _spanning_tree(
    er: npt.NDArray[np.int64],
    ec: npt.NDArray[np.int64],
    elen: npt.NDArray[np.float64],
    state: npt.NDArray[np.uint64],
    weight: npt.NDArray[np.float64],
    parent: npt.NDArray[np.int64],
    te: npt.NDArray[np.int64],
    deg: npt.NDArray[np.int64],
    tadj: npt.NDArray[np.int64],
    fill: npt.NDArray[np.int64],
    order: npt.NDArray[np.int64],
    pred: npt.NDArray[np.int64],
    seen: npt.NDArray[np.bool_],
) -> int:
    """Draw a random spanning tree (Kruskal on jittered lengths), BFS it.

    Fills ``order`` (breadth-first from a random root) and ``pred``; returns
    the root, or -1 when the edges do not connect the units.
    """
    n = order.shape[0]
    ne = er.shape[0]
    for e in range(ne):
        weight[e] = elen[e] * (JITTER + _rand(state)) + 1e-12
    by = np.argsort(weight)
    for i in range(n):
        parent[i] = i
    k = 0
    for q in range(ne):
        if k == n - 1:
            break
        e = by[q]
        ra = _find(parent, er[e])
        rb = _find(parent, ec[e])
        if ra != rb:
            parent[ra] = rb
            te[k, 0] = er[e]
            te[k, 1] = ec[e]
            k += 1
    if k < n - 1:
        return -1
    for i in range(n + 1):
        deg[i] = 0
    for i in range(k):
        deg[te[i, 0] + 1] += 1
        deg[te[i, 1] + 1] += 1
    for i in range(n):
        deg[i + 1] += deg[i]
    for i in range(n + 1):
        fill[i] = deg[i]
    for i in range(k):
        a = te[i, 0]
        b = te[i, 1]
        tadj[fill[a]] = b
        fill[a] += 1
        tadj[fill[b]] = a
        fill[b] += 1
    root = int(_rand(state) * n)
    for i in range(n):
        seen[i] = False
    seen[root] = True
    order[0] = root
    pred[root] = -1
    head = 0
    tail = 1
    while head < tail:
        x = order[head]
        head += 1
        for f in range(deg[x], deg[x + 1]):
            y = tadj[f]
            if not seen[y]:
                seen[y] = True
                pred[y] = x
                order[tail] = y
                tail += 1
    return root


@njit(cache=True)
def draw_cuts(
    n_trees: int,
    stop_early: bool,
    er: npt.NDArray[np.int64],
    ec: npt.NDArray[np.int64],
    elen: npt.NDArray[np.float64],
    values: npt.NDArray[np.float64],
    m: int,
    inv_tol: npt.NDArray[np.float64],
    n_anch: int,
    t_anch: npt.NDArray[np.float64],
    prefix: npt.NDArray[np.float64],
    t_total: npt.NDArray[np.float64],
    mean_free: npt.NDArray[np.float64],
    a0: int,
    n_terr: int,
    state: npt.NDArray[np.uint64],
    out_tier: npt.NDArray[np.float64],
    out_rank: npt.NDArray[np.float64],
    out_j: npt.NDArray[np.int64],
    out_in: npt.NDArray[np.bool_],
    out_mark: npt.NDArray[np.bool_],
) -> int:
    """Draw up to ``n_trees`` spanning trees; keep each tree's best cut.

    ``er, ec, elen``: the edges of the set (local indices) and their lengths.
    ``values`` columns: ``m`` activities, unit count, x, y, x² + y², then one
    column per anchored territory (1 on its anchors). A cut is valid when no
    anchored territory has anchors on both sides; side a (the subtree) then
    holds the anchored territories whose anchors it contains and ``j`` free
    territories (``prefix[j]`` their targets), ``j`` chosen so that its
    targets best match its activities.

    Per tree ``t``: ``out_tier[t]`` is :data:`GOOD` or :data:`ACCEPT` when the
    best cut is within that share of every tolerance (the most compact such
    cut, ``out_rank`` its moment), else ``ACCEPT + 1 + error`` (the most
    balanced cut); ``inf`` when no cut is valid. ``out_j`` and ``out_in``
    give side a's free count and anchored territories, ``out_mark`` its units.
    With ``stop_early``, drawing stops at a GOOD cut, or at an ACCEPT cut
    after four trees. Returns the number of trees drawn.
    """
    n = values.shape[0]
    c = values.shape[1]
    ne = er.shape[0]
    n_free = prefix.shape[0] - 1
    weight = np.empty(ne)
    parent = np.empty(n, dtype=np.int64)
    deg = np.zeros(n + 1, dtype=np.int64)
    tadj = np.empty(2 * n, dtype=np.int64)
    te = np.empty((n, 2), dtype=np.int64)
    fill = np.empty(n + 1, dtype=np.int64)
    order = np.empty(n, dtype=np.int64)
    pred = np.empty(n, dtype=np.int64)
    seen = np.zeros(n, dtype=np.bool_)
    sub = np.empty((n, c))
    t_a = np.empty(m)
    drawn = 0
    best_overall = np.inf
    for t in range(n_trees):
        drawn += 1
        out_tier[t] = np.inf
        out_rank[t] = np.inf
        root = _spanning_tree(
            er,
            ec,
            elen,
            state,
            weight,
            parent,
            te,
            deg,
            tadj,
            fill,
            order,
            pred,
            seen,
        )
        if root < 0:
            continue  # not connected
        # subtree sums
        for i in range(n):
            for j in range(c):
                sub[i, j] = values[i, j]
        for q in range(n - 1, 0, -1):
            x = order[q]
            px = pred[x]
            for j in range(c):
                sub[px, j] += sub[x, j]
        # score the cut above every node
        best_tier = np.inf
        best_rank = np.inf
        best_v = -1
        best_jv = 0
        for q in range(1, n):
            v = order[q]
            na = 0
            valid = True
            for g in range(n_anch):
                s = sub[v, m + 4 + g]
                full = sub[root, m + 4 + g]
                if s > 0.5:
                    if abs(s - full) > 0.5:
                        valid = False
                        break
                    na += 1
            if not valid:
                continue
            for a in range(m):
                t_a[a] = 0.0
            for g in range(n_anch):
                if sub[v, m + 4 + g] > 0.5:
                    for a in range(m):
                        t_a[a] += t_anch[g, a]
            cnt_a = sub[v, m]
            cnt_b = sub[root, m] - cnt_a
            est = 0.0
            if n_free > 0 and mean_free[a0] > 0:
                est = (sub[v, a0] - t_a[a0]) / mean_free[a0]
            base = int(np.floor(est))
            err_v = np.inf
            j_v = 0
            for dj in range(2):
                j = base + dj
                if j < 0:
                    j = 0
                if j > n_free:
                    j = n_free
                ka = na + j
                if ka < 1 or ka > n_terr - 1:
                    continue
                if cnt_a < ka or cnt_b < n_terr - ka:
                    continue
                err = 0.0
                for a in range(m):
                    ta = t_a[a] + prefix[j, a]
                    tb = t_total[a] - ta
                    va = sub[v, a]
                    vb = sub[root, a] - va
                    ea = abs(va / ta - 1.0) if ta > 0 else (1e9 if va > 0 else 0.0)
                    eb = abs(vb / tb - 1.0) if tb > 0 else (1e9 if vb > 0 else 0.0)
                    e = max(ea, eb) * inv_tol[a]
                    if e > err:
                        err = e
                if err < err_v:
                    err_v = err
                    j_v = j
            if err_v == np.inf:
                continue
            if err_v <= GOOD:
                tier = GOOD
            elif err_v <= ACCEPT:
                tier = ACCEPT
            else:
                tier = ACCEPT + 1.0 + err_v
            rank = 0.0
            if tier <= ACCEPT:
                sx = sub[v, m + 1]
                sy = sub[v, m + 2]
                rx = sub[root, m + 1] - sx
                ry = sub[root, m + 2] - sy
                rank = (sub[v, m + 3] - (sx * sx + sy * sy) / cnt_a) + (
                    (sub[root, m + 3] - sub[v, m + 3]) - (rx * rx + ry * ry) / cnt_b
                )
            if tier < best_tier or (tier == best_tier and rank < best_rank):
                best_tier = tier
                best_rank = rank
                best_v = v
                best_jv = j_v
        if best_v < 0:
            continue
        out_tier[t] = best_tier
        out_rank[t] = best_rank
        out_j[t] = best_jv
        for g in range(n_anch):
            out_in[t, g] = sub[best_v, m + 4 + g] > 0.5
        for i in range(n):
            out_mark[t, i] = False
        out_mark[t, best_v] = True
        for q in range(1, n):
            x = order[q]
            if out_mark[t, pred[x]]:
                out_mark[t, x] = True
        if best_tier < best_overall:
            best_overall = best_tier
        if stop_early and (best_overall <= GOOD or (t >= 3 and best_overall <= ACCEPT)):
            break
    return drawn


@njit(cache=True)
def recombine(
    n_trees: int,
    er: npt.NDArray[np.int64],
    ec: npt.NDArray[np.int64],
    elen: npt.NDArray[np.float64],
    w: npt.NDArray[np.float64],
    t_a: npt.NDArray[np.float64],
    t_b: npt.NDArray[np.float64],
    tol: npt.NDArray[np.float64],
    xy: npt.NDArray[np.float64],
    dmat: npt.NDArray[np.float64],
    use_mat: bool,
    side: npt.NDArray[np.int64],
    cap: float,
    state: npt.NDArray[np.uint64],
    out_a: npt.NDArray[np.bool_],
) -> float:
    """Re-split two neighbouring territories along random spanning trees.

    The units (local indices) of territories a and b are merged; each tree's
    cuts that keep both sides within ``tol`` of their targets ``t_a`` and
    ``t_b`` (either side may become a), and keep every ``side`` pin (1: must
    stay in a, 2: in b), are scored by the larger of the two diameters. The
    best split below ``cap`` is written into ``out_a`` (True: to a) and its
    larger diameter returned; ``inf`` when no tree gives one.
    """
    n = w.shape[0]
    m = w.shape[1]
    ne = er.shape[0]
    weight = np.empty(ne)
    parent = np.empty(n, dtype=np.int64)
    deg = np.zeros(n + 1, dtype=np.int64)
    tadj = np.empty(2 * n, dtype=np.int64)
    te = np.empty((n, 2), dtype=np.int64)
    fill = np.empty(n + 1, dtype=np.int64)
    order = np.empty(n, dtype=np.int64)
    pred = np.empty(n, dtype=np.int64)
    seen = np.zeros(n, dtype=np.bool_)
    sub = np.empty((n, m + 2))
    d = np.empty((n, n))
    for i in range(n):
        d[i, i] = 0.0
        for j in range(i + 1, n):
            if use_mat:
                x = dmat[i, j]
            else:
                dx = xy[i, 0] - xy[j, 0]
                dy = xy[i, 1] - xy[j, 1]
                x = np.sqrt(dx * dx + dy * dy)
            d[i, j] = x
            d[j, i] = x
    total = np.zeros(m + 2)
    for i in range(n):
        for a in range(m):
            total[a] += w[i, a]
        if side[i] == 1:
            total[m] += 1.0
        elif side[i] == 2:
            total[m + 1] += 1.0
    mark = np.zeros(n, dtype=np.bool_)
    ins = np.empty(n, dtype=np.int64)
    outs = np.empty(n, dtype=np.int64)
    best = cap
    found = False
    for _t in range(n_trees):
        root = _spanning_tree(
            er,
            ec,
            elen,
            state,
            weight,
            parent,
            te,
            deg,
            tadj,
            fill,
            order,
            pred,
            seen,
        )
        if root < 0:
            return np.inf
        for i in range(n):
            for a in range(m):
                sub[i, a] = w[i, a]
            sub[i, m] = 1.0 if side[i] == 1 else 0.0
            sub[i, m + 1] = 1.0 if side[i] == 2 else 0.0
        for q in range(n - 1, 0, -1):
            x = order[q]
            for j in range(m + 2):
                sub[pred[x], j] += sub[x, j]
        for q in range(1, n):
            v = order[q]
            for flip in range(2):
                # flip 0: the subtree goes to a; flip 1: to b
                ta = t_a if flip == 0 else t_b
                tb = t_b if flip == 0 else t_a
                pin_in = m if flip == 0 else m + 1
                pin_out = m + 1 if flip == 0 else m
                if sub[v, pin_out] > 0.5 or sub[v, pin_in] < total[pin_in] - 0.5:
                    continue
                ok = True
                for a in range(m):
                    va = sub[v, a]
                    vb = total[a] - va
                    if ta[a] > 0 and abs(va / ta[a] - 1.0) > tol[a]:
                        ok = False
                        break
                    if tb[a] > 0 and abs(vb / tb[a] - 1.0) > tol[a]:
                        ok = False
                        break
                if not ok:
                    continue
                # the two sides' units
                for i in range(n):
                    mark[i] = False
                mark[v] = True
                for r in range(1, n):
                    x = order[r]
                    if mark[pred[x]]:
                        mark[x] = True
                ni = 0
                no = 0
                for i in range(n):
                    if mark[i]:
                        ins[ni] = i
                        ni += 1
                    else:
                        outs[no] = i
                        no += 1
                worst = 0.0
                for i in range(ni):
                    for j in range(i + 1, ni):
                        if d[ins[i], ins[j]] > worst:
                            worst = d[ins[i], ins[j]]
                    if worst >= best:
                        break
                if worst >= best:
                    continue
                for i in range(no):
                    for j in range(i + 1, no):
                        if d[outs[i], outs[j]] > worst:
                            worst = d[outs[i], outs[j]]
                    if worst >= best:
                        break
                if worst >= best:
                    continue
                best = worst
                found = True
                for i in range(n):
                    out_a[i] = mark[i] if flip == 0 else not mark[i]
    return best if found else np.inf

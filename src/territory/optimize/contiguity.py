"""Graph helpers: components, bridges between them, territory contiguity."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

__all__ = [
    "Bridging",
    "bridge_components",
    "components",
    "territory_contiguity",
]


def components(adjacency: sp.csr_array) -> tuple[int, np.ndarray]:
    """Return ``(n_components, label per unit)`` of an undirected adjacency."""
    n, lab = csgraph.connected_components(adjacency, directed=False)
    return int(n), lab.astype(np.int64)


@dataclass(frozen=True)
class Bridging:
    """What :func:`bridge_components` did.

    ``adjacency`` is connected; ``bridges`` lists the ``(u, v)`` unit pairs
    added, one per separate piece that was joined, with their ``lengths``.
    ``pieces`` lists the units of each piece outside the largest component.
    """

    adjacency: sp.csr_array
    bridges: tuple[tuple[int, int], ...]
    lengths: tuple[float, ...]
    pieces: tuple[tuple[int, ...], ...]


def _closest_pair(
    inside: np.ndarray,
    outside: np.ndarray,
    coords: np.ndarray | None,
    distances: np.ndarray | None,
) -> tuple[int, int, float]:
    if distances is not None:
        sub = distances[np.ix_(inside, outside)]
        flat = int(np.argmin(sub))
        i, j = divmod(flat, outside.size)
        return int(inside[i]), int(outside[j]), float(sub[i, j])
    assert coords is not None
    from scipy.spatial import cKDTree

    tree = cKDTree(coords[outside])
    d, idx = tree.query(coords[inside], k=1)
    # ties break by the smallest unit index: sort by (distance, inside, outside)
    order = np.lexsort((outside[idx], inside, d))
    best = int(order[0])
    return int(inside[best]), int(outside[idx[best]]), float(d[best])


def bridge_components(
    adjacency: sp.csr_array,
    coords: np.ndarray | None,
    distances: np.ndarray | None,
) -> Bridging:
    """Join every separate piece to the rest through its closest pair of units.

    Pieces are processed from the smallest up (ties: lowest unit index); each
    gets one edge to the nearest unit outside it, until the graph is
    connected. The largest component never needs its own bridge.
    """
    adj = sp.csr_array(adjacency)
    n_comp, lab = components(adj)
    bridges: list[tuple[int, int]] = []
    lengths: list[float] = []
    if n_comp <= 1:
        return Bridging(adj, (), (), ())
    sizes = np.bincount(lab)
    main = int(np.argmax(sizes))
    pieces = tuple(
        tuple(int(u) for u in np.flatnonzero(lab == c))
        for c in sorted(
            range(n_comp), key=lambda c: (sizes[c], int(np.argmax(lab == c)))
        )
        if c != main
    )
    rows: list[int] = []
    cols: list[int] = []
    while n_comp > 1:
        sizes = np.bincount(lab, minlength=n_comp)
        first = np.full(n_comp, lab.size)
        np.minimum.at(first, lab, np.arange(lab.size))
        c = min(range(n_comp), key=lambda c: (sizes[c], first[c]))
        inside = np.flatnonzero(lab == c)
        outside = np.flatnonzero(lab != c)
        u, v, d = _closest_pair(inside, outside, coords, distances)
        bridges.append((u, v))
        lengths.append(d)
        rows += [u, v]
        cols += [v, u]
        extra = sp.csr_array(
            (np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=adj.shape
        )
        n_comp, lab = components(sp.csr_array(((adj + extra) != 0).astype(np.int8)))
    extra = sp.csr_array(
        (np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=adj.shape
    )
    joined = sp.csr_array(((adj + extra) != 0).astype(np.int8))
    joined.sort_indices()
    return Bridging(joined, tuple(bridges), tuple(lengths), pieces)


def territory_contiguity(
    adjacency: sp.csr_array, labels: np.ndarray, n_territories: int
) -> np.ndarray:
    """Return a ``(p,)`` bool array: is territory ``k`` one connected piece?

    An empty territory counts as not contiguous. Units with label -1 are
    ignored.
    """
    labels = np.asarray(labels)
    out = np.zeros(n_territories, dtype=bool)
    adj = sp.coo_array(adjacency)
    same = (labels[adj.row] == labels[adj.col]) & (labels[adj.row] >= 0)
    n = labels.size
    sub = sp.csr_array(
        (np.ones(int(same.sum()), dtype=np.int8), (adj.row[same], adj.col[same])),
        shape=(n, n),
    )
    _, comp = csgraph.connected_components(sub, directed=False)
    for k in range(n_territories):
        members = comp[labels == k]
        out[k] = members.size > 0 and np.unique(members).size == 1
    return out

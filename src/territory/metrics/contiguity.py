"""Contiguity: is each territory one connected piece of the unit adjacency graph?

The graph is a symmetric CSR adjacency over geo units. Edges that join units
of different territories are dropped; ``scipy.sparse.csgraph`` then labels the
connected components once for the whole map, and each territory's pieces are
the distinct components among its units.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

__all__ = ["count_pieces", "is_contiguous"]


def count_pieces(
    adjacency: sp.csr_array | sp.csr_matrix, labels: npt.ArrayLike, n_labels: int
) -> npt.NDArray[np.int64]:
    """Return how many connected pieces each territory has.

    Parameters
    ----------
    adjacency
        Unit adjacency, shape ``(n_units, n_units)``; any non-zero entry is an
        edge.
    labels
        Territory index of each unit, shape ``(n_units,)``; negative for units
        in no territory.
    n_labels
        Number of territories; the result has shape ``(n_labels,)`` and is 0
        for a territory with no units.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> path = sp.csr_array(([1, 1, 1, 1], ([0, 1, 1, 2], [1, 0, 2, 1])), shape=(3, 3))
    >>> count_pieces(path, [0, 1, 0], 2).tolist()  # 0 and 2 are split by unit 1
    [2, 1]
    """
    lab = np.asarray(labels, dtype=np.int64)
    coo = sp.coo_array(adjacency)
    n = lab.shape[0]
    row = np.asarray(coo.row, dtype=np.int64)
    col = np.asarray(coo.col, dtype=np.int64)
    keep = (lab[row] == lab[col]) & (lab[row] >= 0)
    inner = sp.csr_array(
        (np.ones(int(keep.sum())), (row[keep], col[keep])), shape=(n, n)
    )
    _, comp = connected_components(inner, directed=False)
    assigned = (lab >= 0) & (lab < n_labels)
    pairs = np.unique(np.column_stack([lab[assigned], comp[assigned]]), axis=0)
    return np.bincount(pairs[:, 0], minlength=n_labels).astype(np.int64)


def is_contiguous(
    adjacency: sp.csr_array | sp.csr_matrix, labels: npt.ArrayLike, n_labels: int
) -> npt.NDArray[np.bool_]:
    """Return, per territory, whether its units form one piece (True if empty)."""
    return np.asarray(count_pieces(adjacency, labels, n_labels) <= 1)

"""Readers and the exact evaluator for the published benchmark instance sets.

Two formats are read (see ``../shared/benchmarks/README.md``):

* ``dtdp`` — GraphML (Ríos-Mercado style delivery territory design): node
  activities ``n_customers``, ``demand``, ``workload``; edge attribute
  ``distance``; the diameter is the largest shortest-path distance in the whole
  graph between two units of one territory. ``p`` and ``tau`` come from the
  ``manifest.csv`` beside the file.
* ``commdis`` — plain text (Gliesch et al.): coordinates, three activities,
  Delaunay edges, then ``p 50 tau1 tau2 tau3``; Euclidean diameter.

Both benchmarks define the imbalance ``B`` as the sum over territories and
activities of the relative deviation beyond the tolerance; a plan is feasible
when ``B < 1e-6`` and every unit is assigned.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import scipy.sparse as sp
from scipy.sparse import csgraph

from territory.errors import InputError
from territory.optimize.contiguity import territory_contiguity
from territory.optimize.problem import DesignProblem

__all__ = [
    "BenchmarkEvaluation",
    "BenchmarkInstance",
    "detect_format",
    "evaluate_benchmark",
    "read_instance",
]

FEASIBLE_B = 1e-6
ACTIVITIES = ("n_customers", "demand", "workload")


@dataclass(frozen=True, eq=False)
class BenchmarkInstance:
    """One benchmark instance as arrays.

    ``node_ids`` gives the file's id of each unit index (GraphML ids are
    strings; commdis ids are ``0..n-1``). ``distances`` is the all-pairs
    shortest-path matrix for ``dtdp`` and ``None`` for ``commdis``.
    """

    name: str
    format: Literal["dtdp", "commdis"]
    n_territories: int
    tau: np.ndarray
    weights: np.ndarray
    adjacency: sp.csr_array
    coords: np.ndarray | None
    distances: np.ndarray | None
    node_ids: tuple[str, ...]
    edge_lengths: sp.csr_array | None = None

    @property
    def n_units(self) -> int:
        """Number of units."""
        return int(self.weights.shape[0])

    def problem(self) -> DesignProblem:
        """Return the design problem (distances precomputed for ``dtdp``)."""
        return DesignProblem(
            adjacency=self.adjacency,
            weights=self.weights,
            tolerances=self.tau,
            coords=self.coords,
            distances=self.distances_matrix(),
            activity_names=ACTIVITIES,
        )

    def distances_matrix(self) -> np.ndarray | None:
        """All-pairs shortest paths for ``dtdp`` (computed once), else None."""
        if self.format != "dtdp":
            return None
        if self.distances is None:
            assert self.edge_lengths is not None
            dist = csgraph.shortest_path(self.edge_lengths, method="D", directed=False)
            object.__setattr__(self, "distances", dist)
        return self.distances


def detect_format(path: Path) -> Literal["dtdp", "commdis"]:
    """Say whether ``path`` is a GraphML ``dtdp`` or a ``commdis`` text file."""
    with open(path, "rb") as fh:
        head = fh.read(512).lstrip()
    if head.startswith(b"<?xml") or head.startswith(b"<graphml"):
        return "dtdp"
    first = head.split(b"\n", 1)[0].strip()
    if first.isdigit():
        return "commdis"
    raise InputError(
        f"{path}: neither GraphML (dtdp) nor the commdis text format — the first "
        "line should be '<?xml ...' or the number of units",
        code="unknown_instance_format",
        details={"path": str(path)},
    )


def _manifest_row(path: Path) -> dict[str, str] | None:
    for folder in (path.parent, path.parent.parent):
        manifest = folder / "manifest.csv"
        if manifest.is_file():
            with open(manifest, newline="") as fh:
                for row in csv.DictReader(fh):
                    if (
                        row.get("instance") == path.stem
                        or Path(row.get("file", "")).name == path.name
                    ):
                        return row
    return None


def _read_dtdp(path: Path, p: int | None) -> BenchmarkInstance:
    import networkx as nx

    g = nx.read_graphml(path)
    ids = sorted(g.nodes, key=lambda s: (len(s), s) if s.isdigit() else (10**9, s))
    index = {nid: i for i, nid in enumerate(ids)}
    n = len(ids)
    w = np.array([[float(g.nodes[u][a]) for a in ACTIVITIES] for u in ids])
    has_xy = all("x" in g.nodes[u] and "y" in g.nodes[u] for u in ids)
    row = _manifest_row(path)
    coords = None
    if has_xy:
        coords = np.array(
            [[float(g.nodes[u]["x"]), float(g.nodes[u]["y"])] for u in ids]
        )
    elif row is not None and row.get("grid_side"):
        side = int(row["grid_side"])
        coords = np.array([[int(u) % side, int(u) // side] for u in ids], dtype=float)
    rows, cols, lens = [], [], []
    for u, v, data in g.edges(data=True):
        rows.append(index[u])
        cols.append(index[v])
        lens.append(float(data["distance"]))
    lengths = sp.csr_array((lens, (rows, cols)), shape=(n, n))
    lengths = sp.csr_array(lengths.maximum(lengths.T))
    adjacency = sp.csr_array((lengths != 0).astype(np.int8))
    if p is None:
        if row is None:
            raise InputError(
                f"{path}: no manifest.csv row gives p for this instance — pass --p",
                code="missing_p",
            )
        p = int(row["p"])
    tau = float(row["tau"]) if row is not None and row.get("tau") else 0.05
    return BenchmarkInstance(
        name=path.stem,
        format="dtdp",
        n_territories=p,
        tau=np.full(3, tau),
        weights=w,
        adjacency=adjacency,
        coords=coords,
        distances=None,
        node_ids=tuple(ids),
        edge_lengths=lengths,
    )


def _read_commdis(path: Path, p: int | None) -> BenchmarkInstance:
    tokens = path.read_text().split()
    try:
        n = int(tokens[0])
        body = np.array(tokens[1 : 1 + 6 * n], dtype=np.float64).reshape(n, 6)
        pos = 1 + 6 * n
        m = int(tokens[pos])
        edges = np.array(tokens[pos + 1 : pos + 1 + 2 * m], dtype=np.int64).reshape(
            m, 2
        )
        tail = tokens[pos + 1 + 2 * m :]
        p_file = int(tail[0])
        tau = np.array(tail[2:5], dtype=np.float64)
    except (ValueError, IndexError) as exc:
        raise InputError(
            f"{path}: not a valid commdis instance ({exc}) — expected N, N unit "
            "lines, M, M edge lines and 'p 50 tau1 tau2 tau3'",
            code="bad_instance",
        ) from exc
    if not np.array_equal(body[:, 0], np.arange(n)):
        raise InputError(
            f"{path}: unit lines are not numbered 0..N-1", code="bad_instance"
        )
    adjacency = sp.csr_array(
        (
            np.ones(2 * m, dtype=np.int8),
            (np.r_[edges[:, 0], edges[:, 1]], np.r_[edges[:, 1], edges[:, 0]]),
        ),
        shape=(n, n),
    )
    adjacency = sp.csr_array((adjacency != 0).astype(np.int8))
    return BenchmarkInstance(
        name=path.stem,
        format="commdis",
        n_territories=p if p is not None else p_file,
        tau=tau,
        weights=body[:, 3:6].copy(),
        adjacency=adjacency,
        coords=body[:, 1:3].copy(),
        distances=None,
        node_ids=tuple(str(i) for i in range(n)),
    )


def read_instance(path: str | Path, p: int | None = None) -> BenchmarkInstance:
    """Read a ``dtdp`` GraphML or ``commdis`` text instance; ``p`` overrides."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such instance file", code="not_found")
    fmt = detect_format(path)
    return _read_dtdp(path, p) if fmt == "dtdp" else _read_commdis(path, p)


@dataclass(frozen=True)
class BenchmarkEvaluation:
    """Objective and imbalance exactly as the benchmark defines them."""

    objective: float
    imbalance: float
    contiguous: bool
    all_assigned: bool
    territory_contiguous: tuple[bool, ...]

    @property
    def feasible(self) -> bool:
        """``B < 1e-6`` and every unit assigned (contiguity is reported apart)."""
        return self.all_assigned and self.imbalance < FEASIBLE_B


def evaluate_benchmark(
    instance: BenchmarkInstance, labels: np.ndarray
) -> BenchmarkEvaluation:
    """Score ``labels`` (one territory in 0..p-1 per unit index) on ``instance``."""
    labels = np.asarray(labels, dtype=np.int64)
    if labels.shape != (instance.n_units,):
        raise InputError(
            f"{labels.size} labels for {instance.n_units} units",
            code="bad_labels",
        )
    p = instance.n_territories
    all_assigned = bool(np.all((labels >= 0) & (labels < p)))
    ok = (labels >= 0) & (labels < p)
    w = instance.weights
    mu = w.sum(axis=0) / p
    totals = np.zeros((p, w.shape[1]))
    np.add.at(totals, labels[ok], w[ok])
    b = 0.0
    diam = 0.0
    if instance.format == "dtdp":
        dist = instance.distances_matrix()
        assert dist is not None
        for k in range(p):
            for a in range(w.shape[1]):
                hi = (1 + instance.tau[a]) * mu[a]
                lo = (1 - instance.tau[a]) * mu[a]
                b += max(0.0, totals[k, a] - hi, lo - totals[k, a]) / mu[a]
            units = np.flatnonzero(labels == k)
            if units.size > 1:
                diam = max(diam, float(dist[np.ix_(units, units)].max()))
    else:
        assert instance.coords is not None
        for k in range(p):
            for a in range(w.shape[1]):
                b += max(0.0, abs(totals[k, a] - mu[a]) / mu[a] - instance.tau[a])
            units = np.flatnonzero(labels == k)
            if units.size > 1:
                pts = instance.coords[units]
                for i in range(units.size):
                    d = pts[i + 1 :] - pts[i]
                    if d.size:
                        diam = max(diam, float(np.sqrt((d * d).sum(axis=1)).max()))
    contiguous = territory_contiguity(instance.adjacency, labels, p)
    return BenchmarkEvaluation(
        objective=diam,
        imbalance=b,
        contiguous=bool(contiguous.all()),
        all_assigned=all_assigned,
        territory_contiguous=tuple(bool(c) for c in contiguous),
    )

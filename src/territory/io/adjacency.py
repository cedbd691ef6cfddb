"""Neighbour pairs of geo units: polygon contiguity and point triangulation.

Polygons (counties): candidate pairs come from a shapely 2 ``STRtree`` query
with the ``dwithin`` predicate, so two polygons whose borders run along each
other without sharing a vertex (a T-junction, or coordinates that differ in
the last digits) are still neighbours.

* **queen**: the polygons come within ``tolerance_deg`` of each other (any
  shared point, corners included);
* **rook**: the length of one boundary lying within ``tolerance_deg`` of the
  other is at least ``min_shared_deg`` (a shared stretch of border, not a
  corner such as the Four Corners).

The shared border length is measured on the same predicate and converted to
kilometres with a local equirectangular scale (good to well under 1 % at
county scale).

Points (ZIP centroids): neighbours are the edges of a Delaunay triangulation
of the distinct locations (Lee & Schachter 1980, via ``scipy.spatial``),
optionally kept only between units of the same or neighbouring counties.
ZIPs that share a location are merged into one triangulation vertex: they are
neighbours of each other and share that vertex's neighbours; the report lists
them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import Delaunay, QhullError

from territory.errors import InputError

__all__ = [
    "Adjacency",
    "AdjacencyReport",
    "DEFAULT_MIN_SHARED_DEG",
    "DEFAULT_TOLERANCE_DEG",
    "components_of",
    "point_adjacency",
    "polygon_adjacency",
]

#: Two polygons closer than this (degrees, ~0.1 m) touch.
DEFAULT_TOLERANCE_DEG = 1e-6
#: A rook neighbour shares at least this much border (degrees, ~10 m).
DEFAULT_MIN_SHARED_DEG = 1e-4
_KM_PER_DEG_LAT = 110.574
_KM_PER_DEG_LON_EQUATOR = 111.320


@dataclass(frozen=True, slots=True)
class AdjacencyReport:
    """Shape of the neighbour graph.

    ``components`` lists every connected piece as a sorted tuple of ids,
    largest first (ties by first id); ``islands`` are the units with no
    neighbour at all. ``merged_locations`` lists groups of point units that
    share one location (point adjacency only).
    """

    n_units: int
    n_pairs: int
    contiguity: str
    islands: tuple[str, ...]
    components: tuple[tuple[str, ...], ...]
    merged_locations: tuple[tuple[str, ...], ...] = ()

    @property
    def n_components(self) -> int:
        """Number of connected pieces (islands count as pieces)."""
        return len(self.components)

    @property
    def component_sizes(self) -> tuple[int, ...]:
        """Sizes of the pieces, largest first."""
        return tuple(len(c) for c in self.components)


@dataclass(frozen=True, slots=True)
class Adjacency:
    """Neighbour pairs over ``ids``.

    ``pairs`` has shape ``(n_pairs, 2)`` and holds row indices into ``ids``
    with ``pairs[:, 0] < pairs[:, 1]``, sorted; each unordered pair appears
    once. ``shared_km`` has shape ``(n_pairs,)``: the shared border length in
    km for polygons (0 for a corner touch), NaN for point adjacency.
    """

    ids: tuple[str, ...]
    pairs: npt.NDArray[np.int64]
    shared_km: npt.NDArray[np.float64]
    report: AdjacencyReport

    def id_pairs(self) -> list[tuple[str, str]]:
        """Return the pairs as ``(id_a, id_b)`` with ``id_a < id_b`` by index."""
        ids = self.ids
        return [(ids[a], ids[b]) for a, b in self.pairs.tolist()]

    def neighbours(self) -> dict[str, list[str]]:
        """Return ``{id: sorted neighbour ids}`` (every id present)."""
        out: dict[str, list[str]] = {i: [] for i in self.ids}
        for a, b in self.id_pairs():
            out[a].append(b)
            out[b].append(a)
        return {k: sorted(v) for k, v in out.items()}


def components_of(
    ids: Sequence[str], pairs: npt.NDArray[np.int64]
) -> tuple[tuple[tuple[str, ...], ...], tuple[str, ...]]:
    """Return the connected components (largest first) and the islands.

    ``pairs`` has shape ``(n_pairs, 2)`` of indices into ``ids``.

    Examples
    --------
    >>> import numpy as np
    >>> components_of(["a", "b", "c"], np.array([[0, 1]]))
    ((('a', 'b'), ('c',)), ('c',))
    """
    n = len(ids)
    if n == 0:
        return (), ()
    p = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    graph = coo_matrix(
        (np.ones(len(p), dtype=np.int8), (p[:, 0], p[:, 1])), shape=(n, n)
    )
    n_comp, labels = connected_components(graph, directed=False)
    groups: list[list[str]] = [[] for _ in range(n_comp)]
    for uid, lab in zip(ids, labels.tolist(), strict=True):
        groups[lab].append(uid)
    comps = sorted((tuple(sorted(g)) for g in groups), key=lambda c: (-len(c), c))
    degree = np.bincount(p.ravel(), minlength=n)
    islands = tuple(sorted(ids[int(i)] for i in np.flatnonzero(degree == 0)))
    return tuple(comps), islands


def _segment_lengths_km(lines: npt.NDArray[np.object_]) -> npt.NDArray[np.float64]:
    """Length in km of each (multi)line in lon/lat, shape ``(n,)``."""
    out = np.zeros(len(lines), dtype=np.float64)
    if len(lines) == 0:
        return out
    parts, part_of = shapely.get_parts(lines, return_index=True)
    coords, coord_of = shapely.get_coordinates(parts, return_index=True)
    if len(coords) < 2:
        return out
    same = coord_of[1:] == coord_of[:-1]
    dx = np.diff(coords[:, 0])[same]
    dy = np.diff(coords[:, 1])[same]
    lat = 0.5 * (coords[1:, 1] + coords[:-1, 1])[same]
    km = np.hypot(dx * _KM_PER_DEG_LON_EQUATOR * np.cos(np.radians(lat)),
                  dy * _KM_PER_DEG_LAT)  # fmt: skip
    owner = part_of[coord_of[1:][same]]
    np.add.at(out, owner, km)
    return out


def _check_contiguity(contiguity: str) -> str:
    value = str(contiguity).lower()
    if value not in {"queen", "rook"}:
        raise InputError(
            f"Contiguity {contiguity!r} is not known; use 'queen' (any shared "
            "point) or 'rook' (a shared stretch of border).",
            code="bad_contiguity",
        )
    return value


def polygon_adjacency(
    ids: Sequence[str],
    geometries: npt.NDArray[np.object_] | Sequence[shapely.Geometry],
    contiguity: str = "queen",
    *,
    tolerance_deg: float = DEFAULT_TOLERANCE_DEG,
    min_shared_deg: float = DEFAULT_MIN_SHARED_DEG,
) -> Adjacency:
    """Build queen or rook adjacency between lon/lat polygons.

    ``geometries`` has shape ``(n_units,)`` aligned with ``ids``.

    Raises
    ------
    InputError
        When ``contiguity`` is not ``queen`` or ``rook``, ids repeat, or the
        lengths differ.

    Examples
    --------
    >>> from shapely import box
    >>> adj = polygon_adjacency(
    ...     ["a", "b", "c", "d"],
    ...     [box(0, 0, 1, 1), box(1, 0, 2, 1), box(0, 1, 1, 2), box(1, 1, 2, 2)],
    ...     "rook",
    ... )
    >>> adj.id_pairs()
    [('a', 'b'), ('a', 'c'), ('b', 'd'), ('c', 'd')]
    """
    kind = _check_contiguity(contiguity)
    geoms = np.asarray(geometries, dtype=object)
    ids = tuple(str(i) for i in ids)
    if len(ids) != len(geoms):
        raise InputError(
            f"{len(ids)} ids but {len(geoms)} geometries; give one id per polygon.",
            code="adjacency_shape",
        )
    if len(set(ids)) != len(ids):
        raise InputError(
            "Unit ids repeat; each polygon needs a distinct id.", code="duplicate_id"
        )
    left, right, shared_deg, shared_km = _touching_pairs(
        geoms, tolerance_deg, min_shared_deg
    )
    if kind == "rook":
        rook = shared_deg >= min_shared_deg
        left, right = left[rook], right[rook]
        shared_deg, shared_km = shared_deg[rook], shared_km[rook]
    # A queen pair below the rook threshold touches at a corner: 0 km shared.
    shared_km = np.where(shared_deg >= min_shared_deg, shared_km, 0.0)
    order = np.lexsort((right, left))
    pairs = np.column_stack([left[order], right[order]]).astype(np.int64)
    shared_km = np.asarray(shared_km, dtype=np.float64)[order]
    comps, islands = components_of(ids, pairs)
    report = AdjacencyReport(
        n_units=len(ids),
        n_pairs=len(pairs),
        contiguity=kind,
        islands=islands,
        components=comps,
    )
    return Adjacency(ids, pairs, shared_km, report)


def _exact_shared_segments(
    geoms: npt.NDArray[np.object_],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Border shared as identical segments: ``(pair keys, length deg, length km)``.

    A pair key is ``a * n + b`` with ``a < b``. Census files share most
    border vertices bit for bit, so numbering the distinct vertices and
    matching segments by their two vertex numbers measures most shared
    borders with two sorts over all coordinates.
    """
    n = len(geoms)
    rings, ring_of = shapely.get_rings(geoms, return_index=True)
    coords, cidx = shapely.get_coordinates(rings, return_index=True)
    if len(coords) < 2:
        empty = np.zeros(0)
        return empty.astype(np.int64), empty, empty
    # complex numbers sort by (x, y): one numeric sort numbers the vertices.
    _, vid = np.unique(coords[:, 0] + 1j * coords[:, 1], return_inverse=True)
    vid = vid.reshape(-1).astype(np.int64)
    n_vertices = int(vid.max()) + 1
    same = cidx[1:] == cidx[:-1]
    start = np.flatnonzero(same)  # segment k runs from point start[k] to start[k]+1
    va, vb = vid[start], vid[start + 1]
    seg_key = np.minimum(va, vb) * n_vertices + np.maximum(va, vb)
    owner = ring_of[cidx[start]].astype(np.int64)
    order = np.argsort(seg_key, kind="stable")
    ks = seg_key[order]
    dup = np.flatnonzero(ks[1:] == ks[:-1])
    oa, ob = owner[order[dup]], owner[order[dup + 1]]
    keep = oa != ob
    seg = start[order[dup[keep]]]
    oa, ob = oa[keep], ob[keep]
    d = coords[seg + 1] - coords[seg]
    lat = 0.5 * (coords[seg, 1] + coords[seg + 1, 1])
    deg = np.hypot(d[:, 0], d[:, 1])
    km = np.hypot(
        d[:, 0] * _KM_PER_DEG_LON_EQUATOR * np.cos(np.radians(lat)),
        d[:, 1] * _KM_PER_DEG_LAT,
    )
    pk = np.minimum(oa, ob) * n + np.maximum(oa, ob)
    uniq, inv = np.unique(pk, return_inverse=True)
    return (
        uniq.astype(np.int64),
        np.bincount(inv, weights=deg, minlength=len(uniq)).astype(np.float64),
        np.bincount(inv, weights=km, minlength=len(uniq)).astype(np.float64),
    )


def _touching_pairs(
    geoms: npt.NDArray[np.object_], tolerance_deg: float, min_shared_deg: float
) -> tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.float64],
    npt.NDArray[np.float64],
]:
    """Return ``(left, right, shared_deg, shared_km)`` of every touching pair.

    Candidates are pairs whose bounding boxes, grown by the tolerance,
    overlap. Pairs sharing identical segments at least ``min_shared_deg``
    long are measured on those (fast path). The others are tested with
    ``dwithin`` and measured robustly: the part of A's boundary within
    ``tolerance_deg`` of B's boundary, both clipped to their common bounding
    box first. Shapes of the arrays: ``(n_pairs,)``.
    """
    n = len(geoms)
    empty_i = np.zeros(0, dtype=np.int64)
    empty_f = np.zeros(0, dtype=np.float64)
    if n < 2:
        return empty_i, empty_i, empty_f, empty_f
    tree = shapely.STRtree(geoms)
    bounds = shapely.bounds(geoms)
    t = tolerance_deg
    grown = shapely.box(
        bounds[:, 0] - t, bounds[:, 1] - t, bounds[:, 2] + t, bounds[:, 3] + t
    )
    left, right = tree.query(grown)
    keep = left < right
    left, right = left[keep].astype(np.int64), right[keep].astype(np.int64)
    shared_deg = np.zeros(len(left), dtype=np.float64)
    shared_km = np.zeros(len(left), dtype=np.float64)
    touching = np.zeros(len(left), dtype=bool)

    keys, ex_deg, ex_km = _exact_shared_segments(geoms)
    pk = left * n + right
    if len(keys):
        pos = np.clip(np.searchsorted(keys, pk), 0, len(keys) - 1)
        hit = (keys[pos] == pk) & (ex_deg[pos] >= min_shared_deg)
        shared_deg[hit] = ex_deg[pos[hit]]
        shared_km[hit] = ex_km[pos[hit]]
        touching[hit] = True
    else:
        hit = np.zeros(len(left), dtype=bool)

    todo = np.flatnonzero(~hit)
    if len(todo):
        # Prepared polygons answer "within distance" from an index of their
        # edges, an order of magnitude faster than a plain distance. The
        # caller's geometries are left unprepared as they came.
        fresh = ~shapely.is_prepared(geoms)
        shapely.prepare(geoms[fresh])
        try:
            near = shapely.dwithin(geoms[left[todo]], geoms[right[todo]], t)
        finally:
            shapely.destroy_prepared(geoms[fresh])
        todo = todo[near]
        touching[todo] = True
    if len(todo):
        boundaries = shapely.boundary(geoms)
        lb, rb = bounds[left[todo]], bounds[right[todo]]
        pad = 10 * t
        box = shapely.box(
            np.maximum(lb[:, 0], rb[:, 0]) - pad,
            np.maximum(lb[:, 1], rb[:, 1]) - pad,
            np.minimum(lb[:, 2], rb[:, 2]) + pad,
            np.minimum(lb[:, 3], rb[:, 3]) + pad,
        )
        near_a = shapely.intersection(boundaries[left[todo]], box)
        near_b = shapely.intersection(boundaries[right[todo]], box)
        zone = shapely.buffer(near_b, t, quad_segs=2)
        piece = shapely.intersection(near_a, zone)
        shared_deg[todo] = shapely.length(piece)
        shared_km[todo] = _segment_lengths_km(piece)
    return left[touching], right[touching], shared_deg[touching], shared_km[touching]


@dataclass(frozen=True, slots=True)
class _Merged:
    """Distinct locations: ``first[k]`` is the first unit at location ``k``,
    ``location_of[i]`` the location of unit ``i``."""

    location_of: npt.NDArray[np.int64]
    n_locations: int
    groups: tuple[tuple[int, ...], ...] = field(default=())


def _merge_locations(
    lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64]
) -> _Merged:
    xy = np.column_stack([lat, lon])
    _, first, inverse = np.unique(xy, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    counts = np.bincount(inverse)
    groups = tuple(
        tuple(np.flatnonzero(inverse == k).tolist()) for k in np.flatnonzero(counts > 1)
    )
    return _Merged(inverse.astype(np.int64), len(first), groups)


def point_adjacency(
    ids: Sequence[str],
    lat: Sequence[float] | npt.NDArray[np.float64],
    lon: Sequence[float] | npt.NDArray[np.float64],
    *,
    parents: Sequence[str | None] | None = None,
    parent_pairs: Sequence[tuple[str, str]] | None = None,
) -> Adjacency:
    """Build neighbour pairs between points from a Delaunay triangulation.

    ``lat``/``lon`` have shape ``(n_units,)``. When ``parents`` (e.g. each
    ZIP's county) and ``parent_pairs`` (the county adjacency) are given, an
    edge is kept only between units of the same parent or of neighbouring
    parents; an edge touching a unit without a parent is kept.

    Raises
    ------
    InputError
        When the arrays differ in length or ids repeat.

    Examples
    --------
    >>> adj = point_adjacency(["a", "b", "c", "d"], [0, 0, 1, 1], [0, 1, 0, 1])
    >>> adj.report.n_components
    1
    """
    ids = tuple(str(i) for i in ids)
    la = np.asarray(lat, dtype=np.float64)
    lo = np.asarray(lon, dtype=np.float64)
    n = len(ids)
    if not (len(la) == len(lo) == n) or (parents is not None and len(parents) != n):
        raise InputError(
            "ids, latitudes, longitudes (and parents) must have the same length.",
            code="adjacency_shape",
        )
    if len(set(ids)) != n:
        raise InputError(
            "Unit ids repeat; each point needs a distinct id.", code="duplicate_id"
        )
    merged = _merge_locations(la, lo)
    m = merged.n_locations
    # Location coordinates (any member stands for the location).
    loc_lat = np.zeros(m)
    loc_lon = np.zeros(m)
    loc_lat[merged.location_of] = la
    loc_lon[merged.location_of] = lo
    edges = _delaunay_edges(loc_lat, loc_lon)

    # Expand location edges to unit pairs; units at one location are linked.
    members: list[list[int]] = [[] for _ in range(m)]
    for i, k in enumerate(merged.location_of.tolist()):
        members[k].append(i)
    pair_set: set[tuple[int, int]] = set()
    for a, b in edges.tolist():
        for i in members[a]:
            for j in members[b]:
                pair_set.add((min(i, j), max(i, j)))
    for g in merged.groups:
        for x in range(len(g)):
            for y in range(x + 1, len(g)):
                pair_set.add((g[x], g[y]))

    if parents is not None and parent_pairs is not None:
        allowed = {(a, b) for a, b in parent_pairs} | {(b, a) for a, b in parent_pairs}
        par = list(parents)
        pair_set = {
            (i, j)
            for i, j in pair_set
            if par[i] is None
            or par[j] is None
            or par[i] == par[j]
            or (par[i], par[j]) in allowed
        }
    pairs = np.array(sorted(pair_set), dtype=np.int64).reshape(-1, 2)
    comps, islands = components_of(ids, pairs)
    report = AdjacencyReport(
        n_units=n,
        n_pairs=len(pairs),
        contiguity="delaunay",
        islands=islands,
        components=comps,
        merged_locations=tuple(
            sorted(tuple(sorted(ids[i] for i in g)) for g in merged.groups)
        ),
    )
    return Adjacency(ids, pairs, np.full(len(pairs), np.nan), report)


def _delaunay_edges(
    lat: npt.NDArray[np.float64], lon: npt.NDArray[np.float64]
) -> npt.NDArray[np.int64]:
    """Unique Delaunay edges ``(n_edges, 2)`` with ``a < b`` between points."""
    m = len(lat)
    if m < 2:
        return np.empty((0, 2), dtype=np.int64)
    if m == 2:
        return np.array([[0, 1]], dtype=np.int64)
    # Equirectangular projection around the mean latitude keeps angles sane.
    x = lon * np.cos(np.radians(float(np.mean(lat))))
    pts = np.column_stack([x, lat])
    try:
        tri = Delaunay(pts)
    except QhullError:  # all points on a line: link them in order along it
        order = np.lexsort((lat, x))
        e = np.column_stack([order[:-1], order[1:]])
        return np.sort(e, axis=1).astype(np.int64)
    s = tri.simplices
    e = np.vstack([s[:, [0, 1]], s[:, [1, 2]], s[:, [0, 2]]])
    e = np.sort(e, axis=1)
    return np.unique(e, axis=0).astype(np.int64)

"""Compactness of territories from point locations (accounts or unit centres).

* ``diameter_km``: the greatest great-circle distance between two points of a
  territory (found on the convex hull of a local planar projection, then
  measured by haversine);
* ``inertia_km``: the root-mean-square distance of a territory's points from
  their weighted centre — the square root of the normalised moment of
  inertia, in km, so it reads as "a typical distance from the middle";
* ``polsby_popper``: ``4πA / P²`` from a territory's area and perimeter,
  1 for a circle and towards 0 for long, ragged shapes.

Distances use a spherical Earth of radius 6371.0088 km (the IUGG mean).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.spatial import ConvexHull, QhullError

__all__ = [
    "EARTH_RADIUS_KM",
    "diameter_km",
    "haversine_km",
    "hull_candidates",
    "inertia_from_moments",
    "inertia_km",
    "point_moments",
    "points_diameter_km",
    "polsby_popper",
]

EARTH_RADIUS_KM = 6371.0088

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def haversine_km(
    lat1: npt.ArrayLike, lon1: npt.ArrayLike, lat2: npt.ArrayLike, lon2: npt.ArrayLike
) -> FloatArray:
    """Return great-circle distances in km between points given in degrees.

    Inputs broadcast against each other.

    Examples
    --------
    >>> round(float(haversine_km(0.0, 0.0, 0.0, 1.0)), 3)
    111.195
    """
    p1 = np.radians(np.asarray(lat1, dtype=np.float64))
    p2 = np.radians(np.asarray(lat2, dtype=np.float64))
    dphi = p2 - p1
    dlmb = np.radians(np.asarray(lon2, dtype=np.float64)) - np.radians(
        np.asarray(lon1, dtype=np.float64)
    )
    a = np.sin(dphi / 2.0) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2.0) ** 2
    return np.asarray(
        2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))),
        dtype=np.float64,
    )


def _group_order(labels: IntArray, n_labels: int) -> tuple[IntArray, IntArray]:
    valid = (labels >= 0) & (labels < n_labels)
    idx = np.flatnonzero(valid)
    order = idx[np.argsort(labels[idx], kind="stable")]
    counts = np.bincount(labels[idx], minlength=n_labels)
    starts = np.zeros(n_labels + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    return order, starts


def diameter_km(
    lat: npt.ArrayLike, lon: npt.ArrayLike, labels: npt.ArrayLike, n_labels: int
) -> FloatArray:
    """Return each territory's diameter: its greatest point-to-point distance.

    Parameters
    ----------
    lat, lon
        Point coordinates in degrees, shape ``(n_points,)``; non-finite
        points are ignored.
    labels
        Territory index of each point, shape ``(n_points,)``; negative means
        "in no territory".
    n_labels
        Number of territories; the result has shape ``(n_labels,)``, with 0
        for one point and NaN for none.

    Examples
    --------
    >>> d = diameter_km([0.0, 0.0, 0.0], [0.0, 1.0, 2.0], [0, 0, 1], 3)
    >>> [round(float(v), 3) for v in d[:2]], bool(np.isnan(d[2]))
    ([111.195, 0.0], True)
    """
    la = np.asarray(lat, dtype=np.float64)
    lo = np.asarray(lon, dtype=np.float64)
    lab = np.asarray(labels, dtype=np.int64).copy()
    lab[~(np.isfinite(la) & np.isfinite(lo))] = -1
    order, starts = _group_order(lab, n_labels)
    out = np.full(n_labels, np.nan)
    for k in range(n_labels):
        members = order[starts[k] : starts[k + 1]]
        if members.size == 0:
            continue
        out[k] = _diameter_one(la[members], lo[members])
    return out


def hull_candidates(
    lat: FloatArray, lon: FloatArray, ref_lat: float | None = None
) -> npt.NDArray[np.int64]:
    """Return indices of the points that can end a diameter (convex hull vertices).

    Hull vertices are found in a local equirectangular projection around
    ``ref_lat`` (degrees; default the points' mean latitude); collinear or
    repeated points fall back to the distinct points. Shape ``(k,)``.

    Examples
    --------
    >>> hull_candidates(np.array([0.0, 0.0, 1.0, 1.0, 0.5]),
    ...                 np.array([0.0, 1.0, 0.0, 1.0, 0.5])).tolist()
    [0, 1, 2, 3]
    """
    la = np.asarray(lat, dtype=np.float64)
    lo = np.asarray(lon, dtype=np.float64)
    if la.size <= 3:
        return np.arange(la.size, dtype=np.int64)
    ref = np.radians(float(la.mean()) if ref_lat is None else ref_lat)
    pts = np.column_stack([lo * np.cos(ref), la])
    try:
        return np.sort(ConvexHull(pts).vertices).astype(np.int64)
    except QhullError:  # collinear or repeated points: keep the distinct ones
        _, first = np.unique(pts, axis=0, return_index=True)
        return np.sort(first).astype(np.int64)


def points_diameter_km(lat: FloatArray, lon: FloatArray) -> float:
    """Return the greatest distance (km) between any two of the given points.

    NaN for no points, 0 for one.

    Examples
    --------
    >>> round(points_diameter_km(np.array([0.0, 0.0]), np.array([0.0, 1.0])), 3)
    111.195
    """
    la = np.asarray(lat, dtype=np.float64)
    lo = np.asarray(lon, dtype=np.float64)
    if la.size == 0:
        return float("nan")
    # Few points (for example hull candidates already): compare every pair.
    cand = np.arange(la.size) if la.size <= 64 else hull_candidates(la, lo)
    if cand.size > 4000:  # keep the pairwise step bounded
        cand = cand[:: int(np.ceil(cand.size / 4000))]
    a, b = la[cand], lo[cand]
    return float(haversine_km(a[:, None], b[:, None], a[None, :], b[None, :]).max())


def _diameter_one(lat: FloatArray, lon: FloatArray) -> float:
    return points_diameter_km(lat, lon)


def point_moments(
    lat: npt.ArrayLike,
    lon: npt.ArrayLike,
    labels: npt.ArrayLike,
    n_labels: int,
    weights: npt.ArrayLike | None = None,
) -> FloatArray:
    """Return the moments ``Σw, Σw·lat, Σw·lon, Σw·lat², Σw·lon²`` per territory.

    Shape ``(n_labels, 5)``. Moments add up, so a parent's are the sum of its
    children's (see :meth:`territory.metrics.hierarchy.Hierarchy.roll_up`),
    and :func:`inertia_from_moments` turns them into a distance.
    """
    la = np.asarray(lat, dtype=np.float64)
    lo = np.asarray(lon, dtype=np.float64)
    lab = np.asarray(labels, dtype=np.int64)
    w = np.ones_like(la) if weights is None else np.asarray(weights, dtype=np.float64)
    ok = np.isfinite(la) & np.isfinite(lo) & np.isfinite(w) & (lab >= 0)
    ok &= lab < n_labels
    la, lo, lab, w = la[ok], lo[ok], lab[ok], w[ok]
    out = np.empty((n_labels, 5))
    for k, v in enumerate((w, w * la, w * lo, w * la * la, w * lo * lo)):
        out[:, k] = np.bincount(lab, weights=v, minlength=n_labels)
    return out


def inertia_from_moments(moments: npt.ArrayLike) -> FloatArray:
    """Return the RMS distance (km) from the weighted centre, from point moments.

    ``Σw·d² = k² (Σw·lat² − (Σw·lat)²/Σw) + k² cos²(φ̄) (Σw·lon² − (Σw·lon)²/Σw)``
    with ``k`` km per degree and ``φ̄`` the centre's latitude (the local
    equirectangular projection of :func:`inertia_km`). NaN where ``Σw = 0``.
    """
    m = np.asarray(moments, dtype=np.float64)
    sw = m[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        c_lat = m[:, 1] / sw
        var_lat = np.maximum(m[:, 3] / sw - c_lat * c_lat, 0.0)
        c_lon = m[:, 2] / sw
        var_lon = np.maximum(m[:, 4] / sw - c_lon * c_lon, 0.0)
    k = np.radians(1.0) * EARTH_RADIUS_KM
    out = k * np.sqrt(var_lat + np.cos(np.radians(c_lat)) ** 2 * var_lon)
    out[~(sw > 0)] = np.nan
    return np.asarray(out, dtype=np.float64)


def inertia_km(
    lat: npt.ArrayLike,
    lon: npt.ArrayLike,
    labels: npt.ArrayLike,
    n_labels: int,
    weights: npt.ArrayLike | None = None,
) -> FloatArray:
    """Return each territory's RMS distance (km) of its points from their centre.

    ``sqrt(Σ w d² / Σ w)`` with ``d`` measured in a local equirectangular
    projection around the territory's weighted centre. Shape ``(n_labels,)``;
    NaN for a territory with no points (or zero total weight).

    Examples
    --------
    >>> r = inertia_km([0.0, 0.0], [0.0, 2.0], [0, 0], 1)
    >>> round(float(r[0]), 3)  # both points 1 degree (111.195 km) from the centre
    111.195
    """
    return inertia_from_moments(point_moments(lat, lon, labels, n_labels, weights))


def polsby_popper(area: npt.ArrayLike, perimeter: npt.ArrayLike) -> FloatArray:
    """Return ``4πA / P²`` per territory (NaN where the perimeter is not > 0).

    Area and perimeter must use matching units (km² and km).

    Examples
    --------
    >>> round(float(polsby_popper(1.0, 4.0)[0]), 4)  # unit square: π/4
    0.7854
    """
    a = np.atleast_1d(np.asarray(area, dtype=np.float64))
    p = np.atleast_1d(np.asarray(perimeter, dtype=np.float64))
    out = np.full(np.broadcast(a, p).shape, np.nan)
    ok = np.broadcast_to(p > 0, out.shape)
    num = np.broadcast_to(4.0 * np.pi * a, out.shape)
    den = np.broadcast_to(p * p, out.shape)
    out[ok] = num[ok] / den[ok]
    return out

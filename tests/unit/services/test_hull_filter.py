"""The extreme-octagon filter of the metrics service keeps every hull vertex.

``_may_be_hull_vertex`` sets aside points strictly inside the polygon of
each territory's extreme points before the convex hull is built; the hull
of what is kept, in the same projection, must be the hull of all points.
"""

from __future__ import annotations

import numpy as np
import pytest

from territory.metrics.compactness import hull_candidates
from territory.services.performance import _may_be_hull_vertex


def _clouds(rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
    """Point sets of several shapes and sizes (lat, lon in degrees)."""
    out = []
    for n in (33, 40, 200, 1500):
        out.append((rng.uniform(30, 31, n), rng.uniform(-90, -88, n)))  # box
        r, a = np.sqrt(rng.uniform(0, 1, n)), rng.uniform(0, 2 * np.pi, n)
        out.append((40 + r * np.sin(a), -100 + 2 * r * np.cos(a)))  # disc
        g = rng.integers(0, 6, (2, n)) * 0.1  # a grid: repeats, collinear rows
        out.append((35 + g[0], -95 + g[1]))
        a = rng.uniform(0, 2 * np.pi, n)
        out.append((45 + np.sin(a), -80 + np.cos(a)))  # every point on the hull
    return out


def _filter(clouds: list[tuple[np.ndarray, np.ndarray]]) -> list[np.ndarray]:
    lat = np.concatenate([c[0] for c in clouds])
    lon = np.concatenate([c[1] for c in clouds])
    sizes = [c[0].size for c in clouds]
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    kept = _may_be_hull_vertex(lat, lon, starts)
    return [kept[starts[k] : starts[k + 1]] for k in range(len(clouds))]


def test_filter_keeps_every_hull_vertex_and_the_same_hull() -> None:
    clouds = _clouds(np.random.default_rng(5))
    dropped = 0
    for (lat, lon), kept in zip(clouds, _filter(clouds), strict=True):
        full = hull_candidates(lat, lon)
        assert kept[full].all()
        idx = np.flatnonzero(kept)
        again = idx[hull_candidates(lat[idx], lon[idx], ref_lat=float(lat.mean()))]
        assert np.array_equal(np.sort(again), full)
        dropped += int((~kept).sum())
    assert dropped > 0.5 * sum(c[0].size for c in clouds[:2])  # it does filter


@pytest.mark.parametrize(
    ("lat", "lon"),
    [
        (np.linspace(30, 31, 100), np.linspace(-90, -88, 100)),  # collinear
        (np.full(100, 30.0), np.full(100, -90.0)),  # one place
        (np.random.default_rng(1).uniform(30, 31, 32), np.zeros(32)),  # few
    ],
)
def test_filter_keeps_all_of_degenerate_or_small_sets(
    lat: np.ndarray, lon: np.ndarray
) -> None:
    kept = _may_be_hull_vertex(lat, lon, np.array([0, lat.size], dtype=np.int64))
    assert kept.all()


def test_filter_drops_the_inside_of_a_square() -> None:
    """A 7 × 7 grid in a square: only the 24 border points can stay."""
    g = np.arange(7, dtype=np.float64)
    lat, lon = (a.ravel() for a in np.meshgrid(g, g))
    kept = _may_be_hull_vertex(lat, lon, np.array([0, 49], dtype=np.int64))
    border = (lat == 0) | (lat == 6) | (lon == 0) | (lon == 6)
    assert np.array_equal(kept, border)

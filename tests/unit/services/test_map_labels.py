"""Territory maps name each territory inside its own shape, readable at a glance.

Four unit squares in a row (lon 0–4, lat 0–1): U1, U2 in territory 0 and
U3, U4 in territory 1; a fifth unit far east (lon 9–10) also belongs to
territory 1, so its largest piece (U3+U4) must carry the label.
"""

from __future__ import annotations

import io

import numpy as np
import shapely
from matplotlib.image import imread

from territory.services import maps


def _shapes() -> maps.UnitShapes:
    boxes = [shapely.box(k, 0.0, k + 1.0, 1.0) for k in range(4)]
    boxes.append(shapely.box(9.0, 0.0, 10.0, 1.0))
    return maps.UnitShapes(
        kind="county",
        unit_id=np.array(["U1", "U2", "U3", "U4", "U5"], dtype=object),
        geometry=np.array(boxes, dtype=object),
        lon=np.array([0.5, 1.5, 2.5, 3.5, 9.5]),
        lat=np.full(5, 0.5),
    )


LABELS = np.array([0, 0, 1, 1, 1], dtype=np.int64)


def test_label_points_lie_in_each_territorys_largest_piece() -> None:
    shapes = _shapes()
    points = maps._outline_label_points(maps._outlines(shapes, LABELS), ["T1", "T2"])
    assert [p[2] for p in points] == ["T1", "T2"]
    (x1, y1, _), (x2, y2, _) = points
    assert shapely.box(0, 0, 2, 1).contains(shapely.Point(x1, y1))
    assert shapely.box(2, 0, 4, 1).contains(shapely.Point(x2, y2))  # not U5


def _dark_pixels(png: bytes) -> int:
    rgb = imread(io.BytesIO(png))[:, :, :3]
    # label ink is #1a1a1a; borders (#3a3a3a) and fills are lighter
    return int((rgb.max(axis=2) < 0x2A / 255).sum())


def test_territory_map_writes_the_names_and_account_map_too() -> None:
    shapes = _shapes()
    plain = maps.draw_territory_map(shapes, LABELS)
    named = maps.draw_territory_map(shapes, LABELS, names=["T1", "T2"])
    assert _dark_pixels(plain) == 0
    assert _dark_pixels(named) > 100
    lon = np.array([0.5, 1.5, 2.5, 3.5])
    lat = np.full(4, 0.5)
    t_idx = np.array([0, 0, 1, 1])
    dots = maps.draw_account_points(lon, lat, t_idx)
    dots_named = maps.draw_account_points(lon, lat, t_idx, names=["T1", "T2"])
    assert _dark_pixels(dots) == 0
    assert _dark_pixels(dots_named) > 100

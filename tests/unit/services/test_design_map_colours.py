"""Territory map colours: one colour per territory, the same on every map.

Maps of one plan (design map, change map into it, report map) all colour a
territory with :func:`maps.territory_palette` of the plan's territory ids.
The change map is drawn on four unit squares in a row (lon 0–4, lat 0–1):
U1, U2 in territory 0 ("T01") and U3, U4 in territory 1 ("T02"); U2 and U3
moved, U1 and U4 did not.
"""

from __future__ import annotations

import io

import numpy as np
import shapely
from matplotlib.image import imread

from territory.services import maps


def test_palette_depends_only_on_the_set_of_territory_ids() -> None:
    ids = [f"T{k:02d}" for k in range(1, 16)]
    forward = maps.territory_palette(ids)
    assert forward == maps.territory_palette(reversed(ids))
    assert forward == maps.territory_palette([*ids, "T03"])
    assert list(forward) == ids
    assert list(forward.values()) == maps.territory_colours(15)
    # every territory its own colour, and none is the grey of "unchanged"
    assert len(set(forward.values())) == 15
    assert maps.UNCHANGED_GREY not in forward.values()


def _counts(png: bytes, columns: slice) -> dict[str, int]:
    rgb = np.round(imread(io.BytesIO(png))[:, columns, :3] * 255).astype(int)
    flat = rgb.reshape(-1, 3)
    codes, n = np.unique(
        flat[:, 0] * 65536 + flat[:, 1] * 256 + flat[:, 2], return_counts=True
    )
    return {
        f"#{c:06x}": int(k) for c, k in zip(codes.tolist(), n.tolist(), strict=True)
    }


def test_change_map_uses_the_plans_colours_and_keys_them() -> None:
    shapes = maps.UnitShapes(
        kind="county",
        unit_id=np.array(["U1", "U2", "U3", "U4"], dtype=object),
        geometry=np.array([shapely.box(k, 0.0, k + 1.0, 1.0) for k in range(4)]),
        lon=np.array([0.5, 1.5, 2.5, 3.5]),
        lat=np.full(4, 0.5),
    )
    palette = maps.territory_palette(["T01", "T02"])
    png = maps.draw_change_map(
        shapes,
        np.array([0, 0, 1, 1], dtype=np.int64),
        np.array([False, True, True, False]),
        palette=[palette["T01"], palette["T02"]],
        names=["T01", "T02"],
    )
    width = imread(io.BytesIO(png)).shape[1]
    on_map = _counts(png, slice(0, int(width * 0.7)))
    in_key = _counts(png, slice(int(width * 0.72), width))
    for colour in (palette["T01"], palette["T02"], maps.UNCHANGED_GREY):
        # filled squares on the map, one swatch each in the key
        assert on_map.get(colour, 0) > 5_000, colour
        assert 50 < in_key.get(colour, 0) < 2_000, colour

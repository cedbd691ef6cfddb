"""Territory map colours: touching territories differ, colours spread evenly."""

from __future__ import annotations

import shapely

from territory.services.design_output import PALETTE, _colours


def _squares(n_cols: int, n_rows: int) -> dict[str, shapely.Polygon]:
    return {
        f"T{r * n_cols + c:02d}": shapely.box(c, r, c + 1, r + 1)
        for r in range(n_rows)
        for c in range(n_cols)
    }


def test_no_more_territories_than_colours_gives_each_its_own() -> None:
    shapes = _squares(4, 3)
    colours = _colours(shapes, sorted(shapes))
    assert len(set(colours.values())) == 12 == len(PALETTE)


def test_touching_territories_never_share_a_colour_on_a_large_grid() -> None:
    shapes = _squares(8, 6)
    order = sorted(shapes)
    colours = _colours(shapes, order)
    for a in order:
        for b in order:
            if a < b and shapes[a].touches(shapes[b]):
                assert colours[a] != colours[b], (a, b)
    counts = [list(colours.values()).count(c) for c in PALETTE]
    assert min(counts) >= 1
    assert max(counts) <= 5  # 48 territories over 12 colours: about 4 each

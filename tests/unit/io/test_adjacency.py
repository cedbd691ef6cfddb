"""Neighbour pairs from polygons and points, on drawn grids and on the county map."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from shapely import Polygon, box

from territory.errors import InputError
from territory.io import adjacency
from territory.io.adjacency import components_of, point_adjacency, polygon_adjacency
from territory.io.usdata import STATE_FIPS, Counties, read_counties


def test_doctests_pass() -> None:
    assert doctest.testmod(adjacency).failed == 0


def _grid_2x2() -> list[Polygon]:
    """Four unit squares.

    c d
    a b
    """
    return [box(0, 0, 1, 1), box(1, 0, 2, 1), box(0, 1, 1, 2), box(1, 1, 2, 2)]


def test_queen_links_diagonal_corners() -> None:
    adj = polygon_adjacency(["a", "b", "c", "d"], _grid_2x2())
    assert adj.id_pairs() == [
        ("a", "b"), ("a", "c"), ("a", "d"), ("b", "c"), ("b", "d"), ("c", "d")
    ]  # fmt: skip
    assert adj.report.contiguity == "queen"
    km = dict(zip(adj.id_pairs(), adj.shared_km.tolist(), strict=True))
    assert km[("a", "d")] == 0.0  # corner only
    assert km[("a", "b")] == pytest.approx(110.574, rel=1e-3)  # 1 degree of latitude


def test_rook_drops_corner_touches() -> None:
    adj = polygon_adjacency(["a", "b", "c", "d"], _grid_2x2(), "rook")
    assert adj.id_pairs() == [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]


def test_border_without_common_vertex_still_neighbours() -> None:
    """A's right edge has no vertex where B's pieces meet it, and B's corners
    sit a hair (1e-9 degrees) off A's edge.

    +----+--+
    | A  |B |
    |    |  |
    +----+--+
    """
    a = Polygon([(0, 0), (1, 0), (1, 2), (0, 2)])
    b = Polygon([(1 + 1e-9, 0.5), (2, 0.5), (2, 1.5), (1 + 1e-9, 1.5)])
    for kind in ("queen", "rook"):
        adj = polygon_adjacency(["A", "B"], [a, b], kind)
        assert adj.id_pairs() == [("A", "B")]
    assert adj.shared_km[0] == pytest.approx(110.574, rel=1e-2)


def test_far_polygons_are_islands() -> None:
    adj = polygon_adjacency(["a", "b", "z"], [box(0, 0, 1, 1), box(1, 0, 2, 1),
                                              box(5, 5, 6, 6)])  # fmt: skip
    assert adj.report.islands == ("z",)
    assert adj.report.components == (("a", "b"), ("z",))
    assert adj.neighbours() == {"a": ["b"], "b": ["a"], "z": []}


def test_unknown_contiguity_is_rejected() -> None:
    with pytest.raises(InputError, match="queen") as info:
        polygon_adjacency(["a"], [box(0, 0, 1, 1)], "bishop")
    assert info.value.code == "bad_contiguity"


def test_repeated_ids_are_rejected() -> None:
    with pytest.raises(InputError, match="distinct id") as info:
        polygon_adjacency(["a", "a"], [box(0, 0, 1, 1), box(1, 0, 2, 1)])
    assert info.value.code == "duplicate_id"


def test_components_of_lists_islands_and_pieces() -> None:
    comps, islands = components_of(["a", "b", "c", "d"], np.array([[0, 1], [2, 3]]))
    assert comps == (("a", "b"), ("c", "d"))
    assert islands == ()


def test_point_adjacency_merges_shared_locations() -> None:
    """Five points; 'b' and 'b2' share a location.

    c   d
      b/b2
    a
    """
    adj = point_adjacency(
        ["a", "b", "b2", "c", "d"],
        [0.0, 1.0, 1.0, 2.0, 2.0],
        [0.0, 1.0, 1.0, 0.0, 2.0],
    )
    nb = adj.neighbours()
    assert "b2" in nb["b"]
    assert set(nb["b"]) - {"b2"} == set(nb["b2"]) - {"b"}
    assert adj.report.merged_locations == (("b", "b2"),)
    assert adj.report.n_components == 1
    assert np.isnan(adj.shared_km).all()


def test_point_adjacency_keeps_only_neighbouring_parents() -> None:
    """Three points in a row: x (county 1), y (county 2), z (county 3);
    counties 1-2 are neighbours, 2-3 are not."""
    adj = point_adjacency(
        ["x", "y", "z"],
        [0.0, 0.0, 0.0],
        [0.0, 1.0, 2.0],
        parents=["1", "2", "3"],
        parent_pairs=[("1", "2")],
    )
    assert adj.id_pairs() == [("x", "y")]
    assert adj.report.islands == ("z",)


def test_point_adjacency_on_a_line_links_in_order() -> None:
    adj = point_adjacency(["p", "q", "r"], [0.0, 0.0, 0.0], [2.0, 0.0, 1.0])
    assert adj.id_pairs() == [("p", "r"), ("q", "r")]


# --- the real county map -------------------------------------------------


@pytest.fixture(scope="module")
def counties() -> Counties:
    return read_counties()


@pytest.mark.slow
def test_contiguous_us_is_one_piece_plus_three_island_counties(
    counties: Counties,
) -> None:
    lower48 = counties.select_states(
        [s for s in STATE_FIPS.values() if s not in {"AK", "HI"}]
    )
    assert lower48.frame.height == 3108
    adj = polygon_adjacency(list(lower48.frame["id"]), lower48.geometries)
    assert adj.report.component_sizes == (3105, 1, 1, 1)
    # Dukes and Nantucket (MA), San Juan (WA)
    assert adj.report.islands == ("25007", "25019", "53055")


@pytest.mark.slow
def test_full_county_map_components(counties: Counties) -> None:
    adj = polygon_adjacency(list(counties.frame["id"]), counties.geometries)
    report = adj.report
    assert report.n_pairs == 9124
    assert report.component_sizes == (3105, 28, 2, 1, 1, 1, 1, 1, 1, 1)
    assert report.islands == (
        "02016", "15001", "15003", "15007", "25007", "25019", "53055"
    )  # fmt: skip
    assert ("15005", "15009") in report.components  # Kalawao shares Molokai with Maui


def test_four_corners_are_queen_but_not_rook_neighbours(counties: Counties) -> None:
    four = counties.select_states(["AZ", "CO", "NM", "UT"])
    ids = list(four.frame["id"])
    queen = polygon_adjacency(ids, four.geometries, "queen").neighbours()
    rook = polygon_adjacency(ids, four.geometries, "rook").neighbours()
    # San Juan (UT) - San Juan (NM) and Montezuma (CO) - Apache (AZ) meet at a point.
    assert "35045" in queen["49037"]
    assert "04001" in queen["08083"]
    assert "35045" not in rook["49037"]
    assert "04001" not in rook["08083"]
    assert "08083" in rook["49037"]  # a real shared border stays

"""Encoding ids <-> engine indices, and the planar projection of unit locations."""

from __future__ import annotations

import numpy as np
import pytest

from territory.errors import InputError, InternalError
from territory.services.design_inputs import project_km
from territory.services.encoding import Encoding


def test_encoding_round_trips_every_unit_once() -> None:
    enc = Encoding(("a", "b", "c"), ("T1", "T2"))
    labels = enc.encode_labels({"a": "T2", "b": "T1", "c": "T2"})
    assert labels.tolist() == [1, 0, 1]
    assert enc.decode(labels) == {"a": "T2", "b": "T1", "c": "T2"}


def test_encoding_leaves_unassigned_units_out_of_the_decoded_plan() -> None:
    enc = Encoding(("a", "b"), ("T1",))
    assert enc.encode_labels({"a": "T1"}).tolist() == [0, -1]
    assert enc.decode(np.array([0, -1])) == {"a": "T1"}


def test_encoding_rejects_duplicate_unit_ids() -> None:
    with pytest.raises(InputError, match="'a' appears twice") as err:
        Encoding(("a", "b", "a"), ("T1",))
    assert err.value.code == "duplicate_unit"


def test_encoding_decode_asserts_one_label_per_unit() -> None:
    enc = Encoding(("a", "b"), ("T1",))
    with pytest.raises(InternalError, match="exactly once"):
        enc.decode(np.array([0]))
    with pytest.raises(InternalError, match="outside"):
        enc.decode(np.array([0, 1]))


def test_encoding_names_unknown_units_and_territories() -> None:
    enc = Encoding(("a",), ("T1",))
    with pytest.raises(InputError, match="Unit 'z'"):
        enc.unit_index("z")
    with pytest.raises(InputError, match="Territory 'T9'"):
        enc.encode_labels({"a": "T9"})


def test_projection_keeps_distances_in_km() -> None:
    # Boston (42.36, -71.06) to Los Angeles (34.05, -118.24): 4,170 km on the
    # sphere; the equal-area projection stays within 1.5 % across the country.
    lat = np.array([42.36, 34.05, 47.6, 25.8])
    lon = np.array([-71.06, -118.24, -122.3, -80.2])
    xy = project_km(lat, lon)
    d = float(np.hypot(*(xy[0] - xy[1])))
    assert d == pytest.approx(4170, rel=0.015)
    # one degree of longitude at 40 N is 85.3 km
    one = project_km(np.array([40.0, 40.0]), np.array([-100.0, -99.0]))
    assert float(np.hypot(*(one[0] - one[1]))) == pytest.approx(85.3, rel=0.005)

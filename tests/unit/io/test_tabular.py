"""Reading and writing entity files: encodings, leading zeros, formats, CRS."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from territory.errors import InputError, ValidationFailed
from territory.io.tabular import ROW_COLUMN, read_table, write_table

HEADER = "id,name,billing_postal_code,billing_city\n"


def _write(path: Path, text: str, encoding: str = "utf-8", bom: bool = False) -> Path:
    data = text.encode(encoding)
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    return path


def test_read_csv_keeps_leading_zeros_and_text(tmp_path: Path) -> None:
    f = _write(tmp_path / "a.csv", HEADER + "007,Acme,02134,Boston\n010,Beta,01001,\n")
    raw = read_table(f)
    assert raw.frame.get_column("id").to_list() == ["007", "010"]
    assert raw.frame.get_column("billing_postal_code").to_list() == ["02134", "01001"]
    assert raw.frame.get_column("billing_city").to_list() == ["Boston", None]
    assert raw.frame.get_column(ROW_COLUMN).to_list() == [2, 3]
    assert all(raw.frame.schema[c] == pl.String for c in raw.columns)


def test_read_csv_accepts_byte_order_mark(tmp_path: Path) -> None:
    f = _write(tmp_path / "bom.csv", HEADER + "A1,Café,02134,Boston\n", bom=True)
    raw = read_table(f)
    assert raw.columns[0] == "id"
    assert raw.frame.get_column("name").to_list() == ["Café"]


def test_read_csv_rejects_latin1_without_encoding(tmp_path: Path) -> None:
    text = HEADER + "A1,Acme,02134,Boston\nA2,Café Noir,01001,Montréal\n"
    f = _write(tmp_path / "latin.csv", text, encoding="latin-1")
    with pytest.raises(
        InputError, match=r"latin\.csv is not valid UTF-8: row 3"
    ) as exc:
        read_table(f)
    assert "--encoding latin-1" in exc.value.message
    assert exc.value.code == "bad_encoding"
    assert exc.value.details == {"file": "latin.csv", "row": 3, "suggested": "latin-1"}


def test_read_csv_accepts_latin1_with_encoding(tmp_path: Path) -> None:
    text = HEADER + "A2,Café Noir,01001,Montréal\n"
    f = _write(tmp_path / "latin.csv", text, encoding="latin-1")
    raw = read_table(f, encoding="latin-1")
    assert raw.frame.get_column("billing_city").to_list() == ["Montréal"]


def test_read_csv_suggests_cp1252_for_windows_quotes(tmp_path: Path) -> None:
    f = _write(tmp_path / "win.csv", HEADER + "A1,\u201cAcme\u201d,02134,X\n", "cp1252")
    with pytest.raises(InputError, match="--encoding cp1252"):
        read_table(f)


def test_read_rejects_unknown_extension_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"'\.xlsx'; name the file \.csv"):
        read_table(tmp_path / "accounts.xlsx")
    with pytest.raises(InputError, match="does not exist"):
        read_table(tmp_path / "missing.csv")


def test_read_csv_rejects_repeated_header(tmp_path: Path) -> None:
    f = _write(tmp_path / "dup.csv", "id,name,name\nA1,x,y\n")
    with pytest.raises(ValidationFailed, match="malformed header") as exc:
        read_table(f)
    (issue,) = exc.value.issues
    assert (issue.file, issue.row, issue.field) == ("dup.csv", 1, "name")
    assert "columns 2 and 3" in issue.problem


def test_read_csv_rejects_unknown_encoding_name(tmp_path: Path) -> None:
    f = _write(tmp_path / "a.csv", HEADER)
    with pytest.raises(InputError, match="Unknown encoding 'klingon'"):
        read_table(f, encoding="klingon")


def test_parquet_integer_zip_is_read_as_text(tmp_path: Path) -> None:
    f = tmp_path / "a.parquet"
    pl.DataFrame(
        {"id": ["A1"], "billing_postal_code": [2134], "x": [1.5]}
    ).write_parquet(f)
    raw = read_table(f)
    assert raw.frame.get_column("billing_postal_code").to_list() == ["2134"]
    assert raw.frame.get_column("x").to_list() == ["1.5"]


def _geojson(path: Path, crs: str | None, coords: list[float]) -> Path:
    doc: dict = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"id": "01001", "name": "Autauga", "population": 55869},
                "geometry": {"type": "Point", "coordinates": coords},
            }
        ],
    }
    if crs is not None:
        doc["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_geojson_properties_become_text_columns(tmp_path: Path) -> None:
    f = _geojson(tmp_path / "u.geojson", "urn:ogc:def:crs:EPSG::4269", [-86.6, 32.5])
    raw = read_table(f)
    assert raw.frame.get_column("id").to_list() == ["01001"]
    assert raw.frame.get_column("population").to_list() == ["55869"]
    assert raw.frame.schema["geometry"] == pl.Binary


def test_geojson_with_projected_crs_is_rejected(tmp_path: Path) -> None:
    f = _geojson(tmp_path / "u.geojson", "urn:ogc:def:crs:EPSG::3857", [-9e6, 3.8e6])
    with pytest.raises(InputError, match="EPSG::3857.*never reprojects") as exc:
        read_table(f)
    assert exc.value.code == "bad_crs"
    assert exc.value.details["file"] == "u.geojson"


def test_write_then_read_keeps_values_in_every_format(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "id": ["007", "A,2"],
            "billing_postal_code": ["02134", None],
            "annual_revenue": [0.1 + 0.2, None],
            "excluded_from_realign": [True, False],
        }
    )
    for ext in ("csv", "parquet", "geojson"):
        path = tmp_path / f"out.{ext}"
        assert write_table(frame, path) == 2
        raw = read_table(path)
        assert raw.frame.get_column("id").to_list() == ["007", "A,2"]
        assert raw.frame.get_column("billing_postal_code").to_list() == ["02134", None]
        assert raw.frame.get_column("annual_revenue").to_list() == [
            repr(0.1 + 0.2),
            None,
        ]
        assert raw.frame.get_column("excluded_from_realign").to_list() == [
            "true",
            "false",
        ]


def test_read_csv_names_the_row_of_invalid_utf8_deep_in_the_file(
    tmp_path: Path,
) -> None:
    rows = "".join(f"A{i},Acme,02134,Boston\n" for i in range(5000))
    data = (HEADER + rows).encode() + b"A5000,Caf\xe9,02134,Boston\n"
    f = tmp_path / "late.csv"
    f.write_bytes(data)
    with pytest.raises(InputError, match=r"late\.csv is not valid UTF-8: row 5002"):
        read_table(f)


def test_read_csv_refuses_a_header_that_is_not_utf8(tmp_path: Path) -> None:
    f = tmp_path / "head.csv"
    f.write_bytes(b"id,name,r\xe9gion\nA1,Acme,Nord\n")
    with pytest.raises(InputError, match=r"head\.csv is not valid UTF-8: row 1") as exc:
        read_table(f)
    assert exc.value.details["suggested"] == "latin-1"


@pytest.mark.parametrize("content", [b"", b"  \n\n", b"\xef\xbb\xbf"])
def test_read_csv_refuses_an_empty_file(tmp_path: Path, content: bytes) -> None:
    f = tmp_path / "empty.csv"
    f.write_bytes(content)
    with pytest.raises(InputError, match=r"empty\.csv is empty") as exc:
        read_table(f)
    assert exc.value.code == "empty_file"


def test_read_csv_strips_blanks_and_reads_blank_cells_as_missing(
    tmp_path: Path,
) -> None:
    f = _write(tmp_path / "b.csv", HEADER + ' A1 ,"  ",\t02134 ,""\r\nA2,,"",x\r\n')
    raw = read_table(f)
    assert raw.frame.get_column("id").to_list() == ["A1", "A2"]
    assert raw.frame.get_column("name").to_list() == [None, None]
    assert raw.frame.get_column("billing_postal_code").to_list() == ["02134", None]
    assert raw.frame.get_column("billing_city").to_list() == [None, "x"]


def test_parquet_lists_and_structs_are_read_as_json_text(tmp_path: Path) -> None:
    f = tmp_path / "a.parquet"
    pl.DataFrame(
        {
            "id": ["A1", "A2"],
            "tags": [["gold", "key"], None],
            "owner": [{"name": "Ann", "share": 60}, None],
        }
    ).write_parquet(f)
    frame = read_table(f).frame
    assert frame.get_column("tags").to_list() == ['["gold", "key"]', None]
    assert frame.get_column("owner").to_list() == ['{"name": "Ann", "share": 60}', None]


def test_parquet_binary_column_that_is_not_text_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "a.parquet"
    pl.DataFrame({"id": ["A1"], "blob": [b"\xff\xfe"]}).write_parquet(f)
    with pytest.raises(InputError, match="column 'blob' holds binary data") as e:
        read_table(f)
    assert e.value.code == "bad_parquet"


@pytest.mark.parametrize(
    ("text", "encoding", "bom", "separator", "label"),
    [
        ("id;name\nA1;Acme\n", None, True, ";", r"semicolons \(;\)"),
        ("id;name;billing_city\nA1;Acme;Köln\n", "latin-1", False, ";", "semicolons"),
        ("id\tname\nA1\tAcme\n", None, False, "\t", "tabs"),
    ],
)
def test_read_csv_names_another_separator(
    tmp_path: Path,
    text: str,
    encoding: str | None,
    bom: bool,
    separator: str,
    label: str,
) -> None:
    f = _write(tmp_path / "eu.csv", text, encoding or "utf-8", bom=bom)
    with pytest.raises(
        InputError, match=rf"eu\.csv separates its columns with {label}"
    ):
        read_table(f, encoding=encoding)
    with pytest.raises(InputError) as exc:
        read_table(f, encoding=encoding)
    assert exc.value.code == "wrong_separator"
    assert exc.value.details == {"file": "eu.csv", "separator": separator}
    assert "'CSV UTF-8 (Comma delimited)'" in exc.value.message


def test_read_csv_with_semicolons_inside_a_comma_header_is_read(
    tmp_path: Path,
) -> None:
    f = _write(tmp_path / "a.csv", 'id,"name;alias"\nA1,x;y\n')
    assert read_table(f).columns == ("id", "name;alias")


def test_read_csv_says_the_named_encoding_cannot_read_the_header(
    tmp_path: Path,
) -> None:
    # An even number of UTF-8 bytes: UTF-16 decodes them without error, into
    # CJK text.
    f = _write(tmp_path / "a.csv", HEADER + "A1,Acme,30303,Athens\n")
    assert len(f.read_bytes()) % 2 == 0
    with pytest.raises(
        InputError, match=r"a\.csv: the header could not be read as utf-16"
    ) as exc:
        read_table(f, encoding="utf-16")
    assert exc.value.code == "bad_encoding"
    assert "run again without --encoding" in exc.value.message


def test_rows_with_another_field_count_are_named_with_their_counts(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ragged.csv"
    path.write_bytes(b'id,name\nD1,A\nD2,B,extra\nD3\nD4,"x, y"\n')
    with pytest.raises(ValidationFailed) as ei:
        read_table(path)
    assert (
        ei.value.message
        == "ragged.csv: 2 row(s) do not have as many fields as the header."
    )
    got = [(i.file, i.row, i.problem) for i in ei.value.issues]
    assert got == [
        ("ragged.csv", 3, "has 3 fields; the header has 2"),
        ("ragged.csv", 4, "has 1 field; the header has 2"),
    ]

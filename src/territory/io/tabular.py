"""Read and write entity files: CSV, Parquet and GeoJSON, chosen by extension.

Every value is read as text first, so identifiers keep their leading zeros
(ZIP ``02134``, FIPS ``01001``) whatever a spreadsheet or a type guesser
would have made of them; :mod:`territory.io.validation` then types the
columns by the entity's schema. Values are stripped of surrounding blanks and
an empty value is a missing one.

CSV files are UTF-8, with or without a byte-order mark, and separated by
commas. Any other encoding must be named (``--encoding latin-1``); a file
that is not valid UTF-8 is refused with its row and a suggested encoding,
never decoded by guesswork, and a header that the named encoding turns into
no column names is refused as such. A header split by semicolons or tabs
and no commas is refused naming the separator.

GeoJSON files are a ``FeatureCollection``; each feature's ``properties``
become columns and its geometry becomes the ``geometry`` column (WKB). The
coordinates must be longitude/latitude (EPSG:4326 or the NAD83 EPSG:4269 the
Census maps use); a ``crs`` member naming anything else is refused, never
reprojected. In CSV and Parquet files a ``geometry`` column holds WKT.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from territory.errors import InputError, Issue, ValidationFailed

__all__ = [
    "ACCEPTED_CRS",
    "FORMATS",
    "ROW_COLUMN",
    "RawTable",
    "file_format",
    "os_reason",
    "read_table",
    "write_table",
]

#: Name of the column holding each record's row number as a spreadsheet shows
#: it (the header is row 1, the first record row 2; for Parquet and GeoJSON
#: the first record is row 2 too, so numbers match an exported CSV).
ROW_COLUMN = "_row"

FORMATS = {
    ".csv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".geojson": "geojson",
    ".json": "geojson",
}

#: ``crs`` names GeoJSON files may declare: lon/lat on WGS84 or NAD83.
ACCEPTED_CRS = frozenset(
    {
        "urn:ogc:def:crs:OGC:1.3:CRS84",
        "urn:ogc:def:crs:OGC::CRS84",
        "urn:ogc:def:crs:EPSG::4326",
        "urn:ogc:def:crs:EPSG::4269",
        "EPSG:4326",
        "EPSG:4269",
        "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        "http://www.opengis.net/def/crs/EPSG/0/4326",
        "http://www.opengis.net/def/crs/EPSG/0/4269",
    }
)

_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class RawTable:
    """A file's records as text columns, before typing.

    ``frame`` has one ``String`` column per file column (``geometry`` is WKB
    ``Binary`` when present) plus ``_row``, the record's row number.
    """

    file: str
    frame: pl.DataFrame
    columns: tuple[str, ...]

    @property
    def n_rows(self) -> int:
        """Number of records read."""
        return self.frame.height


def os_reason(exc: OSError, path: str | Path) -> str:
    """Say why the operating system refused ``path``, without repeating the path.

    Python's own errors carry ``strerror``; the writers of polars and pyarrow
    raise an ``OSError`` whose text alone holds the reason.

    Examples
    --------
    >>> os_reason(PermissionError(13, "Permission denied"), "/x.csv")
    'Permission denied'
    >>> os_reason(FileNotFoundError("No such file (os error 2): /x.csv"), "/x.csv")
    'No such file (os error 2)'
    """
    if exc.strerror:
        return exc.strerror
    text = str(exc).strip()
    for suffix in (f": {path}", f": '{path}'"):
        text = text.removesuffix(suffix)
    return text or type(exc).__name__


def file_format(path: Path) -> str:
    """Return ``csv``, ``parquet`` or ``geojson`` for ``path``'s extension.

    Raises
    ------
    InputError
        When the extension is none of ``.csv``, ``.parquet``, ``.geojson``.
    """
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(
            f"Cannot tell the format of '{path.name}' from its extension "
            f"'{path.suffix}'; name the file .csv, .parquet or .geojson.",
            code="unknown_file_format",
            details={"file": str(path)},
        )
    return fmt


# ------------------------------------------------------------------- reading


def _row_of_offset(data: bytes, offset: int) -> int:
    """Return the 1-based line number holding byte ``offset``."""
    return data.count(b"\n", 0, offset) + 1


def _suggest_encoding(data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        data.decode("cp1252")
    except UnicodeDecodeError:
        return "latin-1"
    # Both decode; cp1252 differs from latin-1 only in 0x80-0x9f, which
    # Windows spreadsheets use for curly quotes and dashes.
    if any(0x80 <= b <= 0x9F for b in data):
        return "cp1252"
    return "latin-1"


def _decode_csv(data: bytes, name: str, encoding: str | None) -> bytes:
    """Return ``data`` as UTF-8 bytes without a byte-order mark."""
    if encoding is None or _is_utf8(encoding):
        if data.startswith(_BOM):
            data = data[len(_BOM) :]
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            row = _row_of_offset(data, exc.start)
            suggested = _suggest_encoding(data)
            bad = data[exc.start : exc.start + 4]
            raise InputError(
                f"{name} is not valid UTF-8: row {row} has byte(s) "
                f"{bad.hex(' ')} that UTF-8 cannot hold. Files must be UTF-8 "
                f"unless you name their encoding; if this file was saved as "
                f"{suggested}, run again with --encoding {suggested}, or save it "
                "as 'CSV UTF-8' from your spreadsheet.",
                code="bad_encoding",
                details={"file": name, "row": row, "suggested": suggested},
            ) from exc
        return data
    try:
        text = data.decode(encoding)
    except LookupError as exc:
        raise InputError(
            f"Unknown encoding '{encoding}' for {name}; use a Python codec name "
            "such as utf-8, latin-1 or cp1252.",
            code="unknown_encoding",
            details={"file": name, "encoding": encoding},
        ) from exc
    except UnicodeDecodeError as exc:
        row = _row_of_offset(data, exc.start)
        raise InputError(
            f"{name} is not valid {encoding}: row {row} cannot be decoded; check "
            f"which encoding the file was saved in.{_utf8_hint(data)}",
            code="bad_encoding",
            details={"file": name, "row": row, "encoding": encoding},
        ) from exc
    text = text.lstrip("\ufeff")
    _check_decoded_header(data, text, name, encoding)
    return text.encode("utf-8")


def _utf8_hint(data: bytes) -> str:
    """Return advice to drop ``--encoding`` when ``data`` is valid UTF-8."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return ""
    return " The file reads as UTF-8: run again without --encoding."


def _check_decoded_header(data: bytes, text: str, name: str, encoding: str) -> None:
    """Refuse a header that ``encoding`` decoded into something unreadable.

    A UTF-8 or ASCII file read as UTF-16 decodes without error into CJK
    characters with no comma left; saying so beats "required column 'id' is
    missing".
    """
    header = text.split("\n", 1)[0].rstrip("\r")
    if "," in header:
        return
    raw_header = data.split(b"\n", 1)[0]
    garbled = any(not ch.isprintable() for ch in header)
    if not (garbled or b"," in raw_header):
        return
    shown = "".join(ch if ch.isprintable() else "?" for ch in header[:12])
    raise InputError(
        f"{name}: the header could not be read as {encoding} (it decodes to "
        f"'{shown}...', with no column names); check which encoding the file "
        f"was saved in.{_utf8_hint(data)}",
        code="bad_encoding",
        details={"file": name, "encoding": encoding},
    )


def _check_separator(header: str, name: str) -> None:
    """Refuse a header that another separator (``;``, tab) splits.

    European spreadsheets save "CSV" with semicolons; read with commas, the
    whole header is one column and every required column looks missing.
    """
    if "," in header:
        return
    for sep, label in ((";", "semicolons (;)"), ("\t", "tabs")):
        if sep in header:
            shown = header[:60].replace("\t", "\\t")
            raise InputError(
                f"{name} separates its columns with {label}, not commas "
                f"(header: '{shown}'); territory reads comma-separated files. "
                "Save it from your spreadsheet as 'CSV UTF-8 (Comma "
                "delimited)' and import it again.",
                code="wrong_separator",
                details={"file": name, "separator": sep},
            )


def _check_header(columns: list[str], name: str) -> list[str]:
    clean = [c.strip() for c in columns]
    seen: dict[str, int] = {}
    issues: list[Issue] = []
    for pos, col in enumerate(clean, start=1):
        if not col:
            issues.append(
                Issue(
                    problem=f"column {pos} has no name",
                    hint="give every column a header or delete the empty column",
                    file=name,
                    row=1,
                )
            )
        elif col in seen:
            issues.append(
                Issue(
                    problem=f"column '{col}' appears twice (columns {seen[col]} "
                    f"and {pos})",
                    hint="keep one of them",
                    file=name,
                    row=1,
                    field=col,
                )
            )
        else:
            seen[col] = pos
    if issues:
        raise ValidationFailed(
            f"{name} has a malformed header; fix it and import again.", issues
        )
    return clean


def _normalise(frame: pl.DataFrame, first_row: int) -> pl.DataFrame:
    """Strip text, turn empty text into null, and number the rows."""
    # One chunk per column first: the strip and every later filter, join and
    # gather run several times faster than over the many chunks a parallel
    # CSV read leaves.
    frame = frame.rechunk()
    text_cols = [c for c, t in frame.schema.items() if t == pl.String]
    if text_cols:
        # Two passes: the second only compares lengths, so the whole costs
        # little more than the strip.
        frame = frame.with_columns(pl.col(text_cols).str.strip_chars())
        text = pl.col(text_cols)
        frame = frame.with_columns(pl.when(text.str.len_bytes() > 0).then(text))
    return frame.with_row_index(ROW_COLUMN, offset=first_row).with_columns(
        pl.col(ROW_COLUMN).cast(pl.Int64)
    )


def _geometry_from_wkt(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    if "geometry" not in frame.columns or frame.schema["geometry"] != pl.String:
        return frame
    import shapely

    texts = frame.get_column("geometry").to_list()
    geoms = shapely.from_wkt(texts, on_invalid="ignore")
    bad = [
        i for i, (t, g) in enumerate(zip(texts, geoms, strict=True)) if t and g is None
    ]
    if bad:
        rows = frame.get_column(ROW_COLUMN).gather(bad).to_list()
        raise ValidationFailed(
            f"{name}: {len(bad)} geometry value(s) are not valid WKT.",
            [
                Issue(
                    problem="geometry is not valid WKT",
                    hint="write it as WKT, e.g. POLYGON ((lon lat, ...))",
                    file=name,
                    row=r,
                    field="geometry",
                )
                for r in rows
            ],
        )
    wkb = shapely.to_wkb(geoms, include_srid=False)
    return frame.with_columns(pl.Series("geometry", list(wkb), dtype=pl.Binary))


def _is_utf8(encoding: str | None) -> bool:
    return encoding is None or encoding.replace("-", "").replace("_", "").lower() in (
        "utf8",
        "utf8sig",
    )


def _first_line(path: Path) -> bytes:
    """Return the file's first line (the header) without its byte-order mark."""
    with path.open("rb") as f:
        return f.readline().removeprefix(_BOM)


def _empty_file(name: str) -> InputError:
    return InputError(
        f"{name} is empty; it needs a header row and at least the required columns.",
        code="empty_file",
        details={"file": name},
    )


def _parse_csv(source: Path | bytes, name: str) -> pl.DataFrame:
    """Parse CSV text (UTF-8, optional byte-order mark) into text columns."""
    try:
        return pl.read_csv(
            source,
            infer_schema=False,
            has_header=True,
            raise_if_empty=True,
            truncate_ragged_lines=False,
        )
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        ragged = _ragged_rows(source, name)
        if ragged:
            raise ValidationFailed(
                f"{name}: {len(ragged)} row(s) do not have as many fields as the "
                "header.",
                ragged,
            ) from exc
        first = str(exc).strip().splitlines()[0]
        raise InputError(
            f"{name} cannot be read as CSV ({first}); check that every row "
            "has as many fields as the header and that quotes are balanced.",
            code="bad_csv",
            details={"file": name},
        ) from exc


def _fields(n: int) -> str:
    return f"{n} field" if n == 1 else f"{n} fields"


def _ragged_rows(source: Path | bytes, name: str) -> list[Issue]:
    """Rows whose field count differs from the header's (read again, slowly).

    Runs only after the fast reader refused the file, to name the rows. A
    row is numbered as a spreadsheet shows it (the header is row 1); a
    field that spans lines inside quotes counts from its first line.
    """
    raw = source if isinstance(source, bytes) else source.read_bytes()
    text = raw.decode("utf-8", errors="replace").removeprefix("\ufeff")
    reader = csv.reader(text.splitlines(keepends=True))
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        return []
    issues: list[Issue] = []
    start = reader.line_num + 1
    try:
        for record in reader:
            if record and len(record) != len(header):
                issues.append(
                    Issue(
                        problem=(
                            f"has {_fields(len(record))}; the header has {len(header)}"
                        ),
                        hint=(
                            "remove the extra separators or quote values that hold "
                            "a comma"
                            if len(record) > len(header)
                            else "add the missing fields (empty ones as ,,)"
                        ),
                        file=name,
                        row=start,
                    )
                )
            start = reader.line_num + 1
    except csv.Error:
        return issues
    return issues


def _read_csv(path: Path, encoding: str | None) -> pl.DataFrame:
    name = path.name
    if _is_utf8(encoding):
        # polars reads the file itself (memory-mapped, in parallel) and
        # refuses invalid UTF-8 in any field, but reads the header leniently,
        # so that line is checked here. On failure the file is decoded once
        # more to name the row and suggest an encoding.
        header = _first_line(path)
        try:
            header.decode("utf-8")
        except UnicodeDecodeError:
            _decode_csv(path.read_bytes(), name, encoding)
        if not header.strip() and not path.read_bytes().removeprefix(_BOM).strip():
            raise _empty_file(name)
        _check_separator(header.decode("utf-8").rstrip("\r\n"), name)
        try:
            frame = _parse_csv(path, name)
        except InputError:
            _decode_csv(path.read_bytes(), name, encoding)
            raise
    else:
        data = _decode_csv(path.read_bytes(), name, encoding)
        if not data.strip():
            raise _empty_file(name)
        header = data.split(b"\n", 1)[0]
        _check_separator(header.decode("utf-8").rstrip("\r\n"), name)
        frame = _parse_csv(data, name)
    # polars renames repeated headers; check the header as written.
    first_line = header.decode("utf-8").rstrip("\r\n")
    clean = _check_header(next(csv.reader([first_line])), name)
    if len(clean) != len(frame.columns):
        clean = [c.strip() for c in frame.columns]
    return frame.rename(dict(zip(frame.columns, clean, strict=True)))


def _read_parquet(path: Path) -> pl.DataFrame:
    try:
        frame = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InputError(
            f"{path.name} cannot be read as Parquet ({exc}); check that it is a "
            "Parquet file.",
            code="bad_parquet",
            details={"file": path.name},
        ) from exc
    _check_header(frame.columns, path.name)
    casts: list[pl.Expr | pl.Series] = []
    for col, dtype in frame.schema.items():
        if dtype == pl.String:
            continue
        if dtype == pl.Binary and col == "geometry":
            continue
        if dtype.is_nested():
            # Lists and structs become JSON text, as GeoJSON properties do.
            casts.append(
                pl.Series(
                    col,
                    [
                        None if v is None else json.dumps(v, default=str)
                        for v in frame.get_column(col).to_list()
                    ],
                    dtype=pl.String,
                )
            )
        elif dtype == pl.Binary:
            try:
                casts.append(pl.col(col).cast(pl.String))
                frame.select(casts[-1])
            except pl.exceptions.PolarsError as exc:
                raise InputError(
                    f"{path.name}: column '{col}' holds binary data that is not "
                    "UTF-8 text; territory reads text, numbers, booleans and "
                    "dates (and WKB in a 'geometry' column). Remove the column "
                    "or store it as text.",
                    code="bad_parquet",
                    details={"file": path.name, "column": col},
                ) from exc
        elif dtype.is_float():
            # Shortest text that reads back to the same double.
            casts.append(pl.col(col).cast(pl.String))
        elif dtype == pl.Boolean:
            casts.append(
                pl.when(pl.col(col))
                .then(pl.lit("true"))
                .otherwise(pl.lit("false"))
                .alias(col)
            )
        else:
            casts.append(pl.col(col).cast(pl.String))
    return frame.with_columns(casts) if casts else frame


def _check_crs(doc: dict[str, Any], name: str) -> None:
    crs = doc.get("crs")
    if crs is None:
        return
    crs_name = None
    if isinstance(crs, dict):
        props = crs.get("properties")
        if isinstance(props, dict):
            crs_name = props.get("name")
    if crs_name not in ACCEPTED_CRS:
        raise InputError(
            f"{name} declares coordinate reference system {crs_name!r}; territory "
            "reads longitude/latitude only (EPSG:4326 or EPSG:4269) and never "
            "reprojects. Reproject the file to EPSG:4326 (e.g. with ogr2ogr "
            "-t_srs EPSG:4326) and import it again.",
            code="bad_crs",
            details={"file": name, "crs": crs_name},
        )


def _read_geojson(path: Path) -> pl.DataFrame:
    import shapely

    try:
        doc = json.loads(path.read_bytes().removeprefix(_BOM))
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path.name} is not UTF-8; GeoJSON files must be UTF-8 (RFC 7946).",
            code="bad_encoding",
            details={"file": path.name},
        ) from exc
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{path.name} is not valid JSON (line {exc.lineno}, column "
            f"{exc.colno}: {exc.msg}).",
            code="bad_geojson",
            details={"file": path.name, "line": exc.lineno},
        ) from exc
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise InputError(
            f"{path.name} is not a GeoJSON FeatureCollection; export the layer as "
            "a FeatureCollection.",
            code="bad_geojson",
            details={"file": path.name},
        )
    _check_crs(doc, path.name)
    features = doc.get("features") or []
    columns: dict[str, None] = {}
    records: list[dict[str, Any]] = []
    geoms: list[str | None] = []
    for feature in features:
        props = feature.get("properties") or {}
        for key in props:
            columns.setdefault(key, None)
        records.append(props)
        geom = feature.get("geometry")
        geoms.append(json.dumps(geom) if geom else None)
    names = [c for c in columns if c != "geometry"]

    def text(value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float):
            return repr(value)
        if isinstance(value, dict | list):
            return json.dumps(value)
        return str(value)

    data = {c: [text(r.get(c)) for r in records] for c in names}
    frame = pl.DataFrame(data, schema=dict.fromkeys(names, pl.String))
    _check_header(list(frame.columns), path.name)
    if any(g is not None for g in geoms):
        shapes = shapely.from_geojson(geoms, on_invalid="ignore")
        bad = [
            i
            for i, (g, s) in enumerate(zip(geoms, shapes, strict=True))
            if g and s is None
        ]
        if bad:
            raise ValidationFailed(
                f"{path.name}: {len(bad)} feature geometries are not valid GeoJSON.",
                [
                    Issue(
                        problem="geometry is not valid GeoJSON",
                        hint="fix or remove the feature's geometry",
                        file=path.name,
                        row=i + 2,
                        field="geometry",
                    )
                    for i in bad
                ],
            )
        wkb = shapely.to_wkb(shapes, include_srid=False)
        frame = frame.with_columns(pl.Series("geometry", list(wkb), dtype=pl.Binary))
    return frame


def read_table(path: str | Path, *, encoding: str | None = None) -> RawTable:
    """Read an entity file into text columns, choosing the reader by extension.

    Parameters
    ----------
    encoding
        CSV only: the file's encoding when it is not UTF-8 (e.g. ``latin-1``).

    Raises
    ------
    InputError
        When the file is missing, has an unknown extension, is not valid
        UTF-8 (and no encoding was named), cannot be parsed, or a GeoJSON file
        declares a CRS other than EPSG:4326/4269.
    ValidationFailed
        When the header repeats or omits a column name, or a geometry cannot
        be parsed.
    """
    path = Path(path)
    fmt = file_format(path)
    if not path.is_file():
        raise InputError(
            f"File '{path}' does not exist; check the path.",
            code="file_not_found",
            details={"file": str(path)},
        )
    if fmt == "csv":
        frame = _read_csv(path, encoding)
    elif fmt == "parquet":
        frame = _read_parquet(path)
    else:
        frame = _read_geojson(path)
    frame = _normalise(frame, first_row=2)
    frame = _geometry_from_wkt(frame, path.name)
    columns = tuple(c for c in frame.columns if c != ROW_COLUMN)
    return RawTable(file=path.name, frame=frame, columns=columns)


# ------------------------------------------------------------------- writing


def _geometry_to_wkt(frame: pl.DataFrame) -> pl.DataFrame:
    if "geometry" not in frame.columns or frame.schema["geometry"] != pl.Binary:
        return frame
    import shapely

    geoms = shapely.from_wkb(frame.get_column("geometry").to_list())
    wkt = shapely.to_wkt(geoms, rounding_precision=-1, trim=True)
    return frame.with_columns(pl.Series("geometry", list(wkt), dtype=pl.String))


def _write_geojson(frame: pl.DataFrame, path: Path) -> None:
    import shapely

    props = [c for c in frame.columns if c != "geometry"]
    if "geometry" in frame.columns:
        geoms = shapely.from_wkb(frame.get_column("geometry").to_list())
        geo_text = shapely.to_geojson(geoms)
    else:
        geo_text = [None] * frame.height

    def plain(value: Any) -> Any:
        if hasattr(value, "isoformat"):
            return value.isoformat()
        return value

    rows = frame.select(props).rows()
    with path.open("w", encoding="utf-8") as out:
        out.write(
            '{"type": "FeatureCollection", "crs": {"type": "name", '
            '"properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}, '
            '"features": [\n'
        )
        for i, (row, geom) in enumerate(zip(rows, geo_text, strict=True)):
            properties = {
                k: plain(v) for k, v in zip(props, row, strict=True) if v is not None
            }
            out.write(
                ("" if i == 0 else ",\n")
                + '{"type": "Feature", "properties": '
                + json.dumps(properties, ensure_ascii=False)
                + ', "geometry": '
                + (geom if geom is not None else "null")
                + "}"
            )
        out.write("\n]}\n")


def write_table(frame: pl.DataFrame, path: str | Path) -> int:
    """Write ``frame`` to ``path`` in the format its extension names; return rows.

    Text stays text (leading zeros survive), floats are written in their
    shortest exact form, booleans as ``true``/``false`` and dates as ISO
    ``YYYY-MM-DD``. A ``geometry`` column of WKB is written as WKT in CSV and
    Parquet and as feature geometry in GeoJSON.

    Raises
    ------
    InputError
        When the extension is unknown or the file cannot be written.
    """
    path = Path(path)
    fmt = file_format(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "csv":
            _geometry_to_wkt(frame).write_csv(
                path, include_header=True, quote_style="necessary", null_value=""
            )
        elif fmt == "parquet":
            _geometry_to_wkt(frame).write_parquet(path)
        else:
            _write_geojson(frame, path)
    except OSError as exc:
        raise InputError(
            f"Cannot write '{path}': {os_reason(exc, path)}; check the folder "
            "exists and is writable.",
            code="write_failed",
            details={"file": str(path)},
        ) from exc
    return frame.height

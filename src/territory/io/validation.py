"""Type and check an entity file's text columns, all rows at once.

:func:`validate` turns a :class:`~territory.io.tabular.RawTable` into typed
columns and a list of :class:`~territory.errors.Issue`, each naming the file,
the row (as a spreadsheet numbers it), the field, what is wrong and what to do.
Every check is a polars expression over the whole column; Python touches only
the rows that fail, to word their issues.

Problems with the file as a whole (a required column missing, an unknown
column) are *fatal*: no row can be imported. Problems with single rows mark
those rows bad; the caller either refuses the file or, when asked, skips the
bad rows and reports each one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import polars as pl

from territory.domain.wording import with_article
from territory.errors import Issue
from territory.io.columns import resolve_header
from territory.io.schema import EntitySchema, Extras, FieldKind, FieldSpec
from territory.io.tabular import ROW_COLUMN, RawTable

__all__ = [
    "BAD_COLUMN",
    "PERIOD_PATTERN",
    "Validated",
    "check_references",
    "flag_rows",
    "validate",
]

#: Boolean column marking rows with at least one issue.
BAD_COLUMN = "_bad"

#: A year (``2027``), a quarter (``2027-Q1``) or a month (``2027-03``).
PERIOD_PATTERN = r"^\d{4}(-Q[1-4]|-(0[1-9]|1[0-2]))?$"

_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")
_US = ("us", "usa", "u.s.", "u.s.a.", "united states", "united states of america")
_COORD_HINT = (
    "coordinates are degrees of latitude (-90..90) and longitude (-180..180) "
    "on EPSG:4326; territory never swaps or reprojects them, so check the "
    "columns and the source's projection"
)
_PAIRS = {
    "latitude": "longitude",
    "home_lat": "home_lon",
    "centroid_lat": "centroid_lon",
}


@dataclass(frozen=True, slots=True)
class Validated:
    """A file's rows typed by its schema, with every issue found.

    ``frame`` holds the typed schema columns present in the file, any extra
    columns (text, or floats for unit metrics), ``_row`` and ``_bad``.
    ``fatal`` issues concern the whole file.
    """

    file: str
    schema: EntitySchema
    frame: pl.DataFrame
    present: tuple[str, ...]
    extras: tuple[str, ...]
    issues: list[Issue] = field(default_factory=list)
    fatal: list[Issue] = field(default_factory=list)
    #: Field name -> the column as the file wrote it, where they differ
    #: (``annual_revenue`` -> ``AnnualRevenue``): issues name the latter.
    written: Mapping[str, str] = field(default_factory=dict)
    #: Custom columns renamed to the spelling stored already (written, stored).
    stored_spelling: tuple[tuple[str, str], ...] = ()
    #: Rows with no value in any column (a spreadsheet's trailing ``,,,``
    #: lines, empty lines), left out of ``frame``.
    blank_rows: tuple[int, ...] = ()

    @property
    def n_rows(self) -> int:
        """Rows read from the file."""
        return self.frame.height

    @property
    def n_bad(self) -> int:
        """Rows with at least one issue."""
        return int(self.frame.get_column(BAD_COLUMN).sum())

    def good(self) -> pl.DataFrame:
        """Return the rows without issues."""
        return self.frame.filter(~pl.col(BAD_COLUMN))

    def all_issues(self) -> list[Issue]:
        """Return file issues, then row issues ordered by row and field.

        Row issues name each field as the file's header writes it.
        """
        rows = sorted(self.issues, key=lambda i: (i.row or 0, i.field or "", i.problem))
        if self.written:
            rows = [
                replace(i, field=self.written.get(i.field, i.field))
                if i.field is not None
                else i
                for i in rows
            ]
        return [*self.fatal, *rows]


# ------------------------------------------------------------------ helpers


def _constant(value: bool | None, n: int, dtype: pl.DataType) -> pl.Series:
    """Return ``value`` repeated ``n`` times, built without a Python list."""
    return pl.repeat(value, n, dtype=dtype, eager=True).alias("")


def _issues_for(
    frame: pl.DataFrame,
    mask: pl.Series,
    column: str,
    file: str,
    problem: str,
    hint: str,
) -> list[Issue]:
    """Word one issue per row where ``mask`` holds; ``{v}`` is the row's value."""
    picked = frame.filter(mask)
    if picked.height == 0:
        return []
    values = (
        picked.get_column(column).cast(pl.String).to_list()
        if column in picked.columns and picked.schema[column] != pl.Binary
        else [None] * picked.height
    )
    rows = picked.get_column(ROW_COLUMN).to_list()
    return [
        Issue(
            problem=problem.format(v=v),
            hint=hint.format(v=v),
            file=file,
            row=r,
            field=column,
        )
        for r, v in zip(rows, values, strict=True)
    ]


def _number(text: pl.Series) -> pl.Series:
    # Cast fails (null) on anything but a plain number; inf/nan are refused.
    out = text.cast(pl.Float64, strict=False)
    return out.set(out.is_infinite() | out.is_nan(), None)


@dataclass(slots=True)
class _Checker:
    frame: pl.DataFrame
    file: str
    schema: EntitySchema
    bad: pl.Series
    issues: list[Issue]

    def flag(self, mask: pl.Series, column: str, problem: str, hint: str) -> None:
        mask = mask.fill_null(False)
        if not mask.any():
            return
        self.bad = self.bad | mask
        self.issues.extend(
            _issues_for(self.frame, mask, column, self.file, problem, hint)
        )

    def typed(self, spec: FieldSpec) -> pl.Series:
        """Return the column typed by ``spec``, flagging bad values."""
        name = spec.name
        text = self.frame.get_column(name)
        present = text.is_not_null()
        noun = self.schema.noun
        if spec.required:
            self.flag(
                ~present,
                name,
                f"{name} is blank",
                f"every {noun} needs {with_article(name)}; fill it in or remove the "
                "row",
            )
        if spec.max_length is not None and spec.kind is FieldKind.TEXT:
            self.flag(
                text.str.len_chars() > spec.max_length,
                name,
                f"{name} is longer than {spec.max_length} characters",
                "shorten it",
            )
        kind = spec.kind
        if kind in (FieldKind.TEXT, FieldKind.SPLITS):
            return text
        if kind in (FieldKind.FLOAT, FieldKind.NONNEGATIVE):
            value = _number(text)
            self.flag(
                present & value.is_null(),
                name,
                "'{v}' is not a number",
                "write plain numbers such as 1234.5, without currency signs, "
                "units or thousands separators",
            )
            minimum = 0.0 if kind is FieldKind.NONNEGATIVE else spec.minimum
            self.below(value, spec, minimum)
            return value
        if kind is FieldKind.INT:
            value_i = text.cast(pl.Int64, strict=False)
            self.flag(
                present & value_i.is_null(),
                name,
                "'{v}' is not a whole number",
                "write a whole number such as 250, without separators or decimals",
            )
            self.below(value_i, spec, spec.minimum)
            return value_i
        if kind is FieldKind.BOOL:
            low = text.str.to_lowercase()
            is_true = low.is_in(_TRUE)
            is_false = low.is_in(_FALSE)
            self.flag(
                present & ~is_true & ~is_false,
                name,
                "'{v}' is not true or false",
                "write true or false (yes/no and 1/0 are read too)",
            )
            out = _constant(None, len(text), pl.Boolean()).alias(name)
            return out.set(is_true, True).set(is_false, False)
        if kind is FieldKind.DATE:
            value_d = text.str.to_date("%Y-%m-%d", strict=False)
            self.flag(
                present & value_d.is_null(),
                name,
                "'{v}' is not a date",
                "write dates as YYYY-MM-DD, e.g. 2027-03-31",
            )
            return value_d
        if kind is FieldKind.PERIOD:
            self.flag(
                present & ~text.str.contains(PERIOD_PATTERN),
                name,
                "'{v}' is not a period",
                "write a year (2027), a quarter (2027-Q1) or a month (2027-03)",
            )
            return text
        if kind is FieldKind.POSTAL_CODE:
            return self.postal_code(text)
        if kind in (FieldKind.LATITUDE, FieldKind.LONGITUDE):
            value = _number(text)
            self.flag(
                present & value.is_null(),
                name,
                "'{v}' is not a number",
                "write decimal degrees such as 42.3601",
            )
            limit = 90.0 if kind is FieldKind.LATITUDE else 180.0
            what = "latitude" if kind is FieldKind.LATITUDE else "longitude"
            self.flag(
                (value < -limit) | (value > limit),
                name,
                f"{what} {{v}} is outside -{limit:g}..{limit:g}",
                _COORD_HINT,
            )
            return value
        if kind is FieldKind.ROLE:
            return self.choice(text, name, ("owner", "overlay", "manager"), "role")
        if kind is FieldKind.UNIT_KIND:
            return self.choice(text, name, ("county", "zip", "custom"), "unit kind")
        if kind is FieldKind.CAUSE:
            return self.choice(text, name, ("manual", "import"), "cause")
        raise AssertionError(kind)  # pragma: no cover - every kind handled above

    def below(self, value: pl.Series, spec: FieldSpec, minimum: float | None) -> None:
        """Flag numbers below ``minimum`` (``0``: negative amounts, counts)."""
        if minimum is None:
            return
        noun = self.schema.noun
        if minimum == 0:
            problem = "'{v}' is negative"
            hint = (
                f"{with_article(noun)}'s {spec.name} cannot be negative; write 0 "
                "or a positive number"
            )
        else:
            problem = f"'{{v}}' is below {minimum:g}"
            hint = f"{with_article(noun)}'s {spec.name} is at least {minimum:g}"
        self.flag(value < minimum, spec.name, problem, hint)

    def choice(
        self, text: pl.Series, name: str, allowed: Sequence[str], what: str
    ) -> pl.Series:
        low = text.str.to_lowercase()
        self.flag(
            text.is_not_null() & ~low.is_in(list(allowed)),
            name,
            f"'{{v}}' is not {with_article(what)}",
            "use one of " + ", ".join(allowed),
        )
        return low

    def postal_code(self, text: pl.Series) -> pl.Series:
        name = "billing_postal_code"
        country = (
            self.frame.get_column("billing_country").str.to_lowercase()
            if "billing_country" in self.frame.columns
            else _constant(None, len(text), pl.String())
        )
        us = country.is_null() | country.is_in(list(_US))
        # A ZIP that a spreadsheet read as a number: 2134 for 02134, or
        # 2134-1234 for ZIP+4 02134-1234.
        lost = us & (
            text.str.contains(r"^\d{1,4}$") | text.str.contains(r"^\d{1,4}-\d{4}$")
        )
        lost = lost.fill_null(False)
        if lost.any():
            self.bad = self.bad | lost
            head = text.str.split("-").list.first().str.zfill(5)
            tail = text.str.split("-").list.get(1, null_on_oob=True)
            restored = pl.select(
                pl.when(tail.is_not_null())
                .then(pl.concat_str([head, pl.lit("-"), tail]))
                .otherwise(head)
            ).to_series()
            rows = self.frame.get_column(ROW_COLUMN).filter(lost).to_list()
            for r, v, fix in zip(
                rows,
                text.filter(lost).to_list(),
                restored.filter(lost).to_list(),
                strict=True,
            ):
                self.issues.append(
                    Issue(
                        problem=f"ZIP code '{v}' has lost its leading zero(s)",
                        hint=f"keep ZIP codes as text: write '{fix}' (format the "
                        "column as Text in your spreadsheet so the zeros stay)",
                        file=self.file,
                        row=r,
                        field=name,
                    )
                )
        self.zip_shape(text, us & ~lost)
        return text

    def zip_shape(self, text: pl.Series, us: pl.Series) -> None:
        """Flag US postal codes that are neither 5 digits nor ZIP+4.

        A spreadsheet that read the column as numbers writes ``30303.0`` or
        ``3.0303E+4``; those say so and give the ZIP back when it is whole.
        """
        name = "billing_postal_code"
        well_formed = text.str.contains(r"^\d{5}(-\d{4})?$")
        wrong = (us & text.is_not_null() & ~well_formed).fill_null(False)
        if not wrong.any():
            return
        self.bad = self.bad | wrong
        as_number = text.str.contains(r"^\d+\.\d*$|^\d*\.?\d+[eE][+-]?\d+$")
        rows = self.frame.get_column(ROW_COLUMN).filter(wrong).to_list()
        for r, v, numeric in zip(
            rows,
            text.filter(wrong).to_list(),
            as_number.filter(wrong).to_list(),
            strict=True,
        ):
            shape = "write 5 digits (30303) or ZIP+4 (30303-1234)"
            if numeric:
                value = float(v)
                fix = (
                    f"write '{int(value):05d}'"
                    if value.is_integer() and 0 <= value < 100_000
                    else shape
                )
                problem = f"ZIP code '{v}' was turned into a number by a spreadsheet"
                hint = (
                    f"{fix}, and format the column as Text in your spreadsheet "
                    "so ZIP codes stay as written; a ZIP is 5 digits or ZIP+4 "
                    "(30303-1234)"
                )
            else:
                problem = f"ZIP code '{v}' is not a US ZIP code"
                hint = (
                    f"{shape}; for an account outside the US, fill in "
                    "billing_country and the postal code is kept as written"
                )
            self.issues.append(
                Issue(problem=problem, hint=hint, file=self.file, row=r, field=name)
            )


# ------------------------------------------------------------------ validate


#: Largest difference, in degrees, between a Point geometry and the
#: latitude/longitude columns of the same record for the two to agree (about
#: 11 m of latitude): more than rounding, less than a different place.
POINT_TOLERANCE_DEG = 1e-4


def _degrees_text(values: pl.Series) -> pl.Series:
    """Return degrees as the shortest text that reads back to the same double."""
    return values.cast(pl.String)


def _points_to_columns(
    frame: pl.DataFrame, file: str, lat: str, lon: str
) -> tuple[pl.DataFrame, list[Issue]]:
    """Reconcile Point geometries with the ``lat``/``lon`` columns (accounts, reps).

    A record's Point fills both columns when both are blank; when the
    columns are given too, they must agree with the point to
    :data:`POINT_TOLERANCE_DEG`, or the record is refused: territory never
    picks one of two places. Any geometry but a Point is refused.
    """
    import shapely

    geoms = shapely.from_wkb(frame.get_column("geometry").to_list())
    has = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    is_point = has & (shapely.get_type_id(geoms) == 0)
    rows = frame.get_column(ROW_COLUMN)
    issues = [
        Issue(
            problem="geometry is not a Point",
            hint="give each record a Point geometry or latitude/longitude columns",
            file=file,
            row=int(r),
            field="geometry",
        )
        for r in rows.filter(pl.Series(has & ~is_point)).to_list()
    ]
    point = pl.Series(is_point)
    px = pl.Series(shapely.get_x(geoms)).fill_nan(None).set(~point, None)
    py = pl.Series(shapely.get_y(geoms)).fill_nan(None).set(~point, None)
    n = frame.height
    lat_text = (
        frame.get_column(lat)
        if lat in frame.columns
        else _constant(None, n, pl.String())
    )
    lon_text = (
        frame.get_column(lon)
        if lon in frame.columns
        else _constant(None, n, pl.String())
    )
    blank = lat_text.is_null() & lon_text.is_null()
    lat_v, lon_v = _number(lat_text), _number(lon_text)
    apart = (
        point
        & lat_v.is_not_null()
        & lon_v.is_not_null()
        & (
            ((lat_v - py).abs() > POINT_TOLERANCE_DEG)
            | ((lon_v - px).abs() > POINT_TOLERANCE_DEG)
        )
    ).fill_null(False)
    if apart.any():
        for r, y, x, a, b in zip(
            rows.filter(apart).to_list(),
            py.filter(apart).to_list(),
            px.filter(apart).to_list(),
            lat_text.filter(apart).to_list(),
            lon_text.filter(apart).to_list(),
            strict=True,
        ):
            issues.append(
                Issue(
                    problem=f"the Point geometry (latitude {y:g}, longitude {x:g}) "
                    f"and the columns {lat} {a}, {lon} {b} are different places",
                    hint="make them agree or leave one of them out; GeoJSON "
                    "points are [longitude, latitude], and territory never "
                    "chooses between two places",
                    file=file,
                    row=int(r),
                    field=lat,
                )
            )
    fill = blank & point
    frame = frame.with_columns(
        pl.when(fill).then(_degrees_text(py)).otherwise(lat_text).alias(lat),
        pl.when(fill).then(_degrees_text(px)).otherwise(lon_text).alias(lon),
    ).drop("geometry")
    return frame, issues


def validate(
    raw: RawTable, schema: EntitySchema, *, stored_custom: Iterable[str] = ()
) -> Validated:
    """Type ``raw``'s columns by ``schema`` and collect every issue.

    Columns are matched to fields by :func:`territory.io.columns.resolve_header`
    (snake_case or Salesforce names, any case; ``stored_custom`` names the
    custom fields the store holds, whose spelling a custom column takes).
    Checks: required columns present and values not blank; numbers, whole
    numbers, booleans, dates and periods well formed; amounts and counts not
    negative where the field says so; text within length limits; ZIP codes
    that lost leading zeros (``2134``, ``2134-1234``), that a spreadsheet
    turned into numbers (``30303.0``, ``3.0303E+4``) or that are neither 5
    digits nor ZIP+4 (US accounts only); latitude within
    -90..90 and longitude within -180..180, given in pairs, and agreeing
    with a Point geometry given too; roles, unit kinds and causes from their
    lists; opportunity splits well formed, each 0-100 and together at most
    100; end dates not before start dates; a quota's owner being exactly one
    of territory and rep; county and ZIP unit ids of 5 digits (a shorter one
    lost its leading zeros); and duplicate keys (each issue names every row
    sharing the key). Wholly blank rows are left out and listed in
    ``blank_rows``; they are not issues.
    """
    file = raw.file
    header = resolve_header(raw.columns, schema, file=file, stored_custom=stored_custom)
    fatal: list[Issue] = list(header.fatal)
    frame, blank_rows = _drop_blank_rows(raw.frame)
    frame = frame.rename({k: v for k, v in header.names.items() if k != v})
    pre_issues: list[Issue] = []
    names = set(schema.names)
    point_pair = next(
        ((a, b) for a, b in _PAIRS.items() if a in names and a != "centroid_lat"),
        None,
    )
    if "geometry" in frame.columns and schema.entity != "units":
        if point_pair is None:
            fatal.append(
                Issue(
                    problem="unknown column 'geometry'",
                    hint=f"{schema.entity} files carry no geometry; remove it",
                    file=file,
                    row=1,
                    field="geometry",
                )
            )
            frame = frame.drop("geometry")
        else:
            frame, pre_issues = _points_to_columns(frame, file, *point_pair)
    columns = [c for c in frame.columns if c != ROW_COLUMN]
    for spec in schema.fields:
        if spec.required and spec.name not in columns:
            also = f" (Salesforce: {spec.salesforce})" if spec.salesforce else ""
            fatal.append(
                Issue(
                    problem=f"required column '{spec.name}' is missing",
                    hint=f"add {with_article(repr(spec.name))} column{also}; "
                    f"{schema.entity} files "
                    "need " + ", ".join(f.name for f in schema.fields if f.required),
                    file=file,
                    row=1,
                    field=spec.name,
                )
            )
    extras = header.extras
    present = tuple(n for n in schema.names if n in columns)
    checker = _Checker(
        frame=frame,
        file=file,
        schema=schema,
        bad=_constant(False, frame.height, pl.Boolean()).alias(BAD_COLUMN),
        issues=list(pre_issues),
    )
    if pre_issues:
        bad_rows = {i.row for i in pre_issues}
        checker.bad = (
            frame.get_column(ROW_COLUMN).is_in(list(bad_rows)).alias(BAD_COLUMN)
        )
    typed: dict[str, pl.Series] = {}
    for name in present:
        typed[name] = checker.typed(schema.field(name)).alias(name)
    if schema.extras is Extras.METRICS:
        for col in extras:
            typed[col] = checker.typed(FieldSpec(col, FieldKind.FLOAT)).alias(col)
    _check_pairs(checker, typed)
    _check_dates(checker, typed)
    if schema.entity == "quotas":
        _check_quota_owner(checker, typed)
    if schema.entity == "units" and "id" in typed and "kind" in typed:
        _check_unit_ids(checker, typed["id"], typed["kind"])
    if "splits" in typed:
        typed["splits"] = _parse_splits(checker, typed["splits"])
    out = frame.with_columns(list(typed.values()))
    out = out.with_columns(checker.bad.alias(BAD_COLUMN))
    validated = Validated(
        file=file,
        schema=schema,
        frame=out,
        present=present,
        extras=extras,
        issues=checker.issues,
        fatal=fatal,
        written=header.written,
        stored_spelling=header.stored_spelling,
        blank_rows=blank_rows,
    )
    key = [k for k in schema.key if k in out.columns]
    if key and not fatal:
        validated = _check_duplicates(validated, key)
    return validated


def _drop_blank_rows(frame: pl.DataFrame) -> tuple[pl.DataFrame, tuple[int, ...]]:
    """Return ``frame`` without its wholly blank rows, and their row numbers."""
    columns = [c for c in frame.columns if c != ROW_COLUMN]
    if not columns or frame.height == 0:
        return frame, ()
    blank = frame.select(pl.all_horizontal(pl.col(columns).is_null())).to_series()
    if not blank.any():
        return frame, ()
    rows = tuple(frame.get_column(ROW_COLUMN).filter(blank).to_list())
    return frame.filter(~blank), rows


def _check_pairs(checker: _Checker, typed: dict[str, pl.Series]) -> None:
    for a, b in _PAIRS.items():
        if a not in typed and b not in typed:
            continue
        n = checker.frame.height
        va = typed[a] if a in typed else _constant(None, n, pl.Float64())
        vb = typed[b] if b in typed else _constant(None, n, pl.Float64())
        ta = checker.frame.get_column(a) if a in checker.frame.columns else va
        tb = checker.frame.get_column(b) if b in checker.frame.columns else vb
        only_a = ta.is_not_null() & tb.is_null()
        only_b = ta.is_null() & tb.is_not_null()
        checker.flag(
            only_a,
            b,
            f"{a} is given but {b} is blank",
            "give both coordinates or neither",
        )
        checker.flag(
            only_b,
            a,
            f"{b} is given but {a} is blank",
            "give both coordinates or neither",
        )


def _check_dates(checker: _Checker, typed: dict[str, pl.Series]) -> None:
    if "start_date" in typed and "end_date" in typed:
        checker.flag(
            typed["end_date"] < typed["start_date"],
            "end_date",
            "end_date {v} is before start_date",
            "swap the dates or correct one of them",
        )


#: Unit kind -> (what its id is, how many digits a lost zero leaves at least).
_UNIT_ID_SHAPE = {
    "county": ("5-digit county FIPS code (state + county, e.g. 01001)", 4),
    "zip": ("5-digit ZIP code (e.g. 02134)", 1),
}


def _check_unit_ids(checker: _Checker, ids: pl.Series, kinds: pl.Series) -> None:
    """Flag county and ZIP ids that lost their leading zeros or are malformed.

    County ids are 5 digits (state FIPS + county FIPS, the state never 00),
    so 4 digits is a county whose zero a spreadsheet dropped; ZIP ids are 5
    digits, and 1-4 digits is a ZIP that lost its zeros (``501`` for
    ``00501``). Custom units keep any id.
    """
    rows = checker.frame.get_column(ROW_COLUMN)
    for kind, (shape, shortest) in _UNIT_ID_SHAPE.items():
        label = "ZIP" if kind == "zip" else kind
        mine = (kinds == kind).fill_null(False) & ids.is_not_null()
        if not mine.any():
            continue
        lost = (mine & ids.str.contains(rf"^\d{{{shortest},4}}$")).fill_null(False)
        if lost.any():
            checker.bad = checker.bad | lost
            for r, v in zip(
                rows.filter(lost).to_list(), ids.filter(lost).to_list(), strict=True
            ):
                checker.issues.append(
                    Issue(
                        problem=f"{label} id '{v}' has lost its leading zero(s)",
                        hint=f"a {label} id is a {shape}: write '{v.zfill(5)}' "
                        "and keep ids as text (format the column as Text in "
                        "your spreadsheet so the zeros stay)",
                        file=checker.file,
                        row=r,
                        field="id",
                    )
                )
        checker.flag(
            mine & ~lost & ~ids.str.contains(r"^\d{5}$"),
            "id",
            f"'{{v}}' is not a {label} id",
            f"a {label} id is a {shape}; use kind custom for units of your own",
        )


def _check_quota_owner(checker: _Checker, typed: dict[str, pl.Series]) -> None:
    n = checker.frame.height
    t = (
        typed["territory_id"]
        if "territory_id" in typed
        else _constant(None, n, pl.String())
    )
    r = typed["rep_id"] if "rep_id" in typed else _constant(None, n, pl.String())
    checker.flag(
        t.is_null() & r.is_null(),
        "territory_id",
        "the quota names neither a territory nor a rep",
        "fill in territory_id or rep_id",
    )
    checker.flag(
        t.is_not_null() & r.is_not_null(),
        "rep_id",
        "the quota names both a territory and a rep",
        "a quota belongs to one territory or one rep; put the other in its own row",
    )


_SPLIT_DTYPE = pl.List(pl.Struct({"rep_id": pl.String, "percent": pl.Float64}))


def _parse_splits(checker: _Checker, text: pl.Series) -> pl.Series:
    """Parse ``R1:60;R2:40`` cells into lists of (rep_id, percent)."""
    name = "splits"
    rows = checker.frame.get_column(ROW_COLUMN)
    parts = (
        pl.DataFrame(
            {ROW_COLUMN: rows, "_i": pl.int_range(len(text), eager=True), name: text}
        )
        .filter(pl.col(name).is_not_null())
        .with_columns(pl.col(name).str.split(";"))
        .explode(name)
        .with_columns(pl.col(name).str.strip_chars())
        .filter(pl.col(name) != "")
        .with_columns(
            pl.col(name).str.extract(r"^([^:]+):").str.strip_chars().alias("rep_id"),
            pl.col(name).str.extract(r":([^:]*)$").str.strip_chars().alias("_pct"),
        )
        .with_columns(pl.col("_pct").cast(pl.Float64, strict=False).alias("percent"))
    )
    bad_form = parts.filter(
        pl.col("rep_id").is_null()
        | pl.col("percent").is_null()
        | pl.col(name).str.count_matches(":").ne(1)
    )
    bad_range = parts.filter((pl.col("percent") < 0) | (pl.col("percent") > 100))
    sums = parts.group_by("_i").agg(
        pl.col("percent").sum().alias("_total"),
        pl.col("rep_id").is_duplicated().any().alias("_dup"),
        pl.first(ROW_COLUMN),
    )
    over = sums.filter(pl.col("_total") > 100 + 1e-9)
    dup = sums.filter(pl.col("_dup"))
    flagged: dict[int, list[tuple[str, str]]] = {}
    for r, cell in bad_form.select(ROW_COLUMN, name).iter_rows():
        flagged.setdefault(r, []).append(
            (
                f"split '{cell}' is not REP_ID:PERCENT",
                "write splits as REP_ID:PERCENT pairs separated by ';', "
                "e.g. R1:60;R2:40",
            )
        )
    for r, cell in bad_range.select(ROW_COLUMN, name).iter_rows():
        flagged.setdefault(r, []).append(
            (
                f"split '{cell}' is not between 0 and 100 percent",
                "use a percentage 0-100",
            )
        )
    for r, total in over.select(ROW_COLUMN, "_total").iter_rows():
        flagged.setdefault(r, []).append(
            (f"splits add up to {total:g}%", "splits may not exceed 100% together")
        )
    for (r,) in dup.select(ROW_COLUMN).iter_rows():
        flagged.setdefault(r, []).append(
            ("a rep appears twice in the splits", "give each rep one split")
        )
    if flagged:
        mask = rows.is_in(list(flagged))
        checker.bad = checker.bad | mask
        for r in sorted(flagged):
            for problem, hint in flagged[r]:
                checker.issues.append(
                    Issue(
                        problem=problem, hint=hint, file=checker.file, row=r, field=name
                    )
                )
    good_parts = parts.filter(
        pl.col("rep_id").is_not_null() & pl.col("percent").is_not_null()
    )
    lists = good_parts.group_by("_i", maintain_order=True).agg(
        pl.struct("rep_id", "percent").alias(name)
    )
    full = (
        pl.DataFrame({"_i": pl.int_range(len(text), eager=True)})
        .join(lists, on="_i", how="left")
        .sort("_i")
    )
    return full.get_column(name).cast(_SPLIT_DTYPE).alias(name)


def _check_duplicates(validated: Validated, key: list[str]) -> Validated:
    frame = validated.frame
    dup_mask = frame.select(pl.struct(key).is_duplicated()).to_series()
    if not dup_mask.any():
        return validated
    groups = (
        frame.filter(dup_mask)
        .group_by(key, maintain_order=True)
        .agg(pl.col(ROW_COLUMN).sort())
    )
    noun = validated.schema.noun
    issues = list(validated.issues)
    file = validated.file
    for rec in groups.iter_rows(named=True):
        rows = rec[ROW_COLUMN]
        label = " / ".join("" if rec[k] is None else str(rec[k]) for k in key)
        if len(rows) == 2:
            where = f"rows {rows[0]} and {rows[1]}"
        else:
            where = "rows " + ", ".join(map(str, rows[:-1])) + f" and {rows[-1]}"
        what = "id" if key == ["id"] else " / ".join(key)
        for r in rows:
            issues.append(
                Issue(
                    problem=f"{noun} '{label}' appears {len(rows)} times in {file} "
                    f"({where})",
                    hint=f"{noun} {what} must be unique; remove or merge the "
                    "duplicates",
                    file=file,
                    row=r,
                    field=key[-1] if key != ["model", "id"] else "id",
                )
            )
    frame = frame.with_columns((pl.col(BAD_COLUMN) | dup_mask).alias(BAD_COLUMN))
    return replace(validated, frame=frame, issues=issues)


def flag_rows(
    validated: Validated, mask: pl.Series, field: str, problem: str, hint: str
) -> Validated:
    """Return ``validated`` with an issue on each row where ``mask`` holds.

    ``problem`` and ``hint`` may use ``{v}`` for the row's value of ``field``.
    """
    mask = mask.fill_null(False)
    if not mask.any():
        return validated
    new = _issues_for(validated.frame, mask, field, validated.file, problem, hint)
    frame = validated.frame.with_columns((pl.col(BAD_COLUMN) | mask).alias(BAD_COLUMN))
    return replace(validated, frame=frame, issues=[*validated.issues, *new])


def check_references(
    validated: Validated,
    field: str,
    known: Iterable[str] | pl.Series,
    *,
    what: str,
    hint: str,
    within: str | None = None,
) -> Validated:
    """Flag rows whose ``field`` names something not in ``known``.

    The problem reads "unknown {what} '{value}'", followed by "in {within}"
    when given (``within="model 'FY27'"``). Blank values are not checked
    (required fields are flagged elsewhere).
    """
    if field not in validated.frame.columns:
        return validated
    known_series = (
        known
        if isinstance(known, pl.Series)
        else pl.Series(list(known), dtype=pl.String)
    )
    col = validated.frame.get_column(field)
    mask = col.is_not_null() & ~col.is_in(known_series.cast(pl.String))
    where = f" in {within}" if within else ""
    return flag_rows(validated, mask, field, f"unknown {what} '{{v}}'{where}", hint)

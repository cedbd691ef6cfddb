"""Territory maps drawn from the geo units' stored geometry (PNG, no screen).

Three pictures share one drawing routine:

* a **territory map**: every unit filled with its territory's colour, with
  territory borders drawn over the unit borders;
* a **change map**: units whose territory changed filled with their new
  territory's colour, unchanged units grey;
* a **choropleth**: units shaded by a value in quantile classes, with a
  legend of the class bounds.

Geometries are WKB in lon/lat (``geo_unit.geometry``). When a unit has no
stored geometry it is drawn as a point at its centroid. Every map of a plan
colours its territories with :func:`territory_palette` (the design map, the
change map into the plan and the report's map alike), so a territory has one
colour wherever it is drawn; the colours step through hues by the golden
ratio, so the ids next to each other get distinct hues. The same input always
gives the same picture. matplotlib runs on its Agg backend only.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import polars as pl
import shapely
from sqlalchemy import Connection, select

from territory.errors import InputError

if TYPE_CHECKING:
    from matplotlib.path import Path as MplPath
from territory.services.plan import read_frame
from territory.storage import tables as t

__all__ = [
    "MAX_KEYED_TERRITORIES",
    "UNCHANGED_GREY",
    "UnitShapes",
    "draw_account_points",
    "draw_change_map",
    "draw_choropleth",
    "draw_territory_map",
    "figure_png",
    "read_unit_shapes",
    "territory_colours",
    "territory_palette",
]

UNCHANGED_GREY = "#d9d9d9"
#: A change map keys at most this many receiving territories by colour; above
#: it, their names are written on the map.
MAX_KEYED_TERRITORIES = 30
_DROPPED_RED = "#b2182b"
_EDGE = "#ffffff"
_BORDER = "#3a3a3a"
_SEQUENTIAL = ("#edf8fb", "#b3cde3", "#8c96c6", "#8856a7", "#810f7c")


@dataclass(frozen=True, slots=True)
class UnitShapes:
    """Geo units of one kind with their geometry (lon/lat).

    ``unit_id`` has shape ``(n_units,)``; ``geometry`` holds shapely
    geometries (``None`` where the store has none); ``lon``/``lat`` are the
    centroids.
    """

    kind: str
    unit_id: npt.NDArray[np.object_]
    geometry: npt.NDArray[np.object_]
    lon: npt.NDArray[np.float64]
    lat: npt.NDArray[np.float64]

    @property
    def n_units(self) -> int:
        """Return the number of units."""
        return int(self.unit_id.shape[0])

    def index_of(self, unit_ids: Sequence[str]) -> npt.NDArray[np.int64]:
        """Return the position of each id in ``unit_id`` (-1 when unknown)."""
        lookup = {u: i for i, u in enumerate(self.unit_id.tolist())}
        return np.array([lookup.get(u, -1) for u in unit_ids], dtype=np.int64)


def read_unit_shapes(
    conn: Connection, kind: str, unit_ids: Sequence[str]
) -> UnitShapes:
    """Read the geometry of the units of ``kind`` named in ``unit_ids`` (id order).

    Units missing from the store are left out; the caller can see which by
    comparing ids.
    """
    g = t.geo_unit
    frame = read_frame(
        conn,
        select(g.c.id, g.c.centroid_lon, g.c.centroid_lat, g.c.geometry).where(
            g.c.kind == kind
        ),
        {
            "unit_id": pl.String,
            "lon": pl.Float64,
            "lat": pl.Float64,
            "wkb": pl.Binary,
        },
    )
    wanted = pl.DataFrame(
        {"unit_id": sorted(set(unit_ids))}, schema={"unit_id": pl.String}
    )
    frame = wanted.join(frame, on="unit_id", how="inner").sort("unit_id")
    wkb = frame["wkb"].to_list()
    geoms = np.empty(len(wkb), dtype=object)
    present = [i for i, w in enumerate(wkb) if w is not None]
    if present:
        geoms[present] = shapely.from_wkb([bytes(wkb[i]) for i in present])
    return UnitShapes(
        kind=kind,
        unit_id=np.array(frame["unit_id"].to_list(), dtype=object),
        geometry=geoms,
        lon=frame["lon"].to_numpy(),
        lat=frame["lat"].to_numpy(),
    )


def territory_colours(n: int) -> list[str]:
    """Return ``n`` distinct-looking colours as hex strings (deterministic).

    Examples
    --------
    >>> territory_colours(2)
    ['#d97b66', '#7e88d9']
    """
    import colorsys

    out = []
    for k in range(n):
        hue = (0.03 + k * 0.618033988749895) % 1.0
        sat = (0.53, 0.42, 0.62)[k % 3]
        val = (0.85, 0.78, 0.92)[(k // 3) % 3]
        r, g, b = colorsys.hsv_to_rgb(hue, sat, val)
        out.append(f"#{round(r * 255):02x}{round(g * 255):02x}{round(b * 255):02x}")
    return out


def territory_palette(territory_ids: Iterable[str]) -> dict[str, str]:
    """Return each territory's map colour, keyed by territory id.

    The ids are sorted and the k-th gets ``territory_colours(n)[k]``, so the
    colour depends only on the plan's set of territory ids: every map of the
    plan, and the change map into it, gives a territory the same colour.

    Examples
    --------
    >>> territory_palette(["T02", "T01"])
    {'T01': '#d97b66', 'T02': '#7e88d9'}
    """
    ids = sorted(set(territory_ids))
    return dict(zip(ids, territory_colours(len(ids)), strict=True))


# --------------------------------------------------------------------------- #
# drawing


def _paths(geoms: Sequence[object]) -> list[MplPath | None]:
    from matplotlib.path import Path as MplPath

    out: list[MplPath | None] = []
    for geom in geoms:
        verts: list[npt.NDArray[np.float64]] = []
        codes: list[npt.NDArray[np.uint8]] = []
        for poly in getattr(geom, "geoms", [geom]):
            if poly is None or poly.is_empty or poly.geom_type != "Polygon":
                continue
            for ring in (poly.exterior, *poly.interiors):
                xy = np.asarray(ring.coords, dtype=np.float64)[:, :2]
                c = np.full(len(xy), MplPath.LINETO, dtype=np.uint8)
                c[0] = MplPath.MOVETO
                c[-1] = MplPath.CLOSEPOLY
                verts.append(xy)
                codes.append(c)
        if verts:
            out.append(MplPath(np.concatenate(verts), np.concatenate(codes)))
        else:
            out.append(None)
    return out


def _new_axes(
    title: str | None, size_in: tuple[float, float], *, key_right: bool = False
) -> tuple[object, object]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=size_in, dpi=110)
    # The bottom strip (or, for a long key, the right strip) holds the legend,
    # so it never covers the map.
    if key_right:
        ax = fig.add_axes((0.01, 0.02, 0.7, 0.9 if title else 0.96))
    else:
        ax = fig.add_axes((0.01, 0.12, 0.98, 0.8 if title else 0.86))
    ax.set_axis_off()
    ax.set_aspect("auto")
    if title:
        fig.suptitle(title, fontsize=14, fontweight="bold", x=0.02, ha="left", y=0.985)
    return fig, ax


def _draw_units(
    ax: object,
    shapes: UnitShapes,
    colours: Sequence[str],
    *,
    edge: str = _EDGE,
    linewidth: float = 0.2,
) -> None:
    from matplotlib.collections import PathCollection

    paths = _paths(list(shapes.geometry))
    have = [i for i, p in enumerate(paths) if p is not None]
    if have:
        col = PathCollection(
            [p for p in paths if p is not None],
            facecolors=[colours[i] for i in have],
            edgecolors=edge,
            linewidths=linewidth,
        )
        ax.add_collection(col)  # type: ignore[attr-defined]
    points = [i for i, p in enumerate(paths) if p is None]
    if points:
        ax.scatter(  # type: ignore[attr-defined]
            shapes.lon[points],
            shapes.lat[points],
            s=12,
            c=[colours[i] for i in points],
            edgecolors="#555555",
            linewidths=0.3,
        )


def _outlines(shapes: UnitShapes, labels: npt.NDArray[np.int64]) -> dict[int, object]:
    """Return each territory's outline: the union of its units' geometries."""
    out: dict[int, object] = {}
    for lab in np.unique(labels[labels >= 0]).tolist():
        parts = [g for g in shapes.geometry[labels == lab] if g is not None]
        if parts:
            out[int(lab)] = shapely.union_all(shapely.make_valid(parts))
    return out


def _draw_borders(
    ax: object,
    shapes: UnitShapes,
    labels: npt.NDArray[np.int64],
    outlines: dict[int, object] | None = None,
) -> None:
    from matplotlib.collections import PathCollection

    found = _outlines(shapes, labels) if outlines is None else outlines
    paths = [p for p in _paths(list(found.values())) if p is not None]
    if paths:
        ax.add_collection(  # type: ignore[attr-defined]
            PathCollection(paths, facecolors="none", edgecolors=_BORDER, linewidths=0.6)
        )


def _label_size(n: int) -> float:
    """Font size (points) of territory labels: large for a few, smaller for many."""
    return 11.0 if n <= 12 else 9.5 if n <= 30 else 8.0 if n <= 60 else 6.5


def _draw_labels(ax: object, points: Sequence[tuple[float, float, str]]) -> None:
    """Write each territory's name at its point, dark on a white halo."""
    from matplotlib import patheffects

    size = _label_size(len(points))
    halo = [patheffects.withStroke(linewidth=2.6, foreground="white")]
    for x, y, text in points:
        ax.text(  # type: ignore[attr-defined]
            x,
            y,
            text,
            ha="center",
            va="center",
            fontsize=size,
            fontweight="bold",
            color="#1a1a1a",
            path_effects=halo,
            zorder=5,
        )


def _outline_label_points(
    outlines: dict[int, object], names: Sequence[str]
) -> list[tuple[float, float, str]]:
    """Return a point inside the largest piece of each named territory."""
    out = []
    for lab, geom in sorted(outlines.items()):
        if lab >= len(names) or not names[lab]:
            continue
        pieces = [g for g in shapely.get_parts(geom) if not g.is_empty]
        if not pieces:
            continue
        main = max(pieces, key=lambda g: g.area)
        pt = main.representative_point() if main.area > 0 else main.centroid
        out.append((float(pt.x), float(pt.y), names[lab]))
    return out


def _frame_extent(ax: object, shapes: UnitShapes) -> None:
    geoms = [g for g in shapes.geometry if g is not None]
    if geoms:
        x0, y0, x1, y1 = shapely.total_bounds(geoms)
    else:
        x0, x1 = float(np.nanmin(shapes.lon)), float(np.nanmax(shapes.lon))
        y0, y1 = float(np.nanmin(shapes.lat)), float(np.nanmax(shapes.lat))
    pad_x = max((x1 - x0) * 0.02, 0.05)
    pad_y = max((y1 - y0) * 0.02, 0.05)
    ax.set_xlim(x0 - pad_x, x1 + pad_x)  # type: ignore[attr-defined]
    ax.set_ylim(y0 - pad_y, y1 + pad_y)  # type: ignore[attr-defined]
    # Equirectangular at the map's middle latitude, so shapes are not squashed.
    mid = math.radians((y0 + y1) / 2.0)
    ax.set_aspect(1.0 / max(math.cos(mid), 0.2))  # type: ignore[attr-defined]


def _require_units(shapes: UnitShapes, what: str) -> None:
    if shapes.n_units == 0:
        raise InputError(
            f"Cannot draw the {what}: none of the model's geo units are in the "
            "store; load them first (for example `territory geo load`).",
            code="map_no_units",
        )


def figure_png(fig: object) -> bytes:
    """Return the figure rendered as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", facecolor="white")  # type: ignore[attr-defined]
    return buf.getvalue()


def _legend(
    ax: object,
    entries: Sequence[tuple[str, str]],
    title: str,
    *,
    right: bool = False,
) -> None:
    from matplotlib.patches import Patch

    handles = [Patch(facecolor=c, edgecolor="#777777", label=lab) for lab, c in entries]
    place = (
        {"loc": "upper left", "bbox_to_anchor": (0.72, 0.9), "ncol": 1}
        if right
        else {
            "loc": "lower left",
            "bbox_to_anchor": (0.01, 0.005),
            "ncol": min(len(handles), 3),
        }
    )
    ax.figure.legend(  # type: ignore[attr-defined]
        handles=handles,
        title=title or None,
        fontsize=9 if right and len(handles) > 16 else 11,
        title_fontsize=11,
        frameon=False,
        alignment="left",
        **place,
    )


def draw_territory_map(
    shapes: UnitShapes,
    labels: npt.NDArray[np.int64],
    *,
    title: str | None = None,
    size_in: tuple[float, float] = (9.0, 6.0),
    names: Sequence[str] | None = None,
    palette: Sequence[str] | None = None,
) -> bytes:
    """Draw each unit in its territory's colour; return PNG bytes.

    ``labels`` has shape ``(n_units,)``: a territory index per unit, -1 for a
    unit in no territory (drawn grey). ``names`` (one per territory index)
    are written on the map, each inside its territory's largest piece.
    ``palette`` holds one colour per territory index (from
    :func:`territory_palette`); without it, :func:`territory_colours`.

    Raises
    ------
    InputError
        When there are no units to draw.
    """
    _require_units(shapes, "territory map")
    if palette is None:
        palette = territory_colours(int(labels.max()) + 1 if labels.size else 0)
    colours = [palette[k] if k >= 0 else UNCHANGED_GREY for k in labels.tolist()]
    fig, ax = _new_axes(title, size_in)
    _draw_units(ax, shapes, colours)
    outlines = _outlines(shapes, labels)
    _draw_borders(ax, shapes, labels, outlines)
    _frame_extent(ax, shapes)
    if names is not None:
        _draw_labels(ax, _outline_label_points(outlines, names))
    return figure_png(fig)


def draw_change_map(
    shapes: UnitShapes,
    labels_after: npt.NDArray[np.int64],
    changed: npt.NDArray[np.bool_],
    path: Path | None = None,
    *,
    title: str | None = None,
    size_in: tuple[float, float] = (11.0, 6.5),
    palette: Sequence[str] | None = None,
    names: Sequence[str] | None = None,
) -> bytes:
    """Draw changed units in their new territory's colour, the rest grey.

    ``labels_after`` (territory index in the new plan, -1 for none) and
    ``changed`` have shape ``(n_units,)``. ``palette`` (one colour per
    territory index, from :func:`territory_palette`) and ``names`` (one per
    index) are those of the new plan's own map, so a moved unit's colour
    reads as the territory it joins. The key lists each receiving territory
    with its colour and unit count, then the units dropped from the new plan
    (red) and the unchanged ones (grey: they stay where they were, their
    territory's colour is not shown); with more than
    ``MAX_KEYED_TERRITORIES`` receiving territories their names are written
    on the map instead. Territory borders of the new plan are drawn over
    both. Writes ``path`` when given; returns PNG bytes.

    Raises
    ------
    InputError
        When there are no units to draw.
    """
    _require_units(shapes, "change map")
    n_territories = int(labels_after.max()) + 1 if labels_after.size else 0
    if palette is None:
        palette = territory_colours(n_territories)
    if names is None:
        names = [f"territory {k + 1}" for k in range(n_territories)]
    colours = [
        palette[k] if (c and k >= 0) else (_DROPPED_RED if c else UNCHANGED_GREY)
        for k, c in zip(labels_after.tolist(), changed.tolist(), strict=True)
    ]
    into = labels_after[changed & (labels_after >= 0)]
    receiving, counts = np.unique(into, return_counts=True)
    n_changed = int(changed.sum())
    n_dropped = n_changed - int(into.size)
    keyed = receiving.size <= MAX_KEYED_TERRITORIES
    entries = (
        [
            (f"{names[k]}: {_units(c)}", palette[k])
            for k, c in zip(receiving.tolist(), counts.tolist(), strict=True)
        ]
        if keyed
        else [
            (
                f"{_units(int(into.size))} into {receiving.size:,}\n"
                "territories, named on the map",
                "#ffffff",
            )
        ]
    )
    if n_dropped:
        entries.append((f"not in the new plan:\n{_units(n_dropped)}", _DROPPED_RED))
    entries.append(
        (
            f"unchanged: {_units(changed.size - n_changed)}\n(stay in their territory)",
            UNCHANGED_GREY,
        )
    )
    fig, ax = _new_axes(title, size_in, key_right=True)
    _draw_units(ax, shapes, colours, linewidth=0.15)
    outlines = _outlines(shapes, labels_after)
    _draw_borders(ax, shapes, labels_after, outlines)
    _frame_extent(ax, shapes)
    if not keyed:
        wanted = set(receiving.tolist())
        _draw_labels(
            ax,
            _outline_label_points(
                {k: g for k, g in outlines.items() if k in wanted}, names
            ),
        )
    _legend(
        ax,
        entries,
        f"{_units(n_changed)} change,\ncoloured by the territory\nthey join",
        right=True,
    )
    png = figure_png(fig)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)
    return png


def _units(n: int) -> str:
    """Return ``n`` units in words.

    Examples
    --------
    >>> _units(1), _units(1234)
    ('1 unit', '1,234 units')
    """
    return f"{n:,} unit" if n == 1 else f"{n:,} units"


def _quantile_bounds(values: npt.NDArray[np.float64], k: int) -> list[float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return []
    qs = np.quantile(finite, np.linspace(0.0, 1.0, k + 1))
    return sorted(set(np.round(qs, 10).tolist()))


def _fmt(v: float) -> str:
    a = abs(v)
    if a >= 1e9:
        return f"{v / 1e9:.1f}B"
    if a >= 1e6:
        return f"{v / 1e6:.1f}M"
    if a >= 1e4:
        return f"{v / 1e3:.0f}k"
    if a >= 100 or v == int(v):
        return f"{v:,.0f}"
    return f"{v:.2f}"


def draw_choropleth(
    shapes: UnitShapes,
    values: npt.NDArray[np.float64],
    *,
    label: str,
    labels: npt.NDArray[np.int64] | None = None,
    title: str | None = None,
    classes: int = 5,
    size_in: tuple[float, float] = (9.0, 6.0),
) -> bytes:
    """Shade each unit by ``values`` (shape ``(n_units,)``) in quantile classes.

    NaN values are drawn light grey and counted in the legend. When
    ``labels`` (territory per unit) is given, territory borders are drawn
    over the shading. Returns PNG bytes.

    Raises
    ------
    InputError
        When there are no units to draw.
    """
    _require_units(shapes, "choropleth")
    bounds = _quantile_bounds(values, classes)
    ramp = (
        _SEQUENTIAL
        if len(bounds) - 1 >= len(_SEQUENTIAL)
        else _SEQUENTIAL[-max(len(bounds) - 1, 1) :]
    )
    colours: list[str] = []
    if len(bounds) >= 2:
        cls = np.clip(
            np.searchsorted(np.asarray(bounds[1:-1]), values, side="right"),
            0,
            len(bounds) - 2,
        )
    else:
        cls = np.zeros(values.size, dtype=np.int64)
    for v, c in zip(values.tolist(), cls.tolist(), strict=True):
        colours.append(ramp[min(c, len(ramp) - 1)] if math.isfinite(v) else "#f0f0f0")
    fig, ax = _new_axes(title, size_in)
    _draw_units(ax, shapes, colours, linewidth=0.15, edge="#ffffff")
    if labels is not None:
        _draw_borders(ax, shapes, labels)
    _frame_extent(ax, shapes)
    entries = []
    if len(bounds) >= 2:
        for j in range(len(bounds) - 1):
            entries.append(
                (
                    f"{_fmt(bounds[j])} – {_fmt(bounds[j + 1])}",
                    ramp[min(j, len(ramp) - 1)],
                )
            )
    elif len(bounds) == 1:
        entries.append((_fmt(bounds[0]), ramp[0]))
    missing = int((~np.isfinite(values)).sum())
    if missing:
        entries.append((f"no value ({missing:,})", "#f0f0f0"))
    _legend(ax, entries, label)
    return figure_png(fig)


def draw_account_points(
    lon: npt.NDArray[np.float64],
    lat: npt.NDArray[np.float64],
    labels: npt.NDArray[np.int64],
    *,
    title: str | None = None,
    size_in: tuple[float, float] = (9.0, 6.0),
    max_points: int = 200_000,
    names: Sequence[str] | None = None,
    palette: Sequence[str] | None = None,
) -> bytes:
    """Draw accounts as dots in their territory's colour (no geo units needed).

    ``lon``, ``lat`` and ``labels`` have shape ``(n_accounts,)``. Above
    ``max_points`` an evenly spaced subset is drawn (every k-th account), so
    the picture stays readable and quick. ``names`` (one per territory
    index) are written at the median place of each territory's accounts;
    ``palette`` is as for :func:`draw_territory_map`. Returns PNG bytes.

    Raises
    ------
    InputError
        When no account has a location.
    """
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        raise InputError(
            "Cannot draw the territory map: no geo units are assigned and no "
            "account has coordinates; assign units or place the accounts first.",
            code="map_no_locations",
        )
    idx = np.flatnonzero(ok)
    if idx.size > max_points:
        idx = idx[:: int(math.ceil(idx.size / max_points))]
    if palette is None:
        palette = territory_colours(int(labels.max()) + 1 if labels.size else 0)
    colours = [palette[k] if k >= 0 else UNCHANGED_GREY for k in labels[idx].tolist()]
    fig, ax = _new_axes(title, size_in)
    ax.scatter(lon[idx], lat[idx], s=4, c=colours, linewidths=0)  # type: ignore[attr-defined]
    x0, x1 = float(lon[idx].min()), float(lon[idx].max())
    y0, y1 = float(lat[idx].min()), float(lat[idx].max())
    pad_x, pad_y = max((x1 - x0) * 0.03, 0.05), max((y1 - y0) * 0.03, 0.05)
    ax.set_xlim(x0 - pad_x, x1 + pad_x)  # type: ignore[attr-defined]
    ax.set_ylim(y0 - pad_y, y1 + pad_y)  # type: ignore[attr-defined]
    mid = math.radians((y0 + y1) / 2.0)
    ax.set_aspect(1.0 / max(math.cos(mid), 0.2))  # type: ignore[attr-defined]
    if names is not None:
        points = []
        for lab in np.unique(labels[ok]).tolist():
            if lab < 0 or lab >= len(names) or not names[lab]:
                continue
            mine = ok & (labels == lab)
            points.append(
                (float(np.median(lon[mine])), float(np.median(lat[mine])), names[lab])
            )
        _draw_labels(ax, points)
    return figure_png(fig)

"""Write a saved design to files: assignments, summary, GeoJSON and a map.

* ``assignments.csv`` — ``unit_id,territory``, one row per unit;
* ``summary.csv`` — one row per territory (and region): units, accounts,
  every balanced activity with its target and deviation, diameter in km,
  contiguity, reps;
* ``territories.geojson`` — one dissolved polygon per territory (and region)
  in WGS 84 lon/lat, with the summary as properties;
* ``map.png`` — each territory in its plan colour (the one the change map
  and the report give it, :func:`territory.services.maps.territory_palette`),
  labelled at a point inside each, state borders drawn lightly and region
  borders boldly.

County territories dissolve the stored county polygons. ZIP and account
units have no polygons: each gets its Voronoi cell (of the distinct unit
locations), clipped to the union of the counties of the designed states —
those stored, else (only ZIPs loaded) those of the county map that ships
with the product — and the state outlines are drawn from the same counties.
Regions dissolve the same unit polygons as their territories do, so a region
border is drawn only where the units on either side lie in different regions.
Only points in no known state fall back to their convex hull widened by
20 km.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import shapely
from sqlalchemy import Engine, select

from territory.errors import InputError
from territory.services.design import DesignReport, TerritorySummary
from territory.services.location import with_effective_location
from territory.services.maps import territory_palette
from territory.services.reading import read_frame
from territory.storage.tables import geo_unit

__all__ = ["DesignFiles", "write_design_files"]

_SIMPLIFY_DEG = 0.003


@dataclass(frozen=True)
class DesignFiles:
    """Paths of the files written."""

    assignments: Path
    summary: Path
    geojson: Path
    map: Path


def _lonlat_of_units(
    engine: Engine, report: DesignReport
) -> tuple[list[str], np.ndarray, np.ndarray]:
    from territory.storage.tables import account

    ids = list(report.assignment)
    wanted = set(ids)
    lat: dict[str, float] = {}
    lon: dict[str, float] = {}
    with engine.connect() as conn:
        if report.level == "account":
            # the effective location, as the design placed them
            frame = with_effective_location(
                conn,
                read_frame(
                    conn,
                    select(
                        account.c.id,
                        account.c.latitude,
                        account.c.longitude,
                        account.c.county_id,
                        account.c.zip_id,
                    ),
                    {
                        "id": pl.String,
                        "latitude": pl.Float64,
                        "longitude": pl.Float64,
                        "county_id": pl.String,
                        "zip_id": pl.String,
                    },
                ),
            )
            rows: Sequence[Sequence[Any]] = list(
                frame.filter(pl.col("located_by").is_not_null())
                .select("id", "latitude", "longitude")
                .iter_rows()
            )
        else:
            rows = conn.execute(
                select(
                    geo_unit.c.id, geo_unit.c.centroid_lat, geo_unit.c.centroid_lon
                ).where(geo_unit.c.kind == report.level)
            ).all()
    for uid, la, lo in rows:
        if uid in wanted:
            lat[uid] = float(la)
            lon[uid] = float(lo)
    return ids, np.array([lon[u] for u in ids]), np.array([lat[u] for u in ids])


def _county_polygons(
    engine: Engine, ids: Sequence[str] | None, states: Sequence[str] | None
) -> dict[str, tuple[str, Any]]:
    """``{county id: (state, geometry)}`` for the given ids or states."""
    with engine.connect() as conn:
        stmt = select(geo_unit.c.id, geo_unit.c.state, geo_unit.c.geometry).where(
            geo_unit.c.kind == "county"
        )
        if states is not None:
            stmt = stmt.where(geo_unit.c.state.in_(list(states)))
        rows = conn.execute(stmt).all()
    wanted = None if ids is None else set(ids)
    out: dict[str, tuple[str, Any]] = {}
    for uid, st, wkb in rows:
        if wkb is None or (wanted is not None and uid not in wanted):
            continue
        out[uid] = (st, shapely.from_wkb(wkb))
    return out


def _shipped_county_polygons(states: Sequence[str]) -> dict[str, tuple[str, Any]]:
    """``{county id: (state, geometry)}`` of ``states`` from the shipped map."""
    from territory.io.usdata import read_counties

    counties = read_counties().select_states(list(states))
    return {
        str(uid): (str(st), geom)
        for uid, st, geom in zip(
            counties.frame["id"].to_list(),
            counties.frame["state"].to_list(),
            counties.geometries,
            strict=True,
        )
        if geom is not None
    }


def _unit_geometries(
    engine: Engine, report: DesignReport
) -> tuple[list[str], list[Any], dict[str, Any]]:
    """Return unit ids, one polygon per unit, and state outlines."""
    if report.level == "county":
        polys = _county_polygons(engine, list(report.assignment), None)
        ids = [u for u in report.assignment if u in polys]
        geoms = [shapely.make_valid(polys[u][1]) for u in ids]
        states = sorted({polys[u][0] for u in ids})
        by_state: dict[str, list[Any]] = {s: [] for s in states}
        for u, g in zip(ids, geoms, strict=True):
            by_state[polys[u][0]].append(g)
        outlines = {
            s: shapely.union_all(gs, grid_size=1e-6) for s, gs in by_state.items()
        }
        return ids, geoms, outlines
    return _point_geometries(engine, report)


def _point_geometries(
    engine: Engine, report: DesignReport
) -> tuple[list[str], list[Any], dict[str, Any]]:
    """Voronoi cells of the unit locations, clipped to the designed states."""
    ids, lon, lat = _lonlat_of_units(engine, report)
    stored = _unit_states(report)
    polys = _county_polygons(engine, None, stored or None)
    # states whose counties the store lacks (only ZIPs loaded): the county
    # map that ships with the product draws them
    missing = sorted(set(stored) - {st for st, _ in polys.values()})
    if missing:
        polys.update(_shipped_county_polygons(missing))
    outlines: dict[str, Any] = {}
    if polys:
        by_state: dict[str, list[Any]] = {}
        for st, g in polys.values():
            by_state.setdefault(st, []).append(shapely.make_valid(g))
        outlines = {
            s: shapely.union_all(gs, grid_size=1e-6)
            for s, gs in sorted(by_state.items())
        }
        clip = shapely.union_all(list(outlines.values()), grid_size=1e-6)
    else:
        hull = shapely.convex_hull(shapely.multipoints(np.column_stack([lon, lat])))
        clip = shapely.buffer(hull, 0.2)
    pts = np.column_stack([lon, lat])
    uniq, first, inverse = np.unique(
        np.round(pts, 7), axis=0, return_index=True, return_inverse=True
    )
    inverse = inverse.reshape(-1)
    if len(uniq) >= 3:
        cells = shapely.get_parts(
            shapely.voronoi_polygons(
                shapely.multipoints(uniq), extend_to=shapely.buffer(clip, 1.0)
            )
        )
        tree = shapely.STRtree(cells)
        hit = tree.query(shapely.points(uniq), predicate="intersects")
        cell_of = np.full(len(uniq), -1, dtype=np.int64)
        cell_of[hit[0]] = hit[1]
        loc_geom = [
            cells[c] if c >= 0 else shapely.buffer(shapely.points(uniq[i]), 0.01)
            for i, c in enumerate(cell_of)
        ]
    else:
        loc_geom = [shapely.buffer(shapely.points(p), 0.2) for p in uniq]
    # a location's cell belongs to the first unit (by id) standing on it
    owner = np.full(len(uniq), -1, dtype=np.int64)
    for i in range(len(ids)):
        if owner[inverse[i]] < 0:
            owner[inverse[i]] = i
    geoms: list[Any] = [shapely.Polygon() for _ in ids]
    for k, owner_i in enumerate(owner.tolist()):
        geoms[owner_i] = loc_geom[k]
    return ids, geoms, {"__clip__": clip, **outlines}


def _unit_states(report: DesignReport) -> list[str]:
    return list(report.states)


def _unions(
    ids: Sequence[str],
    geoms: Sequence[Any],
    assignment: dict[str, str],
    order: Sequence[str],
) -> dict[str, Any]:
    """Return the union of each group's unit geometries (not simplified)."""
    groups: dict[str, list[Any]] = {t: [] for t in order}
    for u, g in zip(ids, geoms, strict=True):
        t = assignment.get(u)
        if t is not None and not g.is_empty:
            groups[t].append(g)
    return {
        t: shapely.union_all(groups[t], grid_size=1e-6)
        if groups[t]
        else shapely.Polygon()
        for t in order
    }


def _finish(shape: Any, clip: Any | None) -> Any:
    """Clip a dissolved shape, drop its slivers and simplify it for drawing."""
    if clip is not None and not shape.is_empty:
        shape = shapely.intersection(shape, clip, grid_size=1e-6)
    shape = _without_slivers(shape)
    return shapely.simplify(shape, _SIMPLIFY_DEG, preserve_topology=True)


def _dissolve(
    ids: Sequence[str],
    geoms: Sequence[Any],
    assignment: dict[str, str],
    order: Sequence[str],
    clip: Any | None,
) -> dict[str, Any]:
    raw = _unions(ids, geoms, assignment, order)
    return {t: _finish(raw[t], clip) for t in order}


#: Holes smaller than this (square degrees, about 0.1 km²) are seams between
#: cells that snapping left open, not enclaves: no unit's cell is that small.
_SLIVER_DEG2 = 1e-5


def _without_slivers(shape: Any) -> Any:
    """Polygons only, without the hairline holes that unions of cells leave."""
    polys = []
    for part in shapely.get_parts(shape):
        if part.geom_type != "Polygon" or part.area <= _SLIVER_DEG2:
            continue
        holes = [r for r in part.interiors if shapely.Polygon(r).area > _SLIVER_DEG2]
        polys.append(shapely.Polygon(part.exterior, holes))
    if not polys:
        return shapely.Polygon()
    return polys[0] if len(polys) == 1 else shapely.MultiPolygon(polys)


def _properties(
    t: TerritorySummary, level: str, report: DesignReport
) -> dict[str, Any]:
    props: dict[str, Any] = {
        "territory": t.id,
        "name": t.name,
        "level": level,
        "parent": t.parent_id,
        "units": t.n_units,
        "accounts": t.n_accounts,
        "reps": t.reps,
        "diameter_km": round(t.diameter_km, 3),
        "contiguous": t.contiguous,
        "moved_units": t.n_moved_units,
    }
    for a in report.activities:
        props[a] = t.values[a]
        props[f"{a}_target"] = round(t.targets[a], 6)
        props[f"{a}_deviation"] = round(t.deviations[a], 6)
    return props


def _number(value: float) -> str:
    """Write a number at full precision: integers as integers.

    Examples
    --------
    >>> [_number(20834412.0), _number(20834412.5), _number(-0.0123456789012)]
    ['20834412', '20834412.5', '-0.0123456789012']
    """
    x = float(value)
    if math.isfinite(x) and x.is_integer() and abs(x) < 2**53:
        return str(int(x))
    return repr(x)


def _write_csvs(report: DesignReport, out: Path) -> tuple[Path, Path]:
    apath = out / "assignments.csv"
    with apath.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["unit_id", "territory"])
        for u in sorted(report.assignment):
            w.writerow([u, report.assignment[u]])
    spath = out / "summary.csv"
    with spath.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        head = ["territory", "name", "level", "parent", "units", "accounts", "reps"]
        for a in report.activities:
            head += [a, f"{a}_target", f"{a}_deviation"]
        head += ["diameter_km", "contiguous", "moved_units"]
        w.writerow(head)
        for level, rows in (
            ("region", report.regions),
            ("territory", report.territories),
        ):
            for t in rows:
                row: list[Any] = [
                    t.id,
                    t.name,
                    level,
                    t.parent_id or "",
                    t.n_units,
                    t.n_accounts,
                    t.reps,
                ]
                for a in report.activities:
                    row += [
                        _number(t.values[a]),
                        _number(t.targets[a]),
                        _number(t.deviations[a]),
                    ]
                row += [
                    _number(t.diameter_km),
                    str(t.contiguous).lower(),
                    t.n_moved_units,
                ]
                w.writerow(row)
    return apath, spath


def _draw(
    shapes: dict[str, Any],
    order: Sequence[str],
    outlines: dict[str, Any],
    regions: dict[str, Any],
    report: DesignReport,
    path: Path,
) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib import pyplot as plt
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MPath

    colours = territory_palette(order)
    everything = shapely.union_all([s for s in shapes.values() if not s.is_empty])
    minx, miny, maxx, maxy = everything.bounds
    mid_lat = (miny + maxy) / 2
    aspect = 1 / max(0.2, math.cos(math.radians(mid_lat)))
    width_deg = max(1e-6, (maxx - minx))
    height_deg = max(1e-6, (maxy - miny) * aspect)
    fig_w = 12.0
    fig_h = max(4.0, min(14.0, fig_w * height_deg / width_deg + 1.0))
    fig, ax = plt.subplots(figsize=(fig_w, fig_h), dpi=110)

    def patch(geom: Any, **kw: Any) -> None:
        for poly in shapely.get_parts(geom):
            if poly.geom_type != "Polygon" or poly.is_empty:
                continue
            rings = [poly.exterior, *poly.interiors]
            verts: list[Any] = []
            codes: list[np.uint8] = []
            for ring in rings:
                xy = np.asarray(ring.coords)
                verts.extend(xy.tolist())
                codes += (
                    [MPath.MOVETO] + [MPath.LINETO] * (len(xy) - 2) + [MPath.CLOSEPOLY]
                )
            ax.add_patch(PathPatch(MPath(verts, codes), **kw))

    for t in order:
        patch(shapes[t], facecolor=colours[t], edgecolor="#555555", linewidth=0.5)
    for s, g in outlines.items():
        if s == "__clip__":
            continue
        patch(g, facecolor="none", edgecolor="#9a9a9a", linewidth=0.4, linestyle="-")
    for g in regions.values():
        patch(g, facecolor="none", edgecolor="#222222", linewidth=1.6)
    p = len(order)
    size = 9 if p <= 12 else 7 if p <= 40 else 5 if p <= 120 else 3
    for t in order:
        s = shapes[t]
        if s.is_empty:
            continue
        main = max(shapely.get_parts(s), key=lambda g: g.area)
        pt = main.representative_point() if main.area > 0 else s.representative_point()
        ax.annotate(
            t,
            (pt.x, pt.y),
            ha="center",
            va="center",
            fontsize=size,
            fontweight="bold",
            color="#1a1a1a",
        )
    ax.set_xlim(minx - 0.01 * width_deg, maxx + 0.01 * width_deg)
    ax.set_ylim(miny - 0.01 * (maxy - miny), maxy + 0.01 * (maxy - miny))
    ax.set_aspect(aspect)
    ax.set_axis_off()
    dev = ", ".join(
        f"{a} ±{report.max_abs_deviation[a]:.1%}" for a in report.activities
    )
    ax.set_title(
        f"{report.model_name}: {len(report.territories)} territories on "
        f"{len(report.assignment):,} {report.level} units\n"
        f"{report.objective_name} objective, max diameter "
        f"{report.max_diameter_km:,.0f} km; "
        f"worst deviation {dev}",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write_design_files(
    engine: Engine, report: DesignReport, out_dir: Path
) -> DesignFiles:
    """Write the four design files into ``out_dir`` (created if missing).

    Raises
    ------
    InputError
        When ``out_dir`` cannot be created or written.
    """
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"Cannot create the output folder {out_dir}: {exc.strerror}; choose "
            "another --out.",
            code="bad_output",
        ) from exc
    apath, spath = _write_csvs(report, out_dir)
    ids, geoms, outlines = _unit_geometries(engine, report)
    clip = outlines.get("__clip__")
    order = [t.id for t in report.territories]
    raw = _unions(ids, geoms, report.assignment, order)
    shapes = {t: _finish(raw[t], clip) for t in order}
    region_shapes: dict[str, Any] = {}
    if report.regions:
        # from the territories' unions before simplifying: their shared
        # borders coincide, while those of the simplified shapes leave seams
        # inside a region that would be drawn as region borders
        parent = {t.id: t.parent_id for t in report.territories}
        for r in report.regions:
            members = [raw[t] for t in order if parent[t] == r.id]
            region_shapes[r.id] = _finish(
                shapely.union_all(members, grid_size=1e-6), clip
            )
    features = []
    for level, rows, geo in (
        ("region", report.regions, region_shapes),
        ("territory", report.territories, shapes),
    ):
        for t in rows:
            features.append(
                {
                    "type": "Feature",
                    "id": t.id,
                    "properties": _properties(t, level, report),
                    "geometry": json.loads(shapely.to_geojson(geo[t.id], indent=None)),
                }
            )
    gpath = out_dir / "territories.geojson"
    gpath.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "name": report.model_name,
                "features": features,
            },
            separators=(",", ":"),
        ),
        encoding="utf-8",
    )
    mpath = out_dir / "map.png"
    _draw(shapes, order, outlines, region_shapes, report, mpath)
    return DesignFiles(apath, spath, gpath, mpath)

"""Synthetic environmental data that follows the raw extract contract ("Environmental data").

Writes, under `raw_dir`:

- `air_quality/no2_YYYY.nc`, `air_quality/pm25_YYYY.nc`: CF NetCDF, dims (time, y, x), 12 monthly
  means stamped on the 1st of each month, 1 km cells in EPSG:27700, NaN outside land;
- `greenspace/ndvi_YYYY.nc`: CF NetCDF, dims (y, x), 250 m cells;
- `roads/major_roads.gpkg`: layer `roads`, LineStrings with road_class and road_number.

The fields are built so that exposure analyses have something real to find:

- Land is an irregular region around the postcodes (distance to the nearest postcode below a smoothly
  varying radius), so every postcode lies on land and the coast is not a rectangle.
- Urbanness is a smoothed postcode density. Towns are its local maxima; A roads join them along a
  minimum spanning tree (plus a few loops), motorways join the biggest towns and one crosses the region.
- NO2 = (regional background + urban increment + motorway and A road increments decaying with
  distance) x winter-high season x a slow decline over the years x spatially smooth monthly weather.
- PM2.5: the same recipe with a regional (east-west) gradient, weak local sources, a spring peak and
  larger-scale weather: smoother than NO2.
- NDVI = vegetated baseline - urbanness - road verges + field-scale texture + small annual noise.

Every random component is drawn from its own generator seeded by (seed, component[, year]), so adding
a year does not change the others. Contract freedoms a real producer may use are exercised on
purpose: y descending in some files (NO2 odd years, PM2.5 even years, NDVI unless the year is a
multiple of 4), x descending in PM2.5 years with year % 7 == 3; two CF CRS styles (a `crs` grid
mapping with projection parameters, `crs_wkt` and `epsg_code`; a GDAL-style `spatial_ref` with
`crs_wkt`/`spatial_ref`); different time units; float32 with NaN fill (air quality) or CF-packed
int16 with scale_factor 0.0001 (NDVI, as MODIS delivers it). Delivery imperfections are planted too:
three out-of-range (negative) NO2 cells in July of the years ending in 5 (2005, 2015, 2025), away
from every postcode, and a few B roads the platform must drop.

Sizes and speed (zlib level 4; air quality float32 rounded to 0.01 ug/m3, NDVI int16 packed to
0.0001), measured on 2 cores:

- demo, 10,000 postcodes spread over ~100 km, 21 years (2005-2025): 120 x 120 km grids (1 km air
  quality, 480 x 480 NDVI cells); NO2 ~0.3 MB, PM2.5 ~0.27 MB, NDVI ~0.22 MB a year, roads 0.15 MB;
  17 MB in all, written in about 3 s;
- England-sized, 150,000 postcodes over 500 x 550 km, all land: ~7.5 MB NO2, ~7 MB PM2.5, ~6 MB NDVI
  a year, roads 0.5 MB; about 6 s of set-up plus 1-2 s a year (~40 s and ~430 MB for 21 years).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import xarray as xr
from scipy import ndimage
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial import cKDTree, distance_matrix

from cohort_platform.contract.datasets import CRS_EPSG, GRIDS, ROADS_FILE, ROADS_FOLDER, ROADS_LAYER

AQ_RES_M = 1000.0
NDVI_RES_M = 250.0
MARGIN_M = 10_000.0
"""Grids extend this far beyond the outermost postcodes (sea around the land)."""
BASE_YEAR = 2005
"""Trends are stated relative to this year."""

LAND = {"radius_m": 3500.0, "radius_sd_m": 1500.0, "radius_min_m": 1500.0, "radius_max_m": 7000.0,
        "noise_scale_m": 12_000.0}
URBAN = {"smoothing_m": 1200.0, "scale_quantile": 0.9}
NO2 = {"background": 10.0, "background_sd": 2.5, "background_scale_m": 40_000.0, "urban": 22.0,
       "motorway": 14.0, "motorway_decay_m": 600.0, "a_road": 6.0, "a_road_decay_m": 400.0,
       "season_amplitude": 0.22, "season_peak_month": 1, "annual_change": -0.025,
       "weather_sd": 0.10, "weather_scale_m": 30_000.0, "national_month_sd": 0.06}
PM25 = {"background": 9.0, "background_sd": 1.5, "background_scale_m": 80_000.0, "east_west_gradient": 2.0,
        "urban": 4.0, "motorway": 1.2, "motorway_decay_m": 800.0, "a_road": 0.5, "a_road_decay_m": 500.0,
        "season_amplitude": 0.15, "season_peak_month": 3, "annual_change": -0.03,
        "weather_sd": 0.12, "weather_scale_m": 60_000.0, "national_month_sd": 0.10}
NDVI = {"vegetated": 0.74, "urban": -0.52, "texture_sd": 0.07, "texture_scale_m": 750.0,
        "regional_sd": 0.04, "regional_scale_m": 30_000.0, "road_verge": -0.12, "road_decay_m": 200.0,
        "annual_change": 0.002, "annual_sd": 0.02, "clip": (-0.2, 0.92)}
ROADS = {"towns_per_km2": 1 / 120, "max_towns": 400, "node_spacing_m": 6000.0, "wiggle": 0.06, "vertex_spacing_m": 1000.0,
         "vertices_per_feature": 6, "b_road_share": 0.05, "extra_loops_share": 0.3}
PLANTED_OUT_OF_RANGE = {"grid": "no2", "years": "year % 10 == 5", "month": 7, "cells": 3, "value": -5.0}
SEED_OFFSETS = {"land": 1, "no2_background": 2, "pm25_background": 3, "roads": 4, "ndvi_texture": 5,
                "ndvi_regional": 6, "no2_weather": 7, "pm25_weather": 8, "ndvi_annual": 9, "planted": 10}


# ------------------------------------------------------------------------------------ geometry
@dataclass(frozen=True)
class _Frame:
    """A regular grid of cell centres, ascending, `res` metres apart."""

    x: np.ndarray
    y: np.ndarray
    res: float

    @property
    def shape(self) -> tuple[int, int]:
        return self.y.size, self.x.size

    @property
    def edges(self) -> tuple[np.ndarray, np.ndarray]:
        return (np.append(self.x - self.res / 2, self.x[-1] + self.res / 2),
                np.append(self.y - self.res / 2, self.y[-1] + self.res / 2))


def _extent(eastings: np.ndarray, northings: np.ndarray) -> tuple[float, float, float, float]:
    """Postcode extent plus margin, snapped outwards to whole kilometres (so both grids share edges)."""
    snap = AQ_RES_M
    return (np.floor((eastings.min() - MARGIN_M) / snap) * snap, np.floor((northings.min() - MARGIN_M) / snap) * snap,
            np.ceil((eastings.max() + MARGIN_M) / snap) * snap, np.ceil((northings.max() + MARGIN_M) / snap) * snap)


def _frame(extent: tuple[float, float, float, float], res: float) -> _Frame:
    xmin, ymin, xmax, ymax = extent
    return _Frame(np.arange(xmin + res / 2, xmax, res), np.arange(ymin + res / 2, ymax, res), res)


def _bilinear(values: np.ndarray, src_x: np.ndarray, src_y: np.ndarray, dst: _Frame) -> np.ndarray:
    """Separable bilinear interpolation of a regular (ny, nx) field onto another frame (edges clamped):
    one pass per axis, so a 6 M cell target costs a few array operations, not a 6 M point lookup."""

    def weights(src: np.ndarray, dst_c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        f = np.clip((dst_c - src[0]) / (src[1] - src[0]), 0, src.size - 1 - 1e-9)
        i0 = np.floor(f).astype(np.int64)
        return i0, f - i0

    ix, wx = weights(src_x, dst.x)
    iy, wy = weights(src_y, dst.y)
    rows = values[:, ix] * (1 - wx) + values[:, np.minimum(ix + 1, src_x.size - 1)] * wx
    return rows[iy, :] * (1 - wy)[:, None] + rows[np.minimum(iy + 1, src_y.size - 1), :] * wy[:, None]


def _smooth_field(rng: np.random.Generator, extent: tuple[float, float, float, float], scale_m: float,
                  dst: _Frame) -> np.ndarray:
    """A unit-variance Gaussian random field with correlation length ~`scale_m`, built on a coarse
    lattice (scale/3 cells) and interpolated onto `dst`: the same field whatever the target resolution."""
    cell = scale_m / 3
    xmin, ymin, xmax, ymax = extent
    lx = np.arange(xmin - 3 * cell, xmax + 3 * cell, cell)
    ly = np.arange(ymin - 3 * cell, ymax + 3 * cell, cell)
    noise = ndimage.gaussian_filter(rng.standard_normal((ly.size, lx.size)), sigma=1.5, mode="reflect")
    noise = (noise - noise.mean()) / (noise.std() or 1.0)
    return _bilinear(noise, lx, ly, dst)


def _counts(frame: _Frame, e: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Postcodes per cell, (ny, nx)."""
    ex, ey = frame.edges
    counts, _, _ = np.histogram2d(n, e, bins=(ey, ex))
    return counts


def _land_mask(frame: _Frame, counts: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Land = cells whose centre is within the local radius of a cell holding a postcode. A cell that
    holds a postcode is at distance 0, so every postcode is on land in every grid."""
    distance = ndimage.distance_transform_edt(counts == 0, sampling=frame.res)
    return ndimage.binary_fill_holes(distance <= radius)  # no inland seas


def _urbanness(frame: _Frame, counts: np.ndarray) -> np.ndarray:
    """0 (empty) .. ~1 (densest): smoothed postcode density, saturating."""
    density = ndimage.gaussian_filter(counts, sigma=URBAN["smoothing_m"] / frame.res, mode="constant")
    populated = density[counts > 0]
    scale = np.quantile(populated, URBAN["scale_quantile"]) if populated.size else 1.0
    return 1 - np.exp(-density / (scale or 1.0))


# --------------------------------------------------------------------------------------- roads
def _towns(frame: _Frame, urban: np.ndarray, e: np.ndarray, n: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(k, 2) road nodes, densest first: the local maxima of urbanness (towns), then villages (random
    postcodes at least `node_spacing_m` from every other node) until the region has its share of
    nodes. A region too small for two nodes gets the corners of the postcode extent."""
    area_km2 = urban.size * (frame.res / 1000) ** 2
    k = int(np.clip(area_km2 * ROADS["towns_per_km2"], 2, ROADS["max_towns"]))
    peaks = (urban == ndimage.maximum_filter(urban, size=5)) & (urban > 0.1)
    iy, ix = np.nonzero(peaks)
    order = np.argsort(-urban[iy, ix])[:k]
    nodes = [np.array([frame.x[a], frame.y[b]]) for a, b in zip(ix[order], iy[order])]
    for j in rng.permutation(e.size)[: 50 * k]:
        if len(nodes) >= k:
            break
        candidate = np.array([e[j], n[j]])
        if not nodes or np.min(np.hypot(*(np.array(nodes) - candidate).T)) >= ROADS["node_spacing_m"]:
            nodes.append(candidate)
    towns = np.array(nodes).reshape(-1, 2)
    if len(towns) < 2:
        towns = np.vstack([towns, [[e.min(), n.min()], [e.max(), n.max()]]])
    return towns


def _spanning_edges(points: np.ndarray) -> list[tuple[int, int]]:
    if len(points) < 2:
        return []
    mst = minimum_spanning_tree(distance_matrix(points, points)).tocoo()
    return list(zip(mst.row.tolist(), mst.col.tolist()))


def _wiggle(a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A road from a to b: vertices every ~1 km, displaced sideways by a few smooth harmonics that
    vanish at both ends (so joined roads meet)."""
    length = float(np.hypot(*(b - a)))
    m = max(4, int(length / ROADS["vertex_spacing_m"]))
    t = np.linspace(0, 1, m)
    k = np.arange(1, 4)
    offset = (rng.normal(0, 1 / k) * np.sin(np.pi * np.outer(t, k))).sum(axis=1) * ROADS["wiggle"] * length
    normal = np.array([-(b - a)[1], (b - a)[0]]) / (length or 1.0)
    return a + np.outer(t, b - a) + np.outer(offset, normal)


def _road_lines(frame: _Frame, urban: np.ndarray, e: np.ndarray, n: np.ndarray, rng) -> list[tuple[str, str, np.ndarray]]:
    """(road_class, road_number, vertices) of every road, before splitting into features."""
    towns = _towns(frame, urban, e, n, rng)
    roads: list[tuple[str, str, np.ndarray]] = []
    motorway_numbers = iter(["M1", "M4", "M5", "M6", "M11", "M18", "M20", "M23", "M25", "M40", "M42",
                             "M50", "M56", "M62", "M65", "M180", "M606", "M621"] * 4)
    used_a: set[int] = set()

    def a_number() -> str:
        while True:
            number = int(rng.integers(1, 6500))
            if number not in used_a:
                used_a.add(number)
                return f"A{number}"

    # motorways: the biggest towns joined, plus one crossing the whole region through the biggest
    big = towns[: int(np.clip(len(towns) // 6, 2, 6))]
    for i, j in _spanning_edges(big):
        roads.append(("Motorway", next(motorway_numbers), _wiggle(big[i], big[j], rng)))
    xmin, ymin, xmax, ymax = e.min(), n.min(), e.max(), n.max()  # the through motorway stays over land
    angle = rng.uniform(0, np.pi)
    half = np.hypot(xmax - xmin, ymax - ymin)
    through = towns[0] + np.outer([-1, 1], [np.cos(angle), np.sin(angle)]) * half
    line = _wiggle(through[0], through[1], rng)
    inside = (line[:, 0] >= xmin) & (line[:, 0] <= xmax) & (line[:, 1] >= ymin) & (line[:, 1] <= ymax)
    if inside.sum() >= 2:
        roads.append(("Motorway", next(motorway_numbers), line[inside]))
    # A roads: a spanning tree of the towns plus some loops to second-nearest neighbours
    edges = set(map(tuple, map(sorted, _spanning_edges(towns))))
    if len(towns) > 2:
        _, nearest = cKDTree(towns).query(towns, k=3)
        for i in np.flatnonzero(rng.random(len(towns)) < ROADS["extra_loops_share"]):
            edges.add(tuple(sorted((int(i), int(nearest[i, 2])))))
    for i, j in sorted(edges):
        road_class, number = ("B Road", f"B{int(rng.integers(1000, 9999))}") if rng.random() < ROADS["b_road_share"] \
            else ("A Road", a_number())
        roads.append((road_class, number, _wiggle(towns[i], towns[j], rng)))
    return roads


def _road_features(roads: list[tuple[str, str, np.ndarray]]):
    """Split each road into LineString features of a few vertices (real road layers hold links, not
    whole roads), as a GeoDataFrame in EPSG:27700."""
    import geopandas as gpd
    import shapely

    step = ROADS["vertices_per_feature"]
    rows = []
    for road_class, number, line in roads:
        starts = range(0, max(1, len(line) - 1), step)
        for s in starts:
            piece = line[s: s + step + 1]
            if len(piece) >= 2:
                rows.append((road_class, number, piece))
    geoms = []
    if rows:
        coords = np.vstack([r[2] for r in rows])
        index = np.repeat(np.arange(len(rows)), [len(r[2]) for r in rows])
        geoms = shapely.linestrings(coords, indices=index)
    return gpd.GeoDataFrame({"road_class": [r[0] for r in rows], "road_number": [r[1] for r in rows]},
                            geometry=geoms, crs=f"EPSG:{CRS_EPSG}")


def _densify(roads: list[tuple[str, str, np.ndarray]], road_class: str, step_m: float = 100.0) -> np.ndarray:
    """Points every ~`step_m` along the roads of one class, (k, 2)."""
    chunks = []
    for cls, _, line in roads:
        if cls != road_class:
            continue
        seg = np.diff(line, axis=0)
        seg_len = np.hypot(seg[:, 0], seg[:, 1])
        for p, d, length in zip(line[:-1], seg, seg_len):
            t = np.linspace(0, 1, max(2, int(length / step_m) + 1))
            chunks.append(p + np.outer(t, d))
    return np.vstack(chunks) if chunks else np.empty((0, 2))


ROAD_INFLUENCE_M = 10_000.0
"""Beyond this distance a road adds nothing (exp(-10 km / 800 m) ~ 4e-6): distances are capped to inf."""


def _distance_to(points: np.ndarray, frame: _Frame) -> np.ndarray:
    """Distance (m) from each cell centre to the nearest of `points`; inf if there are none (or, on
    the 1 km grid, none within ROAD_INFLUENCE_M)."""
    if not len(points):
        return np.full(frame.shape, np.inf)
    if frame.res >= AQ_RES_M:  # few cells: exact distances
        xx, yy = np.meshgrid(frame.x, frame.y)
        d, _ = cKDTree(points).query(np.column_stack([xx.ravel(), yy.ravel()]), distance_upper_bound=ROAD_INFLUENCE_M)
        return d.reshape(frame.shape)
    ex, ey = frame.edges  # many cells: rasterise then a distance transform (to cell centres)
    hit, _, _ = np.histogram2d(points[:, 1], points[:, 0], bins=(ey, ex))
    if not hit.any():
        return np.full(frame.shape, np.inf)
    return ndimage.distance_transform_edt(hit == 0, sampling=frame.res)


# -------------------------------------------------------------------------------------- fields
def _season(params: dict[str, Any]) -> np.ndarray:
    months = np.arange(1, 13)
    return 1 + params["season_amplitude"] * np.cos(2 * np.pi * (months - params["season_peak_month"]) / 12)


def _trend(params: dict[str, Any], year: int) -> float:
    return float((1 + params["annual_change"]) ** (year - BASE_YEAR))


def _static_pollutant(params: dict[str, Any], background: np.ndarray, urban: np.ndarray,
                      d_motorway: np.ndarray, d_a_road: np.ndarray, east_west: np.ndarray | None = None) -> np.ndarray:
    field = params["background"] + params["background_sd"] * background
    if east_west is not None:
        field = field + params["east_west_gradient"] * east_west
    field = np.maximum(field, 0.4 * params["background"])
    return (field + params["urban"] * urban
            + params["motorway"] * np.exp(-d_motorway / params["motorway_decay_m"])
            + params["a_road"] * np.exp(-d_a_road / params["a_road_decay_m"]))


def _monthly(params: dict[str, Any], static: np.ndarray, year: int, weather: list[np.ndarray],
             national: np.ndarray) -> np.ndarray:
    """(12, ny, nx) monthly means of one year."""
    season = _season(params) * _trend(params, year)
    out = np.empty((12,) + static.shape, dtype=np.float64)
    for m in range(12):
        out[m] = static * season[m] * np.exp(params["weather_sd"] * weather[m] + params["national_month_sd"] * national[m])
    return out


def _rng(seed: int, component: str, *more: int) -> np.random.Generator:
    return np.random.default_rng([seed, SEED_OFFSETS[component], *more])


# -------------------------------------------------------------------------------------- writing
def _crs_variable(style: str) -> tuple[str, dict[str, Any]]:
    """Two ways producers declare the CRS, both CF-readable: a `crs` grid mapping with projection
    parameters, WKT and an EPSG code, or a GDAL-style `spatial_ref` with `crs_wkt` and `spatial_ref`."""
    import pyproj

    cf = pyproj.CRS.from_epsg(CRS_EPSG).to_cf()
    if style == "cf":
        return "crs", {**cf, "epsg_code": f"EPSG:{CRS_EPSG}"}
    return "spatial_ref", {"crs_wkt": cf["crs_wkt"], "spatial_ref": cf["crs_wkt"],
                           "grid_mapping_name": cf["grid_mapping_name"]}


_VARIABLE_ATTRS = {
    "no2": {"units": "ug/m3", "standard_name": "mass_concentration_of_nitrogen_dioxide_in_air",
            "long_name": "monthly mean NO2 concentration"},
    "pm25": {"units": "ug/m3", "standard_name": "mass_concentration_of_pm2p5_ambient_aerosol_particles_in_air",
             "long_name": "monthly mean PM2.5 concentration"},
    "ndvi": {"units": "1", "long_name": "annual normalised difference vegetation index"},
}


def _write_grid(path: Path, name: str, year: int, frame: _Frame, values: np.ndarray, *, y_ascending: bool,
                x_ascending: bool, crs_style: str, time_units: str | None, packed_scale: float | None) -> None:
    grid = GRIDS[name]
    x = frame.x if x_ascending else frame.x[::-1]
    y = frame.y if y_ascending else frame.y[::-1]
    data = values[..., :: 1 if y_ascending else -1, :: 1 if x_ascending else -1].astype(np.float32)
    crs_name, crs_attrs = _crs_variable(crs_style)
    coords: dict[str, Any] = {
        "x": ("x", x, {"standard_name": "projection_x_coordinate", "long_name": "easting", "units": "m", "axis": "X"}),
        "y": ("y", y, {"standard_name": "projection_y_coordinate", "long_name": "northing", "units": "m", "axis": "Y"}),
    }
    dims: tuple[str, ...] = ("y", "x")
    if grid.monthly:
        coords["time"] = ("time", np.array([f"{year}-{m:02d}-01" for m in range(1, 13)], dtype="datetime64[ns]"),
                          {"standard_name": "time", "long_name": "first day of the month averaged"})
        dims = ("time", "y", "x")
    ds = xr.Dataset(
        {grid.variable: (dims, data, {**_VARIABLE_ATTRS[name], "grid_mapping": crs_name}),
         crs_name: ((), np.int32(0), crs_attrs)},
        coords=coords,
        attrs={"Conventions": "CF-1.8", "title": f"Synthetic {grid.description}",
               "institution": "cohort_platform synthetic generator", "source": "synthetic; not real measurements"},
    )
    chunks = ((1,) if grid.monthly else ()) + frame.shape
    storage = ({"dtype": "float32", "_FillValue": np.float32(np.nan)} if packed_scale is None else
               {"dtype": "int16", "scale_factor": packed_scale, "add_offset": 0.0, "_FillValue": np.int16(-32768)})
    encoding: dict[str, dict[str, Any]] = {
        grid.variable: {"zlib": True, "complevel": 4, "shuffle": True, "chunksizes": chunks, **storage},
        "x": {"dtype": "float64"}, "y": {"dtype": "float64"},
    }
    if grid.monthly:
        encoding["time"] = {"units": time_units, "calendar": "standard", "dtype": "int32"}
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.to_netcdf(path, engine="netcdf4", format="NETCDF4", encoding=encoding)


@dataclass(frozen=True)
class _Landscape:
    """Everything about the region that does not change from year to year."""

    extent: tuple[float, float, float, float]
    aq: _Frame  # 1 km air quality grid
    fine: _Frame  # 250 m NDVI grid
    land_aq: np.ndarray
    land_fine: np.ndarray
    postcode_cells_aq: np.ndarray  # postcodes per 1 km cell
    roads: list[tuple[str, str, np.ndarray]]
    no2: np.ndarray  # static NO2 before season, trend and weather
    pm25: np.ndarray
    ndvi: np.ndarray  # static NDVI before annual variation


def _landscape(e: np.ndarray, n: np.ndarray, seed: int) -> _Landscape:
    """Land, urbanness, roads and the static parts of the three fields."""
    extent = _extent(e, n)
    aq, fine = _frame(extent, AQ_RES_M), _frame(extent, NDVI_RES_M)
    radius_noise = _smooth_field(_rng(seed, "land"), extent, LAND["noise_scale_m"], aq)
    radius_aq = np.clip(LAND["radius_m"] + LAND["radius_sd_m"] * radius_noise, LAND["radius_min_m"], LAND["radius_max_m"])
    counts_aq, counts_fine = _counts(aq, e, n), _counts(fine, e, n)
    land_aq = _land_mask(aq, counts_aq, radius_aq)
    land_fine = _land_mask(fine, counts_fine, _bilinear(radius_aq, aq.x, aq.y, fine))
    urban_aq = _urbanness(aq, counts_aq)
    urban_fine = _bilinear(urban_aq, aq.x, aq.y, fine)

    roads = _road_lines(aq, urban_aq, e, n, _rng(seed, "roads"))
    motorway_pts, a_road_pts = _densify(roads, "Motorway"), _densify(roads, "A Road")
    d_motorway, d_a_road = _distance_to(motorway_pts, aq), _distance_to(a_road_pts, aq)
    d_road_fine = np.minimum(_distance_to(motorway_pts, fine), _distance_to(a_road_pts, fine))

    east_west = np.broadcast_to((aq.x - aq.x.min()) / max(1.0, np.ptp(aq.x)), aq.shape)
    no2 = _static_pollutant(NO2, _smooth_field(_rng(seed, "no2_background"), extent, NO2["background_scale_m"], aq),
                            urban_aq, d_motorway, d_a_road)
    pm25 = _static_pollutant(PM25, _smooth_field(_rng(seed, "pm25_background"), extent, PM25["background_scale_m"], aq),
                             urban_aq, d_motorway, d_a_road, east_west)
    texture = ndimage.gaussian_filter(_rng(seed, "ndvi_texture").standard_normal(fine.shape),
                                      sigma=NDVI["texture_scale_m"] / NDVI_RES_M / 2)
    texture /= texture.std() or 1.0
    ndvi = (NDVI["vegetated"] + NDVI["urban"] * urban_fine + NDVI["texture_sd"] * texture
            + NDVI["regional_sd"] * _smooth_field(_rng(seed, "ndvi_regional"), extent, NDVI["regional_scale_m"], fine)
            + NDVI["road_verge"] * np.exp(-d_road_fine / NDVI["road_decay_m"]))
    return _Landscape(extent, aq, fine, land_aq, land_fine, counts_aq, roads, no2, pm25, ndvi)


def _pollutant_year(land: _Landscape, name: str, year: int, seed: int) -> np.ndarray:
    """(12, ny, nx) monthly means of NO2 or PM2.5, rounded to 0.01 ug/m3, NaN outside land."""
    params, static = (NO2, land.no2) if name == "no2" else (PM25, land.pm25)
    weather_rng = _rng(seed, f"{name}_weather", year)
    weather = [_smooth_field(weather_rng, land.extent, params["weather_scale_m"], land.aq) for _ in range(12)]
    values = np.round(_monthly(params, static, year, weather, weather_rng.standard_normal(12)), 2)
    values[:, ~land.land_aq] = np.nan
    return values


def _planted_in(name: str, year: int) -> bool:
    return name == PLANTED_OUT_OF_RANGE["grid"] and year % 10 == 5


def _plant_out_of_range(land: _Landscape, values: np.ndarray, year: int, seed: int) -> list[list[float]]:
    """Set a few land cells without a postcode to an impossible value in one month (a delivery
    imperfection the validator must count and blank); returns their cell centres."""
    candidates = np.flatnonzero((land.land_aq & (land.postcode_cells_aq == 0)).ravel())
    if not candidates.size:
        return []
    cells = _rng(seed, "planted", year).choice(candidates, size=min(PLANTED_OUT_OF_RANGE["cells"], candidates.size),
                                               replace=False)
    iy, ix = np.unravel_index(cells, land.aq.shape)
    values[PLANTED_OUT_OF_RANGE["month"] - 1, iy, ix] = PLANTED_OUT_OF_RANGE["value"]
    return [[float(land.aq.x[a]), float(land.aq.y[b])] for a, b in zip(ix, iy)]


def _ndvi_year(land: _Landscape, year: int, seed: int) -> np.ndarray:
    """(ny, nx) annual NDVI, rounded to 0.001, NaN outside land."""
    annual_rng = _rng(seed, "ndvi_annual", year)
    ndvi = (land.ndvi + NDVI["annual_change"] * (year - BASE_YEAR) + NDVI["annual_sd"] * annual_rng.standard_normal()
            + NDVI["annual_sd"] * _smooth_field(annual_rng, land.extent, NDVI["regional_scale_m"], land.fine))
    ndvi = np.round(np.clip(ndvi, *NDVI["clip"]), 3)
    ndvi[~land.land_fine] = np.nan
    return ndvi


def _layout(name: str, year: int) -> dict[str, Any]:
    """How one file is laid out: the contract's freedoms, varied on purpose."""
    if name == "ndvi":
        return {"y_ascending": year % 4 == 0, "x_ascending": True, "crs_style": "gdal", "time_units": None,
                "packed_scale": 1e-4}
    return {"y_ascending": (year % 2 == 0) if name == "no2" else (year % 2 == 1),
            "x_ascending": not (name == "pm25" and year % 7 == 3),
            "crs_style": "cf",
            "time_units": "days since 1970-01-01" if name == "no2" else f"hours since {year}-01-01 00:00:00",
            "packed_scale": None}


def _write_roads(raw_dir: Path, roads: list[tuple[str, str, np.ndarray]]):
    features = _road_features(roads)
    path = raw_dir / ROADS_FOLDER / ROADS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)  # a GeoPackage keeps other layers: start afresh
    features.to_file(path, layer=ROADS_LAYER, driver="GPKG", engine="pyogrio")
    return features


def _truth(land: _Landscape, seed: int, years: list[int], features, files: dict[str, Any]) -> dict[str, Any]:
    return {
        "seed": seed, "years": years, "base_year": BASE_YEAR, "extent_m": [float(v) for v in land.extent],
        "resolution_m": {"air_quality": AQ_RES_M, "ndvi": NDVI_RES_M}, "margin_m": MARGIN_M,
        "grid_shape": {"air_quality": list(land.aq.shape), "ndvi": list(land.fine.shape)},
        "land": LAND, "land_share": {"air_quality": float(land.land_aq.mean()), "ndvi": float(land.land_fine.mean())},
        "urban": URBAN, "no2": NO2, "pm25": PM25, "ndvi": {**NDVI, "clip": list(NDVI["clip"])},
        "seasonal_factor": {"no2": _season(NO2).round(4).tolist(), "pm25": _season(PM25).round(4).tolist()},
        "annual_factor": {name: {y: round(_trend(p, y), 4) for y in years} for name, p in (("no2", NO2), ("pm25", PM25))},
        "roads": {**ROADS, "features": int(len(features)),
                  "features_by_class": {str(k): int(v) for k, v in features["road_class"].value_counts().items()},
                  "roads": [{"road_class": c, "road_number": r, "vertices": int(len(v))} for c, r, v in land.roads]},
        "planted_out_of_range": PLANTED_OUT_OF_RANGE,
        "files": files,
    }


def write_environment(raw_dir: Path, postcodes: pl.DataFrame, years: Sequence[int], seed: int,
                      truth_dir: Path | None = None) -> None:
    """Write the environmental files of the contract for `years` around the `postcodes` (columns
    easting and northing, British National Grid metres); with `truth_dir`, the generating parameters
    and each file's layout to `truth_dir/environment.json`."""
    raw_dir = Path(raw_dir)
    years = sorted({int(y) for y in years})
    pts = postcodes.select(pl.col("easting").cast(pl.Float64), pl.col("northing").cast(pl.Float64)).drop_nulls()
    if pts.height == 0:
        raise ValueError("write_environment needs at least one postcode with easting and northing")
    land = _landscape(pts["easting"].to_numpy(), pts["northing"].to_numpy(), seed)

    files: dict[str, dict[str, Any]] = {}
    for year in years:
        for name in ("no2", "pm25", "ndvi"):
            grid = GRIDS[name]
            rel = f"{grid.folder}/{grid.prefix}{year}.nc"
            layout = _layout(name, year)
            if name == "ndvi":
                values, planted = _ndvi_year(land, year, seed), []
            else:
                values = _pollutant_year(land, name, year, seed)
                planted = _plant_out_of_range(land, values, year, seed) if _planted_in(name, year) else []
            _write_grid(raw_dir / rel, name, year, land.fine if name == "ndvi" else land.aq, values, **layout)
            files[rel] = {**layout, "planted_out_of_range_xy": planted}

    features = _write_roads(raw_dir, land.roads)
    if truth_dir is not None:
        truth_dir = Path(truth_dir)
        truth_dir.mkdir(parents=True, exist_ok=True)
        (truth_dir / "environment.json").write_text(json.dumps(_truth(land, seed, years, features, files), indent=1))

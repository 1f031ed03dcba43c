"""Vectorised assignment of environmental values to locations (postcodes, schools). Dagster-free.

Every value is computed once per distinct location and joined back by the caller (`assign`): a
birth cohort of 650,000 children has ~120 million child-months but only a few hundred thousand
distinct postcodes, so the work is one `sample_grid` call per grid file over all locations, never a
per-point loop.

- `monthly_values(files, eastings, northings, years)`: NO2 / PM2.5, shape (years, locations, 12).
- `ndvi_disc_values(files, eastings, northings, years, radius_m)`: mean NDVI within `radius_m` (300 m)
  of each location, shape (years, locations): each year's grid is convolved once with a disc kernel
  (NaN-aware: sea cells are left out of the mean), then looked up at the nearest cell.
- `road_distances(roads, eastings, northings)`: metres to the nearest major road (Motorway or A Road)
  and to the nearest motorway, with a shapely STRtree nearest-neighbour query over all points at once.

A year whose file is missing gives NaN for that year: exposures are then missing, not invented.
Locations without coordinates (NaN) give NaN everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from scipy import ndimage

from cohort_platform.contract.datasets import GRIDS
from cohort_platform.ingest.environment import sample_grid

NDVI_RADIUS_M = 300.0
GridSource = Path | str | xr.DataArray | xr.Dataset


def open_grid(source: GridSource, variable: str) -> xr.DataArray:
    """The grid as a loaded DataArray (months in calendar order for a monthly grid). Accepts a path
    (raw or normalised file), a Dataset or a DataArray."""
    if isinstance(source, (str, Path)):
        with xr.open_dataset(source, engine="netcdf4") as ds:
            if variable not in ds.data_vars:
                raise KeyError(f"{Path(source).name}: variable {variable!r} missing")
            da = ds[variable].load()
    elif isinstance(source, xr.Dataset):
        da = source[variable]
    else:
        da = source
    if "time" in da.dims:
        da = da.sortby("time")
    return da


def _months_of(da: xr.DataArray) -> np.ndarray:
    """Calendar month (1..12) of each time step."""
    return np.asarray(da["time"].dt.month.values, dtype=np.int64)


def monthly_values(files: Mapping[int, GridSource], eastings: np.ndarray, northings: np.ndarray,
                   years: Sequence[int], variable: str) -> np.ndarray:
    """Monthly grid values at each location: float32 (len(years), n, 12), NaN where the year's file
    is missing, the location lies outside the grid or on a NaN cell. One `sample_grid` call per file."""
    e, n = np.asarray(eastings, dtype="float64"), np.asarray(northings, dtype="float64")
    out = np.full((len(years), e.size, 12), np.nan, dtype=np.float32)
    for i, year in enumerate(years):
        if year not in files or e.size == 0:
            continue
        da = open_grid(files[year], variable)
        values = sample_grid(da, e, n)  # (n, T) in time order
        out[i][:, _months_of(da) - 1] = values.astype(np.float32)
    return out


def disc_kernel(dx: float, dy: float, radius_m: float) -> np.ndarray:
    """Weights (ny, nx) of the cells whose centre lies within `radius_m` of the central cell's centre."""
    rx, ry = int(radius_m // abs(dx)), int(radius_m // abs(dy))
    oy, ox = np.meshgrid(np.arange(-ry, ry + 1) * abs(dy), np.arange(-rx, rx + 1) * abs(dx), indexing="ij")
    return (ox**2 + oy**2 <= radius_m**2 + 1e-6).astype("float64")


def disc_mean(da: xr.DataArray, radius_m: float = NDVI_RADIUS_M) -> xr.DataArray:
    """Mean of the valid (non-NaN) cells within `radius_m` of each cell centre: a 2-D convolution of
    the values and of the validity mask with a disc kernel. Cells whose disc holds no valid cell are
    NaN. The grid keeps its coordinates, so the result is looked up like the grid itself."""
    da = da.transpose("y", "x")
    x, y = np.asarray(da["x"].values, dtype="float64"), np.asarray(da["y"].values, dtype="float64")
    kernel = disc_kernel(x[1] - x[0] if x.size > 1 else 1.0, y[1] - y[0] if y.size > 1 else 1.0, radius_m)
    values = np.asarray(da.values, dtype="float64")
    valid = np.isfinite(values)
    total = ndimage.convolve(np.where(valid, values, 0.0), kernel, mode="constant", cval=0.0)
    count = ndimage.convolve(valid.astype("float64"), kernel, mode="constant", cval=0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0.5, total / np.maximum(count, 1e-12), np.nan)
    return da.copy(data=mean.astype(np.float32))


def ndvi_disc_values(files: Mapping[int, GridSource], eastings: np.ndarray, northings: np.ndarray,
                     years: Sequence[int], radius_m: float = NDVI_RADIUS_M,
                     variable: str = GRIDS["ndvi"].variable) -> np.ndarray:
    """Mean NDVI within `radius_m` of each location, float32 (len(years), n); NaN for a missing year."""
    e, n = np.asarray(eastings, dtype="float64"), np.asarray(northings, dtype="float64")
    out = np.full((len(years), e.size), np.nan, dtype=np.float32)
    for i, year in enumerate(years):
        if year not in files or e.size == 0:
            continue
        out[i] = sample_grid(disc_mean(open_grid(files[year], variable), radius_m), e, n).astype(np.float32)
    return out


def _nearest_distance(geometries: Iterable[Any], eastings: np.ndarray, northings: np.ndarray) -> np.ndarray:
    """Distance (m) from each point to the nearest geometry; NaN where the point has no coordinates or
    there is no geometry. One STRtree nearest query for all points."""
    import shapely

    geoms = np.asarray([g for g in geometries if g is not None and not g.is_empty], dtype=object)
    out = np.full(eastings.shape, np.nan)
    ok = np.isfinite(eastings) & np.isfinite(northings)
    if geoms.size == 0 or not ok.any():
        return out
    tree = shapely.STRtree(geoms)
    points = shapely.points(eastings[ok], northings[ok])
    (index, _), distance = tree.query_nearest(points, return_distance=True, all_matches=False)
    where = np.flatnonzero(ok)
    out[where[index]] = distance
    return out


def road_distances(roads: Any, eastings: np.ndarray, northings: np.ndarray) -> dict[str, np.ndarray]:
    """{"road_m": to the nearest major road (Motorway or A Road), "motorway_m": to the nearest
    motorway}, float32 metres per location. `roads` is `read_roads`' GeoDataFrame (or None: NaN)."""
    e, n = np.asarray(eastings, dtype="float64"), np.asarray(northings, dtype="float64")
    if roads is None or len(roads) == 0:
        empty = np.full(e.shape, np.nan, dtype=np.float32)
        return {"road_m": empty, "motorway_m": empty.copy()}
    geoms = roads.geometry.to_numpy()
    motorway = (roads["road_class"] == "Motorway").to_numpy()
    return {"road_m": _nearest_distance(geoms, e, n).astype(np.float32),
            "motorway_m": _nearest_distance(geoms[motorway], e, n).astype(np.float32)}


# ------------------------------------------------------------------------------ all at once
EXPOSURES = ("no2", "pm25", "ndvi_300m", "road_m", "motorway_m")
"""The exposures assigned, in output order."""


class LocationValues:
    """Every exposure at every location: no2, pm25 (years, n, 12), ndvi_300m (years, n), road_m and
    motorway_m (n,), for `years` (consecutive). `points_sampled` counts the grid values read."""

    def __init__(self, years: Sequence[int], no2: np.ndarray, pm25: np.ndarray, ndvi_300m: np.ndarray,
                 road_m: np.ndarray, motorway_m: np.ndarray, points_sampled: int = 0):
        self.years = list(years)
        self.no2, self.pm25, self.ndvi_300m = no2, pm25, ndvi_300m
        self.road_m, self.motorway_m = road_m, motorway_m
        self.points_sampled = points_sampled

    @property
    def first_year(self) -> int:
        return self.years[0]

    def lookup(self, loc: np.ndarray, year: np.ndarray, month: np.ndarray,
               static_loc: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Every exposure for rows of (location index, calendar year, month 1..12): NO2 and PM2.5 at
        `loc`, NDVI and road distances at `static_loc` (default `loc`). NaN where the location is
        unknown (-1) or the year lies outside `years`. Flat indices are computed once per location
        array and gathered with `np.take`, the cheapest numpy gather."""
        n_loc, n_years = self.road_m.size, len(self.years)
        yi = np.asarray(year, dtype=np.int64) - self.first_year
        year_ok = (yi >= 0) & (yi < n_years)

        def flat(locs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            ok = year_ok & (locs >= 0)
            return ok, np.where(ok, yi * n_loc + locs, 0)

        ok, annual = flat(np.asarray(loc))
        monthly = annual * 12 + (np.asarray(month, dtype=np.int64) - 1)
        out = {name: np.where(ok, getattr(self, name).reshape(-1).take(monthly), np.nan).astype(np.float32)
               for name in ("no2", "pm25")}
        static = np.asarray(loc if static_loc is None else static_loc)
        sok, sannual = (ok, annual) if static_loc is None else flat(static)
        out["ndvi_300m"] = np.where(sok, self.ndvi_300m.reshape(-1).take(sannual), np.nan).astype(np.float32)
        known = static >= 0
        for name in ("road_m", "motorway_m"):
            out[name] = np.where(known, getattr(self, name).take(np.maximum(static, 0)), np.nan).astype(np.float32)
        return out


def sample_locations(eastings: np.ndarray, northings: np.ndarray, years: Sequence[int],
                     no2: Mapping[int, GridSource], pm25: Mapping[int, GridSource], ndvi: Mapping[int, GridSource],
                     roads: Any, ndvi_radius_m: float = NDVI_RADIUS_M) -> LocationValues:
    """All exposures at each location for consecutive `years`: one sample per grid file, one STRtree
    query per road class."""
    years = list(range(min(years), max(years) + 1)) if len(years) else []
    e, n = np.asarray(eastings, dtype="float64"), np.asarray(northings, dtype="float64")
    values = LocationValues(
        years,
        monthly_values(no2, e, n, years, GRIDS["no2"].variable),
        monthly_values(pm25, e, n, years, GRIDS["pm25"].variable),
        ndvi_disc_values(ndvi, e, n, years, ndvi_radius_m),
        **road_distances(roads, e, n),
    )
    files = sum(1 for y in years if y in no2) * 12 + sum(1 for y in years if y in pm25) * 12 + \
        sum(1 for y in years if y in ndvi)
    values.points_sampled = int(e.size * (files + (2 if roads is not None else 0)))
    return values

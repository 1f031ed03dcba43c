"""Hand-made inputs for the exposure tests: observations, spells, grids and roads small enough to
compute every expected value by hand."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import xarray as xr

from cohort_platform.exposures.histories import DATED_SCHEMA, SPELL_SCHEMA

D = dt.date
CUTOFF = D(2025, 3, 31)


def obs(*rows: tuple) -> pl.DataFrame:
    """Dated observations from (person_id, role, date, postcode, source) tuples."""
    return pl.DataFrame([dict(zip(DATED_SCHEMA, r)) for r in rows], schema=DATED_SCHEMA)


def births(*rows: tuple) -> pl.DataFrame:
    """Birth dates from (person_id, dob[, dod]) tuples."""
    return pl.DataFrame({"person_id": [r[0] for r in rows], "dob": [r[1] for r in rows],
                         "dod": [r[2] if len(r) > 2 else None for r in rows]},
                        schema={"person_id": pl.String, "dob": pl.Date, "dod": pl.Date})


def spells(*rows: tuple) -> pl.DataFrame:
    """Spells from (person_id, role, start_month, end_month, postcode) tuples (months as dates)."""
    out = []
    for pid, role, start, end, pc in rows:
        months = (end.year - start.year) * 12 + end.month - start.month + 1
        out.append({"person_id": pid, "role": role, "start_month": start, "end_month": end, "months": months,
                    "postcode": pc, "source": "births", "basis": "observed", "observations": 1, "last_seen": start})
    return pl.DataFrame(out, schema=SPELL_SCHEMA)


def children(*rows: tuple) -> pl.DataFrame:
    """Children from (person_id, dob, gestation_weeks[, dod]) tuples."""
    return pl.DataFrame({"person_id": [r[0] for r in rows], "dob": [r[1] for r in rows],
                         "gestation_weeks": [r[2] for r in rows], "dod": [r[3] if len(r) > 3 else None for r in rows]},
                        schema={"person_id": pl.String, "dob": pl.Date, "gestation_weeks": pl.Int32, "dod": pl.Date})


def enrolments(*rows: tuple) -> pl.DataFrame:
    return pl.DataFrame({"person_id": [r[0] for r in rows], "academic_year": [r[1] for r in rows],
                         "urn": [r[2] for r in rows]},
                        schema={"person_id": pl.String, "academic_year": pl.Int32, "urn": pl.String})


# a 4 x 3 km air-quality grid of 1 km cells; cell (ix, iy) centre at (500 + 1000 ix, 500 + 1000 iy)
def monthly_grid(year: int, value, nx: int = 4, ny: int = 3, res: float = 1000.0, name: str = "no2") -> xr.DataArray:
    """A monthly grid whose cell (ix, iy) in month m (1..12) holds value(ix, iy, m)."""
    x = res / 2 + res * np.arange(nx)
    y = res / 2 + res * np.arange(ny)
    months = np.arange(1, 13)
    iy, ix = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
    data = np.stack([np.vectorize(value)(ix, iy, m).astype("float32") for m in months])
    time = np.array([np.datetime64(f"{year}-{m:02d}-01", "ns") for m in months])
    return xr.DataArray(data, dims=("time", "y", "x"), coords={"time": time, "y": y, "x": x}, name=name)


def annual_grid(value, nx: int = 16, ny: int = 12, res: float = 250.0, name: str = "ndvi") -> xr.DataArray:
    x = res / 2 + res * np.arange(nx)
    y = res / 2 + res * np.arange(ny)
    iy, ix = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
    return xr.DataArray(np.vectorize(value)(ix, iy).astype("float32"), dims=("y", "x"), coords={"y": y, "x": x},
                        name=name)


def points(**named: tuple[float, float]) -> pl.DataFrame:
    """Reference postcodes from name=(easting, northing)."""
    return pl.DataFrame({"postcode": list(named), "easting": [v[0] for v in named.values()],
                         "northing": [v[1] for v in named.values()]})


def schools(**named: tuple[float, float]) -> pl.DataFrame:
    return pl.DataFrame({"urn": list(named), "easting": [v[0] for v in named.values()],
                         "northing": [v[1] for v in named.values()]})


def roads(*lines: tuple[str, list[tuple[float, float]]]):
    import geopandas as gpd
    from shapely.geometry import LineString

    return gpd.GeoDataFrame({"road_class": [c for c, _ in lines], "road_number": [f"R{i}" for i in range(len(lines))]},
                            geometry=[LineString(coords) for _, coords in lines], crs="EPSG:27700")

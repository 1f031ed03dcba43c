"""Tiny hand-made environmental files for the reader's tests: every fault is one argument away from a
good file, so each test shows exactly which breach the validator must catch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import xarray as xr

from cohort_platform.contract.datasets import GRIDS

X0, Y0 = 400_500.0, 200_500.0  # centre of the first cell


def cell_values(variable: str, n_times: int, ny: int, nx: int) -> np.ndarray:
    """A field whose every cell is distinct and in range: value = base + 1*ix + 10*iy (+ 0.1*month)."""
    iy, ix = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
    if variable == "ndvi":
        return (0.1 + 0.01 * ix + 0.05 * iy).astype("float64")
    months = np.arange(n_times)[:, None, None]
    return (10.0 + ix + 10.0 * iy + 0.1 * months).astype("float64")


def crs_vars(style: str | None, epsg: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(extra variables, data-variable attributes) declaring a CRS in one of the ways producers do."""
    import pyproj

    if style is None:
        return {}, {}
    cf = pyproj.CRS.from_epsg(epsg).to_cf()
    if style == "cf":
        return {"crs": ((), np.int32(0), cf)}, {"grid_mapping": "crs"}
    if style == "gdal":
        return ({"spatial_ref": ((), np.int32(0), {"crs_wkt": cf["crs_wkt"], "spatial_ref": cf["crs_wkt"]})},
                {"grid_mapping": "spatial_ref"})
    if style == "epsg_attr":
        return {}, {"epsg_code": f"EPSG:{epsg}"}
    raise ValueError(style)


def write_grid(
    folder: Path,
    grid_name: str = "no2",
    year: int = 2010,
    *,
    nx: int = 6,
    ny: int = 5,
    res: float | None = None,
    x_desc: bool = False,
    y_desc: bool = False,
    n_times: int = 12,
    epsg: int = 27700,
    crs_style: str | None = "cf",
    fmt: str = "NETCDF4",
    variable: str | None = None,
    values: np.ndarray | None = None,
    dims: tuple[str, ...] | None = None,
    times: list[str] | None = None,
    units: str | None = None,
    filename: str | None = None,
    x_coords: np.ndarray | None = None,
    storage: dict[str, Any] | None = None,
) -> Path:
    """Write one grid file under `folder/<grid folder>/` and return its path."""
    grid = GRIDS[grid_name]
    res = res if res is not None else (1000.0 if grid.monthly else 250.0)
    x = X0 + res * np.arange(nx) if x_coords is None else x_coords
    y = Y0 + res * np.arange(ny)
    data = cell_values(grid.variable, n_times, ny, nx) if values is None else values
    if x_desc:
        x, data = x[::-1], data[..., ::-1]
    if y_desc:
        y, data = y[::-1], data[..., ::-1, :]
    monthly = grid.monthly if dims is None else "time" in dims
    dims = dims or (("time", "y", "x") if grid.monthly else ("y", "x"))
    extra, attrs = crs_vars(crs_style, epsg)
    attrs = {**attrs, "units": units if units is not None else grid.units}
    coords: dict[str, Any] = {"x": ("x", x, {"units": "m"}), "y": ("y", y, {"units": "m"})}
    if monthly:
        stamps = times or [f"{year}-{m:02d}-01" for m in range(1, n_times + 1)]
        coords["time"] = ("time", np.array(stamps, dtype="datetime64[ns]"))
    canonical = ("time", "y", "x") if monthly else ("y", "x")
    data = np.transpose(data, [canonical.index(d) for d in dims])  # stored in the order `dims` says
    ds = xr.Dataset({(variable or grid.variable): (dims, data.astype("float32"), attrs), **extra}, coords=coords)
    path = folder / grid.folder / (filename or f"{grid.prefix}{year}.nc")
    path.parent.mkdir(parents=True, exist_ok=True)
    encoding: dict[str, Any] = {"time": {"units": "days since 1970-01-01", "dtype": "int32"}} if monthly else {}
    if storage:
        encoding[variable or grid.variable] = storage
    ds.to_netcdf(path, format=fmt, engine="netcdf4", encoding=encoding)
    return path


def cell_centres(nx: int = 6, ny: int = 5, res: float = 1000.0) -> pl.DataFrame:
    """Land points: one postcode at the centre of every cell of the default grid."""
    iy, ix = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
    return pl.DataFrame({"easting": X0 + res * ix.ravel(), "northing": Y0 + res * iy.ravel()})


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    root = tmp_path / "raw"
    root.mkdir()
    return root

"""Validating reader for the contract's environmental data (air quality, greenspace, major roads).

The platform links every child to the NO2, PM2.5 and NDVI of the 1 km / 250 m cell they live in and to
their distance from a major road. Those exposures are only as good as the grids: a grid in the wrong
CRS, on the wrong cells, with 11 months or in the wrong units still samples "fine" and yields silently
wrong exposures. So every file is checked against the contract (shared/spec/raw-extracts.md,
"Environmental data"; `GRIDS`, `ROADS_*` and `CRS_EPSG` in `cohort_platform.contract.datasets`) before
it is used, and a breach raises `EnvironmentFault` naming the file and the fault.

- `discover(raw_root)`: the files delivered, per grid and for the roads. A missing year is not an
  error (its exposures are missing, not invented); an absent folder means nothing delivered.
- `validate_grid(path, grid, land_points, raw_root) -> GridReport`: structure, CRS, cell size, time
  stamps, physical range and coverage of the land (the reference postcodes).
- `normalise_grid(path, grid, out_path)`: a copy with ascending x and y, float32, out-of-range cells set
  to NaN and a canonical CF CRS, so downstream code can index cells arithmetically.
- `sample_grid(ds_or_path, eastings, northings, times=None)`: vectorised nearest-cell sampling.
- `validate_roads(path, raw_root) -> RoadsReport`, `read_roads(path) -> GeoDataFrame`.
- `render_grid_png(...)`, `render_roads_png(...)`: small PNG maps for Dagster metadata.

Grids are opened lazily and read one time step at a time, so memory stays at one month of one grid.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import io
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import xarray as xr

from cohort_platform.contract.datasets import (
    CRS_EPSG,
    GRIDS,
    ROAD_CLASSES,
    ROADS_FILE,
    ROADS_FOLDER,
    ROADS_LAYER,
    Grid,
)

# --- tolerances of the checks
MAX_OUT_OF_RANGE_SHARE = 0.01
"""More than this share of the non-NaN cells outside `Grid.bounds` is a fault; fewer are set to NaN."""
MIN_LAND_COVERAGE = 0.995
"""Share of land points (reference postcodes) that must fall on a non-NaN cell of the grid."""
AIR_QUALITY_RESOLUTION_M = 1000.0
NDVI_RESOLUTION_RANGE_M = (100.0, 250.0)
RESOLUTION_TOLERANCE_M = 1.0
SPACING_TOLERANCE = 1e-3
"""Relative tolerance on equal spacing of coordinates (float32 eastings carry ~0.06 m of noise)."""
BNG_EXTENT = (0.0, 0.0, 700_000.0, 1_300_000.0)
"""Generous British National Grid extent: road coordinates outside it are in another CRS."""

MONTHLY_DIMS = ("time", "y", "x")
ANNUAL_DIMS = ("y", "x")
CRS_ATTRIBUTES = ("crs_wkt", "spatial_ref", "epsg_code", "crs", "proj4", "proj4text", "proj4_params")
CRS_VARIABLE_NAMES = ("spatial_ref", "crs", "transverse_mercator", "grid_mapping", "projection")
NORMALISED_CRS_VARIABLE = "spatial_ref"

_UG_M3 = {"ug/m3", "ugm-3", "ug.m-3", "ug/m^3", "ug/m**3", "microgram/m3", "micrograms/m3",
          "microgramm-3", "microgramsm-3", "micrograms/cubicmetre", "microgramspercubicmetre",
          "micrograms/cubicmeter", "microgramspercubicmeter", "microgrampercubicmetre", "ugm^-3", "ug.m^-3",
          "ugm**-3", "ug/m**3"}
_DIMENSIONLESS = {"1", "", "-", "none", "dimensionless", "unitless", "ndvi", "index", "ratio"}


class EnvironmentFault(Exception):
    """An environmental file breaks the contract. `.file` is the path relative to the raw root,
    `.fault` says what is wrong; the message names both so a run failure is actionable as it stands."""

    def __init__(self, file: str, fault: str):
        self.file = file
        self.fault = fault
        super().__init__(f"{file}: {fault}")


# ----------------------------------------------------------------------------------------- reports
def _simple(value: Any) -> Any:
    """JSON- and Dagster-metadata-friendly: tuples to lists, NaN to None, numpy scalars to Python."""
    if isinstance(value, dict):
        return {str(k): _simple(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_simple(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class GridReport:
    """What the validator saw in one grid file."""

    file: str
    grid: str
    year: int
    variable: str
    file_format: str
    dims: tuple[str, ...]
    shape: tuple[int, ...]
    resolution_m: tuple[float, float]  # (x, y) cell size
    bounds: tuple[float, float, float, float]  # cell edges: xmin, ymin, xmax, ymax
    x_ascending: bool
    y_ascending: bool
    crs: str
    units: str | None
    value_min: float
    value_mean: float
    value_max: float
    nan_share: float
    cells_out_of_range: int
    land_points: int | None
    land_coverage: float | None

    def to_dict(self) -> dict[str, Any]:
        return _simple(asdict(self))


@dataclass(frozen=True)
class RoadsReport:
    """What the validator saw in the major roads file, and what it dropped."""

    file: str
    layer: str
    crs: str
    features_read: int
    features_kept: int
    kept_by_class: dict[str, int]
    dropped_other_class: int
    dropped_classes: dict[str, int]
    dropped_null_geometry: int
    missing_road_number: int
    length_km_by_class: dict[str, float]
    bounds: tuple[float, float, float, float]

    def to_dict(self) -> dict[str, Any]:
        return _simple(asdict(self))


# -------------------------------------------------------------------------------------- discovery
def grid_year(path: Path, grid: Grid) -> int | None:
    """The year in a grid file's name (`<prefix>YYYY.nc`), or None if the name does not follow it."""
    match = re.fullmatch(rf"{re.escape(grid.prefix)}(\d{{4}})\.nc", Path(path).name)
    return int(match.group(1)) if match else None


def discover(raw_root: Path) -> dict[str, list[Path]]:
    """The environmental files delivered: for each grid name its `<prefix>YYYY.nc` files in year order,
    and under "roads" the roads file if present. An absent folder or year is simply not listed."""
    raw_root = Path(raw_root)
    found: dict[str, list[Path]] = {}
    for name, grid in GRIDS.items():
        folder = raw_root / grid.folder
        files = [p for p in folder.glob(f"{grid.prefix}*.nc") if p.is_file() and grid_year(p, grid)]
        found[name] = sorted(files, key=lambda p: grid_year(p, grid))
    roads = raw_root / ROADS_FOLDER / ROADS_FILE
    found["roads"] = [roads] if roads.is_file() else []
    return found


def unrecognised_files(raw_root: Path) -> list[Path]:
    """Files in the environmental folders that `discover` does not pick up (a misnamed year file, a
    stray format): worth a warning, because a delivery that silently vanishes is a missing exposure."""
    raw_root = Path(raw_root)
    known = {p for paths in discover(raw_root).values() for p in paths}
    folders = {g.folder for g in GRIDS.values()} | {ROADS_FOLDER}
    stray = [p for f in sorted(folders) if (raw_root / f).is_dir()
             for p in sorted((raw_root / f).iterdir()) if p.is_file() and p not in known]
    return stray


def _relative(path: Path, raw_root: Path | None) -> str:
    path = Path(path)
    if raw_root is not None:
        try:
            return path.resolve().relative_to(Path(raw_root).resolve()).as_posix()
        except ValueError:
            pass
    return path.name


# ---------------------------------------------------------------------------------------- opening
def _open(path: Path, rel: str) -> xr.Dataset:
    """Open lazily; NetCDF4/HDF5 and NetCDF3 both go through netCDF4, scipy is the fallback for
    NetCDF3 files the C library refuses. Undecodable times are reported, not raised from xarray."""
    if not Path(path).is_file():
        raise EnvironmentFault(rel, "file not found")
    errors = []
    for engine in ("netcdf4", "scipy"):
        for decode_times in (True, False):
            try:
                return xr.open_dataset(path, engine=engine, decode_times=decode_times, cache=False)
            except Exception as exc:  # noqa: BLE001 - every failure is reported below
                errors.append(f"{engine}: {exc}")
    raise EnvironmentFault(rel, f"cannot be opened as NetCDF ({errors[0]})")


_MAGIC = {b"CDF\x01": "NETCDF3_CLASSIC", b"CDF\x02": "NETCDF3_64BIT_OFFSET", b"CDF\x05": "NETCDF3_64BIT_DATA",
          b"\x89HDF": "NETCDF4"}


def _file_format(path: Path) -> str:
    """NetCDF flavour from the file's magic bytes (xarray does not report it for every engine)."""
    with open(path, "rb") as handle:
        head = handle.read(4)
    return _MAGIC.get(head, "unknown")


# -------------------------------------------------------------------------------------------- CRS
def _grid_mapping_names(attr: str) -> list[str]:
    """CF `grid_mapping` is either a variable name or the extended form "crs: x y [crs2: lat lon]"."""
    if ":" in attr:
        return [tok[:-1] for tok in attr.split() if tok.endswith(":")]
    return attr.split()[:1]


@functools.lru_cache(maxsize=64)
def _crs_labels(attr_items: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """(source, EPSG label) of every CRS an attribute set declares. Cached: identifying a CRS from CF
    projection parameters searches the EPSG database (~50 ms), and a producer's files share attributes."""
    import pyproj

    attrs = dict(attr_items)
    found: dict[str, Any] = {}
    if "grid_mapping_name" in attrs:  # the CF projection parameters, checked apart from any WKT
        try:
            params = {k: _number_or_text(v) for k, v in attrs.items() if k not in ("crs_wkt", "spatial_ref")}
            found["grid mapping parameters"] = pyproj.CRS.from_cf(params)
        except Exception:  # noqa: BLE001 - e.g. a latitude_longitude mapping without its ellipsoid
            pass
    for key in CRS_ATTRIBUTES:
        value = attrs.get(key)
        if value is None or not value.strip():
            continue
        if value.strip().isdigit():
            value = f"EPSG:{int(value)}"
        try:
            found[key] = pyproj.CRS.from_user_input(value)
        except Exception:  # noqa: BLE001 - an unreadable declaration is reported by the caller
            found[key] = None
    return tuple((key, _epsg_label(crs)) for key, crs in found.items())


def _number_or_text(value: str) -> Any:
    try:
        return float(value)
    except ValueError:
        return value


def _attr_key(attrs: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """Attributes as a hashable key of text values (numbers round-trip through repr)."""
    def text(v: Any) -> str:
        if isinstance(v, np.ndarray):
            v = v.tolist()[0] if v.size == 1 else v.tolist()
        if isinstance(v, np.generic):
            v = v.item()
        return repr(v) if isinstance(v, float) else str(v)

    return tuple(sorted((str(k), text(v)) for k, v in attrs.items()))


def _epsg_label(crs: Any) -> str:
    if crs is None:
        return "unreadable"
    epsg = crs.to_epsg() or crs.to_epsg(min_confidence=50)
    return f"EPSG:{epsg}" if epsg else f"'{crs.name}' (no EPSG code)"


def _declared_crs(ds: xr.Dataset, variable: str) -> tuple[str | None, str]:
    """(EPSG label, where it was found) of the CRS the file declares, or (None, reason) if none.
    Looks where CF and GDAL put it: the grid_mapping variable named by the data variable, a CRS-looking
    variable, then CRS attributes on the data variable or the file."""
    da = ds[variable]
    gm = da.attrs.get("grid_mapping") or da.encoding.get("grid_mapping")
    sources: list[tuple[str, dict[str, Any]]] = []
    if gm:
        names = _grid_mapping_names(str(gm))
        missing = [n for n in names if n not in ds.variables]
        if missing:
            return None, f"grid_mapping names {missing[0]!r}, which is not a variable of the file"
        sources += [(f"grid_mapping variable {n!r}", dict(ds[n].attrs)) for n in names]
    else:
        for name in ds.variables:
            attrs = dict(ds[name].attrs)
            if name in CRS_VARIABLE_NAMES or "grid_mapping_name" in attrs or "crs_wkt" in attrs:
                if name != variable and ds[name].ndim == 0:
                    sources.append((f"variable {name!r}", attrs))
        sources.append((f"attributes of {variable!r}", dict(da.attrs)))
        sources.append(("global attributes", dict(ds.attrs)))
    for where, attrs in sources:
        labels = dict(_crs_labels(_attr_key(attrs)))
        if not labels:
            continue
        identified = {k: v for k, v in labels.items() if v.startswith("EPSG:")}
        # an incomplete declaration (CF parameters without an ellipsoid) defers to an explicit one
        distinct = set(identified.values()) or set(labels.values())
        if len(distinct) > 1:
            detail = ", ".join(f"{k} {v}" for k, v in identified.items())
            return "conflicting", f"CRS declarations disagree in {where}: {detail}"
        return distinct.pop(), where
    return None, "no CRS (no grid_mapping variable nor crs_wkt/spatial_ref/epsg_code attribute)"


def _check_crs(ds: xr.Dataset, variable: str, rel: str) -> str:
    label, where = _declared_crs(ds, variable)
    if label is None or label == "conflicting":
        raise EnvironmentFault(rel, where)
    expected = f"EPSG:{CRS_EPSG}"
    if label != expected:
        raise EnvironmentFault(rel, f"CRS is {label}, expected {expected}")
    return label


# ------------------------------------------------------------------------------------ structure
@dataclass(frozen=True)
class _Axis:
    name: str
    values: np.ndarray  # as stored
    step: float  # signed

    @property
    def ascending(self) -> bool:
        return self.step > 0

    @property
    def resolution(self) -> float:
        return abs(self.step)

    @property
    def edges(self) -> tuple[float, float]:
        lo, hi = float(np.min(self.values)), float(np.max(self.values))
        return lo - self.resolution / 2, hi + self.resolution / 2


def _axis(ds: xr.Dataset, name: str, rel: str) -> _Axis:
    if name not in ds.coords:
        raise EnvironmentFault(rel, f"dimension {name} has no coordinate values")
    values = np.asarray(ds[name].values, dtype="float64")
    if values.ndim != 1 or values.size < 2:
        raise EnvironmentFault(rel, f"{name} needs at least 2 cells, has {values.size}")
    if not np.all(np.isfinite(values)):
        raise EnvironmentFault(rel, f"{name} coordinates contain NaN")
    diffs = np.diff(values)
    step = float(np.median(diffs))
    if step == 0 or not (np.all(diffs > 0) or np.all(diffs < 0)):
        raise EnvironmentFault(rel, f"{name} is neither ascending nor descending")
    if np.max(np.abs(diffs - step)) > SPACING_TOLERANCE * abs(step):
        raise EnvironmentFault(rel, f"{name} is not regularly spaced (steps {diffs.min():g}..{diffs.max():g} m)")
    return _Axis(name, values, step)


def _check_resolution(grid: Grid, axes: Sequence[_Axis], rel: str) -> None:
    for ax in axes:
        res = ax.resolution
        if grid.monthly:
            if abs(res - AIR_QUALITY_RESOLUTION_M) > RESOLUTION_TOLERANCE_M:
                raise EnvironmentFault(rel, f"{ax.name} cell size is {res:g} m, expected 1000 m")
        else:
            lo, hi = NDVI_RESOLUTION_RANGE_M
            if not lo - RESOLUTION_TOLERANCE_M <= res <= hi + RESOLUTION_TOLERANCE_M:
                raise EnvironmentFault(rel, f"{ax.name} cell size is {res:g} m, expected {lo:g}-{hi:g} m")


def _time_parts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(year, month, day) of decoded time values, numpy datetime64 or cftime objects alike."""
    if np.issubdtype(values.dtype, np.datetime64):
        days = values.astype("datetime64[D]")
        months = values.astype("datetime64[M]")
        years = values.astype("datetime64[Y]")
        return (years.astype(int) + 1970, months.astype(int) % 12 + 1,
                (days - months.astype("datetime64[D]")).astype(int) + 1)
    if values.dtype == object and values.size and hasattr(values.flat[0], "month"):
        return (np.array([v.year for v in values.flat]), np.array([v.month for v in values.flat]),
                np.array([v.day for v in values.flat]))
    raise TypeError("not decoded times")


def _check_time(ds: xr.Dataset, year: int, rel: str) -> np.ndarray:
    """The time axis of a monthly grid: 12 stamps, the 1st of each month of the file's year. Returns
    the month (1..12) of each time step in stored order."""
    if "time" not in ds.coords:
        raise EnvironmentFault(rel, "dimension time has no coordinate values")
    values = np.asarray(ds["time"].values)
    if values.size != 12:
        raise EnvironmentFault(rel, f"time has {values.size} steps, expected 12 monthly means")
    try:
        years, months, days = _time_parts(values)
    except TypeError:
        units = ds["time"].attrs.get("units")
        raise EnvironmentFault(rel, f"time cannot be decoded as CF time (units {units!r})") from None
    if np.any(years != year):
        raise EnvironmentFault(rel, f"time stamps fall in {sorted(set(years.tolist()))}, expected {year} (from the file name)")
    if np.any(days != 1):
        raise EnvironmentFault(rel, "monthly means must be stamped on the 1st of the month")
    if sorted(months.tolist()) != list(range(1, 13)):
        raise EnvironmentFault(rel, f"time stamps are not one per month: months {months.tolist()}")
    return months


def _canonical_units(value: Any) -> str:
    text = str(value).strip().lower().replace("µ", "u").replace("μ", "u").replace("³", "3")
    return re.sub(r"\s+", "", text)


def _check_units(grid: Grid, attrs: dict[str, Any], rel: str) -> str | None:
    """A different unit (ppb, mg/m3) is a contract breach that sampling would silently propagate;
    absent units are accepted (the contract fixes them)."""
    if "units" not in attrs:
        return None
    units = str(attrs["units"])
    canonical = _canonical_units(units)
    accepted = _DIMENSIONLESS if grid.units == "1" else _UG_M3
    if canonical not in accepted:
        expected = "dimensionless" if grid.units == "1" else "µg/m³"
        raise EnvironmentFault(rel, f"units are {units!r}, expected {expected}")
    return units


@dataclass
class _Opened:
    """The structural facts of a grid file that passed the structural checks."""

    ds: xr.Dataset
    rel: str
    year: int
    x: _Axis
    y: _Axis
    months: np.ndarray | None
    crs: str
    units: str | None


def _inspect(path: Path, grid: Grid, raw_root: Path | None) -> _Opened:
    """Open a grid and check everything but its values. The caller closes `.ds`."""
    rel = _relative(path, raw_root)
    year = grid_year(path, grid)
    if year is None:
        raise EnvironmentFault(rel, f"file name does not follow {grid.prefix}YYYY.nc")
    ds = _open(path, rel)
    try:
        if grid.variable not in ds.data_vars:
            raise EnvironmentFault(rel, f"variable {grid.variable!r} missing (variables: {sorted(map(str, ds.data_vars))})")
        da = ds[grid.variable]
        expected = MONTHLY_DIMS if grid.monthly else ANNUAL_DIMS
        if tuple(da.dims) != expected:
            raise EnvironmentFault(rel, f"dims are ({', '.join(map(str, da.dims))}), expected ({', '.join(expected)})")
        months = _check_time(ds, year, rel) if grid.monthly else None
        crs = _check_crs(ds, grid.variable, rel)
        x, y = _axis(ds, "x", rel), _axis(ds, "y", rel)
        _check_resolution(grid, (x, y), rel)
        units = _check_units(grid, da.attrs, rel)
        return _Opened(ds, rel, year, x, y, months, crs, units)
    except BaseException:
        ds.close()
        raise


# ---------------------------------------------------------------------------------------- values
def _cell_index(values: np.ndarray, axis_values: np.ndarray) -> np.ndarray:
    """Nearest cell along a regular axis by arithmetic, for either direction; -1 outside the grid."""
    start = float(axis_values[0])
    step = float((axis_values[-1] - axis_values[0]) / (axis_values.size - 1)) if axis_values.size > 1 else 1.0
    with np.errstate(invalid="ignore"):
        idx = np.floor((np.asarray(values, dtype="float64") - start) / step + 0.5)
    inside = np.isfinite(idx) & (idx >= 0) & (idx < axis_values.size)
    return np.where(inside, idx, -1).astype(np.int64)


def _land_xy(land_points: pl.DataFrame | None) -> tuple[np.ndarray, np.ndarray] | None:
    if land_points is None:
        return None
    pts = land_points.select(pl.col("easting").cast(pl.Float64), pl.col("northing").cast(pl.Float64)).drop_nulls()
    return pts["easting"].to_numpy(), pts["northing"].to_numpy()


def validate_grid(path: Path, grid: Grid, land_points: pl.DataFrame | None, raw_root: Path) -> GridReport:
    """Check one grid file against the contract; raise `EnvironmentFault` on a breach.

    Values are read one time step at a time. A few cells outside the physical range (`grid.bounds`)
    are tolerated (counted here, set to NaN by `normalise_grid`); more than 1% of the non-NaN cells
    is a fault. With `land_points` (the reference postcodes' easting/northing), at least 99.5% must
    fall inside the grid on a cell that is valid in every time step: a grid that misses the land
    would give missing exposures for whole areas.
    """
    opened = _inspect(Path(path), grid, raw_root)
    ds, rel = opened.ds, opened.rel
    try:
        da = ds[grid.variable]
        lo, hi = grid.bounds
        land = _land_xy(land_points)
        if land is not None:
            ix, iy = _cell_index(land[0], opened.x.values), _cell_index(land[1], opened.y.values)
            inside = (ix >= 0) & (iy >= 0)
            covered = inside.copy()
        n_time = da.sizes.get("time", 1)
        total = nan = out = valid = 0
        vsum, vmin, vmax = 0.0, math.inf, -math.inf
        for t in range(n_time):
            raw = np.asarray((da.isel(time=t) if grid.monthly else da).values, dtype="float64")
            is_nan = np.isnan(raw)
            bad = ~is_nan & ~((raw >= lo) & (raw <= hi))  # inf counts as out of range
            good = ~is_nan & ~bad
            total += raw.size
            nan += int(is_nan.sum())
            out += int(bad.sum())
            n_good = int(good.sum())
            if n_good:
                vals = raw[good]
                valid += n_good
                vsum += float(vals.sum())
                vmin, vmax = min(vmin, float(vals.min())), max(vmax, float(vals.max()))
            if land is not None:
                covered[inside] &= good[iy[inside], ix[inside]]
        non_nan = total - nan
        if non_nan == 0:
            raise EnvironmentFault(rel, f"{grid.variable} holds no values (all NaN)")
        if out > MAX_OUT_OF_RANGE_SHARE * non_nan:
            raise EnvironmentFault(
                rel, f"{out} of {non_nan} values ({out / non_nan:.1%}) outside the physical range "
                f"{lo:g}..{hi:g} {grid.units}")
        coverage = None
        n_land = None
        if land is not None and land[0].size:
            n_land = int(land[0].size)
            coverage = float(covered.mean())
            if coverage < MIN_LAND_COVERAGE:
                raise EnvironmentFault(
                    rel, f"grid does not cover England's land: {1 - coverage:.1%} of postcodes fall "
                    "outside or on NaN cells")
        xmin, xmax = opened.x.edges
        ymin, ymax = opened.y.edges
        return GridReport(
            file=rel, grid=grid.name, year=opened.year, variable=grid.variable,
            file_format=_file_format(path), dims=tuple(map(str, da.dims)), shape=tuple(int(s) for s in da.shape),
            resolution_m=(opened.x.resolution, opened.y.resolution), bounds=(xmin, ymin, xmax, ymax),
            x_ascending=opened.x.ascending, y_ascending=opened.y.ascending, crs=opened.crs, units=opened.units,
            value_min=vmin if valid else math.nan, value_mean=vsum / valid if valid else math.nan,
            value_max=vmax if valid else math.nan, nan_share=nan / total, cells_out_of_range=out,
            land_points=n_land, land_coverage=coverage,
        )
    finally:
        ds.close()


# ------------------------------------------------------------------------------------ normalising
def _canonical_crs_attrs() -> dict[str, Any]:
    import pyproj

    crs = pyproj.CRS.from_epsg(CRS_EPSG)
    attrs = crs.to_cf()
    attrs["spatial_ref"] = attrs["crs_wkt"]
    attrs["epsg_code"] = f"EPSG:{CRS_EPSG}"
    return attrs


def normalise_grid(path: Path, grid: Grid, out_path: Path, raw_root: Path | None = None) -> Path:
    """Write a normalised copy: ascending x, y (and time), float32, out-of-range values set to NaN,
    the canonical CF CRS in `spatial_ref`. Raises `EnvironmentFault` if the structure is broken, so a
    normalised file always satisfies what `sample_grid` assumes. Returns `out_path`."""
    opened = _inspect(Path(path), grid, raw_root)
    ds = opened.ds
    try:
        lo, hi = grid.bounds
        da = ds[grid.variable].load().astype("float32")
        da = da.where((da >= lo) & (da <= hi))  # out of range (and inf) -> NaN
        da = da.sortby(["y", "x"] + (["time"] if grid.monthly else []))
        da = da.assign_coords(x=da["x"].astype("float64"), y=da["y"].astype("float64"))
        da.attrs = {
            "units": grid.units,
            "long_name": grid.description,
            "grid_mapping": NORMALISED_CRS_VARIABLE,
        }
        da["x"].attrs = {"standard_name": "projection_x_coordinate", "long_name": "easting", "units": "m", "axis": "X"}
        da["y"].attrs = {"standard_name": "projection_y_coordinate", "long_name": "northing", "units": "m", "axis": "Y"}
        out = xr.Dataset({grid.variable: da, NORMALISED_CRS_VARIABLE: xr.DataArray(np.int32(0), attrs=_canonical_crs_attrs())})
        out.attrs = {
            "Conventions": "CF-1.8",
            "title": f"{grid.name} {opened.year}, normalised by cohort_platform",
            "source_file": opened.rel,
            "history": f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ} normalised: ascending axes, "
                       f"float32, out-of-range values set to NaN",
        }
        encoding: dict[str, dict[str, Any]] = {
            grid.variable: {"zlib": True, "complevel": 4, "shuffle": True, "_FillValue": np.float32(np.nan),
                            "chunksizes": ((1,) if grid.monthly else ()) + (da.sizes["y"], da.sizes["x"])},
        }
        if grid.monthly:
            encoding["time"] = {"units": f"days since {opened.year}-01-01", "calendar": "standard", "dtype": "int32"}
        out_path = Path(out_path)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = out_path.with_name(out_path.name + ".tmp")
        out.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", encoding=encoding)
        tmp.replace(out_path)  # atomic: a reader never sees half a grid
        return out_path
    finally:
        ds.close()


# -------------------------------------------------------------------------------------- sampling
def _data_array(ds_or_path: xr.Dataset | xr.DataArray | Path | str, variable: str | None) -> xr.DataArray:
    if isinstance(ds_or_path, xr.DataArray):
        return ds_or_path
    if isinstance(ds_or_path, (str, Path)):
        with xr.open_dataset(ds_or_path, engine="netcdf4") as ds:
            return _data_array(ds, variable).load()
    if variable is not None:
        return ds_or_path[variable]
    gridded = [n for n, v in ds_or_path.data_vars.items() if {"x", "y"} <= set(v.dims)]
    if len(gridded) != 1:
        raise ValueError(f"cannot tell which variable to sample among {gridded}; pass variable=")
    return ds_or_path[gridded[0]]


def _month_keys(values: Any) -> np.ndarray:
    """year * 12 + month - 1 of dates/datetimes/datetime64/cftime values."""
    arr = np.asarray(values)
    if arr.dtype == object and arr.size and hasattr(arr.flat[0], "month") and not isinstance(arr.flat[0], dt.date):
        years, months, _ = _time_parts(arr)
    else:
        months64 = arr.astype("datetime64[M]")
        valid = ~np.isnat(months64)
        keys = np.full(arr.shape, -1, dtype=np.int64)
        keys[valid] = months64[valid].astype(np.int64) + 1970 * 12
        return keys
    return years * 12 + months - 1


def sample_grid(
    ds_or_path: xr.Dataset | xr.DataArray | Path | str,
    eastings: Iterable[float],
    northings: Iterable[float],
    times: Iterable[Any] | None = None,
    variable: str | None = None,
) -> np.ndarray:
    """Value of the cell each point falls in (nearest cell centre), NaN outside the grid.

    Cells are found by arithmetic on the regular axes (either direction), not by search, so a million
    points cost one gather. Returns shape (n,) for a (y, x) grid; for a (time, y, x) grid shape (n, T)
    when `times` is None, else shape (n,) with each point's value in the month of its time (NaN if the
    grid has no such month).
    """
    da = _data_array(ds_or_path, variable)
    e = np.atleast_1d(np.asarray(eastings if hasattr(eastings, "__len__") else list(eastings), dtype="float64"))
    n = np.atleast_1d(np.asarray(northings if hasattr(northings, "__len__") else list(northings), dtype="float64"))
    if e.shape != n.shape:
        raise ValueError(f"eastings and northings differ in shape: {e.shape} vs {n.shape}")
    ix = _cell_index(e, np.asarray(da["x"].values, dtype="float64"))
    iy = _cell_index(n, np.asarray(da["y"].values, dtype="float64"))
    inside = (ix >= 0) & (iy >= 0)
    order = [d for d in ("time", "y", "x") if d in da.dims]
    values = np.asarray(da.transpose(*order).values, dtype="float64")
    if "time" not in da.dims:
        out = np.full(e.shape, np.nan)
        out[inside] = values[iy[inside], ix[inside]]
        return out
    if times is None:
        out = np.full(e.shape + (values.shape[0],), np.nan)
        out[inside] = values[:, iy[inside], ix[inside]].T
        return out
    grid_keys = _month_keys(da["time"].values)
    point_keys = np.broadcast_to(_month_keys(times), e.shape)
    sorter = np.argsort(grid_keys)
    pos = np.clip(np.searchsorted(grid_keys, point_keys, sorter=sorter), 0, grid_keys.size - 1)
    it = sorter[pos]
    matched = inside & (grid_keys[it] == point_keys)
    out = np.full(e.shape, np.nan)
    out[matched] = values[it[matched], iy[matched], ix[matched]]
    return out


# ------------------------------------------------------------------------------------------ roads
def _load_roads(path: Path, raw_root: Path | None):
    """Read and check the roads layer; return (cleaned GeoDataFrame, RoadsReport)."""
    import pyogrio
    import geopandas as gpd

    path = Path(path)
    rel = _relative(path, raw_root)
    if not path.is_file():
        raise EnvironmentFault(rel, "file not found")
    try:
        layers = [str(name) for name in pyogrio.list_layers(path)[:, 0]]
    except Exception as exc:  # noqa: BLE001
        raise EnvironmentFault(rel, f"cannot be opened as a GeoPackage ({exc})") from None
    if ROADS_LAYER not in layers:
        raise EnvironmentFault(rel, f"layer {ROADS_LAYER!r} missing (layers: {layers})")
    gdf = gpd.read_file(path, layer=ROADS_LAYER, engine="pyogrio")
    if gdf.crs is None:
        raise EnvironmentFault(rel, "no CRS")
    epsg = gdf.crs.to_epsg() or gdf.crs.to_epsg(min_confidence=50)
    if epsg != CRS_EPSG:
        label = f"EPSG:{epsg}" if epsg else repr(gdf.crs.name)
        raise EnvironmentFault(rel, f"CRS is {label}, expected EPSG:{CRS_EPSG}")
    for column in ("road_class", "road_number"):
        if column not in gdf.columns:
            raise EnvironmentFault(rel, f"column {column!r} missing")
    n_read = len(gdf)
    null_geom = gdf.geometry.isna() | gdf.geometry.is_empty
    gdf = gdf[~null_geom]
    kinds = set(gdf.geometry.geom_type.unique()) - {"LineString", "MultiLineString"}
    if kinds:
        raise EnvironmentFault(rel, f"geometries must be LineString or MultiLineString, found {sorted(kinds)}")
    classes = gdf["road_class"].astype("string").str.strip()
    keep = classes.isin(ROAD_CLASSES).fillna(False).to_numpy(dtype=bool)
    dropped = classes[~keep].fillna("<missing>").value_counts()
    gdf = gdf[keep].assign(road_class=classes[keep].astype(str))
    if len(gdf):
        xmin, ymin, xmax, ymax = (float(v) for v in gdf.total_bounds)
        bx0, by0, bx1, by1 = BNG_EXTENT
        if xmin < bx0 or ymin < by0 or xmax > bx1 or ymax > by1:
            raise EnvironmentFault(rel, f"coordinates ({xmin:.6g}, {ymin:.6g})..({xmax:.6g}, {ymax:.6g}) lie "
                                   "outside the British National Grid: the CRS label is wrong")
    else:
        xmin = ymin = xmax = ymax = math.nan
    number = gdf["road_number"].astype("string").str.strip()
    missing_number = int((number.isna() | (number == "")).sum())
    length_km = (gdf.geometry.length / 1000).groupby(gdf["road_class"]).sum()
    report = RoadsReport(
        file=rel, layer=ROADS_LAYER, crs=f"EPSG:{epsg}", features_read=n_read, features_kept=len(gdf),
        kept_by_class={c: int((gdf["road_class"] == c).sum()) for c in ROAD_CLASSES},
        dropped_other_class=int(dropped.sum()), dropped_classes={str(k): int(v) for k, v in dropped.items()},
        dropped_null_geometry=int(null_geom.sum()), missing_road_number=missing_number,
        length_km_by_class={c: round(float(length_km.get(c, 0.0)), 3) for c in ROAD_CLASSES},
        bounds=(xmin, ymin, xmax, ymax),
    )
    return gdf.reset_index(drop=True), report


def validate_roads(path: Path, raw_root: Path) -> RoadsReport:
    """Check the major roads file: layer `roads`, CRS EPSG:27700 (another CRS is a fault, never
    reprojected silently), LineString/MultiLineString geometry, road_class and road_number columns.
    Classes other than Motorway and A Road are counted and dropped; null geometries likewise."""
    return _load_roads(path, raw_root)[1]


def read_roads(path: Path, raw_root: Path | None = None):
    """The validated major roads as a GeoDataFrame (EPSG:27700; Motorway and A Road only)."""
    return _load_roads(path, raw_root)[0]


# ----------------------------------------------------------------------------------------- maps
def _figure(size_px: int):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    dpi = 100
    fig = Figure(figsize=(size_px / dpi, size_px / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _draw_roads(ax, roads) -> None:
    import shapely
    from matplotlib.collections import LineCollection

    styles = {"Motorway": ("#1f4e9e", 1.6), "A Road": ("#3a8d3a", 0.7)}
    for road_class, (colour, width) in styles.items():
        geoms = roads.geometry[roads["road_class"] == road_class].to_numpy()
        parts = shapely.get_parts(geoms)
        if not len(parts):
            continue
        coords, index = shapely.get_coordinates(parts, return_index=True)
        splits = np.flatnonzero(np.diff(index)) + 1
        segments = [c / 1000 for c in np.split(coords, splits)]
        ax.add_collection(LineCollection(segments, colors=colour, linewidths=width, label=road_class))


def render_grid_png(
    source: xr.Dataset | xr.DataArray | Path | str,
    grid: Grid,
    month: int | None = None,
    roads: Any | None = None,
    size_px: int = 420,
) -> bytes:
    """A small PNG map of a grid: one month (1..12) of a monthly grid, or its annual mean (month=None);
    optionally with the roads drawn on top. Axes in km of British National Grid."""
    da = _data_array(source, grid.variable if not isinstance(source, xr.DataArray) else None)
    if "time" in da.dims:
        if month is None:
            da, label = da.mean("time", skipna=True), "annual mean"
        else:
            steps = np.flatnonzero(_month_keys(da["time"].values) % 12 + 1 == month)
            if not steps.size:
                raise ValueError(f"month {month} is not in the grid")
            da, label = da.isel(time=int(steps[0])), f"month {month:02d}"
    else:
        if month is not None:
            raise ValueError(f"{grid.name} is an annual grid: it has no month {month}")
        label = "annual"
    da = da.sortby(["y", "x"])
    x, y = np.asarray(da["x"].values) / 1000, np.asarray(da["y"].values) / 1000
    dx, dy = (x[1] - x[0]) / 2 if x.size > 1 else 0.5, (y[1] - y[0]) / 2 if y.size > 1 else 0.5
    fig = _figure(size_px)
    ax = fig.add_subplot()
    cmap = "YlGn" if grid.name == "ndvi" else "magma_r"
    img = ax.imshow(np.asarray(da.values, dtype="float64"), origin="lower", cmap=cmap,
                    extent=(x[0] - dx, x[-1] + dx, y[0] - dy, y[-1] + dy), interpolation="nearest")
    fig.colorbar(img, ax=ax, shrink=0.8, label=grid.units)
    if roads is not None and len(roads):
        _draw_roads(ax, roads)
    ax.set_title(f"{grid.name} ({label})", fontsize=10)
    ax.set_xlabel("easting (km)", fontsize=8)
    ax.set_ylabel("northing (km)", fontsize=8)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    return _png(fig)


def render_roads_png(roads: Any, size_px: int = 420) -> bytes:
    """A small PNG map of the major roads (motorways blue, A roads green), axes in km."""
    fig = _figure(size_px)
    ax = fig.add_subplot()
    _draw_roads(ax, roads)
    if len(roads):
        xmin, ymin, xmax, ymax = np.asarray(roads.total_bounds) / 1000
        ax.set_xlim(xmin, xmax)
        ax.set_ylim(ymin, ymax)
        ax.legend(fontsize=7, loc="upper right")
    ax.set_aspect("equal")
    ax.set_title(f"major roads ({len(roads)} features)", fontsize=10)
    ax.set_xlabel("easting (km)", fontsize=8)
    ax.set_ylabel("northing (km)", fontsize=8)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    return _png(fig)


def png_markdown(png: bytes, alt: str = "map") -> str:
    """Inline a PNG in Markdown (for `dagster.MetadataValue.md`)."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"

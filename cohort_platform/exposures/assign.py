"""Exposures per child and calendar year (at home, at school) and per pregnancy trimester. Dagster-free.

The method, in three steps, all vectorised:

1. Locations. Every distinct postcode of a residential spell and every school URN becomes one
   location with British National Grid coordinates (reference postcodes and schools); a postcode or
   URN missing from the reference has no coordinates and so no exposure.
2. Values. `sampling.sample_locations` reads each grid file once for all locations: monthly NO2 and
   PM2.5, annual NDVI averaged over a 300 m disc, distances to the nearest major road and motorway.
3. Location-months. Each child's spells are expanded to months; a month weighs the days of it the
   child was alive and before the cut-off (the birth month counts from the birth, the death month
   up to the death). Exposure means are sums of days x value over days with a value: time-weighted
   across calendar months and across moves. At school the months are the term months (September to
   July) of each academic year with a spring census record at that school; in pregnancy the days of
   each trimester in each calendar month at the mother's address that month.

A mean uses only days with a value. Each exposure comes with `<exposure>_days`, the days it rests
on, beside `days`, the days in the period: a year whose grid is missing has no value (0 days), it is
never filled from another year.

Pregnancy: gestation is the births record's `gestation_weeks` (40 where missing, flagged
`gestation_assumed`); the last menstrual period is dob - gestation, conception two weeks later.
Trimesters follow gestational age: T1 from conception to the end of week 13 (day 98), T2 weeks 14-27
(to day 196), T3 from week 28 to the day before the birth; `all` is conception to birth. A trimester
the pregnancy did not reach has no row. NO2 and PM2.5 use the mother's monthly addresses; NDVI and
road distances the birth address (the mother's address in the birth month), NDVI time-weighted
across the calendar years the period spans.

Outputs are keyed by person_id and year (home, school) or person_id and trimester (pregnancy) and
carry no coordinates, postcodes or dates.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from cohort_platform.contract.datasets import GRIDS
from cohort_platform.exposures.histories import month_key
from cohort_platform.exposures.sampling import EXPOSURES, GridSource, LocationValues, sample_locations

TERM_MONTHS = (9, 10, 11, 12, 1, 2, 3, 4, 5, 6, 7)
"""September to July: the months of an academic year the child is at school (August is holiday)."""
DEFAULT_GESTATION_WEEKS = 40
CONCEPTION_AFTER_LMP_DAYS = 14
TRIMESTER_BOUNDS_DAYS = (98, 196)
"""Gestational age (days since the last menstrual period) at which trimesters 2 and 3 begin."""
TRIMESTERS = ("T1", "T2", "T3", "all")
CHUNK_CHILDREN = 100_000
"""Children expanded to months at once: bounds memory (about 200 months a child)."""


@dataclass(frozen=True)
class Environment:
    """The environmental inputs: grid files by year (paths, Datasets or DataArrays) and the roads."""

    no2: Mapping[int, GridSource] = field(default_factory=dict)
    pm25: Mapping[int, GridSource] = field(default_factory=dict)
    ndvi: Mapping[int, GridSource] = field(default_factory=dict)
    roads: Any = None

    @classmethod
    def from_folder(cls, root: Path) -> "Environment":
        """Files laid out as the contract says (`air_quality/`, `greenspace/`, `roads/`) under `root`:
        the raw root or the folder of normalised copies. Roads are read and checked with `read_roads`."""
        from cohort_platform.ingest.environment import discover, grid_year, read_roads

        found = discover(Path(root))
        grids = {name: {grid_year(p, GRIDS[name]): p for p in found[name]} for name in GRIDS}
        roads = read_roads(found["roads"][0]) if found["roads"] else None
        return cls(no2=grids["no2"], pm25=grids["pm25"], ndvi=grids["ndvi"], roads=roads)


@dataclass
class Exposures:
    home: pl.DataFrame
    school: pl.DataFrame
    pregnancy: pl.DataFrame
    locations: int = 0
    points_sampled: int = 0
    location_months: int = 0

    @property
    def yearly(self) -> pl.DataFrame:
        """Home and school side by side per child and year (columns suffixed _home and _school)."""
        return yearly_exposures(self.home, self.school)


# ------------------------------------------------------------------------------------- day arithmetic


def _days(dates: pl.Series) -> np.ndarray:
    """Days since 1970-01-01 (int64); nulls become a large sentinel (use with care)."""
    return dates.cast(pl.Date).cast(pl.Int64).fill_null(np.iinfo(np.int32).max).to_numpy()


_TABLE_FIRST_MONTH = 1900 * 12
_MONTH_FIRST_DAYS = (np.arange(_TABLE_FIRST_MONTH, 2201 * 12) - 1970 * 12).astype("datetime64[M]") \
    .astype("datetime64[D]").astype(np.int64)


def month_first_day(mk: np.ndarray) -> np.ndarray:
    """Days since 1970 of the first day of month key `mk` (year * 12 + month - 1), 1900-2200, by table
    lookup (datetime64 conversions of millions of rows cost seconds)."""
    return _MONTH_FIRST_DAYS.take(np.asarray(mk, dtype=np.int64) - _TABLE_FIRST_MONTH)


def overlap_days(mk: np.ndarray, start_day: np.ndarray, end_day_exclusive: np.ndarray) -> np.ndarray:
    """Days of month `mk` inside [start_day, end_day_exclusive)."""
    first, nxt = month_first_day(mk), month_first_day(np.asarray(mk) + 1)
    return np.clip(np.minimum(nxt, end_day_exclusive) - np.maximum(first, start_day), 0, None)


# ------------------------------------------------------------------------------------ location-months
@dataclass
class LocationMonths:
    """Rows of (unit, year, month, location, days): the days of a calendar month a unit (a child-year,
    a pregnancy period) spent at a location. `static_loc` is the location for NDVI and road distance
    when it differs from `loc` (pregnancy: the birth address)."""

    unit: np.ndarray
    year: np.ndarray
    month: np.ndarray
    loc: np.ndarray
    days: np.ndarray
    static_loc: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.unit.size)


def summarise(rows: LocationMonths, values: LocationValues, n_units: int) -> dict[str, np.ndarray]:
    """Per unit: days, and for each exposure the time-weighted mean over days with a value (NaN if
    none) and those days (`<exposure>_days`). Sums are `np.bincount`s: no loop over rows."""
    days = rows.days.astype(np.float64)
    out = {"days": np.bincount(rows.unit, weights=days, minlength=n_units)}
    looked_up = values.lookup(rows.loc, rows.year, rows.month, rows.static_loc)
    for exposure in EXPOSURES:
        v = looked_up.pop(exposure)
        ok = np.isfinite(v)
        covered = np.bincount(rows.unit, weights=np.where(ok, days, 0.0), minlength=n_units)
        total = np.bincount(rows.unit, weights=np.where(ok, v * days, 0.0), minlength=n_units)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[exposure] = np.where(covered > 0, total / np.maximum(covered, 1e-12), np.nan)
        out[f"{exposure}_days"] = covered
    return out


def _expand(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ranges [start, end] (inclusive), (range index, value) of every member: np.repeat, no loop."""
    lengths = np.maximum(ends - starts + 1, 0)
    which = np.repeat(np.arange(starts.size), lengths)
    offsets = np.arange(which.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return which, starts[which] + offsets


# ------------------------------------------------------------------------------------------ inputs
def _children_frame(children: pl.DataFrame, cutoff: dt.date) -> pl.DataFrame:
    """Children with an index and, as day numbers, birth and end of follow-up (exclusive)."""
    c = children.filter(pl.col("dob") <= cutoff).sort("person_id").with_row_index("p")
    dod = c["dod"] if "dod" in c.columns else pl.Series([None] * c.height, dtype=pl.Date)
    end = np.minimum(_days(dod), _days(pl.Series([cutoff]))[0]) + 1  # death day and cut-off day included
    gest = (c["gestation_weeks"] if "gestation_weeks" in c.columns else pl.Series([None] * c.height, dtype=pl.Int32))
    return c.with_columns(
        pl.col("p").cast(pl.Int64),
        pl.Series("dob_day", _days(c["dob"])), pl.Series("end_day", end),
        month_key(pl.col("dob")).alias("birth_mk"),
        gest.is_null().alias("gestation_assumed"),
        gest.fill_null(DEFAULT_GESTATION_WEEKS).cast(pl.Int64).alias("gestation"),
    )


def _location_table(spells: pl.DataFrame, enrolments: pl.DataFrame, postcodes: pl.DataFrame,
                    schools: pl.DataFrame) -> pl.DataFrame:
    """kind (postcode, urn), key, loc, easting, northing (NaN where the reference lacks the key)."""
    pcs = spells.select(pl.lit("postcode").alias("kind"), pl.col("postcode").alias("key")).unique()
    urns = enrolments.select(pl.lit("urn").alias("kind"), pl.col("urn").alias("key")).unique()
    coords = pl.concat([
        postcodes.select(pl.lit("postcode").alias("kind"), pl.col("postcode").alias("key"), "easting", "northing"),
        schools.select(pl.lit("urn").alias("kind"), pl.col("urn").cast(pl.String).alias("key"), "easting", "northing"),
    ]).with_columns(pl.col("easting").cast(pl.Float64), pl.col("northing").cast(pl.Float64)).unique(["kind", "key"])
    return (pl.concat([pcs, urns]).sort("kind", "key").with_row_index("loc")
            .with_columns(pl.col("loc").cast(pl.Int64))
            .join(coords, on=["kind", "key"], how="left")
            .with_columns(pl.col("easting").fill_null(np.nan), pl.col("northing").fill_null(np.nan)))


def _attach(frame: pl.DataFrame, locations: pl.DataFrame, kind: str, column: str) -> pl.DataFrame:
    keys = locations.filter(pl.col("kind") == kind).select(pl.col("key").alias(column), "loc")
    return frame.join(keys, on=column, how="left").with_columns(pl.col("loc").fill_null(-1))


# ------------------------------------------------------------------------------------- row builders
def _spell_months(spells: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """First and last month keys of each spell."""
    keys = spells.select(month_key(pl.col("start_month")).alias("s"), month_key(pl.col("end_month")).alias("e"))
    return keys["s"].to_numpy().astype(np.int64), keys["e"].to_numpy().astype(np.int64)


def home_rows(spells: pl.DataFrame, kids: pl.DataFrame, first_year: int, n_years: int) -> LocationMonths:
    """Child spells (with p, loc) to location-months; unit = p * n_years + (year - first_year)."""
    s = spells.join(kids.select("person_id", "p", "dob_day", "end_day"), on="person_id", how="inner")
    which, mk = _expand(*_spell_months(s))
    p = s["p"].to_numpy()[which]
    days = overlap_days(mk, s["dob_day"].to_numpy()[which], s["end_day"].to_numpy()[which])
    keep = days > 0
    year = mk[keep] // 12
    return LocationMonths(unit=p[keep] * n_years + (year - first_year), year=year, month=mk[keep] % 12 + 1,
                          loc=s["loc"].to_numpy()[which][keep], days=days[keep])


def school_rows(enrolments: pl.DataFrame, kids: pl.DataFrame, first_year: int, n_years: int) -> LocationMonths:
    """Term months (September to July) of each enrolment, limited to the child's life and the cut-off."""
    e = enrolments.join(kids.select("person_id", "p", "dob_day", "end_day"), on="person_id", how="inner")
    ay = e["academic_year"].to_numpy().astype(np.int64)
    which, mk = _expand(ay * 12 + 8, (ay + 1) * 12 + 6)  # September of the year .. July of the next
    p = e["p"].to_numpy()[which]
    days = overlap_days(mk, e["dob_day"].to_numpy()[which], e["end_day"].to_numpy()[which])
    keep = days > 0
    year = mk[keep] // 12
    return LocationMonths(unit=p[keep] * n_years + (year - first_year), year=year, month=mk[keep] % 12 + 1,
                          loc=e["loc"].to_numpy()[which][keep], days=days[keep])


def pregnancy_periods(kids: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(start, end exclusive) day numbers of T1, T2, T3 and the whole pregnancy: arrays (n, 4)."""
    dob = kids["dob_day"].to_numpy()
    lmp = dob - 7 * kids["gestation"].to_numpy()
    conception = lmp + CONCEPTION_AFTER_LMP_DAYS
    t2, t3 = lmp + TRIMESTER_BOUNDS_DAYS[0], lmp + TRIMESTER_BOUNDS_DAYS[1]
    starts = np.stack([conception, np.maximum(t2, conception), np.maximum(t3, conception), conception], axis=1)
    ends = np.stack([np.minimum(t2, dob), np.minimum(t3, dob), dob, dob], axis=1)
    return starts, np.maximum(ends, starts)


def mother_months(spells: pl.DataFrame, kids: pl.DataFrame, months_before: int = 12) -> np.ndarray:
    """Location of the mother in each month from `months_before` before the birth month to the birth
    month: int64 (n, months_before + 1), -1 where unknown."""
    out = np.full((kids.height, months_before + 1), -1, dtype=np.int64)
    s = spells.join(kids.select("person_id", "p", "birth_mk"), on="person_id", how="inner")
    if s.height == 0:
        return out
    which, mk = _expand(*_spell_months(s))
    offset = mk - (s["birth_mk"].to_numpy()[which] - months_before)
    ok = (offset >= 0) & (offset <= months_before)
    out[s["p"].to_numpy()[which][ok], offset[ok]] = s["loc"].to_numpy()[which][ok]
    return out


def pregnancy_rows(kids: pl.DataFrame, mother_loc: np.ndarray) -> LocationMonths:
    """Days of each pregnancy period in each calendar month at the mother's address that month (NO2,
    PM2.5) and at the birth address (NDVI, roads); unit = p * 4 + period."""
    starts, ends = pregnancy_periods(kids)
    n = kids.height
    months_before = mother_loc.shape[1] - 1
    birth_mk = kids["birth_mk"].to_numpy().astype(np.int64)
    first_mk = birth_mk - months_before
    # every (child, period, month of the window); most are empty and dropped
    p = np.repeat(np.arange(n), 4 * (months_before + 1))
    period = np.tile(np.repeat(np.arange(4), months_before + 1), n)
    offset = np.tile(np.arange(months_before + 1), 4 * n)
    mk = first_mk[p] + offset
    days = overlap_days(mk, starts[p, period], ends[p, period])
    keep = days > 0
    p, period, offset, mk, days = p[keep], period[keep], offset[keep], mk[keep], days[keep]
    return LocationMonths(unit=p * 4 + period, year=mk // 12, month=mk % 12 + 1, loc=mother_loc[p, offset],
                          days=days, static_loc=mother_loc[p, months_before])


# ------------------------------------------------------------------------------------------ outputs
def _frame(stats: dict[str, np.ndarray], keys: dict[str, Any], keep: np.ndarray) -> pl.DataFrame:
    cols: dict[str, Any] = {k: v for k, v in keys.items()}
    cols["days"] = pl.Series(stats["days"][keep]).cast(pl.Int32)
    for exposure in EXPOSURES:
        cols[exposure] = pl.Series(stats[exposure][keep].astype(np.float32)).fill_nan(None)
        cols[f"{exposure}_days"] = pl.Series(stats[f"{exposure}_days"][keep]).cast(pl.Int32)
    return pl.DataFrame(cols)


def _yearly_frame(rows: LocationMonths, values: LocationValues, ids: np.ndarray, first_year: int,
                  n_years: int) -> pl.DataFrame:
    n_units = ids.size * n_years
    stats = summarise(rows, values, n_units)
    keep = np.flatnonzero(stats["days"] > 0)
    return _frame(stats, {"person_id": pl.Series(ids[keep // n_years], dtype=pl.String),
                          "year": pl.Series((keep % n_years + first_year).astype(np.int32))}, keep)


def empty_yearly() -> pl.DataFrame:
    schema: dict[str, pl.DataType] = {"person_id": pl.String(), "year": pl.Int32(), "days": pl.Int32()}
    for exposure in EXPOSURES:
        schema[exposure], schema[f"{exposure}_days"] = pl.Float32(), pl.Int32()
    return pl.DataFrame(schema=schema)


def assign_exposures(spells: pl.DataFrame, children: pl.DataFrame, enrolments: pl.DataFrame,
                     postcodes: pl.DataFrame, schools: pl.DataFrame, environment: Environment, cutoff: dt.date,
                     chunk_children: int = CHUNK_CHILDREN, mother_window_months: int = 12,
                     timings: dict[str, float] | None = None) -> Exposures:
    """Home and school exposures per child and year, pregnancy exposures per child and trimester.

    spells: `residential_spells` (children and mothers); children: person_id, dob, gestation_weeks,
    dod (`cohort_children`); enrolments: person_id, academic_year, urn (`school_enrolments`);
    postcodes, schools: the reference tables (postcode / urn, easting, northing). `timings`, when
    given, receives the seconds of each stage (locations, sample_locations, location_months).
    """
    clock = _Clock(timings)
    kids = _children_frame(children, cutoff)
    if kids.height == 0:
        empty = empty_yearly()
        return Exposures(empty, empty, _empty_pregnancy())
    locations = _location_table(spells, enrolments, postcodes, schools)
    clock.lap("locations")
    first_year = int(kids["dob"].dt.year().min()) - 1  # pregnancies start in the year before the birth
    last_year = cutoff.year
    n_years = last_year - first_year + 1
    values = sample_locations(locations["easting"].to_numpy(), locations["northing"].to_numpy(),
                              list(range(first_year, last_year + 1)), environment.no2, environment.pm25,
                              environment.ndvi, environment.roads)
    clock.lap("sample_locations")

    child_spells = _attach(spells.filter(pl.col("role") == "child"), locations, "postcode", "postcode")
    mother_spells = _attach(spells.filter(pl.col("role") == "mother"), locations, "postcode", "postcode")
    enrol = _attach(enrolments, locations, "urn", "urn")

    home, school, pregnancy = [], [], []
    location_months = 0
    for a in range(0, kids.height, chunk_children):
        chunk = kids.slice(a, chunk_children).with_columns(pl.col("p") - a)
        ids = chunk["person_id"].to_numpy()
        members = chunk.select("person_id")
        rows = home_rows(child_spells.join(members, on="person_id", how="semi"), chunk, first_year, n_years)
        location_months += len(rows)
        home.append(_yearly_frame(rows, values, ids, first_year, n_years))
        rows = school_rows(enrol.join(members, on="person_id", how="semi"), chunk, first_year, n_years)
        location_months += len(rows)
        school.append(_yearly_frame(rows, values, ids, first_year, n_years))
        mloc = mother_months(mother_spells.join(members, on="person_id", how="semi"), chunk, mother_window_months)
        rows = pregnancy_rows(chunk, mloc)
        location_months += len(rows)
        stats = summarise(rows, values, chunk.height * 4)
        keep = np.flatnonzero(stats["days"] > 0)
        pregnancy.append(_frame(stats, {
            "person_id": pl.Series(ids[keep // 4], dtype=pl.String),
            "trimester": pl.Series(np.asarray(TRIMESTERS)[keep % 4], dtype=pl.String),
            "gestation_assumed": pl.Series(chunk["gestation_assumed"].to_numpy()[keep // 4]),
        }, keep))
    clock.lap("location_months")
    return Exposures(home=pl.concat(home), school=pl.concat(school), pregnancy=pl.concat(pregnancy),
                     locations=locations.height, points_sampled=values.points_sampled,
                     location_months=location_months)


class _Clock:
    def __init__(self, sink: dict[str, float] | None):
        self.sink, self.t = sink, time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        if self.sink is not None:
            self.sink[name] = round(now - self.t, 2)
        self.t = now


def _empty_pregnancy() -> pl.DataFrame:
    y = empty_yearly().drop("year")
    return y.insert_column(1, pl.Series("trimester", [], dtype=pl.String)).insert_column(
        2, pl.Series("gestation_assumed", [], dtype=pl.Boolean))


def yearly_exposures(home: pl.DataFrame, school: pl.DataFrame) -> pl.DataFrame:
    """One row per child and year with home (`_home`) and school (`_school`) exposures side by side."""
    def tag(frame: pl.DataFrame, suffix: str) -> pl.DataFrame:
        return frame.rename({c: f"{c}_{suffix}" for c in frame.columns if c not in ("person_id", "year")})

    return tag(home, "home").join(tag(school, "school"), on=["person_id", "year"], how="full", coalesce=True) \
        .sort("person_id", "year")

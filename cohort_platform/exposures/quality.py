"""Quality of the exposures and of the histories behind them: coverage and range checks. Dagster-free.

- `coverage(exposures)`: per setting (home, school, pregnancy trimester) and exposure, the units
  (child-years, pregnancies), those with a value, the share, and the share of days the values rest on.
- `range_checks(exposures)`: min, mean, max and the count of values outside the physical range
  (`RANGES`); any such value is a fault upstream (a grid in the wrong units, a distance in km).
- `history_summary(spells)`: share of person-months by role, source and basis, so a researcher sees
  how much of the history is observed, carried forward or back-filled, and from which source.
"""

from __future__ import annotations

import polars as pl

from cohort_platform.contract.datasets import GRIDS
from cohort_platform.exposures.sampling import EXPOSURES

MAX_ROAD_DISTANCE_M = 150_000.0
"""No postcode in England is further than this from a motorway (the far south-west is ~110 km)."""
RANGES: dict[str, tuple[float, float]] = {
    "no2": GRIDS["no2"].bounds,
    "pm25": GRIDS["pm25"].bounds,
    "ndvi_300m": GRIDS["ndvi"].bounds,
    "road_m": (0.0, MAX_ROAD_DISTANCE_M),
    "motorway_m": (0.0, MAX_ROAD_DISTANCE_M),
}


def _settings(exposures) -> list[tuple[str, pl.DataFrame]]:
    """(setting label, frame) of home, school and each pregnancy period."""
    out = [("home", exposures.home), ("school", exposures.school)]
    preg = exposures.pregnancy
    for trimester in preg["trimester"].unique(maintain_order=True).sort().to_list():
        out.append((f"pregnancy {trimester}", preg.filter(pl.col("trimester") == trimester)))
    return out


def coverage(exposures) -> pl.DataFrame:
    """setting, exposure, units, with_value, share, days_share (covered days / days in the period)."""
    rows = []
    for setting, frame in _settings(exposures):
        for exposure in EXPOSURES:
            units = frame.height
            with_value = int(frame[exposure].is_not_null().sum()) if units else 0
            days = float(frame["days"].sum()) if units else 0.0
            covered = float(frame[f"{exposure}_days"].sum()) if units else 0.0
            rows.append({"setting": setting, "exposure": exposure, "units": units, "with_value": with_value,
                         "share": with_value / units if units else None, "days_share": covered / days if days else None})
    return pl.DataFrame(rows, schema={"setting": pl.String, "exposure": pl.String, "units": pl.Int64,
                                      "with_value": pl.Int64, "share": pl.Float64, "days_share": pl.Float64})


def range_checks(exposures) -> pl.DataFrame:
    """setting, exposure, values, min, mean, max, lower, upper, out_of_range."""
    rows = []
    for setting, frame in _settings(exposures):
        for exposure in EXPOSURES:
            lo, hi = RANGES[exposure]
            v = frame[exposure].drop_nulls().cast(pl.Float64)
            rows.append({"setting": setting, "exposure": exposure, "values": v.len(),
                         "min": v.min(), "mean": v.mean(), "max": v.max(), "lower": lo, "upper": hi,
                         "out_of_range": int(((v < lo) | (v > hi)).sum()) + int(v.is_nan().sum())})
    return pl.DataFrame(rows, schema={"setting": pl.String, "exposure": pl.String, "values": pl.Int64,
                                      "min": pl.Float64, "mean": pl.Float64, "max": pl.Float64, "lower": pl.Float64,
                                      "upper": pl.Float64, "out_of_range": pl.Int64})


def range_problems(exposures) -> list[str]:
    """Human-readable breaches of `range_checks` (empty when every value is in range)."""
    checks = range_checks(exposures).filter(pl.col("out_of_range") > 0)
    return [f"{r['setting']} {r['exposure']}: {r['out_of_range']} values outside {r['lower']:g}..{r['upper']:g} "
            f"(min {r['min']}, max {r['max']})" for r in checks.iter_rows(named=True)]


def history_summary(spells: pl.DataFrame) -> pl.DataFrame:
    """role, source, basis, months, share (of the role's person-months)."""
    return (spells.group_by("role", "source", "basis").agg(pl.col("months").sum())
            .with_columns((pl.col("months") / pl.col("months").sum().over("role")).alias("share"))
            .sort("role", "months", descending=[False, True]))

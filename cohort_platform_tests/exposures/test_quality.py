"""Coverage and range checks of the exposures, and the history summary."""

from __future__ import annotations

import polars as pl

from cohort_platform.exposures import quality
from cohort_platform.exposures.assign import Exposures, empty_yearly
from cohort_platform_tests.exposures.factories import D, spells


def yearly(rows: list[dict]) -> pl.DataFrame:
    base = {c: None for c in empty_yearly().columns}
    return pl.DataFrame([{**base, **r} for r in rows], schema=empty_yearly().schema)


def exposures(home_rows, school_rows=()) -> Exposures:
    preg = yearly([]).drop("year").insert_column(1, pl.Series("trimester", [], pl.String)) \
        .insert_column(2, pl.Series("gestation_assumed", [], pl.Boolean))
    return Exposures(home=yearly(home_rows), school=yearly(list(school_rows)), pregnancy=preg)


def test_coverage_is_the_share_of_child_years_with_a_value():
    e = exposures([{"person_id": "c1", "year": 2015, "days": 365, "no2": 10.0, "no2_days": 365},
                   {"person_id": "c1", "year": 2016, "days": 366, "no2": None, "no2_days": 0},
                   {"person_id": "c2", "year": 2015, "days": 100, "no2": 12.0, "no2_days": 50}])
    row = quality.coverage(e).filter((pl.col("setting") == "home") & (pl.col("exposure") == "no2")).to_dicts()[0]
    assert (row["units"], row["with_value"]) == (3, 2)
    assert abs(row["share"] - 2 / 3) < 1e-12
    assert abs(row["days_share"] - 415 / 831) < 1e-12


def test_range_checks_count_values_outside_physical_bounds():
    e = exposures([{"person_id": "c1", "year": 2015, "days": 365, "no2": 250.0, "ndvi_300m": 0.4, "road_m": -1.0},
                   {"person_id": "c2", "year": 2015, "days": 365, "no2": 20.0, "ndvi_300m": 1.5, "road_m": 20.0}])
    checks = quality.range_checks(e).filter(pl.col("setting") == "home")
    bad = dict(zip(checks["exposure"], checks["out_of_range"]))
    assert bad == {"no2": 1, "pm25": 0, "ndvi_300m": 1, "road_m": 1, "motorway_m": 0}
    assert len(quality.range_problems(e)) == 3


def test_clean_exposures_have_no_range_problems():
    e = exposures([{"person_id": "c1", "year": 2015, "days": 365, "no2": 20.0, "pm25": 9.0, "ndvi_300m": 0.3,
                    "road_m": 120.0, "motorway_m": 4000.0}])
    assert quality.range_problems(e) == []


def test_history_summary_gives_the_share_of_months_by_source_and_basis():
    s = spells(("c1", "child", D(2010, 1, 1), D(2010, 12, 1), "A"), ("c1", "child", D(2011, 1, 1), D(2011, 12, 1), "B"))
    s = s.with_columns(pl.Series("source", ["births", "hes_apc"]))
    summary = quality.history_summary(s)
    assert dict(zip(summary["source"], summary["share"])) == {"births": 0.5, "hes_apc": 0.5}

"""Exposure assignment: time weighting across moves and months, missing years, trimesters, term
months, and the shape of the outputs (no coordinates, postcodes or dates)."""

from __future__ import annotations

import calendar
import datetime as dt

import numpy as np
import polars as pl
import pytest

from cohort_platform.exposures.assign import Environment, assign_exposures
from cohort_platform_tests.exposures.factories import (
    D, annual_grid, children, enrolments, monthly_grid, points, roads, schools, spells,
)

CUT = D(2016, 12, 31)
PCS = points(A=(500.0, 500.0), B=(1500.0, 2500.0))  # cells (0, 0) and (1, 2)
NO_SCHOOL = enrolments()


def days_in(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def env(no2=None, pm25=None, ndvi=None, road=None) -> Environment:
    return Environment(no2=no2 or {}, pm25=pm25 or {}, ndvi=ndvi or {}, roads=road)


def run(sp, kids, environment, enrol=NO_SCHOOL, cutoff=CUT, school_ref=None):
    return assign_exposures(sp, kids, enrol, PCS, school_ref if school_ref is not None else schools(), environment, cutoff)


def home_row(result, year: int, pid: str = "c1") -> dict:
    rows = result.home.filter((pl.col("person_id") == pid) & (pl.col("year") == year)).to_dicts()
    assert len(rows) == 1
    return rows[0]


# --------------------------------------------------------------------------------------- at home
def test_home_mean_is_time_weighted_across_a_move():
    grid = monthly_grid(2015, lambda ix, iy, m: 10.0 + 10 * ix)  # A: 10, B: 20 every month
    sp = spells(("c1", "child", D(2014, 6, 1), D(2015, 3, 1), "A"), ("c1", "child", D(2015, 4, 1), D(2016, 12, 1), "B"))
    row = home_row(run(sp, children(("c1", D(2014, 6, 15), 40)), env(no2={2015: grid})), 2015)
    assert row["days"] == 365 and row["no2_days"] == 365
    assert row["no2"] == pytest.approx((90 * 10 + 275 * 20) / 365, rel=1e-6)


def test_home_mean_is_time_weighted_across_calendar_months():
    grid = monthly_grid(2015, lambda ix, iy, m: float(m))
    sp = spells(("c1", "child", D(2014, 6, 1), D(2016, 12, 1), "A"))
    row = home_row(run(sp, children(("c1", D(2014, 6, 15), 40)), env(pm25={2015: grid.rename("pm25")})), 2015)
    expected = sum(days_in(2015, m) * m for m in range(1, 13)) / 365
    assert row["pm25"] == pytest.approx(expected, rel=1e-6)


def test_birth_year_counts_days_from_the_birth():
    grid = monthly_grid(2015, lambda ix, iy, m: float(m))
    sp = spells(("c1", "child", D(2015, 6, 1), D(2016, 12, 1), "A"))
    row = home_row(run(sp, children(("c1", D(2015, 6, 15), 40)), env(no2={2015: grid})), 2015)
    weights = {6: 16, **{m: days_in(2015, m) for m in range(7, 13)}}
    assert row["days"] == sum(weights.values()) == 200
    assert row["no2"] == pytest.approx(sum(d * m for m, d in weights.items()) / 200, rel=1e-6)


def test_no_exposure_after_death():
    grid = monthly_grid(2016, lambda ix, iy, m: float(m))
    sp = spells(("c1", "child", D(2014, 6, 1), D(2016, 3, 1), "A"))
    result = run(sp, children(("c1", D(2014, 6, 15), 40, D(2016, 3, 10))), env(no2={2016: grid}))
    row = home_row(result, 2016)
    assert row["days"] == 31 + 29 + 10
    assert row["no2"] == pytest.approx((31 * 1 + 29 * 2 + 10 * 3) / 70, rel=1e-6)
    assert result.home["year"].max() == 2016


def test_a_missing_year_gives_missing_exposures_not_invented_ones():
    grids = {2015: monthly_grid(2015, lambda ix, iy, m: 7.0)}  # 2016 not delivered
    sp = spells(("c1", "child", D(2014, 6, 1), D(2016, 12, 1), "A"))
    result = run(sp, children(("c1", D(2014, 6, 15), 40)), env(no2=grids))
    assert home_row(result, 2015)["no2"] == pytest.approx(7.0)
    row = home_row(result, 2016)
    assert row["no2"] is None and row["no2_days"] == 0 and row["days"] == 366


def test_ndvi_and_road_distances_are_time_weighted_across_a_move():
    ndvi = annual_grid(lambda ix, iy: 0.5 if ix < 4 else 0.0, nx=16, ny=16, res=250.0)  # A green, B not
    road = roads(("Motorway", [(0.0, 0.0), (3000.0, 0.0)]))
    sp = spells(("c1", "child", D(2014, 6, 1), D(2015, 3, 1), "A"), ("c1", "child", D(2015, 4, 1), D(2016, 12, 1), "B"))
    row = home_row(run(sp, children(("c1", D(2014, 6, 15), 40)), env(ndvi={2015: ndvi}, road=road)), 2015)
    assert row["ndvi_300m"] == pytest.approx(90 * 0.5 / 365, rel=1e-5)
    assert row["motorway_m"] == pytest.approx((90 * 500 + 275 * 2500) / 365, rel=1e-5)
    assert row["road_m"] == row["motorway_m"]


def test_a_postcode_missing_from_the_reference_has_no_exposure_but_its_days_count():
    grid = monthly_grid(2015, lambda ix, iy, m: 10.0)
    sp = spells(("c1", "child", D(2014, 6, 1), D(2015, 6, 1), "A"), ("c1", "child", D(2015, 7, 1), D(2016, 12, 1), "ZZ"))
    row = home_row(run(sp, children(("c1", D(2014, 6, 15), 40)), env(no2={2015: grid})), 2015)
    assert row["days"] == 365 and row["no2_days"] == 181 and row["no2"] == pytest.approx(10.0)


# ------------------------------------------------------------------------------------------ school
def test_school_exposure_counts_only_term_months():
    grids = {y: monthly_grid(y, lambda ix, iy, m, y=y: 100.0 * ix + m) for y in (2015, 2016)}
    sp = spells(("c1", "child", D(2010, 6, 1), D(2016, 12, 1), "A"))
    result = run(sp, children(("c1", D(2010, 6, 15), 40)), env(no2=grids), enrol=enrolments(("c1", 2015, "S1")),
                 school_ref=schools(S1=(2500.0, 500.0)))  # cell (2, 0): 200 + month
    rows = {r["year"]: r for r in result.school.to_dicts()}
    assert set(rows) == {2015, 2016}
    autumn = {m: days_in(2015, m) for m in (9, 10, 11, 12)}
    spring = {m: days_in(2016, m) for m in range(1, 8)}  # January-July: no August
    assert rows[2015]["days"] == sum(autumn.values()) and rows[2016]["days"] == sum(spring.values()) == 213
    assert rows[2015]["no2"] == pytest.approx(sum(d * (200 + m) for m, d in autumn.items()) / sum(autumn.values()))
    assert rows[2016]["no2"] == pytest.approx(sum(d * (200 + m) for m, d in spring.items()) / 213)


def test_school_and_home_sit_side_by_side_per_year():
    grids = {2016: monthly_grid(2016, lambda ix, iy, m: 1.0 + ix)}
    sp = spells(("c1", "child", D(2010, 6, 1), D(2016, 12, 1), "A"))
    result = run(sp, children(("c1", D(2010, 6, 15), 40)), env(no2=grids), enrol=enrolments(("c1", 2015, "S1")),
                 school_ref=schools(S1=(2500.0, 500.0)))
    row = result.yearly.filter(pl.col("year") == 2016).to_dicts()[0]
    assert row["no2_home"] == pytest.approx(1.0) and row["no2_school"] == pytest.approx(3.0)


# --------------------------------------------------------------------------------------- pregnancy
def calendar_grids(years):
    """NO2 whose every calendar month differs: (year - 2000) * 100 + month, same in every cell."""
    return {y: monthly_grid(y, lambda ix, iy, m, y=y: (y - 2000) * 100.0 + m) for y in years}


def expected_mean(start: dt.date, end_exclusive: dt.date) -> float:
    days = [start + dt.timedelta(days=i) for i in range((end_exclusive - start).days)]
    return float(np.mean([(d.year - 2000) * 100 + d.month for d in days]))


def pregnancy(result, pid="c1") -> dict[str, dict]:
    return {r["trimester"]: r for r in result.pregnancy.filter(pl.col("person_id") == pid).to_dicts()}


@pytest.mark.parametrize("gestation, weeks", [(40, 40), (None, 40), (32, 32)])
def test_trimesters_follow_gestation_with_40_weeks_where_missing(gestation, weeks):
    dob = D(2015, 7, 1)
    sp = spells(("c1", "mother", D(2014, 7, 1), D(2015, 7, 1), "A"), ("c1", "child", D(2015, 7, 1), D(2016, 12, 1), "A"))
    result = run(sp, children(("c1", dob, gestation)), env(no2=calendar_grids([2014, 2015])))
    rows = pregnancy(result)
    lmp = dob - dt.timedelta(weeks=weeks)
    conception, t2, t3 = lmp + dt.timedelta(days=14), lmp + dt.timedelta(days=98), lmp + dt.timedelta(days=196)
    assert rows["T1"]["days"] == 84 and rows["T2"]["days"] == 98 and rows["T3"]["days"] == (dob - t3).days
    assert rows["all"]["days"] == (dob - conception).days
    for label, (a, b) in {"T1": (conception, t2), "T2": (t2, t3), "T3": (t3, dob), "all": (conception, dob)}.items():
        assert rows[label]["no2"] == pytest.approx(expected_mean(a, b), rel=1e-6), label
    assert rows["all"]["gestation_assumed"] is (gestation is None)


def test_a_pregnancy_that_ends_before_week_28_has_no_third_trimester():
    sp = spells(("c1", "mother", D(2014, 7, 1), D(2015, 7, 1), "A"))
    result = run(sp, children(("c1", D(2015, 7, 1), 26)), env(no2=calendar_grids([2014, 2015])))
    assert set(pregnancy(result)) == {"T1", "T2", "all"}
    assert pregnancy(result)["T2"]["days"] == 26 * 7 - 98


def test_pregnancy_air_quality_follows_the_mothers_moves_and_greenness_the_birth_address():
    no2 = {y: monthly_grid(y, lambda ix, iy, m: 10.0 + 10 * ix) for y in (2014, 2015)}  # A 10, B 20
    ndvi = {y: annual_grid(lambda ix, iy: 0.5 if ix < 4 else 0.1, nx=16, ny=16) for y in (2014, 2015)}
    dob = D(2015, 7, 1)
    sp = spells(("c1", "mother", D(2014, 7, 1), D(2014, 12, 1), "B"), ("c1", "mother", D(2015, 1, 1), D(2015, 7, 1), "A"))
    rows = pregnancy(run(sp, children(("c1", dob, 40)), env(no2=no2, ndvi=ndvi)))
    conception = dob - dt.timedelta(weeks=40) + dt.timedelta(days=14)  # 2014-10-08
    at_b = (D(2015, 1, 1) - conception).days
    at_a = (dob - D(2015, 1, 1)).days
    assert rows["all"]["no2"] == pytest.approx((at_b * 20 + at_a * 10) / (at_a + at_b), rel=1e-6)
    assert rows["all"]["ndvi_300m"] == pytest.approx(0.5)  # the birth address A, all pregnancy long


def test_pregnancy_without_a_mothers_address_is_missing():
    result = run(spells(("c1", "child", D(2015, 7, 1), D(2016, 12, 1), "A")), children(("c1", D(2015, 7, 1), 40)),
                 env(no2=calendar_grids([2014, 2015])))
    assert all(r["no2"] is None and r["days"] > 0 for r in pregnancy(result).values())


# ------------------------------------------------------------------------------------------ outputs
def test_outputs_carry_no_coordinates_postcodes_or_dates():
    sp = spells(("c1", "mother", D(2014, 7, 1), D(2015, 7, 1), "A"), ("c1", "child", D(2015, 7, 1), D(2016, 12, 1), "A"))
    result = run(sp, children(("c1", D(2015, 7, 1), 40)), env(no2=calendar_grids([2015])), enrol=enrolments(("c1", 2016, "S1")),
                 school_ref=schools(S1=(2500.0, 500.0)))
    for frame in (result.home, result.school, result.pregnancy):
        assert not {"postcode", "urn", "easting", "northing", "dob", "date"} & set(frame.columns)
        assert not any(dtype in (pl.Date, pl.Datetime) for dtype in frame.schema.values())
    assert result.home.columns[:3] == ["person_id", "year", "days"]
    assert result.pregnancy.columns[:3] == ["person_id", "trimester", "gestation_assumed"]


def test_children_are_processed_in_chunks_with_the_same_result():
    grid = monthly_grid(2015, lambda ix, iy, m: float(m) + ix)
    kids = children(*((f"c{i}", D(2014, 1 + i % 12, 1 + i), 40) for i in range(7)))
    sp = spells(*((f"c{i}", "child", D(2014, 1 + i % 12, 1), D(2016, 12, 1), "A" if i % 2 else "B") for i in range(7)))
    whole = assign_exposures(sp, kids, NO_SCHOOL, PCS, schools(), env(no2={2015: grid}), CUT)
    chunked = assign_exposures(sp, kids, NO_SCHOOL, PCS, schools(), env(no2={2015: grid}), CUT, chunk_children=3)
    assert whole.home.equals(chunked.home) and whole.pregnancy.equals(chunked.pregnancy)

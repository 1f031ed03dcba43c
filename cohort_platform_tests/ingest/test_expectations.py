"""The Great Expectations suites: what passes and fails, whatever dtype the frame reaches GX in."""

import datetime as dt

import polars as pl
import pytest

from cohort_platform.ingest.expectations import Expectation, run_expectations

DOB_BOUNDS = Expectation("ExpectColumnValuesToBeBetween", "dob", (
    ("min_value", dt.datetime(1900, 1, 1)), ("max_value", dt.datetime(2025, 3, 31)),
))


def outcome(frame: pl.DataFrame, expectation: Expectation):
    [result] = run_expectations(frame, [expectation])
    return result


def test_dates_within_the_bounds_pass():
    frame = pl.DataFrame({"dob": [dt.date(2010, 1, 1), dt.date(1900, 1, 1), dt.date(2025, 3, 31)]})
    assert outcome(frame, DOB_BOUNDS).success


@pytest.mark.parametrize("late", [dt.date(2025, 4, 1), dt.date(1899, 12, 31)])
def test_a_date_outside_the_bounds_fails_with_its_share(late):
    frame = pl.DataFrame({"dob": [dt.date(2010, 1, 1)] * 3 + [late]})
    result = outcome(frame, DOB_BOUNDS)
    assert not result.success and result.unexpected_percent == pytest.approx(25.0)


def test_a_date_beyond_what_nanoseconds_can_hold_is_still_judged():
    frame = pl.DataFrame({"dob": [dt.date(2010, 1, 1), dt.date(1500, 6, 1)]})
    result = outcome(frame, DOB_BOUNDS)
    assert not result.success and result.error is None and result.unexpected_percent == pytest.approx(50.0)


def test_a_code_outside_its_list_fails_with_its_share():
    frame = pl.DataFrame({"sex": ["1", "2", "9", "1"]})
    result = outcome(frame, Expectation("ExpectColumnValuesToBeInSet", "sex", (("value_set", ["1", "2"]),)))
    assert not result.success and result.unexpected_percent == pytest.approx(25.0)


def test_codes_all_in_their_list_pass_and_nulls_are_not_counted_against_them():
    frame = pl.DataFrame({"sex": ["1", "2", None, "1"]})
    assert outcome(frame, Expectation("ExpectColumnValuesToBeInSet", "sex", (("value_set", ["1", "2"]),))).success


def test_a_missing_required_value_fails():
    frame = pl.DataFrame({"record_id": ["a", None, "c"]})
    assert not outcome(frame, Expectation("ExpectColumnValuesToNotBeNull", "record_id")).success


def test_missing_values_within_the_tolerance_pass():
    frame = pl.DataFrame({"postcode": ["AB1 2CD"] * 19 + [None]})
    expectation = Expectation("ExpectColumnValuesToNotBeNull", "postcode", (("mostly", 0.95),))
    assert outcome(frame, expectation).success


def test_identifiers_failing_their_check_beyond_the_tolerance_fail():
    frame = pl.DataFrame({"nhs_number_valid": [True] * 8 + [False] * 2})
    expectation = Expectation("ExpectColumnValuesToBeInSet", "nhs_number_valid", (("value_set", [True]), ("mostly", 0.95)))
    assert not outcome(frame, expectation).success


def test_an_absent_column_fails_with_an_error_naming_it():
    result = outcome(pl.DataFrame({"x": [1]}), Expectation("ExpectColumnValuesToNotBeNull", "record_id"))
    assert not result.success and "record_id" in result.error

import polars as pl

from cohort_platform.outputs.disclosure import CellFinding, DisclosureResult
from cohort_platform.outputs.release import as_yes_no, chartable, released_rates


def _result(table, released=True):
    return DisclosureResult(name="t", released=released, table=table, findings=(CellFinding(("855",), "yes", "threshold"),))


def test_rates_come_from_released_counts_and_vanish_where_suppressed():
    table = pl.DataFrame({"la_code": ["855", "857", "All"], "no": [20, None, 40], "yes": [10, None, 15], "All": [30, None, 55]})
    rates = released_rates(_result(table), ["la_code"])
    assert rates["rate_percent"].to_list()[0] == 100 * 10 / 30
    assert rates["rate_percent"].to_list()[1] is None


def test_nothing_is_released_from_a_failed_check():
    assert released_rates(_result(None, released=False), ["la_code"]).is_empty()


def test_booleans_become_both_categories():
    assert as_yes_no(pl.DataFrame({"x": [True, False]}), "x")["x"].to_list() == ["yes", "no"]


def test_the_margin_row_is_england_in_charts():
    table = pl.DataFrame({"la_code": ["855", "All"], "numerator": [10, 15], "denominator": [30, 55], "rate_percent": [33.3, 27.3]})
    shaped = chartable(table)
    assert shaped.filter(pl.col("area_type") == "england")["area"].to_list() == ["England"]

"""Pathfinder outputs on a hand-made case: looked-after children in contact with mental health services,
time from care to a first referral, KS2 of looked-after children against their peers."""

from __future__ import annotations

import polars as pl
import pytest

from cohort_platform.cohort import columns as cols
from cohort_platform.outputs import pathfinder as pf


def table(name: str, rows: list[dict]) -> pl.DataFrame:
    """A research table with its declared schema; unspecified columns null."""
    spec = cols.RESEARCH_TABLES[name]
    return pl.DataFrame([{c: r.get(c) for c in spec.column_names} for r in rows], schema=spec.schema, orient="row")


def child(rid, birth_year=2008, death_year=None):
    return {"research_id": rid, "birth_year": birth_year, "death_year": death_year}


def episode(rid, la, start, end=None):
    return {"research_id": rid, "la_code": la, "start_year": start[0], "start_month": start[1],
            "end_year": end[0] if end else None, "end_month": end[1] if end else None, "open": end is None}


def referral(rid, start, end=None):
    return {"research_id": rid, "referral_year": start[0], "referral_month": start[1],
            "discharge_year": end[0] if end else None, "discharge_month": end[1] if end else None, "discharged": end is not None}


CHILDREN = table("children", [child(c) for c in ("c1", "c2", "c3", "c4", "c5", "c8")] + [child("c7", death_year=2014)])
CARE = table("care_episodes", [
    episode("c1", "201", (2015, 3), (2015, 8)),
    episode("c2", "201", (2014, 11)),                    # open
    episode("c3", "202", (2015, 1), (2015, 2)),
    episode("c3", "201", (2015, 6), (2016, 1)),          # moves LA within 2015
    episode("c4", "202", (2020, 1), (2020, 3)),          # after everything else
    episode("c6", "201", (2015, 1), (2015, 12)),         # not a cohort child
    episode("c8", "202", (2010, 1), (2010, 6)),
])
REFERRALS = table("mental_health_referrals", [
    referral("c1", (2015, 5), (2015, 7)),
    referral("c2", (2016, 2)),                           # open
    referral("c3", (2013, 1), (2013, 5)),                # before care
    referral("c4", (2015, 9)),                           # open, never looked after then
    referral("c6", (2015, 3)),
    referral("c8", (2013, 6), (2013, 9)),                # 41 months after entering care
])


def rows(frame: pl.DataFrame, *columns: str) -> dict:
    """(year, area, group) -> the `columns` of that row (year only where the frame has it)."""
    keys = [c for c in ("year", "area", "group") if c in frame.columns]
    return {tuple(r[k] for k in keys): tuple(r[c] for c in columns) for r in frame.to_dicts()}


class TestLookedAfterChildrenInContactWithMentalHealthServices:
    @pytest.fixture(scope="class")
    def out(self):
        return pf.lac_mental_health(CHILDREN, CARE, REFERRALS, years=[2015, 2016])

    def test_each_la_counts_its_looked_after_children_and_those_in_contact(self, out):
        got = rows(out.filter(pl.col("area_type") == pf.LA), "numerator", "denominator")
        assert got == {
            (2015, "201", "looked_after"): (1, 3),   # c1 (in contact), c2, c3
            (2015, "202", "looked_after"): (0, 1),   # c3 before the move
            (2016, "201", "looked_after"): (1, 2),   # c2 (referred Feb 2016), c3 (left Jan 2016)
        }

    def test_england_counts_a_child_once_whatever_the_number_of_las(self, out):
        got = rows(out.filter((pl.col("area_type") == pf.COUNTRY) & (pl.col("group") == pf.LOOKED_AFTER)),
                   "numerator", "denominator")
        assert got == {(2015, "England", "looked_after"): (1, 3), (2016, "England", "looked_after"): (1, 2)}

    def test_all_children_alive_and_under_18_are_the_reference(self, out):
        got = rows(out.filter(pl.col("group") == pf.ALL_CHILDREN), "numerator", "denominator")
        # c7 died in 2014; c6 is not in the cohort; contact in 2015: c1, c4; in 2016: c2, c4
        assert got == {(2015, "England", "all_children"): (2, 6), (2016, "England", "all_children"): (2, 6)}

    def test_rates_come_from_the_counts_beside_the_england_rate(self, out):
        la = out.filter((pl.col("area") == "201") & (pl.col("year") == 2015)).row(0, named=True)
        assert la["rate_percent"] == pytest.approx(100 / 3)
        assert la["england_rate_percent"] == pytest.approx(100 / 3)
        assert set(pf.AGGREGATE_COLUMNS) <= set(out.columns)

    def test_the_records_are_one_row_per_child_la_and_year(self):
        records = pf.lac_mental_health_records(CHILDREN, CARE, REFERRALS, years=[2015])
        assert sorted(records.select("research_id", "la_code", "mh_contact").rows()) == [
            ("c1", "201", True), ("c2", "201", False), ("c3", "201", False), ("c3", "202", False)]

    def test_default_years_run_from_the_first_care_episode_to_the_last_month_seen(self):
        out = pf.lac_mental_health(CHILDREN, CARE, REFERRALS)
        assert out["year"].min() == 2010 and out["year"].max() == 2020


class TestTimeFromCareToFirstReferral:
    def test_per_la_counts_rate_and_median_months(self):
        out = pf.care_to_first_referral(CHILDREN, CARE, REFERRALS, follow_up_months=24)
        got = rows(out, "numerator", "denominator", "median_months")
        assert got == {
            ("201", "looked_after"): (2, 2, 8.5),      # c1 after 2 months, c2 after 15
            ("202", "looked_after"): (0, 3, None),     # c3 before care only, c8 after 41 months, c4 before care
            ("England", "looked_after"): (2, 5, 8.5),
        }

    def test_the_la_is_that_of_the_first_episode(self):
        records = pf.care_to_first_referral_records(CHILDREN, CARE, REFERRALS)
        assert dict(records.select("research_id", "la_code").rows())["c3"] == "202"

    def test_a_referral_in_the_month_of_entry_counts_as_zero_months(self):
        same_month = table("mental_health_referrals", [referral("c3", (2015, 1))])
        records = pf.care_to_first_referral_records(CHILDREN, CARE, same_month)
        assert dict(records.select("research_id", "months_to_first_referral").rows())["c3"] == 0

    def test_with_a_cut_off_only_children_with_full_follow_up_count(self):
        out = pf.care_to_first_referral(CHILDREN, CARE, REFERRALS, follow_up_months=24, last_year_month=(2016, 12))
        england = out.filter(pl.col("area") == pf.ENGLAND).row(0, named=True)
        assert (england["numerator"], england["denominator"]) == (1, 2)  # c2 and c8 entered by Dec 2014


class TestKs2OfLookedAfterChildrenAgainstPeers:
    KS2 = table("ks2", [
        {"research_id": "c1", "academic_year": 2018, "ks2_read_scaled": 101, "ks2_mat_scaled": 100},
        {"research_id": "c2", "academic_year": 2018, "ks2_read_scaled": 99, "ks2_mat_scaled": 110},
        {"research_id": "c3", "academic_year": 2018, "ks2_read_scaled": None, "ks2_mat_scaled": 100},
        {"research_id": "c4", "academic_year": 2018, "ks2_read_scaled": 100, "ks2_mat_scaled": 100},
        {"research_id": "c5", "academic_year": 2018, "ks2_read_scaled": 110, "ks2_mat_scaled": 110},
        {"research_id": "c8", "academic_year": 2018, "ks2_read_scaled": 104, "ks2_mat_scaled": 104},
    ])
    SCHOOL = table("school_census_years", [
        {"research_id": r, "academic_year": 2018, "la_code": la} for r, la in
        (("c1", "201"), ("c2", "201"), ("c3", "201"), ("c4", "201"), ("c5", "202"))
    ] + [{"research_id": "c1", "academic_year": 2017, "la_code": "202"}])

    def test_counts_per_la_and_group(self):
        out = pf.ks2_looked_after_vs_peers(CHILDREN, CARE, self.KS2, self.SCHOOL)
        got = rows(out, "numerator", "denominator")
        assert got == {
            ("201", "looked_after"): (1, 2),      # c1 reached it, c2 not; c3 lacks a score
            ("201", "peers"): (1, 1),             # c4: care began after the tests
            ("202", "peers"): (1, 1),
            ("England", "looked_after"): (2, 3),  # c8 has no school census record: England only
            ("England", "peers"): (2, 2),
        }

    def test_means_rest_on_the_denominator(self):
        out = pf.ks2_looked_after_vs_peers(CHILDREN, CARE, self.KS2, self.SCHOOL)
        la = out.filter((pl.col("area") == "201") & (pl.col("group") == "looked_after")).row(0, named=True)
        assert (la["mean_read_scaled"], la["mean_mat_scaled"]) == (100.0, 105.0)


class TestChart:
    def test_a_chart_is_a_png_and_suppressed_cells_do_not_break_it(self):
        out = pf.lac_mental_health(CHILDREN, CARE, REFERRALS, years=[2015, 2016])
        released = out.with_columns(pl.when(pl.col("denominator") < 2).then(None).otherwise(pl.col("rate_percent")).alias("rate_percent"))
        png = pf.chart_png(released)
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000

    def test_a_missing_value_column_is_refused(self):
        with pytest.raises(ValueError, match="no column 'median_days'"):
            pf.chart_png(pf.care_to_first_referral(CHILDREN, CARE, REFERRALS), "median_days")


@pytest.mark.slow  # imports acro (about 10 s on its own)
def test_the_records_feed_the_disclosure_checker():
    from cohort_platform.outputs.disclosure import check_frequency_table

    records = pf.lac_mental_health_records(CHILDREN, CARE, REFERRALS, years=[2015])
    result = check_frequency_table(records, "la_code", "mh_contact", name="lac_mh")
    assert not result.released  # a handful of children: every cell is under the threshold
    assert "threshold" in result.rule_counts

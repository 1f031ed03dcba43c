"""Each residential-history rule of docs/residential_histories.md, one behaviour per test."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cohort_platform.exposures.histories import (
    SOURCES, HistoryRules, cohort_children, dated_addresses, monthly, residential_spells, school_enrolments,
)
from cohort_platform.linkage.link_map import conform
from cohort_platform_tests.exposures.factories import CUTOFF, D, births, obs


def child_months(spells: pl.DataFrame, pid: str = "c1", role: str = "child") -> dict[dt.date, str]:
    m = monthly(spells.filter((pl.col("person_id") == pid) & (pl.col("role") == role)))
    return dict(zip(m["month"].to_list(), m["postcode"].to_list()))


def spell_list(spells: pl.DataFrame, role: str = "child") -> list[tuple]:
    return [(r["start_month"], r["end_month"], r["postcode"], r["source"], r["basis"])
            for r in spells.filter(pl.col("role") == role).iter_rows(named=True)]


# ---------------------------------------------------------------------------------- dated_addresses
def link(*rows: tuple) -> pl.DataFrame:
    return conform(pl.DataFrame([{"dataset": d, "record_id": r, "person_id": p, "role": role}
                                 for d, r, p, role in rows]), step="test")


def test_dated_addresses_reads_each_source_at_its_date():
    clean = {
        "births": pl.DataFrame({"record_id": ["c1"], "dob": [D(2010, 5, 3)], "postcode": ["AA1 1AA"],
                                "postcode_valid": [True]}),
        "npd_census": pl.DataFrame({"record_id": ["n1"], "academic_year": [2016], "postcode": ["BB1 1BB"],
                                    "postcode_valid": [True], "urn": ["100001"]}),
        "census_2011": pl.DataFrame({"record_id": ["k1"], "postcode": ["CC1 1CC"], "postcode_valid": [True]}),
        "cla": pl.DataFrame({"record_id": ["l1"], "decom": [D(2012, 2, 9)], "home_post": ["DD1 1DD"],
                             "home_post_valid": [True]}),
        "hes_apc": pl.DataFrame({"record_id": ["h1", "h2"], "epistart": [D(2011, 7, 1), D(2010, 1, 2)],
                                 "homeadd": ["EE1 1EE", "FF1 1FF"], "homeadd_valid": [True, True]}),
    }
    lm = link(("births", "c1", "c1", "child"), ("npd_census", "n1", "c1", "child"), ("census_2011", "k1", "c1", "child"),
              ("cla", "l1", "c1", "child"), ("hes_apc", "h1", "c1", "child"), ("hes_apc", "h2", "c1", "mother"))
    got = {(r["role"], r["source"]): (r["date"], r["postcode"]) for r in dated_addresses(clean, lm).iter_rows(named=True)}
    assert got == {
        ("child", "births"): (D(2010, 5, 3), "AA1 1AA"),
        ("mother", "births"): (D(2010, 5, 3), "AA1 1AA"),  # the registration states the mother's residence
        ("child", "npd_census"): (D(2017, 1, 15), "BB1 1BB"),  # spring census of 2016/17
        ("child", "census_2011"): (D(2011, 3, 27), "CC1 1CC"),
        ("child", "cla"): (D(2012, 2, 9), "DD1 1DD"),
        ("child", "hes_apc"): (D(2011, 7, 1), "EE1 1EE"),
        ("mother", "hes_apc"): (D(2010, 1, 2), "FF1 1FF"),
    }


def test_dated_addresses_skip_unlinked_invalid_missing_and_unknown_postcodes():
    clean = {"hes_apc": pl.DataFrame({
        "record_id": ["h1", "h2", "h3", "h4", "h5"], "epistart": [D(2011, 1, 1)] * 5,
        "homeadd": ["AA1 1AA", "ZZ9", None, "CC1 1CC", "DD1 1DD"], "homeadd_valid": [True, False, None, True, True]})}
    lm = pl.concat([link(*(("hes_apc", f"h{i}", "c1", "child") for i in (1, 2, 3, 5))),
                    conform(pl.DataFrame({"dataset": ["hes_apc"], "record_id": ["h4"]}), step="unlinked")])
    got = dated_addresses(clean, lm)
    assert got["postcode"].to_list() == ["AA1 1AA", "DD1 1DD"]
    known = dated_addresses(clean, lm, known_postcodes=pl.Series(["AA1 1AA"]))
    assert known["postcode"].to_list() == ["AA1 1AA"]


def test_every_source_has_a_priority_and_births_come_first():
    assert list(SOURCES)[0] == "births"
    assert set(SOURCES) == {"births", "census_2011", "census_2021", "deaths", "cla", "npd_census", "hes_apc", "mhsds"}


# ------------------------------------------------------------------------------------------ windows
def test_child_history_runs_from_birth_month_to_cutoff_month():
    s = residential_spells(obs(("c1", "child", D(2024, 6, 20), "A", "births")), CUTOFF, births(("c1", D(2024, 6, 20))))
    assert spell_list(s) == [(D(2024, 6, 1), D(2025, 3, 1), "A", "births", "observed")]


def test_child_history_ends_at_death():
    s = residential_spells(obs(("c1", "child", D(2020, 1, 5), "A", "births")), CUTOFF,
                           births(("c1", D(2020, 1, 5), D(2021, 2, 10))))
    assert spell_list(s) == [(D(2020, 1, 1), D(2021, 2, 1), "A", "births", "observed")]


def test_observations_after_cutoff_or_outside_the_window_are_ignored():
    dated = obs(("c1", "child", D(2024, 6, 2), "A", "births"), ("c1", "child", D(2025, 4, 2), "B", "hes_apc"),
                ("c1", "child", D(2024, 1, 2), "C", "hes_apc"))
    s = residential_spells(dated, CUTOFF, births(("c1", D(2024, 6, 2))))
    assert set(child_months(s).values()) == {"A"}


def test_mother_history_covers_12_months_before_the_birth_with_the_birth_postcode_where_nothing_else():
    s = residential_spells(obs(("c1", "mother", D(2015, 7, 9), "A", "births")), CUTOFF, births(("c1", D(2015, 7, 9))))
    assert spell_list(s, "mother") == [(D(2014, 7, 1), D(2015, 6, 1), "A", "births", "back_filled"),
                                       (D(2015, 7, 1), D(2015, 7, 1), "A", "births", "observed")]


def test_mother_history_follows_her_admissions_before_the_birth():
    dated = obs(("c1", "mother", D(2015, 2, 3), "M", "hes_apc"), ("c1", "mother", D(2015, 7, 9), "A", "births"))
    months = child_months(residential_spells(dated, CUTOFF, births(("c1", D(2015, 7, 9)))), role="mother")
    assert months[D(2014, 7, 1)] == "M"  # before her first observation: the earliest address
    assert months[D(2015, 6, 1)] == "M"
    assert months[D(2015, 7, 1)] == "A"
    assert len(months) == 13


# ------------------------------------------------------------------------------------ month winner
def test_more_authoritative_source_wins_a_disputed_month():
    dated = obs(("c1", "child", D(2012, 3, 1), "A", "hes_apc"), ("c1", "child", D(2012, 3, 27), "B", "census_2011"),
                ("c1", "child", D(2012, 3, 30), "C", "npd_census"), ("c1", "child", D(2010, 1, 1), "A", "births"))
    assert child_months(residential_spells(dated, CUTOFF, births(("c1", D(2010, 1, 1)))))[D(2012, 3, 1)] == "B"


def test_among_equals_the_latest_observation_in_the_month_wins():
    dated = obs(("c1", "child", D(2010, 1, 1), "A", "births"), ("c1", "child", D(2012, 3, 1), "B", "hes_apc"),
                ("c1", "child", D(2012, 3, 20), "C", "hes_apc"), ("c1", "child", D(2013, 3, 20), "C", "hes_apc"))
    assert child_months(residential_spells(dated, CUTOFF, births(("c1", D(2010, 1, 1)))))[D(2012, 3, 1)] == "C"


# ---------------------------------------------------------------------------------------------- gaps
def test_an_address_is_carried_forward_until_the_next_observation():
    dated = obs(("c1", "child", D(2010, 1, 10), "A", "births"), ("c1", "child", D(2013, 6, 2), "B", "hes_apc"))
    s = residential_spells(dated, CUTOFF, births(("c1", D(2010, 1, 10))))
    assert spell_list(s) == [(D(2010, 1, 1), D(2013, 5, 1), "A", "births", "observed"),
                             (D(2013, 6, 1), D(2025, 3, 1), "B", "hes_apc", "observed")]


def test_months_before_the_first_observation_take_the_first_address_marked_back_filled():
    dated = obs(("c1", "child", D(2011, 3, 27), "B", "census_2011"))  # no birth postcode
    s = residential_spells(dated, CUTOFF, births(("c1", D(2010, 8, 1))))
    assert spell_list(s) == [(D(2010, 8, 1), D(2011, 2, 1), "B", "census_2011", "back_filled"),
                             (D(2011, 3, 1), D(2025, 3, 1), "B", "census_2011", "observed")]


def test_a_child_without_observations_has_no_spells():
    s = residential_spells(obs(("c2", "child", D(2011, 1, 1), "A", "births")), CUTOFF,
                           births(("c1", D(2011, 1, 1)), ("c2", D(2011, 1, 1))))
    assert s["person_id"].unique().to_list() == ["c2"]


def test_midpoint_timing_splits_the_unobserved_months_between_two_addresses():
    dated = obs(("c1", "child", D(2010, 1, 10), "A", "births"), ("c1", "child", D(2010, 11, 2), "B", "hes_apc"))
    s = residential_spells(dated, CUTOFF, births(("c1", D(2010, 1, 10))), HistoryRules(move_timing="midpoint"))
    # A last seen in January, B first in November: February-May stay at A, June onwards B
    assert [(a, b, pc) for a, b, pc, *_ in spell_list(s)] == [(D(2010, 1, 1), D(2010, 5, 1), "A"),
                                                             (D(2010, 6, 1), D(2025, 3, 1), "B")]


# ------------------------------------------------------------------------------------ implausible moves
def test_short_secondary_excursion_and_back_is_noise():
    dated = obs(("c1", "child", D(2010, 1, 1), "A", "births"), ("c1", "child", D(2012, 5, 3), "B", "hes_apc"),
                ("c1", "child", D(2012, 6, 10), "A", "npd_census"))
    s = residential_spells(dated, CUTOFF, births(("c1", D(2010, 1, 1))))
    assert set(child_months(s).values()) == {"A"}


def test_excursion_seen_by_a_census_is_kept():
    dated = obs(("c1", "child", D(2010, 1, 1), "A", "births"), ("c1", "child", D(2011, 3, 27), "B", "census_2011"),
                ("c1", "child", D(2011, 4, 10), "A", "hes_apc"))
    months = child_months(residential_spells(dated, CUTOFF, births(("c1", D(2010, 1, 1)))))
    assert months[D(2011, 3, 1)] == "B" and months[D(2011, 4, 1)] == "A"


def test_excursion_longer_than_the_window_is_a_real_move_and_back():
    dated = obs(("c1", "child", D(2010, 1, 1), "A", "births"), ("c1", "child", D(2012, 5, 3), "B", "hes_apc"),
                ("c1", "child", D(2014, 6, 10), "A", "npd_census"))
    months = child_months(residential_spells(dated, CUTOFF, births(("c1", D(2010, 1, 1)))))
    assert months[D(2013, 1, 1)] == "B" and months[D(2014, 6, 1)] == "A"


def test_excursion_rule_window_is_configurable():
    dated = obs(("c1", "child", D(2010, 1, 1), "A", "births"), ("c1", "child", D(2012, 5, 3), "B", "hes_apc"),
                ("c1", "child", D(2012, 9, 10), "A", "npd_census"))
    month = D(2012, 6, 1)
    assert child_months(residential_spells(dated, CUTOFF, births(("c1", D(2010, 1, 1)))))[month] == "A"
    assert child_months(residential_spells(dated, CUTOFF, births(("c1", D(2010, 1, 1))),
                                           HistoryRules(excursion_days=31)))[month] == "B"


def test_a_lagging_return_to_the_former_address_is_dropped_not_the_new_one():
    # moved A -> B in 2012; a school record still holds A in 2013; B is seen again later
    dated = obs(("c1", "child", D(2010, 1, 1), "A", "births"), ("c1", "child", D(2012, 10, 3), "B", "hes_apc"),
                ("c1", "child", D(2013, 1, 15), "A", "npd_census"), ("c1", "child", D(2013, 5, 1), "B", "hes_apc"))
    s = residential_spells(dated, CUTOFF, births(("c1", D(2010, 1, 1))))
    assert [(a, pc) for a, _, pc, *_ in spell_list(s)] == [(D(2010, 1, 1), "A"), (D(2012, 10, 1), "B")]


def test_spells_record_observations_and_last_sighting():
    dated = obs(("c1", "child", D(2010, 1, 1), "A", "births"), ("c1", "child", D(2011, 3, 27), "A", "census_2011"),
                ("c1", "child", D(2011, 5, 1), "A", "hes_apc"))
    s = residential_spells(dated, CUTOFF, births(("c1", D(2010, 1, 1))))
    assert s.select("observations", "last_seen").row(0) == (3, D(2011, 5, 1))


# ----------------------------------------------------------------------------------------- properties
SOURCE_NAMES = list(SOURCES)


@st.composite
def histories(draw):
    dob = draw(st.dates(D(2008, 1, 1), D(2024, 12, 31)))
    n = draw(st.integers(0, 12))
    rows = []
    for _ in range(n):
        when = draw(st.dates(dob - dt.timedelta(days=400), D(2025, 6, 1)))
        rows.append(("c1", draw(st.sampled_from(["child", "mother"])), when, draw(st.sampled_from("ABCD")),
                     draw(st.sampled_from(SOURCE_NAMES))))
    return dob, rows


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories(), st.sampled_from([None, 31, 365]), st.sampled_from(["first_seen", "midpoint"]))
def test_spells_tile_the_window_with_observed_addresses(history, excursion, timing):
    dob, rows = history
    dated = obs(*rows)
    s = residential_spells(dated, CUTOFF, births(("c1", dob)), HistoryRules(excursion_days=excursion, move_timing=timing))
    for role, start, end in (("child", dob, CUTOFF), ("mother", None, dob)):
        part = s.filter(pl.col("role") == role).sort("start_month")
        if part.height == 0:
            continue
        starts, ends = part["start_month"].to_list(), part["end_month"].to_list()
        # contiguous, no overlap, ending at the window's last month
        for prev_end, nxt in zip(ends[:-1], starts[1:]):
            assert (nxt.year * 12 + nxt.month) - (prev_end.year * 12 + prev_end.month) == 1
        last = end if role == "child" else dob
        assert (ends[-1].year, ends[-1].month) == (last.year, last.month)
        first = dob.year * 12 + dob.month - 1 - (12 if role == "mother" else 0)
        assert starts[0].year * 12 + starts[0].month - 1 == first
        assert part["months"].sum() == (last.year * 12 + last.month - 1) - first + 1
        # every address was observed for this person and role, inside the window
        seen = {r[3] for r in rows if r[1] == role}
        assert set(part["postcode"]) <= seen


# ------------------------------------------------------------------------------------ tables for assign
def test_cohort_children_take_gestation_and_the_earliest_linked_death():
    clean = {"births": pl.DataFrame({"record_id": ["c1", "c2"], "dob": [D(2010, 1, 1), D(2010, 2, 1)],
                                     "gestation_weeks": [38, None]}),
             "deaths": pl.DataFrame({"record_id": ["d1", "d2"], "dod": [D(2011, 5, 1), D(2012, 5, 1)]})}
    lm = link(("births", "c1", "c1", "child"), ("births", "c2", "c2", "child"), ("deaths", "d1", "c2", "child"),
              ("deaths", "d2", "c2", "child"))
    got = cohort_children(clean, lm)
    assert got.rows() == [("c1", D(2010, 1, 1), 38, None), ("c2", D(2010, 2, 1), None, D(2011, 5, 1))]


def test_school_enrolments_keep_one_school_per_academic_year():
    clean = {"npd_census": pl.DataFrame({"record_id": ["n1", "n2", "n3"], "academic_year": [2016, 2016, 2017],
                                         "urn": ["200002", "100001", "100001"]})}
    lm = link(("npd_census", "n1", "c1", "child"), ("npd_census", "n2", "c1", "child"), ("npd_census", "n3", "c1", "child"))
    assert school_enrolments(clean, lm).rows() == [("c1", 2016, "100001"), ("c1", 2017, "100001")]


@pytest.mark.parametrize("timing", ["first_seen", "nonsense"])
def test_move_timing_is_checked(timing):
    dated = obs(("c1", "child", D(2010, 1, 1), "A", "births"))
    if timing == "nonsense":
        with pytest.raises(ValueError, match="move_timing"):
            residential_spells(dated, CUTOFF, births(("c1", D(2010, 1, 1))), HistoryRules(move_timing=timing))
    else:
        assert residential_spells(dated, CUTOFF, births(("c1", D(2010, 1, 1))), HistoryRules(move_timing=timing)).height == 1


def test_required_columns_are_enough_for_histories_and_enrolments():
    from cohort_platform.exposures.histories import required_columns

    assert required_columns("npd_census") == ["record_id", "postcode", "postcode_valid", "academic_year", "urn"]
    assert required_columns("hes_apc") == ["record_id", "homeadd", "homeadd_valid", "epistart"]
    assert required_columns("births") == ["record_id", "postcode", "postcode_valid", "dob", "gestation_weeks"]
    assert required_columns("survey") == []

"""Survey consent: datasets by consent, withdrawal, deletion."""

import datetime as dt

import polars as pl
import pytest

from cohort_platform.privacy.consent import (
    DATASET_GROUPS,
    apply_survey_consent,
    check_consent_groups,
    participants,
    record_dates,
)
from cohort_platform_tests.privacy.factories import link_map


def survey(rows):
    base = {"study_id": "S", "family_id": "F", "consent_health": "Y", "consent_hmrc": "N", "consent_dwp": "N",
            "withdrawn_date": None, "deletion_requested": "N", "wave1_sdq_total": 10}
    return pl.DataFrame([{**base, **r} for r in rows], schema_overrides={"withdrawn_date": pl.Date})


def dates(rows):
    return pl.DataFrame(rows, schema={"dataset": pl.String, "record_id": pl.String, "record_date": pl.Date}, orient="row")


CHILD_LINKS = [
    ("survey", "S1", "X", "child"),
    ("births", "X", "X", "child"),
    ("npd_census", "P1", "X", "child"),
    ("npd_ks2", "K1", "X", "child"),
    ("hes_apc", "H1", "X", "child"),
    ("mhsds", "M1", "X", "child"),
    ("deaths", "D1", "X", "child"),
    ("cla", "C1", "X", "child"),
    ("census_2011", "Z1", "X", "child"),
    ("hes_apc", "H2", "X", "mother"),   # the mother's own record
    ("hes_apc", "H3", "Y", "child"),    # another child, not in the survey
    ("cla", "C3", "Y", "child"),
]
DATES = dates([
    ("births", "X", dt.date(2010, 1, 1)), ("npd_census", "P1", dt.date(2017, 8, 31)), ("npd_ks2", "K1", dt.date(2021, 8, 31)),
    ("hes_apc", "H1", dt.date(2015, 6, 1)), ("mhsds", "M1", dt.date(2019, 6, 1)), ("deaths", "D1", dt.date(2022, 1, 1)),
    ("cla", "C1", dt.date(2012, 1, 1)), ("census_2011", "Z1", dt.date(2011, 3, 27)), ("hes_apc", "H2", dt.date(2009, 10, 1)),
    ("hes_apc", "H3", dt.date(2015, 1, 1)), ("cla", "C3", dt.date(2015, 1, 1)),
])


def linked(result):
    return set(result.link_map.select("record_id").to_series().to_list())


class TestConsentByDataset:
    def test_health_records_are_not_linked_without_health_consent(self):
        result = apply_survey_consent(link_map(CHILD_LINKS), survey([{"record_id": "S1", "role": "child", "consent_health": "N"}]), DATES)
        assert not {"H1", "M1", "D1"} & linked(result)
        assert result.counts["consent"] == {"cla": 1, "census_2011": 1, "deaths": 1, "hes_apc": 1, "mhsds": 1}

    def test_education_and_the_spine_are_always_linked(self):
        result = apply_survey_consent(link_map(CHILD_LINKS), survey([{"record_id": "S1", "role": "child", "consent_health": "N"}]), DATES)
        assert {"S1", "X", "P1", "K1"} <= linked(result)

    def test_health_records_are_linked_with_health_consent(self):
        result = apply_survey_consent(link_map(CHILD_LINKS), survey([{"record_id": "S1", "role": "child"}]), DATES)
        assert {"H1", "M1", "D1"} <= linked(result)

    def test_datasets_no_survey_consent_covers_are_never_linked_to_a_participant(self):
        result = apply_survey_consent(link_map(CHILD_LINKS), survey([{"record_id": "S1", "role": "child"}]), DATES)
        assert not {"C1", "Z1"} & linked(result)

    def test_people_outside_the_survey_are_untouched(self):
        result = apply_survey_consent(link_map(CHILD_LINKS), survey([{"record_id": "S1", "role": "child", "consent_health": "N"}]), DATES)
        assert {"H3", "C3"} <= linked(result)

    def test_a_childs_consent_does_not_govern_the_mothers_records(self):
        result = apply_survey_consent(link_map(CHILD_LINKS), survey([{"record_id": "S1", "role": "child", "consent_health": "N"}]), DATES)
        assert "H2" in linked(result)

    def test_a_mother_participants_consent_governs_her_own_records_only(self):
        links = link_map([*CHILD_LINKS, ("survey", "S2", "X", "mother")])
        result = apply_survey_consent(links, survey([{"record_id": "S1", "role": "child"},
                                                     {"record_id": "S2", "role": "mother", "consent_health": "N"}]), DATES)
        assert "H2" not in linked(result) and "H1" in linked(result)

    def test_the_most_restrictive_of_a_participants_rows_wins(self):
        links = link_map([*CHILD_LINKS, ("survey", "S1b", "X", "child")])
        rows = survey([{"record_id": "S1", "role": "child"}, {"record_id": "S1b", "role": "child", "consent_health": "N"}])
        assert "H1" not in linked(apply_survey_consent(links, rows, DATES))

    def test_every_person_level_dataset_is_in_exactly_one_group(self):
        assert check_consent_groups() == []
        assert DATASET_GROUPS["consent_health"] == ("hes_apc", "mhsds", "deaths")

    def test_a_dataset_in_no_group_is_refused(self):
        with pytest.raises(ValueError, match="hmrc_income"):
            apply_survey_consent(link_map([("hmrc_income", "I1", "X", "child")]), survey([]), DATES)


class TestWithdrawal:
    def result(self, withdrawn):
        rows = survey([{"record_id": "S1", "role": "child", "withdrawn_date": withdrawn}])
        return apply_survey_consent(link_map(CHILD_LINKS), rows, DATES)

    def test_records_dated_after_withdrawal_are_not_linked(self):
        result = self.result(dt.date(2018, 1, 1))
        assert not {"M1", "D1", "K1"} & linked(result)
        assert result.counts["withdrawal"] == {"deaths": 1, "mhsds": 1, "npd_ks2": 1}

    def test_records_dated_before_withdrawal_stay_linked(self):
        assert {"X", "P1", "H1"} <= linked(self.result(dt.date(2018, 1, 1)))

    def test_the_survey_answers_themselves_stay_after_withdrawal(self):
        result = self.result(dt.date(2012, 1, 1))
        assert "S1" in linked(result) and result.survey.height == 1

    def test_a_record_without_a_date_is_treated_as_after_withdrawal(self):
        undated = DATES.filter(pl.col("record_id") != "H1")
        rows = survey([{"record_id": "S1", "role": "child", "withdrawn_date": dt.date(2030, 1, 1)}])
        assert "H1" not in linked(apply_survey_consent(link_map(CHILD_LINKS), rows, undated))

    def test_a_record_dated_twice_is_judged_by_its_first_date(self):
        twice = pl.concat([dates([("hes_apc", "H1", dt.date(2019, 1, 1))]), DATES])
        rows = survey([{"record_id": "S1", "role": "child", "withdrawn_date": dt.date(2018, 1, 1)}])
        assert "H1" not in linked(apply_survey_consent(link_map(CHILD_LINKS), rows, twice))

    def test_an_academic_year_still_running_at_withdrawal_is_not_linked(self):
        census = pl.DataFrame({"record_id": ["P1"], "academic_year": [2016]})
        when = record_dates({"npd_census": census})["record_date"].item()
        assert when == dt.date(2017, 8, 31)

    def test_each_dataset_is_dated_by_its_event(self):
        frames = {
            "hes_apc": pl.DataFrame({"record_id": ["H"], "epistart": [dt.date(2015, 2, 3)]}),
            "mhsds": pl.DataFrame({"record_id": ["M"], "referral_date": [dt.date(2016, 2, 3)]}),
            "cla": pl.DataFrame({"record_id": ["C"], "decom": [dt.date(2017, 2, 3)]}),
            "census_2021": pl.DataFrame({"record_id": ["Z"]}),
        }
        assert record_dates(frames)["record_date"].to_list() == [dt.date(2015, 2, 3), dt.date(2016, 2, 3), dt.date(2017, 2, 3), dt.date(2021, 3, 21)]


class TestDeletion:
    def test_deletion_removes_the_survey_rows_and_every_link(self):
        rows = survey([{"record_id": "S1", "role": "child", "deletion_requested": "Y"}, {"record_id": "S2", "role": "child"}])
        result = apply_survey_consent(link_map(CHILD_LINKS), rows, DATES)
        assert result.survey["record_id"].to_list() == ["S2"] and result.survey_rows_deleted == 1
        assert not result.link_map.filter((pl.col("person_id") == "X") & (pl.col("role") == "child")).height
        assert set(result.counts["deletion"]) == {"survey", "births", "npd_census", "npd_ks2", "hes_apc", "mhsds", "deaths", "cla", "census_2011"}

    def test_deletion_by_the_child_leaves_the_mothers_records(self):
        rows = survey([{"record_id": "S1", "role": "child", "deletion_requested": "Y"}])
        assert "H2" in linked(apply_survey_consent(link_map(CHILD_LINKS), rows, DATES))

    def test_an_unlinked_participants_deletion_still_removes_their_survey_row(self):
        links = link_map([("survey", "S9", None, "child")])
        result = apply_survey_consent(links, survey([{"record_id": "S9", "role": "child", "deletion_requested": "Y"}]), DATES)
        assert result.survey.height == 0 and result.link_map.height == 0

    def test_removed_rows_carry_their_reason(self):
        rows = survey([{"record_id": "S1", "role": "child", "deletion_requested": "Y", "consent_health": "N"}])
        result = apply_survey_consent(link_map(CHILD_LINKS), rows, DATES)
        assert set(result.removed["reason"].to_list()) == {"deletion"}


def test_participants_are_keyed_by_person_and_role():
    links = link_map([("survey", "S1", "X", "child"), ("survey", "S2", "X", "mother")])
    people = participants(links, survey([{"record_id": "S1", "role": "child"}, {"record_id": "S2", "role": "mother", "consent_health": "N"}]))
    assert people.select("person_id", "role", "consent_health").rows() == [("X", "child", True), ("X", "mother", False)]

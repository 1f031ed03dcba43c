"""Research-ready tables: who is in a birth year, what each table says, and that nothing identifying leaves."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cohort_platform.cohort import columns as cols
from cohort_platform.cohort import research
from cohort_platform.privacy.leak_scan import DOB_NAME, IDENTIFIER_COLUMNS, scan_tables, secure_identifier_sets
from cohort_platform_tests.cohort import factories as f

YEAR = f.YEAR


@pytest.fixture(scope="module")
def world():
    return f.frames(), f.the_link_map()


@pytest.fixture(scope="module")
def tables(world):
    frames, link_map = world
    return {name: research.build_research_table(name, YEAR, link_map, frames, f.pseudonymise) for name in research.BUILDERS}


def rid(person_id: str) -> str:
    return f.pseudonymise(pl.Series([person_id]))[0]


def row_of(frame: pl.DataFrame, person_id: str) -> dict:
    rows = frame.filter(pl.col("research_id") == rid(person_id)).to_dicts()
    assert len(rows) == 1, rows
    return rows[0]


# ------------------------------------------------------------------------------------------ no identifiers


class TestNothingIdentifyingLeaves:
    def test_no_column_is_named_like_an_identifier_or_a_date_of_birth(self, tables):
        for name, frame in tables.items():
            for column in frame.columns:
                assert column.lower() not in IDENTIFIER_COLUMNS, (name, column)
                assert not DOB_NAME.search(column), (name, column)
                assert column not in ("person_id", "record_id", "dob", "postcode", "easting", "northing"), (name, column)

    def test_no_column_holds_a_date(self, tables):
        for name, frame in tables.items():
            dates = [c for c, t in frame.schema.items() if t in (pl.Date, pl.Datetime) or isinstance(t, pl.Datetime)]
            assert dates == [], name

    def test_no_value_equals_an_identifier_of_the_raw_data(self, world, tables):
        frames, link_map = world
        identifiers: set[str] = set()
        for dataset in ("births", "deaths", "hes_apc", "mhsds", "npd_census", "npd_ks2", "npd_ks4", "cla",
                        "census_2011", "census_2021", "survey"):
            frame = frames[dataset]
            for column in ("record_id", "nhs_number", "newnhsno", "mother_nhs_number", "upn", "forename", "surname",
                           "mother_forename", "mother_surname", "postcode", "homeadd", "home_post", "pl_post",
                           "child_id", "household_id", "study_id", "family_id"):
                if column in frame.columns:
                    identifiers |= set(frame[column].drop_nulls().cast(pl.String).to_list())
        identifiers |= {str(v) for v in frames["postcodes"]["easting"].to_list() + frames["postcodes"]["northing"].to_list()}
        assert len(identifiers) > 40  # the world does hold identifiers to leak
        for name, frame in tables.items():
            for column in frame.columns:
                values = {str(v) for v in frame[column].drop_nulls().to_list()}
                assert not values & identifiers, (name, column, values & identifiers)

    def test_dates_of_birth_do_not_appear_as_text_either(self, world, tables):
        dobs = {d.isoformat() for d in world[0]["births"]["dob"].to_list()}
        for name, frame in tables.items():
            for column, dtype in frame.schema.items():
                if dtype == pl.String:
                    assert not set(frame[column].drop_nulls().to_list()) & dobs, (name, column)

    def test_the_platform_leak_scan_finds_nothing(self, world, tables):
        frames, _ = world
        births = frames["births"]
        dob_by_person = pl.DataFrame({"research_id": f.pseudonymise(births["record_id"]), "dob": births["dob"]})
        secure = secure_identifier_sets({k: v for k, v in frames.items() if k not in ("yearly", "pregnancy")})
        assert scan_tables(tables, secure_sets=secure, dob_by_person=dob_by_person) == []

    def test_every_table_is_keyed_by_the_pseudonym_and_the_birth_year(self, tables):
        for name, frame in tables.items():
            assert frame.columns[:2] == ["research_id", "birth_year"], name
            assert frame.height > 0, name
            assert frame["research_id"].str.contains(r"^[0-9a-f]{32}$").all(), name
            assert (frame["birth_year"] == YEAR).all(), name


# ------------------------------------------------------------------------------------------ the dictionary


class TestTheDictionaryDescribesEveryOutput:
    def test_every_research_function_outputs_exactly_its_declared_columns_and_types(self, tables):
        assert set(tables) == set(cols.RESEARCH_TABLES)
        for name, frame in tables.items():
            assert frame.schema == pl.Schema(cols.RESEARCH_TABLES[name].schema), name

    def test_an_empty_birth_year_gives_the_declared_empty_table(self, world):
        frames, link_map = world
        for name in research.BUILDERS:
            frame = research.build_research_table(name, 1999, link_map, frames, f.pseudonymise)
            assert frame.height == 0 and frame.schema == pl.Schema(cols.RESEARCH_TABLES[name].schema), name

    def test_the_rendered_dictionary_lists_every_column_of_every_output(self, tables):
        text = cols.render_data_dictionary()
        for name, frame in tables.items():
            section = text.split(f"\n## {name}\n", 1)[1].split("\n## ", 1)[0]
            for column in frame.columns:
                assert f"| `{column}` |" in section, (name, column)

    def test_every_column_has_a_description(self):
        for table in cols.RESEARCH_TABLES.values():
            for column in table.columns:
                assert column.description.strip(), (table.name, column.name)


# ------------------------------------------------------------------------------------------ who is in it


class TestTheCohortOfABirthYear:
    def test_children_are_the_spine_persons_born_that_year_once_each(self, tables):
        expected = {rid(p) for p in (f.A, f.B, f.C)}
        assert set(tables["children"]["research_id"]) == expected
        assert tables["children"].height == 3  # A's duplicate registration is not a second child

    def test_records_of_a_child_born_in_another_year_stay_out(self, tables):
        assert rid(f.E) not in set(tables["exposures_yearly"]["research_id"])
        assert tables["exposures_yearly"].height == 1

    def test_an_unlinked_record_reaches_no_table(self, tables):
        assert "J459" not in tables["hospital_episodes"]["diag_4_01"].to_list()
        assert "J459" not in tables["maternal_admissions"]["diag_4_01"].to_list()


# ------------------------------------------------------------------------------------------ children


class TestChildren:
    def test_birth_is_given_as_month_and_year(self, tables):
        a = row_of(tables["children"], f.A)
        assert (a["birth_year"], a["birth_month"]) == (2010, 5)

    def test_area_at_birth_comes_from_the_birth_postcode(self, tables):
        a = row_of(tables["children"], f.A)
        assert (a["lsoa11cd_at_birth"], a["lad_code_at_birth"], a["la_code_at_birth"], a["imd_decile_at_birth"]) == \
            ("E01004736", "E09000033", "213", 9)

    def test_a_postcode_missing_from_the_reference_gives_no_area(self, tables):
        c = row_of(tables["children"], f.C)
        assert c["lsoa11cd_at_birth"] is None and c["imd_decile_at_birth"] is None

    def test_death_is_given_as_year_month_age_band_and_cause(self, tables):
        b = row_of(tables["children"], f.B)
        assert b["died"] is True
        assert (b["death_year"], b["death_month"], b["age_at_death_months"], b["death_age_band"]) == (2010, 12, 0, "neonatal")
        assert (b["death_cause_code"], b["death_cause_chapter"]) == ("P072", "XVI")
        assert row_of(tables["children"], f.A)["died"] is False

    def test_mother_age_at_birth_is_in_completed_years(self, tables):
        assert row_of(tables["children"], f.A)["mother_age_at_birth"] == 25

    def test_ethnicity_comes_from_the_best_source(self, tables):
        a, b, c = (row_of(tables["children"], p) for p in (f.A, f.B, f.C))
        # A: census 2011 "1" (White British) outranks the school's WBRI and the hospital's H (Indian)
        assert (a["ethnicity"], a["ethnicity_source"]) == ("W", "census_2011")
        # C: census 2021 "1" is Bangladeshi (the 2021 list starts with Asian), over the school's WBRI
        assert (c["ethnicity"], c["ethnicity_source"]) == ("A", "census_2021")
        assert (b["ethnicity"], b["ethnicity_source"]) == (None, None)


class TestLinkageConfidence:
    def test_each_dataset_says_whether_how_many_and_how_confidently(self, tables):
        a = row_of(tables["children"], f.A)
        assert (a["linked_hes_apc"], a["hes_apc_records"]) == (True, 2)
        # the weakest of A's two hospital links is the probabilistic one
        assert (a["hes_apc_link_step"], a["hes_apc_link_probability"]) == ("probabilistic", 0.91)
        assert (a["linked_cla"], a["cla_records"], a["cla_link_probability"]) == (True, 2, 1.0)

    def test_a_dataset_with_nothing_linked_says_so_with_nulls(self, tables):
        a = row_of(tables["children"], f.A)
        assert (a["linked_deaths"], a["deaths_records"], a["deaths_link_step"], a["deaths_link_probability"]) == \
            (False, 0, None, None)

    def test_the_mothers_admissions_are_summarised_apart_from_the_childs(self, tables):
        a = row_of(tables["children"], f.A)
        assert (a["maternal_hes_apc_records"], a["maternal_hes_apc_link_step"]) == (5, "mother_baby_delivery")

    def test_every_event_row_carries_its_own_link_step_and_probability(self, tables):
        episodes = tables["hospital_episodes"].sort("admission_year")
        assert episodes["link_step"].to_list() == ["nhs_dob_sex", "probabilistic"]
        assert episodes["link_probability"].to_list() == [1.0, 0.91]


# ------------------------------------------------------------------------------------------ events


class TestMaternalWindow:
    def test_only_episodes_in_the_twelve_months_up_to_the_birth_are_kept(self, tables):
        kept = sorted(tables["maternal_admissions"]["diag_4_01"].to_list())
        # O210 11 months before, O244 a year less a day, O800 the delivery; not O470 (a year before
        # to the day) nor O864 (after the birth), although linkage linked them
        assert kept == ["O210", "O244", "O800"]

    def test_months_before_birth_count_completed_months(self, tables):
        months = dict(zip(tables["maternal_admissions"]["diag_4_01"], tables["maternal_admissions"]["months_before_birth"]))
        assert months == {"O210": 11, "O244": 11, "O800": 0}

    def test_a_shorter_window_keeps_fewer(self, world):
        frames, link_map = world
        out = research.maternal_admissions(YEAR, link_map, births=frames["births"], hes_apc=frames["hes_apc"],
                                           pseudonymise=f.pseudonymise, window_months=3)
        assert out["diag_4_01"].to_list() == ["O800"]


class TestEventsAreAgesAndMonths:
    def test_hospital_admission_is_year_month_and_age_in_months(self, tables):
        first = tables["hospital_episodes"].sort("admission_year").row(0, named=True)
        assert (first["admission_year"], first["admission_month"], first["age_months_at_admission"]) == (2011, 2, 9)
        assert first["length_of_stay_days"] == 4

    def test_an_admission_without_an_admission_date_falls_back_to_the_episode_start(self, tables):
        second = tables["hospital_episodes"].sort("admission_year").row(1, named=True)
        assert (second["admission_year"], second["admission_month"], second["age_months_at_admission"]) == (2012, 7, 25)

    def test_referrals_give_age_in_years_and_days_to_discharge(self, tables):
        refs = tables["mental_health_referrals"].sort("referral_year")
        assert refs.select("referral_year", "referral_month", "age_at_referral", "discharged", "days_to_discharge").rows() == [
            (2015, 3, 4, True, 83), (2019, 1, 8, False, None)]

    def test_care_episodes_give_start_and_end_months_and_length(self, tables):
        eps = tables["care_episodes"].sort("start_year")
        assert eps.select("la_code", "start_year", "start_month", "age_at_start", "end_year", "end_month", "open",
                          "length_days").rows() == [("213", 2014, 9, 4, 2015, 9, False, 365),
                                                    ("213", 2015, 9, 5, None, None, True, None)]

    def test_census_household_counts_every_resident(self, tables):
        rows = tables["census_household"].sort("census_year").select("census_year", "household_size", "ethnic_group").rows()
        assert rows == [(2011, 3, "W"), (2021, 2, "A")]


class TestSurveyConsent:
    def test_only_participants_in_the_consent_filtered_survey_appear(self, tables):
        # C's survey record is still in the link map here, but the consent step removed the survey row
        assert rid(f.C) not in set(tables["survey_responses"]["research_id"])

    def test_a_deletion_request_drops_the_row_even_if_it_reached_this_far(self, tables):
        assert rid(f.B) not in set(tables["survey_responses"]["research_id"])

    def test_parents_answers_carry_the_childs_research_id_and_their_role(self, tables):
        rows = tables["survey_responses"].select("research_id", "role", "wave1_sdq_total").rows()
        assert sorted(rows, key=lambda r: r[1]) == [(rid(f.A), "child", 12), (rid(f.A), "mother", 8)]

    def test_a_participant_whose_link_consent_removed_is_absent(self, world):
        frames, link_map = world
        without = link_map.filter(pl.col("record_id") != "SV00000002")
        out = research.survey_responses(YEAR, without, births=frames["births"], survey=frames["survey"],
                                        pseudonymise=f.pseudonymise)
        assert out["role"].to_list() == ["child"]


# ------------------------------------------------------------------------------------------ rules


def _months_reference(start: dt.date, end: dt.date) -> int:
    months = (end.year - start.year) * 12 + end.month - start.month
    return months - (1 if end.day < start.day else 0)


@settings(max_examples=100, deadline=None)
@given(st.dates(dt.date(2000, 1, 1), dt.date(2030, 12, 31)), st.dates(dt.date(2000, 1, 1), dt.date(2030, 12, 31)))
def test_completed_months_agree_with_a_calendar_count(start, end):
    frame = pl.DataFrame({"s": [start], "e": [end]})
    got = frame.select(research.completed_months(pl.col("s"), pl.col("e"))).item()
    assert got == _months_reference(start, end)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(cols.ICD10_CHAPTERS), st.data())
def test_every_code_within_a_chapter_range_maps_to_that_chapter(chapter, data):
    name, first, last, _ = chapter
    letter = data.draw(st.sampled_from(sorted({first[0], last[0]})))
    lo = int(first[1:]) if letter == first[0] else 0
    hi = int(last[1:]) if letter == last[0] else 99
    code = f"{letter}{data.draw(st.integers(lo, hi)):02d}{data.draw(st.sampled_from(['0', '9', 'X', '']))}"
    assert pl.select(research.icd10_chapter(pl.lit(code))).item() == name


@pytest.mark.parametrize("code,chapter", [("P072", "XVI"), ("R95X", "XVIII"), ("D48", "II"), ("D50", "III"),
                                          ("V892", "XX"), ("Y98", "XX"), ("U071", "XXII"), ("H60", "VIII")])
def test_chapter_boundaries(code, chapter):
    assert pl.select(research.icd10_chapter(pl.lit(code))).item() == chapter


def test_every_source_code_maps_to_a_declared_broad_group():
    groups = set(cols.ETHNICITY_BROAD)
    mappings = [research.HES_ETHNOS_BROAD, research.DFE_ETHNICITY_BROAD, *research.CENSUS_ETHNIC_BROAD.values()]
    for mapping in mappings:
        assert set(mapping.values()) <= groups
    from cohort_platform.contract.datasets import CENSUS_2011, CENSUS_2021, NPD_CENSUS

    assert set(research.DFE_ETHNICITY_BROAD) == set(NPD_CENSUS.column("ethnicity").codes) - {"REFU", "NOBT"}
    assert set(research.CENSUS_ETHNIC_BROAD[2011]) == set(CENSUS_2011.column("ethnic_group").codes)
    assert set(research.CENSUS_ETHNIC_BROAD[2021]) == set(CENSUS_2021.column("ethnic_group").codes)


def test_within_a_source_the_most_often_recorded_group_wins_then_the_latest():
    obs = pl.DataFrame({
        "person_id": ["P", "P", "P", "Q", "Q"],
        "source": ["npd_census"] * 3 + ["hes_apc", "hes_apc"],
        "broad": ["W", "W", "M", "B", "A"],
        "date": [dt.date(2015, 1, 1), dt.date(2016, 1, 1), dt.date(2017, 1, 1), dt.date(2012, 1, 1), dt.date(2013, 1, 1)],
    })
    best = dict(research.best_ethnicity(obs).select("person_id", "ethnicity").rows())
    assert best == {"P": "W", "Q": "A"}


def test_build_refuses_an_unknown_table_and_missing_inputs(world):
    frames, link_map = world
    with pytest.raises(KeyError, match="unknown research table"):
        research.build_research_table("names", YEAR, link_map, frames, f.pseudonymise)
    with pytest.raises(ValueError, match="needs hes_apc"):
        research.build_research_table("hospital_episodes", YEAR, link_map, {"births": frames["births"]}, f.pseudonymise)

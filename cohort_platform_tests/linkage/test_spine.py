"""The births spine: duplicate registrations folded, twins kept apart, partitions by birth year."""

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from cohort_platform.linkage.spine import (
    candidate_records, connected_components, deduplicate_births, enrich_spine, spine_for_year,
)
from cohort_platform_tests.linkage.factories import d, ids

TWIN_A = dict(record_id="b1", nhs_number="4000000001", forename="AMY", surname="KHAN", dob=d("2010-03-04"), sex="2",
              postcode="TS1 1AB")
TWIN_B = dict(record_id="b2", nhs_number="4000000002", forename="ZOE", surname="KHAN", dob=d("2010-03-04"), sex="2",
              postcode="TS1 1AB")


def test_a_duplicate_registration_with_the_same_nhs_number_is_the_same_person():
    births = ids("births", [TWIN_A, {**TWIN_A, "record_id": "b9", "forename": None}])
    spine = deduplicate_births(births)
    assert spine["person_id"].to_list() == ["b1", "b1"]
    assert spine.filter(pl.col("record_id") == "b9")["duplicate_rule"].item() == "same_nhs_number"
    assert spine.filter(pl.col("is_kept"))["record_id"].to_list() == ["b1"]


def test_a_duplicate_without_nhs_number_is_found_by_name_dob_sex_and_postcode():
    births = ids("births", [TWIN_A, {**TWIN_A, "record_id": "b0", "nhs_number": None, "nhs_number_any": None}])
    spine = deduplicate_births(births)
    assert set(spine["person_id"]) == {"b0"}  # the smallest record_id names the person


def test_twins_are_two_people():
    spine = deduplicate_births(ids("births", [TWIN_A, TWIN_B]))
    assert sorted(spine["person_id"]) == ["b1", "b2"]


def test_twins_given_the_same_name_are_still_two_people():
    # identical but for the NHS number: two children, not a duplicate registration (their hospital
    # records, linked by NHS number, must not be pooled)
    same_name = {**TWIN_B, "forename": TWIN_A["forename"]}
    spine = deduplicate_births(ids("births", [TWIN_A, same_name]))
    assert sorted(spine["person_id"]) == ["b1", "b2"]
    # a third registration without an NHS number cannot say which twin it is a copy of: it joins
    # one, but never bridges the two into one person
    third = {**TWIN_A, "record_id": "b3", "nhs_number": None, "nhs_number_any": None}
    spine = deduplicate_births(ids("births", [TWIN_A, same_name, third]))
    assert spine.filter(pl.col("record_id") == "b1")["person_id"].item() != spine.filter(
        pl.col("record_id") == "b2")["person_id"].item()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["4000000001", "4000000002", "4000000003", None]),
                          st.sampled_from(["AMY", "ZOE"]), st.sampled_from(["TS1 1AB", "TS2 2AB"])),
                min_size=1, max_size=12))
def test_no_person_on_the_spine_holds_two_nhs_numbers(rows):
    births = ids("births", [{**TWIN_A, "record_id": f"b{i:02d}", "nhs_number": n, "nhs_number_any": n,
                             "forename": f, "postcode": p} for i, (n, f, p) in enumerate(rows)])
    spine = deduplicate_births(births)
    per_person = spine.filter(pl.col("nhs_number").is_not_null()).group_by("person_id").agg(pl.col("nhs_number").n_unique())
    assert (per_person["nhs_number"] <= 1).all()
    same = spine.filter(pl.col("nhs_number").is_not_null()).group_by("nhs_number").agg(pl.col("person_id").n_unique())
    assert (same["person_id"] == 1).all()  # and one NHS number is one person


def test_duplicates_chain_transitively():
    labels = connected_components(pl.Series(["a", "b", "c", "d"]), pl.DataFrame({"a": ["a", "c"], "b": ["b", "b"]}))
    assert dict(zip(labels["node"], labels["label"])) == {"a": "a", "b": "a", "c": "a", "d": "d"}


def test_candidate_records_reach_one_day_beyond_the_year():
    rows = ids("hes_apc", [{"record_id": str(i), "dob": d(x)} for i, x in
                           enumerate(["2009-12-30", "2009-12-31", "2010-06-01", "2011-01-01", "2011-01-02"])])
    assert candidate_records(rows, 2010)["record_id"].to_list() == ["1", "2", "3"]


def test_spine_for_year_takes_every_registration_of_the_years_persons():
    births = ids("births", [TWIN_A, {**TWIN_A, "record_id": "b9", "dob": d("2009-12-31")},
                            {**TWIN_B, "dob": d("2011-02-02")}])
    spine = deduplicate_births(births)
    assert sorted(spine_for_year(spine, 2010)["record_id"]) == ["b1", "b9"]
    assert spine_for_year(spine, 2009).is_empty()


def test_aliases_add_what_other_datasets_saw_of_a_person():
    spine = deduplicate_births(ids("births", [TWIN_A, TWIN_B]))
    observed = pl.DataFrame({"person_id": ["b1", "b1", "b2"], "forename": ["AMES", None, "ZOE"],
                             "surname": ["KHAN SMITH", None, "KHAN"], "postcode": [None, "TS9 9ZZ", "TS1 1AB"]})
    out = enrich_spine(spine, observed)
    aliases = out.filter(pl.col("duplicate_rule") == "alias").sort("postcode", nulls_last=True)
    # the registration fills what the observing record lacked; nothing already on the spine is repeated
    assert aliases.select("person_id", "forename", "surname", "postcode").rows() == [
        ("b1", "AMES", "KHAN SMITH", "TS1 1AB"), ("b1", "AMY", "KHAN", "TS9 9ZZ")]
    assert set(aliases["dob"]) == {TWIN_A["dob"]} and set(aliases["nhs_number"]) == {TWIN_A["nhs_number"]}
    assert aliases["postcode_district"].to_list() == ["TS1", "TS9"]
    assert not aliases["is_kept"].any()

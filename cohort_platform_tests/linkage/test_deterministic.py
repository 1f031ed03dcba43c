"""Deterministic rules: nhs_dob_sex, upn_via_npd, care_record."""

import duckdb
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cohort_platform.linkage.deterministic import (
    CARE_RECORD, NHS_DOB_SEX, UPN_VIA_NPD, key_person_map, link_by_key, link_by_rule,
)
from cohort_platform_tests.linkage.factories import d, ids, spine_of

CHILD = dict(record_id="b1", nhs_number="4000000001", forename="AMY", surname="KHAN", dob=d("2010-03-04"), sex="2")
OTHER = dict(record_id="b2", nhs_number="4000000002", forename="ZOE", surname="KHAN", dob=d("2010-03-04"), sex="2")


@pytest.fixture(scope="module")
def con():
    return duckdb.connect()


@pytest.fixture(scope="module")
def spine():
    return spine_of(ids("births", [CHILD, OTHER]))


def test_nhs_dob_sex_links_when_number_dob_and_sex_agree(con, spine):
    hes = ids("hes_apc", [dict(record_id="e1", nhs_number="4000000001", dob=d("2010-03-04"), sex="2")])
    out = link_by_rule(con, NHS_DOB_SEX, spine, hes)
    assert out.rows() == [("e1", "b1", "nhs_dob_sex")]


@pytest.mark.parametrize("change", [
    {"dob": d("2010-04-03")},  # transposed: left to the model
    {"sex": "1"},
    {"sex": None},
    {"nhs_number": None},  # missing, or invalid (the projection nulls an invalid number)
])
def test_nhs_dob_sex_does_not_link_when_anything_disagrees_or_is_missing(con, spine, change):
    row = dict(record_id="e1", nhs_number="4000000001", dob=d("2010-03-04"), sex="2") | change
    assert link_by_rule(con, NHS_DOB_SEX, spine, ids("hes_apc", [row])).is_empty()


def test_nhs_dob_sex_leaves_a_number_shared_by_two_persons_to_the_model(con):
    spine = spine_of(ids("births", [CHILD, {**OTHER, "nhs_number": "4000000001"}]))
    hes = ids("hes_apc", [dict(record_id="e1", nhs_number="4000000001", dob=d("2010-03-04"), sex="2")])
    assert link_by_rule(con, NHS_DOB_SEX, spine, hes).is_empty()


def test_nhs_dob_sex_links_to_the_person_of_a_duplicate_registration(con):
    spine = spine_of(ids("births", [CHILD, {**CHILD, "record_id": "b7"}])).with_columns(pl.lit("b1").alias("person_id"))
    hes = ids("hes_apc", [dict(record_id="e1", nhs_number="4000000001", dob=d("2010-03-04"), sex="2")])
    assert link_by_rule(con, NHS_DOB_SEX, spine, hes)["person_id"].to_list() == ["b1"]


def test_upn_via_npd_gives_the_person_of_a_linked_upn():
    linked_census = pl.DataFrame({"upn": ["A1", "A1", "B2"], "person_id": ["p1", "p1", "p2"]})
    key_map = key_person_map(linked_census, "upn")
    ks2 = ids("npd_ks2", [dict(record_id="k1", upn="A1"), dict(record_id="k2", upn="C3"), dict(record_id="k3")])
    assert link_by_key(UPN_VIA_NPD, ks2, key_map).rows() == [("k1", "p1", "upn_via_npd")]


def test_a_upn_linked_to_two_persons_gives_nobody():
    key_map = key_person_map(pl.DataFrame({"upn": ["A1", "A1"], "person_id": ["p1", "p2"]}), "upn")
    assert key_map.is_empty()


def test_care_record_gives_the_person_to_every_episode_of_the_child():
    key_map = key_person_map(pl.DataFrame({"person_key": ["201:c7"], "person_id": ["p1"]}), "person_key")
    cla = ids("cla", [dict(record_id="x1", person_key="201:c7"), dict(record_id="x2", person_key="202:c7")])
    assert link_by_key(CARE_RECORD, cla, key_map).rows() == [("x1", "p1", "care_record")]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["A", "B", "C"]), st.sampled_from(["p1", "p2", None])), max_size=12))
def test_key_map_holds_only_unanimous_keys(pairs):
    frame = pl.DataFrame(pairs, schema={"upn": pl.String, "person_id": pl.String}, orient="row")
    key_map = key_person_map(frame, "upn")
    for key, person in key_map.iter_rows():
        assert set(frame.filter((pl.col("upn") == key) & pl.col("person_id").is_not_null())["person_id"]) == {person}

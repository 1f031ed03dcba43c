"""Mothers: maternal admissions in the year before birth, maternities, survey parents."""

import polars as pl

from cohort_platform.linkage.identifiers import BIRTH_MOTHER_SCHEMA, MATERNITY_SCHEMA
from cohort_platform.linkage.mothers import link_mother_admissions, link_survey_parents, maternities
from cohort_platform_tests.linkage.factories import d, ids


def births(*rows):
    base = {k: None for k in BIRTH_MOTHER_SCHEMA}
    return pl.DataFrame([base | r for r in rows], schema=BIRTH_MOTHER_SCHEMA).with_columns(
        pl.col("record_id").alias("person_id"))


def episodes(*rows):
    base = {k: None for k in MATERNITY_SCHEMA} | {"is_delivery": False}
    return pl.DataFrame([base | r for r in rows], schema=MATERNITY_SCHEMA)


BIRTH = dict(record_id="b1", dob=d("2010-06-15"), mother_nhs_number="4000000001", mother_dob=d("1985-02-03"),
             postcode="TS1 1AB", multiplicity=1, birth_order=1)


def test_admissions_in_the_year_up_to_the_birth_attach_to_the_child():
    eps = episodes(dict(record_id="m1", nhs_number="4000000001", dob=d("1985-02-03"), epistart=d("2010-01-10")),
                   dict(record_id="m2", nhs_number="4000000001", dob=d("1985-02-03"), epistart=d("2009-05-01")),
                   dict(record_id="m3", nhs_number="4000000001", dob=d("1985-02-03"), epistart=d("2010-06-20")),
                   dict(record_id="m4", nhs_number="4000000001", dob=d("1985-02-03"), epistart=d("2010-06-15")))
    out = link_mother_admissions(births(BIRTH), eps)
    assert sorted(out["record_id"]) == ["m1", "m4"]
    assert set(out["role"]) == {"mother"} and set(out["step"]) == {"mother_nhs"}


def test_an_episode_whose_patient_dob_contradicts_the_mother_is_not_hers():
    eps = episodes(dict(record_id="m1", nhs_number="4000000001", dob=d("1979-09-09"), epistart=d("2010-01-10")))
    assert link_mother_admissions(births(BIRTH), eps).is_empty()


def test_without_an_nhs_number_the_mothers_dob_and_postcode_link():
    eps = episodes(dict(record_id="m1", dob=d("1985-02-03"), postcode="TS1 1AB", epistart=d("2010-03-01")),
                   dict(record_id="m2", dob=d("1985-02-03"), postcode="TS9 9ZZ", epistart=d("2010-03-01")))
    out = link_mother_admissions(births(BIRTH), eps)
    assert out.select("record_id", "step").rows() == [("m1", "mother_dob_postcode")]


def test_twins_share_their_mothers_admissions():
    twins = births(BIRTH | {"multiplicity": 2}, BIRTH | {"record_id": "b2", "multiplicity": 2, "birth_order": 2})
    eps = episodes(dict(record_id="m1", nhs_number="4000000001", epistart=d("2010-01-10")))
    assert sorted(link_mother_admissions(twins, eps)["person_id"]) == ["b1", "b2"]


def test_a_maternity_is_the_births_of_one_mother_on_one_day():
    b = births(BIRTH, BIRTH | {"record_id": "b2"}, BIRTH | {"record_id": "b3", "dob": d("2012-01-01")},
               BIRTH | {"record_id": "b4", "mother_nhs_number": None})
    out = dict(maternities(b).iter_rows())
    assert out["b1"] == out["b2"] == out["b4"] == "b1"
    assert out["b3"] == "b3"


def test_survey_parents_link_to_their_familys_linked_children():
    survey = ids("survey", [dict(record_id="s1", role="child", family_key="f1"),
                            dict(record_id="s2", role="mother", family_key="f1"),
                            dict(record_id="s3", role="father", family_key="f1"),
                            dict(record_id="s4", role="mother", family_key="f2")])
    child_links = pl.DataFrame({"record_id": ["s1"], "person_id": ["b1"], "match_probability": [0.99]})
    out = link_survey_parents(survey, child_links)
    assert sorted(out.select("record_id", "person_id", "role").rows()) == [("s2", "b1", "mother"), ("s3", "b1", "father")]


def test_family_postcodes_come_from_the_mothers_number_across_births_and_episodes():
    from cohort_platform.linkage.mothers import family_postcodes

    child = births(BIRTH)
    sibling = births(BIRTH | {"record_id": "b7", "dob": d("2013-01-01"), "postcode": "TS4 4DD"})
    stranger = births(BIRTH | {"record_id": "b8", "mother_nhs_number": "4999999999", "postcode": "TS8 8HH"})
    eps = episodes(dict(record_id="m1", nhs_number="4000000001", postcode="TS5 5EE", epistart=d("2016-01-01")))
    out = family_postcodes(child, pl.concat([child, sibling, stranger]).drop("person_id"), eps)
    assert sorted(out["postcode"]) == ["TS1 1AB", "TS4 4DD", "TS5 5EE"]
    assert set(out["person_id"]) == {"b1"}

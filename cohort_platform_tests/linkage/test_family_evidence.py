"""The mother's date of birth as evidence: two namesakes born the same day, told apart by their mothers."""

from __future__ import annotations

import datetime as dt
import random

import duckdb
import polars as pl

from cohort_platform.linkage.identifiers import identifiers_of
from cohort_platform.linkage.pipeline import PLANS, link_probabilistically, spine_with_mother_dob, with_mother_dob
from cohort_platform_tests.linkage.factories import d, ids, spine_of

FORENAMES = ["OLIVIA", "AMELIA", "ISLA", "AVA", "NOAH", "OLIVER", "GEORGE", "ARTHUR", "MUHAMMAD", "LEO", "FREYA", "JACK"]
SURNAMES = ["SMITH", "JONES", "TAYLOR", "BROWN", "WILLIAMS", "WILSON", "JOHNSON", "DAVIES", "PATEL", "WRIGHT"]


def test_a_survey_child_takes_the_mothers_date_of_birth_from_her_family_row():
    survey = ids("survey", [
        {"record_id": "c1", "dob": d("2010-04-13"), "family_key": "F1", "role": "child"},
        {"record_id": "m1", "dob": d("1982-02-01"), "family_key": "F1", "role": "mother"},
        {"record_id": "c2", "dob": d("2010-05-01"), "family_key": "F2", "role": "child"},
    ])
    out = with_mother_dob(survey.filter(pl.col("role") == "child"), survey)
    assert dict(zip(out["record_id"], out["mother_dob"])) == {"c1": d("1982-02-01"), "c2": None}


def test_a_dataset_without_mothers_is_left_as_it_is():
    census = ids("census_2021", [{"record_id": "r1", "dob": d("2010-04-13"), "family_key": "H1"}])
    assert "mother_dob" not in with_mother_dob(census, census).columns


def test_a_census_child_takes_the_mothers_date_of_birth_from_the_head_of_its_household():
    # the contract's census: relationship to the household reference person (HRP), sex 1 male 2 female
    clean = pl.DataFrame({
        "record_id": ["c1", "m1", "f1", "c2", "g2", "c3", "m3", "p3"],
        "household_id": ["H1", "H1", "H1", "H2", "H2", "H3", "H3", "H3"],
        "forename": ["ISLA", "AMY", "TOM", "LEO", "ROSE", "AVA", "EVE", "JO"],
        "surname": ["SMITH"] * 8,
        "dob": [d("2010-04-13"), d("1982-02-01"), d("1980-07-07"), d("2010-05-01"), d("1950-03-03"),
                d("2010-06-06"), d("1985-01-01"), d("1984-09-09")],
        "sex": ["2", "2", "1", "1", "2", "2", "2", "2"],
        "postcode": ["AB1 2CD"] * 8,
        "relationship_to_hrp": ["Child", "Husband or wife", "Household reference person", "Grandchild",
                                "Household reference person", "Child", "Household reference person", " partner "],
    })
    census = identifiers_of("census_2021", clean)
    assert dict(zip(census["record_id"], census["role"])) == {
        "c1": None, "m1": "mother", "f1": "father", "c2": None, "g2": "mother", "c3": None, "m3": "mother",
        "p3": "mother"}
    out = with_mother_dob(census.filter(pl.col("role").is_null()), census)
    # H2's head is a grandmother: the comparison will disagree, which the model allows; H3 has two
    # women at its head, so it says nothing
    assert dict(zip(out["record_id"], out["mother_dob"])) == {"c1": d("1982-02-01"), "c2": d("1950-03-03"), "c3": None}


def _world(n: int = 400, seed: int = 3):
    rng = random.Random(seed)
    births, mothers, survey = [], [], []
    for i in range(n):
        dob = dt.date(2010, 1, 1) + dt.timedelta(days=rng.randrange(365))
        row = {"record_id": f"B{i}", "nhs_number": None, "forename": rng.choice(FORENAMES),
               "surname": rng.choice(SURNAMES), "dob": dob, "sex": "2" if i % 2 else "1",
               "postcode": f"AB{i % 40} {i % 9}XY"}
        births.append(row)
        mothers.append({"record_id": f"B{i}", "mother_dob": dt.date(1975, 1, 1) + dt.timedelta(days=rng.randrange(7000))})
    # two namesakes born the same day (not twins: different mothers, different homes)
    births[1].update(forename="OLIVIA", surname="WRIGHT", dob=d("2010-04-13"), sex="2", postcode="CV3 5BD")
    births[3].update(forename="OLIVIA", surname="WRIGHT", dob=d("2010-04-13"), sex="2", postcode="LS8 2TH")
    for i, b in enumerate(births[:300]):
        moved = i in (1, 3) or i % 7 == 0  # both namesakes' families have moved since the birth
        survey.append({"record_id": f"S{i}", "forename": b["forename"], "surname": b["surname"], "dob": b["dob"],
                       "sex": b["sex"], "postcode": f"ZZ{i % 50} {i % 9}QQ" if moved else b["postcode"],
                       "family_key": f"F{i}", "role": "child"})
        survey.append({"record_id": f"M{i}", "forename": "MUM", "surname": b["surname"],
                       "dob": mothers[i]["mother_dob"], "sex": "2", "family_key": f"F{i}", "role": "mother"})
    spine = spine_of(ids("births", births))
    return spine, pl.DataFrame(mothers), ids("survey", survey)


def test_namesakes_born_the_same_day_are_told_apart_by_their_mothers_dates_of_birth():
    spine, births_mothers, survey = _world()
    spine = spine_with_mother_dob(spine, births_mothers)
    children = with_mother_dob(survey.filter(pl.col("role") == "child"), survey)
    empty = pl.DataFrame(schema={"record_id": pl.String, "person_id": pl.String})
    outcome = link_probabilistically(duckdb.connect(), "survey", spine, children, empty, PLANS["survey"])
    linked = dict(outcome.decisions.filter(pl.col("decision") == "linked").select("record_id", "person_id").iter_rows())
    assert linked.get("S1") == "B1"
    assert linked.get("S3") == "B3"

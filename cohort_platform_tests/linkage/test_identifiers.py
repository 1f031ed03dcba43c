"""Identifier separation: the projection every linkage step reads."""

import datetime as dt

import polars as pl
import pytest

from cohort_platform.contract.datasets import DATASETS
from cohort_platform.linkage.identifiers import (
    IDENTIFIER_SCHEMA, MATERNITY_SCHEMA, SOURCES, identifiers_of, linkage_inputs, maternity_episodes_of,
)


def clean_frame(dataset: str, rows: int = 2) -> pl.DataFrame:
    """A clean frame with every contract column (ingestion's shape), values filled per kind."""
    values = {}
    for c in DATASETS[dataset].columns:
        if c.kind == "date":
            v = dt.date(2010, 5, 4)
        elif c.kind == "int":
            v = 1
        elif c.kind == "float":
            v = 1.0
        elif c.kind == "code":
            v = c.codes[0]
        elif c.kind == "nhs_number":
            v = "9434765919"
        elif c.kind == "upn":
            v = "A123456789012"
        elif c.kind == "postcode":
            v = "SW1A 1AA"
        else:
            v = "X"
        values[c.name] = [v] * rows
        if c.kind in ("nhs_number", "upn", "postcode"):
            values[f"{c.name}_valid"] = [True] * rows
    values["record_id"] = [f"r{i}" for i in range(rows)]
    values["source_file"] = ["f.csv"] * rows
    values["source_line"] = list(range(2, rows + 2))
    return pl.DataFrame(values)


def identifier_columns(dataset: str) -> set[str]:
    """Clean columns the projection may read: the identifiers and keys declared in SOURCES."""
    src = SOURCES[dataset]
    named = {src.nhs_number, src.upn, src.forename, src.surname, src.postcode, src.event_date, src.academic_year,
             src.family_key, src.role, *src.person_key}
    return {c for c in named if c} | {"record_id", "dob", "sex"} | ({"epitype"} if src.mother_episode_types else set())


SENTINELS = {"date": dt.date(1999, 9, 9), "int": 777, "float": 777.5}


@pytest.mark.parametrize("dataset", sorted(SOURCES))
def test_projection_has_the_common_schema_and_no_content(dataset):
    """Every content column holds a sentinel value; none of them may surface in the projection."""
    frame = clean_frame(dataset)
    content = [c for c in DATASETS[dataset].columns if c.name not in identifier_columns(dataset)]
    frame = frame.with_columns(
        pl.lit(SENTINELS.get(c.kind, "CONTENT-VALUE")).cast(frame.schema[c.name]).alias(c.name)
        for c in content if c.kind not in ("code",)
    )
    out = identifiers_of(dataset, frame)
    assert dict(out.schema) == IDENTIFIER_SCHEMA
    assert out.height == 2
    cells = {v for col in out.columns for v in out[col].to_list()}
    assert not cells & {"CONTENT-VALUE", *SENTINELS.values()}
    assert not {c.name for c in content} & set(out.columns)


def test_an_invalid_nhs_number_is_kept_only_for_near_miss_comparison():
    hes = clean_frame("hes_apc").with_columns(pl.Series("newnhsno_valid", [True, False]))
    out = identifiers_of("hes_apc", hes)
    assert out["nhs_number"].to_list() == ["9434765919", None]
    assert out["nhs_number_any"].to_list() == ["9434765919", "9434765919"]


def test_a_missing_nhs_number_is_null_in_both_columns():
    deaths = clean_frame("deaths").with_columns(pl.lit(None, pl.String).alias("nhs_number"),
                                                pl.lit(None, pl.Boolean).alias("nhs_number_valid"))
    out = identifiers_of("deaths", deaths)
    assert out["nhs_number"].null_count() == 2 and out["nhs_number_any"].null_count() == 2


@pytest.mark.parametrize(("dataset", "codes", "expected"), [
    ("npd_census", ["M", "F"], ["1", "2"]),
    ("hes_apc", ["0", "9"], [None, None]),
    ("births", ["1", "9"], ["1", None]),
])
def test_sex_codes_are_harmonised(dataset, codes, expected):
    out = identifiers_of(dataset, clean_frame(dataset).with_columns(pl.Series("sex", codes)))
    assert out["sex"].to_list() == expected


def test_postcode_district_is_the_outward_code_and_invalid_postcodes_are_dropped():
    census = clean_frame("census_2021").with_columns(pl.Series("postcode", ["SW1A 1AA", "XX"]),
                                                     pl.Series("postcode_valid", [True, False]))
    out = identifiers_of("census_2021", census)
    assert out["postcode"].to_list() == ["SW1A 1AA", None]
    assert out["postcode_district"].to_list() == ["SW1A", None]


def test_a_hes_delivery_episode_is_the_mothers_and_survey_roles_are_carried():
    hes = clean_frame("hes_apc").with_columns(pl.Series("epitype", ["2", "1"]))
    assert identifiers_of("hes_apc", hes)["role"].to_list() == ["mother", None]
    survey = clean_frame("survey").with_columns(pl.Series("role", ["father", "child"]))
    assert identifiers_of("survey", survey)["role"].to_list() == ["father", "child"]


def test_census_rows_are_dated_census_day_and_npd_rows_carry_the_academic_year():
    assert identifiers_of("census_2011", clean_frame("census_2011"))["event_date"][0] == dt.date(2011, 3, 27)
    assert identifiers_of("npd_ks4", clean_frame("npd_ks4"))["academic_year"].to_list() == [1, 1]


def test_care_episodes_carry_the_la_and_child_id_as_person_key():
    cla = clean_frame("cla").with_columns(pl.Series("child_id", ["c1", "c2"]))
    assert identifiers_of("cla", cla)["person_key"].to_list() == ["X:c1", "X:c2"]


def test_maternity_episodes_keep_only_adults():
    hes = clean_frame("hes_apc").with_columns(
        pl.Series("dob", [dt.date(1985, 1, 1), dt.date(2009, 1, 1)]),
        pl.Series("epistart", [dt.date(2010, 5, 1), dt.date(2010, 5, 1)]),
    )
    out = maternity_episodes_of(hes)
    assert dict(out.schema) == MATERNITY_SCHEMA
    assert out["record_id"].to_list() == ["r0"]


def test_an_unknown_dataset_is_refused():
    with pytest.raises(ValueError, match="not a dataset"):
        identifiers_of("opt_outs", pl.DataFrame({"nhs_number": ["1"]}))


def test_linkage_inputs_need_births():
    with pytest.raises(ValueError, match="births"):
        linkage_inputs({"deaths": clean_frame("deaths")})

"""One birth year linked end to end on a small hand-built world with known truth (Splink included).

The world (`world.py`): 300 children born in 2010, 20 pairs of twins (same date of birth, mother,
postcode and surname; different forenames; same or different sex), a 2021 census with typos,
surname changes, moves and transposed dates of birth, HES episodes with valid, missing and invalid
NHS numbers, two school censuses and KS2 results (UPN only), and one delivery episode per maternity.
"""

import duckdb
import polars as pl
import pytest

from cohort_platform.linkage.identifiers import linkage_inputs
from cohort_platform.linkage.link_map import link_map_problems
from cohort_platform.linkage.pipeline import LinkageSettings, link_birth_year
from cohort_platform.linkage.quality import linkage_quality
from cohort_platform_tests.linkage.world import make_world


@pytest.fixture(scope="module")
def world():
    return make_world(n_children=300, n_twin_pairs=20, year=2010, seed=7)


@pytest.fixture(scope="module")
def linked(world):
    con = duckdb.connect()
    inputs = linkage_inputs(world.clean)
    # a world of 300 children has few borderline records: keep the pairs of a wide band for the
    # clerical-sample test (the default keeps 5 bits either side of the threshold)
    result = link_birth_year(con, 2010, inputs, settings=LinkageSettings(keep_pairs_within=25.0))
    return result, inputs, con


def child_rows(result, world, dataset):
    truth = world.truth[dataset]
    if "role" in truth.columns:
        truth = truth.filter(pl.col("role") == "child")
    return (
        result.link_map.filter((pl.col("dataset") == dataset) & (pl.col("role") == "child"))
        .join(truth.select("record_id", pl.col("person_id").alias("true_person")), on="record_id", how="left")
    )


@pytest.mark.parametrize("dataset", ["census_2021", "hes_apc", "npd_census", "npd_ks2"])
def test_no_record_is_linked_to_the_wrong_child(linked, world, dataset):
    rows = child_rows(linked[0], world, dataset)
    wrong = rows.filter(pl.col("person_id").is_not_null() & (pl.col("person_id") != pl.col("true_person")))
    assert wrong.is_empty(), wrong


@pytest.mark.parametrize(("dataset", "minimum"), [("census_2021", 0.95), ("hes_apc", 0.95), ("npd_census", 0.97)])
def test_nearly_every_record_links(linked, world, dataset, minimum):
    rows = child_rows(linked[0], world, dataset)
    assert rows["person_id"].is_not_null().mean() >= minimum


def test_twins_are_never_cross_linked(linked, world):
    twins = world.children.filter(pl.col("multiplicity") == 2)["person_id"]
    for dataset in ("census_2021", "hes_apc", "npd_census"):
        rows = child_rows(linked[0], world, dataset).filter(pl.col("true_person").is_in(twins.implode()))
        assert rows.filter(pl.col("person_id").is_not_null()).height > 0
        assert rows.filter(pl.col("person_id").is_not_null() & (pl.col("person_id") != pl.col("true_person"))).is_empty()


def test_records_with_a_changed_surname_still_link(linked, world):
    census = world.clean["census_2021"].join(world.truth["census_2021"], on="record_id").join(
        world.children.select("person_id", pl.col("surname").alias("birth_surname")), on="person_id")
    changed = census.filter(pl.col("surname") != pl.col("birth_surname"))["record_id"]
    rows = child_rows(linked[0], world, "census_2021").filter(pl.col("record_id").is_in(changed.implode()))
    assert rows.height >= 5
    assert (rows["person_id"] == rows["true_person"]).mean() >= 0.8


def test_records_with_day_and_month_transposed_still_link(linked, world):
    census = world.clean["census_2021"].join(world.truth["census_2021"], on="record_id").join(
        world.children.select("person_id", pl.col("dob").alias("birth_dob")), on="person_id")
    swapped = census.filter(pl.col("dob") != pl.col("birth_dob"))["record_id"]
    rows = child_rows(linked[0], world, "census_2021").filter(pl.col("record_id").is_in(swapped.implode()))
    assert rows.height >= 2
    assert (rows["person_id"] == rows["true_person"]).all()


def test_hes_records_with_missing_or_invalid_nhs_numbers_link_through_the_model(linked, world):
    hes = world.clean["hes_apc"].filter(pl.col("epitype") != "2")
    no_valid = hes.filter(pl.col("newnhsno_valid").is_null() | ~pl.col("newnhsno_valid"))["record_id"]
    rows = child_rows(linked[0], world, "hes_apc").filter(pl.col("record_id").is_in(no_valid.implode()))
    assert rows.height >= 10
    assert set(rows["step"]) <= {"probabilistic", "unlinked"}
    assert (rows["person_id"] == rows["true_person"]).mean() >= 0.85


def test_valid_nhs_numbers_link_deterministically(linked, world):
    rows = child_rows(linked[0], world, "hes_apc")
    valid = world.clean["hes_apc"].filter(pl.col("newnhsno_valid").fill_null(False) & (pl.col("epitype") != "2"))
    assert set(rows.join(valid.select("record_id"), on="record_id")["step"]) == {"nhs_dob_sex"}


def test_one_census_row_per_child_and_one_school_row_per_child_and_year(linked, world):
    lm = linked[0].link_map.filter(pl.col("person_id").is_not_null() & (pl.col("role") == "child"))
    assert lm.filter(pl.col("dataset") == "census_2021")["person_id"].is_unique().all()
    npd = lm.filter(pl.col("dataset") == "npd_census").join(
        world.clean["npd_census"].select("record_id", "academic_year"), on="record_id")
    assert npd.select("person_id", "academic_year").is_unique().all()


def test_key_stage_results_link_through_the_upn(linked, world):
    rows = child_rows(linked[0], world, "npd_ks2")
    assert set(rows.filter(pl.col("person_id").is_not_null())["step"]) == {"upn_via_npd"}


def test_the_link_map_holds_every_candidate_record_once_as_a_child(linked):
    result = linked[0]
    assert link_map_problems(result.link_map, result.candidates, persons=result.spine["person_id"]) == []


def test_every_birth_gets_its_mothers_delivery_episode(linked, world):
    delivery_truth = world.truth["hes_apc"].filter(pl.col("role") == "mother")
    got = linked[0].link_map.filter(pl.col("step") == "mother_baby_delivery").select("record_id", "person_id")
    assert got.join(delivery_truth, on=["record_id", "person_id"], how="anti").is_empty()
    assert got["person_id"].n_unique() == world.children.height


def test_quality_reports_every_linked_dataset(linked):
    result, inputs, con = linked
    q = linkage_quality(result, inputs, con=con)
    meta = q.metadata()
    for ds in ("census_2021", "hes_apc", "npd_census", "npd_ks2"):
        assert f"{ds}/link_rate" in meta
    assert meta["mother_baby/coverage"] == 1.0
    assert q.nhs_check.filter((pl.col("dataset") == "hes_apc") & (pl.col("step") == "all"))["precision"].item() == 1.0
    assert not q.blocking.is_empty()


def test_only_pairs_near_the_threshold_are_kept_for_review(linked):
    result, _, _ = linked
    for name, o in result.outcomes.items():
        if name != "mother_baby" and not o.pairs.is_empty():
            assert ((o.pairs["match_weight"] - o.threshold).abs() <= 25.0).all(), name


def test_the_clerical_sample_shows_identifiers_only_when_asked(linked):
    from cohort_platform.linkage.quality import clerical_sample, with_identifiers

    result, inputs, _ = linked
    sample = clerical_sample({k: v for k, v in result.outcomes.items() if k != "mother_baby"}, band=20, per_dataset=3)
    assert not sample.is_empty()
    assert not {"forename", "surname", "dob", "nhs_number", "postcode"} & set(sample.columns)
    secure = with_identifiers(sample, inputs)
    assert {"record_forename", "spine_forename", "spine_dob"} <= set(secure.columns)
    assert secure["spine_dob"].null_count() == 0

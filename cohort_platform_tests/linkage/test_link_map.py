"""The link map: every record once as a child, parents once per child, partitions combined."""

import polars as pl

from cohort_platform.linkage.link_map import (
    LINK_MAP_SCHEMA, assemble_link_map, combine_partitions, complete_link_map, conform, link_map_problems,
)


def rows(*tuples):
    cols = ["dataset", "record_id", "person_id", "role", "match_probability", "match_weight", "step"]
    return conform(pl.DataFrame(list(tuples), schema=cols, orient="row"))


RECORDS = pl.DataFrame({"dataset": ["hes_apc"] * 3, "record_id": ["e1", "e2", "e3"]})


def test_every_record_appears_once_as_a_child_linked_or_not():
    links = rows(("hes_apc", "e1", "p1", "child", 1.0, None, "nhs_dob_sex"),
                 ("hes_apc", "e2", "p2", "child", 0.99, 9.0, "probabilistic"))
    out = assemble_link_map(RECORDS, links)
    assert dict(out.schema) == LINK_MAP_SCHEMA
    assert out.select("record_id", "person_id", "step").rows() == [
        ("e1", "p1", "nhs_dob_sex"), ("e2", "p2", "probabilistic"), ("e3", None, "unlinked")]
    assert link_map_problems(out, RECORDS) == []


def test_a_record_with_several_child_links_keeps_the_strongest_and_the_others_pass_through():
    links = rows(("hes_apc", "e1", "p1", "child", 0.95, 6.0, "probabilistic"),
                 ("hes_apc", "e1", "p1", "child", 1.0, None, "nhs_dob_sex"),  # deterministic outranks any weight
                 ("hes_apc", "e2", "p9", "child", 0.80, 3.0, "probabilistic"),
                 ("hes_apc", "e2", "p2", "child", 0.99, 9.0, "probabilistic"),
                 ("hes_apc", "e3", "p3", "child", 0.90, 4.0, "probabilistic"),  # alone: kept as it is
                 ("hes_apc", "e4", "p4", "child", 0.97, 7.0, "probabilistic"))  # a record not in RECORDS
    out = assemble_link_map(RECORDS, links)
    assert out.select("record_id", "person_id", "step").rows() == [
        ("e1", "p1", "nhs_dob_sex"), ("e2", "p2", "probabilistic"), ("e3", "p3", "probabilistic"),
        ("e4", "p4", "probabilistic")]


def test_a_mothers_record_appears_once_per_child():
    links = rows(("hes_apc", "m1", "twin_a", "mother", 1.0, None, "mother_nhs"),
                 ("hes_apc", "m1", "twin_b", "mother", 1.0, None, "mother_nhs"),
                 ("hes_apc", "m1", "twin_b", "mother", 0.9, 5.0, "mother_baby_delivery"))
    out = assemble_link_map(RECORDS, links).filter(pl.col("role") == "mother")
    assert sorted(out["person_id"]) == ["twin_a", "twin_b"]


def test_combining_partitions_keeps_the_linked_row_of_an_edge_record():
    y2009 = rows(("hes_apc", "e1", None, "child", None, None, "unlinked"))
    y2010 = rows(("hes_apc", "e1", "p1", "child", 0.99, 12.0, "probabilistic"))
    out = combine_partitions([y2009, y2010])
    assert out.select("record_id", "person_id").rows() == [("e1", "p1")]


def test_combining_prefers_a_deterministic_link_to_a_model_score():
    a = rows(("hes_apc", "e1", "p1", "child", 1.0, None, "nhs_dob_sex"))
    b = rows(("hes_apc", "e1", "p2", "child", 0.999, 30.0, "probabilistic"))
    assert combine_partitions([b, a])["person_id"].to_list() == ["p1"]


def test_complete_adds_unlinked_rows_for_records_no_partition_wrote():
    lm = rows(("hes_apc", "e1", "p1", "child", 1.0, None, "nhs_dob_sex"))
    records = pl.DataFrame({"dataset": ["hes_apc", "hes_apc"], "record_id": ["e1", "m9"], "role": [None, "mother"]})
    out = complete_link_map(lm, records)
    assert out.select("record_id", "role", "step").rows() == [("e1", "child", "nhs_dob_sex"), ("m9", "mother", "unlinked")]
    assert link_map_problems(out, records) == []


def test_problems_name_missing_and_doubled_records():
    lm = rows(("hes_apc", "e1", "p1", "child", 1.0, None, "nhs_dob_sex"),
              ("hes_apc", "e1", "p2", "child", 0.9, 5.0, "probabilistic"))
    problems = link_map_problems(lm, RECORDS, persons=pl.Series(["p1"]))
    assert any("more than once as a child" in p for p in problems)
    assert any("2 input records missing" in p for p in problems)
    assert any("not on the spine" in p for p in problems)

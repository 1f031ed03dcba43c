"""Fitting and scoring with Splink: what the cost-saving steps must leave unchanged."""

import dataclasses

import duckdb
import polars as pl
import pytest
from splink import DuckDBAPI, Linker

from cohort_platform.linkage.comparisons import block
from cohort_platform.linkage.identifiers import linkage_inputs
from cohort_platform.linkage.probabilistic import (
    PERSON_MODEL, _register, _settings, fit_and_score, reachable, settled_records, term_frequencies,
)
from cohort_platform.linkage.spine import deduplicate_births, spine_for_year
from cohort_platform_tests.linkage.world import make_world


@pytest.fixture(scope="module")
def census_and_spine():
    world = make_world(n_children=300, n_twin_pairs=20, year=2010, seed=7)
    ids = linkage_inputs(world.clean).identifiers
    spine = spine_for_year(deduplicate_births(ids["births"]), 2010)
    census = ids["census_2021"]
    cols = sorted(PERSON_MODEL.columns & set(spine.columns) & set(census.columns))
    return spine.select("record_id", *cols), census.select("record_id", *cols), world.truth["census_2021"]


def test_term_frequencies_are_those_splink_computes_from_both_tables(census_and_spine):
    spine, census, _ = census_and_spine
    con = duckdb.connect()
    api = DuckDBAPI(con)
    columns = sorted(PERSON_MODEL.restricted_to(set(spine.columns)).columns & set(census.columns))
    tables = [_register(api, spine, "a_left", columns, "tf"), _register(api, census, "b_right", columns, "tf")]
    linker = Linker(tables, _settings(PERSON_MODEL.restricted_to(set(columns)), 1e-4), log_level=None)
    ours = term_frequencies(PERSON_MODEL, spine, census)
    assert set(ours) == {"forename", "surname"}
    for column, frame in ours.items():
        splinks = linker.table_management.compute_tf_table(column).as_pandas_dataframe()
        theirs = pl.from_pandas(splinks).select(column, pl.col(f"tf_{column}").cast(pl.Float64)).sort(column)
        joined = frame.join(theirs, on=column, how="full", suffix="_splink")
        assert joined.height == theirs.height == frame.height
        assert (joined[f"tf_{column}"] - joined[f"tf_{column}_splink"]).abs().max() < 1e-12


def test_reachable_keeps_the_left_rows_a_rule_pairs_with_some_right_row():
    left = pl.DataFrame({
        "record_id": ["a", "b", "c", "d", "e", "f", "g", "h"],
        "dob": ["2010-01-02", "2010-01-02", "2010-01-03", "2010-01-02", None, "2010-05-05", "2010-06-06", "2010-07-07"],
        "postcode": ["X1 1AA", "Y1 1AA", "X1 1AA", None, "Z9 9ZZ", "Q1 1QQ", "Q2 2QQ", "Q3 3QQ"],
    }).with_columns(pl.col("dob").str.to_date())
    right = pl.DataFrame({"record_id": ["r"], "dob": ["2010-01-02"], "postcode": ["Z9 9ZZ"]}).with_columns(
        pl.col("dob").str.to_date())
    rules = [block("dob", "postcode"), block("dob"), block("postcode")]
    got = reachable(duckdb.connect(), left, right, rules, ratio=4)
    assert sorted(got["record_id"]) == ["a", "b", "d", "e"]  # dob 2 Jan (a, b, d) or the postcode (e)
    assert reachable(duckdb.connect(), left, right, rules, ratio=10).equals(left)  # not 10 times larger


def test_the_fallback_rules_change_no_record_that_is_not_settled(census_and_spine):
    """Scoring in two passes (the fallback rules only for the records without a settled candidate)
    gives every record the same candidates as one pass with every rule, but for settled records,
    which lose only candidates far below their best."""
    spine, census, truth = census_and_spine
    con = duckdb.connect()
    two = fit_and_score(con, spine, census, PERSON_MODEL)
    every_rule = dataclasses.replace(
        PERSON_MODEL, blocking=tuple(dataclasses.replace(b, fallback=False) for b in PERSON_MODEL.blocking))
    one = fit_and_score(con, spine, census, every_rule, model=two.model)
    assert any(b.fallback for b in PERSON_MODEL.blocking)
    key = ["left_id", "right_id"]
    # the same model scores a pair the same whichever pass found it
    both = two.pairs.join(one.pairs, on=key, suffix="_one")
    assert both.height == two.pairs.height
    assert (both["match_weight"] - both["match_weight_one"]).abs().max() < 1e-9
    missing = one.pairs.join(two.pairs, on=key, how="anti")
    settled = settled_records(two.pairs, PERSON_MODEL.settled_bayes_factor)
    assert missing.join(settled, on="right_id", how="anti").is_empty()
    best = two.pairs.group_by("right_id").agg(pl.col("bayes_factor_log2").max().alias("best"))
    gap = missing.join(best, on="right_id").select(pl.col("best") - pl.col("bayes_factor_log2"))
    assert gap.is_empty() or gap.min().item() > 3  # the ambiguity margin
    # and the second pass found true pairs the other rules miss (a new surname and a move)
    main_only = dataclasses.replace(PERSON_MODEL, blocking=tuple(b for b in PERSON_MODEL.blocking if not b.fallback))
    first = fit_and_score(con, spine, census, main_only, model=two.model)
    true_pairs = two.pairs.join(truth, left_on=["right_id", "left_id"], right_on=["record_id", "person_id"], how="semi")
    assert true_pairs.join(first.pairs, on=key, how="anti").height > 0


def test_a_record_only_a_fallback_rule_reaches_is_scored_even_when_the_main_rules_reach_nothing(census_and_spine):
    spine, census, _ = census_and_spine
    con = duckdb.connect()
    model = fit_and_score(con, spine, census, PERSON_MODEL).model
    child = spine.row(0, named=True)
    # a new surname and a move to another district: only date of birth + forename can find the child
    moved = pl.DataFrame([{**{c: child[c] for c in census.columns}, "record_id": "moved", "surname": "ZZYZX",
                           "postcode": "ZZ99 9ZZ", "postcode_district": "ZZ99"}], schema=census.schema)
    keep_all = dataclasses.replace(PERSON_MODEL, weight_floor=-100.0)  # however weak, the pair is scored
    scored = fit_and_score(con, spine, moved, keep_all, model=model)
    assert child["record_id"] in scored.pairs["left_id"].to_list()
    assert set(scored.pairs.columns) >= {"left_id", "right_id", "match_weight", "match_probability", "bayes_factor_log2"}

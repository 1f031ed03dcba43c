"""Threshold, ambiguity margin and one-to-one resolution."""

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from cohort_platform.linkage.resolve import ThresholdRule, choose_threshold, resolve_links


def pairs(rows, slot=False):
    schema = {"record_id": pl.String, "person_id": pl.String, "match_weight": pl.Float64}
    if slot:
        schema["slot"] = pl.Int64
    frame = pl.DataFrame(rows, schema=schema, orient="row")
    return frame.with_columns(pl.col("match_weight").cast(pl.Float64),
                              (1 / (1 + (2.0 ** -pl.col("match_weight")))).alias("match_probability"))


def decided(out):
    return {r: (p, dec) for r, p, dec in out.select("record_id", "person_id", "decision").iter_rows()}


def test_threshold_is_the_valley_between_the_two_modes():
    rng = np.random.default_rng(0)
    weights = np.concatenate([rng.normal(-2, 1.0, 3000), rng.normal(14, 1.5, 3000)])
    assert 5 <= choose_threshold(weights) <= 8


def test_threshold_falls_back_to_the_default_without_a_non_match_mode():
    weights = np.random.default_rng(0).normal(20, 2, 1000)
    assert choose_threshold(weights, ThresholdRule(default=6.5)) == 6.5


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-30, 40), min_size=0, max_size=400))
def test_threshold_stays_within_its_bounds(weights):
    rule = ThresholdRule()
    assert rule.lowest <= choose_threshold(np.array(weights), rule) <= rule.highest


def test_the_best_candidate_above_the_threshold_links():
    out = resolve_links(pairs([("r1", "p1", 12), ("r1", "p2", 2), ("r2", "p3", 4)]), threshold=6)
    assert decided(out) == {"r1": ("p1", "linked"), "r2": (None, "below_threshold")}


def test_two_candidates_within_the_margin_leave_the_record_unlinked():
    # a same-sex twin seen only through date of birth, sex and postcode
    out = resolve_links(pairs([("r1", "twin_a", 15), ("r1", "twin_b", 14)]), threshold=6, margin=3)
    assert decided(out) == {"r1": (None, "ambiguous")}


def test_a_person_takes_one_record_and_the_stronger_wins():
    p = pairs([("r1", "p1", 20), ("r2", "p1", 9)])
    assert decided(resolve_links(p, threshold=6, one_to_one=True)) == {"r1": ("p1", "linked"), "r2": (None, "ambiguous")}
    assert decided(resolve_links(p, threshold=6, one_to_one=False)) == {"r1": ("p1", "linked"), "r2": ("p1", "linked")}


def test_two_records_equally_strong_for_one_person_both_stay_unlinked():
    out = resolve_links(pairs([("r1", "p1", 20), ("r2", "p1", 19)]), threshold=6, one_to_one=True)
    assert {v[1] for v in decided(out).values()} == {"ambiguous"}


def test_twin_rows_resolve_once_the_clear_twin_is_taken():
    # census row of twin A lacks a forename: equally like both twins; twin B's row is clear
    p = pairs([("row_a", "twin_a", 14), ("row_a", "twin_b", 14), ("row_b", "twin_b", 25), ("row_b", "twin_a", 13)])
    out = resolve_links(p, threshold=6, margin=3, one_to_one=True)
    assert decided(out) == {"row_a": ("twin_a", "linked"), "row_b": ("twin_b", "linked")}


def test_one_to_one_holds_per_slot():
    p = pairs([("r1", "p1", 20, 2016), ("r2", "p1", 19, 2017), ("r3", "p1", 18, 2017)], slot=True)
    out = resolve_links(p, threshold=6, margin=3, slot="slot", one_to_one=True)
    assert decided(out) == {"r1": ("p1", "linked"), "r2": (None, "ambiguous"), "r3": (None, "ambiguous")}


def test_a_person_already_taken_by_a_deterministic_link_is_not_available():
    p = pairs([("r1", "p1", 20, 2016), ("r1", "p2", 8, 2016)], slot=True)
    taken = pl.DataFrame({"person_id": ["p1"], "slot": [2016]})
    out = resolve_links(p, threshold=6, margin=3, slot="slot", one_to_one=True, taken=taken)
    assert decided(out) == {"r1": ("p2", "linked")}


records = st.sampled_from([f"r{i}" for i in range(6)])
persons = st.sampled_from([f"p{i}" for i in range(4)])


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(records, persons, st.floats(-10, 30)), max_size=25), st.booleans(), st.floats(0, 5))
def test_resolution_never_links_a_record_twice_or_a_person_twice_per_slot(rows, one_to_one, margin):
    # a record sits in one slot (its census, its academic year): r0, r2, r4 in slot 0, the others in 1
    p = pairs([(r, q, w, int(r[1:]) % 2) for r, q, w in rows], slot=True)
    out = resolve_links(p, threshold=3, margin=margin, slot="slot", one_to_one=one_to_one)
    linked = out.filter(pl.col("decision") == "linked")
    assert out["record_id"].is_unique().all()
    assert (linked["match_weight"] >= 3).all()
    if one_to_one:
        slots = linked.join(p.select("record_id", "person_id", "slot").unique(), on=["record_id", "person_id"])
        assert slots.select("person_id", "slot").is_unique().all()

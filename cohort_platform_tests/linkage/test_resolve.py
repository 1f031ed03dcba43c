"""Threshold, ambiguity margin and one-to-one resolution."""

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cohort_platform.linkage.resolve import (
    ThresholdRule, best_and_next, choose_threshold, posterior_threshold, resolve_links,
)


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
    assert 5 <= choose_threshold(weights, match_share=0.5) <= 8


def test_without_unmatched_records_the_threshold_is_the_posterior_rule():
    weights = np.random.default_rng(0).normal(20, 2, 1000)
    assert choose_threshold(weights, match_share=0.999) == pytest.approx(posterior_threshold(0.999))


def test_the_posterior_threshold_rises_as_more_records_are_unmatched():
    closed, open_ = posterior_threshold(0.999), posterior_threshold(0.85)
    assert closed < 1 < 3.5 < open_ < 4.5
    # at the threshold a lone candidate has odds 99:1 against "not on the spine or missed by blocking"
    s, rule = 0.85, ThresholdRule()
    odds = 2 ** open_ / ((1 - s) + s * (1 - rule.blocking_recall))
    assert odds == pytest.approx(rule.posterior / (1 - rule.posterior))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-30, 40), min_size=0, max_size=400), st.floats(0, 1))
def test_threshold_stays_within_its_bounds(weights, share):
    rule = ThresholdRule()
    assert rule.lowest <= choose_threshold(np.array(weights), rule, match_share=share) <= rule.highest


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


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(records, persons, st.sampled_from([2.0, 5.0, 8.0, 8.0, 12.0])), max_size=25),
       st.booleans(), st.randoms(use_true_random=False))
def test_the_decisions_do_not_depend_on_the_order_of_the_pairs_even_with_ties(rows, one_to_one, rnd):
    # equal weights are common (two namesakes scored alike); ties must be decided the same way every run
    p = pairs([(r, q, w, int(r[1:]) % 2) for r, q, w in rows], slot=True).unique(["record_id", "person_id"])
    shuffled = p.sample(fraction=1.0, shuffle=True, seed=rnd.randint(0, 10_000))
    a = resolve_links(p, threshold=3, margin=3, slot="slot", one_to_one=one_to_one).sort("record_id")
    b = resolve_links(shuffled, threshold=3, margin=3, slot="slot", one_to_one=one_to_one).sort("record_id")
    assert a.equals(b)


def test_best_and_next_gives_each_group_its_best_row_and_the_next_weight():
    frame = pl.DataFrame({"record_id": ["r1", "r1", "r1", "r2"], "person_id": ["p1", "p2", "p3", "p1"],
                          "match_weight": [4.0, 9.0, 9.0, 1.0]})
    best = best_and_next(frame, ["record_id"], "runner_up").sort("record_id")
    assert best.select("record_id", "person_id", "match_weight", "runner_up").rows() == [
        ("r1", "p2", 9.0, 9.0),  # a tie: the runner-up is as strong, and p2 comes before p3
        ("r2", "p1", 1.0, None),
    ]
    every = best_and_next(frame, ["person_id"], "rival", keep_all=True)
    assert every.filter(pl.col("person_id") == "p1").select("record_id", "__first", "rival").rows() == [
        ("r1", True, 1.0), ("r2", False, None),
    ]


def test_threshold_cuts_next_to_the_non_match_mode_when_matches_have_two_modes():
    # matches whose postcode agrees (~16) and whose family moved (~9); non-matches around 0.5
    rng = np.random.default_rng(1)
    weights = np.concatenate([rng.normal(0.5, 1.0, 800), rng.normal(9, 0.8, 1500), rng.normal(16, 1.5, 4000)])
    t = choose_threshold(weights, match_share=0.9)
    assert posterior_threshold(0.9) < t <= 7


def test_a_handful_of_low_weights_is_not_a_non_match_mode():
    rng = np.random.default_rng(2)
    weights = np.concatenate([rng.normal(-1, 1.0, 5), rng.normal(6, 0.8, 300), rng.normal(16, 1.5, 2000)])
    assert choose_threshold(weights, match_share=0.9) == pytest.approx(posterior_threshold(0.9))


def test_two_entities_of_one_person_may_link_when_their_slots_do_not_overlap():
    # one child, two UPNs (a new UPN after a move): 2014-2016 under one, 2017-2019 under the other
    p = pairs([("upn_a", "p1", 15), ("upn_b", "p1", 14)])
    slots = pl.DataFrame({"record_id": ["upn_a"] * 3 + ["upn_b"] * 3, "year": [2014, 2015, 2016, 2017, 2018, 2019]})
    out = resolve_links(p, threshold=3, margin=3, one_to_one=True, slots=slots)
    assert decided(out) == {"upn_a": ("p1", "linked"), "upn_b": ("p1", "linked")}


def test_two_entities_sharing_a_slot_contest_the_person():
    p = pairs([("upn_a", "p1", 15), ("upn_b", "p1", 14), ("upn_b", "p2", 2)])
    slots = pl.DataFrame({"record_id": ["upn_a", "upn_a", "upn_b", "upn_b"], "year": [2014, 2015, 2015, 2016]})
    out = resolve_links(p, threshold=3, margin=3, one_to_one=True, slots=slots)
    assert {r: v[1] for r, v in decided(out).items()} == {"upn_a": "ambiguous", "upn_b": "ambiguous"}

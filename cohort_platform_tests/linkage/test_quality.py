"""Quality measures on hand-made cases with known answers."""

import duckdb
import polars as pl
import pytest

from cohort_platform.linkage.comparisons import block
from cohort_platform.linkage.link_map import conform
from cohort_platform.linkage.pipeline import DatasetOutcome
from cohort_platform.linkage.quality import (
    LinkageQuality, blocking_recall, link_rate_by, link_rates, model_estimates, nhs_check, nhs_labels, weight_histogram,
)
from cohort_platform.linkage.report import render_markdown
from cohort_platform_tests.linkage.factories import d, ids, spine_of

LINK_MAP = conform(pl.DataFrame({
    "dataset": ["hes_apc"] * 4,
    "record_id": ["e1", "e2", "e3", "e4"],
    "person_id": ["b1", "b2", "b1", None],
    "role": ["child"] * 4,
    "step": ["nhs_dob_sex", "probabilistic", "probabilistic", "unlinked"],
}))
CANDIDATES = LINK_MAP.select("dataset", "record_id")


def outcome(decisions: list[tuple], threshold=6.0):
    frame = pl.DataFrame(decisions, schema={"record_id": pl.String, "person_id": pl.String, "match_weight": pl.Float64,
                                            "match_probability": pl.Float64, "decision": pl.String}, orient="row")
    return DatasetOutcome("hes_apc", frame, pl.DataFrame(), threshold, {}, 1e-4, 0.9, frame.height, 0.0)


def test_link_rates_are_shares_of_candidate_records_per_step():
    out = {(r["step"]): r["share"] for r in link_rates(LINK_MAP, CANDIDATES).iter_rows(named=True)}
    assert out == {"nhs_dob_sex": 0.25, "probabilistic": 0.5, "unlinked": 0.25}


def test_model_estimates_average_the_probabilities_of_accepted_links():
    o = outcome([("e2", "b2", 10.0, 0.99, "linked"), ("e3", "b1", 8.0, 0.97, "linked"),
                 ("e4", None, 1.0, 0.04, "below_threshold")])
    row = model_estimates({"hes_apc": o}).row(0, named=True)
    assert row["linked"] == 2 and row["below_threshold"] == 1
    assert row["estimated_precision"] == pytest.approx(0.98)
    assert row["estimated_recall"] == pytest.approx(1.96 / 2.0)


def test_nhs_check_counts_agreement_with_the_number_owner():
    spine = spine_of(ids("births", [dict(record_id="b1", nhs_number="4000000001"),
                                    dict(record_id="b2", nhs_number="4000000002")]))
    hes = ids("hes_apc", [dict(record_id="e1", nhs_number="4000000001"), dict(record_id="e2", nhs_number="4000000002"),
                          dict(record_id="e3", nhs_number="4000000002"), dict(record_id="e4", nhs_number="4000000001")])
    labels = nhs_labels({"births": spine, "hes_apc": hes}, spine)
    out = nhs_check(LINK_MAP, labels, CANDIDATES)
    overall = out.filter(pl.col("step") == "all").row(0, named=True)
    # e1 right, e2 right, e3 wrong (b1 for b2), e4 unlinked
    assert (overall["labelled"], overall["linked"], overall["agree"]) == (4, 3, 2)
    assert overall["precision"] == pytest.approx(2 / 3) and overall["recall"] == pytest.approx(0.5)
    prob = out.filter(pl.col("step") == "probabilistic").row(0, named=True)
    assert prob["precision"] == pytest.approx(0.5)


def test_blocking_recall_is_the_share_of_true_pairs_each_rule_generates():
    left = ids("births", [dict(record_id="b1", dob=d("2010-01-01"), postcode="TS1 1AB", forename="AMY", surname="KHAN")])
    right = ids("hes_apc", [dict(record_id="e1", dob=d("2010-01-01"), postcode="TS1 1AB"),
                            dict(record_id="e2", dob=d("2010-01-01"), postcode="TS1 5XY"),
                            dict(record_id="e3", dob=d("2010-02-01"), postcode="TS1 9ZZ")])
    labels = pl.DataFrame({"left_id": ["b1"] * 3, "right_id": ["e1", "e2", "e3"]})
    out = blocking_recall(duckdb.connect(), labels, left, right, (block("dob", "postcode_district"), block("postcode")))
    got = dict(zip(out["rule"], out["recall"]))
    assert got == pytest.approx({"dob+postcode_district": 2 / 3, "postcode": 1 / 3, "any": 2 / 3})


def test_bias_table_gives_rates_by_group_and_suppresses_small_cells():
    n = 30
    lm = conform(pl.DataFrame({"dataset": ["hes_apc"] * n, "record_id": [f"e{i}" for i in range(n)],
                               "person_id": ["b"] * 20 + [None] * 10, "role": ["child"] * n,
                               "step": ["probabilistic"] * 20 + ["unlinked"] * 10}))
    chars = pl.DataFrame({"dataset": ["hes_apc"] * n, "record_id": [f"e{i}" for i in range(n)],
                          "sex": ["1"] * 12 + ["2"] * 12 + ["2"] * 6, "ethnicity": ["A"] * 25 + ["B"] * 5,
                          "imd_decile": [1] * n, "la_code": ["201"] * n})
    out = link_rate_by(lm, lm.select("dataset", "record_id"), chars)
    sex = {r["value"]: r["rate"] for r in out.filter(pl.col("characteristic") == "sex").iter_rows(named=True)}
    assert sex == pytest.approx({"1": 1.0, "2": 8 / 18})
    small = out.filter((pl.col("characteristic") == "ethnicity") & (pl.col("value") == "B")).row(0, named=True)
    assert small["rate"] is None and small["records"] is None


def test_histogram_bins_best_weights_and_counts_links():
    o = outcome([("e2", "b2", 10.2, 0.99, "linked"), ("e3", "b1", 10.9, 0.99, "linked"),
                 ("e4", None, 1.5, 0.04, "below_threshold")])
    out = weight_histogram({"hes_apc": o})
    assert out.select("weight_bin", "records", "linked").rows() == [(1.0, 1, 0), (10.0, 2, 2)]


def test_report_shows_identifiers_only_when_given_the_secure_sample():
    o = outcome([("e2", "b2", 10.0, 0.99, "linked")])
    q = LinkageQuality(2010, link_rates(LINK_MAP, CANDIDATES), model_estimates({"hes_apc": o}), pl.DataFrame(),
                       pl.DataFrame(), weight_histogram({"hes_apc": o}), pl.DataFrame(), pl.DataFrame(),
                       {"births": 4, "coverage": 1.0})
    public = render_markdown([q])
    assert "Birth year 2010" in public and "nhs_dob_sex" in public and "SECURE" not in public
    secure = render_markdown([q], secure_clerical=pl.DataFrame({"record_forename": ["AMY"]}))
    assert "SECURE" in secure and "AMY" in secure
    assert q.metadata()["hes_apc/estimated_precision"] == pytest.approx(0.99)


def test_the_calibrated_prior_matches_the_share_of_records_the_model_expects_to_match():
    from cohort_platform.linkage.probabilistic import calibrate_prior

    # 90 records with one overwhelming candidate each, 10 with only weak ones, 1000 persons
    strong = [(f"r{i}", 40.0) for i in range(90)]
    weak = [(f"w{i}", 0.0) for i in range(10)]
    pairs = pl.DataFrame(strong + weak, schema={"right_id": pl.String, "bayes_factor_log2": pl.Float64}, orient="row")
    prior, share = calibrate_prior(pairs, n_left=1000, n_right=100)
    assert share == pytest.approx(0.9, abs=1e-3)
    assert prior == pytest.approx(share / 1000)

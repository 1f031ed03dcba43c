"""From scored pairs to links: the threshold, the ambiguity margin and one-to-one resolution.

`resolve_links` decides, for every record with candidates, which person (if any) it links to:

- a record links to at most one person: its best candidate, if that candidate's match weight reaches
  the threshold and beats the record's next-best *available* candidate by at least `margin` (log2
  units: a margin of 3 means the best is 8 times likelier than the runner-up). Same-sex twins seen only
  through date of birth, sex and postcode score the same against both twins: the margin leaves the
  record unlinked rather than guessing;
- where the data demand one-to-one (`slot` given: one census row per person per census, one school
  census row per person per academic year, one death per person), a person (in a slot) takes at most
  one record, and when two records want the same person the stronger must also win by `margin`.

Decisions are made in rounds, all vectorised: each round accepts every record whose best available
candidate passes both tests and is not contested, then removes the persons (slots) it took, which can
free the runner-up of a twin pair to take the other twin. It stops when a round accepts nothing.

`choose_threshold` picks the threshold from the distribution of records' best match weights (see its
docstring for the rule).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

DECISION_LINKED = "linked"
DECISION_BELOW = "below_threshold"
DECISION_AMBIGUOUS = "ambiguous"


@dataclass(frozen=True)
class ThresholdRule:
    """Where to cut the best-match-weight distribution (see `choose_threshold`)."""

    default: float = 6.0
    lowest: float = 3.0
    highest: float = 12.0
    bin_width: float = 1.0
    smoothing_bins: int = 3


def choose_threshold(best_weights: pl.Series | np.ndarray, rule: ThresholdRule = ThresholdRule()) -> float:
    """The match-weight threshold: the emptiest point between the two modes of the best-weight
    histogram, kept within [rule.lowest, rule.highest].

    A record's best candidate is either its true match (weights cluster high) or a chance pairing
    (weights cluster low). The histogram of best weights (bins of `bin_width`, smoothed over
    `smoothing_bins`) is therefore bimodal; the threshold is the centre of the lowest bin between the
    highest bin above `rule.lowest` (the match mode) and the highest bin below it (the non-match mode);
    where several bins share the lowest count (an empty gap), the middle one.
    Where there is no non-match mode (every record matches well) or too few records, it is
    `rule.default`. The bounds keep a sparse histogram from putting the cut somewhere absurd: below
    `lowest` the model itself calls links doubtful, above `highest` it would discard links it is sure of.
    """
    w = np.asarray(best_weights, dtype=float)
    w = w[np.isfinite(w)]
    if w.size < 50:
        return rule.default
    lo, hi = np.floor(w.min()), np.ceil(w.max()) + rule.bin_width
    edges = np.arange(lo, hi + rule.bin_width, rule.bin_width)
    counts, _ = np.histogram(w, bins=edges)
    k = max(1, rule.smoothing_bins)
    smooth = np.convolve(counts, np.ones(k) / k, mode="same")
    centres = (edges[:-1] + edges[1:]) / 2
    upper = centres >= rule.lowest
    lower = centres < rule.lowest
    if not upper.any() or not lower.any() or smooth[lower].max() <= 0:
        return rule.default
    match_mode = np.flatnonzero(upper)[np.argmax(smooth[upper])]
    nonmatch_mode = np.flatnonzero(lower)[np.argmax(smooth[lower])]
    between = np.arange(nonmatch_mode, match_mode + 1)
    lowest = smooth[between].min()
    flat = between[smooth[between] <= lowest + 1e-9]  # an empty gap: cut in its middle
    valley = flat[len(flat) // 2]
    return float(np.clip(centres[valley], rule.lowest, rule.highest))


def best_per_person(pairs: pl.DataFrame) -> pl.DataFrame:
    """Pairs (record_id, person_id, match_weight, match_probability, ...) reduced to the best pair per
    record and person (a person with two registrations on the spine counts once)."""
    return pairs.sort("match_weight", descending=True).unique(["record_id", "person_id"], keep="first")


def resolve_links(
    pairs: pl.DataFrame,
    threshold: float,
    margin: float = 3.0,
    slot: str | None = None,
    one_to_one: bool = False,
    taken: pl.DataFrame | None = None,
    max_rounds: int = 50,
) -> pl.DataFrame:
    """Decide links (see module docstring).

    pairs: record_id, person_id, match_weight, match_probability (and `slot` when given).
    one_to_one: a person takes at most one record per value of `slot` (or overall when slot is None).
    taken: person_id (and `slot`) already held by links made earlier (deterministic steps): with
    one_to_one, not available to these records.

    Returns one row per record that had any candidate: record_id, person_id (null unless linked),
    match_weight, match_probability (of the best candidate), runner_up_weight, decision
    (linked / below_threshold / ambiguous).
    """
    full = best_per_person(pairs).with_columns(pl.col("match_weight").cast(pl.Float64))
    # a pair more than `margin` below the threshold can neither link nor stand in a linking pair's way
    cand = full.filter(pl.col("match_weight") >= threshold - margin)
    if slot is None:
        cand = cand.with_columns(pl.lit(0).alias("__slot"))
        slot_col = "__slot"
    else:
        slot_col = slot
    keys = ["person_id", slot_col]
    accepted = cand.clear().select("record_id", "person_id", slot_col, "match_weight", "match_probability")
    held = cand.clear().select(keys)
    if taken is not None and one_to_one and not taken.is_empty():
        held = (taken.with_columns(pl.lit(0).alias("__slot")) if slot is None else taken).select(
            pl.col("person_id").cast(pl.String), pl.col(slot_col).cast(cand.schema[slot_col]))
    for _ in range(max_rounds):
        avail = cand.join(accepted.select("record_id"), on="record_id", how="anti")
        if one_to_one:
            avail = avail.join(pl.concat([accepted.select(keys), held]), on=keys, how="anti")
        ranked = avail.sort(["record_id", "match_weight"], descending=[False, True]).with_columns(
            pl.col("match_weight").shift(-1).over("record_id").alias("runner_up"),
            pl.int_range(pl.len()).over("record_id").alias("rank"),
        ).filter(pl.col("rank") == 0)
        ok = ranked.filter(
            (pl.col("match_weight") >= threshold)
            & ((pl.col("match_weight") - pl.col("runner_up").fill_null(-1e9)) >= margin)
        )
        if one_to_one:
            # records whose best is this person compete for it: the strongest must win by the margin
            contest = ranked.sort(keys + ["match_weight"], descending=[False, False, True]).with_columns(
                pl.col("match_weight").shift(-1).over(keys).alias("rival"),
                pl.int_range(pl.len()).over(keys).alias("seat"),
            ).filter(pl.col("seat") == 0).select("record_id", "rival")
            ok = ok.join(contest, on="record_id", how="inner").filter(
                (pl.col("match_weight") - pl.col("rival").fill_null(-1e9)) >= margin
            )
        if ok.is_empty():
            break
        accepted = pl.concat([accepted, ok.select(accepted.columns)])
    return _decisions(full, accepted, threshold)


def _decisions(cand: pl.DataFrame, accepted: pl.DataFrame, threshold: float) -> pl.DataFrame:
    best = cand.sort(["record_id", "match_weight"], descending=[False, True]).with_columns(
        pl.col("match_weight").shift(-1).over("record_id").alias("runner_up_weight"),
        pl.int_range(pl.len()).over("record_id").alias("rank"),
    ).filter(pl.col("rank") == 0)
    linked = accepted.select("record_id", pl.col("person_id").alias("linked_person"),
                             pl.col("match_weight").alias("linked_weight"),
                             pl.col("match_probability").alias("linked_probability"))
    out = best.join(linked, on="record_id", how="left")
    is_linked = pl.col("linked_person").is_not_null()
    return out.select(
        "record_id",
        pl.col("linked_person").alias("person_id"),
        pl.when(is_linked).then(pl.col("linked_weight")).otherwise(pl.col("match_weight")).alias("match_weight"),
        pl.when(is_linked).then(pl.col("linked_probability")).otherwise(pl.col("match_probability")).alias("match_probability"),
        "runner_up_weight",
        pl.when(is_linked).then(pl.lit(DECISION_LINKED))
        .when(pl.col("match_weight") < threshold).then(pl.lit(DECISION_BELOW))
        .otherwise(pl.lit(DECISION_AMBIGUOUS)).alias("decision"),
    )

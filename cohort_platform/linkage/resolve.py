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

`choose_threshold` picks the threshold from the distribution of records' best match weights and the
share of records with a match the model estimated from it (see its docstring and `posterior_threshold`).
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

    posterior: float = 0.99  # a link with no competitor must reach this posterior probability
    blocking_recall: float = 0.99  # assumed share of true pairs the blocking rules generate
    min_unmatched_share: float = 0.02  # below this estimated share of unmatched records: no valley
    lowest: float = 0.0
    highest: float = 12.0
    bin_width: float = 1.0
    smoothing_bins: int = 3
    min_mode_records: int = 20  # a non-match mode must hold at least this many records ...
    min_mode_share: float = 0.02  # ... and reach this share of the match mode's height
    max_mode_excess: float = 2.0  # records below a valley may be at most this many times those estimated unmatched


def posterior_threshold(match_share: float, rule: ThresholdRule = ThresholdRule()) -> float:
    """The match weight at which a record's only plausible candidate reaches `rule.posterior`.

    Splink's weight w of a pair is log2 of its posterior odds against "this pair is not a match", an
    alternative that includes "some other spine person is the match". But blocking searched the whole
    spine: when no other candidate came close, that alternative is left only with "the record's person
    is not on the spine" (estimated share 1 - s, `probabilistic.calibrate_prior`) or "its true pair was
    missed by blocking" (s (1 - R)). The odds against the best candidate are therefore
    2^w / ((1 - s) + s (1 - R)), and the threshold is
        log2(posterior / (1 - posterior)) + log2((1 - s) + s (1 - R)).
    For a closed population (s near 1) this is near 0; for one with 15% unmatched records about 4.
    Competing candidates are handled by the margin in `resolve_links`.
    """
    s = min(max(match_share if np.isfinite(match_share) else 0.0, 0.0), 1.0)
    p = rule.posterior
    return float(np.log2(p / (1 - p)) + np.log2((1 - s) + s * (1 - rule.blocking_recall)))


def choose_threshold(best_weights: pl.Series | np.ndarray, rule: ThresholdRule = ThresholdRule(),
                     match_share: float = 1.0) -> float:
    """The match-weight threshold, from the distribution of records' best match weights and the match
    share the model estimated from it: `posterior_threshold(match_share)`, raised to the valley next to
    the non-match mode where the records hold one; kept within [rule.lowest, rule.highest].

    A record whose person is not on the spine (a child born abroad) pairs best with a stranger, at a
    low weight; where such records are common (the model estimates at least `min_unmatched_share` of
    records unmatched) the histogram of best weights (bins of `bin_width`, smoothed over
    `smoothing_bins`) has a non-match mode below the match mode, and the cut must not fall inside it:
    the threshold is then at least the centre of the first local minimum above that mode (the middle
    bin where several bins share the minimum, as in an empty gap). A mode needs `min_mode_records`
    records and `min_mode_share` of the match mode's height to count. In a closed population the low
    weights are true matches with little evidence (a family that moved, a nickname), not a separate
    mode, and the posterior rule alone applies. A valley is also refused when far more records lie below
    it than the model estimates unmatched (`max_mode_excess`): the matches themselves can have two modes
    (postcode agreeing or not) and the valley between them is not the one sought. The bounds keep a
    sparse histogram from putting the cut somewhere absurd.
    """
    floor = posterior_threshold(match_share, rule)
    w = np.asarray(best_weights, dtype=float)
    w = w[np.isfinite(w)]
    valley = _valley(w, rule) if (1 - match_share) >= rule.min_unmatched_share else None
    if valley is not None and (w < valley).sum() > rule.max_mode_excess * (1 - match_share) * w.size:
        valley = None  # far more records below it than the model thinks unmatched: not a non-match mode
    threshold = floor if valley is None else max(floor, valley)
    return float(np.clip(threshold, rule.lowest, rule.highest))


def _valley(w: np.ndarray, rule: ThresholdRule) -> float | None:
    """The first local minimum above the non-match mode of the best-weight histogram, or None."""
    split = rule.lowest + 3.0
    if w.size < 50 or int((w < split).sum()) < rule.min_mode_records:
        return None
    lo, hi = np.floor(w.min()), np.ceil(w.max()) + rule.bin_width
    edges = np.arange(lo, hi + rule.bin_width, rule.bin_width)
    counts, _ = np.histogram(w, bins=edges)
    k = max(1, rule.smoothing_bins)
    smooth = np.convolve(counts, np.ones(k) / k, mode="same")
    centres = (edges[:-1] + edges[1:]) / 2
    lower = centres < split
    upper = ~lower
    if not upper.any() or not lower.any() or smooth[lower].max() < rule.min_mode_share * smooth[upper].max():
        return None
    i = np.flatnonzero(lower)[np.argmax(smooth[lower])]
    # walk up from the non-match mode to the first local minimum (a plateau counts as one)
    while i + 1 < len(smooth) and smooth[i + 1] <= smooth[i]:
        i += 1
    j = i
    while j - 1 >= 0 and smooth[j - 1] == smooth[i]:
        j -= 1
    return float(centres[(i + j) // 2])


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
    slots: pl.DataFrame | None = None,
    max_rounds: int = 50,
) -> pl.DataFrame:
    """Decide links (see module docstring).

    pairs: record_id, person_id, match_weight, match_probability (and `slot` when given).
    one_to_one: a person takes at most one record per slot value: the record's `slot` column, or the
        slots listed in `slots` (record_id, slot; several per record for an entity such as a UPN that
        spans academic years: two entities of one person conflict only where their years overlap), or
        one slot for the whole dataset when neither is given.
    taken: person_id and slot (named as in `slots`, or `slot`) already held by earlier links.

    Returns one row per record that had any candidate: record_id, person_id (null unless linked),
    match_weight, match_probability (of the best candidate), runner_up_weight, decision
    (linked / below_threshold / ambiguous).
    """
    full = best_per_person(pairs).with_columns(pl.col("match_weight").cast(pl.Float64))
    # a pair more than `margin` below the threshold can neither link nor stand in a linking pair's way
    cand = full.filter(pl.col("match_weight") >= threshold - margin).select(
        "record_id", "person_id", "match_weight", "match_probability")
    record_slots = _record_slots(full, slot, slots)
    held = pl.DataFrame(schema={"person_id": pl.String, "__slot": pl.String})
    if taken is not None and one_to_one and not taken.is_empty():
        name = slot or (slots.columns[1] if slots is not None else None)
        held = taken.select(pl.col("person_id").cast(pl.String),
                            (pl.col(name).cast(pl.String) if name else pl.lit("0")).alias("__slot"))
    # only the slots of records with a candidate near the threshold can matter
    record_slots = record_slots.join(cand.select("record_id").unique(), on="record_id", how="semi")
    accepted = cand.clear()
    avail = cand
    for _ in range(max_rounds):
        if one_to_one and not held.is_empty():
            blocked = avail.select("record_id", "person_id").join(record_slots, on="record_id").join(
                held, on=["person_id", "__slot"], how="semi").select("record_id", "person_id").unique()
            avail = avail.join(blocked, on=["record_id", "person_id"], how="anti")
        ranked = best_and_next(avail, ["record_id"], "runner_up")
        ok = ranked.filter(
            (pl.col("match_weight") >= threshold)
            & ((pl.col("match_weight") - pl.col("runner_up").fill_null(-1e9)) >= margin)
        )
        if one_to_one:
            # records whose best is this person compete for each slot they would fill: the strongest
            # must win every one of its slots by the margin
            cells = ranked.select("record_id", "person_id", "match_weight").join(record_slots, on="record_id")
            seats = best_and_next(cells, ["person_id", "__slot"], "rival", keep_all=True)
            wins = seats.group_by("record_id").agg(
                (pl.col("__first") & ((pl.col("match_weight") - pl.col("rival").fill_null(-1e9)) >= margin))
                .all().alias("wins")
            ).filter(pl.col("wins"))
            ok = ok.join(wins.select("record_id"), on="record_id", how="semi")
        if ok.is_empty():
            break
        accepted = pl.concat([accepted, ok.select(accepted.columns)])
        if one_to_one:
            held = pl.concat([held, ok.select("record_id", "person_id").join(record_slots, on="record_id")
                              .select("person_id", "__slot")])
        # the next round weighs only the records still open, against what they could still clash with
        avail = avail.join(ok.select("record_id"), on="record_id", how="anti")
        record_slots = record_slots.join(avail.select("record_id").unique(), on="record_id", how="semi")
    return _decisions(full, accepted, threshold)


def best_and_next(frame: pl.DataFrame, keys: list[str], next_name: str, keep_all: bool = False) -> pl.DataFrame:
    """The row of highest `match_weight` in each group of `keys`, with `next_name` = the group's
    second-highest weight (null when alone); with `keep_all`, every row, the best flagged `__first`.

    Equal weights are ordered by record and person, so that ties are decided the same way every run.
    Written with shifts over one sort rather than window functions: `over` on a million groups of
    text keys took 5.5 s where this takes a fraction."""
    ties = [c for c in ("record_id", "person_id") if c not in keys and c in frame.columns]
    ordered = frame.sort([*keys, "match_weight", *ties], descending=[*([False] * len(keys)), True, *([False] * len(ties))])
    same_as_next = pl.all_horizontal(pl.col(k) == pl.col(k).shift(-1) for k in keys).fill_null(False)
    same_as_previous = pl.all_horizontal(pl.col(k) == pl.col(k).shift(1) for k in keys).fill_null(False)
    ordered = ordered.with_columns(
        pl.when(same_as_next).then(pl.col("match_weight").shift(-1)).alias(next_name),
        (~same_as_previous).alias("__first"),
    )
    return ordered if keep_all else ordered.filter(pl.col("__first")).drop("__first")


def _record_slots(pairs: pl.DataFrame, slot: str | None, slots: pl.DataFrame | None) -> pl.DataFrame:
    """record_id, __slot (text): the slots each record would fill."""
    if slots is not None:
        return slots.select(pl.col("record_id"), pl.col(slots.columns[1]).cast(pl.String).alias("__slot")).unique()
    if slot is not None:
        return pairs.select("record_id", pl.col(slot).cast(pl.String).alias("__slot")).unique()
    return pairs.select("record_id").unique().with_columns(pl.lit("0").alias("__slot"))


def _decisions(cand: pl.DataFrame, accepted: pl.DataFrame, threshold: float) -> pl.DataFrame:
    best = best_and_next(cand, ["record_id"], "runner_up_weight")
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

"""Fellegi-Sunter linkage with Splink 5 on DuckDB: train on one set of records, score another.

`ModelSpec` declares a model (comparisons, prediction blocking rules, EM training blocks) in the terms
of `comparisons.py`; `spec.restricted_to(columns)` drops whatever a dataset cannot support (KS2 and
KS4 carry no names or postcode; census carries no NHS number), so one declaration serves every
dataset. `fit_and_score` then:

1. trains on `train_left` x `train_right` (by default the scored sets): u from random pairs of a
   sample of at most `u_sample_records` records a side (`u_max_pairs` pairs), m by expectation
   maximisation over each training block in turn with a bounded number of pairs (`em_max_pairs`), so
   that every comparison is estimated from pairs not blocked on it, over the left records some
   training block can reach (`reachable`). Training on all candidate records, including those already
   linked deterministically, gives EM its most informative pairs;
2. scores `left` x `right` (the records still unlinked) with the trained model, keeping every blocked
   pair above `weight_floor` (the below-threshold pairs feed the histogram, the recall estimate and
   the ambiguity margin). The rules marked `fallback` (date of birth with one name: their candidates
   grow with the children born each day) are applied in a second pass, only to the records the
   other rules left without a candidate of Bayes factor `settled_bayes_factor`, and without the pairs
   the first pass scored;
3. re-estimates the prior (the chance that two random records match) for the scored set by
   `calibrate_prior`: the share of scored records that have a match is the model's own posterior
   expectation of it, iterated to a fixed point, so the match probabilities of the residual records
   are not inflated by the easy, already linked ones.

Term frequencies (the names' TF adjustment) are computed once from the whole training or scoring
sets and registered with each Splink linker (`term_frequencies`), so a linker that sees only a sample
or the reachable part of the spine weighs names exactly as if it saw all of it.

Splink only ever sees identifier columns and returns pairs of ids with weights and the comparison
vector (gamma columns): no identifier leaves this module.
"""

from __future__ import annotations

import copy
import logging
import math
import uuid
from dataclasses import dataclass, field, replace
from typing import Any

import duckdb
import polars as pl
from splink import DuckDBAPI, Linker, SettingsCreator

from cohort_platform.linkage.comparisons import (
    DIALECT, DOB_TRANSPOSED_IN_DISTRICT, DOB_TRANSPOSED_SAME_NAMES, Block, Field, block,
)

logging.getLogger("splink").setLevel(logging.ERROR)

SIDE = "__side"
LEFT, RIGHT = "a_left", "b_right"  # Splink orders sources by name: left stays left


@dataclass(frozen=True)
class ModelSpec:
    name: str
    fields: tuple[Field, ...]
    blocking: tuple[Block, ...]
    training: tuple[Block, ...]
    u_max_pairs: float = 1e6
    em_max_pairs: float = 3e5
    records_per_chunk: int = 400_000  # right-side records scored per prediction chunk
    weight_floor: float = -3.0  # pairs below the lowest threshold less the margin can neither link nor compete
    initial_prior: float = 1e-4
    seed: int = 42
    settled_bayes_factor: float = 20.0  # log2; records with a candidate this strong skip the fallback blocks
    u_sample_records: int = 200_000  # u is estimated from random pairs of at most this many records a side
    reach_ratio: float = 4.0  # a left side this many times the right is cut to the rows the blocks reach
    m_floor: float = 1e-3  # no agreement level is impossible for a match (a miscoded sex, a new typo)

    @property
    def columns(self) -> set[str]:
        return {c for f in self.fields for c in f.columns} | {c for b in self.blocking for c in b.columns}

    def restricted_to(self, available: set[str]) -> "ModelSpec":
        """The same model without the comparisons and blocks that need a column not in `available`."""
        return replace(
            self,
            fields=tuple(f for f in self.fields if set(f.columns) <= available),
            blocking=tuple(b for b in self.blocking if set(b.columns) <= available),
            training=tuple(b for b in self.training if set(b.columns) <= available),
        )


PERSON_MODEL = ModelSpec(
    name="person",
    fields=(
        Field("nhs_number", "identifier", any_column="nhs_number_any"),
        Field("forename", "name"),
        Field("surname", "name", shared_word=True),
        Field("dob", "date"),
        Field("sex", "sex"),
        Field("postcode", "postcode", district_column="postcode_district"),
        Field("mother_dob", "date"),  # family evidence where a dataset names the mother (the survey)
    ),
    blocking=(
        block("nhs_number"),
        block("substr(nhs_number_any, 1, 5)", name="nhs_first5", needs=("nhs_number_any",)),
        block("substr(nhs_number_any, 6, 5)", name="nhs_last5", needs=("nhs_number_any",)),
        block("dob", "postcode_district"),
        DOB_TRANSPOSED_IN_DISTRICT,
        block("postcode"),
        # names with the birth month or the district, not names alone: within a birth year the pairs
        # agreeing on forename and surname grow with the square of the children born (15 a record at
        # 100,000 children, about 100 at 650,000), and these two keep 99.99% of what that rule found
        block("forename", "surname", "month(dob)", name="forename+surname+birth_month", needs=("forename", "surname", "dob")),
        block("forename", "surname", "postcode_district"),
        DOB_TRANSPOSED_SAME_NAMES,
        # a changed name and a move: the candidates of these three grow with the children born each
        # day (about 10 a record at 650,000 children), so they are searched only for the records the
        # rules above left without a settled candidate (`settled_bayes_factor`)
        block("dob", "forename", fallback=True),
        block("dob", "surname", fallback=True),
        block("dob", "sex", "substr(forename, 1, 1)", "substr(surname, 1, 1)", name="dob+sex+initials",
              needs=("dob", "sex", "forename", "surname"), fallback=True),
        block("dob", "mother_dob"),
    ),
    training=(
        block("nhs_number"),
        block("forename", "surname", "postcode"),
        block("dob", "forename", "postcode"),
        block("dob", "surname", "postcode"),
        block("forename", "surname", "dob"),
        block("dob", "postcode"),
        block("dob", "sex", "postcode_district"),
        block("postcode"),
    ),
)
"""A child's record against the births spine. Never blocks on date of birth alone (prediction).

Training blocks are tried in order until every comparison has been estimated from pairs not blocked
on it; each combines three identifiers (two of them a full postcode and a name where the dataset has
them) so that nearly all of its pairs are matches at any scale. EM on a
block where most pairs are non-matches converges to a "match" class that is something else: forename +
surname across a birth year put the date of birth's m at 0.27 (20,000 children); date of birth +
forename put the surname's m at 0.16 (300,000 children, where some 16 Olivias are born each day)."""


@dataclass
class Scored:
    """Scored candidate pairs and the model that scored them."""

    pairs: pl.DataFrame  # left_id, right_id, match_weight, match_probability, bayes_factor_log2, gamma_*
    model: dict[str, Any] = field(default_factory=dict)  # trained Splink settings (JSON-ready)
    prior: float = float("nan")  # calibrated chance that two random scored records match
    match_share: float = float("nan")  # estimated share of scored right records that have a match
    spec: ModelSpec | None = None
    n_left: int = 0
    n_right: int = 0

    @staticmethod
    def empty(spec: ModelSpec | None = None) -> "Scored":
        return Scored(pairs=pl.DataFrame(schema=PAIR_SCHEMA), spec=spec)


PAIR_SCHEMA = {
    "left_id": pl.String(), "right_id": pl.String(), "match_weight": pl.Float64(),
    "match_probability": pl.Float64(), "bayes_factor_log2": pl.Float64(),
}


def columns_with_data(*frames: pl.DataFrame) -> set[str]:
    """Columns that hold at least one value in every frame (a comparison needs both sides)."""
    sets = [{c for c in f.columns if f.height and f[c].null_count() < f.height} for f in frames]
    return set.intersection(*sets) if sets else set()


def _register(api: DuckDBAPI, frame: pl.DataFrame, side: str, columns: list[str], tag: str):
    table = frame.select(["record_id", *columns]).with_columns(pl.lit(side).alias(SIDE))
    return api.register(table.to_arrow(), table_name=f"__lk_{tag}_{side}")


def _settings(spec: ModelSpec, prior: float) -> SettingsCreator:
    return SettingsCreator(
        link_type="link_only",
        unique_id_column_name="record_id",
        source_dataset_column_name=SIDE,
        comparisons=[f.to_splink() for f in spec.fields],
        blocking_rules_to_generate_predictions=[b.to_splink() for b in spec.blocking],
        probability_two_random_records_match=prior,
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )


def _train_m(linker: Linker, spec: ModelSpec) -> list[str]:
    """m by EM on the training blocks in turn until every comparison has been estimated from pairs not
    blocked on it (u is fixed); returns the blocks that trained.

    A session that fails (no pairs; an m probability underflowing below 1e-300) is skipped, and the
    model restored: Splink removes the blocked comparisons from the linker's settings in place when a
    session starts, so a failed session would otherwise silently drop them from the model."""
    trained = []
    unestimated = {f.column for f in spec.fields}
    for b in spec.training:
        estimates = {f.column for f in spec.fields if not set(f.columns) & set(b.columns)}
        if not estimates & unestimated:
            continue
        saved = copy.deepcopy(linker._settings_obj.core_model_settings)
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                b.to_splink(), max_pairs=spec.em_max_pairs, record_sample_proportion=0.1
            )
            trained.append(b.name)
            unestimated -= estimates
        except Exception as exc:  # noqa: BLE001
            linker._settings_obj.core_model_settings = saved
            logging.getLogger(__name__).warning("EM on %s skipped: %s", b.name, exc)
    return trained


def fit_and_score(
    con: duckdb.DuckDBPyConnection,
    left: pl.DataFrame,
    right: pl.DataFrame,
    spec: ModelSpec = PERSON_MODEL,
    *,
    train_left: pl.DataFrame | None = None,
    train_right: pl.DataFrame | None = None,
    model: dict[str, Any] | None = None,
    calibrate: bool = False,
) -> Scored:
    """Train (unless `model` is given) and score; see the module docstring.

    `left` and `right` need `record_id` (unique within each) and the spec's columns; columns that are
    empty on either side are left out of the model. With `calibrate`, the prior is re-estimated for
    the scored records as if each left record were a different person (`calibrate_prior`); callers whose
    left side holds several rows per person calibrate per person themselves.
    """
    train_left = left if train_left is None else train_left
    train_right = right if train_right is None else train_right
    if left.is_empty() or right.is_empty():
        return Scored.empty(spec)
    # a comparison needs data on both sides of the training pairs; the scored records may lack it
    # (the records left for the model are often those whose NHS number is missing or invalid)
    spec = spec.restricted_to(columns_with_data(train_left, train_right))
    if not spec.fields or not spec.blocking:
        return Scored.empty(spec)
    columns = sorted(spec.columns)
    tag = uuid.uuid4().hex[:8]
    con.execute("SET enable_progress_bar = false")
    trained_blocks: list[str] = []
    if model is None:
        model, trained_blocks = _trained_model(con, spec, train_left, train_right, columns, tag)
    model = dict(model)
    model["trained_blocks"] = trained_blocks or model.get("trained_blocks", [])
    prior0 = float(model.get("probability_two_random_records_match", spec.initial_prior))
    scoring_model = {k: v for k, v in model.items() if k not in ("linker_uid", "trained_blocks")}
    main = [b for b in spec.blocking if not b.fallback] or list(spec.blocking)
    fallback = [b for b in spec.blocking if b.fallback and b not in main]
    frequencies = term_frequencies(spec, left, right)
    pairs = _predict(con, left, right, columns, scoring_model, main, spec, f"{tag}_score", prior0, frequencies)
    if fallback:
        settled = settled_records(pairs, spec.settled_bayes_factor)["right_id"]
        unsettled = right.filter(~pl.col("record_id").cast(pl.String).is_in(settled.implode()))
        if not unsettled.is_empty():
            more = _predict(con, left, unsettled, columns, scoring_model, [_excluding(b, main) for b in fallback], spec,
                            f"{tag}_fallback", prior0, frequencies)
            pairs = pl.concat([pairs, more], how="diagonal_relaxed").unique(["left_id", "right_id"], keep="first",
                                                                            maintain_order=True)
    prior, share = calibrate_prior(pairs, n_left=left.height, n_right=right.height) if calibrate else (prior0, float("nan"))
    if calibrate and not pairs.is_empty():
        pairs = with_prior(pairs, prior)
    return Scored(pairs=pairs, model=model, prior=prior, match_share=share, spec=spec,
                  n_left=left.height, n_right=right.height)


def _predict(con: duckdb.DuckDBPyConnection, left: pl.DataFrame, right: pl.DataFrame, columns: list[str],
             model: dict[str, Any], blocking: list[Block], spec: ModelSpec, tag: str, prior: float,
             frequencies: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """The pairs `blocking` generates, scored by the trained `model`: left_id, right_id, match_weight,
    match_probability, bayes_factor_log2 and the comparison vector."""
    left = reachable(con, left, right, blocking, spec.reach_ratio)
    if left.is_empty():
        return pl.DataFrame(schema=PAIR_SCHEMA)
    rules = [{"blocking_rule": b.sql(), "sql_dialect": DIALECT} for b in blocking]
    scorer, tables = _linker(con, left, right, columns, {**model, "blocking_rules_to_generate_predictions": rules},
                             frequencies, tag)
    # large sides are scored in chunks (Splink's own chunking), so DuckDB never holds every blocked
    # pair with its comparison columns at once
    chunks = max(1, -(-right.height // spec.records_per_chunk))
    predictions = scorer.inference.predict(
        threshold_match_weight=spec.weight_floor, num_chunks_left=1, num_chunks_right=chunks
    )
    raw = con.sql(_pairs_sql(predictions.physical_name, con)).pl()
    _drop(scorer, tables)
    return _oriented(raw).with_columns((pl.col("match_weight") - _log2_odds(prior)).alias("bayes_factor_log2"))


def _trained_model(con: duckdb.DuckDBPyConnection, spec: ModelSpec, left: pl.DataFrame, right: pl.DataFrame,
                   columns: list[str], tag: str) -> tuple[dict[str, Any], list[str]]:
    """u from random pairs of a sample of each side (`u_sample_records`), then m by EM on the training
    blocks over the left records those blocks can reach; returns the model (m floored) and the blocks
    that trained. Term frequencies are those of the whole training sets, as Splink would compute them."""
    frequencies = term_frequencies(spec, left, right)
    u_linker, tables = _linker(con, _sample(left, spec.u_sample_records, spec.seed),
                               _sample(right, spec.u_sample_records, spec.seed), columns,
                               _settings(spec, spec.initial_prior), frequencies, f"{tag}_u")
    u_linker.training.estimate_u_using_random_sampling(max_pairs=spec.u_max_pairs, seed=spec.seed)
    with_u = u_linker.misc.save_model_to_json()
    _drop(u_linker, tables)
    em_left = reachable(con, left, right, list(spec.training), spec.reach_ratio)
    trainer, tables = _linker(con, em_left if not em_left.is_empty() else left, right, columns,
                              {k: v for k, v in with_u.items() if k != "linker_uid"}, frequencies, f"{tag}_em")
    trained = _train_m(trainer, spec)
    model = floor_m_probabilities(trainer.misc.save_model_to_json(), spec.m_floor, 1 / spec.u_max_pairs)
    _drop(trainer, tables)
    return model, trained


def _linker(con: duckdb.DuckDBPyConnection, left: pl.DataFrame, right: pl.DataFrame, columns: list[str],
            settings: SettingsCreator | dict[str, Any], frequencies: dict[str, pl.DataFrame], tag: str
            ) -> tuple[Linker, list]:
    """A Splink linker of `left` and `right` with these term-frequency lookups (see `term_frequencies`)."""
    api = DuckDBAPI(con)  # a fresh cache: earlier linkers' intermediate tables are gone
    tables = [_register(api, left, LEFT, columns, tag), _register(api, right, RIGHT, columns, tag)]
    linker = Linker(tables, settings, log_level=None)
    for column, frame in frequencies.items():
        lookup = api.register(frame.to_arrow(), table_name=f"__lk_{tag}_tf_{column}")
        linker.table_management.register_term_frequency_lookup(lookup, column)
        tables.append(lookup)
    return linker, tables


def _drop(linker: Linker, tables: list) -> None:
    linker.table_management.delete_tables_created_by_splink_from_db()
    for t in tables:
        t.drop_table_from_database_and_remove_from_cache(force_non_splink_table=True)


def term_frequencies(spec: ModelSpec, *frames: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """For each term-frequency-adjusted column (the names), each value's share of the non-null values
    of all `frames`: what Splink computes from the tables it is given. Computed from the whole sets,
    it lets a linker see only part of them (a sample, the reachable spine) and weigh names as if it saw all."""
    lookups = {}
    for column in sorted({f.column for f in spec.fields if f.kind == "name"}):
        values = pl.concat([f.select(column) for f in frames if column in f.columns]).drop_nulls()
        if values.is_empty():
            continue
        lookups[column] = values.group_by(column).len().select(
            column, (pl.col("len").cast(pl.Float64) / values.height).alias(f"tf_{column}"))
    return lookups


def _sample(frame: pl.DataFrame, n: int, seed: int) -> pl.DataFrame:
    return frame if frame.height <= n else frame.sample(n, seed=seed)


def reachable(con: duckdb.DuckDBPyConnection, left: pl.DataFrame, right: pl.DataFrame, blocks: list[Block],
              ratio: float = 4.0) -> pl.DataFrame:
    """The rows of `left` that some rule of `blocks` pairs with some row of `right`, when `left` is at
    least `ratio` times larger (else `left` itself): a few hundred deaths need not have Splink
    prepare a spine of two million rows. Run in DuckDB with the rules' own SQL."""
    if right.is_empty() or left.height < ratio * right.height:
        return left
    needed = sorted({c for b in blocks for c in b.columns} & set(left.columns) & set(right.columns))
    name = f"__reach_{uuid.uuid4().hex[:8]}"
    con.register(f"{name}_l", left.select("record_id", *needed).to_arrow())
    con.register(f"{name}_r", right.select("record_id", *needed).to_arrow())
    try:
        usable = [b for b in blocks if set(b.columns) <= set(needed)]
        if not usable:
            return left.clear()
        sql = " union ".join(f"select l.record_id from {name}_l l join {name}_r r on {b.sql()}" for b in usable)
        ids = con.sql(sql).pl()
    finally:
        con.unregister(f"{name}_l")
        con.unregister(f"{name}_r")
    return left.join(ids, on="record_id", how="semi")


def _excluding(rule: Block, earlier: list[Block]) -> Block:
    """`rule` without the pairs `earlier` rules generate (those are scored already), as Splink itself
    excludes the pairs of preceding rules within one prediction."""
    others = " AND ".join(f"NOT COALESCE(({b.sql()}), FALSE)" for b in earlier)
    needs = tuple(dict.fromkeys([*rule.columns, *(c for b in earlier for c in b.columns)]))
    return Block(name=rule.name, condition=f"({rule.sql()}) AND {others}", needs=needs)


def settled_records(pairs: pl.DataFrame, bayes_factor_log2: float) -> pl.DataFrame:
    """right_id of the records whose best candidate has at least this Bayes factor (log2): the
    fallback blocking rules can add only candidates that disagree on more (a name and the district),
    far below such a candidate and its margin, so they are not applied to these records."""
    return pairs.filter(pl.col("bayes_factor_log2") >= bayes_factor_log2).select("right_id").unique()


def floor_m_probabilities(model: dict[str, Any], floor: float, u_unseen: float = 1e-6) -> dict[str, Any]:
    """Every non-null level's m at least `floor` (also where EM left it untrained), and a u that random
    sampling never observed set to `u_unseen` (about one over the pairs sampled).

    EM sees no matches that disagree on sex in a few thousand pairs and sets m = 0, which makes a
    miscoded sex veto a link with a weight of -300; with the floor a disagreement costs about 9 bits."""
    model = dict(model)
    comparisons = []
    for c in model["comparisons"]:
        c = dict(c)
        levels = []
        for level in c["comparison_levels"]:
            level = dict(level)
            if not level.get("is_null_level"):
                m = level.get("m_probability")
                level["m_probability"] = max(m if m is not None else 0.0, floor)
                if level.get("u_probability") is None:
                    level["u_probability"] = u_unseen
            levels.append(level)
        c["comparison_levels"] = levels
        comparisons.append(c)
    model["comparisons"] = comparisons
    return model


def _pairs_sql(table: str, con: duckdb.DuckDBPyConnection) -> str:
    """Only what leaves Splink: both ids, their sides, the weight and probability, the comparison vector."""
    columns = [r[0] for r in con.sql(f"describe {table}").fetchall()]
    keep = [c for c in columns if c.startswith("gamma_") or c in (
        "match_weight", "match_probability", "record_id_l", "record_id_r", f"{SIDE}_l", f"{SIDE}_r")]
    return f"select {', '.join(chr(34) + c + chr(34) for c in keep)} from {table}"


def _oriented(raw: pl.DataFrame) -> pl.DataFrame:
    """Splink's pairs as left_id / right_id whichever way round Splink put them."""
    gammas = [c for c in raw.columns if c.startswith("gamma_")]
    flipped = pl.col(f"{SIDE}_l") != LEFT
    return raw.select(
        pl.when(flipped).then(pl.col("record_id_r")).otherwise(pl.col("record_id_l")).cast(pl.String).alias("left_id"),
        pl.when(flipped).then(pl.col("record_id_l")).otherwise(pl.col("record_id_r")).cast(pl.String).alias("right_id"),
        pl.col("match_weight").cast(pl.Float64),
        pl.col("match_probability").cast(pl.Float64),
        *[pl.col(g).cast(pl.Int8) for g in gammas],
    )


def _log2_odds(p: float) -> float:
    return math.log2(p / (1 - p))


def with_prior(pairs: pl.DataFrame, prior: float) -> pl.DataFrame:
    """Match weight and probability of each pair under another prior (the Bayes factor is kept)."""
    weight = pl.col("bayes_factor_log2") + _log2_odds(prior)
    return pairs.with_columns(
        weight.alias("match_weight"),
        (1 / (1 + (-weight * math.log(2)).exp())).alias("match_probability"),
    )


def calibrate_prior(pairs: pl.DataFrame, n_left: int, n_right: int, iterations: int = 100,
                    record: str = "right_id") -> tuple[float, float]:
    """The prior at which the model's expected share of matched right records equals the share it
    assumes.

    Each right record has at most one true match among its candidates; under prior lambda its
    candidate i has odds o_i = BF_i * c with c = lambda / (1 - lambda), and the chance it has some
    match is S c / (1 + S c) with S = sum(BF_i). The share s of right records with a match implies
    lambda = s / n_left. Alternating the two converges in a few rounds (S is computed once).
    Returns (lambda, s).

    `record` names the column that identifies a scored record; pairs should hold one row per record
    and candidate person (n_left persons).
    """
    if pairs.is_empty() or n_left == 0 or n_right == 0:
        return 1.0 / max(n_left, 1), 0.0
    per_record = pairs.group_by(record).agg(
        (pl.col("bayes_factor_log2").clip(-60, 60) * math.log(2)).exp().sum().alias("s")
    )["s"].to_numpy()
    share = 0.5
    for _ in range(iterations):
        prior = min(max(share, 1e-6), 0.999) / n_left
        odds = per_record * (prior / (1 - prior))
        new_share = float((odds / (1 + odds)).sum()) / n_right
        if abs(new_share - share) < 1e-7:
            share = new_share
            break
        share = new_share
    prior = min(max(share, 1e-6), 0.999) / n_left
    return prior, share

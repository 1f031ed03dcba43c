"""Link one birth year: the function a Dagster asset calls per birth-year partition.

`link_birth_year(con, birth_year, inputs)` runs, for the children born in `birth_year`:

1. the spine: births deduplicated (`spine.deduplicate_births`, or the `spine` passed in), restricted to
   the year's persons; candidate records of every dataset: dates of birth in the year, one day either
   side (`spine.candidate_records`);
2. `nhs_dob_sex` for every dataset with NHS numbers (deaths, HES, MHSDS, CLA), then `upn_via_npd` and
   `care_record` for what those links vouch for;
3. Splink for each dataset's records still unlinked, in `PLANS` order (`link_probabilistically`:
   `PERSON_MODEL` restricted to the identifiers the dataset has, trained on all its candidate records,
   thresholded by `resolve.choose_threshold`, resolved one-to-one where `PLANS` says so, with an
   ambiguity margin so that twins are never guessed). Before each dataset the spine is enriched
   (`spine.enrich_spine`) with what earlier confident links have seen of each child (names, surnames,
   postcodes) and with the family's postcodes from the mother's NHS number (`mothers.family_postcodes`);
   a school census pupil links as one entity per UPN, a looked-after child as one per care record;
4. the key rules again after every dataset that can vouch for a key, then the care records still
   unlinked (KS2 and KS4 carry only UPN, date of birth and sex: without their UPN they stay unlinked,
   because no blocking rule may rest on date of birth alone);
5. mothers: maternal admissions in the year before birth, the mother-baby delivery link, survey
   parents;
6. the link map of the partition (`link_map.assemble_link_map`); `quality.linkage_quality(result, ...)`
   measures it.

Records of one dataset with identical identifiers (a child's HES episodes) are scored once
(`signed_records`). Everything is computed in DuckDB (`con`: give each partition its own in-memory
connection, e.g. `duckdb.connect()`, since DuckDB allows one writer per database file) and polars;
nothing is written outside `con`'s temporary tables, which are dropped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from cohort_platform.linkage.deterministic import (
    CARE_RECORD, NHS_DOB_SEX, UPN_VIA_NPD, KeyRule, key_person_map, link_by_rule,
)
from cohort_platform.linkage.identifiers import LinkageInputs
from cohort_platform.linkage.link_map import STEP_PROBABILISTIC, STEP_SPINE, STEP_SPINE_DUPLICATE, assemble_link_map, conform
from cohort_platform.linkage.mothers import (
    births_with_persons, family_postcodes, link_deliveries, link_mother_admissions, link_survey_parents,
)
from cohort_platform.linkage.probabilistic import PERSON_MODEL, ModelSpec, calibrate_prior, fit_and_score, with_prior
from cohort_platform.linkage.resolve import ThresholdRule, choose_threshold, resolve_links
from cohort_platform.linkage.spine import ALIAS_COLUMNS, candidate_records, deduplicate_births, enrich_spine, spine_for_year


@dataclass(frozen=True)
class DatasetPlan:
    """How a dataset's records may link: `one_to_one` = a person takes at most one record per `slot`
    value (per dataset when slot is None). `PLANS` is in linking order: the school census first, since
    its many rows per child (known-as names, current surnames and postcodes) enrich the spine most
    for the datasets after it."""

    slot: str | None = None
    one_to_one: bool = False
    wave: int = 1  # 1: before the key rules (UPN, care record); 2: after them
    entity: str | None = None  # a column naming one person's records (UPN, care record): they link as one
    entity_step: str | None = None  # step of an entity's rows linked without being scored themselves
    per_entity: int = 3  # signatures scored per entity: its most frequent


PLANS: dict[str, DatasetPlan] = {
    "npd_census": DatasetPlan(slot="academic_year", one_to_one=True, entity="upn", entity_step="upn_via_npd"),
    "census_2011": DatasetPlan(one_to_one=True),
    "census_2021": DatasetPlan(one_to_one=True),
    "survey": DatasetPlan(one_to_one=True),
    "deaths": DatasetPlan(one_to_one=True),
    "hes_apc": DatasetPlan(),
    "mhsds": DatasetPlan(),
    "cla": DatasetPlan(wave=2, entity="person_key", entity_step="care_record"),
    "npd_ks2": DatasetPlan(one_to_one=True, wave=2),
    "npd_ks4": DatasetPlan(one_to_one=True, wave=2),
}
NHS_DATASETS = ("deaths", "hes_apc", "mhsds", "cla")
KEY_RULES: tuple[KeyRule, ...] = (UPN_VIA_NPD, CARE_RECORD)


@dataclass(frozen=True)
class LinkageSettings:
    spec: ModelSpec = PERSON_MODEL
    margin: float = 3.0  # log2: the best candidate must be 8 times likelier than the runner-up
    threshold_rule: ThresholdRule = field(default_factory=ThresholdRule)
    edge_days: int = 1
    maternal_window_days: int = 365
    enrich_spine: bool = True  # add the names and postcodes confident links have seen (spine.enrich_spine)
    keep_pairs_within: float = 5.0  # DatasetOutcome.pairs keeps pairs this close to the threshold


@dataclass
class DatasetOutcome:
    """What the probabilistic step did for one dataset (identifier-free)."""

    dataset: str
    decisions: pl.DataFrame  # record_id, person_id, match_weight, match_probability, runner_up_weight, decision
    pairs: pl.DataFrame  # near-threshold pairs: record_id, spine_record_id, person_id, match_weight, ..., gamma_*
    threshold: float
    model: dict[str, Any]
    prior: float
    match_share: float
    records_scored: int
    seconds: float


@dataclass
class LinkageResult:
    birth_year: int
    link_map: pl.DataFrame  # link_map.LINK_MAP_SCHEMA
    outcomes: dict[str, DatasetOutcome]  # probabilistic step per dataset, and "mother_baby"
    candidates: pl.DataFrame  # dataset, record_id: the records this partition was responsible for
    spine: pl.DataFrame  # the partition's spine rows (identifiers + person_id)
    timings: dict[str, float]
    models: dict[str, dict[str, Any]] = field(default_factory=dict)


def partition_database(spill_dir: Path, memory_limit: str = "6GB") -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for one partition's linkage, capped at `memory_limit` and spilling to
    `spill_dir` beyond it (DuckDB's default cap is 80% of the machine, which a 650,000-child birth
    year's scoring would take)."""
    spill_dir.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(config={"preserve_insertion_order": False, "memory_limit": memory_limit,
                                  "temp_directory": str(spill_dir)})


def child_candidates(ids: pl.DataFrame, birth_year: int, edge_days: int = 1) -> pl.DataFrame:
    """A dataset's records that may be a child born in `birth_year` (role child or not stated)."""
    return candidate_records(ids, birth_year, edge_days).filter(
        pl.col("role").is_null() | (pl.col("role") == "child")
    )


def with_mother_dob(candidates: pl.DataFrame, ids: pl.DataFrame) -> pl.DataFrame:
    """A child's records plus `mother_dob`: the date of birth of the record with role "mother" in the
    same family (`family_key`), where the dataset names families and their mothers (the survey).

    Twins aside, two children with the same names, date of birth and sex (16 Olivias are born in
    England on an average day) almost never have mothers born on the same day: the registration's
    `mother_dob` settles what names and a changed address cannot. Datasets without mother rows are
    returned unchanged, so the model leaves the comparison out for them."""
    if "role" not in ids.columns or "family_key" not in ids.columns:
        return candidates
    mothers = (
        ids.filter((pl.col("role") == "mother") & pl.col("family_key").is_not_null() & pl.col("dob").is_not_null())
        .group_by("family_key").agg(pl.col("dob").first().alias("mother_dob"), pl.col("dob").n_unique().alias("__n"))
        .filter(pl.col("__n") == 1).drop("__n")  # a family with two different mothers' dates says nothing
    )
    if mothers.is_empty():
        return candidates
    return candidates.join(mothers, on="family_key", how="left")


def spine_with_mother_dob(spine: pl.DataFrame, births_mothers: pl.DataFrame) -> pl.DataFrame:
    """The spine plus the registration's `mother_dob` (aliases inherit their person's)."""
    if "mother_dob" in spine.columns:
        return spine
    return spine.join(births_mothers.select("record_id", "mother_dob"), on="record_id", how="left")


def signed_records(records: pl.DataFrame, columns: list[str], slot: str | None, entity: str | None) -> pl.DataFrame:
    """record_id, the compared columns, `__sig` (a hash of the columns, slot and entity: records with
    the same signature are scored once) and `__entity` (the unit that links as one: the entity key
    where the record has one, else the signature)."""
    keys = list(columns) + ([slot] if slot else [])
    extra = [entity] if entity and entity not in keys else []
    rows = records.select("record_id", *keys, *extra)
    rows = rows.with_columns(pl.struct(keys + ([entity] if entity else [])).hash(seed=0).cast(pl.String).alias("__sig"))
    if entity:
        key = pl.when(pl.col(entity).is_not_null()).then(pl.lit("k:") + pl.col(entity).cast(pl.String))
        return rows.with_columns(key.otherwise(pl.lit("s:") + pl.col("__sig")).alias("__entity"))
    return rows.with_columns(pl.col("__sig").alias("__entity"))


def link_probabilistically(
    con: duckdb.DuckDBPyConnection,
    dataset: str,
    spine: pl.DataFrame,
    candidates: pl.DataFrame,
    linked: pl.DataFrame,
    plan: DatasetPlan,
    settings: LinkageSettings = LinkageSettings(),
    model: dict[str, Any] | None = None,
) -> DatasetOutcome:
    """Splink for `candidates` not in `linked` (record_id, person_id) against `spine` (identifier rows
    with person_id; aliases welcome).

    Records with identical identifiers are scored once. Where the plan names an `entity` (a UPN, a care
    record), the entity links as one: its `per_entity` most frequent signatures are scored, its evidence
    is the best of their scores, and every row of a linked entity gets the person (rows that were not
    scored themselves with step `entity_step`). An entity with a row already in `linked` is not scored.
    """
    t0 = time.perf_counter()
    spec = settings.spec
    cols = sorted(spec.columns & set(spine.columns) & set(candidates.columns))
    slot = None if plan.entity else plan.slot
    rows = signed_records(candidates, cols, slot, plan.entity)
    done = rows.join(linked.select("record_id"), on="record_id", how="semi").select("__entity").unique()
    keys = cols + ([slot] if slot else [])
    sigs = rows.group_by("__sig", maintain_order=True).agg(
        pl.col("__entity").first(), pl.len().alias("rows"), pl.col("record_id").first().alias("first_record_id"),
        *[pl.col(k).first() for k in keys],
    )
    if plan.entity:
        sigs = sigs.sort("rows", descending=True, maintain_order=True).group_by("__entity", maintain_order=True).head(plan.per_entity)
    residual = sigs.join(done, on="__entity", how="anti")
    scored = fit_and_score(
        con, spine.select("record_id", *cols), residual.select(pl.col("__sig").alias("record_id"), *cols), spec,
        train_right=sigs.select(pl.col("__sig").alias("record_id"), *cols), model=model,
    )
    pairs = (
        scored.pairs.join(spine.select(pl.col("record_id").alias("left_id"), "person_id"), on="left_id")
        .rename({"left_id": "spine_record_id", "right_id": "__sig"})
        .join(sigs.select("__sig", "__entity", "first_record_id"), on="__sig")
        .sort("match_weight", descending=True)
        .unique(["__entity", "person_id"], keep="first")  # an entity's evidence for a person: its best row
        .rename({"__entity": "record_id"})
    )
    n_entities = residual["__entity"].n_unique()
    prior, share = calibrate_prior(pairs, n_left=spine["person_id"].n_unique(), n_right=n_entities, record="record_id")
    if not pairs.is_empty():
        pairs = with_prior(pairs, prior)
    if slot:
        pairs = pairs.join(sigs.select(pl.col("__entity").alias("record_id"), slot).unique("record_id"), on="record_id")
    best = pairs.group_by("record_id").agg(pl.col("match_weight").max())
    threshold = choose_threshold(best["match_weight"], settings.threshold_rule, match_share=share)
    # the slots a linked entity fills: its rows' slot values (a UPN spans academic years)
    entity_slots = (
        rows.select("record_id", "__entity").join(candidates.select("record_id", plan.slot), on="record_id")
        .select(pl.col("__entity").alias("record_id"), plan.slot).unique()
        if plan.entity and plan.slot else None
    )
    taken = None
    if plan.one_to_one and not linked.is_empty():
        slot_of = candidates.select("record_id", *([plan.slot] if plan.slot else []))
        taken = linked.join(slot_of, on="record_id").select("person_id", *([plan.slot] if plan.slot else []))
    decisions = resolve_links(pairs, threshold, margin=settings.margin, slot=slot, one_to_one=plan.one_to_one,
                              taken=taken, slots=entity_slots)
    scored_sigs = residual.select("__sig", pl.lit(True).alias("__scored"))
    per_record = (
        rows.select("record_id", "__entity", "__sig")
        .join(linked.select("record_id"), on="record_id", how="anti")
        .join(decisions.rename({"record_id": "__entity"}), on="__entity")
        .join(scored_sigs, on="__sig", how="left")
        .with_columns(
            pl.when(pl.col("__scored").is_null() & pl.lit(plan.entity_step is not None))
            .then(pl.lit(plan.entity_step)).otherwise(pl.lit(STEP_PROBABILISTIC)).alias("step")
        )
        .drop("__entity", "__sig", "__scored")
    )
    # keep the pairs a clerical reviewer might look at, not every scored pair of a large dataset
    pairs = pairs.filter((pl.col("match_weight") - threshold).abs() <= settings.keep_pairs_within)
    pairs = pairs.drop("record_id", "__sig").rename({"first_record_id": "record_id"})
    return DatasetOutcome(
        dataset=dataset, decisions=per_record, pairs=pairs, threshold=threshold, model=scored.model,
        prior=prior, match_share=share, records_scored=residual.height, seconds=time.perf_counter() - t0,
    )


CHILD_LINK_COLUMNS = ("dataset", "record_id", "person_id", "step", "match_probability", "match_weight", "confident")


def _links_from_decisions(dataset: str, decisions: pl.DataFrame, confident_weight: float) -> pl.DataFrame:
    return decisions.filter(pl.col("decision") == "linked").select(
        pl.lit(dataset).alias("dataset"), "record_id", "person_id", "step",
        "match_probability", "match_weight", (pl.col("match_weight") >= confident_weight).alias("confident"),
    )


def _deterministic(dataset: str, links: pl.DataFrame) -> pl.DataFrame:
    return links.select(pl.lit(dataset).alias("dataset"), "record_id", "person_id", "step",
                        pl.lit(1.0).alias("match_probability"), pl.lit(None, pl.Float64).alias("match_weight"),
                        pl.lit(True).alias("confident"))


def observed_identifiers(ids: dict[str, pl.DataFrame], links: pl.DataFrame) -> pl.DataFrame:
    """person_id, forename, surname, postcode of the records in `links` (dataset, record_id, person_id)."""
    frames = [
        part.select("record_id", "person_id").join(ids[ds].select("record_id", *ALIAS_COLUMNS), on="record_id")
        for (ds,), part in links.group_by("dataset") if ds in ids
    ]
    if not frames:
        return pl.DataFrame(schema={"person_id": pl.String, **{c: pl.String for c in ALIAS_COLUMNS}})
    return pl.concat(frames).select("person_id", *ALIAS_COLUMNS)


def keyed_records(ids: dict[str, pl.DataFrame], rule: KeyRule) -> pl.DataFrame:
    """dataset, record_id, key value: the records of a key rule's datasets that carry the key (and are
    a child's records: role child or not stated)."""
    frames = [
        ids[ds].filter(pl.col(rule.key).is_not_null() & (pl.col("role").is_null() | (pl.col("role") == "child")))
        .select("dataset", "record_id", rule.key)
        for ds in dict.fromkeys(rule.sources + rule.targets) if ds in ids
    ]
    if not frames:
        return pl.DataFrame(schema={"dataset": pl.String, "record_id": pl.String, rule.key: pl.String})
    return pl.concat(frames)


@dataclass
class KeyRuleRecords:
    """A key rule's records: `sources` (dataset, record_id, key) may vouch for a key once linked;
    `open` are the target records not linked yet. Most records are linked after the first datasets, so
    each round weighs only the open ones (`close` drops those linked since), not the whole school census."""

    rule: KeyRule
    sources: pl.DataFrame
    open: pl.DataFrame

    @classmethod
    def of(cls, ids: dict[str, pl.DataFrame], rule: KeyRule) -> "KeyRuleRecords":
        records = keyed_records(ids, rule)
        return cls(rule, records.filter(pl.col("dataset").is_in(rule.sources)),
                   records.filter(pl.col("dataset").is_in(rule.targets)))

    def close(self, links: pl.DataFrame) -> None:
        if not links.is_empty() and not self.open.is_empty():
            self.open = self.open.join(links.select("dataset", "record_id"), on=["dataset", "record_id"], how="anti")


def _apply_key_rules(keyed: list[KeyRuleRecords], child: pl.DataFrame, new: pl.DataFrame) -> pl.DataFrame:
    """Key rules until they find nothing new; returns the new child links.

    child: every child link so far; new: those made since the last call (closed in `keyed` first)."""
    for records in keyed:
        records.close(new)
    new_links = []
    linked = child.select("dataset", "record_id", "person_id")
    while True:
        found = []
        for records in keyed:
            rule = records.rule
            if records.open.is_empty():
                continue
            # only the keys of records still unlinked can give anything
            open_keys = records.open.select(rule.key).unique()
            vouching = records.sources.join(open_keys, on=rule.key, how="semi")
            vouched = vouching.join(linked.join(vouching.select("dataset", "record_id"), on=["dataset", "record_id"],
                                                how="semi"), on=["dataset", "record_id"])
            got = records.open.join(key_person_map(vouched, rule.key), on=rule.key)
            if not got.is_empty():
                found.append(got.select("dataset", "record_id", "person_id", pl.lit(rule.name).alias("step")))
        if not found:
            break
        batch = pl.concat(found).unique(["dataset", "record_id"], keep="first", maintain_order=True)
        new_links.append(batch)
        linked = pl.concat([linked, batch.select(linked.columns)])
        for records in keyed:
            records.close(batch)
    if not new_links:
        return child.clear()
    batch = pl.concat(new_links)
    return batch.select(
        "dataset", "record_id", "person_id", "step", pl.lit(1.0).alias("match_probability"),
        pl.lit(None, pl.Float64).alias("match_weight"), pl.lit(True).alias("confident"),
    )


def link_birth_year(
    con: duckdb.DuckDBPyConnection,
    birth_year: int,
    inputs: LinkageInputs,
    *,
    spine: pl.DataFrame | None = None,
    settings: LinkageSettings = LinkageSettings(),
    models: dict[str, dict[str, Any]] | None = None,
) -> LinkageResult:
    """Link every dataset of `inputs` to the children born in `birth_year` (see module docstring).

    inputs: `identifiers.linkage_inputs(clean)` (identifier projections only).
    spine: `spine.deduplicate_births(inputs.identifiers["births"])` if already computed (all years).
    models: trained Splink models by dataset (as returned in `LinkageResult.models`) to reuse instead
        of training again, e.g. from a previous partition.
    """
    timings: dict[str, float] = {}
    t = time.perf_counter()
    ids = inputs.identifiers
    spine_all = spine if spine is not None else deduplicate_births(ids["births"])
    spine_y = spine_with_mother_dob(spine_for_year(spine_all, birth_year), inputs.births_mothers)
    datasets = [ds for ds in PLANS if ds in ids]
    candidates = {ds: with_mother_dob(child_candidates(ids[ds], birth_year, settings.edge_days), ids[ds])
                  for ds in datasets}
    timings["spine"] = time.perf_counter() - t

    t = time.perf_counter()
    child = [
        _deterministic(ds, link_by_rule(con, NHS_DOB_SEX, spine_y, candidates[ds]))
        for ds in NHS_DATASETS if ds in candidates
    ]
    empty = conform(pl.DataFrame()).with_columns(pl.lit(None, pl.Boolean).alias("confident"))
    child_links = pl.concat(child) if child else empty.select(CHILD_LINK_COLUMNS)
    timings["deterministic"] = time.perf_counter() - t

    outcomes: dict[str, DatasetOutcome] = {}
    trained: dict[str, dict[str, Any]] = {}
    births_y = births_with_persons(inputs.births_mothers, spine_y)
    family = family_postcodes(births_y, inputs.births_mothers, inputs.maternity) if settings.enrich_spine else None

    def run_wave(wave: int) -> None:
        nonlocal child_links
        for ds in datasets:
            plan = PLANS[ds]
            if plan.wave != wave or candidates[ds].is_empty():
                continue
            linked = child_links.filter(pl.col("dataset") == ds).select("record_id", "person_id")
            spine = spine_y
            if settings.enrich_spine:
                spine = enrich_spine(spine_y, observed_so_far())
            outcome = link_probabilistically(con, ds, spine, candidates[ds], linked, plan, settings,
                                             model=(models or {}).get(ds))
            outcomes[ds] = outcome
            trained[ds] = outcome.model
            timings[f"probabilistic:{ds}"] = outcome.seconds
            new = _links_from_decisions(ds, outcome.decisions, outcome.threshold + settings.margin)
            child_links = pl.concat([child_links, new])
            if any(ds in rule.sources for rule in KEY_RULES):
                run_key_rules()

    keyed = [KeyRuleRecords.of(ids, rule) for rule in KEY_RULES]
    observed_cache: dict[str, Any] = {"links": 0, "frame": family}

    def observed_so_far() -> pl.DataFrame:
        """The family postcodes and what confident links have seen, updated with the links added
        since the last call only."""
        confident = child_links.filter(pl.col("confident"))
        new = confident.slice(observed_cache["links"])
        if not new.is_empty():
            seen = observed_identifiers(ids, new)
            observed_cache["frame"] = pl.concat([observed_cache["frame"], seen], how="diagonal").unique()
            observed_cache["links"] = confident.height
        return observed_cache["frame"]

    key_rules_saw = {"links": 0}

    def run_key_rules() -> None:
        nonlocal child_links
        t = time.perf_counter()
        new = child_links.slice(key_rules_saw["links"])
        child_links = pl.concat([child_links, _apply_key_rules(keyed, child_links, new)])
        key_rules_saw["links"] = child_links.height
        timings["key_rules"] = timings.get("key_rules", 0.0) + time.perf_counter() - t

    run_key_rules()  # care records linked by NHS number vouch for their UPNs
    run_wave(1)
    run_key_rules()
    run_wave(2)

    t = time.perf_counter()
    admissions = link_mother_admissions(births_y, inputs.maternity, settings.maternal_window_days)
    deliveries, delivery_decisions, delivery_threshold = link_deliveries(con, births_y, inputs.maternity,
                                                                         margin=settings.margin)
    mother_rows = pl.concat([deliveries, admissions]).unique(["record_id", "person_id"], keep="first", maintain_order=True)
    mother_rows = mother_rows.with_columns(pl.lit("hes_apc").alias("dataset"))
    if not delivery_decisions.is_empty():
        outcomes["mother_baby"] = DatasetOutcome(
            dataset="hes_apc", decisions=delivery_decisions, pairs=pl.DataFrame(), threshold=delivery_threshold,
            model={}, prior=float("nan"), match_share=float("nan"), records_scored=delivery_decisions.height,
            seconds=time.perf_counter() - t)
    parents = pl.DataFrame()
    if "survey" in ids:
        survey_children = child_links.filter(pl.col("dataset") == "survey")
        parents = link_survey_parents(ids["survey"], survey_children).with_columns(pl.lit("survey").alias("dataset"))
    timings["mothers"] = time.perf_counter() - t

    t = time.perf_counter()
    spine_rows = spine_y.select(
        pl.lit("births").alias("dataset"), "record_id", "person_id",
        pl.when(pl.col("is_kept")).then(pl.lit(STEP_SPINE)).otherwise(pl.lit(STEP_SPINE_DUPLICATE)).alias("step"),
        pl.lit(1.0).alias("match_probability"), pl.lit(None, pl.Float64).alias("match_weight"),
    )
    records = pl.concat([spine_rows.select("dataset", "record_id")]
                        + [candidates[ds].select("dataset", "record_id") for ds in datasets])
    all_links = pl.concat([
        conform(spine_rows, role="child"),
        conform(child_links, role="child"),
        conform(mother_rows),
        *([conform(parents)] if not parents.is_empty() else []),
    ])
    link_map = assemble_link_map(records, all_links)
    timings["link_map"] = time.perf_counter() - t
    return LinkageResult(
        birth_year=birth_year, link_map=link_map, outcomes=outcomes, candidates=records, spine=spine_y,
        timings=timings, models=trained,
    )

"""Linkage quality of one partition: how much linked, how well, and for whom it did worse.

`linkage_quality(result, inputs)` computes, per dataset (the partition is one birth year):

- `link_rates`: share of the dataset's candidate records linked by each step (and unlinked);
- `model_estimates`: precision and recall of the probabilistic step estimated from the model's own
  match probabilities (precision = mean probability of the accepted links; recall = the expected
  true matches accepted over those expected among every record's best candidate), with the threshold,
  the calibrated prior and the estimated share of records that have a match;
- `nhs_check`: the same checked against NHS numbers where both the record and the spine carry a valid
  one (the label is the person whose registration has that number). Records that `nhs_dob_sex` links
  agree by construction, so the informative rows are those of the other steps. This is a check, not an
  independent truth: NHS numbers also enter the model;
- `blocking`: each probabilistic blocking rule's recall over the NHS-labelled pairs (the share of true
  pairs the rule would put in front of the model), and the union's;
- `histogram`: records' best match weights in bins of one, with how many were linked;
- `bias`: link rate by sex, ethnicity, IMD decile and local authority (`characteristics_of`), cells
  under `SMALL_CELL` records suppressed;
- `clerical`: a sample of borderline pairs (best weight within `band` of the threshold), ids only;
  `with_identifiers` adds both sides' identifiers for the secure report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb
import polars as pl

from cohort_platform.linkage.comparisons import Block
from cohort_platform.linkage.identifiers import LinkageInputs, harmonised_sex
from cohort_platform.linkage.link_map import STEP_UNLINKED

SMALL_CELL = 10
"""Groups with fewer records than this are suppressed in the bias tables (disclosure control)."""

ETHNICITY_COLUMN = {"hes_apc": "ethnos", "npd_census": "ethnicity", "cla": "ethnic",
                    "census_2011": "ethnic_group", "census_2021": "ethnic_group"}
LA_COLUMN = {"npd_census": "la_code", "cla": "la_code"}
POSTCODE_COLUMN = {"births": "postcode", "deaths": "postcode", "hes_apc": "homeadd", "mhsds": "postcode",
                   "npd_census": "postcode", "cla": "home_post", "census_2011": "postcode",
                   "census_2021": "postcode", "survey": "postcode"}


@dataclass
class LinkageQuality:
    birth_year: int
    link_rates: pl.DataFrame
    model_estimates: pl.DataFrame
    nhs_check: pl.DataFrame
    blocking: pl.DataFrame
    histogram: pl.DataFrame
    bias: pl.DataFrame
    clerical: pl.DataFrame
    mother_baby: dict[str, Any] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        """Plain numbers per dataset for Dagster asset metadata."""
        out: dict[str, Any] = {"birth_year": self.birth_year}
        rates = self.link_rates
        linked = rates.filter(pl.col("step") != STEP_UNLINKED).group_by("dataset").agg(pl.col("share").sum()) \
            if "step" in rates.columns else rates
        for row in linked.iter_rows(named=True):
            out[f"{row['dataset']}/link_rate"] = round(row["share"], 5)
        for row in self.model_estimates.iter_rows(named=True):
            for k in ("threshold", "estimated_precision", "estimated_recall"):
                if row.get(k) is not None:
                    out[f"{row['dataset']}/{k}"] = round(float(row[k]), 5)
        nhs_rows = self.nhs_check.filter(pl.col("step") == "all") if "step" in self.nhs_check.columns else self.nhs_check
        for row in nhs_rows.iter_rows(named=True):
            if row.get("precision") is not None:
                out[f"{row['dataset']}/nhs_label_precision"] = round(float(row["precision"]), 5)
            if row.get("recall") is not None:
                out[f"{row['dataset']}/nhs_label_recall"] = round(float(row["recall"]), 5)
        for k, v in self.mother_baby.items():
            out[f"mother_baby/{k}"] = v
        return out


# ------------------------------------------------------------------------------ link rates

def link_rates(link_map: pl.DataFrame, candidates: pl.DataFrame) -> pl.DataFrame:
    """dataset, step, records, share: child-role rows of the partition's candidate records."""
    rows = link_map.filter(pl.col("role") == "child").join(candidates, on=["dataset", "record_id"], how="semi")
    return (
        rows.group_by("dataset", "step").agg(pl.len().alias("records"))
        .with_columns((pl.col("records") / pl.col("records").sum().over("dataset")).alias("share"))
        .sort("dataset", "step")
    )


# ------------------------------------------------------------------------------ model estimates

def model_estimates(outcomes: dict) -> pl.DataFrame:
    """Per dataset: records scored, linked, ambiguous, threshold, estimated precision and recall."""
    rows = []
    for name, o in outcomes.items():
        d = o.decisions
        if d.is_empty():
            continue
        linked = d.filter(pl.col("decision") == "linked")
        p_linked = float(linked["match_probability"].sum())
        p_all = float(d["match_probability"].fill_null(0).sum())
        rows.append({
            "dataset": name,
            "records_with_candidates": d.height,
            "linked": linked.height,
            "ambiguous": d.filter(pl.col("decision") == "ambiguous").height,
            "below_threshold": d.filter(pl.col("decision") == "below_threshold").height,
            "threshold": o.threshold,
            "prior": o.prior,
            "estimated_match_share": o.match_share,
            "estimated_precision": p_linked / linked.height if linked.height else None,
            "estimated_recall": p_linked / p_all if p_all > 0 else None,
        })
    schema = {"dataset": pl.String, "records_with_candidates": pl.Int64, "linked": pl.Int64, "ambiguous": pl.Int64,
              "below_threshold": pl.Int64, "threshold": pl.Float64, "prior": pl.Float64,
              "estimated_match_share": pl.Float64, "estimated_precision": pl.Float64, "estimated_recall": pl.Float64}
    return pl.DataFrame(rows, schema=schema)


# ------------------------------------------------------------------------------ NHS number labels

def nhs_labels(ids: dict[str, pl.DataFrame], spine: pl.DataFrame) -> pl.DataFrame:
    """dataset, record_id, label_person, label_spine_record: records whose valid NHS number belongs to
    exactly one person of the spine."""
    owners = (
        spine.filter(pl.col("nhs_number").is_not_null())
        .group_by("nhs_number").agg(pl.col("person_id").n_unique().alias("n"), pl.col("person_id").first(),
                                    pl.col("record_id").first().alias("label_spine_record"))
        .filter(pl.col("n") == 1).drop("n").rename({"person_id": "label_person"})
    )
    frames = [
        f.filter(pl.col("nhs_number").is_not_null() & (pl.col("role").is_null() | (pl.col("role") == "child")))
        .select("dataset", "record_id", "nhs_number")
        for name, f in ids.items() if name != "births"
    ]
    if not frames:
        return pl.DataFrame(schema={"dataset": pl.String, "record_id": pl.String, "label_person": pl.String,
                                    "label_spine_record": pl.String})
    return pl.concat(frames).join(owners, on="nhs_number").drop("nhs_number")


def nhs_check(link_map: pl.DataFrame, labels: pl.DataFrame, candidates: pl.DataFrame) -> pl.DataFrame:
    """dataset, step, labelled, linked, agree, precision, recall (per step and 'all')."""
    rows = (
        labels.join(candidates, on=["dataset", "record_id"], how="semi")
        .join(link_map.filter(pl.col("role") == "child"), on=["dataset", "record_id"], how="left")
        .with_columns(
            pl.col("person_id").is_not_null().alias("is_linked"),
            (pl.col("person_id") == pl.col("label_person")).fill_null(False).alias("agrees"),
        )
    )

    def summarise(frame: pl.DataFrame, by: list[str]) -> pl.DataFrame:
        return frame.group_by(by).agg(
            pl.len().alias("labelled"), pl.col("is_linked").sum().alias("linked"), pl.col("agrees").sum().alias("agree"),
        )

    per_step = summarise(rows, ["dataset", "step"])
    overall = summarise(rows, ["dataset"]).with_columns(pl.lit("all").alias("step")).select(per_step.columns)
    out = pl.concat([per_step, overall]).with_columns(
        pl.when(pl.col("linked") > 0).then(pl.col("agree") / pl.col("linked")).alias("precision"),
        pl.when(pl.col("step") == "all").then(pl.col("agree") / pl.col("labelled")).alias("recall"),
    )
    return out.sort("dataset", "step")


# ------------------------------------------------------------------------------ blocking recall

def blocking_recall(
    con: duckdb.DuckDBPyConnection,
    labels: pl.DataFrame,
    left: pl.DataFrame,
    right: pl.DataFrame,
    blocks: tuple[Block, ...],
) -> pl.DataFrame:
    """rule, pairs, found, recall: the share of labelled true pairs (left_id, right_id) each blocking
    rule (and their union, rule 'any') would generate. left/right: identifier rows (record_id, ...)."""
    if labels.is_empty() or not blocks:
        return pl.DataFrame(schema={"rule": pl.String, "pairs": pl.Int64, "found": pl.Int64, "recall": pl.Float64})
    con.register("__br_pairs", labels.select("left_id", "right_id").unique().to_arrow())
    con.register("__br_l", left.to_arrow())
    con.register("__br_r", right.to_arrow())
    try:
        flags = ",\n".join(f"coalesce(({b.sql()}), false) as \"{b.name}\"" for b in blocks)
        found = con.sql(f"""
            select {flags}
            from __br_pairs p join __br_l l on l.record_id = p.left_id join __br_r r on r.record_id = p.right_id
        """).pl()
    finally:
        for t in ("__br_pairs", "__br_l", "__br_r"):
            con.unregister(t)
    n = found.height
    rows = [{"rule": b.name, "pairs": n, "found": int(found[b.name].sum())} for b in blocks]
    rows.append({"rule": "any", "pairs": n, "found": int(found.select(pl.any_horizontal(pl.all())).to_series().sum()) if n else 0})
    return pl.DataFrame(rows).with_columns((pl.col("found") / pl.col("pairs")).alias("recall"))


# ------------------------------------------------------------------------------ histogram

def weight_histogram(outcomes: dict, bin_width: float = 1.0) -> pl.DataFrame:
    """dataset, weight_bin (lower edge), records, linked: records' best match weights."""
    frames = []
    for name, o in outcomes.items():
        d = o.decisions
        if d.is_empty():
            continue
        frames.append(
            d.filter(pl.col("match_weight").is_not_null()).with_columns(
                ((pl.col("match_weight") / bin_width).floor() * bin_width).alias("weight_bin"),
                (pl.col("decision") == "linked").alias("is_linked"),
            ).group_by("weight_bin").agg(pl.len().alias("records"), pl.col("is_linked").sum().alias("linked"))
            .with_columns(pl.lit(name).alias("dataset"))
            .select("dataset", "weight_bin", "records", "linked")
        )
    if not frames:
        return pl.DataFrame(schema={"dataset": pl.String, "weight_bin": pl.Float64, "records": pl.UInt32, "linked": pl.UInt32})
    return pl.concat(frames).sort("dataset", "weight_bin")


# ------------------------------------------------------------------------------ bias

def characteristics_of(
    dataset: str, clean: pl.DataFrame, postcodes: pl.DataFrame | None = None, lsoa_imd: pl.DataFrame | None = None
) -> pl.DataFrame:
    """dataset, record_id, sex ('1'/'2'/null), ethnicity (the dataset's own code), imd_decile, la_code:
    the groups linkage bias is reported by. IMD and (where the dataset lacks one) LA come from the
    record's postcode through the reference tables when given."""
    eth = ETHNICITY_COLUMN.get(dataset)
    la = LA_COLUMN.get(dataset)
    pc = POSTCODE_COLUMN.get(dataset)
    out = clean.select(
        pl.lit(dataset).alias("dataset"),
        pl.col("record_id").cast(pl.String),
        harmonised_sex("sex").alias("sex"),
        (pl.col(eth).cast(pl.String) if eth else pl.lit(None, pl.String)).alias("ethnicity"),
        (pl.col(la).cast(pl.String) if la else pl.lit(None, pl.String)).alias("la_code"),
        (pl.col(pc).cast(pl.String) if pc else pl.lit(None, pl.String)).alias("__postcode"),
    )
    imd = pl.lit(None, pl.Int64).alias("imd_decile")
    if postcodes is not None:
        ref = postcodes.select(pl.col("postcode").alias("__postcode"), "lsoa11cd", pl.col("la_code").alias("__la"))
        out = out.join(ref, on="__postcode", how="left").with_columns(pl.coalesce("la_code", "__la").alias("la_code"))
        if lsoa_imd is not None:
            out = out.join(lsoa_imd.select("lsoa11cd", pl.col("imd_decile").cast(pl.Int64)), on="lsoa11cd", how="left")
            imd = pl.col("imd_decile")
    return out.with_columns(imd).select("dataset", "record_id", "sex", "ethnicity", "imd_decile", "la_code")


def link_rate_by(
    link_map: pl.DataFrame, candidates: pl.DataFrame, characteristics: pl.DataFrame,
    by: tuple[str, ...] = ("sex", "ethnicity", "imd_decile", "la_code"),
) -> pl.DataFrame:
    """dataset, characteristic, value, records, linked, rate (null where records < SMALL_CELL)."""
    rows = (
        link_map.filter(pl.col("role") == "child")
        .join(candidates, on=["dataset", "record_id"], how="semi")
        .join(characteristics, on=["dataset", "record_id"], how="left")
        .with_columns(pl.col("person_id").is_not_null().alias("is_linked"))
    )
    frames = []
    for c in by:
        frames.append(
            rows.group_by("dataset", pl.col(c).cast(pl.String).alias("value"))
            .agg(pl.len().alias("records"), pl.col("is_linked").sum().alias("linked"))
            .with_columns(pl.lit(c).alias("characteristic"))
            .select("dataset", "characteristic", "value", "records", "linked")
        )
    out = pl.concat(frames)
    small = pl.col("records") < SMALL_CELL
    return out.with_columns(
        pl.when(small).then(None).otherwise(pl.col("linked") / pl.col("records")).alias("rate"),
        pl.when(small).then(None).otherwise(pl.col("records")).alias("records"),
        pl.when(small).then(None).otherwise(pl.col("linked")).alias("linked"),
    ).sort("dataset", "characteristic", "value", nulls_last=True)


# ------------------------------------------------------------------------------ clerical review

def clerical_sample(outcomes: dict, band: float = 2.0, per_dataset: int = 20, seed: int = 1) -> pl.DataFrame:
    """Borderline pairs: records whose best weight lies within `band` of the threshold, sampled.
    dataset, record_id, spine_record_id, person_id, match_weight, decision, gamma_*; ids only."""
    frames = []
    for name, o in outcomes.items():
        if o.pairs.is_empty() or o.decisions.is_empty():
            continue
        near = o.decisions.filter((pl.col("match_weight") - o.threshold).abs() <= band)
        if near.is_empty():
            continue
        near = near.sample(min(per_dataset, near.height), seed=seed)
        best_pairs = (
            o.pairs.join(near.select("record_id", "decision"), on="record_id")
            .sort("match_weight", descending=True).unique("record_id", keep="first")
        )
        gammas = [c for c in best_pairs.columns if c.startswith("gamma_")]
        frames.append(best_pairs.select(
            pl.lit(name).alias("dataset"), "record_id", "spine_record_id", "person_id", "match_weight",
            "decision", *[pl.col(g).cast(pl.Int64) for g in gammas]))
    return pl.concat(frames, how="diagonal") if frames else pl.DataFrame()


def with_identifiers(sample: pl.DataFrame, inputs: LinkageInputs) -> pl.DataFrame:
    """The clerical sample with both sides' identifiers, for the secure report only. The spine side
    is the person's own registration (the pair may have matched one of the person's aliases)."""
    if sample.is_empty():
        return sample
    shown = ["record_id", "nhs_number_any", "upn", "forename", "surname", "dob", "sex", "postcode"]
    births = inputs.identifiers["births"].select(shown).rename({c: f"spine_{c}" for c in shown})
    frames = []
    for ds, part in sample.group_by("dataset"):
        ids = inputs.identifiers[ds[0]].select(shown).rename({c: f"record_{c}" for c in shown})
        frames.append(
            part.join(ids, left_on="record_id", right_on="record_record_id", how="left")
            .join(births, left_on="person_id", right_on="spine_record_id", how="left")
        )
    return pl.concat(frames, how="diagonal")


# ------------------------------------------------------------------------------ everything

def linkage_quality(
    result,
    inputs: LinkageInputs,
    *,
    characteristics: pl.DataFrame | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
    clerical_per_dataset: int = 20,
) -> LinkageQuality:
    """All of the module's measures for one `pipeline.LinkageResult`."""
    from cohort_platform.linkage.probabilistic import PERSON_MODEL  # noqa: PLC0415 - avoid an import cycle

    child_outcomes = {k: v for k, v in result.outcomes.items() if k != "mother_baby"}
    labels = nhs_labels(inputs.identifiers, result.spine)
    blocking_rows = []
    if con is not None:
        blocks = tuple(b for b in PERSON_MODEL.blocking if "nhs_number" not in b.columns and "nhs_number_any" not in b.columns)
        for ds, f in inputs.identifiers.items():
            lab = labels.filter(pl.col("dataset") == ds).join(result.candidates, on=["dataset", "record_id"], how="semi")
            if ds == "births" or lab.is_empty():
                continue
            avail = [b for b in blocks if set(b.columns) <= set(f.columns)]
            br = blocking_recall(con, lab.select(pl.col("label_spine_record").alias("left_id"), pl.col("record_id").alias("right_id")),
                                 result.spine.drop("person_id", "is_kept", "duplicate_rule"), f, tuple(avail))
            blocking_rows.append(br.with_columns(pl.lit(ds).alias("dataset")))
    blocking = pl.concat(blocking_rows).select("dataset", "rule", "pairs", "found", "recall") if blocking_rows else pl.DataFrame(
        schema={"dataset": pl.String, "rule": pl.String, "pairs": pl.Int64, "found": pl.Int64, "recall": pl.Float64})
    if characteristics is None:
        characteristics = pl.concat([
            f.select("dataset", "record_id", "sex", pl.lit(None, pl.String).alias("ethnicity"),
                     pl.lit(None, pl.Int64).alias("imd_decile"), pl.lit(None, pl.String).alias("la_code"))
            for f in inputs.identifiers.values()
        ])
    mb = result.outcomes.get("mother_baby")
    births = result.link_map.filter((pl.col("dataset") == "births") & (pl.col("step") == "spine"))
    with_delivery = result.link_map.filter(pl.col("step") == "mother_baby_delivery").select("person_id").unique()
    mother_baby = {
        "births": births.height,
        "births_with_delivery": births.join(with_delivery, on="person_id", how="semi").height,
    }
    if births.height:
        mother_baby["coverage"] = round(mother_baby["births_with_delivery"] / births.height, 5)
    if mb is not None:
        mother_baby["threshold"] = mb.threshold
    return LinkageQuality(
        birth_year=result.birth_year,
        link_rates=link_rates(result.link_map, result.candidates),
        model_estimates=model_estimates(child_outcomes),
        nhs_check=nhs_check(result.link_map, labels, result.candidates),
        blocking=blocking,
        histogram=weight_histogram(child_outcomes),
        bias=link_rate_by(result.link_map, result.candidates.filter(pl.col("dataset") != "births"), characteristics),
        clerical=clerical_sample(child_outcomes, per_dataset=clerical_per_dataset),
        mother_baby=mother_baby,
    )


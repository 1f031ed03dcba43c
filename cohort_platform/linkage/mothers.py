"""Mothers and fathers: maternal HES admissions, the mother-baby (delivery) link, survey parents.

All links here carry role mother (or father) and person_id = the *child's* person id, because the
cohort is of children: a mother's admissions are exposures of her child. A mother's record can
therefore belong to two children (twins share their mother's admissions, and a delivery episode
belongs to every baby of that delivery): the link map holds one row per (record, role, child).

- `link_mother_admissions`: HES episodes of the mother (adult episodes: `identifiers.maternity_episodes_of`)
  starting in the `window_days` (365) up to the birth, linked by named rules:
  `mother_nhs` (the episode's valid NHS number is the birth registration's mother_nhs_number, and the
  mother's date of birth does not contradict it), then for episodes or births without a valid number
  `mother_dob_postcode` (the mother's date of birth and full postcode agree).
- `link_deliveries`: the mother-baby link. Each delivery episode (epitype 2) is linked to one
  maternity (the births of one mother on one day: a singleton, twins, ...) with Splink
  (`MOTHER_BABY_MODEL`: mother's NHS number, mother's date of birth, postcode, the baby's date of birth
  against the episode start, and the baby fields of the delivery record: sex, birth weight,
  gestation, number of babies), one-to-one between deliveries and maternities; then every birth of
  the maternity gets the episode (step `mother_baby_delivery`).
- `link_survey_parents`: survey mothers and fathers, linked through the family to the family's
  linked children (step `survey_family`). Consent filtering happens before this (the caller passes
  only consenting rows).
"""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl

from cohort_platform.linkage.comparisons import Field, block
from cohort_platform.linkage.probabilistic import ModelSpec, fit_and_score
from cohort_platform.linkage.resolve import ThresholdRule, choose_threshold, resolve_links
from cohort_platform.linkage.spine import connected_components

ROLE_LINK_SCHEMA = {
    "record_id": pl.String(), "person_id": pl.String(), "role": pl.String(), "step": pl.String(),
    "match_probability": pl.Float64(), "match_weight": pl.Float64(),
}

MOTHER_BABY_MODEL = ModelSpec(
    name="mother_baby",
    fields=(
        Field("mother_nhs_number", "identifier", any_column="mother_nhs_number_any"),
        Field("mother_dob", "date"),
        Field("postcode", "postcode"),
        Field("baby_dob", "date_near", thresholds=(1, 3, 7)),
        Field("baby_sex", "sex"),
        Field("birthweight", "number", thresholds=(50, 250)),
        Field("gestation", "number", thresholds=(1, 2)),
        Field("multiplicity", "exact"),
    ),
    blocking=(
        block("mother_nhs_number"),
        # the mother's date of birth with the birth month, not the birth year: some 70 mothers born on one
        # day give birth in any year in England, so that rule's pairs grew with the square of the births
        block("mother_dob", "month(baby_dob)", name="mother_dob+birth_month", needs=("mother_dob", "baby_dob")),
        block("mother_dob", "postcode_district"),
        block("postcode", "year(baby_dob)", name="postcode+birth_year", needs=("postcode", "baby_dob")),
        block("baby_dob", "birthweight"),
        block("baby_dob", "postcode_district"),
    ),
    training=(
        block("mother_nhs_number"),
        block("mother_dob", "postcode"),
        block("baby_dob", "birthweight"),
    ),
)


def empty_role_links() -> pl.DataFrame:
    return pl.DataFrame(schema=ROLE_LINK_SCHEMA)


def births_with_persons(births_mothers: pl.DataFrame, spine: pl.DataFrame) -> pl.DataFrame:
    """The mother's side of each registration of the given spine rows, with the child's person_id."""
    return births_mothers.join(spine.select("record_id", "person_id"), on="record_id", how="inner")


def link_mother_admissions(
    births: pl.DataFrame, maternity: pl.DataFrame, window_days: int = 365
) -> pl.DataFrame:
    """Maternal admissions in the `window_days` before (and on) each birth, role mother.

    births: `births_with_persons` rows; maternity: `identifiers.maternity_episodes_of` rows.
    """
    if births.is_empty() or maternity.is_empty():
        return empty_role_links()
    window = dt.timedelta(days=window_days)
    in_window = pl.col("epistart").is_between(pl.col("dob") - window, pl.col("dob"))
    dob_agrees = pl.col("mother_dob").is_null() | pl.col("dob_m").is_null() | (pl.col("mother_dob") == pl.col("dob_m"))
    eps = maternity.select("record_id", "nhs_number", pl.col("dob").alias("dob_m"), "postcode", "epistart")
    by_nhs = (
        births.filter(pl.col("mother_nhs_number").is_not_null())
        .join(eps.filter(pl.col("nhs_number").is_not_null()), left_on="mother_nhs_number", right_on="nhs_number",
              suffix="_m")
        .filter(in_window & dob_agrees)
        .select(pl.col("record_id_m").alias("record_id"), "person_id", pl.lit("mother_nhs").alias("step"))
    )
    by_dob_postcode = (
        births.filter(pl.col("mother_dob").is_not_null() & pl.col("postcode").is_not_null())
        .join(eps, left_on=["mother_dob", "postcode"], right_on=["dob_m", "postcode"], suffix="_m")
        .filter(in_window)
        .select(pl.col("record_id_m").alias("record_id"), "person_id", pl.lit("mother_dob_postcode").alias("step"))
    )
    links = pl.concat([by_nhs, by_dob_postcode]).unique(["record_id", "person_id"], keep="first", maintain_order=True)
    return links.select(
        "record_id", "person_id", pl.lit("mother").alias("role"), "step",
        pl.lit(1.0).alias("match_probability"), pl.lit(None, pl.Float64).alias("match_weight"),
    )


def maternities(births: pl.DataFrame) -> pl.DataFrame:
    """record_id -> maternity_id: births of one mother on one day (same dob and the same valid
    mother's NHS number, or the same mother's date of birth and postcode)."""
    edges = []
    for keys in (("mother_nhs_number", "dob"), ("mother_dob", "postcode", "dob")):
        keyed = births.filter(pl.all_horizontal(pl.col(k).is_not_null() for k in keys)).select("record_id", *keys)
        edges.append(
            keyed.join(keyed, on=list(keys), suffix="_b").filter(pl.col("record_id") < pl.col("record_id_b"))
            .select(pl.col("record_id").alias("a"), pl.col("record_id_b").alias("b"))
        )
    labels = connected_components(births["record_id"], pl.concat(edges))
    return labels.rename({"node": "record_id", "label": "maternity_id"})


def _birth_side(births: pl.DataFrame) -> pl.DataFrame:
    return births.select(
        "record_id", "mother_nhs_number", "mother_nhs_number_any", "mother_dob", "postcode", "postcode_district",
        pl.col("dob").alias("baby_dob"), pl.col("sex").alias("baby_sex"), "birthweight", "gestation",
        pl.col("multiplicity").cast(pl.String),
    )


def _delivery_side(deliveries: pl.DataFrame) -> pl.DataFrame:
    return deliveries.select(
        "record_id", pl.col("nhs_number").alias("mother_nhs_number"), pl.col("nhs_number_any").alias("mother_nhs_number_any"),
        pl.col("dob").alias("mother_dob"), "postcode", "postcode_district",
        pl.coalesce("epistart", "admidate").alias("baby_dob"), pl.col("sexbaby").alias("baby_sex"),
        "birthweight", "gestation", pl.col("numbaby").cast(pl.String).alias("multiplicity"),
    )


def link_deliveries(
    con: duckdb.DuckDBPyConnection,
    births: pl.DataFrame,
    maternity: pl.DataFrame,
    *,
    train_births: pl.DataFrame | None = None,
    margin: float = 3.0,
    threshold_rule: ThresholdRule = ThresholdRule(),
) -> tuple[pl.DataFrame, pl.DataFrame, float]:
    """The mother-baby link (see module docstring).

    births: `births_with_persons` rows of the partition; maternity: maternal episodes (only
    `is_delivery` rows are used, and only those starting within a week of a birth in `births`).
    Returns (role links, resolved decisions per delivery episode, threshold).
    """
    deliveries = maternity.filter(pl.col("is_delivery"))
    if births.is_empty() or deliveries.is_empty():
        return empty_role_links(), pl.DataFrame(), float("nan")
    first, last = births["dob"].min() - dt.timedelta(days=7), births["dob"].max() + dt.timedelta(days=7)
    deliveries = deliveries.filter(pl.coalesce("epistart", "admidate").is_between(first, last))
    if deliveries.is_empty():
        return empty_role_links(), pl.DataFrame(), float("nan")
    left, right = _birth_side(births), _delivery_side(deliveries)
    scored = fit_and_score(con, left, right, MOTHER_BABY_MODEL, calibrate=True,
                           train_left=_birth_side(train_births) if train_births is not None else None)
    mat = maternities(births)
    pairs = (
        scored.pairs.join(mat, left_on="left_id", right_on="record_id")
        .select(pl.col("right_id").alias("record_id"), pl.col("maternity_id").alias("person_id"),
                "match_weight", "match_probability")
    )
    best = pairs.group_by("record_id").agg(pl.col("match_weight").max())
    threshold = choose_threshold(best["match_weight"], threshold_rule, match_share=scored.match_share)
    decisions = resolve_links(pairs, threshold, margin=margin, one_to_one=True)
    linked = decisions.filter(pl.col("decision") == "linked").rename({"person_id": "maternity_id"})
    fanned = _fan_out(linked, mat, births)
    links = fanned.select(
        "record_id", "person_id", pl.lit("mother").alias("role"), pl.lit("mother_baby_delivery").alias("step"),
        "match_probability", "match_weight",
    )
    return links, decisions, threshold


def _fan_out(linked: pl.DataFrame, mat: pl.DataFrame, births: pl.DataFrame) -> pl.DataFrame:
    """A delivery linked to a maternity, given to every child (person) of the maternity."""
    children = mat.join(births.select("record_id", "person_id"), on="record_id").select("maternity_id", "person_id")
    return (
        linked.select("record_id", "maternity_id", "match_probability", "match_weight")
        .join(children, on="maternity_id")
        .unique(["record_id", "person_id"])
        .select("record_id", "person_id", "match_probability", "match_weight")
    )


def link_survey_parents(survey: pl.DataFrame, child_links: pl.DataFrame) -> pl.DataFrame:
    """Survey mothers and fathers -> the family's linked children.

    survey: survey identifier rows (role, family_key); child_links: record_id, person_id,
    match_probability of the survey's linked child rows.
    """
    parents = survey.filter(pl.col("role").is_in(["mother", "father"]) & pl.col("family_key").is_not_null())
    if parents.is_empty() or child_links.is_empty():
        return empty_role_links()
    children = (
        survey.filter(pl.col("family_key").is_not_null()).select("record_id", "family_key")
        .join(child_links.filter(pl.col("person_id").is_not_null()).select("record_id", "person_id", "match_probability"),
              on="record_id")
        .select("family_key", "person_id", "match_probability")
    )
    return (
        parents.select("record_id", "family_key", "role")
        .join(children, on="family_key")
        .unique(["record_id", "person_id"])
        .select("record_id", "person_id", "role", pl.lit("survey_family").alias("step"), "match_probability",
                pl.lit(None, pl.Float64).alias("match_weight"))
    )


def family_postcodes(births: pl.DataFrame, all_births: pl.DataFrame, maternity: pl.DataFrame) -> pl.DataFrame:
    """person_id, postcode: the postcodes the child's mother has given anywhere, by her valid NHS number:
    at the births of the child's siblings and in her own HES episodes. A child lives with its mother
    (the contract's births postcode is the mother's usual residence), so these are the family's
    addresses over time, which records without an NHS number (and without names, like HES and MHSDS)
    can only be linked through.

    births: `births_with_persons` rows of the partition; all_births: `identifiers.births_mothers_of` rows
    of every year; maternity: `identifiers.maternity_episodes_of` rows.
    """
    mothers = births.filter(pl.col("mother_nhs_number").is_not_null()).select("person_id", "mother_nhs_number")
    if mothers.is_empty():
        return pl.DataFrame(schema={"person_id": pl.String, "postcode": pl.String})
    seen = pl.concat([
        all_births.select("mother_nhs_number", "postcode"),
        maternity.select(pl.col("nhs_number").alias("mother_nhs_number"), "postcode"),
    ]).filter(pl.col("mother_nhs_number").is_not_null() & pl.col("postcode").is_not_null()).unique()
    return mothers.join(seen, on="mother_nhs_number").select("person_id", "postcode").unique()

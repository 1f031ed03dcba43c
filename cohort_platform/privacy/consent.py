"""Survey consent: a survey participant's records are linked only as far as they agreed.

A survey participant is a (person_id, role) of the link map: the survey record's link says which
spine child the participant belongs to and whether they are that child, the mother or the father.
Their other records are the link map rows with the same person_id and role. For each participant:

- Datasets are linked by consent group (`DATASET_GROUPS`, the one place that names them): education
  always; health (hes_apc, mhsds, deaths) only where consent_health is Y; datasets that no survey
  consent covers (social care, the censuses) never. Unknown datasets are refused, so a new dataset
  forces a decision here.
- Withdrawal: nothing dated after withdrawn_date is linked (`record_dates` says what "dated" means
  per dataset). A record without a date is treated as after withdrawal: it cannot be shown to be
  before. The survey rows themselves stay: withdrawal stops new data, deletion removes old.
- deletion_requested = Y removes the participant's survey rows and every link row of theirs.

Where one participant has several survey rows, the most restrictive wins (every row must say Y,
the earliest withdrawal, any deletion request).

Known limit: the link map knows a mother only through each child, so a mother's consent recorded
with one child does not reach the mother-role links of her other children who are not in the survey.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from cohort_platform.contract.datasets import PERSON_DATASETS

SURVEY = "survey"
ALWAYS = "always"
NEVER = "never"

DATASET_GROUPS: dict[str, tuple[str, ...]] = {
    # linked for every participant: the spine the survey links to, and education records
    ALWAYS: ("births", "npd_census", "npd_ks2", "npd_ks4"),
    # linked only where the participant's survey row has Y in this consent column
    "consent_health": ("hes_apc", "mhsds", "deaths"),
    "consent_hmrc": (),
    "consent_dwp": (),
    # not covered by any survey consent: never linked to a participant
    NEVER: ("cla", "census_2011", "census_2021"),
}
"""Consent group -> datasets. Every person-level dataset but the survey and opt-outs is in one group."""

CONSENT_COLUMNS = tuple(g for g in DATASET_GROUPS if g.startswith("consent_"))


def consent_group(dataset: str) -> str:
    for group, datasets in DATASET_GROUPS.items():
        if dataset in datasets:
            return group
    raise ValueError(
        f"dataset {dataset!r} is in no survey consent group; add it to DATASET_GROUPS in {__name__}"
    )


def _academic_year_end(column: str) -> pl.Expr:
    return pl.date(pl.col(column) + 1, 8, 31)


RECORD_DATE: dict[str, pl.Expr | None] = {
    "births": pl.col("dob"),
    "deaths": pl.col("dod"),
    "hes_apc": pl.col("epistart"),
    "mhsds": pl.col("referral_date"),
    # An academic year's records (spring census in January, KS2/KS4 results in the summer) are
    # dated at the end of that academic year, so a year still running at withdrawal is not linked.
    "npd_census": _academic_year_end("academic_year"),
    "npd_ks2": _academic_year_end("academic_year"),
    "npd_ks4": _academic_year_end("academic_year"),
    "cla": pl.col("decom"),
    "census_2011": pl.lit(dt.date(2011, 3, 27)),
    "census_2021": pl.lit(dt.date(2021, 3, 21)),
    SURVEY: None,  # the participant's own answers: kept on withdrawal, removed on deletion
}
"""Dataset -> the date a record counts as made on, for withdrawal."""


def record_dates(clean_frames: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """(dataset, record_id, record_date) for every record of the given clean datasets that has a date rule."""
    parts = [
        frame.select(pl.lit(name).alias("dataset"), pl.col("record_id"), RECORD_DATE[name].cast(pl.Date).alias("record_date"))
        for name, frame in clean_frames.items()
        if RECORD_DATE.get(name) is not None
    ]
    unknown = [name for name in clean_frames if name not in RECORD_DATE]
    if unknown:
        raise ValueError(f"no record date rule for {', '.join(unknown)}; add one to RECORD_DATE in {__name__}")
    schema = {"dataset": pl.String, "record_id": pl.String, "record_date": pl.Date}
    return pl.concat(parts, how="vertical") if parts else pl.DataFrame(schema=schema)


def participants(link_map: pl.DataFrame, survey: pl.DataFrame) -> pl.DataFrame:
    """Per linked participant (person_id, role): consent flags (Boolean), withdrawn_date, delete."""
    links = link_map.filter((pl.col("dataset") == SURVEY) & pl.col("person_id").is_not_null())
    joined = links.select("record_id", "person_id", pl.col("role").alias("link_role")).join(
        survey.select("record_id", "role", *CONSENT_COLUMNS, "withdrawn_date", "deletion_requested"),
        on="record_id",
        how="inner",
    )
    return (
        joined.with_columns(pl.coalesce("link_role", "role").alias("role"))
        .group_by("person_id", "role")
        .agg(
            *(pl.col(c).eq("Y").fill_null(False).all().alias(c) for c in CONSENT_COLUMNS),
            pl.col("withdrawn_date").min(),
            pl.col("deletion_requested").eq("Y").fill_null(False).any().alias("delete"),
        )
        .sort("person_id", "role")
    )


@dataclass(frozen=True)
class ConsentResult:
    """The link map and survey after consent, the link rows removed (with the reason), and counts
    of link rows removed per reason and dataset."""

    link_map: pl.DataFrame
    survey: pl.DataFrame
    removed: pl.DataFrame
    counts: dict[str, dict[str, int]]
    survey_rows_deleted: int


def apply_survey_consent(link_map: pl.DataFrame, survey: pl.DataFrame, dates: pl.DataFrame) -> ConsentResult:
    """Remove link rows (and survey rows) that the participants' consent does not allow.

    `dates` is `record_dates(...)` of the datasets in the link map. A row removed for several
    reasons is counted once, under the first of deletion, consent, withdrawal.
    """
    unknown = sorted(set(link_map["dataset"].unique().to_list()) - {SURVEY} - {d for g in DATASET_GROUPS.values() for d in g})
    if unknown:
        raise ValueError(f"datasets in no survey consent group: {', '.join(unknown)}; add them to DATASET_GROUPS")
    people = participants(link_map, survey)
    deleted_records = survey.filter(pl.col("deletion_requested").eq("Y").fill_null(False))["record_id"].implode()

    group = pl.col("dataset").replace_strict(
        {d: g for g, ds in DATASET_GROUPS.items() for d in ds} | {SURVEY: SURVEY}, return_dtype=pl.String
    )
    consented = pl.lit(False)
    for column in CONSENT_COLUMNS:
        consented = pl.when(pl.col("group") == column).then(pl.col(column)).otherwise(consented)
    consented = pl.when(pl.col("group").is_in([ALWAYS, SURVEY])).then(True).otherwise(consented)

    # Record dates matter only for the links of participants who withdrew: look up those alone
    # (`dates` holds every record of every birth year; deduplicating all of it cost more than the rest).
    withdrawn = people.filter(pl.col("withdrawn_date").is_not_null()).select("person_id", "role")
    needed = link_map.join(withdrawn, on=["person_id", "role"], how="semi").select("dataset", "record_id").unique()
    needed_dates = (dates.join(needed, on=["dataset", "record_id"], how="semi", maintain_order="left")
                    .unique(["dataset", "record_id"], keep="first", maintain_order=True))
    marked = (
        link_map.with_row_index("_row")
        .with_columns(group.alias("group"))
        .join(people, on=["person_id", "role"], how="left")
        .join(needed_dates, on=["dataset", "record_id"], how="left")
        .with_columns(
            pl.when(
                pl.col("delete").fill_null(False)
                | ((pl.col("dataset") == SURVEY) & pl.col("record_id").is_in(deleted_records))
            ).then(pl.lit("deletion"))
            .when(pl.col("delete").is_not_null() & ~consented)
            .then(pl.lit("consent"))
            .when(
                pl.col("withdrawn_date").is_not_null()
                & (pl.col("group") != SURVEY)
                & (pl.col("record_date").is_null() | (pl.col("record_date") > pl.col("withdrawn_date")))
            ).then(pl.lit("withdrawal"))
            .alias("reason")
        )
        .sort("_row")
    )
    kept = marked.filter(pl.col("reason").is_null()).select(link_map.columns)
    removed = marked.filter(pl.col("reason").is_not_null()).select("dataset", "record_id", "person_id", "role", "reason")
    counts: dict[str, dict[str, int]] = {}
    for reason, dataset, n in removed.group_by("reason", "dataset").len().sort("reason", "dataset").iter_rows():
        counts.setdefault(reason, {})[dataset] = n
    deleted_people = people.filter("delete").select("person_id", "role")
    survey_links = link_map.filter(pl.col("dataset") == SURVEY)
    deleted_via_link = survey_links.join(deleted_people, on=["person_id", "role"], how="semi")["record_id"]
    survey_kept = survey.filter(
        ~pl.col("record_id").is_in(deleted_records) & ~pl.col("record_id").is_in(deleted_via_link.implode())
    )
    return ConsentResult(kept, survey_kept, removed, counts, survey.height - survey_kept.height)


def check_consent_groups() -> list[str]:
    """Problems with DATASET_GROUPS: a person-level dataset in no group or in two (empty when right)."""
    problems = []
    for name in PERSON_DATASETS:
        if name in (SURVEY, "opt_outs"):
            continue
        groups = [g for g, ds in DATASET_GROUPS.items() if name in ds]
        if len(groups) != 1:
            problems.append(f"{name} is in {len(groups)} groups")
    return problems

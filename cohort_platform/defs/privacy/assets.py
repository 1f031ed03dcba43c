"""The national data opt-out and survey consent, as assets on either side of linkage.

- `secure/opt_out_list`: the newest snapshot is the whole current list (people can opt back in).
- Before linkage, `separate_identifiers` removes every record whose own NHS number is opted out.
  Births stay whole until after linkage on purpose: an opted-out child's records that carry no NHS
  number (school census, census, most MHSDS and CLA rows) can only be found by linking them to that
  child; removing the child first would leave them free to link to a twin or sibling.
- `secure/cohort_link_map` (per birth year) then drops every link to an opted-out child, the
  mother-role links of an opted-out mother, and survey links that consent does not allow. Research
  tables read only this link map.
"""

import dagster as dg
import polars as pl

from cohort_platform.defs.ingest.assets import clean_key
from cohort_platform.defs.linkage.assets import LINK_MAP, RECORD_DATES
from cohort_platform.orchestration.partitions import BIRTH_YEAR, BIRTH_YEAR_COLUMN
from cohort_platform.privacy.consent import apply_survey_consent
from cohort_platform.privacy.opt_out import (
    current_opt_outs,
    describe_opt_outs,
    opted_out_people,
    remove_opted_out_people,
)

OPT_OUT_LIST = dg.AssetKey(["secure", "opt_out_list"])
COHORT_LINK_MAP = dg.AssetKey(["secure", "cohort_link_map"])
OWNERS = ["team:information-governance"]


@dg.asset(
    key=OPT_OUT_LIST,
    ins={"opt_outs": dg.AssetIn(key=clean_key("opt_outs"))},
    group_name="privacy", kinds={"duckdb"}, owners=OWNERS,
    description="The current national data opt-out list: the valid NHS numbers of the newest snapshot. Secure zone.",
)
def opt_out_list(opt_outs: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    described = describe_opt_outs(opt_outs)
    return dg.Output(current_opt_outs(opt_outs), metadata={k: v for k, v in described.items() if v is not None})


@dg.asset(
    key=COHORT_LINK_MAP,
    ins={
        "link_map": dg.AssetIn(key=LINK_MAP),
        "opt_outs": dg.AssetIn(key=OPT_OUT_LIST),
        "births": dg.AssetIn(key=clean_key("births")),
        "survey": dg.AssetIn(key=clean_key("survey")),
        "record_dates": dg.AssetIn(key=RECORD_DATES),
    },
    partitions_def=BIRTH_YEAR,
    metadata={"partition_expr": BIRTH_YEAR_COLUMN},
    group_name="privacy", kinds={"duckdb", "parquet"}, owners=OWNERS,
    description="The link map researchers' tables are built from: opted-out children and their records removed, "
                "opted-out mothers' own records removed, survey links limited to what participants consented to. Secure zone.",
    check_specs=[dg.AssetCheckSpec("no_opted_out_person", asset=COHORT_LINK_MAP, blocking=True,
                                   description="No record of an opted-out child, and no mother-role record of an opted-out mother, survives.")],
)
def cohort_link_map(context: dg.AssetExecutionContext, link_map: pl.DataFrame, opt_outs: pl.DataFrame,
                    births: pl.DataFrame, survey: pl.DataFrame, record_dates: pl.DataFrame):
    people = opted_out_people(births, opt_outs)
    removal = remove_opted_out_people(link_map.drop(BIRTH_YEAR_COLUMN), people.children, mothers_of=people.mothers_of)
    consent = apply_survey_consent(removal.link_map, survey, record_dates)
    kept = consent.link_map
    survivors = kept.filter(
        pl.col("person_id").is_in(people.children.implode()).fill_null(False)
        | ((pl.col("role") == "mother") & pl.col("person_id").is_in(people.mothers_of.implode())).fill_null(False)
    ).height
    year = int(context.partition_key)
    yield dg.Output(kept.with_columns(pl.lit(year, pl.Int64).alias(BIRTH_YEAR_COLUMN)), metadata={
        "rows": kept.height,
        "opt_out_links_removed_by_dataset": dg.MetadataValue.json(removal.counts),
        "consent_links_removed": dg.MetadataValue.json(consent.counts),
        "survey_rows_deleted": consent.survey_rows_deleted,
    })
    yield dg.AssetCheckResult(check_name="no_opted_out_person", passed=survivors == 0,
                              severity=dg.AssetCheckSeverity.ERROR, metadata={"surviving_rows": survivors})


PRIVACY_ASSETS = [opt_out_list, cohort_link_map]

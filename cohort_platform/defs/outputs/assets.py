"""Pathfinder outputs (as in the London linked local data project), released only through the
statistical disclosure check. Each asset reads every birth year of the research tables, checks the
counts the way a trusted research environment's output checkers do (acro: threshold 10, zeros,
dominance; secondary suppression; rounding to 5), and stores only what may be released. A table
that fails outright is not released and its check says which cells broke which rule."""

import dagster as dg
import polars as pl

from cohort_platform.defs.research.assets import research_key
from cohort_platform.defs.resources import CohortSettings, Warehouse
from cohort_platform.outputs import pathfinder as pf
from cohort_platform.outputs.disclosure import DisclosureResult, check_frequency_table
from cohort_platform.outputs.release import NO, TOTAL, YES, as_yes_no, chartable, released_rates

OWNERS = ["team:analysis"]
INPUT_TABLES = ("children", "care_episodes", "mental_health_referrals")


def _research(warehouse: Warehouse) -> dict[str, pl.DataFrame]:
    with warehouse.connect() as con:
        present = {r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'research'").fetchall()}
        return {t: con.execute(f"select * from research.{t}").pl() if t in present else pl.DataFrame() for t in INPUT_TABLES}


def _check_result(key: dg.AssetKey, result: DisclosureResult) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=key, check_name="disclosure_control", passed=result.released,
        severity=dg.AssetCheckSeverity.ERROR, description=result.describe(),
        metadata={"cells_by_rule": dg.MetadataValue.json(result.rule_counts),
                  "cells": dg.MetadataValue.json(result.findings_frame().head(100).to_dicts())},
    )


def _years(settings: CohortSettings) -> list[int]:
    cfg = settings.settings
    return list(range(2006, cfg.cutoff.year))  # whole calendar years before the cut-off


LAC_MH = dg.AssetKey(["outputs", "looked_after_mental_health"])
CARE_TO_REFERRAL = dg.AssetKey(["outputs", "care_to_first_referral"])
SDC_SPEC = "Released only if it passes statistical disclosure control (acro: threshold 10, zeros, dominance; secondary suppression; counts rounded to 5)."


@dg.asset(
    key=LAC_MH, deps=[research_key(t) for t in INPUT_TABLES], group_name="outputs", kinds={"acro", "duckdb"}, owners=OWNERS,
    description="Looked-after children in contact with mental health services, per local authority and year, with England. " + SDC_SPEC,
    check_specs=[dg.AssetCheckSpec("disclosure_control", asset=LAC_MH, blocking=True,
                                   description="The counts pass disclosure control; failing cells and rules are listed.")],
)
def looked_after_mental_health(warehouse: Warehouse, settings: CohortSettings):
    t = _research(warehouse)
    if any(frame.is_empty() for frame in t.values()):
        records = pl.DataFrame(schema={"la_code": pl.String, "year": pl.Int32, "mh_contact": pl.String})
    else:
        records = as_yes_no(pf.lac_mental_health_records(t["children"], t["care_episodes"], t["mental_health_referrals"],
                                                         years=_years(settings)), "mh_contact")
    result = check_frequency_table(records, ["la_code", "year"], "mh_contact", name="looked_after_mental_health",
                                   suppress=True, levels={"mh_contact": [NO, YES]}) if records.height else None
    released = released_rates(result, ["la_code", "year"]) if result else released_rates_empty()
    meta = {"child_years_checked": records.height}
    if released.height:
        chart = pf.chart_png(chartable(released.filter(pl.col("year") != TOTAL)), title="Looked-after children in contact with mental health services (%)")
        meta["chart"] = dg.MetadataValue.md(_png_md(chart))
    yield dg.Output(released, metadata=meta)
    if result:
        yield _check_result(LAC_MH, result)
    else:
        yield dg.AssetCheckResult(asset_key=LAC_MH, check_name="disclosure_control", passed=True, description="nothing to release")


@dg.asset(
    key=CARE_TO_REFERRAL, deps=[research_key(t) for t in INPUT_TABLES], group_name="outputs", kinds={"acro", "duckdb"}, owners=OWNERS,
    description="Children entering care referred to mental health services within 24 months, per local authority, with England. " + SDC_SPEC,
    check_specs=[dg.AssetCheckSpec("disclosure_control", asset=CARE_TO_REFERRAL, blocking=True,
                                   description="The counts pass disclosure control; failing cells and rules are listed.")],
)
def care_to_first_referral(warehouse: Warehouse, settings: CohortSettings):
    t = _research(warehouse)
    cutoff = settings.settings.cutoff
    if any(frame.is_empty() for frame in t.values()):
        records = pl.DataFrame(schema={"la_code": pl.String, "referred_within": pl.String})
    else:
        records = as_yes_no(pf.care_to_first_referral_records(
            t["children"], t["care_episodes"], t["mental_health_referrals"], last_year_month=(cutoff.year, cutoff.month)),
            "referred_within")
    result = check_frequency_table(records, ["la_code"], "referred_within", name="care_to_first_referral",
                                   suppress=True, levels={"referred_within": [NO, YES]}) if records.height else None
    released = released_rates(result, ["la_code"]) if result else released_rates_empty(["la_code"])
    meta = {"children_checked": records.height}
    if released.height:
        meta["chart"] = dg.MetadataValue.md(_png_md(pf.chart_png(chartable(released), title="Referred within 24 months of entering care (%)")))
    yield dg.Output(released, metadata=meta)
    if result:
        yield _check_result(CARE_TO_REFERRAL, result)
    else:
        yield dg.AssetCheckResult(asset_key=CARE_TO_REFERRAL, check_name="disclosure_control", passed=True, description="nothing to release")


def released_rates_empty(keys: list[str] | None = None) -> pl.DataFrame:
    keys = keys or ["la_code", "year"]
    return pl.DataFrame(schema={**{k: pl.String for k in keys}, "numerator": pl.Int64, "denominator": pl.Int64, "rate_percent": pl.Float64})


def _png_md(png: bytes) -> str:
    from cohort_platform.ingest.environment import png_markdown

    return png_markdown(png, "chart")


OUTPUT_ASSETS = [looked_after_mental_health, care_to_first_referral]

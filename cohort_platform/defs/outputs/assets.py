"""Pathfinder outputs (as in the London linked local data project), released only through the
statistical disclosure check. Each asset reads every birth year of the research tables, checks the
counts the way a trusted research environment's output checkers do (acro: threshold 10, zeros,
dominance; secondary suppression; rounding to 5), and stores only what may be released. A table
that fails outright is not released and its check says which cells broke which rule."""

from collections.abc import Callable

import dagster as dg
import polars as pl

from cohort_platform.defs.research.assets import research_key
from cohort_platform.defs.resources import CohortSettings, Warehouse
from cohort_platform.outputs import pathfinder as pf
from cohort_platform.outputs.disclosure import check_frequency_table
from cohort_platform.outputs.release import NO, TOTAL, YES, as_yes_no, chartable, released_rates

OWNERS = ["team:analysis"]
INPUT_TABLES = ("children", "care_episodes", "mental_health_referrals")
SDC_SPEC = ("Released only if it passes statistical disclosure control (acro: threshold 10, zeros, dominance; "
            "secondary suppression; counts rounded to 5).")
# records(research tables, settings) -> one row per contributor with the keys and a Boolean outcome
Records = Callable[[dict[str, pl.DataFrame], CohortSettings], pl.DataFrame]


def _research(warehouse: Warehouse) -> dict[str, pl.DataFrame]:
    with warehouse.connect() as con:
        present = {r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'research'").fetchall()}
        return {t: con.execute(f"select * from research.{t}").pl() if t in present else pl.DataFrame() for t in INPUT_TABLES}


def build_release_asset(name: str, description: str, keys: list[str], outcome: str, records: Records,
                        title: str) -> dg.AssetsDefinition:
    key = dg.AssetKey(["outputs", name])

    @dg.asset(
        key=key, deps=[research_key(t) for t in INPUT_TABLES], group_name="outputs", kinds={"acro", "duckdb"},
        owners=OWNERS, description=f"{description} {SDC_SPEC}",
        check_specs=[dg.AssetCheckSpec("disclosure_control", asset=key, blocking=True,
                                       description="The counts pass disclosure control; failing cells and rules are listed.")],
    )
    def _release(warehouse: Warehouse, settings: CohortSettings):
        tables = _research(warehouse)
        rows = pl.DataFrame() if any(t.is_empty() for t in tables.values()) else as_yes_no(records(tables, settings), outcome)
        if rows.is_empty():
            yield dg.Output(released_rates(None, keys), metadata={"contributors_checked": 0})
            yield dg.AssetCheckResult(asset_key=key, check_name="disclosure_control", passed=True, description="nothing to release")
            return
        result = check_frequency_table(rows, keys, outcome, name=name, suppress=True, levels={outcome: [NO, YES]})
        released = released_rates(result, keys)
        meta: dict[str, object] = {"contributors_checked": rows.height}
        drawable = chartable(released.filter(pl.col("year") != TOTAL) if "year" in keys else released)
        if drawable.height:
            meta["chart"] = dg.MetadataValue.md(_png_md(pf.chart_png(drawable, title=title)))
        yield dg.Output(released, metadata=meta)
        yield dg.AssetCheckResult(
            asset_key=key, check_name="disclosure_control", passed=result.released,
            severity=dg.AssetCheckSeverity.ERROR, description=result.describe(),
            metadata={"cells_by_rule": dg.MetadataValue.json(result.rule_counts),
                      "cells": dg.MetadataValue.json(result.findings_frame().head(100).to_dicts())},
        )

    return _release


def _lac_records(t: dict[str, pl.DataFrame], settings: CohortSettings) -> pl.DataFrame:
    years = list(range(2006, settings.settings.cutoff.year))  # whole calendar years before the cut-off
    return pf.lac_mental_health_records(t["children"], t["care_episodes"], t["mental_health_referrals"], years=years)


def _care_records(t: dict[str, pl.DataFrame], settings: CohortSettings) -> pl.DataFrame:
    cutoff = settings.settings.cutoff
    return pf.care_to_first_referral_records(t["children"], t["care_episodes"], t["mental_health_referrals"],
                                             last_year_month=(cutoff.year, cutoff.month))


def _png_md(png: bytes) -> str:
    from cohort_platform.ingest.environment import png_markdown

    return png_markdown(png, "chart")


OUTPUT_ASSETS = [
    build_release_asset(
        "looked_after_mental_health",
        "Looked-after children in contact with mental health services, per local authority and year, with England.",
        ["la_code", "year"], "mh_contact", _lac_records, "Looked-after children in contact with mental health services (%)"),
    build_release_asset(
        "care_to_first_referral",
        "Children entering care referred to mental health services within 24 months, per local authority, with England.",
        ["la_code"], "referred_within", _care_records, "Referred within 24 months of entering care (%)"),
]

"""From a disclosure-checked count table to released rates: rates are computed from the released
(rounded, suppressed) counts only, and are missing wherever a count they rest on is suppressed."""

from __future__ import annotations

import polars as pl

from cohort_platform.outputs.disclosure import DisclosureResult

YES, NO = "yes", "no"
TOTAL = "All"


def as_yes_no(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """A Boolean outcome as the categories 'yes' / 'no', so both always appear in the crosstab."""
    return frame.with_columns(pl.when(pl.col(column)).then(pl.lit(YES)).otherwise(pl.lit(NO)).alias(column))


def released_rates(result: DisclosureResult | None, keys: list[str]) -> pl.DataFrame:
    """keys..., numerator (yes), denominator (All), rate_percent: only from what the check released
    (nothing when there was no check or it failed). The margins row ('All') is England."""
    if result is None or not result.released or result.table is None:
        return pl.DataFrame(schema={**{k: pl.String for k in keys}, "numerator": pl.Int64,
                                    "denominator": pl.Int64, "rate_percent": pl.Float64})
    table = result.table
    numerator = pl.col(YES) if YES in table.columns else pl.lit(0, pl.Int64)
    return table.select(
        *[pl.col(k).cast(pl.String) for k in keys],
        numerator.cast(pl.Int64).alias("numerator"),
        pl.col(TOTAL).cast(pl.Int64).alias("denominator"),
    ).with_columns(
        pl.when(pl.col("denominator") > 0).then(100 * pl.col("numerator") / pl.col("denominator")).alias("rate_percent")
    )


def chartable(released: pl.DataFrame, group: str = "looked_after") -> pl.DataFrame:
    """Released rates in the shape `pathfinder.chart_png` draws: one bar per LA, England as a line."""
    from cohort_platform.outputs.pathfinder import COUNTRY, ENGLAND, LA

    is_total = pl.col("la_code") == TOTAL
    return released.with_columns(
        pl.when(is_total).then(pl.lit(COUNTRY)).otherwise(pl.lit(LA)).alias("area_type"),
        pl.when(is_total).then(pl.lit(ENGLAND)).otherwise(pl.col("la_code")).alias("area"),
        pl.lit(group).alias("group"),
        *([pl.col("year").cast(pl.Int32, strict=False)] if "year" in released.columns else []),
    ).filter(~(pl.col("year").is_null() if "year" in released.columns else pl.lit(False)))

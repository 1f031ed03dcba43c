"""Hand-made identifier rows (the shape `identifiers_of` gives) for unit tests."""

from __future__ import annotations

import datetime as dt

import polars as pl

from cohort_platform.linkage.identifiers import IDENTIFIER_SCHEMA


def ids(dataset: str, rows: list[dict]) -> pl.DataFrame:
    """Identifier rows: unspecified columns are null; postcode_district follows postcode."""
    full = []
    for r in rows:
        row = {k: None for k in IDENTIFIER_SCHEMA}
        row.update(dataset=dataset, **r)
        if row.get("postcode") and not row.get("postcode_district"):
            row["postcode_district"] = row["postcode"].split(" ")[0]
        if row.get("nhs_number") and not row.get("nhs_number_any"):
            row["nhs_number_any"] = row["nhs_number"]
        full.append(row)
    return pl.DataFrame(full, schema=IDENTIFIER_SCHEMA)


def d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def spine_of(births: pl.DataFrame) -> pl.DataFrame:
    """Births identifier rows as a spine with each record its own person."""
    return births.with_columns(pl.col("record_id").alias("person_id"), pl.lit(True).alias("is_kept"),
                               pl.lit(None, pl.String).alias("duplicate_rule"))

"""Small hand-built frames for the privacy tests: valid NHS numbers, clean births, link maps."""

from __future__ import annotations

import datetime as dt

import polars as pl

from cohort_platform.contract.identifiers import nhs_check_digit, upn_check_letter

LINK_MAP_SCHEMA = {  # as issue 5 describes the link map (secure zone)
    "dataset": pl.String, "record_id": pl.String, "person_id": pl.String, "role": pl.String,
    "match_probability": pl.Float64, "match_weight": pl.Float64, "step": pl.String,
}


def nhs(seed: int) -> str:
    """The `seed`-th valid NHS number counting up from 400 000 000 (bodies without a check digit skipped)."""
    body = 400_000_000 + seed * 7
    while nhs_check_digit(f"{body:09d}") is None:
        body += 1
    return f"{body:09d}{nhs_check_digit(f'{body:09d}')}"


def upn(seed: int) -> str:
    body = f"{801200000000 + seed:012d}"
    return upn_check_letter(body) + body


def opt_out_snapshots(snapshots: dict[dt.date, list[str]]) -> pl.DataFrame:
    """clean.opt_outs: one row per listed number per snapshot."""
    rows = [(n, True, day) for day, numbers in snapshots.items() for n in numbers]
    return pl.DataFrame(rows, schema={"nhs_number": pl.String, "nhs_number_valid": pl.Boolean, "snapshot_date": pl.Date}, orient="row")


def births(rows: list[dict]) -> pl.DataFrame:
    """Clean births with the columns opt-outs touch; each row needs record_id, nhs_number, mother_nhs_number."""
    full = [
        {
            "forename": "ADA", "surname": "SMITH", "dob": dt.date(2010, 5, 1), "sex": "2",
            "mother_forename": "MARY", "mother_surname": "SMITH", "mother_dob": dt.date(1980, 1, 2),
            "postcode": "SW1A 1AA", "postcode_valid": True,
            **r,
        }
        for r in rows
    ]
    frame = pl.DataFrame(full, schema_overrides={"nhs_number": pl.String, "mother_nhs_number": pl.String})
    return frame.with_columns(
        pl.col("nhs_number").is_not_null().alias("nhs_number_valid"),
        pl.col("mother_nhs_number").is_not_null().alias("mother_nhs_number_valid"),
    )


def link_map(rows: list[tuple]) -> pl.DataFrame:
    """(dataset, record_id, person_id, role) rows; scores and step filled in."""
    frame = pl.DataFrame(rows, schema=["dataset", "record_id", "person_id", "role"], orient="row")
    return frame.with_columns(
        pl.lit(0.99).alias("match_probability"), pl.lit(12.0).alias("match_weight"), pl.lit("test").alias("step")
    ).cast(LINK_MAP_SCHEMA)

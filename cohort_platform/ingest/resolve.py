"""Re-delivered records: the same key delivered twice is one record, and the later delivery wins.

The contract says a `record_id` delivered twice in one dataset is one record and, if the copies
differ, the later file (by name order) wins and the conflict is counted. Reference files are keyed
the same way by their own key (postcode, lsoa11cd, urn). The losing copies are not dropped: they go
to quarantine with rule `superseded`, naming the copy that won, so that rows read = rows accepted +
rows quarantined still holds.

Copies are compared on their accepted (typed, canonical) values: "sw1a1aa" and "SW1A 1AA" are the
same postcode, so such copies are duplicates, not conflicts.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from cohort_platform.contract.datasets import Dataset
from cohort_platform.ingest.read import QUARANTINE_SCHEMA, empty_quarantine

SUPERSEDED = "superseded"


@dataclass(frozen=True)
class RedeliveryStats:
    duplicates: int = 0  # losing copies identical to the winner
    conflicts: int = 0  # losing copies that differ from the winner

    @property
    def superseded(self) -> int:
        return self.duplicates + self.conflicts


def resolve_redeliveries(accepted: pl.DataFrame, dataset: Dataset) -> tuple[pl.DataFrame, pl.DataFrame, RedeliveryStats]:
    """(kept rows, quarantine rows of the superseded copies, counts); datasets without a key pass through."""
    key = dataset.key
    if not key or accepted.height == 0:
        return accepted, empty_quarantine(), RedeliveryStats()
    ordered = accepted if in_delivery_order(accepted) else accepted.sort("source_file", "source_line", maintain_order=True)
    wins = winning_copies(ordered[key])
    if bool(wins.all()):
        return ordered, empty_quarantine(), RedeliveryStats()
    kept = ordered.filter(wins)
    losers = ordered.filter(~wins)
    values = [c for c in accepted.columns if c not in ("source_file", "source_line")]
    winners = kept.filter(pl.col(key).is_in(losers[key].implode())).select(
        pl.col(key), pl.struct(values).alias("__winner_values"),
        pl.col("source_file").alias("__winner_file"), pl.col("source_line").alias("__winner_line"),
    )
    compared = losers.join(winners, on=key, how="left").with_columns(
        pl.struct(values).eq_missing(pl.col("__winner_values")).alias("__identical")
    )
    duplicates = int(compared["__identical"].sum())
    stats = RedeliveryStats(duplicates=duplicates, conflicts=compared.height - duplicates)
    return kept, superseded_rows(compared, dataset, values), stats


def winning_copies(keys: pl.Series) -> pl.Series:
    """True for the last copy of each key (and for a missing key), in delivery order.

    Keys whose 64-bit hash is unique are delivered once: only the few others are compared as
    strings, which is three times cheaper than comparing every key (a hash collision only sends
    a key to the exact comparison).
    """
    wins = pl.repeat(True, len(keys), eager=True, dtype=pl.Boolean).alias(keys.name)
    maybe_repeated = keys.hash().is_duplicated()
    if bool(maybe_repeated.any()):
        where = maybe_repeated.arg_true()
        subset = keys.gather(where)
        wins.scatter(where.filter(~(subset.is_last_distinct() | subset.is_null())), False)
    return wins


def in_delivery_order(frame: pl.DataFrame) -> bool:
    """Rows sorted by file name, then line (as read and validated): no sort needed."""
    previous_file, previous_line = pl.col("source_file").shift(1), pl.col("source_line").shift(1)
    in_order = (pl.col("source_file") > previous_file) | (
        (pl.col("source_file") == previous_file) & (pl.col("source_line") > previous_line)
    )
    return bool(frame.select(in_order.fill_null(True).all()).item())


def superseded_rows(compared: pl.DataFrame, dataset: Dataset, values: list[str]) -> pl.DataFrame:
    key = dataset.key
    record_id = pl.col("record_id") if "record_id" in compared.columns else pl.lit(None, dtype=pl.String)
    kind = pl.when(pl.col("__identical")).then(pl.lit("an identical copy")).otherwise(pl.lit("a differing copy"))
    return (
        compared.sort("source_file", "source_line")
        .select(
            pl.lit(dataset.name).alias("dataset"),
            pl.col("source_file"),
            pl.col("source_line"),
            record_id.alias("record_id"),
            pl.lit(key).alias("field"),
            pl.col(key).cast(pl.String).alias("value"),
            pl.lit(SUPERSEDED).alias("rule"),
            pl.concat_str([
                pl.col("source_file"), pl.lit(" line "), pl.col("source_line").cast(pl.String),
                pl.lit(f": {key} '"), pl.col(key).cast(pl.String), pl.lit("' was delivered again; "),
                kind, pl.lit(" in "), pl.col("__winner_file"), pl.lit(" line "),
                pl.col("__winner_line").cast(pl.String), pl.lit(f" wins ({SUPERSEDED})"),
            ]).alias("reason"),
            pl.struct(values).struct.json_encode().alias("raw_record"),
        )
        .cast(QUARANTINE_SCHEMA)
    )

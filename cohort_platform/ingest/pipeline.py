"""Ingestion of one dataset, end to end and Dagster-free: read, validate, resolve re-deliveries.

Every data record read ends up in exactly one of two places: the accepted frame or quarantine
(malformed, rejected by a rule, or superseded by a later delivery), so rows read = rows accepted +
rows quarantined. The counts are returned rather than asserted here: the ingestion asset turns them
into a blocking reconciliation check, which records the numbers when it fails. A whole-file fault
propagates as `FileFault`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from cohort_platform.contract.datasets import DATASETS, IDENTIFIER_KINDS
from cohort_platform.ingest.read import read_dataset
from cohort_platform.ingest.resolve import resolve_redeliveries
from cohort_platform.ingest.validate import validate


@dataclass(frozen=True)
class IngestResult:
    dataset: str
    accepted: pl.DataFrame
    quarantine: pl.DataFrame
    rows_read: int
    rows_accepted: int
    rows_quarantined: int  # distinct rejected rows (a row breaking two rules counts once)
    files: list[str] = field(default_factory=list)
    extra_columns: dict[str, list[str]] = field(default_factory=dict)
    duplicates: int = 0
    conflicts: int = 0
    flagged: dict[str, int] = field(default_factory=dict)
    rule_counts: dict[str, int] = field(default_factory=dict)

    @property
    def reconciles(self) -> bool:
        """Every row read is accepted or quarantined, once."""
        return self.rows_read == self.rows_accepted + self.rows_quarantined


def ingest(raw_root: Path, dataset_name: str, cutoff: dt.date) -> IngestResult:
    """Read, validate and de-duplicate every delivery file of one dataset."""
    try:
        dataset = DATASETS[dataset_name]
    except KeyError:
        raise ValueError(f"unknown dataset {dataset_name!r}; the contract has {', '.join(DATASETS)}") from None
    raw = read_dataset(Path(raw_root), dataset)
    validated = validate(raw.rows, dataset, cutoff)
    kept, superseded, stats = resolve_redeliveries(validated.accepted, dataset)
    quarantine = pl.concat([raw.malformed, validated.quarantine, superseded], how="vertical").sort(
        "source_file", "source_line", maintain_order=True
    )
    rejected_rows = quarantine.select("source_file", "source_line").unique()
    return IngestResult(
        dataset=dataset.name,
        accepted=kept,
        quarantine=quarantine,
        rows_read=raw.rows_read,
        rows_accepted=kept.height,
        rows_quarantined=rejected_rows.height,
        files=raw.files,
        extra_columns=raw.extra_columns,
        duplicates=stats.duplicates,
        conflicts=stats.conflicts,
        flagged={
            c.name: int(kept[f"{c.name}_valid"].eq(False).sum())
            for c in dataset.columns if c.kind in IDENTIFIER_KINDS
        },
        rule_counts=rule_counts(quarantine),
    )


def rule_counts(quarantine: pl.DataFrame) -> dict[str, int]:
    """Rule -> distinct rows quarantined under it (a row may count under several rules)."""
    counts = (
        quarantine.group_by("rule")
        .agg(pl.struct("source_file", "source_line").n_unique().alias("rows"))
        .sort("rule")
    )
    return dict(zip(counts["rule"].to_list(), counts["rows"].to_list()))


"""The national data opt-out: who is opted out now, and removing them before and after linkage.

The opt-out list arrives as snapshots, and the newest snapshot is the whole current list: someone
absent from it has opted back in, whatever older snapshots said. So only the newest snapshot counts.

Opt-outs are applied twice:

1. Before linkage (`apply_opt_outs`), on each clean dataset: a row whose *own* NHS number is opted
   out is removed. On a birth registration the baby's NHS number is the child's own, so the row (and
   with it the child) goes; the mother's NHS number is hers, so an opted-out mother loses only her
   identifying fields on the birth row, and her child stays.
2. After linkage (`remove_opted_out_people`), on the link map: records that carry no NHS number
   (school census, census, many MHSDS and CLA rows) can still belong to an opted-out child, and only
   linkage tells. Every link to an opted-out child goes, whatever the record's role: the mother's
   delivery episode linked to the child carries the baby's own birth details and is keyed on the
   child. Links in the mother role of an opted-out mother go too (her own records), while her
   child's own records stay.

Counts are per dataset, never identities: they end up in asset metadata.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from cohort_platform.contract.datasets import DATASETS, PERSON_DATASETS

NHS_NUMBER = "nhs_number"
SNAPSHOT_DATE = "snapshot_date"
PARENT_PREFIXES = ("mother_",)
"""An NHS number column with one of these prefixes belongs to a parent named on someone else's row."""


def _nhs_columns(dataset_name: str) -> list[str]:
    ds = DATASETS[dataset_name]
    return [c.name for c in ds.columns if c.kind == "nhs_number"]


def own_nhs_columns(dataset_name: str) -> list[str]:
    """The NHS number columns that identify the row's own subject (removing the row if opted out)."""
    return [c for c in _nhs_columns(dataset_name) if not c.startswith(PARENT_PREFIXES)]


def parent_nhs_columns(dataset_name: str) -> dict[str, str]:
    """NHS number column of a parent named on the row -> the prefix of that parent's fields."""
    return {
        c: prefix
        for c in _nhs_columns(dataset_name)
        for prefix in PARENT_PREFIXES
        if c.startswith(prefix)
    }


OPT_OUT_COLUMNS: dict[str, list[str]] = {
    name: _nhs_columns(name) for name in PERSON_DATASETS if name != "opt_outs" and _nhs_columns(name)
}
"""Every dataset with an NHS number, and its NHS number columns (from the contract)."""


# --- the current list


def current_opt_outs(opt_outs: pl.DataFrame, newest_snapshot: dt.date | None = None) -> pl.DataFrame:
    """The distinct valid NHS numbers of the newest snapshot (one column, `nhs_number`).

    `newest_snapshot` should be given when the caller knows the snapshot files: a newest snapshot
    with nobody in it (everyone opted back in) has no rows, so the newest date among the rows would
    wrongly be an older snapshot's. Invalid numbers are dropped: they cannot be anyone's NHS number.
    """
    newest = newest_snapshot if newest_snapshot is not None else opt_outs[SNAPSHOT_DATE].max()
    if newest is None:
        return pl.DataFrame(schema={NHS_NUMBER: pl.String})
    return (
        opt_outs.filter((pl.col(SNAPSHOT_DATE) == newest) & pl.col(f"{NHS_NUMBER}_valid").fill_null(False))
        .select(pl.col(NHS_NUMBER).cast(pl.String))
        .unique()
        .sort(NHS_NUMBER)
    )


def describe_opt_outs(opt_outs: pl.DataFrame, newest_snapshot: dt.date | None = None) -> dict[str, object]:
    """Counts for asset metadata: snapshots seen, the newest, how many it lists and how many were invalid."""
    newest = newest_snapshot if newest_snapshot is not None else opt_outs[SNAPSHOT_DATE].max()
    latest = opt_outs.filter(pl.col(SNAPSHOT_DATE) == newest) if newest is not None else opt_outs.clear()
    return {
        "snapshots": opt_outs[SNAPSHOT_DATE].n_unique(),
        "newest_snapshot": newest.isoformat() if newest is not None else None,
        "opted_out": current_opt_outs(opt_outs, newest).height,
        "invalid_ignored": int((~latest[f"{NHS_NUMBER}_valid"].fill_null(False)).sum()),
    }


def _opted_out(column: str, current: pl.DataFrame) -> pl.Expr:
    """True where the column holds an opted-out number; false for null (never null, so filters keep rows)."""
    return pl.col(column).is_in(current[NHS_NUMBER].implode()).fill_null(False)


# --- before linkage


@dataclass(frozen=True)
class OptOutRemoval:
    """What applying the opt-outs did to one dataset: counts only."""

    dataset: str
    rows_removed: int
    parent_details_cleared: int = 0


def apply_opt_outs(dataset_name: str, clean_frame: pl.DataFrame, current: pl.DataFrame) -> tuple[pl.DataFrame, OptOutRemoval]:
    """Remove rows whose own NHS number is opted out; clear an opted-out parent's fields on the rest.

    A parent's fields are every column with the parent's prefix (on births: mother_nhs_number, its
    `_valid` flag, mother_forename, mother_surname, mother_dob), set to null. The birth's postcode
    stays: it is the child's address at birth as much as the mother's.
    """
    if dataset_name not in DATASETS:
        raise ValueError(f"unknown dataset {dataset_name!r}")
    own = [c for c in own_nhs_columns(dataset_name) if c in clean_frame.columns]
    parents = {c: p for c, p in parent_nhs_columns(dataset_name).items() if c in clean_frame.columns}
    kept = clean_frame
    if own:
        kept = kept.filter(~pl.any_horizontal(_opted_out(c, current) for c in own))
    rows_removed = clean_frame.height - kept.height
    cleared = 0
    for column, prefix in parents.items():
        hit = _opted_out(column, current)
        cleared += int(kept.select(hit.sum()).item())
        fields = [c for c in kept.columns if c.startswith(prefix)]
        kept = kept.with_columns(pl.when(~hit).then(pl.col(c)).otherwise(None).alias(c) for c in fields)
    return kept, OptOutRemoval(dataset_name, rows_removed, cleared)


# --- after linkage


@dataclass(frozen=True)
class OptedOutPeople:
    """Spine persons (births record_id) to remove: opted-out children, and children of opted-out mothers."""

    children: pl.Series
    mothers_of: pl.Series


def opted_out_people(births: pl.DataFrame, current: pl.DataFrame) -> OptedOutPeople:
    """From the clean births *before* `apply_opt_outs` (which removes the one and blanks the other)."""
    children = births.filter(_opted_out("nhs_number", current))["record_id"].unique().sort()
    mothers_of = births.filter(_opted_out("mother_nhs_number", current))["record_id"].unique().sort()
    return OptedOutPeople(children.alias("person_id"), mothers_of.alias("person_id"))


@dataclass(frozen=True)
class PeopleRemoval:
    """The link map without opted-out people, the (dataset, record_id, person_id, role) rows removed,
    and link rows removed per dataset."""

    link_map: pl.DataFrame
    removed: pl.DataFrame
    counts: dict[str, int]


def remove_opted_out_people(
    link_map: pl.DataFrame,
    opted_out_person_ids: pl.Series | list[str],
    *,
    mothers_of: pl.Series | list[str] | None = None,
) -> PeopleRemoval:
    """Drop every link to an opted-out child (any role), and mother-role links of opted-out mothers.

    Removal is per link row, not per record: a mother's admission linked to twins stays linked to
    the twin who did not opt out. Run the link map's own invariant checks before this, not after:
    an opted-out child's records are meant to vanish from it.
    """
    children = pl.Series("person_id", opted_out_person_ids, dtype=pl.String)
    mothers = pl.Series("person_id", [] if mothers_of is None else mothers_of, dtype=pl.String)
    gone = pl.col("person_id").is_in(children.implode()).fill_null(False) | (
        (pl.col("role") == "mother") & pl.col("person_id").is_in(mothers.implode())
    ).fill_null(False)
    removed = link_map.filter(gone)
    counts = dict(removed.group_by("dataset").len().sort("dataset").iter_rows())
    return PeopleRemoval(link_map.filter(~gone), removed.select("dataset", "record_id", "person_id", "role"), counts)


# --- the blocking check


@dataclass(frozen=True)
class OptOutViolation:
    dataset: str
    column: str
    rows: int


def assert_no_opted_out(
    frames: Mapping[str, pl.DataFrame], current: pl.DataFrame, *, column: str = NHS_NUMBER
) -> list[OptOutViolation]:
    """Where any opted-out value survives: per frame and String column, the rows holding one.

    Every String column is searched, whatever its name, so a renamed or copied NHS number is found.
    Empty means the check passes. `column` names the column of `current` holding the values, so the
    same check runs on research tables with the opted-out people's research ids.
    """
    values = current[column].cast(pl.String).implode()
    found: list[OptOutViolation] = []
    for name, frame in frames.items():
        strings = [c for c, t in frame.schema.items() if t == pl.String]
        if not strings or frame.height == 0:
            continue
        hits = frame.select(pl.col(c).is_in(values).fill_null(False).sum().alias(c) for c in strings).row(0, named=True)
        found.extend(OptOutViolation(name, c, int(n)) for c, n in hits.items() if n)
    return found

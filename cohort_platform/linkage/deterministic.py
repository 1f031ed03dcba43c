"""Deterministic linkage passes, each a named rule recorded in the link map's `step`.

Two kinds of rule:

- `DeterministicRule`: a record links to the spine person whose registration agrees on every column of
  `equal` (all present on both sides). `nhs_dob_sex`: the valid NHS number, the date of birth and the
  sex all agree. The join is DuckDB SQL generated from the rule (Splink's `block_on` writes the
  condition); a record that agrees with two different persons is left for the probabilistic step.
- `KeyRule`: a dataset's own persistent key, once linked, gives the person to every other record that
  carries it. `upn_via_npd`: a Unique Pupil Number linked through any NPD table or a looked-after
  child's record gives the person to the other NPD and care records with that UPN; `care_record`: a
  looked-after child's LA + child_id does the same across episodes of care. A key whose linked records
  point to more than one person is not used (it is evidence of a shared or mistyped key).
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl
from splink import block_on

from cohort_platform.linkage.comparisons import DIALECT

LINK_SCHEMA = {"record_id": pl.String(), "person_id": pl.String(), "step": pl.String()}


@dataclass(frozen=True)
class DeterministicRule:
    name: str
    equal: tuple[str, ...]
    description: str = ""

    def condition(self) -> str:
        """The join condition in `l.` (spine) / `r.` (record) form."""
        return block_on(*self.equal).get_blocking_rule(DIALECT).blocking_rule_sql


@dataclass(frozen=True)
class KeyRule:
    name: str
    key: str  # a column of the identifier schema
    sources: tuple[str, ...]  # datasets whose linked records vouch for a key
    targets: tuple[str, ...]  # datasets whose records may be linked by it
    description: str = ""


NHS_DOB_SEX = DeterministicRule(
    "nhs_dob_sex", ("nhs_number", "dob", "sex"),
    "valid NHS number equal, and date of birth and sex agree",
)
NPD_DATASETS = ("npd_census", "npd_ks2", "npd_ks4")
UPN_VIA_NPD = KeyRule(
    "upn_via_npd", "upn", sources=NPD_DATASETS + ("cla",), targets=NPD_DATASETS + ("cla",),
    description="a UPN already linked through another NPD table or a care record gives the person",
)
CARE_RECORD = KeyRule(
    "care_record", "person_key", sources=("cla",), targets=("cla",),
    description="a looked-after child's LA and child_id, once linked, give the person to every episode",
)


def empty_links() -> pl.DataFrame:
    return pl.DataFrame(schema=LINK_SCHEMA)


def link_by_rule(
    con: duckdb.DuckDBPyConnection, rule: DeterministicRule, spine: pl.DataFrame, records: pl.DataFrame
) -> pl.DataFrame:
    """Records that agree with exactly one spine person under `rule`: record_id, person_id, step.

    spine: identifier rows with person_id; records: identifier rows of one dataset.
    """
    if spine.is_empty() or records.is_empty():
        return empty_links()
    cols = list(rule.equal)
    con.register("__det_l", spine.select("person_id", *cols).filter(pl.all_horizontal(pl.col(c).is_not_null() for c in cols)).to_arrow())
    con.register("__det_r", records.select("record_id", *cols).filter(pl.all_horizontal(pl.col(c).is_not_null() for c in cols)).to_arrow())
    try:
        found = con.sql(
            f"""
            select r.record_id, min(l.person_id) as person_id
            from __det_l as l join __det_r as r on {rule.condition()}
            group by r.record_id
            having count(distinct l.person_id) = 1
            """
        ).pl()
    finally:
        con.unregister("__det_l")
        con.unregister("__det_r")
    return found.select(
        pl.col("record_id").cast(pl.String), pl.col("person_id").cast(pl.String), pl.lit(rule.name).alias("step")
    )


def key_person_map(keyed_links: pl.DataFrame, key: str) -> pl.DataFrame:
    """key -> person_id for keys whose linked records all point to one person.

    keyed_links: linked records with their `key` value and `person_id`."""
    return (
        keyed_links.filter(pl.col(key).is_not_null() & pl.col("person_id").is_not_null())
        .group_by(key)
        .agg(pl.col("person_id").n_unique().alias("persons"), pl.col("person_id").first())
        .filter(pl.col("persons") == 1)
        .select(key, "person_id")
    )


def link_by_key(rule: KeyRule, records: pl.DataFrame, key_map: pl.DataFrame) -> pl.DataFrame:
    """Records (of one dataset) whose `rule.key` is in `key_map`: record_id, person_id, step."""
    if records.is_empty() or key_map.is_empty():
        return empty_links()
    return (
        records.filter(pl.col(rule.key).is_not_null())
        .select("record_id", rule.key)
        .join(key_map, on=rule.key, how="inner")
        .select(pl.col("record_id").cast(pl.String), pl.col("person_id").cast(pl.String), pl.lit(rule.name).alias("step"))
    )

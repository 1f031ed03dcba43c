"""The blocking leak scan of every research table: no identifier pattern (valid NHS numbers, UPNs,
postcodes, dates of birth) and no value held in the secure zone (names, NHS numbers, UPNs, postcodes,
record ids, providers' person ids) may appear in a research-ready table."""

import dagster as dg
import polars as pl

from cohort_platform.cohort.columns import RESEARCH_TABLES
from cohort_platform.contract.datasets import PERSON_DATASETS
from cohort_platform.defs.ingest.assets import clean_key
from cohort_platform.defs.research.assets import OWNERS, RESEARCH_TABLE_NAMES, research_key
from cohort_platform.defs.resources import Warehouse
from cohort_platform.privacy.leak_scan import (
    SecureSets, compact_secure_sets, scan_frame, secure_identifier_columns, secure_identifier_sets,
)

IDENTIFIER_VALUES = dg.AssetKey(["secure", "identifier_values"])
SCANNED = tuple(n for n in PERSON_DATASETS)


@dg.asset(
    key=IDENTIFIER_VALUES,
    # only the identifier columns: at 650,000 children loading whole clean tables took RSS to 11 GB
    ins={name: dg.AssetIn(key=clean_key(name), metadata={"columns": secure_identifier_columns(name)}) for name in SCANNED},
    group_name="privacy", kinds={"duckdb"}, owners=OWNERS,
    description="Every identifier value held in the secure zone (set, value): what the leak scan looks for in research tables.",
)
def identifier_values(**clean: pl.DataFrame) -> pl.DataFrame:
    sets = secure_identifier_sets(clean)
    parts = [values.cast(pl.String).drop_nulls().unique().to_frame("value").with_columns(pl.lit(name).alias("set"))
             for name, values in sets.items()]
    return pl.concat(parts).select("set", "value") if parts else pl.DataFrame(schema={"set": pl.String, "value": pl.String})


_RUN_SECURE_SETS: dict[tuple[str, str], SecureSets] = {}


def secure_sets_of_run(warehouse: Warehouse, run_id: str) -> SecureSets:
    """The secure zone's identifier values, loaded and compacted once per run and warehouse.

    A birth-year run has 12 leak checks, each of which would otherwise reload and re-normalise every
    identifier value (16 million at 650,000 children: about 8 s each). The values cannot change
    within a run: every check depends on `secure/identifier_values`, so it is materialised before the
    first check, and a birth-year run opens the warehouse read-only. One run's sets are kept, the
    previous run's dropped."""
    key = (str(warehouse.database), run_id)
    if key not in _RUN_SECURE_SETS:
        _RUN_SECURE_SETS.clear()
        with warehouse.connect() as con:
            values = con.execute("select set, value from secure.identifier_values").pl()
        _RUN_SECURE_SETS[key] = compact_secure_sets({s: part["value"] for (s,), part in values.group_by("set")})
    return _RUN_SECURE_SETS[key]


def build_leak_check(table: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=research_key(table), name="no_identifiers", blocking=True, additional_deps=[IDENTIFIER_VALUES],
        description="No identifier pattern and no secure-zone identifier value appears in the table.",
    )
    def _check(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        partition = context.run.tags.get("dagster/partition")
        # the partition's own Parquet file; the warehouse (read-only in a birth-year run) for the secure values
        frame = warehouse.read_partition("research", table, partition) if partition else warehouse.read_partitions("research", table)
        sets = secure_sets_of_run(warehouse, context.run.run_id)
        findings = [f for f in scan_frame(table, frame.drop("birth_year", strict=False), secure_sets=sets)
                    if not is_declared_code_match(table, f.column, f.rule, frame)]
        return dg.AssetCheckResult(
            passed=not findings, severity=dg.AssetCheckSeverity.ERROR,
            description="; ".join(f"{f.column}: {f.count} rows match {f.rule}" for f in findings) or None,
            metadata={"rows_scanned": frame.height, "findings": dg.MetadataValue.json(
                [{"column": f.column, "rule": f.rule, "rows": f.count} for f in findings])},
        )

    return _check


def is_declared_code_match(table: str, column: str, rule: str, frame: pl.DataFrame) -> bool:
    """A name match on a code column whose values are all declared codes or all of its declared code
    format ("all" trimester, "B" ethnic group, provider "RUB") is a code that happens to equal a name
    in the secure zone, not a leak. Only names: a code column holding an NHS number, UPN, postcode or
    record id of the secure zone is still a finding."""
    research = RESEARCH_TABLES[table]
    if not rule.startswith("secure:name") or column not in research.column_names:
        return False
    return research.column(column).holds_only_codes(frame[column])


RESEARCH_CHECKS = [build_leak_check(t) for t in RESEARCH_TABLE_NAMES]

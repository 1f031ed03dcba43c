"""Data-quality checks on every clean table.

- `<key>_unique` (blocking): the dataset's key identifies one row.
- `contract_expectations` (warn): a Great Expectations suite derived from the contract: key-field
  completeness within the dataset's tolerance, identifiers passing their checks, codes in list.
- `value_validity` (warn): no column has more than 1% of its rows quarantined for a broken value rule,
  which would signal a provider-side change in coding rather than a few bad rows.
The reconciliation check (rows read = accepted + quarantined) runs inside the ingestion asset.
"""


import dagster as dg

from cohort_platform.contract.datasets import DATASETS, Dataset
from cohort_platform.defs.ingest.assets import clean_key, quarantine_key
from cohort_platform.defs.resources import CohortSettings, Warehouse
from cohort_platform.ingest.expectations import expectations_for, run_expectations

VALUE_RULES = ("type", "range", "code_list", "pattern", "date_format")
MAX_INVALID_SHARE = 0.01


def _table(key: dg.AssetKey) -> str:
    return ".".join(key.path)


def build_key_unique_check(dataset: Dataset) -> dg.AssetChecksDefinition:
    key = dataset.key

    @dg.asset_check(
        asset=clean_key(dataset.name), name=f"{key}_unique", blocking=True,
        description=f"`{key}` identifies exactly one accepted row of {dataset.name}.",
    )
    def _check(warehouse: Warehouse) -> dg.AssetCheckResult:
        with warehouse.connect() as con:
            rows, distinct, missing = con.execute(
                f"select count(*), count(distinct {key}), count(*) - count({key}) from {_table(clean_key(dataset.name))}"
            ).fetchone()
        return dg.AssetCheckResult(
            passed=rows == distinct and missing == 0,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"rows": rows, "distinct_keys": distinct, "duplicated_rows": rows - distinct - missing, "missing_keys": missing},
        )

    return _check


def build_expectations_check(dataset: Dataset) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=clean_key(dataset.name), name="contract_expectations",
        description="Great Expectations suite from the contract: completeness of key fields, identifier checks, code lists.",
    )
    def _check(warehouse: Warehouse, settings: CohortSettings) -> dg.AssetCheckResult:
        expectations = expectations_for(dataset, settings.settings.cutoff)
        columns = sorted({e.column for e in expectations})
        with warehouse.connect() as con:
            present = {r[0] for r in con.execute(
                "select column_name from information_schema.columns where table_schema = 'clean' and table_name = ?",
                [dataset.name],
            ).fetchall()}
            selected = [c for c in columns if c in present] or ["1 as _empty"]
            frame = con.execute(f"select {', '.join(selected)} from {_table(clean_key(dataset.name))}").pl()
        outcomes = run_expectations(frame, expectations) if frame.height else []
        failed = [o for o in outcomes if not o.success]
        return dg.AssetCheckResult(
            passed=not failed,
            severity=dg.AssetCheckSeverity.WARN,
            description=("failed: " + "; ".join(o.expectation for o in failed)) if failed else None,
            metadata={
                "expectations": len(outcomes),
                "failed": len(failed),
                "results": dg.MetadataValue.json([
                    {"expectation": o.expectation, "success": o.success, "unexpected_percent": o.unexpected_percent, "error": o.error}
                    for o in outcomes
                ]),
            },
        )

    return _check


def build_value_validity_check(dataset: Dataset) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=clean_key(dataset.name), name="value_validity", additional_deps=[quarantine_key(dataset.name)],
        description=f"No column has more than {MAX_INVALID_SHARE:.0%} of rows quarantined for an unparseable or out-of-list value.",
    )
    def _check(warehouse: Warehouse) -> dg.AssetCheckResult:
        with warehouse.connect() as con:
            accepted = con.execute(f"select count(*) from {_table(clean_key(dataset.name))}").fetchone()[0]
            q = _table(quarantine_key(dataset.name))
            quarantined = con.execute(f"select count(distinct (source_file, source_line)) from {q}").fetchone()[0]
            rule_list = ", ".join(f"'{r}'" for r in VALUE_RULES)
            by_field = con.execute(
                f"select field, count(distinct (source_file, source_line)) as n from {q} "
                f"where rule in ({rule_list}) group by field order by n desc"
            ).fetchall()
        rows_read = accepted + quarantined
        shares = {field: n / rows_read for field, n in by_field} if rows_read else {}
        over = {f: round(s, 4) for f, s in shares.items() if s > MAX_INVALID_SHARE}
        return dg.AssetCheckResult(
            passed=not over,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"columns over {MAX_INVALID_SHARE:.0%} invalid: {over}" if over else None,
            metadata={"rows_read": rows_read, "invalid_share_by_column": dg.MetadataValue.json({f: round(s, 5) for f, s in shares.items()})},
        )

    return _check


INGEST_CHECKS = [
    *(build_key_unique_check(d) for d in DATASETS.values() if d.key),
    *(build_expectations_check(d) for d in DATASETS.values()),
    *(build_value_validity_check(d) for d in DATASETS.values()),
]

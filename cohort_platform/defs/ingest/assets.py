"""One ingestion asset per raw dataset and reference file.

Each asset reads every delivery file of its folder, validates it against the contract and writes two
tables: `clean.<dataset>` (accepted rows, canonical and typed) and `quarantine.<dataset>` (every
rejected row with file, line, field, value, rule and reason). The reconciliation check runs inside the
asset because only ingestion knows how many rows were read.
"""


import json

import dagster as dg
import polars as pl

from cohort_platform.contract.datasets import DATASETS, REFERENCE_DATASETS, Dataset, folder
from cohort_platform.defs.resources import CohortSettings
from cohort_platform.ingest.pipeline import IngestResult, ingest
from cohort_platform.ingest.read import FileFault

RECONCILE_CHECK = "rows_reconcile"
POLARS_TO_SQL = {"String": "VARCHAR", "Int64": "BIGINT", "Float64": "DOUBLE", "Date": "DATE", "Boolean": "BOOLEAN"}
KIND_TO_SQL = {"int": "BIGINT", "float": "DOUBLE", "date": "DATE"}


def raw_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", name])


def clean_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["clean", name])


def quarantine_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["quarantine", name])


def raw_spec(dataset: Dataset) -> dg.AssetSpec:
    """The delivered files, as an external asset: the root of every lineage path."""
    return dg.AssetSpec(
        key=raw_key(dataset.name),
        description=f"Raw delivery files `{folder(dataset.name)}/{dataset.glob}`. {dataset.description}",
        group_name="raw",
        kinds={"csv"},
        owners=["team:data-engineering"],
        metadata={"folder": folder(dataset.name), "glob": dataset.glob},
    )


def column_schema(dataset: Dataset) -> dg.TableSchema:
    """The clean table's columns in stored order: the contract's, the identifier flags, then lineage."""
    columns = [dg.TableColumn(c.name, KIND_TO_SQL.get(c.kind, "VARCHAR"), description=c.description or c.kind)
               for c in dataset.columns]
    columns += [dg.TableColumn(f"{c.name}_valid", "BOOLEAN", description=f"{c.name} passes its {c.kind} check")
                for c in dataset.columns if c.kind in ("nhs_number", "upn", "postcode")]
    if dataset.name == "opt_outs":
        columns.append(dg.TableColumn("snapshot_date", "DATE", description="Date in the snapshot's file name."))
    columns.append(dg.TableColumn("source_file", "VARCHAR", description="Delivery file, relative to the raw root."))
    columns.append(dg.TableColumn("source_line", "BIGINT", description="Line in the delivery file (header = 1)."))
    return dg.TableSchema(columns=columns)


QUARANTINE_SCHEMA = dg.TableSchema(columns=[
    dg.TableColumn("dataset", "VARCHAR"),
    dg.TableColumn("source_file", "VARCHAR"),
    dg.TableColumn("source_line", "BIGINT"),
    dg.TableColumn("record_id", "VARCHAR"),
    dg.TableColumn("field", "VARCHAR", description="The column whose value broke the rule."),
    dg.TableColumn("value", "VARCHAR", description="The value as delivered."),
    dg.TableColumn("rule", "VARCHAR", description="The contract rule (required, type, range, code_list, ...)."),
    dg.TableColumn("reason", "VARCHAR", description="A sentence naming file, line, field, value and rule."),
    dg.TableColumn("raw_record", "VARCHAR", description="The whole row as delivered, as JSON."),
])


def ingest_metadata(result: IngestResult) -> dict[str, object]:
    return {
        "rows_read": result.rows_read,
        "rows_accepted": result.rows_accepted,
        "rows_quarantined": result.rows_quarantined,
        "files": dg.MetadataValue.json(list(result.files)),
        "extra_columns_ignored": dg.MetadataValue.json(result.extra_columns),
        "redelivered_duplicates": result.duplicates,
        "redelivered_conflicts": result.conflicts,
        "identifiers_failing_check": dg.MetadataValue.json(result.flagged),
        "quarantined_by_rule": dg.MetadataValue.json(result.rule_counts),
    }


def reconcile(result: IngestResult, asset_key: dg.AssetKey) -> dg.AssetCheckResult:
    passed = result.rows_read == result.rows_accepted + result.rows_quarantined
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=RECONCILE_CHECK,
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description="rows read = rows accepted + rows quarantined",
        metadata={
            "rows_read": result.rows_read,
            "rows_accepted": result.rows_accepted,
            "rows_quarantined": result.rows_quarantined,
            "unaccounted": result.rows_read - result.rows_accepted - result.rows_quarantined,
        },
    )


def build_ingest_asset(dataset: Dataset) -> dg.AssetsDefinition:
    name = dataset.name
    kind = "reference" if name in REFERENCE_DATASETS else "dataset"

    @dg.multi_asset(
        name=f"ingest_{name}",
        outs={
            "clean": dg.AssetOut(
                key=clean_key(name),
                group_name="clean",
                description=f"{dataset.description} Accepted rows, canonical and typed.",
                kinds={"duckdb", "polars"},
                owners=["team:data-engineering"],
                metadata={"dagster/column_schema": column_schema(dataset), "contract_kind": kind},
            ),
            "quarantine": dg.AssetOut(
                key=quarantine_key(name),
                group_name="clean",
                description=f"Rows of `{name}` that broke a contract rule, with file, line, field, value, rule and reason.",
                kinds={"duckdb"},
                owners=["team:data-engineering"],
                metadata={"dagster/column_schema": QUARANTINE_SCHEMA},
            ),
        },
        deps=[raw_key(name)],
        check_specs=[
            dg.AssetCheckSpec(
                RECONCILE_CHECK, asset=clean_key(name), blocking=True,
                description="Every row read is either accepted or quarantined: nothing is lost.",
            )
        ],
    )
    def _ingest(context: dg.AssetExecutionContext, settings: CohortSettings):
        cfg = settings.settings
        try:
            result = ingest(cfg.raw_dir, name, cfg.cutoff)
        except FileFault as fault:
            raise dg.Failure(description=f"{name}: whole-file fault in {fault}", metadata={"file": str(fault.file), "fault": fault.fault}) from fault
        context.log.info(
            f"{name}: {result.rows_read} rows read, {result.rows_accepted} accepted, "
            f"{result.rows_quarantined} quarantined from {len(result.files)} file(s)"
        )
        if result.extra_columns:
            context.log.warning(f"{name}: unknown columns ignored: {json.dumps(result.extra_columns)}")
        yield dg.Output(result.accepted, "clean", metadata=ingest_metadata(result))
        yield dg.Output(result.quarantine, "quarantine", metadata={"rows_quarantined": result.rows_quarantined})
        yield reconcile(result, clean_key(name))

    return _ingest


INGEST_ASSETS = [build_ingest_asset(d) for d in DATASETS.values()]
RAW_SPECS = [raw_spec(d) for d in DATASETS.values()]

"""De-identified content and the research-ready tables, per birth year.

- `content/<dataset>`: the clean table without direct identifiers (names, NHS numbers, UPNs, the
  LA's child id, validity flags, delivery lineage). Dates of birth and postcodes stay, because ages,
  LSOA, LA, IMD and exposures are derived from them; no research table carries them.
- `research/<table>` (partitioned by birth year): built from the cohort link map (opt-outs and
  consent applied) and content only, keyed by the research pseudonym (HMAC-SHA256 of the internal
  person id, key from COHORT_PSEUDONYM_KEY or `<home>/secure/pseudonym.key`). Stored, one Parquet
  file per birth year, in `<home>/research_ready/<table>/birth_year=YYYY/` (the I/O manager: see
  `orchestration.storage`), and queried in the warehouse through the views `research.<table>`.
"""

import dagster as dg
import polars as pl

from cohort_platform.cohort.columns import RESEARCH_TABLES, column_schema_metadata
from cohort_platform.cohort.research import INPUTS, build_research_table
from cohort_platform.contract.datasets import DATASETS, PERSON_DATASETS
from cohort_platform.defs.ingest.assets import clean_key
from cohort_platform.defs.privacy.assets import COHORT_LINK_MAP
from cohort_platform.defs.resources import CohortSettings
from cohort_platform.orchestration.partitions import BIRTH_YEAR, BIRTH_YEAR_COLUMN
from cohort_platform.privacy.pseudonyms import default_key_file, load_pseudonym_key

OWNERS = ["team:information-governance"]
DIRECT_IDENTIFIER_KINDS = ("name", "nhs_number", "upn")
DROPPED_ALWAYS = ("child_id", "source_file", "source_line")
CONTENT_DATASETS = tuple(n for n in PERSON_DATASETS if n != "opt_outs")
REFERENCE_INPUTS = ("postcodes", "lsoa_imd")
EXPOSURE_INPUTS = ("yearly", "pregnancy")  # wired in defs/exposures


def content_key(dataset: str) -> dg.AssetKey:
    return dg.AssetKey(["content", dataset])


def research_key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["research", table])


def direct_identifier_columns(dataset: str) -> list[str]:
    ds = DATASETS[dataset]
    dropped = [c.name for c in ds.columns if c.kind in DIRECT_IDENTIFIER_KINDS or c.name in DROPPED_ALWAYS]
    return dropped


def content_of(dataset: str, clean: pl.DataFrame) -> pl.DataFrame:
    drop = set(direct_identifier_columns(dataset)) | {c for c in clean.columns if c.endswith("_valid")} | set(DROPPED_ALWAYS)
    return clean.drop([c for c in clean.columns if c in drop])


def build_content_asset(dataset: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=content_key(dataset), ins={"clean": dg.AssetIn(key=clean_key(dataset))},
        group_name="privacy", kinds={"duckdb"}, owners=OWNERS,
        description=f"`{dataset}` without direct identifiers ({', '.join(direct_identifier_columns(dataset))}), keyed by record_id.",
    )
    def _content(clean: pl.DataFrame) -> pl.DataFrame:
        return content_of(dataset, clean)

    return _content


def build_research_asset(table: str) -> dg.AssetsDefinition:
    required, optional = INPUTS[table]
    ins = {"link_map": dg.AssetIn(key=COHORT_LINK_MAP)}
    for name in (*required, *optional):
        if name in CONTENT_DATASETS:
            ins[name] = dg.AssetIn(key=content_key(name))
        elif name in REFERENCE_INPUTS:
            ins[name] = dg.AssetIn(key=clean_key(name))
        elif name in EXPOSURE_INPUTS:
            ins[name] = dg.AssetIn(key=dg.AssetKey(["exposures", f"{name}_exposures"]))
    spec = RESEARCH_TABLES[table]

    @dg.asset(
        key=research_key(table), ins=ins, partitions_def=BIRTH_YEAR,
        group_name="research", kinds={"duckdb", "parquet"}, owners=OWNERS,
        description=f"{spec.description} One row per {spec.grain}. Research-ready: no identifiers.",
        metadata={"partition_expr": BIRTH_YEAR_COLUMN, **column_schema_metadata(spec)},
    )
    def _research(context: dg.AssetExecutionContext, settings: CohortSettings, link_map: pl.DataFrame, **frames: pl.DataFrame):
        cfg = settings.settings
        year = int(context.partition_key)
        key = load_pseudonym_key(default_key_file(cfg.home))
        frame = build_research_table(table, year, link_map.drop(BIRTH_YEAR_COLUMN, strict=False), frames, key.pseudonymise)
        if BIRTH_YEAR_COLUMN not in frame.columns:
            frame = frame.with_columns(pl.lit(year, pl.Int64).alias(BIRTH_YEAR_COLUMN))
        # the I/O manager stores the partition as <home>/research_ready/<table>/birth_year=YYYY/part-0.parquet
        return dg.Output(frame, metadata={"dagster/row_count": frame.height})

    return _research


CONTENT_ASSETS = [build_content_asset(n) for n in CONTENT_DATASETS]
RESEARCH_TABLE_NAMES = tuple(RESEARCH_TABLES)
RESEARCH_ASSETS = [build_research_asset(t) for t in RESEARCH_TABLE_NAMES]

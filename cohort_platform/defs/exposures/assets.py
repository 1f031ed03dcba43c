"""Residential histories and environmental exposures, per birth year.

`exposures_for_birth_year` reads the cohort link map (opt-outs and consent applied), the content
tables that carry dated postcodes, the reference locations and the validated environmental files,
and writes: the residential histories (secure: they hold postcodes), and yearly (home and school)
and pregnancy exposures keyed by the internal person id, from which `research/exposures_*` are built.
"""

import dagster as dg
import polars as pl

from cohort_platform.defs.environment.assets import ROADS, environment_key
from cohort_platform.defs.ingest.assets import clean_key
from cohort_platform.defs.privacy.assets import COHORT_LINK_MAP
from cohort_platform.defs.research.assets import content_key
from cohort_platform.defs.resources import CohortSettings
from cohort_platform.exposures.assign import Environment, assign_exposures
from cohort_platform.exposures.histories import SOURCES, cohort_children, dated_addresses, residential_spells, school_enrolments
from cohort_platform.exposures.quality import coverage, range_problems
from cohort_platform.orchestration.partitions import BIRTH_YEAR, BIRTH_YEAR_COLUMN

HISTORIES = dg.AssetKey(["secure", "residential_histories"])
YEARLY = dg.AssetKey(["exposures", "yearly_exposures"])
PREGNANCY = dg.AssetKey(["exposures", "pregnancy_exposures"])
OWNERS = ["team:environment"]


def _ins() -> dict[str, dg.AssetIn]:
    ins = {name: dg.AssetIn(key=content_key(name)) for name in SOURCES}
    ins.update(link_map=dg.AssetIn(key=COHORT_LINK_MAP), postcodes=dg.AssetIn(key=clean_key("postcodes")),
               schools=dg.AssetIn(key=clean_key("schools")))
    return ins


@dg.multi_asset(
    name="exposures_for_birth_year",
    ins=_ins(),
    deps=[environment_key(g) for g in ("no2", "pm25", "ndvi")] + [environment_key(ROADS)],
    partitions_def=BIRTH_YEAR,
    outs={
        "histories": dg.AssetOut(key=HISTORIES, group_name="exposures", kinds={"duckdb", "parquet"}, owners=OWNERS,
                                 metadata={"partition_expr": BIRTH_YEAR_COLUMN},
                                 description="Monthly address spells of every child (birth to the cut-off) and of mothers in the 12 months "
                                             "before the birth, each with its source (docs/residential_histories.md). Secure zone: postcodes."),
        "yearly": dg.AssetOut(key=YEARLY, group_name="exposures", kinds={"duckdb", "parquet", "xarray", "geopandas"}, owners=OWNERS,
                              metadata={"partition_expr": BIRTH_YEAR_COLUMN},
                              description="Per child and calendar year: NO2, PM2.5, NDVI within 300 m, distance to the nearest major road and "
                                          "motorway, at home and at school (term time), time-weighted across moves and months."),
        "pregnancy": dg.AssetOut(key=PREGNANCY, group_name="exposures", kinds={"duckdb", "parquet", "xarray"}, owners=OWNERS,
                                 metadata={"partition_expr": BIRTH_YEAR_COLUMN},
                                 description="Per child and trimester (and the whole pregnancy): NO2 and PM2.5 at the mother's addresses; NDVI "
                                             "and road distance at the birth address."),
    },
    check_specs=[dg.AssetCheckSpec("values_in_range", asset=YEARLY, description="Every exposure within its physical range."),
                 dg.AssetCheckSpec("coverage", asset=YEARLY, description="At least 95% of child-years have a home NO2 exposure.")],
)
def exposures_for_birth_year(context: dg.AssetExecutionContext, settings: CohortSettings, link_map: pl.DataFrame,
                             postcodes: pl.DataFrame, schools: pl.DataFrame, **content: pl.DataFrame):
    cfg = settings.settings
    year = int(context.partition_key)
    link_map = link_map.drop(BIRTH_YEAR_COLUMN, strict=False)
    dated = dated_addresses(content, link_map, postcodes["postcode"])
    children = cohort_children(content, link_map)
    spells = residential_spells(dated, cfg.cutoff, children)
    enrolments = school_enrolments(content, link_map)
    timings: dict[str, float] = {}
    result = assign_exposures(spells, children, enrolments, postcodes, schools,
                              Environment.from_folder(cfg.environment_dir), cfg.cutoff, timings=timings)
    tag = pl.lit(year, pl.Int64).alias(BIRTH_YEAR_COLUMN)
    yearly = result.yearly.with_columns(tag)
    yield dg.Output(spells.with_columns(tag), "histories", metadata={"spells": spells.height, "children": children.height})
    yield dg.Output(yearly, "yearly", metadata={"rows": yearly.height, "timings_s": dg.MetadataValue.json(
        {k: round(v, 2) for k, v in timings.items()})})
    yield dg.Output(result.pregnancy.with_columns(tag), "pregnancy", metadata={"rows": result.pregnancy.height})
    problems = range_problems(result)
    yield dg.AssetCheckResult(check_name="values_in_range", asset_key=YEARLY, passed=not problems,
                              severity=dg.AssetCheckSeverity.WARN, metadata={"problems": dg.MetadataValue.json(problems)})
    cov = coverage(result)
    share = _no2_share(cov)
    yield dg.AssetCheckResult(check_name="coverage", asset_key=YEARLY, passed=share is None or share >= 0.95,
                              severity=dg.AssetCheckSeverity.WARN,
                              metadata={"coverage": dg.MetadataValue.json(cov.to_dicts())})


def _no2_share(cov: pl.DataFrame) -> float | None:
    row = cov.filter((pl.col("setting") == "home") & (pl.col("exposure") == "no2"))
    return row["share"][0] if row.height else None


EXPOSURE_ASSETS = [exposures_for_birth_year]

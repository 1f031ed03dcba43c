"""Linkage assets: identifier separation, then the link map of each birth year and its quality.

Identifier separation is visible in the lineage: `separate_identifiers` is the only asset after
ingestion that reads names, dates of birth, NHS numbers, UPNs and postcodes; it writes them to the
`secure` schema. `link_birth_year` reads only those secure tables and writes the link map (secure)
and identifier-free quality tables. Research tables read the link map and content, never identifiers.
"""

import json

import dagster as dg
import polars as pl

from cohort_platform.defs.ingest.assets import clean_key
from cohort_platform.defs.resources import CohortSettings
from cohort_platform.linkage.identifiers import SEPARATION_COLUMNS, SOURCES, LinkageInputs, linkage_inputs
from cohort_platform.linkage.link_map import link_map_problems
from cohort_platform.linkage.pipeline import link_birth_year, partition_database
from cohort_platform.linkage.quality import characteristics_of, linkage_quality
from cohort_platform.linkage.report import render_markdown
from cohort_platform.linkage.spine import deduplicate_births
from cohort_platform.orchestration.partitions import BIRTH_YEAR, BIRTH_YEAR_COLUMN
from cohort_platform.privacy.consent import RECORD_DATE, record_dates
from cohort_platform.privacy.opt_out import apply_opt_outs

LINKED_SOURCES = tuple(SOURCES)  # births first: the spine
OWNERS = ["team:linkage"]


def identifiers_key(dataset: str) -> dg.AssetKey:
    return dg.AssetKey(["secure", f"identifiers_{dataset}"])


BIRTHS_MOTHERS = dg.AssetKey(["secure", "births_mothers"])
MATERNITY = dg.AssetKey(["secure", "maternity_episodes"])
CHARACTERISTICS = dg.AssetKey(["secure", "linkage_characteristics"])
RECORD_DATES = dg.AssetKey(["secure", "record_dates"])
OPT_OUT_LIST = dg.AssetKey(["secure", "opt_out_list"])
SPINE = dg.AssetKey(["secure", "spine"])
LINK_MAP = dg.AssetKey(["secure", "link_map"])
QUALITY = dg.AssetKey(["linkage", "linkage_quality"])


def _ins() -> dict[str, dg.AssetIn]:
    ins = {name: dg.AssetIn(key=clean_key(name), metadata={"columns": list(SEPARATION_COLUMNS[name])})
           for name in LINKED_SOURCES}
    ins["postcodes"] = dg.AssetIn(key=clean_key("postcodes"))
    ins["lsoa_imd"] = dg.AssetIn(key=clean_key("lsoa_imd"))
    ins["opt_out_list"] = dg.AssetIn(key=OPT_OUT_LIST)
    return ins


@dg.multi_asset(
    name="separate_identifiers",
    ins=_ins(),
    outs={
        **{f"identifiers_{name}": dg.AssetOut(
            key=identifiers_key(name), group_name="linkage", kinds={"duckdb"}, owners=OWNERS,
            description=f"Identifiers only (record_id, NHS number, UPN, names, DOB, sex, postcode) of `{name}`, for linkage. Secure zone.",
        ) for name in LINKED_SOURCES},
        "births_mothers": dg.AssetOut(key=BIRTHS_MOTHERS, group_name="linkage", kinds={"duckdb"}, owners=OWNERS,
                                      description="Mothers' identifiers from birth registrations, for the mother-baby link. Secure zone."),
        "maternity": dg.AssetOut(key=MATERNITY, group_name="linkage", kinds={"duckdb"}, owners=OWNERS,
                                 description="HES maternity episodes' identifiers and delivery fields, for the mother-baby link. Secure zone."),
        "record_dates": dg.AssetOut(key=RECORD_DATES, group_name="linkage", kinds={"duckdb"}, owners=OWNERS,
                                    description="The date each record counts as made on, for survey withdrawal."),
        "characteristics": dg.AssetOut(key=CHARACTERISTICS, group_name="linkage", kinds={"duckdb"}, owners=OWNERS,
                                       description="Sex, ethnicity, IMD decile and LA of every record: the groups linkage bias is reported by."),
    },
)
def separate_identifiers(context: dg.AssetExecutionContext, **clean: pl.DataFrame):
    postcodes, lsoa_imd, current = clean.pop("postcodes"), clean.pop("lsoa_imd"), clean.pop("opt_out_list")
    removed = {}
    for name in LINKED_SOURCES:
        if name != "births":  # births stay whole until after linkage: see defs/privacy/assets.py
            clean[name], removal = apply_opt_outs(name, clean[name], current)
            removed[name] = removal.rows_removed
    context.add_output_metadata({"opted_out_rows_removed": dg.MetadataValue.json(removed)}, output_name="identifiers_births")
    inputs = linkage_inputs(clean)
    for name in LINKED_SOURCES:
        frame = inputs.identifiers[name]
        yield dg.Output(frame, f"identifiers_{name}", metadata={"rows": frame.height, "columns": dg.MetadataValue.json(frame.columns)})
    yield dg.Output(inputs.births_mothers, "births_mothers")
    yield dg.Output(inputs.maternity, "maternity")
    characteristics = pl.concat([characteristics_of(name, clean[name], postcodes, lsoa_imd) for name in LINKED_SOURCES if name != "births"])
    yield dg.Output(characteristics, "characteristics")
    yield dg.Output(record_dates({n: f for n, f in clean.items() if n in RECORD_DATE and RECORD_DATE[n] is not None}), "record_dates")


@dg.asset(
    key=SPINE,
    ins={"births": dg.AssetIn(key=identifiers_key("births"))},
    group_name="linkage", kinds={"duckdb"}, owners=OWNERS,
    description="The births spine: registrations deduplicated; person_id = the kept births record_id. Secure zone.",
)
def spine(births: pl.DataFrame) -> dg.Output[pl.DataFrame]:
    deduplicated = deduplicate_births(births)
    kept = deduplicated.filter(pl.col("is_kept")).height if "is_kept" in deduplicated.columns else deduplicated.height
    return dg.Output(deduplicated, metadata={"registrations": births.height, "children": kept,
                                             "duplicate_registrations": births.height - kept})


def _link_ins() -> dict[str, dg.AssetIn]:
    ins = {f"identifiers_{name}": dg.AssetIn(key=identifiers_key(name)) for name in LINKED_SOURCES}
    ins.update(spine=dg.AssetIn(key=SPINE), births_mothers=dg.AssetIn(key=BIRTHS_MOTHERS),
               maternity=dg.AssetIn(key=MATERNITY), characteristics=dg.AssetIn(key=CHARACTERISTICS))
    return ins


@dg.multi_asset(
    name="link_birth_year",
    ins=_link_ins(),
    partitions_def=BIRTH_YEAR,
    outs={
        "link_map": dg.AssetOut(
            key=LINK_MAP, group_name="linkage", kinds={"duckdb", "splink", "parquet"}, owners=OWNERS,
            metadata={"partition_expr": BIRTH_YEAR_COLUMN},
            description="Every record of every dataset for the children of a birth year, once per role: dataset, record_id, "
                        "person_id (births record_id; empty if unlinked), role, match_probability, match_weight, step. "
                        "Secure zone: stored as <home>/secure/link_map/birth_year=YYYY/part-0.parquet.",
        ),
        "quality": dg.AssetOut(
            key=QUALITY, group_name="linkage", kinds={"duckdb", "parquet"}, owners=OWNERS,
            metadata={"partition_expr": BIRTH_YEAR_COLUMN},
            description="Link rate per dataset and step for a birth year, with precision, recall, bias and the match-weight "
                        "histogram in metadata and in <home>/reports/linkage_quality_YYYY.md. No identifiers.",
        ),
    },
    check_specs=[dg.AssetCheckSpec("link_map_complete", asset=LINK_MAP, blocking=True,
                                   description="Every candidate record appears in the link map, once per role, with a step; "
                                               "every person is on the spine.")],
)
def link_birth_year_asset(context: dg.AssetExecutionContext, settings: CohortSettings, spine: pl.DataFrame,
                          births_mothers: pl.DataFrame, maternity: pl.DataFrame, characteristics: pl.DataFrame,
                          **identifiers: pl.DataFrame):
    year = int(context.partition_key)
    cfg = settings.settings
    inputs = LinkageInputs(
        identifiers={name.removeprefix("identifiers_"): frame for name, frame in identifiers.items()},
        births_mothers=births_mothers, maternity=maternity,
    )
    con = partition_database(cfg.home / "tmp" / f"linkage_{year}")  # its own in-memory database, spilling here
    try:
        result = link_birth_year(con, year, inputs, spine=spine)
        quality = linkage_quality(result, inputs, characteristics=characteristics, con=con)
    finally:
        con.close()
    link_map = result.link_map.with_columns(pl.lit(year, pl.Int64).alias(BIRTH_YEAR_COLUMN))
    problems = link_map_problems(result.link_map, result.candidates, result.spine["person_id"])

    reports = cfg.home / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    report_md = render_markdown([quality])
    (reports / f"linkage_quality_{year}.md").write_text(report_md)

    meta = quality.metadata()
    context.log.info(f"birth year {year}: {json.dumps({k: v for k, v in meta.items() if k.endswith('link_rate')})}")
    yield dg.Output(link_map, "link_map", metadata={
        "rows": link_map.height,
        "linked_records": link_map.filter(pl.col("person_id").is_not_null()).height,
        "timings_s": dg.MetadataValue.json({k: round(v, 2) for k, v in result.timings.items()}),
    })
    rates = quality.link_rates.with_columns(pl.lit(year, pl.Int64).alias(BIRTH_YEAR_COLUMN))
    yield dg.Output(rates, "quality", metadata={
        **{k: v for k, v in meta.items() if isinstance(v, (int, float))},
        "report": dg.MetadataValue.md(report_md[:60_000]),
        "report_path": str(reports / f"linkage_quality_{year}.md"),
        "bias": dg.MetadataValue.md(_md(quality.bias)),
    })
    yield dg.AssetCheckResult(check_name="link_map_complete", asset_key=LINK_MAP, passed=not problems,
                              severity=dg.AssetCheckSeverity.ERROR, metadata={"problems": dg.MetadataValue.json(problems)})


def _md(frame: pl.DataFrame, limit: int = 200) -> str:
    if frame.is_empty():
        return "_none_"
    head = frame.head(limit)
    lines = ["| " + " | ".join(head.columns) + " |", "|" + "---|" * len(head.columns)]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in head.iter_rows()]
    return "\n".join(lines)


LINKAGE_ASSETS = [separate_identifiers, spine, link_birth_year_asset]

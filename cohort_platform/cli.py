"""`cohort-platform`: generate synthetic extracts, build the cohort headlessly, and more.

Each command is a thin shell over a plain function, so everything here is also callable from Python.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import sys
from pathlib import Path

import click

from cohort_platform.config import Settings


def _settings(home: str | None, raw_dir: str | None, cutoff: str | None) -> Settings:
    env = dict(os.environ)
    if home:
        env["COHORT_HOME"] = home
    if raw_dir:
        env["COHORT_RAW_DIR"] = raw_dir
    if cutoff:
        env["COHORT_CUTOFF"] = cutoff
    settings = Settings.from_env(env)
    # the Dagster code location reads the same variables: keep them in step
    os.environ.update({"COHORT_HOME": str(settings.home), "COHORT_RAW_DIR": str(settings.raw_dir),
                       "COHORT_CUTOFF": settings.cutoff.isoformat()})
    return settings


@click.group(help=__doc__)
def main() -> None:
    pass


@main.command(help="Write synthetic raw extracts to the contract, with ground truth kept outside the raw folder.")
@click.option("--raw-dir", type=click.Path(file_okay=False), default=None, help="Raw root to write (default: $COHORT_RAW_DIR or data/raw).")
@click.option("--truth-dir", type=click.Path(file_okay=False), default=None, help="Where ground truth goes (default: <home>/truth).")
@click.option("--birth-years", default="2006-2010", show_default=True, help="e.g. 2006-2010")
@click.option("--children-per-year", type=int, default=2000, show_default=True)
@click.option("--seed", type=int, default=2006, show_default=True)
@click.option("--cutoff", default=None, help="Data cut-off date (default: $COHORT_CUTOFF or 2025-03-31).")
@click.option("--no-environment", is_flag=True, help="Skip the environmental grids and roads.")
def synth(raw_dir, truth_dir, birth_years, children_per_year, seed, cutoff, no_environment) -> None:
    from cohort_platform.orchestration.partitions import parse_birth_years
    from cohort_platform.synth.generate import generate

    settings = _settings(None, raw_dir, cutoff)
    truth = Path(truth_dir) if truth_dir else settings.home / "truth"
    summary = generate(settings.raw_dir, truth, parse_birth_years(birth_years), children_per_year, seed,
                       settings.cutoff, environment=not no_environment)
    click.echo(f"Synthetic extracts written to {settings.raw_dir}; ground truth to {truth}")
    if dataclasses.is_dataclass(summary):
        for key, value in dataclasses.asdict(summary).items():
            click.echo(f"  {key}: {value}")


@main.command(help="Materialise every asset and run every check; exit non-zero on a blocking failure.")
@click.option("--raw-dir", type=click.Path(file_okay=False), default=None, help="Raw extract root (default: $COHORT_RAW_DIR or <home>/raw).")
@click.option("--home", type=click.Path(file_okay=False), default=None, help="Platform home (default: $COHORT_HOME or data/).")
@click.option("--birth-years", default=None, help="Birth-year partitions to build, e.g. 2006-2008 (default: every year delivered).")
@click.option("--cutoff", default=None, help="Data cut-off date (default: $COHORT_CUTOFF or 2025-03-31).")
@click.option("--parallel", type=click.IntRange(min=1), default=1, show_default=True,
              help="Birth years built at once, each in its own process (about one per core; mind memory per birth year).")
@click.option("--only", "only", type=click.Choice(["shared", "birth-years", "outputs"]), multiple=True,
              help="Build only these stages (repeatable; default: all three, in order).")
def build(raw_dir, home, birth_years, cutoff, parallel, only) -> None:
    from cohort_platform.orchestration.build import STAGES, run_build
    from cohort_platform.orchestration.partitions import parse_birth_years

    settings = _settings(home, raw_dir, cutoff)
    years = parse_birth_years(birth_years) if birth_years else None
    started = dt.datetime.now()
    summary = run_build(settings, years, parallel=parallel, stages=only or STAGES)
    click.echo(summary.render())
    click.echo(f"took {(dt.datetime.now() - started).total_seconds():.0f} s; warehouse: {settings.warehouse_path}")
    sys.exit(0 if summary.ok else 1)


@main.command(help="Write an approved project's extract: only its tables, columns and birth years, with a project-specific pseudonym.")
@click.argument("project_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="New or empty folder to write to.")
@click.option("--home", type=click.Path(file_okay=False), default=None, help="Platform home (default: $COHORT_HOME or data/).")
def extract(project_file, out_dir, home) -> None:
    from cohort_platform.cohort.columns import research_columns
    from cohort_platform.outputs.extracts import ProjectError, load_project, write_extract
    from cohort_platform.privacy.pseudonyms import default_key_file, load_pseudonym_key

    settings = _settings(home, None, None)
    try:
        project = load_project(Path(project_file), research_columns())
        rows = write_extract(project, settings.home / "research_ready", Path(out_dir),
                             load_pseudonym_key(default_key_file(settings.home), create=False))
    except ProjectError as error:
        raise click.ClickException(str(error)) from error
    for table, n in rows.items():
        click.echo(f"  {table}: {n:,} rows")
    click.echo(f"Extract for project {project.name!r} written to {out_dir}")


@main.command(name="data-dictionary", help="Render the research tables' data dictionary (declared in code) to Markdown.")
@click.option("--out", default="docs/data_dictionary.md", show_default=True, type=click.Path(dir_okay=False))
def data_dictionary(out) -> None:
    from cohort_platform.cohort.columns import render_data_dictionary

    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(render_data_dictionary())
    click.echo(f"Data dictionary written to {out}")


@main.command(name="leak-scan", help="Scan everything under <home>/research_ready/ and the warehouse's research schema for identifiers.")
@click.option("--home", type=click.Path(file_okay=False), default=None)
def leak_scan(home) -> None:
    import duckdb

    from cohort_platform.contract.datasets import PERSON_DATASETS
    from cohort_platform.privacy.leak_scan import (
        scan_parquet_dir, scan_tables, secure_identifier_columns, secure_identifier_sets,
    )

    settings = _settings(home, None, None)
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        clean = {n: con.execute(f"select {', '.join(secure_identifier_columns(n))} from clean.{n}").pl()
                 for n in PERSON_DATASETS}
        research = {t: con.execute(f"select * exclude (birth_year) from research.{t}").pl() for (t,) in con.execute(
            "select table_name from information_schema.tables where table_schema = 'research'").fetchall()}
    finally:
        con.close()
    from cohort_platform.defs.research.checks import is_declared_code_match

    sets = secure_identifier_sets(clean)
    findings = scan_parquet_dir(settings.home / "research_ready", secure_sets=sets) + scan_tables(research, secure_sets=sets)
    findings = [f for f in findings if not (f.table in research and is_declared_code_match(f.table, f.column, f.rule, research[f.table]))]
    for f in findings:
        click.echo(f"  LEAK {f.table}.{f.column}: {f.count} rows match {f.rule}")
    click.echo(f"{len(research)} research tables and {settings.home / 'research_ready'} scanned: "
               + ("no identifier found" if not findings else f"{len(findings)} finding(s)"))
    sys.exit(1 if findings else 0)


if __name__ == "__main__":
    main()

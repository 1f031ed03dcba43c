"""Per-partition storage: each birth year of a partitioned table is one Parquet file of its own.

DuckDB allows one writing process per database file, so birth-year runs that all wrote into
`warehouse.duckdb` had to go one at a time. Partitioned tables are therefore stored outside it:

    <home>/<schema>/<table>/birth_year=YYYY/part-0.parquet     e.g. <home>/secure/link_map/birth_year=2008/
    <home>/research_ready/<table>/birth_year=YYYY/part-0.parquet   (the research schema: the published folder)

- A partition is written to a hidden temporary file in its folder and renamed over `part-0.parquet`
  (atomic within a folder, also on NFS), so a run killed at any point leaves the partition as it
  was or wholly replaced, never half written; re-materialising a partition replaces it.
- The partition column (`birth_year`) is not stored in the file: the folder name carries it (Hive
  partitioning), and it is added back, as Int64, when a partition is read.
- Birth-year runs therefore write only their own files and need nothing but read-only access to the
  warehouse (for the shared, unpartitioned tables); many read-only processes may share the file.
- The warehouse keeps one view per partitioned table over its Parquet files (`secure.link_map`,
  `research.children`, ...), so analysts, checks and the outputs still query it as before. A view
  reads whichever partitions exist when it is queried; `refresh_partition_views` (re)creates them
  and needs the write lock, so only the runs that write the warehouse call it.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import polars as pl

from cohort_platform.orchestration.partitions import BIRTH_YEAR_COLUMN

PARTITION_FILE = "part-0.parquet"
STORED_AT: Mapping[str, str] = {"research": "research_ready"}
"""Schemas stored under another folder of the home: research tables are the research-ready release."""
SECURE_SCHEMAS = frozenset({"secure"})
"""Schemas whose folders are created owner-only (identifiers, the link map, postcodes)."""
STALE_TEMP_SECONDS = 3600
"""A temporary file older than this was left by a killed writer and is removed by the next write."""
PARTITION_RUN_TAGS = ("dagster/partition", "dagster/asset_partition_range_start")
"""Run tags that mark a run of one or more partitions: such a run must not write the warehouse."""

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TEMP = re.compile(r"^\." + re.escape(PARTITION_FILE) + r"\.[0-9a-f]+\.tmp$")


class PartitionNotFound(FileNotFoundError):
    """A partition that was asked for has not been materialised."""


def is_partition_run(tags: Mapping[str, str] | None) -> bool:
    """Whether a run with these tags materialises partitions (and so may only read the warehouse)."""
    return bool(tags) and any(tags.get(t) for t in PARTITION_RUN_TAGS)


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"{name!r} is not a valid schema or table name")
    return name


def table_dir(home: str | Path, schema: str, table: str) -> Path:
    """The folder of one partitioned table: `<home>/<schema>/<table>` (research: `<home>/research_ready/<table>`)."""
    return Path(home) / STORED_AT.get(_check_name(schema), schema) / _check_name(table)


def partition_dir(home: str | Path, schema: str, table: str, year: int | str, column: str = BIRTH_YEAR_COLUMN) -> Path:
    return table_dir(home, schema, table) / f"{column}={int(year)}"


def partition_path(home: str | Path, schema: str, table: str, year: int | str, column: str = BIRTH_YEAR_COLUMN) -> Path:
    return partition_dir(home, schema, table, year, column) / PARTITION_FILE


def _make_dirs(home: Path, schema: str, folder: Path) -> None:
    if schema in SECURE_SCHEMAS:
        (home / STORED_AT.get(schema, schema)).mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.mkdir(parents=True, exist_ok=True)


def _fsync(path: Path, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_stale_temps(folder: Path, now: float) -> None:
    for entry in folder.iterdir():
        if _TEMP.match(entry.name):
            try:
                if now - entry.stat().st_mtime > STALE_TEMP_SECONDS:
                    entry.unlink()
            except FileNotFoundError:
                pass


def write_partition(home: str | Path, schema: str, table: str, year: int | str, frame: pl.DataFrame,
                    column: str = BIRTH_YEAR_COLUMN) -> Path:
    """Replace one partition with `frame`, atomically: a temporary file, then a rename over the old one.

    The partition column is not stored (the folder carries it); if the frame has it, every value
    must be the partition's."""
    year = int(year)
    if column in frame.columns:
        wrong = frame.filter(pl.col(column).is_not_null() & (pl.col(column) != year)).height
        if wrong:
            raise ValueError(f"{schema}.{table}: {wrong} rows have {column} other than the partition's {year}")
        frame = frame.drop(column)
    home = Path(home)
    target = partition_path(home, schema, table, year, column)
    _make_dirs(home, schema, target.parent)
    temp = target.parent / f".{PARTITION_FILE}.{uuid.uuid4().hex}.tmp"
    try:
        frame.write_parquet(temp)
        _fsync(temp)
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync(target.parent, directory=True)
    _remove_stale_temps(target.parent, time.time())
    return target


def read_partition(home: str | Path, schema: str, table: str, year: int | str, column: str = BIRTH_YEAR_COLUMN,
                   columns: Sequence[str] | None = None) -> pl.DataFrame:
    """One partition, with the partition column (Int64) added back last."""
    path = partition_path(home, schema, table, year, column)
    if not path.is_file():
        raise PartitionNotFound(f"partition {column}={int(year)} of {schema}.{table} has not been materialised ({path})")
    wanted = [c for c in columns if c != column] if columns else None
    frame = pl.read_parquet(path, columns=wanted)
    if columns and column not in columns:
        return frame
    return frame.with_columns(pl.lit(int(year), pl.Int64).alias(column))


def stored_partitions(home: str | Path, schema: str, table: str, column: str = BIRTH_YEAR_COLUMN) -> list[int]:
    """The partitions of a table that exist on disk, ascending."""
    folder = table_dir(home, schema, table)
    if not folder.is_dir():
        return []
    prefix = f"{column}="
    return sorted(int(d.name[len(prefix):]) for d in folder.iterdir()
                  if d.name.startswith(prefix) and d.name[len(prefix):].isdigit() and (d / PARTITION_FILE).is_file())


def read_partitions(home: str | Path, schema: str, table: str, years: Iterable[int | str] | None = None,
                    column: str = BIRTH_YEAR_COLUMN, columns: Sequence[str] | None = None) -> pl.DataFrame:
    """Several partitions (default: every one on disk) as one frame; columns a partition lacks are null."""
    wanted = stored_partitions(home, schema, table, column) if years is None else [int(y) for y in years]
    frames = [read_partition(home, schema, table, y, column, columns) for y in wanted]
    if not frames:
        return pl.DataFrame()
    return pl.concat(frames, how="diagonal_relaxed")


def partitioned_tables(home: str | Path, column: str = BIRTH_YEAR_COLUMN) -> list[tuple[str, str]]:
    """(schema, table) of every table with at least one partition on disk under `home`."""
    home = Path(home)
    folders = {v: k for k, v in STORED_AT.items()}
    found: set[tuple[str, str]] = set()
    for path in home.glob(f"*/*/{column}=*/{PARTITION_FILE}"):
        table_folder = path.parent.parent
        schema = folders.get(table_folder.parent.name, table_folder.parent.name)
        if table_folder.parent.name in STORED_AT:  # e.g. <home>/research/: not where that schema is stored
            continue
        if _NAME.match(schema) and _NAME.match(table_folder.name) and path.parent.name[len(column) + 1:].isdigit():
            found.add((schema, table_folder.name))
    return sorted(found)


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def view_sql(home: str | Path, schema: str, table: str, column: str = BIRTH_YEAR_COLUMN) -> str:
    pattern = str(table_dir(Path(home).resolve(), schema, table) / f"{column}=*" / "*.parquet")
    return (f'create or replace view "{schema}"."{table}" as select * from read_parquet({_sql_string(pattern)}, '
            f"hive_partitioning = true, hive_types = {{'{column}': BIGINT}}, union_by_name = true)")


VIEW_MARKER = "hive_partitioning"  # in the view's stored SQL, which DuckDB normalises


def _partition_views(con, home: str | Path) -> set[tuple[str, str]]:
    root = "'" + str(Path(home).resolve()).replace("'", "''") + "/"  # as quoted in the stored SQL
    return {(s, t) for s, t, sql in con.execute(
        "select schema_name, view_name, sql from duckdb_views() where not internal").fetchall()
        if VIEW_MARKER in (sql or "") and root in (sql or "")}


def ensure_partition_views(con, home: str | Path, column: str = BIRTH_YEAR_COLUMN) -> list[str]:
    """Create the views that are missing (a table whose first partition was written since the last
    refresh, e.g. by a backfill of birth years alone). Cheap: existing views are left as they are."""
    missing = [t for t in partitioned_tables(home, column) if t not in _partition_views(con, home)]
    if missing:
        _create_views(con, home, missing, column)
    return [f"{s}.{t}" for s, t in missing]


def _create_views(con, home: str | Path, tables: Sequence[tuple[str, str]], column: str) -> None:
    existing = {(s, t): kind for s, t, kind in con.execute(
        "select table_schema, table_name, table_type from information_schema.tables").fetchall()}
    for schema, table in tables:
        con.execute(f'create schema if not exists "{schema}"')
        if existing.get((schema, table)) == "BASE TABLE":
            con.execute(f'drop table "{schema}"."{table}"')
        con.execute(view_sql(home, schema, table, column))


def refresh_partition_views(con, home: str | Path, column: str = BIRTH_YEAR_COLUMN) -> list[str]:
    """(Re)create a view in the warehouse over every partitioned table with a partition on disk, and
    drop this home's partition views whose table has none left. Needs a read-write connection.

    A table of the same name (the layout before per-partition storage) is dropped: its rows are
    replaced by the partitions on disk. Returns the views, as `schema.table`."""
    tables = partitioned_tables(home, column)
    for schema, table in sorted(_partition_views(con, home) - set(tables)):
        con.execute(f'drop view if exists "{schema}"."{table}"')
    _create_views(con, home, tables, column)
    return [f"{s}.{t}" for s, t in tables]

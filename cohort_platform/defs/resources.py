"""Resources shared by every asset: the platform's settings and the DuckDB warehouse.

Both are configured from the environment when the code location loads (see `cohort_platform.config`),
so `dagster dev`, the headless `cohort-platform build` and the tests see the same definitions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
from dagster._core.storage.db_io_manager import DbTypeHandler, TableSlice
from dagster_duckdb import DuckDBIOManager
from dagster_duckdb_polars import DuckDBPolarsTypeHandler

from cohort_platform.config import Settings


class CohortSettings(dg.ConfigurableResource):
    """Where raw extracts are read from, where the platform writes, and the data cut-off."""

    home: str
    raw_dir: str
    cutoff: str

    @classmethod
    def from_settings(cls, settings: Settings) -> "CohortSettings":
        return cls(home=str(settings.home), raw_dir=str(settings.raw_dir), cutoff=settings.cutoff.isoformat())

    @property
    def settings(self) -> Settings:
        return Settings(home=Path(self.home), raw_dir=Path(self.raw_dir), cutoff=dt.date.fromisoformat(self.cutoff))


# The same settings dagster-duckdb opens the file with: DuckDB shares one database instance per file
# within a process and refuses a second connection with another configuration.
DUCKDB_CONFIG = {"custom_user_agent": "dagster"}


def open_warehouse(database: str | Path) -> duckdb.DuckDBPyConnection:
    """A read-write connection to the warehouse, retried while another process holds the lock."""
    from dagster._utils.backoff import backoff

    Path(database).parent.mkdir(parents=True, exist_ok=True)
    return backoff(fn=duckdb.connect, retry_on=(RuntimeError, duckdb.IOException),
                   kwargs={"database": str(database), "read_only": False, "config": DUCKDB_CONFIG}, max_retries=10)


class Warehouse(dg.ConfigurableResource):
    """Direct SQL access to the warehouse, for checks and set-based steps that should not load tables
    into memory. DuckDB shares one database instance per file within a process, so this and the I/O
    manager can be used side by side in one run."""

    database: str

    @contextmanager
    def connect(self):
        con = open_warehouse(self.database)
        try:
            yield con
        finally:
            con.close()


class _PolarsTypeHandler(DuckDBPolarsTypeHandler):
    """dagster-duckdb-polars skips writing an empty frame, which leaves no table behind (the old one
    was already deleted) and breaks every reader downstream. An absent delivery is an empty dataset,
    so an empty frame must become an empty table with its columns."""

    def handle_output(self, context: dg.OutputContext, table_slice: TableSlice, obj: pl.DataFrame, connection):
        if not obj.is_empty():
            return super().handle_output(context, table_slice, obj, connection)
        obj_arrow = obj.to_arrow()  # noqa: F841  (read by name in the SQL below)
        connection.execute(f"create schema if not exists {table_slice.schema}")
        connection.execute(
            f"create table if not exists {table_slice.schema}.{table_slice.table} as select * from obj_arrow"
        )
        context.add_output_metadata({"row_count": 0})


class WarehouseIOManager(DuckDBIOManager):
    """Stores polars frames as DuckDB tables: asset key prefix = schema, last part = table."""

    @staticmethod
    def type_handlers() -> Sequence[DbTypeHandler]:
        return [_PolarsTypeHandler()]

    @staticmethod
    def default_load_type() -> type | None:
        return pl.DataFrame


def resources_for(settings: Settings) -> dict[str, object]:
    database = str(settings.warehouse_path)
    return {
        "settings": CohortSettings.from_settings(settings),
        "warehouse": Warehouse(database=database),
        "io_manager": WarehouseIOManager(database=database),
    }

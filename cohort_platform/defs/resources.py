"""Resources shared by every asset: the platform's settings, the DuckDB warehouse and the I/O manager.

Unpartitioned assets are tables in the warehouse; birth-year partitions are Parquet files of their
own (`cohort_platform.orchestration.storage`), so runs of different birth years can run at once.

All are configured from the environment when the code location loads (see `cohort_platform.config`),
so `dagster dev`, the headless `cohort-platform build` and the tests see the same definitions.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
from dagster._core.definitions.metadata.metadata_set import TableMetadataSet
from dagster._core.storage.db_io_manager import DbIOManager, DbTypeHandler, TableSlice
from dagster_duckdb import DuckDBIOManager
from dagster_duckdb.io_manager import DuckDbClient
from dagster_duckdb_polars import DuckDBPolarsTypeHandler
from pydantic import PrivateAttr

from cohort_platform.config import Settings
from cohort_platform.orchestration import storage
from cohort_platform.orchestration.partitions import BIRTH_YEAR_COLUMN


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
# within a process and refuses a second connection with another configuration (read-only included:
# a process has the warehouse open either read-write or read-only, never both at once).
DUCKDB_CONFIG = {"custom_user_agent": "dagster"}


class WarehouseReadOnly(RuntimeError):
    """A birth-year run tried to write the warehouse, which it may only read."""


def open_warehouse(database: str | Path, read_only: bool = False, views: bool = True) -> duckdb.DuckDBPyConnection:
    """A connection to the warehouse, retried (about 100 s) while another process holds a conflicting
    lock. Read-write: one process at a time, and no reader meanwhile. Read-only: any number of
    processes at once (birth-year runs), as long as none writes.

    A read-write connection first creates the views over partitions that have none yet (a table
    whose first birth year was built since the last refresh), unless `views` is False. The
    partitions are looked for beside the warehouse file (`<home>/warehouse.duckdb`)."""
    from dagster._utils.backoff import backoff

    if read_only:
        if not Path(database).is_file():
            raise FileNotFoundError(f"warehouse {database} does not exist: build the shared assets first")
    else:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    con = backoff(fn=duckdb.connect, retry_on=(RuntimeError, duckdb.IOException),
                  kwargs={"database": str(database), "read_only": read_only, "config": DUCKDB_CONFIG}, max_retries=10)
    if views and not read_only:
        try:
            storage.ensure_partition_views(con, Path(database).parent)
        except duckdb.Error as error:  # an unreadable partition file must not lock anyone out of the warehouse
            logging.getLogger(__name__).warning("partition views not created: %s", error)
    return con


def run_is_read_only(context: dg.InitResourceContext | None) -> bool:
    """A run of birth-year partitions only reads the warehouse: it stores its own tables as Parquet."""
    run = getattr(context, "dagster_run", None) if context is not None else None
    return run is not None and storage.is_partition_run(run.tags)


def _home_of(database: str, home: str) -> Path:
    return Path(home) if home else Path(database).parent


class Warehouse(dg.ConfigurableResource):
    """Direct SQL access to the warehouse, for checks and set-based steps that should not load tables
    into memory, and to the Parquet partitions of partitioned tables. DuckDB shares one database
    instance per file within a process, so this and the I/O manager can be used side by side in one run.

    In a birth-year run `connect()` is read-only (other birth years read the file at the same time);
    in any other run it is read-write, and the views over the partitions are refreshed when the run
    starts (`storage.refresh_partition_views`)."""

    database: str
    home: str = ""  # where partitioned tables are stored; default: the warehouse's folder
    _read_only: bool = PrivateAttr(default=False)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._read_only = run_is_read_only(context)
        if not self._read_only and Path(self.database).is_file():
            try:
                self.refresh_views()
            except duckdb.Error as error:  # e.g. an unreadable partition file: the run's own work goes on
                logging.getLogger(__name__).warning("partition views not refreshed: %s", error)

    @property
    def read_only(self) -> bool:
        return self._read_only

    @property
    def storage_home(self) -> Path:
        return _home_of(self.database, self.home)

    @contextmanager
    def connect(self):
        con = open_warehouse(self.database, read_only=self._read_only, views=False)  # refreshed at run start
        try:
            yield con
        finally:
            con.close()

    def refresh_views(self) -> list[str]:
        """(Re)create the warehouse's views over the partitions on disk: needs the write lock."""
        con = open_warehouse(self.database, views=False)
        try:
            return storage.refresh_partition_views(con, self.storage_home)
        finally:
            con.close()

    def read_partition(self, schema: str, table: str, year: int | str) -> pl.DataFrame:
        return storage.read_partition(self.storage_home, schema, table, year)

    def read_partitions(self, schema: str, table: str, years=None) -> pl.DataFrame:
        return storage.read_partitions(self.storage_home, schema, table, years)


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


class _WarehouseClient(DuckDbClient):
    """dagster-duckdb's client, opening the warehouse read-only in birth-year runs, and always closing."""

    def __init__(self, database: str, read_only: bool):
        self._database = database
        self._read_only = read_only

    @contextmanager
    def connect(self, context, table_slice):  # noqa: ARG002 (the signature dagster calls)
        con = open_warehouse(self._database, read_only=self._read_only, views=False)
        try:
            yield con
        finally:
            con.close()


class PartitionedIOManager(dg.IOManager):
    """Partitioned assets to and from Parquet, one file per partition (`orchestration.storage`);
    everything else to and from warehouse tables through dagster-duckdb. In a birth-year run the
    warehouse is opened read-only and writing an unpartitioned asset is refused."""

    def __init__(self, tables: DbIOManager, home: Path, read_only: bool):
        self._tables = tables
        self._home = home
        self._read_only = read_only

    @staticmethod
    def _schema_table(key: dg.AssetKey) -> tuple[str, str]:
        if len(key.path) != 2:
            raise ValueError(f"partitioned asset {key.to_user_string()} must have a key schema/table")
        return key.path[0], key.path[1]

    @staticmethod
    def _column(metadata) -> str:
        return str((metadata or {}).get("partition_expr") or BIRTH_YEAR_COLUMN)

    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame) -> None:
        if context.has_asset_key and context.has_asset_partitions:
            self._write_partitions(context, obj)
        elif self._read_only:
            name = context.asset_key.to_user_string() if context.has_asset_key else context.name
            raise WarehouseReadOnly(f"{name} is not partitioned: a birth-year run may not write the warehouse "
                                    "(materialise it in a run without a partition)")
        else:
            self._tables.handle_output(context, obj)

    def _write_partitions(self, context: dg.OutputContext, obj: pl.DataFrame) -> None:
        if not isinstance(obj, pl.DataFrame):
            raise TypeError(f"{context.asset_key.to_user_string()}: expected a polars DataFrame, got {type(obj).__name__}")
        schema, table = self._schema_table(context.asset_key)
        column = self._column(context.definition_metadata)
        keys = list(context.asset_partition_keys)
        paths = []
        for key in keys:
            part = obj
            if len(keys) > 1:
                if column not in obj.columns:
                    raise ValueError(f"{schema}.{table}: several partitions in one output need a {column} column")
                part = obj.filter(pl.col(column) == int(key))
            paths.append(storage.write_partition(self._home, schema, table, key, part, column))
        context.add_output_metadata({
            "row_count": obj.height,
            "dataframe_columns": dg.MetadataValue.table_schema(dg.TableSchema(
                columns=[dg.TableColumn(name=n, type=str(t)) for n, t in obj.schema.items()])),
            "path": str(paths[0]) if len(paths) == 1 else dg.MetadataValue.json([str(p) for p in paths]),
            **dict(TableMetadataSet(table_name=f"{schema}.{table}", partition_row_count=obj.height)),
        })

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        if context.has_asset_key and context.has_asset_partitions:
            schema, table = self._schema_table(context.asset_key)
            upstream = context.upstream_output
            column = self._column(upstream.definition_metadata if upstream is not None else None)
            keys = list(context.asset_partition_keys)
            if len(keys) > 1:  # e.g. every birth year for an unpartitioned reader: those that exist
                present = {str(y) for y in storage.stored_partitions(self._home, schema, table, column)}
                keys = [k for k in keys if k in present]
            if not keys:
                return pl.DataFrame()
            return storage.read_partitions(self._home, schema, table, keys, column)
        return self._tables.load_input(context)


class WarehouseIOManager(DuckDBIOManager):
    """Stores polars frames: unpartitioned assets as DuckDB tables (asset key prefix = schema, last
    part = table), partitioned assets as Parquet partitions under `home` (see `orchestration.storage`)."""

    home: str = ""  # where partitioned tables are stored; default: the warehouse's folder

    @staticmethod
    def type_handlers() -> Sequence[DbTypeHandler]:
        return [_PolarsTypeHandler()]

    @staticmethod
    def default_load_type() -> type | None:
        return pl.DataFrame

    def create_io_manager(self, context) -> PartitionedIOManager:
        read_only = run_is_read_only(context)
        tables = DbIOManager(db_client=_WarehouseClient(self.database, read_only), database=self.database,
                             schema=self.schema_, type_handlers=self.type_handlers(),
                             default_load_type=self.default_load_type(), io_manager_name="DuckDBIOManager")
        return PartitionedIOManager(tables, _home_of(self.database, self.home), read_only)


def resources_for(settings: Settings) -> dict[str, object]:
    database = str(settings.warehouse_path)
    home = str(settings.home)
    return {
        "settings": CohortSettings.from_settings(settings),
        "warehouse": Warehouse(database=database, home=home),
        "io_manager": WarehouseIOManager(database=database, home=home),
    }

"""Per-partition storage: one Parquet file per birth year, replaced atomically, read back by
partition, seen in the warehouse through views; birth-year runs only read the warehouse."""

import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from cohort_platform.defs.resources import (
    DUCKDB_CONFIG,
    Warehouse,
    WarehouseIOManager,
    WarehouseReadOnly,
    open_warehouse,
)
from cohort_platform.orchestration import storage
from cohort_platform.orchestration.partitions import BIRTH_YEAR

LINKS = pl.DataFrame({"record_id": ["a", "b"], "person_id": ["p1", None]})


def _warehouse(home: Path) -> Path:
    database = home / "warehouse.duckdb"
    con = open_warehouse(database)
    con.execute("create schema if not exists clean")
    con.execute("create or replace table clean.births as select * from (values ('a', 2008), ('b', 2009)) t(record_id, year)")
    con.close()
    return database


# --- the files -------------------------------------------------------------------------------------

def test_a_partition_is_one_file_in_a_hive_folder_and_reads_back_with_its_birth_year(tmp_path):
    path = storage.write_partition(tmp_path, "secure", "link_map", 2008, LINKS)
    assert path == tmp_path / "secure" / "link_map" / "birth_year=2008" / "part-0.parquet"
    assert "birth_year" not in pl.read_parquet(path).columns  # the folder carries it
    back = storage.read_partition(tmp_path, "secure", "link_map", "2008")
    assert back.columns == ["record_id", "person_id", "birth_year"]
    assert back["birth_year"].dtype == pl.Int64 and back["birth_year"].to_list() == [2008, 2008]


def test_research_tables_are_stored_in_the_research_ready_folder(tmp_path):
    path = storage.write_partition(tmp_path, "research", "children", 2010, pl.DataFrame({"research_id": ["r"]}))
    assert path == tmp_path / "research_ready" / "children" / "birth_year=2010" / "part-0.parquet"


def test_rewriting_a_partition_replaces_it_and_leaves_the_others(tmp_path):
    storage.write_partition(tmp_path, "secure", "link_map", 2008, LINKS)
    storage.write_partition(tmp_path, "secure", "link_map", 2009, LINKS)
    storage.write_partition(tmp_path, "secure", "link_map", 2008, LINKS.head(1))
    assert storage.read_partition(tmp_path, "secure", "link_map", 2008).height == 1
    assert storage.read_partition(tmp_path, "secure", "link_map", 2009).height == 2
    assert storage.stored_partitions(tmp_path, "secure", "link_map") == [2008, 2009]


def test_a_write_that_fails_midway_leaves_the_old_partition_whole_and_no_temporary_file(tmp_path, monkeypatch):
    storage.write_partition(tmp_path, "secure", "link_map", 2008, LINKS)

    def half_then_fail(self, file, *args, **kwargs):
        Path(file).write_bytes(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        storage.write_partition(tmp_path, "secure", "link_map", 2008, LINKS.head(1))
    monkeypatch.undo()
    folder = tmp_path / "secure" / "link_map" / "birth_year=2008"
    assert sorted(p.name for p in folder.iterdir()) == ["part-0.parquet"]
    assert storage.read_partition(tmp_path, "secure", "link_map", 2008).height == 2


def test_a_temporary_file_left_by_a_killed_writer_is_never_read_and_is_removed_once_stale(tmp_path):
    storage.write_partition(tmp_path, "secure", "link_map", 2008, LINKS)
    folder = tmp_path / "secure" / "link_map" / "birth_year=2008"
    left = folder / ".part-0.parquet.0123abcd.tmp"
    left.write_bytes(b"PAR1 half a file")
    assert storage.read_partitions(tmp_path, "secure", "link_map").height == 2
    old = time.time() - storage.STALE_TEMP_SECONDS - 60
    os.utime(left, (old, old))
    storage.write_partition(tmp_path, "secure", "link_map", 2008, LINKS)
    assert not left.exists()


def test_a_frame_whose_birth_year_is_not_the_partitions_is_refused(tmp_path):
    with pytest.raises(ValueError, match="other than the partition's 2008"):
        storage.write_partition(tmp_path, "secure", "link_map", 2008, LINKS.with_columns(birth_year=pl.lit(2009)))


def test_an_absent_partition_is_reported_as_not_materialised(tmp_path):
    with pytest.raises(storage.PartitionNotFound, match="birth_year=2008 of secure.link_map"):
        storage.read_partition(tmp_path, "secure", "link_map", 2008)


def test_partitions_with_different_columns_read_together_with_nulls(tmp_path):
    storage.write_partition(tmp_path, "research", "children", 2008, pl.DataFrame({"research_id": ["r1"]}))
    storage.write_partition(tmp_path, "research", "children", 2009, pl.DataFrame({"research_id": ["r2"], "sex": ["F"]}))
    both = storage.read_partitions(tmp_path, "research", "children")
    assert both.sort("research_id").select("sex", "birth_year").rows() == [(None, 2008), ("F", 2009)]


def test_the_secure_schemas_folder_is_created_owner_only(tmp_path):
    storage.write_partition(tmp_path, "secure", "link_map", 2008, LINKS)
    assert (tmp_path / "secure").stat().st_mode & 0o077 == 0


# --- views in the warehouse -------------------------------------------------------------------------

def test_views_show_every_partition_including_ones_written_after_the_refresh(tmp_path):
    con = open_warehouse(_warehouse(tmp_path))
    try:
        storage.write_partition(tmp_path, "secure", "link_map", 2008, LINKS)
        assert storage.refresh_partition_views(con, tmp_path) == ["secure.link_map"]
        storage.write_partition(tmp_path, "secure", "link_map", 2009, LINKS.head(1))
        rows = con.execute("select birth_year, count(*) from secure.link_map group by 1 order by 1").fetchall()
    finally:
        con.close()
    assert rows == [(2008, 2), (2009, 1)]


def test_a_table_with_no_partition_yet_gets_no_view_and_the_refresh_does_not_fail(tmp_path):
    con = open_warehouse(_warehouse(tmp_path))
    try:
        assert storage.refresh_partition_views(con, tmp_path) == []
        views = con.execute("select view_name from duckdb_views() where not internal").fetchall()
    finally:
        con.close()
    assert views == []


def test_a_view_created_before_its_partitions_exist_would_fail_so_none_is(tmp_path):
    # a view over a pattern that matches no file cannot even be created: why refresh skips such tables
    con = open_warehouse(_warehouse(tmp_path))
    try:
        with pytest.raises(duckdb.IOException, match="No files found"):
            con.execute(storage.view_sql(tmp_path, "secure", "link_map").replace('"secure".', ""))
    finally:
        con.close()


def test_a_table_of_the_layout_before_partition_files_is_replaced_by_the_view(tmp_path):
    con = open_warehouse(_warehouse(tmp_path))
    try:
        con.execute("create schema secure")
        con.execute("create table secure.link_map as select 'old' record_id, 2008 birth_year")
        storage.write_partition(tmp_path, "secure", "link_map", 2008, LINKS)
        storage.refresh_partition_views(con, tmp_path)
        ids = sorted(r[0] for r in con.execute("select record_id from secure.link_map").fetchall())
    finally:
        con.close()
    assert ids == ["a", "b"]


def test_a_view_whose_partitions_are_all_gone_is_dropped(tmp_path):
    con = open_warehouse(_warehouse(tmp_path))
    try:
        path = storage.write_partition(tmp_path, "secure", "link_map", 2008, LINKS)
        storage.refresh_partition_views(con, tmp_path)
        path.unlink()
        storage.refresh_partition_views(con, tmp_path)
        views = con.execute("select view_name from duckdb_views() where not internal").fetchall()
    finally:
        con.close()
    assert views == []


def test_a_read_write_connection_creates_the_views_of_tables_first_built_since_the_last_refresh(tmp_path):
    database = _warehouse(tmp_path)
    storage.write_partition(tmp_path, "research", "children", 2008, pl.DataFrame({"research_id": ["r1"]}))
    con = open_warehouse(database)
    try:
        assert con.execute("select research_id, birth_year from research.children").fetchall() == [("r1", 2008)]
    finally:
        con.close()


def test_a_partition_run_is_recognised_by_its_tags():
    assert storage.is_partition_run({"dagster/partition": "2008"})
    assert storage.is_partition_run({"dagster/asset_partition_range_start": "2008"})
    assert not storage.is_partition_run({"cohort/stage": "shared"})
    assert not storage.is_partition_run(None)


# --- through Dagster: the I/O manager and the Warehouse resource -----------------------------------

@dg.asset(key=["clean", "births"])
def births_table() -> pl.DataFrame:
    return pl.DataFrame({"record_id": ["a", "b"], "year": [2008, 2009]})


@dg.asset(key=["secure", "link_map"], ins={"births": dg.AssetIn(key=["clean", "births"])}, partitions_def=BIRTH_YEAR,
          metadata={"partition_expr": "birth_year"})
def link_map(context: dg.AssetExecutionContext, births: pl.DataFrame) -> pl.DataFrame:
    year = int(context.partition_key)
    return births.filter(pl.col("year") == year).with_columns(pl.lit(year, pl.Int64).alias("birth_year"))


@dg.asset(key=["research", "children"], ins={"links": dg.AssetIn(key=["secure", "link_map"])}, partitions_def=BIRTH_YEAR,
          metadata={"partition_expr": "birth_year"})
def children(links: pl.DataFrame) -> pl.DataFrame:
    return links.select(pl.col("record_id").alias("research_id"), "birth_year")


@dg.asset(key=["outputs", "count"], deps=[children])
def count_children(warehouse: Warehouse) -> pl.DataFrame:
    with warehouse.connect() as con:
        return con.execute("select count(*) n from research.children").pl()


@dg.asset(key=["outputs", "all_children"], ins={"kids": dg.AssetIn(key=["research", "children"])})
def all_children(kids: pl.DataFrame) -> pl.DataFrame:
    return kids


def _resources(home: Path) -> dict:
    database = str(home / "warehouse.duckdb")
    return {"io_manager": WarehouseIOManager(database=database, home=str(home)),
            "warehouse": Warehouse(database=database, home=str(home))}


def _materialize(assets, home: Path, partition: str | None = None, selection=None) -> dg.ExecuteInProcessResult:
    return dg.materialize(assets, resources=_resources(home), partition_key=partition, selection=selection,
                          instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)


ALL = [births_table, link_map, children, count_children]


def test_a_partitioned_asset_is_stored_as_its_partition_file_and_read_by_the_next_asset(tmp_path):
    assert _materialize(ALL, tmp_path, selection=[births_table]).success
    assert _materialize(ALL, tmp_path, "2008", selection=[link_map, children]).success
    assert storage.read_partition(tmp_path, "research", "children", 2008).rows() == [("a", 2008)]
    assert not (tmp_path / "secure" / "link_map" / "birth_year=2009").exists()


def test_an_unpartitioned_asset_reading_a_partitioned_one_gets_every_birth_year_built_so_far(tmp_path):
    assets = [*ALL, all_children]
    assert _materialize(assets, tmp_path, selection=[births_table]).success
    for year in ("2008", "2009"):
        assert _materialize(assets, tmp_path, year, selection=[link_map, children]).success
    assert _materialize(assets, tmp_path, selection=[all_children]).success
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        assert sorted(con.execute("select research_id, birth_year from outputs.all_children").fetchall()) == [("a", 2008), ("b", 2009)]


def test_a_birth_year_run_succeeds_while_another_process_holds_the_warehouse_open_read_only(tmp_path):
    assert _materialize(ALL, tmp_path, selection=[births_table]).success
    database = tmp_path / "warehouse.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import duckdb, sys, time\n"
        f"con = duckdb.connect({str(database)!r}, read_only=True, config={DUCKDB_CONFIG!r})\n"
        "print('open', flush=True)\n"
        "time.sleep(120)\n")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        started = time.monotonic()
        result = _materialize(ALL, tmp_path, "2009", selection=[link_map, children])
        elapsed = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert result.success
    assert elapsed < 30, f"the run waited {elapsed:.0f} s: it asked for the write lock"
    assert storage.read_partition(tmp_path, "secure", "link_map", 2009)["record_id"].to_list() == ["b"]


def test_a_birth_year_run_that_would_write_the_warehouse_is_refused(tmp_path):
    assert _materialize(ALL, tmp_path, selection=[births_table]).success

    @dg.asset(key=["secure", "link_map"], partitions_def=BIRTH_YEAR, deps=[births_table])
    def writes_a_side_table(warehouse: Warehouse) -> pl.DataFrame:
        with warehouse.connect() as con:
            con.execute("create table clean.side as select 1 x")
        return pl.DataFrame({"x": [1]})

    result = _materialize([births_table, writes_a_side_table], tmp_path, "2008", selection=[writes_a_side_table])
    assert not result.success
    error = result.get_step_failure_events()[0].step_failure_data.error
    assert "read-only" in error.cause.message


def test_an_unpartitioned_output_in_a_partition_run_is_refused_by_the_io_manager(tmp_path):
    from cohort_platform.defs.resources import PartitionedIOManager

    manager = PartitionedIOManager(tables=None, home=tmp_path, read_only=True)
    context = dg.build_output_context(asset_key=dg.AssetKey(["clean", "births"]))
    with pytest.raises(WarehouseReadOnly, match="clean/births is not partitioned"):
        manager.handle_output(context, pl.DataFrame({"x": [1]}))


def test_a_run_that_writes_the_warehouse_refreshes_the_views_before_its_assets_read_them(tmp_path):
    assert _materialize(ALL, tmp_path, selection=[births_table]).success
    for year in ("2008", "2009"):
        assert _materialize(ALL, tmp_path, year, selection=[link_map, children]).success
    result = _materialize(ALL, tmp_path, selection=[count_children])
    assert result.success
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select * from outputs.count").fetchall() == [(2,)]
        assert con.execute("select count(*) from secure.link_map").fetchone() == (2,)

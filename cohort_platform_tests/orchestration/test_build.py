"""The headless build through Dagster, on the hand-written independent delivery."""

import datetime as dt
import shutil
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from cohort_platform.config import Settings
from cohort_platform.orchestration.build import run_build

RAW = Path(__file__).parents[1] / "fixtures" / "independent_raw"


def _settings(tmp_path: Path, raw: Path) -> Settings:
    return Settings(home=tmp_path / "home", raw_dir=raw, cutoff=dt.date(2025, 3, 31))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Built as `./dev demo` builds: a persistent instance, so each run goes through `execute_job`."""
    tmp = tmp_path_factory.mktemp("build")
    settings = _settings(tmp, RAW)
    (tmp / "dagster_home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp / "dagster_home")) as instance:
        summary = run_build(settings, instance=instance)
        runs = instance.get_runs()
    return settings, summary, runs


def test_each_run_is_recorded_in_the_instance(built):
    _, summary, runs = built
    assert {r.run_id for r in runs} == set(summary.runs)
    assert all(r.is_success for r in runs)
    years = {r.tags.get("dagster/partition") for r in runs} - {None}
    assert years == {"2010"} and len(runs) == 3  # shared, the birth year, outputs


def test_the_build_succeeds_and_reports_rows_and_quarantine(built):
    settings, summary, _ = built
    assert summary.ok, summary.render()
    assert summary.rows["clean/births"] == 4
    assert summary.quarantined["clean/births"] == 8
    assert "BUILD OK" in summary.render()


def test_the_delivered_birth_year_is_linked_and_filtered(built):
    _, summary, _ = built
    assert summary.rows["secure/link_map[2010]"] > 0
    assert "secure/cohort_link_map[2010]" in summary.rows
    assert "secure/link_map[2010]:link_map_complete" in summary.checks_passed
    assert "secure/cohort_link_map[2010]:no_opted_out_person" in summary.checks_passed


def test_every_blocking_check_ran_and_passed(built):
    _, summary, _ = built
    passed = set(summary.checks_passed)
    assert "clean/births:rows_reconcile" in passed
    assert "clean/births:record_id_unique" in passed
    assert "clean/postcodes:postcode_unique" in passed


def test_warnings_are_reported_but_do_not_fail_the_build(built):
    _, summary, _ = built
    failed = dict(summary.checks_failed)
    # the fixture's births have 1 invalid NHS number in 4 rows: over the 5% tolerance, a warning
    assert failed.get("clean/births:contract_expectations") == "WARN"


def test_tables_land_in_the_warehouse_with_quarantine_beside_them(built):
    settings, _, _ = built
    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        assert con.execute("select count(*) from clean.births").fetchone()[0] == 4
        rules = {r[0] for r in con.execute("select rule from quarantine.births").fetchall()}
        assert {"date_format", "code_list", "required", "malformed_row", "type", "superseded"} <= rules
        assert con.execute("select count(*) from clean.deaths").fetchone()[0] == 0  # absent folder
    finally:
        con.close()


def test_a_whole_file_fault_fails_that_asset_only_and_names_the_file(tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(RAW, raw)
    hes = raw / "hes_apc" / "hes_apc_2010.csv"
    hes.write_bytes(hes.read_bytes().rstrip(b"\n")[:-5])  # cut mid-line: truncated
    summary = run_build(_settings(tmp_path, raw), instance=dg.DagsterInstance.ephemeral())
    assert not summary.ok
    assert len(summary.failed_steps) == 1
    assert "ingest_hes_apc" in summary.failed_steps[0] and "hes_apc/hes_apc_2010.csv" in summary.failed_steps[0]
    assert summary.rows["clean/births"] == 4  # the other datasets still build
    assert summary.skipped_partitions  # nothing is linked on an incomplete delivery

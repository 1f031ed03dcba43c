"""The blocking leak check of the research tables (defs/research/checks.py): what it forgives, and
the secure values it loads once per run."""

from __future__ import annotations

import duckdb
import polars as pl

from cohort_platform.defs.research.checks import is_declared_code_match, secure_sets_of_run
from cohort_platform.defs.resources import Warehouse


def test_the_leak_check_forgives_a_name_match_only_in_a_column_of_codes():
    frame = pl.DataFrame({"provider_code": ["RUB", "RX4"], "service_type": ["C01", "Ruby Smith"]})
    assert is_declared_code_match("mental_health_referrals", "provider_code", "secure:name", frame)
    assert not is_declared_code_match("mental_health_referrals", "service_type", "secure:name", frame)
    # an NHS number, UPN or record id is never a code coincidence
    assert not is_declared_code_match("mental_health_referrals", "provider_code", "secure:record_id", frame)
    assert not is_declared_code_match("mental_health_referrals", "not_a_column", "secure:name", frame)


def _identifier_values(database, values):
    con = duckdb.connect(str(database))
    try:
        con.execute("create schema if not exists secure")
        con.execute("create or replace table secure.identifier_values (set varchar, value varchar)")
        con.executemany("insert into secure.identifier_values values (?, ?)", values)
    finally:
        con.close()


def test_the_secure_values_are_loaded_once_per_run(tmp_path):
    database = tmp_path / "warehouse.duckdb"
    _identifier_values(database, [("name", "Ruby"), ("postcode", "SW1A 1AA")])
    warehouse = Warehouse(database=str(database))
    first = secure_sets_of_run(warehouse, "run-1")
    assert sorted(first.sets["name"].to_list()) == ["RUBY"]
    _identifier_values(database, [("name", "Amelia")])
    assert secure_sets_of_run(warehouse, "run-1") is first  # the same run: not reloaded
    second = secure_sets_of_run(warehouse, "run-2")  # a new run sees the table as it is now
    assert sorted(second.sets["name"].to_list()) == ["AMELIA"] and "postcode" not in second.sets

"""Hand-written extracts in the contract's shape but not in our generator's habits (column order,
BOM, CRLF, quoted commas, spaced NHS numbers, lower-case postcodes, an extra column, re-deliveries,
malformed rows) ingest unchanged, and every bad row lands in quarantine with its rule."""

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from cohort_platform.ingest.pipeline import ingest

RAW = Path(__file__).parents[1] / "fixtures" / "independent_raw"
CUTOFF = dt.date(2025, 3, 31)


@pytest.fixture(scope="module")
def births():
    return ingest(RAW, "births", CUTOFF)


def test_births_counts_reconcile(births):
    assert births.rows_read == 12
    assert births.rows_accepted == 4
    assert births.rows_quarantined == 8
    assert births.rows_read == births.rows_accepted + births.rows_quarantined


def test_each_malformed_birth_is_quarantined_with_its_rule(births):
    q = births.quarantine
    rules = {(r["source_file"], r["source_line"]): r["rule"] for r in q.iter_rows(named=True)}
    f1 = "births/births_2010.csv"
    assert rules[(f1, 6)] == "date_format"  # 2010-02-30
    assert rules[(f1, 7)] == "code_list"  # sex 7
    assert rules[(f1, 8)] == "required"  # empty record_id
    assert rules[(f1, 9)] == "malformed_row"  # too few fields
    assert rules[(f1, 11)] == "type"  # birthweight "heavy"
    assert q.filter((pl.col("source_file") == f1) & (pl.col("source_line") == 10))["rule"].to_list().count("after_cutoff") >= 1


def test_a_redelivered_record_is_resolved_to_the_later_file(births):
    b2 = births.accepted.filter(pl.col("record_id") == "B2")
    assert b2["birthweight_g"].to_list() == [2450]
    assert b2["source_file"].to_list() == ["births/births_2011.csv"]
    assert births.duplicates == 1 and births.conflicts == 1
    superseded = births.quarantine.filter(pl.col("rule") == "superseded")
    assert sorted(superseded["record_id"].to_list()) == ["B1", "B2"]


def test_identifiers_and_names_are_canonical(births):
    b1 = births.accepted.filter(pl.col("record_id") == "B1").row(0, named=True)
    assert b1["nhs_number"] == "2914177763" and b1["nhs_number_valid"] is True
    assert b1["postcode"] == "SW1A 1AA" and b1["forename"] == "ZOE" and b1["surname"] == "OBRIEN"
    assert b1["dob"] == dt.date(2010, 3, 4)
    twins = births.accepted.filter(pl.col("multiplicity") == 2)
    assert twins["surname"].to_list() == ["SMITH JR", "SMITH JR"]


def test_an_invalid_nhs_number_is_kept_and_flagged_not_quarantined(births):
    b4 = births.accepted.filter(pl.col("record_id") == "B4").row(0, named=True)
    assert b4["nhs_number_valid"] is False
    assert births.flagged.get("nhs_number") == 1


def test_hes_extra_column_is_ignored_and_reported():
    hes = ingest(RAW, "hes_apc", CUTOFF)
    assert hes.rows_read == 4 and hes.rows_accepted == 3 and hes.rows_quarantined == 1
    assert "spell_id" not in hes.accepted.columns
    assert any("spell_id" in cols for cols in hes.extra_columns.values())
    assert hes.accepted.filter(pl.col("record_id") == "E1")["homeadd"].to_list() == ["M1 1AE"]


def test_school_census_codes_and_upn_checks():
    npd = ingest(RAW, "npd_census", CUTOFF)
    assert npd.rows_accepted == 2 and npd.rule_counts.get("code_list") == 1
    assert npd.flagged.get("upn") == 1


def test_opt_out_snapshots_carry_their_dates():
    opt = ingest(RAW, "opt_outs", CUTOFF)
    assert opt.rows_read == 3
    assert sorted(set(opt.accepted["snapshot_date"].to_list())) == [dt.date(2024, 1, 1), dt.date(2024, 6, 1)]
    assert "8353374064" in opt.accepted["nhs_number"].to_list()


@pytest.mark.parametrize(("name", "rows"), [("postcodes", 3), ("lsoa_imd", 3), ("schools", 2)])
def test_reference_files_ingest(name, rows):
    ref = ingest(RAW, name, CUTOFF)
    assert ref.rows_accepted == rows and ref.rows_quarantined == 0


def test_an_absent_dataset_is_empty_not_an_error():
    deaths = ingest(RAW, "deaths", CUTOFF)
    assert deaths.rows_read == 0 and deaths.accepted.height == 0
    assert "dob" in deaths.accepted.columns

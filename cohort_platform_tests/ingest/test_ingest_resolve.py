"""Re-delivered records: the later file wins, identical copies are duplicates, differing ones conflicts."""

import datetime as dt

import polars as pl

from cohort_platform.ingest.pipeline import ingest
from cohort_platform_tests.ingest.deliveries import row, write_delivery

CUTOFF = dt.date(2025, 3, 31)


def births(tmp_path):
    return ingest(tmp_path, "births", CUTOFF)


def test_the_later_file_by_name_wins_and_a_differing_copy_is_a_conflict(tmp_path):
    write_delivery(tmp_path, "births", "births_2010b.csv", [row("births", birthweight_g="3300")])
    write_delivery(tmp_path, "births", "births_2010a.csv", [row("births", birthweight_g="3100")])
    result = births(tmp_path)
    kept = result.accepted.row(0, named=True)
    assert (kept["birthweight_g"], kept["source_file"]) == (3300, "births/births_2010b.csv")
    assert (result.duplicates, result.conflicts) == (0, 1)


def test_an_identical_copy_is_a_duplicate(tmp_path):
    write_delivery(tmp_path, "births", "births_2010.csv", [row("births")])
    write_delivery(tmp_path, "births", "births_2011.csv", [row("births")])
    result = births(tmp_path)
    assert result.rows_accepted == 1 and (result.duplicates, result.conflicts) == (1, 0)


def test_copies_equal_once_canonical_are_duplicates(tmp_path):
    write_delivery(tmp_path, "births", "births_2010.csv", [row("births", postcode="m11ae", nhs_number="943 476 5919")])
    write_delivery(tmp_path, "births", "births_2011.csv", [row("births")])
    result = births(tmp_path)
    assert (result.duplicates, result.conflicts) == (1, 0)


def test_within_one_file_the_later_line_wins(tmp_path):
    write_delivery(tmp_path, "births", "b.csv", [row("births", sex="1"), row("births", sex="2")])
    result = births(tmp_path)
    assert result.accepted["sex"].to_list() == ["2"] and result.accepted["source_line"].to_list() == [3]


def test_the_losing_copies_are_quarantined_naming_the_winner(tmp_path):
    write_delivery(tmp_path, "births", "births_2010.csv", [row("births", sex="1"), row("births", record_id="B2")])
    write_delivery(tmp_path, "births", "births_2011.csv", [row("births", sex="2")])
    write_delivery(tmp_path, "births", "births_2012.csv", [row("births", sex="2")])
    result = births(tmp_path)
    superseded = result.quarantine.filter(pl.col("rule") == "superseded")
    assert superseded["source_file"].to_list() == ["births/births_2010.csv", "births/births_2011.csv"]
    assert superseded["reason"].to_list() == [
        "births/births_2010.csv line 2: record_id 'B1' was delivered again; a differing copy in "
        "births/births_2012.csv line 2 wins (superseded)",
        "births/births_2011.csv line 2: record_id 'B1' was delivered again; an identical copy in "
        "births/births_2012.csv line 2 wins (superseded)",
    ]
    assert (result.duplicates, result.conflicts) == (1, 1)
    assert (result.rows_read, result.rows_accepted, result.rows_quarantined) == (4, 2, 2)


def test_a_rejected_later_copy_does_not_displace_an_accepted_earlier_one(tmp_path):
    write_delivery(tmp_path, "births", "births_2010.csv", [row("births")])
    write_delivery(tmp_path, "births", "births_2011.csv", [row("births", sex="7")])
    result = births(tmp_path)
    assert result.accepted["source_file"].to_list() == ["births/births_2010.csv"]
    assert result.rule_counts == {"code_list": 1} and (result.duplicates, result.conflicts) == (0, 0)


def test_reference_files_are_keyed_by_their_own_key(tmp_path):
    write_delivery(tmp_path, "lsoa_imd", "lsoa_imd.csv", [
        row("lsoa_imd", imd_decile="3"), row("lsoa_imd", lsoa11cd="E01000002"), row("lsoa_imd", imd_decile="4"),
    ])
    result = ingest(tmp_path, "lsoa_imd", CUTOFF)
    assert result.accepted.sort("lsoa11cd")["imd_decile"].to_list() == [4, 3]
    assert result.conflicts == 1
    q = result.quarantine.row(0, named=True)
    assert (q["field"], q["value"], q["record_id"], q["rule"]) == ("lsoa11cd", "E01000001", None, "superseded")


def test_opt_outs_have_no_key_so_every_snapshot_row_is_kept(tmp_path):
    write_delivery(tmp_path, "opt_outs", "ndop_2024-01-01.csv", [row("opt_outs")])
    write_delivery(tmp_path, "opt_outs", "ndop_2024-06-01.csv", [row("opt_outs")])
    result = ingest(tmp_path, "opt_outs", CUTOFF)
    assert result.rows_accepted == 2 and result.duplicates == 0 and result.quarantine.height == 0

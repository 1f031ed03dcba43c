"""End to end: every record read is accepted or quarantined, exactly once, whatever the mix."""

import datetime as dt
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cohort_platform.contract.datasets import DATASETS
from cohort_platform.ingest.pipeline import ingest
from cohort_platform.ingest.read import FileFault
from cohort_platform_tests.ingest.deliveries import csv_text, row, write_delivery, write_text

CUTOFF = dt.date(2025, 3, 31)
COLUMNS = DATASETS["births"].column_names
BAD_VALUES = [("sex", "7"), ("dob", "2010-02-30"), ("dob", "1850-01-01"), ("birthweight_g", "x"),
              ("registration_date", "2030-01-01"), ("record_id", None), ("mother_dob", "2009-01-01"),
              ("nhs_number", "123"), ("postcode", "nowhere"), ("surname", "Line\nbreak, \"quoted\"")]


def record_text(kind: str, record_id: str, bad: tuple[str, str | None]) -> str:
    """One record (maybe spanning lines), without its final line end."""
    if kind == "short":
        return f"{record_id},1,2"
    if kind == "long":
        return csv_text(COLUMNS, [row("births", record_id=record_id)]).splitlines()[1] + ",extra"
    if kind == "unterminated":
        return csv_text(COLUMNS, [row("births", record_id=record_id)]).splitlines()[1].replace("Amir", '"Amir', 1)
    changes = {"record_id": record_id} | (dict([bad]) if kind == "changed" else {})
    return csv_text(COLUMNS, [row("births", **changes)]).rstrip("\n").split("\n", 1)[1]


records = st.lists(
    st.tuples(
        st.sampled_from(["good", "good", "changed", "short", "long", "unterminated", "blank"]),
        st.sampled_from(["B1", "B2", "B3", "B4", "B5", "B6"]),
        st.sampled_from(BAD_VALUES),
    ),
    min_size=1, max_size=12,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(records, min_size=1, max_size=3), st.booleans())
def test_every_record_is_accepted_or_quarantined_exactly_once(files, crlf):
    with tempfile.TemporaryDirectory() as tmp:
        expected: set[tuple[str, int]] = set()
        for n, recs in enumerate(files):
            name = f"births/births_{2010 + n}.csv"
            lines, line_no = [",".join(COLUMNS)], 1
            for kind, record_id, bad in recs:
                text = "" if kind == "blank" else record_text(kind, record_id, bad)
                if kind != "blank":
                    expected.add((name, line_no + 1))
                lines.append(text)
                line_no += text.count("\n") + 1
            if not expected & {(name, i) for i in range(line_no + 1)}:
                lines.append(record_text("good", "B9", BAD_VALUES[0]))  # a header-only file is a fault
                expected.add((name, line_no + 1))
            write_text(Path(tmp), name, ("\r\n" if crlf else "\n").join(lines) + ("\r\n" if crlf else "\n"))
        result = ingest(Path(tmp), "births", CUTOFF)

    accepted = set(result.accepted.select("source_file", "source_line").iter_rows())
    quarantined = set(result.quarantine.select("source_file", "source_line").iter_rows())
    assert result.rows_read == len(expected)
    assert accepted | quarantined == expected and not accepted & quarantined
    assert result.rows_read == result.rows_accepted + result.rows_quarantined
    assert result.rows_accepted == len(accepted) and result.rows_quarantined == len(quarantined)
    assert result.accepted["record_id"].is_unique().all()


def test_the_result_reports_counts_files_flags_and_rules_per_distinct_row(tmp_path):
    write_delivery(tmp_path, "births", "births_2010.csv", [
        row("births"), row("births", record_id="B2", sex="7", dob="2010-02-30"),
        row("births", record_id="B3", nhs_number="9434765918"), row("births", record_id="B4", sex="8"),
    ], header=[*COLUMNS, "notes"])
    write_delivery(tmp_path, "births", "births_2011.csv", [row("births")])
    result = ingest(tmp_path, "births", CUTOFF)
    assert (result.rows_read, result.rows_accepted, result.rows_quarantined) == (5, 2, 3)
    assert result.files == ["births/births_2010.csv", "births/births_2011.csv"]
    assert result.extra_columns == {"births/births_2010.csv": ["notes"]}
    assert result.rule_counts == {"code_list": 2, "date_format": 1, "superseded": 1}
    assert result.flagged == {"nhs_number": 1, "mother_nhs_number": 0, "postcode": 0}
    assert result.quarantine.height == 4  # B2 breaks two rules: two quarantine rows, one rejected row
    assert result.reconciles


def test_a_file_fault_propagates_and_leaves_other_datasets_alone(tmp_path):
    write_text(tmp_path, "births/births_2010.csv", ",".join(COLUMNS) + "\nB1,1")
    write_delivery(tmp_path, "deaths", "deaths_2011.csv", [row("deaths")])
    with pytest.raises(FileFault, match="births/births_2010.csv: truncated last line"):
        ingest(tmp_path, "births", CUTOFF)
    assert ingest(tmp_path, "deaths", CUTOFF).rows_accepted == 1


def test_an_absent_dataset_ingests_as_empty_typed_tables(tmp_path):
    result = ingest(tmp_path, "npd_ks4", CUTOFF)
    assert (result.rows_read, result.rows_accepted, result.rows_quarantined) == (0, 0, 0)
    assert result.accepted.schema["att8"] == pl.Float64 and result.quarantine.height == 0
    assert result.rule_counts == {} and result.flagged == {"upn": 0}


def test_an_unknown_dataset_is_named(tmp_path):
    with pytest.raises(ValueError, match="unknown dataset 'brths'"):
        ingest(tmp_path, "brths", CUTOFF)

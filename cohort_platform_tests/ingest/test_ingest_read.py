"""Reading deliveries: whole-file faults, physical line numbers, quoting, malformed rows."""

import datetime as dt
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import csv
import io

from cohort_platform.contract.datasets import DATASETS, Column, Dataset
from cohort_platform.ingest.read import FileFault, read_dataset
from cohort_platform_tests.ingest.deliveries import VALID, csv_text, row, write_delivery, write_text

BIRTHS = DATASETS["births"]
LSOA = DATASETS["lsoa_imd"]
OPT_OUTS = DATASETS["opt_outs"]
HEADER = ",".join(BIRTHS.column_names)
# what polars' str.strip_chars() strips (Rust's char::is_whitespace): not Python's \x1c-\x1f
_RUST_WHITESPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"


def births_line(**changes) -> str:
    """One births data line, CSV-quoted where needed, without its line end."""
    return csv_text(BIRTHS.column_names, [row("births", **changes)]).splitlines()[1]


def fault_of(tmp_path, dataset=BIRTHS) -> FileFault:
    with pytest.raises(FileFault) as caught:
        read_dataset(tmp_path, dataset)
    return caught.value


class TestWholeFileFaults:
    def test_a_fault_names_the_file_relative_to_the_raw_root_and_the_fault(self, tmp_path):
        write_text(tmp_path, "births/births_2006.csv", "")
        fault = fault_of(tmp_path)
        assert fault.file == "births/births_2006.csv"
        assert str(fault) == f"births/births_2006.csv: {fault.fault}"

    def test_not_utf8_says_at_which_byte_and_line(self, tmp_path):
        good = f"{HEADER}\n{births_line()}\n".encode()
        write_text(tmp_path, "births/b.csv", good + b"B2,,Jos\xe9,Khan\n")
        fault = fault_of(tmp_path)
        assert fault.fault.startswith("not UTF-8")
        assert f"byte {len(good) + len('B2,,Jos')}" in fault.fault and "line 3" in fault.fault

    def test_an_empty_file(self, tmp_path):
        write_text(tmp_path, "births/b.csv", b"")
        assert fault_of(tmp_path).fault == "empty file"

    def test_a_header_without_rows(self, tmp_path):
        write_text(tmp_path, "births/b.csv", f"{HEADER}\n")
        assert fault_of(tmp_path).fault == "header only (no rows)"

    def test_a_missing_contract_column_is_named(self, tmp_path):
        header = [c for c in BIRTHS.column_names if c not in ("dob", "sex")]
        write_delivery(tmp_path, "births", "b.csv", [row("births")], header=header)
        assert fault_of(tmp_path).fault == "missing contract columns: dob, sex"

    def test_a_truncated_last_line(self, tmp_path):
        text = f"{HEADER}\n{births_line()}\n{births_line(record_id='B2')}"
        write_text(tmp_path, "births/births_2006.csv", text)
        assert str(fault_of(tmp_path)) == (
            f"births/births_2006.csv: truncated last line (no line end after byte {len(text.encode())})"
        )

    def test_an_opt_out_file_name_without_a_date(self, tmp_path):
        write_delivery(tmp_path, "opt_outs", "ndop_latest.csv", [row("opt_outs")])
        fault = fault_of(tmp_path, OPT_OUTS)
        assert fault.file == "opt_outs/ndop_latest.csv" and "snapshot date" in fault.fault

    def test_an_opt_out_file_name_with_an_impossible_date(self, tmp_path):
        write_delivery(tmp_path, "opt_outs", "ndop_2024-02-30.csv", [row("opt_outs")])
        assert "snapshot date" in fault_of(tmp_path, OPT_OUTS).fault

    def test_a_fault_in_one_file_fails_the_whole_dataset(self, tmp_path):
        write_delivery(tmp_path, "births", "births_2006.csv", [row("births")])
        write_text(tmp_path, "births/births_2007.csv", "")
        assert fault_of(tmp_path).file == "births/births_2007.csv"


class TestFilesAndColumns:
    def test_an_absent_folder_is_an_empty_dataset_with_the_contract_columns(self, tmp_path):
        raw = read_dataset(tmp_path, BIRTHS)
        assert raw.rows.height == 0 and raw.rows_read == 0 and raw.files == []
        assert raw.rows.columns == [*BIRTHS.column_names, "source_file", "source_line"]

    def test_files_are_read_in_file_name_order_and_only_those_matching_the_glob(self, tmp_path):
        write_delivery(tmp_path, "births", "births_2011.csv", [row("births", record_id="B11")])
        write_delivery(tmp_path, "births", "births_2010.csv", [row("births", record_id="B10")])
        write_text(tmp_path, "births/readme.txt", "not a delivery\n")
        raw = read_dataset(tmp_path, BIRTHS)
        assert raw.files == ["births/births_2010.csv", "births/births_2011.csv"]
        assert raw.rows["record_id"].to_list() == ["B10", "B11"]

    def test_columns_may_come_in_any_order(self, tmp_path):
        header = list(reversed(BIRTHS.column_names))
        write_delivery(tmp_path, "births", "b.csv", [row("births", surname="Ng", sex="2")], header=header)
        got = read_dataset(tmp_path, BIRTHS).rows.row(0, named=True)
        assert got["surname"] == "Ng" and got["sex"] == "2" and got["record_id"] == "B1"

    def test_extra_columns_are_ignored_and_reported_per_file(self, tmp_path):
        header = ["spell_id", *BIRTHS.column_names, "notes"]
        write_delivery(tmp_path, "births", "births_2010.csv", [row("births", spell_id="S1", notes="x")], header=header)
        write_delivery(tmp_path, "births", "births_2011.csv", [row("births", record_id="B2")])
        raw = read_dataset(tmp_path, BIRTHS)
        assert raw.extra_columns == {"births/births_2010.csv": ["spell_id", "notes"]}
        assert "spell_id" not in raw.rows.columns and raw.rows.height == 2

    def test_a_bom_and_crlf_line_ends_are_accepted(self, tmp_path):
        rows = [row("births", place_of_birth=None), row("births", record_id="B2")]
        write_delivery(tmp_path, "births", "b.csv", rows, newline="\r\n", bom=True)
        raw = read_dataset(tmp_path, BIRTHS)
        assert raw.rows["record_id"].to_list() == ["B1", "B2"]
        assert raw.rows["place_of_birth"].to_list() == [None, "hospital"]  # no stray "\r" anywhere
        assert raw.rows["registration_date"].to_list() == ["2010-03-20"] * 2

    def test_values_are_stripped_and_empty_is_missing(self, tmp_path):
        write_delivery(tmp_path, "births", "b.csv", [row("births", forename="  Amir ", surname="   ", postcode="")])
        got = read_dataset(tmp_path, BIRTHS).rows.row(0, named=True)
        assert got["forename"] == "Amir" and got["surname"] is None and got["postcode"] is None

    @settings(max_examples=60, deadline=None)
    @given(
        st.lists(st.sampled_from(" \t\x0b\x0c\r\u00a0\u2003\u3000\u0085"), max_size=3).map("".join),
        st.text(st.characters(codec="utf-8", exclude_characters=',"\n\r'), min_size=1, max_size=8)
        .map(lambda t: t.strip()).filter(bool),
        st.lists(st.sampled_from(" \t\x0b\x0c\r\u00a0\u2003\u3000\u0085"), max_size=3).map("".join),
        st.booleans(),
    )
    def test_surrounding_whitespace_is_stripped_and_inner_text_kept(self, left, core, right, crlf):
        """Stripping may be skipped for a file without padding: whatever the padding, the value is its core."""
        with tempfile.TemporaryDirectory() as tmp:
            line = births_line(forename="@", postcode="M1 1AE").replace("@", left + core + right)
            write_text(Path(tmp), "births/b.csv", f"{HEADER}\n{line}\n{births_line(record_id='B2')}\n".replace("\n", "\r\n" if crlf else "\n"))
            rows = read_dataset(Path(tmp), BIRTHS).rows
        assert rows["forename"].to_list() == [core.strip(_RUST_WHITESPACE), "Amir"]
        assert rows["postcode"].to_list() == ["M1 1AE", "M1 1AE"] and rows["registration_date"].to_list() == ["2010-03-20"] * 2

    def test_values_stay_strings_with_leading_zeros(self, tmp_path):
        write_delivery(tmp_path, "lsoa_imd", "lsoa_imd.csv", [row("lsoa_imd", imd_decile="03")])
        rows = read_dataset(tmp_path, LSOA).rows
        assert rows.schema["imd_decile"] == pl.String and rows["imd_decile"].to_list() == ["03"]

    def test_opt_out_rows_carry_the_snapshot_date_of_their_file(self, tmp_path):
        write_delivery(tmp_path, "opt_outs", "ndop_2024-06-01.csv", [row("opt_outs")])
        write_delivery(tmp_path, "opt_outs", "ndop_2024-01-01.csv", [row("opt_outs")])
        rows = read_dataset(tmp_path, OPT_OUTS).rows
        assert rows["snapshot_date"].to_list() == [dt.date(2024, 1, 1), dt.date(2024, 6, 1)]


class TestLineNumbersAndQuoting:
    def test_each_row_keeps_its_physical_line_and_file(self, tmp_path):
        rows = [row("births", record_id=f"B{i}") for i in range(3)]
        write_delivery(tmp_path, "births", "b.csv", rows)
        raw = read_dataset(tmp_path, BIRTHS).rows
        assert raw["source_line"].to_list() == [2, 3, 4]
        assert raw["source_file"].to_list() == ["births/b.csv"] * 3

    def test_blank_lines_are_skipped_not_counted_and_do_not_shift_line_numbers(self, tmp_path):
        text = f"{HEADER}\n{births_line()}\n\n\r\n{births_line(record_id='B2')}\n\n"
        write_text(tmp_path, "births/b.csv", text)
        raw = read_dataset(tmp_path, BIRTHS)
        assert raw.rows["source_line"].to_list() == [2, 5]
        assert raw.rows_read == 2 and raw.blank_lines == 3

    def test_quoted_fields_may_hold_commas_and_doubled_quotes(self, tmp_path):
        write_delivery(tmp_path, "births", "b.csv", [row("births", surname='Smith, "Jr"', forename="A,B")])
        got = read_dataset(tmp_path, BIRTHS).rows.row(0, named=True)
        assert got["surname"] == 'Smith, "Jr"' and got["forename"] == "A,B" and got["sex"] == "1"

    def test_a_quoted_line_break_joins_lines_and_later_rows_keep_their_line_numbers(self, tmp_path):
        rows = [row("births", record_id="B1"), row("births", record_id="B2", surname="Line\nBreak\nTwice"),
                row("births", record_id="B3"), row("births", record_id="B4", forename='"Al"')]
        write_delivery(tmp_path, "births", "b.csv", rows)
        raw = read_dataset(tmp_path, BIRTHS)
        assert raw.rows["record_id"].to_list() == ["B1", "B2", "B3", "B4"]
        assert raw.rows["source_line"].to_list() == [2, 3, 6, 7]
        assert raw.rows["surname"][1] == "Line\nBreak\nTwice" and raw.rows["forename"][3] == '"Al"'
        assert raw.rows_read == 4 and raw.malformed.height == 0

    def test_a_quote_inside_an_unquoted_field_is_an_ordinary_character(self, tmp_path):
        write_text(tmp_path, "births/b.csv", f"{HEADER}\n{births_line(surname='XX').replace('XX', 'O' + chr(34) + 'Brien')}\n")
        assert read_dataset(tmp_path, BIRTHS).rows["surname"].to_list() == ['O"Brien']


TINY = Dataset("tiny", "three text columns", (Column("a"), Column("b"), Column("c")), key="")


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.tuples(*[st.text(alphabet=' a,"\n\r\tx', max_size=5)] * 3), min_size=1, max_size=8),
    st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
    st.sampled_from(["\n", "\r\n"]),
)
def test_any_well_formed_csv_reads_as_the_csv_module_reads_it(records, quoting, line_end):
    """Values and physical line numbers agree with Python's csv module, whichever path a line takes."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=quoting, lineterminator=line_end)
    writer.writerow(["a", "b", "c"])
    lines, line = [], 2
    for record in records:
        before = out.tell()
        writer.writerow(record)
        lines.append(line)
        line += out.getvalue()[before:].count("\n")
    try:  # csv.writer writes a lone "\r" unquoted, which csv.reader then misreads or refuses
        assume(list(csv.reader(io.StringIO(out.getvalue(), newline=""), strict=True))[1:] == [list(r) for r in records])
    except csv.Error:
        assume(False)
    with tempfile.TemporaryDirectory() as tmp:
        write_text(Path(tmp), "tiny/t.csv", out.getvalue())
        raw = read_dataset(Path(tmp), TINY)
    expected = [tuple(v.strip(_RUST_WHITESPACE) or None for v in r) for r in records]
    assert raw.malformed.height == 0
    assert raw.rows.select("a", "b", "c").rows() == expected
    assert raw.rows["source_line"].to_list() == lines


class TestMalformedRows:
    def test_a_row_with_too_few_or_too_many_fields_is_quarantined_with_its_raw_line(self, tmp_path):
        text = f"{HEADER}\n{births_line()}\nB2,1,2\n{births_line(record_id='B3')},extra\n{births_line(record_id='B4')}\n"
        write_text(tmp_path, "births/b.csv", text)
        raw = read_dataset(tmp_path, BIRTHS)
        assert raw.rows["source_line"].to_list() == [2, 5]
        bad = raw.malformed
        assert bad["source_line"].to_list() == [3, 4]
        assert bad["rule"].to_list() == ["malformed_row"] * 2
        assert bad["value"][0] == "B2,1,2"
        assert bad["reason"][0] == "births/b.csv line 3: 3 fields where the header has 17 (malformed_row)"
        assert raw.rows_read == 4

    def test_an_unterminated_quote_quarantines_its_line_alone_and_reading_resumes(self, tmp_path):
        broken = births_line(record_id="B2").replace("Amir", '"Amir', 1)
        text = f"{HEADER}\n{births_line()}\n{broken}\n{births_line(record_id='B3')}\n"
        write_text(tmp_path, "births/b.csv", text)
        raw = read_dataset(tmp_path, BIRTHS)
        assert raw.rows["record_id"].to_list() == ["B1", "B3"]
        assert raw.rows["source_line"].to_list() == [2, 4]
        assert raw.malformed["source_line"].to_list() == [3] and raw.malformed["value"][0] == broken
        assert raw.rows_read == 3

    def test_bad_quoting_is_malformed(self, tmp_path):
        bad = births_line(record_id="B2").replace("Amir", '"Am"ir', 1)
        write_text(tmp_path, "births/b.csv", f"{HEADER}\n{bad}\n{births_line()}\n")
        raw = read_dataset(tmp_path, BIRTHS)
        assert raw.malformed["source_line"].to_list() == [2] and raw.rows["source_line"].to_list() == [3]


def test_valid_fixture_rows_cover_every_contract_column():
    for name, values in VALID.items():
        assert set(values) == set(DATASETS[name].column_names), name

"""The leak scan: each identifier type is found and counted (never echoed); a clean table passes."""

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cohort_platform.privacy.leak_scan import (
    compact_secure_sets,
    findings_frame,
    scan_frame,
    scan_parquet_dir,
    scan_tables,
    secure_identifier_columns,
    secure_identifier_sets,
)
from cohort_platform.privacy.pseudonyms import PseudonymKey, research_ids
from cohort_platform_tests.privacy.factories import nhs, upn

KEY = PseudonymKey(bytes(range(32)), "test")
NHS = nhs(5)
UPN = upn(7)


def clean_research_table(n=50):
    """What a research table should look like: pseudonyms, codes, months, areas, measures."""
    return pl.DataFrame({
        "research_id": research_ids(pl.Series([f"B{i}" for i in range(n)]), KEY),
        "sex": ["1", "2"] * (n // 2),
        "birth_year": [2010] * n,
        "birth_month": [3] * n,
        "birthweight_g": [3200 + i for i in range(n)],
        "lsoa11cd": ["E01000001"] * n,
        "la_code": ["202"] * n,
        "lad_code": ["E09000001"] * n,
        "diag_4_01": ["P072"] * n,
        "ethnicity": ["WBRI"] * n,
        "admission_date": [dt.date(2011, 1, 1)] * n,
        "att8": [45.5] * n,
        "service_type": ["Community mental health team"] * n,
    })


def secure_sets():
    return {
        "nhs_number": pl.Series([NHS, nhs(6)]),
        "name": pl.Series(["ZOE", "OBRIEN SMITH", "JO"]),
        "postcode": pl.Series(["SW1A 1AA"]),
    }


def rules(findings):
    return {(f.column, f.rule): f.count for f in findings}


class TestACleanTable:
    def test_a_research_table_of_pseudonyms_codes_and_areas_passes(self):
        dobs = pl.DataFrame({"research_id": clean_research_table()["research_id"], "dob": [dt.date(2010, 3, 4)] * 50})
        assert scan_frame("children", clean_research_table(), secure_sets=secure_sets(), dob_by_person=dobs) == []

    @settings(max_examples=100, deadline=None)
    @given(st.lists(st.text(alphabet="0123456789abcdef", min_size=32, max_size=32), min_size=1, max_size=20))
    def test_pseudonyms_never_look_like_identifiers(self, pseudonyms):
        assert scan_frame("t", pl.DataFrame({"research_id": pseudonyms})) == []


class TestNhsNumbers:
    @pytest.mark.parametrize("text", [NHS, f"{NHS[:3]} {NHS[3:6]} {NHS[6:]}", f"{NHS[:3]}-{NHS[3:6]}-{NHS[6:]}",
                                      f"seen as {NHS} in clinic"])
    def test_a_valid_nhs_number_is_found_in_text(self, text):
        assert rules(scan_frame("t", pl.DataFrame({"note": [text, "nothing"]}))) == {("note", "nhs_number"): 1}

    def test_ten_digits_failing_modulus_11_are_not_an_nhs_number(self):
        wrong = NHS[:9] + str((int(NHS[9]) + 1) % 10)
        assert scan_frame("t", pl.DataFrame({"note": [wrong]})) == []

    def test_a_categorical_column_is_scanned_as_text(self):
        frame = pl.DataFrame({"c": pl.Series([NHS, "x"], dtype=pl.Categorical)})
        assert rules(scan_frame("t", frame)) == {("c", "nhs_number"): 1}

    def test_an_nhs_number_stored_as_an_integer_is_found(self):
        assert rules(scan_frame("t", pl.DataFrame({"n": [int(NHS), 3200]}))) == {("n", "nhs_number"): 1}


class TestOtherPatterns:
    def test_a_upn_with_its_check_letter_is_found(self):
        assert rules(scan_frame("t", pl.DataFrame({"x": [UPN, UPN.lower(), "A801200000001x"]}))) == {("x", "upn"): 2}

    def test_a_upn_with_a_wrong_check_letter_is_not(self):
        wrong = ("B" if UPN[0] != "B" else "C") + UPN[1:]
        assert scan_frame("t", pl.DataFrame({"x": [wrong]})) == []

    @pytest.mark.parametrize("postcode", ["SW1A 1AA", "sw1a1aa", "M1 1AE", "at B33 8TH today"])
    def test_a_full_postcode_is_found_in_any_case_and_spacing(self, postcode):
        assert rules(scan_frame("t", pl.DataFrame({"x": [postcode]}))) == {("x", "postcode"): 1}

    def test_a_postcode_district_is_not_a_postcode(self):
        assert scan_frame("t", pl.DataFrame({"district": ["SW1A", "M1"]})) == []

    def test_a_date_of_birth_column_is_found(self):
        frame = pl.DataFrame({"dob": [dt.date(2010, 1, 1), None], "mother_dob": [dt.date(1980, 1, 1)] * 2})
        assert rules(scan_frame("t", frame)) == {("dob", "date_of_birth"): 1, ("mother_dob", "date_of_birth"): 2}

    def test_a_date_equal_to_the_persons_date_of_birth_is_found(self):
        frame = pl.DataFrame({"research_id": ["r1", "r2", "r3"], "epistart": [dt.date(2010, 1, 1), dt.date(2010, 5, 5), None]})
        dobs = pl.DataFrame({"research_id": ["r1", "r2"], "dob": [dt.date(2010, 1, 1), dt.date(2010, 1, 2)]})
        assert rules(scan_frame("t", frame, dob_by_person=dobs)) == {("epistart", "date_equals_dob"): 1}

    @pytest.mark.parametrize("column", ["forename", "surname", "record_id", "newnhsno", "postcode", "child_id", "upn"])
    def test_a_column_named_like_a_direct_identifier_is_found(self, column):
        assert ("identifier_column" in {f.rule for f in scan_frame("t", pl.DataFrame({column: ["zz"]}))})


class TestSecureZoneValues:
    def test_a_name_from_the_secure_zone_is_found_whatever_its_case_accents_or_punctuation(self):
        frame = pl.DataFrame({"x": ["Zoë", "O'Brien-Smith", "zoe ", "Community"]})
        assert rules(scan_frame("t", frame, secure_sets=secure_sets())) == {("x", "secure:name"): 3}

    def test_short_values_are_not_compared(self):
        assert scan_frame("t", pl.DataFrame({"x": ["Jo", "JO"]}), secure_sets=secure_sets()) == []

    def test_each_set_is_reported_by_name(self):
        frame = pl.DataFrame({"a": [nhs(6)], "b": ["sw1a 1aa"]})
        found = rules(scan_frame("t", frame, secure_sets=secure_sets()))
        assert found[("a", "secure:nhs_number")] == 1 and found[("b", "secure:postcode")] == 1

    def test_a_secure_value_is_counted_in_each_column_holding_it_and_in_no_other(self):
        frame = pl.DataFrame({"a": ["Zoe", "ZOE", "Amir"], "b": ["Amir", "Amir", "zoë"], "c": ["Amir", None, "Ben"]})
        found = rules(scan_frame("t", frame, secure_sets=secure_sets()))
        assert found == {("a", "secure:name"): 2, ("b", "secure:name"): 1}

    def test_the_sets_come_from_the_clean_datasets_by_the_contracts_column_kinds(self):
        clean = {
            "births": pl.DataFrame({"record_id": ["B1"], "nhs_number": [NHS], "forename": ["ADA"], "surname": ["LOVELACE"],
                                    "mother_forename": ["ANNE"], "postcode": ["SW1A 1AA"]}),
            "cla": pl.DataFrame({"record_id": ["C1"], "child_id": ["LA-77"], "upn": [UPN], "home_post": ["M1 1AE"]}),
        }
        sets = secure_identifier_sets(clean)
        assert sorted(sets["name"].to_list()) == ["ADA", "ANNE", "LOVELACE"]
        assert sorted(sets["postcode"].to_list()) == ["M1 1AE", "SW1A 1AA"]
        assert sets["record_id"].sort().to_list() == ["B1", "C1"] and sets["provider_id"].to_list() == ["LA-77"]
        assert sets["nhs_number"].to_list() == [NHS] and sets["upn"].to_list() == [UPN]

    def test_the_identifier_columns_alone_give_the_same_sets(self):
        from cohort_platform.contract.datasets import DATASETS

        # every contract column of every person dataset, each value unique to its column
        clean = {name: pl.DataFrame({c.name: [f"{name}-{c.name}-v"] for c in contract.columns})
                 for name, contract in DATASETS.items() if contract.person_level}
        pruned = {name: frame.select(secure_identifier_columns(name)) for name, frame in clean.items()}
        full, narrow = secure_identifier_sets(clean), secure_identifier_sets(pruned)
        assert {k: v.sort().to_list() for k, v in full.items()} == {k: v.sort().to_list() for k, v in narrow.items()}
        assert sum(v.len() for v in full.values()) > 0
        assert secure_identifier_columns("hes_apc") == ["record_id", "newnhsno", "homeadd"]


class TestFindings:
    def test_findings_never_hold_the_values_found(self):
        frame = pl.DataFrame({"note": [NHS, UPN, "SW1A 1AA", "Zoë"]})
        found = scan_frame("t", frame, secure_sets=secure_sets())
        text = repr(found) + str(findings_frame(found).to_dicts())
        assert found and not any(v in text for v in (NHS, UPN, "SW1A 1AA", "Zoë", "ZOE"))

    def test_several_tables_are_scanned_and_named(self):
        found = scan_tables({"a": pl.DataFrame({"x": [NHS]}), "b": clean_research_table()}, secure_sets=secure_sets())
        assert [(f.table, f.column) for f in found] == [("a", "x"), ("a", "x")]
        assert {f.rule for f in found} == {"nhs_number", "secure:nhs_number"}

    def test_every_file_under_the_research_folder_is_scanned_and_counts_add_up(self, tmp_path):
        for year in (2010, 2011):
            folder = tmp_path / "episodes" / f"birth_year={year}"
            folder.mkdir(parents=True)
            pl.DataFrame({"note": [NHS, "ok"]}).write_parquet(folder / "part-0.parquet")
        folder = tmp_path / "children" / "birth_year=2010"
        folder.mkdir(parents=True)
        clean_research_table().write_parquet(folder / "part-0.parquet")
        assert [(f.table, f.column, f.rule, f.count) for f in scan_parquet_dir(tmp_path)] == [("episodes", "note", "nhs_number", 2)]

    def test_secure_sets_can_be_prepared_once(self):
        prepared = compact_secure_sets(secure_sets())
        assert rules(scan_frame("t", pl.DataFrame({"x": ["zoe"]}), secure_sets=prepared)) == {("x", "secure:name"): 1}

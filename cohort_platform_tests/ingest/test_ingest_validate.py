"""Row validation: one test per contract rule, then the shape of what comes out."""

import datetime as dt
import json

import polars as pl
import pytest

from cohort_platform.contract.datasets import DATASETS
from cohort_platform.ingest.read import QUARANTINE_SCHEMA
from cohort_platform.ingest.validate import validate
from cohort_platform_tests.ingest.deliveries import NHS_BABY, row

CUTOFF = dt.date(2025, 3, 31)
FILE = "births/births_2010.csv"


def rows_frame(dataset: str, rows: list[dict]) -> pl.DataFrame:
    """Rows as read_dataset gives them: contract columns as strings, then provenance."""
    columns = DATASETS[dataset].column_names
    frame = pl.DataFrame([{c: r.get(c) for c in columns} for r in rows], schema={c: pl.String for c in columns})
    return frame.with_columns(
        pl.lit(f"{dataset}/{dataset}_2010.csv").alias("source_file"),
        pl.int_range(2, frame.height + 2, dtype=pl.Int64).alias("source_line"),
    )


def check(dataset: str, **changes):
    """Validate one valid row with some fields changed."""
    return validate(rows_frame(dataset, [row(dataset, **changes)]), DATASETS[dataset], CUTOFF)


def rules_broken(dataset: str, **changes) -> list[tuple[str, str]]:
    out = check(dataset, **changes)
    return list(zip(out.quarantine["field"].to_list(), out.quarantine["rule"].to_list()))


class TestEachRule:
    def test_a_valid_row_is_accepted(self):
        out = check("births")
        assert out.accepted.height == 1 and out.quarantine.height == 0

    def test_required_and_missing(self):
        assert rules_broken("births", sex=None) == [("sex", "required")]

    def test_an_optional_value_may_be_missing(self):
        assert rules_broken("births", birthweight_g=None, mother_dob=None, place_of_birth=None) == []

    def test_an_int_that_does_not_parse(self):
        assert rules_broken("births", birthweight_g="3.2kg") == [("birthweight_g", "type")]

    @pytest.mark.parametrize("value", ["1_000", "5.0", "0x10", "1e3", "٣٢٠٠", "3 200", "+", "99999999999999999999"])
    def test_only_optionally_signed_ascii_digits_are_an_int(self, value):
        """Pins down what polars' cast accepts, which validation relies on."""
        assert rules_broken("births", birthweight_g=value) == [("birthweight_g", "type")]

    def test_a_signed_or_zero_padded_int_parses(self):
        assert check("births", birthweight_g="+3200", gestation_weeks="039").accepted.select("birthweight_g", "gestation_weeks").row(0) == (3200, 39)

    def test_a_float_that_does_not_parse(self):
        assert rules_broken("npd_ks4", att8="nan") == [("att8", "type")]

    def test_a_number_outside_its_bounds(self):
        assert rules_broken("births", gestation_weeks="46") == [("gestation_weeks", "range")]
        assert rules_broken("npd_ks4", att8="-0.5") == [("att8", "range")]

    def test_bounds_are_inclusive(self):
        assert rules_broken("births", gestation_weeks="45", birthweight_g="200") == []

    def test_a_code_not_in_its_list(self):
        assert rules_broken("births", sex="M") == [("sex", "code_list")]

    def test_text_not_matching_its_pattern(self):
        assert rules_broken("deaths", underlying_cause="P07.2") == [("underlying_cause", "pattern")]

    def test_a_date_not_in_iso_form(self):
        assert rules_broken("births", registration_date="20/03/2010") == [("registration_date", "date_format")]

    def test_a_date_that_is_not_a_real_calendar_date(self):
        assert rules_broken("births", dob="2010-02-30", registration_date="2010-03-20") == [("dob", "date_format")]

    def test_a_date_after_the_cutoff(self):
        assert rules_broken("births", registration_date="2025-04-01") == [("registration_date", "after_cutoff")]
        assert rules_broken("births", registration_date=CUTOFF.isoformat()) == []

    def test_a_date_before_the_date_it_may_not_precede(self):
        assert rules_broken("births", registration_date="2010-03-03") == [("registration_date", "date_order")]
        assert rules_broken("deaths", registration_date="2011-01-01") == [("registration_date", "date_order")]

    def test_a_date_outside_its_age_bounds_from_dob(self):
        assert rules_broken("births", mother_dob="2005-06-07") == [("mother_dob", "age_range")]  # mother aged 4
        assert rules_broken("births", mother_dob="1935-06-07") == [("mother_dob", "age_range")]  # aged 74
        assert rules_broken("births", mother_dob="2000-03-04") == []  # exactly 10 years before

    def test_a_dob_before_1900_is_implausible(self):
        assert rules_broken("deaths", dob="1899-12-31") == [("dob", "implausible_date")]


class TestIdentifiersAndNames:
    def test_an_invalid_identifier_is_kept_and_flagged_not_rejected(self):
        out = check("births", nhs_number="9434765918", postcode="SW1A")
        assert out.quarantine.height == 0
        got = out.accepted.row(0, named=True)
        assert got["nhs_number"] == "9434765918" and got["nhs_number_valid"] is False
        assert got["postcode"] == "S W1A" and got["postcode_valid"] is False  # canonical form, kept
        assert out.flagged == {"nhs_number": 1, "mother_nhs_number": 0, "postcode": 1}

    def test_identifiers_are_canonical_and_a_missing_one_has_no_flag(self):
        got = check("births", nhs_number="943 476 5919", postcode="m11ae", mother_nhs_number=None).accepted.row(0, named=True)
        assert (got["nhs_number"], got["nhs_number_valid"]) == (NHS_BABY, True)
        assert (got["postcode"], got["postcode_valid"]) == ("M1 1AE", True)
        assert (got["mother_nhs_number"], got["mother_nhs_number_valid"]) == (None, None)

    def test_a_required_identifier_that_is_missing_is_rejected(self):
        assert rules_broken("opt_outs", nhs_number=None) == [("nhs_number", "required")]

    def test_names_are_canonicalised_in_place(self):
        got = check("births", forename="Zoë", surname="O'Brien-Smith").accepted.row(0, named=True)
        assert (got["forename"], got["surname"]) == ("ZOE", "OBRIEN SMITH")


class TestOutputs:
    def test_accepted_rows_are_typed_in_contract_order_then_flags_then_provenance(self):
        accepted = check("births").accepted
        assert accepted.columns == [
            *DATASETS["births"].column_names, "nhs_number_valid", "mother_nhs_number_valid", "postcode_valid",
            "source_file", "source_line",
        ]
        assert accepted.schema["dob"] == pl.Date and accepted.schema["birthweight_g"] == pl.Int64
        assert accepted.schema["sex"] == pl.String and accepted.schema["source_line"] == pl.Int64
        assert check("npd_ks4").accepted.schema["att8"] == pl.Float64

    def test_other_carried_columns_come_before_provenance(self):
        frame = rows_frame("opt_outs", [row("opt_outs")]).with_columns(pl.lit(dt.date(2024, 1, 1)).alias("snapshot_date"))
        accepted = validate(frame.select("nhs_number", "snapshot_date", "source_file", "source_line"), DATASETS["opt_outs"], CUTOFF).accepted
        assert accepted.columns == ["nhs_number", "nhs_number_valid", "snapshot_date", "source_file", "source_line"]

    def test_a_quarantine_row_names_file_line_field_value_rule_and_reason(self):
        q = check("births", dob="2010-02-30", registration_date="2010-03-20").quarantine
        assert q.schema == pl.Schema(QUARANTINE_SCHEMA)
        got = q.row(0, named=True)
        assert got | {"raw_record": None} == {
            "dataset": "births", "source_file": FILE, "source_line": 2, "record_id": "B1", "field": "dob",
            "value": "2010-02-30", "rule": "date_format", "raw_record": None,
            "reason": f"{FILE} line 2: dob '2010-02-30' is not a real date (date_format)",
        }
        assert json.loads(got["raw_record"]) == row("births", dob="2010-02-30", registration_date="2010-03-20")

    @pytest.mark.parametrize(("changes", "reason"), [
        ({"sex": None}, "sex is missing (required)"),
        ({"sex": "7"}, "sex '7' is not one of 1, 2, 9 (code_list)"),
        ({"birthweight_g": "99999"}, "birthweight_g '99999' is outside 200..7000 (range)"),
        ({"registration_date": "2010-03-01"}, "registration_date '2010-03-01' is before dob '2010-03-04' (date_order)"),
        ({"mother_dob": "2008-01-01"}, "mother_dob '2008-01-01' is not 10 to 70 years before dob '2010-03-04' (age_range)"),
        ({"registration_date": "2030-01-01"}, "registration_date '2030-01-01' is after the data cut-off 2025-03-31 (after_cutoff)"),
    ])
    def test_reasons_are_sentences(self, changes, reason):
        assert check("births", **changes).quarantine["reason"].to_list() == [f"{FILE} line 2: {reason}"]

    def test_a_row_breaking_several_rules_appears_once_per_rule_and_is_one_rejected_row(self):
        out = check("births", sex="7", birthweight_g="heavy", dob="2010-02-30")
        assert sorted(out.quarantine["rule"].to_list()) == ["code_list", "date_format", "type"]
        assert out.quarantine.select("source_file", "source_line").unique().height == 1
        assert out.accepted.height == 0

    def test_good_and_bad_rows_are_split_and_keep_their_lines(self):
        rows = [row("births", record_id="B1"), row("births", record_id="B2", sex="7"), row("births", record_id="B3")]
        out = validate(rows_frame("births", rows), DATASETS["births"], CUTOFF)
        assert out.accepted["source_line"].to_list() == [2, 4]
        assert out.quarantine["record_id"].to_list() == ["B2"] and out.quarantine["source_line"].to_list() == [3]

    def test_an_empty_frame_gives_empty_typed_outputs(self):
        out = validate(rows_frame("births", []), DATASETS["births"], CUTOFF)
        assert out.accepted.height == 0 and out.accepted.schema["dob"] == pl.Date
        assert out.quarantine.height == 0 and out.quarantine.schema == pl.Schema(QUARANTINE_SCHEMA)

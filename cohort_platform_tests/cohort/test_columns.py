"""The data dictionary in code: Dagster schemas, Markdown, and agreement with the modules it describes."""

from __future__ import annotations

import polars as pl
import pytest

from cohort_platform.cohort import columns as cols
from cohort_platform.outputs.extracts import ProjectError, parse_project


def test_column_names_are_unique_within_each_table():
    for table in cols.RESEARCH_TABLES.values():
        assert len(table.column_names) == len(set(table.column_names)), table.name


def test_every_column_type_has_a_warehouse_type():
    for table in cols.RESEARCH_TABLES.values():
        for column in table.columns:
            assert column.sql_type in {"INTEGER", "DOUBLE", "VARCHAR", "BOOLEAN"}, (table.name, column.name)


def test_the_dagster_column_schema_lists_every_column_with_its_codes():
    import dagster as dg

    metadata = cols.column_schema_metadata("children")
    schema = metadata["dagster/column_schema"]
    assert isinstance(schema, dg.TableSchema)
    assert [c.name for c in schema.columns] == cols.CHILDREN.column_names
    sex = next(c for c in schema.columns if c.name == "sex")
    assert sex.type == "VARCHAR" and "1 male" in sex.description
    research_id = next(c for c in schema.columns if c.name == "research_id")
    assert research_id.constraints.nullable is False


def test_the_rendered_dictionary_has_every_table_and_code_meaning():
    text = cols.render_data_dictionary()
    for name, table in cols.RESEARCH_TABLES.items():
        assert f"\n## {name}\n" in text
        assert f"[{name}](#{name})" in text
    assert "`XVI` P00-P96 Certain conditions originating in the perinatal period" in text
    assert "`E4A` returned home" in text


def test_markdown_cells_cannot_break_the_table():
    table = cols.ResearchTable("t", "d", "g", (), (cols._c("x", cols.TEXT, "a | b", {"1": "c | d"}),))
    line = [ln for ln in cols.render_table(table).splitlines() if ln.startswith("| `x`")][0]
    assert line.count("|") - line.count("\\|") == 5


def test_conform_refuses_a_frame_missing_a_declared_column():
    with pytest.raises(ValueError, match="ks2 lacks declared columns"):
        cols.conform(pl.DataFrame({"research_id": ["a"]}), "ks2")


def test_project_extracts_validate_against_these_columns():
    research = cols.research_columns()
    project = parse_project("name: p1\nbirth_years: [2010]\ntables:\n  children: [research_id, la_code_at_birth]\n", research)
    assert project.tables == {"children": ("research_id", "la_code_at_birth")}
    with pytest.raises(ProjectError, match="unknown columns 'postcode'"):
        parse_project("name: p1\nbirth_years: [2010]\ntables:\n  children: [postcode]\n", research)


def test_exposure_columns_match_what_the_exposures_module_makes():
    from cohort_platform.exposures.assign import _empty_pregnancy, empty_yearly, yearly_exposures
    from cohort_platform.exposures.sampling import EXPOSURES

    assert cols.EXPOSURES == EXPOSURES
    yearly = yearly_exposures(empty_yearly(), empty_yearly())
    assert set(yearly.columns) - {"person_id"} == set(cols.EXPOSURES_YEARLY.column_names) - {"research_id", "birth_year"}
    pregnancy = _empty_pregnancy()
    assert set(pregnancy.columns) - {"person_id"} == set(cols.EXPOSURES_PREGNANCY.column_names) - {"research_id", "birth_year"}


class TestCodeColumnsExplainNameMatches:
    """A secure-zone name equal to a code ("RUB": a provider code, and a misspelt Ruby in some record
    of a 650,000-child year) is a coincidence when the column holds nothing but codes."""

    def test_a_column_of_provider_codes_holds_only_codes(self):
        column = cols.MENTAL_HEALTH_REFERRALS.column("provider_code")
        assert column.holds_only_codes(pl.Series(["RUB", "RX4", None, "RTV01"]))

    def test_one_value_off_the_format_is_not_only_codes(self):
        column = cols.MENTAL_HEALTH_REFERRALS.column("provider_code")
        assert not column.holds_only_codes(pl.Series(["RUB", "Ruby"]))
        assert not column.holds_only_codes(pl.Series(["RUB", "RUBENS"]))

    def test_declared_codes_and_format_together(self):
        column = cols._c("x", cols.TEXT, "d", {"all": "whole pregnancy"}, code_format=r"T[1-3]")
        assert column.holds_only_codes(pl.Series(["T1", "all"]))
        assert not column.holds_only_codes(pl.Series(["T1", "Tom"]))

    def test_a_free_column_never_holds_only_codes(self):
        assert not cols._c("x", cols.TEXT, "d").holds_only_codes(pl.Series(["RUB"]))

    @pytest.mark.parametrize("fmt, good, bad", [
        (cols.ICD10_FORMAT, ["P072", "J45", "R69X"], ["p072", "P07.2", "Amy"]),
        (cols.OPCS4_FORMAT, ["W401", "-", "A01"], ["--", "Ann"]),
        (cols.LA_FORMAT, ["201", "936"], ["20", "2011"]),
        (cols.ONS_AREA_FORMAT, ["E01000001", "E09000033"], ["E0100001", "Eve"]),
        (cols.NATIONAL_CODE_FORMAT, ["A1", "04", "C01"], ["Lily", "a1", "ABCDE"]),
    ])
    def test_each_code_format(self, fmt, good, bad):
        column = cols._c("x", cols.TEXT, "d", code_format=fmt)
        assert all(column.holds_only_codes(pl.Series([v])) for v in good)
        assert not any(column.holds_only_codes(pl.Series([v])) for v in bad)


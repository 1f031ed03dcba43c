"""Project extracts: approval files are validated, extracts hold only what was approved, pseudonyms differ."""

import json
from pathlib import Path

import polars as pl
import pytest

from cohort_platform.outputs.extracts import (
    Project,
    ProjectError,
    load_project,
    parse_project,
    project_column_name,
    write_extract,
)
from cohort_platform.privacy.pseudonyms import PseudonymKey, research_ids

KEY = PseudonymKey(bytes(range(32)), "test")
RESEARCH_COLUMNS = {
    "children": ["research_id", "sex", "birth_year", "birth_month", "birthweight_g", "la_code"],
    "referrals": ["research_id", "referral_month", "service_type"],
}
PROJECT = """
name: lac_mental_health
birth_years: [2006, 2008]
tables:
  children: [research_id, sex, birth_year]
  referrals: [research_id, service_type]
"""


@pytest.fixture
def research_dir(tmp_path) -> Path:
    """research_ready/<table>/birth_year=YYYY/part-0.parquet for 2006-2008, two children a year."""
    root = tmp_path / "research_ready"
    for year in (2006, 2007, 2008):
        ids = research_ids(pl.Series([f"B{year}1", f"B{year}2"]), KEY)
        children = pl.DataFrame({"research_id": ids, "sex": ["1", "2"], "birth_month": [1, 2],
                                 "birthweight_g": [3000, 3100], "la_code": ["202", "203"]})
        referrals = pl.DataFrame({"research_id": [ids[0], ids[0], ids[1]], "referral_month": ["2015-01", "2016-02", "2017-03"],
                                  "service_type": ["CAMHS", "CAMHS", "Eating disorder"]})
        for table, frame in (("children", children), ("referrals", referrals)):
            folder = root / table / f"birth_year={year}"
            folder.mkdir(parents=True)
            frame.write_parquet(folder / "part-0.parquet")
    return root


def write_yaml(tmp_path, text) -> Path:
    path = tmp_path / "project.yaml"
    path.write_text(text)
    return path


class TestApproval:
    def test_an_approved_project_is_loaded(self, tmp_path):
        project = load_project(write_yaml(tmp_path, PROJECT), RESEARCH_COLUMNS)
        assert project.name == "lac_mental_health" and project.birth_years == (2006, 2008)
        assert project.tables == {"children": ("research_id", "sex", "birth_year"), "referrals": ("research_id", "service_type")}

    def test_an_unknown_table_is_refused_by_name(self, tmp_path):
        text = PROJECT + "  nhs_numbers: [nhs_number]\n"
        with pytest.raises(ProjectError, match="unknown table 'nhs_numbers'"):
            load_project(write_yaml(tmp_path, text), RESEARCH_COLUMNS)

    def test_an_unknown_column_is_refused_by_name(self, tmp_path):
        text = PROJECT.replace("[research_id, sex, birth_year]", "[research_id, sex, dob, postcode]")
        with pytest.raises(ProjectError, match="table 'children': unknown columns 'dob', 'postcode'") as error:
            load_project(write_yaml(tmp_path, text), RESEARCH_COLUMNS)
        assert str(tmp_path / "project.yaml") in str(error.value)

    def test_every_problem_is_reported_at_once(self):
        text = PROJECT.replace("[research_id, sex, birth_year]", "[dob]").replace("[research_id, service_type]", "[postcode]")
        with pytest.raises(ProjectError) as error:
            parse_project(text, RESEARCH_COLUMNS)
        assert "'dob'" in str(error.value) and "'postcode'" in str(error.value)

    @pytest.mark.parametrize(("change", "message"), [
        (("birth_years", "birth_yrs"), "unexpected fields: birth_yrs"),
        (("name: lac_mental_health", "name: LAC Mental Health"), "lower-case"),
        (("[2006, 2008]", "[1990]"), "outside"),
        (("[2006, 2008]", "2006-2008"), "list of years"),
        (("[research_id, service_type]", "research_id"), "non-empty list"),
        (("[research_id, service_type]", "[service_type, service_type]"), "listed twice"),
    ])
    def test_a_malformed_approval_is_refused(self, change, message):
        with pytest.raises(ProjectError, match=message):
            parse_project(PROJECT.replace(*change), RESEARCH_COLUMNS)

    def test_a_file_that_is_not_a_mapping_is_refused(self):
        with pytest.raises(ProjectError, match="mapping"):
            parse_project("- just a list", RESEARCH_COLUMNS)


class TestTheExtract:
    def extract(self, tmp_path, research_dir, text=PROJECT, out="extract"):
        project = parse_project(text, RESEARCH_COLUMNS)
        rows = write_extract(project, research_dir, tmp_path / out, KEY)
        return rows, {t: pl.read_parquet(tmp_path / out / t, hive_partitioning=True) for t in project.tables}

    def test_only_the_approved_columns_and_birth_years_are_written(self, tmp_path, research_dir):
        rows, tables = self.extract(tmp_path, research_dir)
        assert rows == {"children": 4, "referrals": 6}
        assert tables["children"].columns == ["project_id", "sex", "birth_year"]
        assert sorted(tables["children"]["birth_year"].unique().to_list()) == [2006, 2008]
        assert sorted(p.name for p in (tmp_path / "extract" / "referrals").iterdir()) == ["birth_year=2006", "birth_year=2008"]

    def test_the_research_pseudonym_is_replaced_by_the_projects_own(self, tmp_path, research_dir):
        _, tables = self.extract(tmp_path, research_dir)
        research = set(pl.read_parquet(research_dir / "children", hive_partitioning=True)["research_id"].to_list())
        assert not set(tables["children"]["project_id"].to_list()) & research

    def test_the_projects_tables_join_on_its_pseudonym(self, tmp_path, research_dir):
        _, tables = self.extract(tmp_path, research_dir)
        joined = tables["referrals"].join(tables["children"], on="project_id", how="inner")
        assert joined.height == 6

    def test_two_projects_extracts_cannot_be_joined(self, tmp_path, research_dir):
        _, one = self.extract(tmp_path, research_dir, out="one")
        _, two = self.extract(tmp_path, research_dir, PROJECT.replace("lac_mental_health", "ks2_attainment"), out="two")
        assert one["children"].join(two["children"], on="project_id", how="inner").height == 0

    def test_the_same_project_gets_the_same_pseudonyms_every_time(self, tmp_path, research_dir):
        _, first = self.extract(tmp_path, research_dir, out="first")
        _, again = self.extract(tmp_path, research_dir, out="again")
        assert sorted(first["children"]["project_id"].to_list()) == sorted(again["children"]["project_id"].to_list())

    def test_an_extract_is_never_written_over(self, tmp_path, research_dir):
        self.extract(tmp_path, research_dir)
        with pytest.raises(ProjectError, match="not empty"):
            self.extract(tmp_path, research_dir)

    def test_the_manifest_describes_the_extract_without_the_key(self, tmp_path, research_dir):
        self.extract(tmp_path, research_dir)
        text = (tmp_path / "extract" / "manifest.json").read_text()
        manifest = json.loads(text)
        assert manifest["tables"]["referrals"] == {"columns": ["project_id", "service_type"], "rows": 6}
        assert bytes(range(32)).hex() not in text

    def test_a_table_without_research_files_is_an_error(self, tmp_path, research_dir):
        project = Project(name="p", tables={"exposures": ("research_id",)}, birth_years=(2006,))
        with pytest.raises(ProjectError, match="exposures"):
            write_extract(project, research_dir, tmp_path / "x", KEY)


def test_pseudonym_columns_are_renamed_for_the_project():
    assert [project_column_name(c) for c in ("research_id", "mother_research_id", "sex")] == ["project_id", "mother_project_id", "sex"]

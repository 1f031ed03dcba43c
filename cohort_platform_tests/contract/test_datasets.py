"""The contract declarations themselves: complete and self-consistent."""

import re

import pytest

from cohort_platform.contract.datasets import DATASETS, PERSON_DATASETS, REFERENCE_DATASETS, folder

SPEC_DATASETS = {"births", "deaths", "hes_apc", "mhsds", "npd_census", "npd_ks2", "npd_ks4", "cla",
                 "census_2011", "census_2021", "survey", "opt_outs"}


def test_every_person_level_dataset_of_the_contract_is_declared():
    assert set(PERSON_DATASETS) == SPEC_DATASETS


def test_every_reference_file_is_declared_in_the_reference_folder():
    assert set(REFERENCE_DATASETS) == {"postcodes", "lsoa_imd", "schools"}
    assert {folder(name) for name in REFERENCE_DATASETS} == {"reference"}


@pytest.mark.parametrize("name", [n for n in PERSON_DATASETS if n != "opt_outs"])
def test_person_level_files_are_keyed_by_record_id(name):
    ds = DATASETS[name]
    assert ds.key == "record_id" and ds.columns[0].name == "record_id" and ds.columns[0].required


@pytest.mark.parametrize("name", list(DATASETS))
def test_column_references_point_at_columns_of_the_same_dataset(name):
    ds = DATASETS[name]
    names = set(ds.column_names)
    assert len(names) == len(ds.column_names), "a column is declared twice"
    for col in ds.columns:
        if col.not_before:
            assert col.not_before in names
        if col.age_bounds:
            assert "dob" in names
        if col.pattern:
            re.compile(col.pattern)
        if col.kind == "code":
            assert col.codes, f"{name}.{col.name} has no code list"
    for key in ds.completeness:
        assert key in names

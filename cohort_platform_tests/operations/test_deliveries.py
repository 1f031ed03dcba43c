"""Delivery files without Dagster: their place in the contract, the cursor, and what they affect."""

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cohort_platform.contract.datasets import DATASETS, GRIDS, PERSON_DATASETS, REFERENCE_DATASETS, folder
from cohort_platform.orchestration.deliveries import (
    DOB_SCOPED_DATASETS,
    Changes,
    DeliveryCursor,
    FileStamp,
    birth_years_in_file,
    classify,
    delivery_key,
    diff,
    parse_birth_years_tag,
    plan,
    scan,
    watched_folders,
)

YEARS = list(range(2006, 2026))


def _write(root: Path, relative: str, text: str, mtime: float | None = None) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def _births(*dobs: str) -> str:
    return "record_id,forename,dob\n" + "".join(f"b{i},Ann,{d}\n" for i, d in enumerate(dobs))


# ------------------------------------------------------------------------------- classification
@pytest.mark.parametrize("name", [n for n in PERSON_DATASETS if n != "opt_outs"])
def test_a_person_level_csv_feeds_its_datasets_ingestion(name):
    target = classify(f"{name}/{name}_2024_refresh.csv")
    assert target.kind == "person" and target.raw_asset == ("raw", name)
    assert target.assets == (("clean", name), ("quarantine", name))


@pytest.mark.parametrize("name", REFERENCE_DATASETS)
def test_a_reference_file_feeds_its_reference_asset(name):
    target = classify(f"reference/{DATASETS[name].glob}")
    assert target.kind == "reference" and target.assets[0] == ("clean", name) and target.scope == "all"


def test_an_opt_out_snapshot_feeds_opt_outs_and_every_birth_year():
    target = classify("opt_outs/ndop_2025-02-01.csv")
    assert target.kind == "opt_outs" and target.assets[0] == ("clean", "opt_outs") and target.scope == "all"


@pytest.mark.parametrize("grid", list(GRIDS.values()), ids=list(GRIDS))
def test_a_grid_year_feeds_its_environment_asset(grid):
    target = classify(f"{grid.folder}/{grid.prefix}2019.nc")
    assert target.kind == "environment" and target.assets == (("environment", grid.name),)
    assert target.raw_asset == ("raw", grid.name)


def test_the_roads_file_feeds_major_roads():
    assert classify("roads/major_roads.gpkg").assets == (("environment", "major_roads"),)


@pytest.mark.parametrize("relative", [
    "births/notes.txt", "opt_outs/optouts.csv", "reference/other.csv", "air_quality/no2_19.nc",
    "air_quality/so2_2019.nc", "roads/minor_roads.gpkg", "births/2024/births.csv", "unknown/x.csv", "births.csv",
])
def test_a_file_with_no_place_in_the_contract_feeds_nothing(relative):
    assert classify(relative) is None


def test_only_child_only_datasets_are_narrowed_by_date_of_birth():
    scoped = {n for n in PERSON_DATASETS if classify(f"{folder(n)}/{DATASETS[n].glob.replace('*', 'x')}").scope == "dob"}
    assert scoped == set(DOB_SCOPED_DATASETS) == {"births", "deaths", "mhsds"}


def test_every_contract_folder_is_watched():
    assert {"births", "opt_outs", "reference", "air_quality", "greenspace", "roads"} <= set(watched_folders())


# ----------------------------------------------------------------------------------------- cursor
def test_a_file_seen_once_is_not_processed_twice(tmp_path):
    _write(tmp_path, "births/b1.csv", _births("2010-05-05"), mtime=1_000)
    changes, cursor = diff(DeliveryCursor(), scan(tmp_path))
    assert changes.new == ("births/b1.csv",)
    again, _ = diff(DeliveryCursor.loads(cursor.dumps()), scan(tmp_path))
    assert not again


def test_a_changed_file_is_processed_again(tmp_path):
    path = _write(tmp_path, "births/b1.csv", _births("2010-05-05"), mtime=1_000)
    _, cursor = diff(DeliveryCursor(), scan(tmp_path))
    path.write_text(_births("2010-05-05", "2011-01-01"))
    os.utime(path, (2_000, 2_000))
    changes, _ = diff(cursor, scan(tmp_path))
    assert changes.changed == ("births/b1.csv",) and not changes.new


def test_a_removed_file_is_a_change_and_leaves_the_cursor(tmp_path):
    path = _write(tmp_path, "births/b1.csv", _births("2010-05-05"), mtime=1_000)
    _, cursor = diff(DeliveryCursor(), scan(tmp_path))
    path.unlink()
    changes, cursor = diff(cursor, scan(tmp_path))
    assert changes.removed == ("births/b1.csv",) and cursor.files == {}


def test_a_file_still_being_written_waits_for_a_later_tick(tmp_path):
    _write(tmp_path, "births/b1.csv", _births("2010-05-05"), mtime=5_000)
    changes, cursor = diff(DeliveryCursor(), scan(tmp_path), settled_before_ns=4_000 * 10**9)
    assert not changes and changes.waiting == ("births/b1.csv",) and cursor.files == {}
    later, _ = diff(cursor, scan(tmp_path), settled_before_ns=6_000 * 10**9)
    assert later.new == ("births/b1.csv",)


def test_hidden_and_stray_folder_files_are_not_scanned(tmp_path):
    _write(tmp_path, "births/.b1.csv.part", "x")
    _write(tmp_path, "scratch/b1.csv", "x")
    assert scan(tmp_path) == {}


@given(st.dictionaries(st.sampled_from(["births/a.csv", "births/b.csv", "deaths/d.csv", "reference/postcodes.csv"]),
                       st.tuples(st.integers(0, 3), st.integers(0, 3)), max_size=4),
       st.dictionaries(st.sampled_from(["births/a.csv", "births/b.csv", "deaths/d.csv", "reference/postcodes.csv"]),
                       st.tuples(st.integers(0, 3), st.integers(0, 3)), max_size=4))
def test_diffing_twice_against_the_returned_cursor_finds_nothing(before, after):
    seen = DeliveryCursor({p: FileStamp(*v) for p, v in before.items()})
    current = {p: FileStamp(*v) for p, v in after.items()}
    changes, cursor = diff(seen, current)
    assert set(changes.files) == {p for p in set(before) | set(after) if before.get(p) != after.get(p)}
    assert not diff(DeliveryCursor.loads(cursor.dumps()), current)[0]
    assert cursor.files == current


def test_the_delivery_key_changes_with_the_files_version(tmp_path):
    a = Changes(new=("births/b1.csv",))
    assert delivery_key(a, {"births/b1.csv": FileStamp(10, 1)}) == delivery_key(a, {"births/b1.csv": FileStamp(10, 1)})
    assert delivery_key(a, {"births/b1.csv": FileStamp(10, 1)}) != delivery_key(a, {"births/b1.csv": FileStamp(11, 2)})


# ------------------------------------------------------------------------------------ birth years
def test_birth_years_come_from_the_dob_column_one_day_either_side_of_new_year(tmp_path):
    path = _write(tmp_path, "births/b.csv", _births("2010-06-15", "2012-01-01", "2014-12-31", "not a date", ""))
    assert birth_years_in_file(path) == {2010, 2011, 2012, 2014, 2015}


def test_a_file_without_a_dob_column_touches_every_year(tmp_path):
    assert birth_years_in_file(_write(tmp_path, "births/b.csv", "record_id,x\n1,2\n")) is None


def test_a_new_births_file_rebuilds_the_birth_years_it_holds(tmp_path):
    _write(tmp_path, "births/b1.csv", _births("2010-05-05", "2011-07-07"))
    delivery = plan(tmp_path, Changes(new=("births/b1.csv",)), YEARS)
    assert delivery.raw_assets == {("raw", "births"): ("births/b1.csv",)}
    assert delivery.assets == (("clean", "births"), ("quarantine", "births"))
    assert delivery.birth_years == (2010, 2011) and not delivery.all_birth_years
    assert delivery.birth_years_tag() == "2010,2011"


def test_years_outside_the_partitions_are_dropped(tmp_path):
    _write(tmp_path, "births/b1.csv", _births("1990-05-05", "2006-01-01"))
    assert plan(tmp_path, Changes(new=("births/b1.csv",)), YEARS).birth_years == (2006,)


def test_a_changed_births_file_rebuilds_every_year(tmp_path):
    _write(tmp_path, "births/b1.csv", _births("2010-05-05"))
    delivery = plan(tmp_path, Changes(changed=("births/b1.csv",)), YEARS)
    assert delivery.all_birth_years and delivery.birth_years == tuple(YEARS)


def test_a_new_opt_out_snapshot_rebuilds_every_year(tmp_path):
    _write(tmp_path, "opt_outs/ndop_2025-03-01.csv", "nhs_number\n9434765919\n")
    delivery = plan(tmp_path, Changes(new=("opt_outs/ndop_2025-03-01.csv",)), YEARS)
    assert delivery.assets[0] == ("clean", "opt_outs")
    assert delivery.birth_years_tag() == "all" and delivery.birth_years == tuple(YEARS)


@pytest.mark.parametrize("relative", ["hes_apc/hes_2024.csv", "npd_ks2/ks2.csv", "reference/postcodes.csv",
                                      "air_quality/no2_2024.nc"])
def test_other_files_rebuild_every_year(tmp_path, relative):
    _write(tmp_path, relative, "record_id,dob\n1,2010-01-05\n")
    assert plan(tmp_path, Changes(new=(relative,)), YEARS).all_birth_years


def test_files_with_no_place_are_reported_and_plan_nothing(tmp_path):
    delivery = plan(tmp_path, Changes(new=("births/readme.txt",)), YEARS)
    assert not delivery and delivery.ignored == ("births/readme.txt",) and delivery.birth_years == ()


def test_several_files_combine_their_assets_and_years(tmp_path):
    _write(tmp_path, "births/b1.csv", _births("2010-05-05"))
    _write(tmp_path, "deaths/d1.csv", "record_id,dob,dod\nd1,2013-03-03,2014-01-01\n")
    delivery = plan(tmp_path, Changes(new=("births/b1.csv", "deaths/d1.csv")), YEARS)
    assert set(delivery.raw_assets) == {("raw", "births"), ("raw", "deaths")}
    assert delivery.birth_years == (2010, 2013)


@pytest.mark.parametrize(("tag", "keys"), [("all", ["2006", "2007", "2008"]), ("2008,2006", ["2006", "2008"]),
                                           ("2030", []), ("", []), (None, [])])
def test_the_birth_years_tag_names_existing_partitions(tag, keys):
    assert parse_birth_years_tag(tag, ["2006", "2007", "2008"]) == keys

"""The delivery sensor over the platform's real raw, ingestion and environment assets, with a stand-in
partitioned research asset downstream of births, opt-outs and postcodes (none of HES)."""

import datetime as dt
import os
import time
from pathlib import Path

import dagster as dg
import pytest

from cohort_platform.config import Settings
from cohort_platform.defs.environment.assets import ENVIRONMENT_ASSETS, ENVIRONMENT_RAW_SPECS
from cohort_platform.defs.ingest.assets import INGEST_ASSETS, RAW_SPECS, clean_key
from cohort_platform.defs.operations.sensors import BIRTH_YEARS_TAG, TRIGGER_TAG, build_delivery_sensor
from cohort_platform.defs.resources import CohortSettings
from cohort_platform.orchestration.deliveries import DeliveryCursor
from cohort_platform.orchestration.jobs import BIRTH_YEAR_JOB, SHARED_JOB, build_jobs
from cohort_platform.orchestration.partitions import BIRTH_YEAR

RESEARCH = dg.AssetKey(["research", "stand_in"])


@dg.asset(key=RESEARCH, partitions_def=BIRTH_YEAR, deps=[clean_key("births"), clean_key("opt_outs"), clean_key("postcodes")])
def stand_in() -> None:
    """Stands in for the birth-year assets that other work adds."""


ASSETS = [*RAW_SPECS, *ENVIRONMENT_RAW_SPECS, *INGEST_ASSETS, *ENVIRONMENT_ASSETS, stand_in]
LONG_AGO = 1_600_000_000  # files are "settled" unless a test says otherwise


def _sensor_and_defs(raw: Path, partitioned: bool = True):
    jobs = build_jobs([RESEARCH] if partitioned else [])
    shared = next(j for j in jobs if j.name == SHARED_JOB)
    birth_year = next((j for j in jobs if j.name == BIRTH_YEAR_JOB), None)
    sensor = build_delivery_sensor(shared, birth_year)
    assets = ASSETS if partitioned else [a for a in ASSETS if a is not stand_in]
    settings = CohortSettings.from_settings(Settings(home=raw.parent / "home", raw_dir=raw, cutoff=dt.date(2025, 3, 31)))
    defs = dg.Definitions(assets=assets, jobs=jobs, sensors=[sensor], resources={"settings": settings})
    return sensor, defs, settings


BASELINE = DeliveryCursor().dumps()  # a sensor that has scanned before and found nothing


def _tick(raw: Path, cursor: str | None = BASELINE, partitioned: bool = True):
    sensor, defs, settings = _sensor_and_defs(raw, partitioned)
    context = dg.build_sensor_context(cursor=cursor, definitions=defs, resources={"settings": settings})
    return sensor(context)


def _drop(raw: Path, relative: str, text: str, mtime: float = LONG_AGO) -> Path:
    path = raw / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, (mtime, mtime))
    return path


def _keys(request: dg.RunRequest) -> set[str]:
    return {k.to_user_string() for k in request.asset_selection}


BIRTHS = "record_id,forename,dob\nb1,Ann,2010-05-05\nb2,Bo,2011-07-07\n"


@pytest.fixture
def raw(tmp_path) -> Path:
    (tmp_path / "raw").mkdir()
    return tmp_path / "raw"


def test_a_new_births_file_requests_its_ingestion_and_its_birth_years(raw):
    _drop(raw, "births/births_2025_03.csv", BIRTHS)
    result = _tick(raw)
    [request] = result.run_requests
    assert request.job_name == SHARED_JOB
    assert _keys(request) == {"clean/births", "quarantine/births"}
    assert request.tags[BIRTH_YEARS_TAG] == "2010,2011" and request.tags[TRIGGER_TAG] == "delivery"
    assert request.run_key.startswith("delivery:")


def test_the_delivery_is_recorded_on_the_raw_asset(raw):
    _drop(raw, "births/births_2025_03.csv", BIRTHS)
    [event] = _tick(raw).asset_events
    assert event.asset_key == dg.AssetKey(["raw", "births"])
    assert event.metadata["files"].value == ["births/births_2025_03.csv"]


def test_a_file_processed_once_is_not_requested_again(raw):
    _drop(raw, "births/births_2025_03.csv", BIRTHS)
    first = _tick(raw)
    second = _tick(raw, cursor=first.cursor)
    assert isinstance(second, dg.SkipReason)


def test_a_changed_file_is_requested_again_for_every_birth_year(raw):
    path = _drop(raw, "births/births_2025_03.csv", BIRTHS)
    first = _tick(raw)
    path.write_text(BIRTHS + "b3,Cy,2012-01-01\n")
    os.utime(path, (LONG_AGO + 10, LONG_AGO + 10))
    [request] = _tick(raw, cursor=first.cursor).run_requests
    assert request.tags[BIRTH_YEARS_TAG] == "all"
    assert request.run_key != first.run_requests[0].run_key


def test_a_new_opt_out_snapshot_rebuilds_every_birth_year(raw):
    _drop(raw, "opt_outs/ndop_2025-03-01.csv", "nhs_number\n9434765919\n")
    [request] = _tick(raw).run_requests
    assert _keys(request) == {"clean/opt_outs", "quarantine/opt_outs"}
    assert request.tags[BIRTH_YEARS_TAG] == "all"


def test_a_postcode_file_rebuilds_the_grids_that_check_coverage_against_it(raw):
    _drop(raw, "reference/postcodes.csv", "postcode,easting,northing\nSW1A 1AA,529090,179645\n")
    [request] = _tick(raw).run_requests
    assert _keys(request) == {"clean/postcodes", "quarantine/postcodes", "environment/no2", "environment/pm25",
                              "environment/ndvi"}
    assert request.tags[BIRTH_YEARS_TAG] == "all"


def test_a_grid_file_rebuilds_its_environment_asset_only(raw):
    _drop(raw, "air_quality/no2_2024.nc", "not really netcdf")
    [request] = _tick(raw).run_requests
    assert _keys(request) == {"environment/no2"} and BIRTH_YEARS_TAG not in request.tags


def test_no_birth_year_is_owed_when_no_partitioned_asset_lies_downstream(raw):
    _drop(raw, "hes_apc/hes_2024.csv", "record_id,dob\nh1,2010-01-01\n")
    [request] = _tick(raw).run_requests
    assert _keys(request) == {"clean/hes_apc", "quarantine/hes_apc"} and BIRTH_YEARS_TAG not in request.tags


def test_without_a_birth_year_job_the_sensor_requests_ingestion_only(raw):
    _drop(raw, "births/births_2025_03.csv", BIRTHS)
    [request] = _tick(raw, partitioned=False).run_requests
    assert _keys(request) == {"clean/births", "quarantine/births"} and BIRTH_YEARS_TAG not in request.tags


def test_files_dropped_together_make_one_run(raw):
    _drop(raw, "births/births_2025_03.csv", BIRTHS)
    _drop(raw, "deaths/deaths_2025_03.csv", "record_id,dob,dod\nd1,2013-03-03,2014-01-01\n")
    [request] = _tick(raw).run_requests
    assert _keys(request) == {"clean/births", "quarantine/births", "clean/deaths", "quarantine/deaths"}
    assert request.tags[BIRTH_YEARS_TAG] == "2010,2011,2013"


def test_a_file_still_being_written_waits(raw):
    _drop(raw, "births/births_2025_03.csv", BIRTHS, mtime=time.time())
    assert isinstance(_tick(raw), dg.SkipReason)


def test_a_stray_file_is_skipped_and_remembered(raw):
    _drop(raw, "births/README.txt", "notes")
    result = _tick(raw)
    assert not result.run_requests and "births/README.txt" in result.cursor
    assert isinstance(_tick(raw, cursor=result.cursor), dg.SkipReason)


@pytest.mark.parametrize("relative", ["births/b.csv", "reference/postcodes.csv", "opt_outs/ndop_2025-03-01.csv",
                                      "roads/major_roads.gpkg", "greenspace/ndvi_2020.nc"])
def test_every_requested_selection_is_a_valid_subset_of_its_job(raw, relative):
    """Ingestion writes clean and quarantine in one step: a request naming only one would be refused."""
    _drop(raw, relative, "record_id,dob\nx,2010-01-01\n")
    sensor, defs, settings = _sensor_and_defs(raw)
    result = sensor(dg.build_sensor_context(cursor=BASELINE, definitions=defs, resources={"settings": settings}))
    for request in result.run_requests:
        subset = defs.resolve_job_def(request.job_name).get_subset(asset_selection=set(request.asset_selection))
        assert subset is not None


def test_the_first_scan_requests_one_full_build_then_every_birth_year(raw):
    _drop(raw, "births/births_2025_03.csv", BIRTHS)
    _drop(raw, "hes_apc/hes_2024.csv", "record_id,dob\nh1,2010-01-01\n")
    result = _tick(raw, cursor=None)
    [request] = result.run_requests
    assert request.job_name == SHARED_JOB and request.asset_selection is None
    assert request.tags[BIRTH_YEARS_TAG] == "all"
    assert {e.asset_key.to_user_string() for e in result.asset_events} == {"raw/births", "raw/hes_apc"}
    assert isinstance(_tick(raw, cursor=result.cursor), dg.SkipReason)


def test_the_first_scan_of_an_empty_raw_root_waits_for_a_delivery(raw):
    result = _tick(raw, cursor=None)
    assert isinstance(result, dg.SkipReason)

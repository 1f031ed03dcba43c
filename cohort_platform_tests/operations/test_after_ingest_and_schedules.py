"""Birth-year runs after a tagged ingestion run, outputs after the last birth-year run, the two schedules,
and their assembly from the jobs."""

import datetime as dt
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from cohort_platform.defs.operations.schedules import (
    MONTHLY_SCHEDULE,
    QUARTERLY_SCHEDULE,
    build_schedules,
    latest_birth_years,
)
from cohort_platform.defs.operations.sensors import (
    AFTER_INGEST_SENSOR,
    BIRTH_YEARS_TAG,
    CHECK_ALERTS_SENSOR,
    DELIVERY_SENSOR,
    OUTPUTS_SENSOR,
    PARTITION_TAG,
    TRIGGER_TAG,
    birth_year_requests_after,
    build_sensors,
    outputs_request_after,
)
from cohort_platform.orchestration.jobs import BIRTH_YEAR_JOB, OUTPUTS_JOB, SHARED_JOB, build_jobs
from cohort_platform.orchestration.partitions import BIRTH_YEAR

CLEAN_A, CLEAN_B = dg.AssetKey(["clean", "a"]), dg.AssetKey(["clean", "b"])
FROM_A, FROM_B = dg.AssetKey(["research", "from_a"]), dg.AssetKey(["research", "from_b"])
RATES = dg.AssetKey(["outputs", "rates"])
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


@dg.asset(key=CLEAN_A)
def clean_a() -> None: ...


@dg.asset(key=CLEAN_B)
def clean_b() -> None: ...


@dg.asset(key=FROM_A, partitions_def=BIRTH_YEAR, deps=[CLEAN_A])
def from_a() -> None: ...


@dg.asset(key=FROM_B, partitions_def=BIRTH_YEAR, deps=[CLEAN_B])
def from_b() -> None: ...


@dg.asset(key=RATES, deps=[FROM_A, FROM_B])
def rates() -> None:
    """Reads every birth year, like the platform's outputs."""


JOBS = build_jobs([FROM_A, FROM_B])
SENSORS = build_sensors(JOBS)
SCHEDULES = build_schedules(JOBS)
DEFS = dg.Definitions(assets=[clean_a, clean_b, from_a, from_b, rates], jobs=JOBS, sensors=SENSORS,
                      schedules=SCHEDULES)
GRAPH = DEFS.resolve_asset_graph()
PARTITIONED = next(j for j in JOBS if j.name == BIRTH_YEAR_JOB).selection
KEYS = BIRTH_YEAR.get_partition_keys()


def _run(tags, selection=None):
    return SimpleNamespace(run_id="r1", tags=tags, asset_selection=frozenset(selection) if selection else None)


def test_after_ingestion_each_tagged_birth_year_gets_one_run_of_whats_downstream():
    requests = birth_year_requests_after(_run({BIRTH_YEARS_TAG: "2008,2010"}, [CLEAN_A]), GRAPH, PARTITIONED, KEYS)
    assert [(r.partition_key, r.asset_selection) for r in requests] == [("2008", [FROM_A]), ("2010", [FROM_A])]
    assert [r.run_key for r in requests] == ["r1:2008", "r1:2010"]


def test_a_full_ingestion_tagged_all_rebuilds_every_birth_year_of_every_partitioned_asset():
    requests = birth_year_requests_after(_run({BIRTH_YEARS_TAG: "all"}), GRAPH, PARTITIONED, KEYS)
    assert [r.partition_key for r in requests] == KEYS
    assert set(requests[0].asset_selection) == {FROM_A, FROM_B}


def test_an_untagged_ingestion_owes_nothing():
    assert birth_year_requests_after(_run({}, [CLEAN_A]), GRAPH, PARTITIONED, KEYS) == []


@pytest.mark.filterwarnings("ignore::dagster.BetaWarning")
def test_the_follower_runs_on_a_real_successful_run():
    instance = dg.DagsterInstance.ephemeral()
    job = DEFS.resolve_job_def(SHARED_JOB)
    result = job.execute_in_process(instance=instance, tags={BIRTH_YEARS_TAG: "2009"}, asset_selection=[CLEAN_B],
                                    run_config=QUIET)
    success = instance.get_records_for_run(result.run_id, of_type=dg.DagsterEventType.RUN_SUCCESS).records[0]
    context = dg.build_run_status_sensor_context(
        sensor_name=AFTER_INGEST_SENSOR, dagster_event=success.event_log_entry.dagster_event,
        dagster_instance=instance, dagster_run=result.dagster_run, repository_def=DEFS.get_repository_def(),
    )
    follower = next(s for s in SENSORS if s.name == AFTER_INGEST_SENSOR)
    [request] = list(follower(context))
    assert (request.partition_key, request.asset_selection) == ("2009", [FROM_B])


# ------------------------------------------------------------------------ outputs after years
def _succeeded_birth_year_run(instance, year: str, tags: dict[str, str]) -> dg.DagsterRun:
    job = DEFS.resolve_job_def(BIRTH_YEAR_JOB)
    return job.execute_in_process(instance=instance, partition_key=year, tags=tags, run_config=QUIET).dagster_run


def _unfinished_run(instance, job_name: str, status: dg.DagsterRunStatus, tags: dict[str, str] | None = None) -> dg.DagsterRun:
    """A run in `status` (a QUEUED run needs a code location's origin, which an ephemeral instance lacks)."""
    return instance.create_run_for_job(DEFS.resolve_job_def(job_name), status=status, tags=tags)


@pytest.mark.filterwarnings("ignore::dagster.BetaWarning")
def test_after_a_delivery_s_last_birth_year_run_the_outputs_are_refreshed():
    instance = dg.DagsterInstance.ephemeral()
    run = _succeeded_birth_year_run(instance, "2009", {TRIGGER_TAG: "delivery"})
    success = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_SUCCESS).records[0]
    context = dg.build_run_status_sensor_context(
        sensor_name=OUTPUTS_SENSOR, dagster_event=success.event_log_entry.dagster_event,
        dagster_instance=instance, dagster_run=run, repository_def=DEFS.get_repository_def(),
    )
    follower = next(s for s in SENSORS if s.name == OUTPUTS_SENSOR)
    [request] = list(follower(context))
    assert isinstance(request, dg.RunRequest) and request.asset_selection == [RATES]
    assert request.run_key == f"outputs-after:{run.run_id}" and request.tags[TRIGGER_TAG] == "delivery"
    assert request.partition_key is None


def test_the_outputs_wait_while_another_birth_year_run_is_running():
    instance = dg.DagsterInstance.ephemeral()
    run = _succeeded_birth_year_run(instance, "2009", {TRIGGER_TAG: "delivery"})
    _unfinished_run(instance, BIRTH_YEAR_JOB, dg.DagsterRunStatus.STARTED, {PARTITION_TAG: "2010", TRIGGER_TAG: "delivery"})
    result = outputs_request_after(run, instance, [RATES])
    assert isinstance(result, dg.SkipReason) and "2010" in result.skip_message


def test_an_outputs_run_not_yet_reading_will_read_the_new_year():
    instance = dg.DagsterInstance.ephemeral()
    run = _succeeded_birth_year_run(instance, "2009", {TRIGGER_TAG: "monthly_refresh_latest_birth_years"})
    _unfinished_run(instance, OUTPUTS_JOB, dg.DagsterRunStatus.STARTING)
    assert isinstance(outputs_request_after(run, instance, [RATES]), dg.SkipReason)


def test_a_birth_year_run_launched_by_hand_leaves_the_outputs_alone():
    """A run from the UI or a backfill carries no trigger tag: whoever launched it chooses the outputs."""
    instance = dg.DagsterInstance.ephemeral()
    run = _succeeded_birth_year_run(instance, "2009", {})
    assert isinstance(outputs_request_after(run, instance, [RATES]), dg.SkipReason)


def test_a_finished_birth_year_run_does_not_hold_the_outputs_back():
    instance = dg.DagsterInstance.ephemeral()
    _succeeded_birth_year_run(instance, "2008", {TRIGGER_TAG: "delivery"})
    run = _succeeded_birth_year_run(instance, "2009", {TRIGGER_TAG: "delivery"})
    assert isinstance(outputs_request_after(run, instance, [RATES]), dg.RunRequest)


def test_the_sensors_and_schedules_follow_the_jobs():
    assert [s.name for s in SENSORS] == [CHECK_ALERTS_SENSOR, DELIVERY_SENSOR, AFTER_INGEST_SENSOR, OUTPUTS_SENSOR]
    assert [s.name for s in SCHEDULES] == [MONTHLY_SCHEDULE, QUARTERLY_SCHEDULE]
    unpartitioned = build_jobs([])
    assert [s.name for s in build_sensors(unpartitioned)] == [CHECK_ALERTS_SENSOR, DELIVERY_SENSOR]
    assert [s.name for s in build_schedules(unpartitioned)] == [QUARTERLY_SCHEDULE]


def test_everything_is_off_by_default_but_the_harmless_followers():
    status = {s.name: s.default_status for s in [*SENSORS, *SCHEDULES]}
    assert status.pop(AFTER_INGEST_SENSOR) == dg.DefaultSensorStatus.RUNNING
    assert status.pop(OUTPUTS_SENSOR) == dg.DefaultSensorStatus.RUNNING
    assert set(status.values()) <= {dg.DefaultSensorStatus.STOPPED, dg.DefaultScheduleStatus.STOPPED}


@pytest.mark.parametrize(("year", "latest"), [(2025, ["2024", "2025"]), (2007, ["2006", "2007"]), (2006, ["2006"]),
                                               (2005, [])])
def test_the_latest_two_birth_years_are_those_up_to_the_tick(year, latest):
    assert latest_birth_years([str(y) for y in range(2006, 2027)], year) == latest


def _schedule(name):
    return next(s for s in SCHEDULES if s.name == name)


def test_the_monthly_refresh_runs_the_two_latest_birth_years():
    tick = dt.datetime(2025, 2, 1, 3, tzinfo=ZoneInfo("Europe/London"))
    requests = list(_schedule(MONTHLY_SCHEDULE)(dg.build_schedule_context(scheduled_execution_time=tick)))
    assert [r.partition_key for r in requests] == ["2024", "2025"]
    assert requests[0].run_key == "monthly_refresh_latest_birth_years:2025-02:2024"


def test_the_quarterly_backfill_reingests_and_then_asks_for_every_birth_year():
    tick = dt.datetime(2025, 4, 1, 1, tzinfo=ZoneInfo("Europe/London"))
    request = _schedule(QUARTERLY_SCHEDULE)(dg.build_schedule_context(scheduled_execution_time=tick))
    assert request.tags[BIRTH_YEARS_TAG] == "all" and request.asset_selection is None


def _months(schedule) -> set[int]:
    minute, hour, day, months, weekday = schedule.cron_schedule.split()
    assert (day, weekday) == ("1", "*")
    return {int(m) for m in months.split(",")}


def test_between_them_the_schedules_fire_once_every_month():
    monthly, quarterly = _months(_schedule(MONTHLY_SCHEDULE)), _months(_schedule(QUARTERLY_SCHEDULE))
    assert monthly | quarterly == set(range(1, 13)) and not monthly & quarterly
    assert quarterly == {1, 4, 7, 10}


@pytest.fixture(scope="module")
def platform():
    """The platform's own definitions, wired as definitions.py should wire them."""
    from cohort_platform.config import Settings
    from cohort_platform.definitions import ASSETS, CHECKS, partitioned_keys
    from cohort_platform.defs.operations import build_schedules, build_sensors, operations_resources
    from cohort_platform.defs.resources import resources_for

    settings = Settings.from_env({})
    jobs = build_jobs(partitioned_keys(ASSETS))
    defs = dg.Definitions(assets=ASSETS, asset_checks=CHECKS, jobs=jobs, sensors=build_sensors(jobs),
                          schedules=build_schedules(jobs),
                          resources={**resources_for(settings), **operations_resources(settings, env={})})
    return defs, jobs


def test_the_platform_definitions_load_with_operations(platform):
    defs, _ = platform
    dg.Definitions.validate_loadable(defs)
    assert {CHECK_ALERTS_SENSOR, DELIVERY_SENSOR} <= {s.name for s in defs.get_repository_def().sensor_defs}


def test_every_delivery_requests_valid_job_subsets_of_the_platform(platform):
    """A run naming part of a step that cannot be split (ingestion writes clean and quarantine, identifier
    separation writes one table per dataset) would be refused by the daemon: every raw extract's
    delivery, and the birth-year runs after it, must select whole steps."""
    from cohort_platform.contract.datasets import DATASETS, GRIDS
    from cohort_platform.defs.operations.sensors import affected_assets, job_named

    defs, jobs = platform
    graph = defs.resolve_asset_graph()
    birth_year = job_named(jobs, BIRTH_YEAR_JOB)
    partitioned = birth_year.selection if birth_year is not None else None
    for raw in [*DATASETS, *GRIDS, "major_roads"]:
        shared, _ = affected_assets([dg.AssetKey(["raw", raw])], graph, partitioned)
        assert shared, raw
        defs.resolve_job_def(SHARED_JOB).get_subset(asset_selection=set(shared))
        if partitioned is not None:
            run = _run({BIRTH_YEARS_TAG: "2010"}, shared)
            for request in birth_year_requests_after(run, graph, partitioned, ["2010"]):
                defs.resolve_job_def(BIRTH_YEAR_JOB).get_subset(asset_selection=set(request.asset_selection))


def test_a_delivery_s_ingestion_run_stays_within_the_shared_job_and_leaves_the_outputs_for_later(platform):
    """The outputs read every birth year: built in the ingestion run they would publish the years
    before their rebuild. They follow the birth-year runs instead (`outputs_after_birth_years`)."""
    from cohort_platform.contract.datasets import DATASETS, GRIDS
    from cohort_platform.defs.operations.sensors import affected_assets, job_named

    defs, jobs = platform
    graph = defs.resolve_asset_graph()
    shared_job = job_named(jobs, SHARED_JOB).selection.resolve(graph)
    outputs_job = job_named(jobs, OUTPUTS_JOB).selection.resolve(graph)
    partitioned = job_named(jobs, BIRTH_YEAR_JOB).selection
    assert outputs_job, "the platform has outputs downstream of the birth years"
    for raw in [*DATASETS, *GRIDS, "major_roads"]:
        shared, _ = affected_assets([dg.AssetKey(["raw", raw])], graph, partitioned)
        assert set(shared) <= shared_job, f"{raw}: {sorted(k.to_user_string() for k in set(shared) - shared_job)}"

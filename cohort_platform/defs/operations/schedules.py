"""Schedules: a monthly refresh of the two latest birth years and a quarterly full backfill.

- `monthly_refresh_latest_birth_years` (03:00 UK time on the 1st of every month that does not start a
  quarter): one `build_birth_year` run for each of the two latest birth years. The youngest children
  gain the most records between deliveries (admissions, referrals, first school census), so their
  years change most; older years change only through deliveries, which the delivery sensor handles.
  It rebuilds from the clean tables as they stand: ingestion follows deliveries, not the calendar.
- `quarterly_full_backfill` (01:00 UK time on 1 January, April, July and October): one
  `build_shared_assets` run that re-ingests every extract, tagged so that `birth_years_after_ingest`
  then runs every birth year once it succeeds. It catches anything a sensor missed (a delivery while
  it was off, a record whose date of birth was wrong by more than a day).

Both are STOPPED by default (the demo never starts work on its own): turn them on in the UI under
Automation with `dagster dev` running, which starts the daemon that ticks them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import dagster as dg

from cohort_platform.defs.operations.sensors import BIRTH_YEARS_TAG, TRIGGER_TAG, job_named
from cohort_platform.orchestration.jobs import BIRTH_YEAR_JOB, SHARED_JOB
from cohort_platform.orchestration.partitions import BIRTH_YEAR

TIMEZONE = "Europe/London"
MONTHLY_SCHEDULE = "monthly_refresh_latest_birth_years"
QUARTERLY_SCHEDULE = "quarterly_full_backfill"
MONTHLY_CRON = "0 3 1 2,3,5,6,8,9,11,12 *"  # the quarterly backfill covers January, April, July, October
QUARTERLY_CRON = "0 1 1 1,4,7,10 *"
LATEST_YEARS = 2


def latest_birth_years(partition_keys: Sequence[str], year: int, n: int = LATEST_YEARS) -> list[str]:
    """The `n` latest birth-year partitions not after `year` (the schedule's tick), oldest first."""
    eligible = sorted((k for k in partition_keys if int(k) <= year), key=int)
    return eligible[-n:] if n > 0 else []


def build_monthly_refresh(birth_year_job: Any, default_status: dg.DefaultScheduleStatus = dg.DefaultScheduleStatus.STOPPED) -> dg.ScheduleDefinition:
    partitions_def = getattr(birth_year_job, "partitions_def", None) or BIRTH_YEAR

    @dg.schedule(
        name=MONTHLY_SCHEDULE,
        job=birth_year_job,
        cron_schedule=MONTHLY_CRON,
        execution_timezone=TIMEZONE,
        default_status=default_status,
        description=(
            f"Monthly (1st, 03:00 UK, except quarter months): rebuild the {LATEST_YEARS} latest birth years from the "
            "current clean tables. Off by default."
        ),
    )
    def _schedule(context: dg.ScheduleEvaluationContext):
        tick = context.scheduled_execution_time
        years = latest_birth_years(partitions_def.get_partition_keys(), tick.year)
        if not years:
            yield dg.SkipReason(f"no birth-year partition up to {tick.year}")
        for year in years:
            yield dg.RunRequest(run_key=f"{MONTHLY_SCHEDULE}:{tick:%Y-%m}:{year}", partition_key=year,
                                tags={TRIGGER_TAG: MONTHLY_SCHEDULE})

    return _schedule


def build_quarterly_backfill(shared_job: Any, default_status: dg.DefaultScheduleStatus = dg.DefaultScheduleStatus.STOPPED) -> dg.ScheduleDefinition:
    @dg.schedule(
        name=QUARTERLY_SCHEDULE,
        job=shared_job,
        cron_schedule=QUARTERLY_CRON,
        execution_timezone=TIMEZONE,
        default_status=default_status,
        description=(
            "Quarterly (1 Jan/Apr/Jul/Oct, 01:00 UK): re-ingest every extract, then (via the "
            "birth_years_after_ingest sensor) rebuild every birth year. Off by default."
        ),
    )
    def _schedule(context: dg.ScheduleEvaluationContext):
        tick = context.scheduled_execution_time
        return dg.RunRequest(run_key=f"{QUARTERLY_SCHEDULE}:{tick:%Y-%m}",
                             tags={TRIGGER_TAG: QUARTERLY_SCHEDULE, BIRTH_YEARS_TAG: "all"})

    return _schedule


def build_schedules(jobs: Sequence[Any]) -> list[dg.ScheduleDefinition]:
    """The schedules the jobs allow: the monthly refresh only when a partitioned job exists."""
    shared = job_named(jobs, SHARED_JOB)
    birth_year = job_named(jobs, BIRTH_YEAR_JOB)
    schedules = []
    if birth_year is not None:
        schedules.append(build_monthly_refresh(birth_year))
    if shared is not None:
        schedules.append(build_quarterly_backfill(shared))
    return schedules

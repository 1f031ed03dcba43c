"""The jobs the headless build (and the schedules) run, with a hook that prints progress."""


import sys
import time

import dagster as dg

from cohort_platform.orchestration.partitions import BIRTH_YEAR

SHARED_JOB = "build_shared_assets"
BIRTH_YEAR_JOB = "build_birth_year"


@dg.success_hook(name="progress_ok")
def progress_ok(context: dg.HookContext) -> None:
    _progress(context, "done")


@dg.failure_hook(name="progress_failed")
def progress_failed(context: dg.HookContext) -> None:
    _progress(context, "FAILED")


def _progress(context: dg.HookContext, status: str) -> None:
    print(f"  {time.strftime('%H:%M:%S')} {status:6} {context.op.name}", file=sys.stderr, flush=True)


def build_jobs(partitioned_keys: list[dg.AssetKey]) -> list:
    partitioned = dg.AssetSelection.assets(*partitioned_keys) if partitioned_keys else None
    everything = dg.AssetSelection.all()
    shared = everything - partitioned if partitioned is not None else everything
    jobs = [dg.define_asset_job(
        SHARED_JOB, selection=shared, hooks={progress_ok, progress_failed},
        description="Ingestion, reference and environment assets: everything not split by birth year.",
    )]
    if partitioned is not None:
        jobs.append(dg.define_asset_job(
            BIRTH_YEAR_JOB, selection=partitioned, partitions_def=BIRTH_YEAR, hooks={progress_ok, progress_failed},
            description="Every person-level asset of one birth year, from the spine to the research tables.",
        ))
    return jobs

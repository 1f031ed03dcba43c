"""The jobs the headless build (and the schedules) run, with a hook that prints progress."""


import sys
import time

import dagster as dg

from cohort_platform.orchestration.partitions import BIRTH_YEAR

SHARED_JOB = "build_shared_assets"
BIRTH_YEAR_JOB = "build_birth_year"
OUTPUTS_JOB = "build_cohort_outputs"


@dg.success_hook(name="progress_ok")
def progress_ok(context: dg.HookContext) -> None:
    _progress(context, "done")


@dg.failure_hook(name="progress_failed")
def progress_failed(context: dg.HookContext) -> None:
    _progress(context, "FAILED")


def _progress(context: dg.HookContext, status: str) -> None:
    print(f"  {time.strftime('%H:%M:%S')} {status:6} {context.op.name}", file=sys.stderr, flush=True)


def build_jobs(partitioned_keys: list[dg.AssetKey]) -> list:
    """Three jobs, run in this order by the headless build: the shared (unpartitioned) assets, each
    birth year, then the unpartitioned outputs that read every birth year."""
    everything = dg.AssetSelection.all()
    if not partitioned_keys:
        return [dg.define_asset_job(SHARED_JOB, selection=everything, hooks={progress_ok, progress_failed},
                                    description="Every asset.")]
    partitioned = dg.AssetSelection.assets(*partitioned_keys)
    after = partitioned.downstream() - partitioned
    return [
        dg.define_asset_job(
            SHARED_JOB, selection=everything - partitioned - after, hooks={progress_ok, progress_failed},
            description="Ingestion, reference, environment and identifier separation: everything not split by birth year.",
        ),
        dg.define_asset_job(
            BIRTH_YEAR_JOB, selection=partitioned, partitions_def=BIRTH_YEAR, hooks={progress_ok, progress_failed},
            description="Every person-level asset of one birth year, from the link map to the research tables.",
        ),
        dg.define_asset_job(
            OUTPUTS_JOB, selection=after, hooks={progress_ok, progress_failed},
            description="Aggregate outputs across every birth year, released through disclosure control.",
        ),
    ]

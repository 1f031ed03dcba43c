"""The jobs the headless build (and the schedules) run, with a hook that prints progress.

Each job's runs carry tags that the run queue limits (`dagster.yaml`): `cohort/stage` names the
stage, and `cohort/warehouse: write` marks the runs that write the DuckDB warehouse (one at a time).
Birth-year runs store their tables as Parquet partitions and only read the warehouse, so several
run at once (the queue limits them by their `dagster/partition` tag).

Executors: the shared and outputs jobs always run their steps in one process (DuckDB allows one
writing process per file). The birth-year job's executor is chosen by `COHORT_BIRTH_YEAR_EXECUTOR`:
`in_process` (default), `multiprocess`, `celery` (needs dagster-celery) or `k8s` (needs dagster-k8s):
its steps only read the warehouse and each writes its own Parquet files, so they may run in separate
processes, Celery workers or pods sharing `COHORT_HOME`. See docs/scaling.md.
"""


import os
import sys
import time

import dagster as dg

from cohort_platform.orchestration.partitions import BIRTH_YEAR

SHARED_JOB = "build_shared_assets"
BIRTH_YEAR_JOB = "build_birth_year"
OUTPUTS_JOB = "build_cohort_outputs"

STAGE_TAG = "cohort/stage"
WAREHOUSE_TAG = "cohort/warehouse"
STAGE_TAGS = {
    SHARED_JOB: {STAGE_TAG: "shared", WAREHOUSE_TAG: "write"},
    BIRTH_YEAR_JOB: {STAGE_TAG: "birth_year", WAREHOUSE_TAG: "read"},
    OUTPUTS_JOB: {STAGE_TAG: "outputs", WAREHOUSE_TAG: "write"},
}
EXECUTOR_ENV = "COHORT_BIRTH_YEAR_EXECUTOR"
EXECUTORS = ("in_process", "multiprocess", "celery", "k8s")
CELERY_ENV = {"broker": "DAGSTER_CELERY_BROKER_URL", "backend": "DAGSTER_CELERY_BACKEND_URL"}


@dg.success_hook(name="progress_ok")
def progress_ok(context: dg.HookContext) -> None:
    _progress(context, "done")


@dg.failure_hook(name="progress_failed")
def progress_failed(context: dg.HookContext) -> None:
    _progress(context, "FAILED")


def _partition_of(context: dg.HookContext) -> str | None:
    try:
        run = context.instance.get_run_by_id(context.run_id)
    except Exception:  # progress lines must never fail a step
        return None
    return run.tags.get("dagster/partition") if run is not None else None


def _progress(context: dg.HookContext, status: str) -> None:
    partition = _partition_of(context)
    suffix = f" [{partition}]" if partition else ""
    print(f"  {time.strftime('%H:%M:%S')} {status:6} {context.op.name}{suffix}", file=sys.stderr, flush=True)


def birth_year_executor(env: dict[str, str] | None = None) -> dg.ExecutorDefinition:
    """The executor of birth-year runs, from COHORT_BIRTH_YEAR_EXECUTOR (default in_process)."""
    name = (os.environ if env is None else env).get(EXECUTOR_ENV) or "in_process"
    if name == "in_process":
        return dg.in_process_executor
    if name == "multiprocess":
        return dg.multiprocess_executor
    if name == "celery":
        try:
            from dagster_celery import celery_executor
        except ImportError as error:
            raise ImportError(f"{EXECUTOR_ENV}=celery needs dagster-celery: pip install 'cohort_platform[cluster]'") from error
        # broker and result backend from the environment, read when a run starts (deploy/celery/)
        config = {field: {"env": var} for field, var in CELERY_ENV.items() if (os.environ if env is None else env).get(var)}
        return celery_executor.configured(config, name="celery_executor") if config else celery_executor
    if name == "k8s":
        try:
            from dagster_k8s import k8s_job_executor
        except ImportError as error:
            raise ImportError(f"{EXECUTOR_ENV}=k8s needs dagster-k8s: pip install 'cohort_platform[cluster]'") from error
        return k8s_job_executor
    raise ValueError(f"{EXECUTOR_ENV} must be one of {', '.join(EXECUTORS)}, got {name!r}")


def build_jobs(partitioned_keys: list[dg.AssetKey], env: dict[str, str] | None = None) -> list:
    """Three jobs, run in this order by the headless build: the shared (unpartitioned) assets, each
    birth year, then the unpartitioned outputs that read every birth year."""
    everything = dg.AssetSelection.all()
    hooks = {progress_ok, progress_failed}
    if not partitioned_keys:
        return [dg.define_asset_job(SHARED_JOB, selection=everything, hooks=hooks, tags=STAGE_TAGS[SHARED_JOB],
                                    executor_def=dg.in_process_executor, description="Every asset.")]
    partitioned = dg.AssetSelection.assets(*partitioned_keys)
    after = partitioned.downstream() - partitioned
    return [
        dg.define_asset_job(
            SHARED_JOB, selection=everything - partitioned - after, hooks=hooks, tags=STAGE_TAGS[SHARED_JOB],
            executor_def=dg.in_process_executor,
            description="Ingestion, reference, environment and identifier separation: everything not split by birth year.",
        ),
        dg.define_asset_job(
            BIRTH_YEAR_JOB, selection=partitioned, partitions_def=BIRTH_YEAR, hooks=hooks,
            tags=STAGE_TAGS[BIRTH_YEAR_JOB], executor_def=birth_year_executor(env),
            description="Every person-level asset of one birth year, from the link map to the research tables. "
                        "Writes only its own Parquet partitions; reads the warehouse.",
        ),
        dg.define_asset_job(
            OUTPUTS_JOB, selection=after, hooks=hooks, tags=STAGE_TAGS[OUTPUTS_JOB],
            executor_def=dg.in_process_executor,
            description="Aggregate outputs across every birth year, released through disclosure control.",
        ),
    ]

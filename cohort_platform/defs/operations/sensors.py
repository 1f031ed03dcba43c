"""Sensors: alerts on failed checks, runs for new deliveries, and birth years rebuilt after ingestion.

- `check_failure_alerts` reads the ASSET_CHECK_EVALUATION events of every run in progress or updated
  since its last tick, and sends one alert per failed check, blocking (ERROR) or warning (WARN),
  through the `notifier` resource. A WARN failure does not fail its run, so `run_failure_sensor`
  never sees it: the event log does. The cursor holds the time of the last tick and the keys already
  alerted, so each (run, asset, partition, check) alerts exactly once, while its run is still going
  if a tick falls then. With no cursor yet it looks back `lookback_hours`.
- `new_delivery_sensor` scans the raw root, diffs it against its cursor (files with size and mtime:
  each version of a file is processed once; a file still being written waits), and requests one run
  of `build_shared_assets` for the assets downstream of the changed raw extracts (ingestion, and the
  environment grids after a postcode file). Its first scan (no cursor) requests one full build
  instead, since it cannot know what was built before. It records each delivery as a materialization of the raw
  (external) asset, so the UI shows when each extract last arrived. New opt-out snapshots are
  deliveries like any other: the `opt_outs` folder feeds `clean/opt_outs`, and every birth year.
- `birth_years_after_ingest` (a run status sensor) starts the birth-year runs once that ingestion run
  has succeeded: the partitioned assets downstream of what it rebuilt, for the birth years in its
  `cohort/rebuild_birth_years` tag. Chaining on success, rather than queueing both at once, keeps the
  order whatever the run queue allows in parallel, and rebuilds nothing from a failed ingestion.
- `outputs_after_birth_years` (a run status sensor) runs `build_cohort_outputs` once a birth-year run
  that a delivery or a schedule started has succeeded and no birth-year run is queued or running:
  the outputs read every birth year, so the last run of a batch refreshes them, once.

The logic lives in `cohort_platform.orchestration.alerts` and `.deliveries` (plain, tested without
Dagster); this module only reads the instance and the asset graph and builds requests.

All default to STOPPED except the two followers, `birth_years_after_ingest` and
`outputs_after_birth_years`, which act only on runs that a delivery or a schedule tagged, so they are
harmless alone and never forgotten when those are turned on. Turn sensors on in the UI (Automation) with `dagster dev` running: it starts the daemon.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import dagster as dg

from cohort_platform.defs.operations.resources import Notifier
from cohort_platform.defs.resources import CohortSettings
from cohort_platform.orchestration.alerts import Alert, AlertLedger, alert_from_evaluation
from cohort_platform.orchestration.deliveries import (
    DeliveryCursor,
    DeliveryPlan,
    classify,
    delivery_key,
    diff,
    parse_birth_years_tag,
    plan,
    scan,
)
from cohort_platform.orchestration.jobs import BIRTH_YEAR_JOB, OUTPUTS_JOB, SHARED_JOB
from cohort_platform.orchestration.partitions import BIRTH_YEAR

BIRTH_YEARS_TAG = "cohort/rebuild_birth_years"
"""On an ingestion run: the birth years to rebuild after it succeeds (`all` or `2008,2009`)."""
TRIGGER_TAG = "cohort/trigger"
AFTER_RUN_TAG = "cohort/after_run"
PARTITION_TAG = "dagster/partition"

CHECK_ALERTS_SENSOR = "check_failure_alerts"
DELIVERY_SENSOR = "new_delivery_sensor"
AFTER_INGEST_SENSOR = "birth_years_after_ingest"
OUTPUTS_SENSOR = "outputs_after_birth_years"
FOLLOWER_INTERVAL_SECONDS = 10
"""How often the two followers read run events: each link of delivery -> ingestion -> birth years ->
outputs waits at most this long (Dagster's default, 30 s, would add a minute to every delivery)."""


# ------------------------------------------------------------------------------- check alerts
RUNNING_STATUSES = [dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
RUN_WINDOW_MARGIN_SECONDS = 300
"""Runs updated this long before the previous tick are read again: covers clock skew between the
run storage and the sensor, and a run finishing while a tick reads it. The ledger drops repeats."""


def runs_to_read(instance: dg.DagsterInstance, updated_after: float) -> list[dg.DagsterRun]:
    """The runs whose check evaluations may be new: every run in progress (its checks alert while
    it runs) and every run updated (started, finished) since `updated_after` (epoch seconds).

    Read per run, because that works on every event log storage: the default SQLite storage keeps
    one shard per run, where a cross-run cursor over check evaluations is not possible, and
    `get_event_records` (the cross-run query) is deprecated for 2.0."""
    since = dt.datetime.fromtimestamp(updated_after, tz=dt.timezone.utc)
    runs = {r.run_id: r for r in instance.get_runs(filters=dg.RunsFilter(statuses=RUNNING_STATUSES))}
    for record in instance.get_run_records(filters=dg.RunsFilter(updated_after=since), order_by="update_timestamp", ascending=True):
        runs.setdefault(record.dagster_run.run_id, record.dagster_run)
    return list(runs.values())


def check_rule(repository_def: Any, asset_key: dg.AssetKey, check_name: str) -> str | None:
    """The check's declared description (the rule it enforces), when the definitions are at hand."""
    try:
        spec = repository_def.asset_graph.get_check_spec(dg.AssetCheckKey(asset_key, check_name))
    except Exception:  # noqa: BLE001 (no repository in a bare test context, or a check since removed)
        return None
    return spec.description


def failed_check_alerts(instance: dg.DagsterInstance, runs: Iterable[dg.DagsterRun], repository_def: Any = None) -> list[Alert]:
    """An `Alert` for every failed check evaluation of `runs`, in event order; the partition comes
    from the evaluation, else from its run's partition tag."""
    alerts = []
    for run in runs:
        for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
            evaluation = entry.dagster_event.event_specific_data
            if evaluation.passed:
                continue
            alerts.append(alert_from_evaluation(
                evaluation, run_id=run.run_id, timestamp=entry.timestamp, partition=run.tags.get(PARTITION_TAG),
                rule=check_rule(repository_def, evaluation.asset_key, evaluation.check_name),
            ))
    return alerts


def _alert_cursor(text: str | None) -> tuple[float | None, AlertLedger]:
    data = json.loads(text) if text else {}
    return data.get("runs_updated_after"), AlertLedger(data.get("sent", []), capacity=ALERT_LEDGER_CAPACITY)


ALERT_LEDGER_CAPACITY = 5000


def build_check_alert_sensor(
    name: str = CHECK_ALERTS_SENSOR,
    minimum_interval_seconds: int = 30,
    lookback_hours: float = 24,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.STOPPED,
) -> dg.SensorDefinition:
    @dg.sensor(
        name=name,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        description=(
            "One alert per failed asset check (blocking or warning) per run, asset, partition and check: "
            "to the log and <home>/alerts.jsonl, and to the webhook / SMTP channels when "
            "COHORT_ALERT_WEBHOOK / COHORT_ALERT_SMTP are set. Launches no runs. "
            f"When first turned on it looks back {lookback_hours:g} h."
        ),
    )
    def _sensor(context: dg.SensorEvaluationContext, notifier: Notifier) -> dg.SkipReason | None:
        started = time.time()
        previous, ledger = _alert_cursor(context.cursor)
        updated_after = (previous - RUN_WINDOW_MARGIN_SECONDS) if previous is not None else started - lookback_hours * 3600
        runs = runs_to_read(context.instance, updated_after)
        alerts = ledger.admit(failed_check_alerts(context.instance, runs, context.repository_def))
        if alerts:
            report = notifier.send(alerts, context.log)
            context.log.info(f"{len(alerts)} alert(s) from {len(runs)} run(s); sent per channel: {report.sent}")
        context.update_cursor(json.dumps({"runs_updated_after": started, "sent": ledger.keys()}))
        return None if alerts else dg.SkipReason(f"{len(runs)} run(s) read, no check newly failed")

    return _sensor


# ----------------------------------------------------------------------------------- deliveries
def _materializable(keys: Iterable[dg.AssetKey], asset_graph: Any) -> list[dg.AssetKey]:
    return sorted((k for k in keys if asset_graph.has(k) and asset_graph.get(k).is_materializable),
                  key=lambda k: k.to_user_string())


def affected_assets(
    raw_keys: Sequence[dg.AssetKey], asset_graph: Any, partitioned: dg.AssetSelection | None
) -> tuple[list[dg.AssetKey], list[dg.AssetKey]]:
    """The materializable assets downstream of the changed raw extracts: (shared, partitioned).

    Shared: those upstream of every birth year (ingestion and what it feeds). The unpartitioned assets
    downstream of the birth years (the outputs, which read every year) are neither: they must wait
    for the birth-year runs, and `outputs_after_birth_years` runs them after the last one."""
    present = [k for k in raw_keys if asset_graph.has(k)]
    if not present:
        return [], []
    downstream = dg.AssetSelection.assets(*present).downstream(include_self=False)
    if partitioned is None:
        return _materializable(downstream.resolve(asset_graph), asset_graph), []
    shared = _materializable((downstream - partitioned.downstream()).resolve(asset_graph), asset_graph)
    split = _materializable((downstream & partitioned).resolve(asset_graph), asset_graph)
    return shared, split


def _short(files: Sequence[str], n: int = 3) -> str:
    return ", ".join(files[:n]) + (f" (+{len(files) - n} more)" if len(files) > n else "")


def delivery_requests(
    delivery: DeliveryPlan,
    run_key: str,
    shared: Sequence[dg.AssetKey],
    partitioned: Sequence[dg.AssetKey],
) -> list[dg.RunRequest]:
    """One ingestion run for the shared assets, tagged with the birth years to rebuild after it;
    birth-year runs directly only when no shared asset lies in between."""
    tags = {TRIGGER_TAG: "delivery"}
    if shared:
        if partitioned and delivery.birth_years:
            tags[BIRTH_YEARS_TAG] = delivery.birth_years_tag()
        return [dg.RunRequest(run_key=run_key, job_name=SHARED_JOB, asset_selection=list(shared), tags=tags)]
    return [
        dg.RunRequest(run_key=f"{run_key}:{year}", job_name=BIRTH_YEAR_JOB, partition_key=str(year),
                      asset_selection=list(partitioned), tags=tags)
        for year in delivery.birth_years
    ] if partitioned else []


def files_by_raw_asset(files: Iterable[str]) -> dict[tuple[str, ...], tuple[str, ...]]:
    grouped: dict[tuple[str, ...], list[str]] = {}
    for relative in files:
        target = classify(relative)
        if target is not None:
            grouped.setdefault(target.raw_asset, []).append(relative)
    return {k: tuple(v) for k, v in grouped.items()}


def delivery_events(raw_assets: Mapping[tuple[str, ...], Sequence[str]], removed: Sequence[str]) -> list[dg.AssetMaterialization]:
    """A materialization of each raw (external) asset whose files arrived, changed or were removed."""
    return [
        dg.AssetMaterialization(
            asset_key=dg.AssetKey(list(raw)),
            description="Delivery files arrived, changed or were removed.",
            metadata={"files": dg.MetadataValue.json(list(files)),
                      "removed": dg.MetadataValue.json([f for f in files if f in removed])},
        )
        for raw, files in raw_assets.items()
    ]


def first_scan_requests(has_birth_years: bool, key: str) -> list[dg.RunRequest]:
    """With no cursor the sensor cannot know what was built from which file, and an incremental run
    would fail on any clean table never built (a downstream asset reads them all): so the first scan
    requests the whole shared job, then every birth year."""
    tags = {TRIGGER_TAG: "delivery-first-scan"}
    if has_birth_years:
        tags[BIRTH_YEARS_TAG] = "all"
    return [dg.RunRequest(run_key=f"delivery-first-scan:{key}", job_name=SHARED_JOB, tags=tags)]


def build_delivery_sensor(
    shared_job: Any,
    birth_year_job: Any | None = None,
    name: str = DELIVERY_SENSOR,
    minimum_interval_seconds: int = 60,
    settle_seconds: float = 30,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.STOPPED,
) -> dg.SensorDefinition:
    partitioned = birth_year_job.selection if birth_year_job is not None else None
    partitions_def = getattr(birth_year_job, "partitions_def", None) or BIRTH_YEAR

    @dg.sensor(
        name=name,
        jobs=[j for j in (shared_job, birth_year_job) if j is not None],
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        description=(
            "A new, changed or removed file in a raw dataset folder requests a run of the assets it feeds, "
            "then (after that run succeeds) of the birth years it touches; a new opt-out snapshot rebuilds "
            f"every birth year. Files modified in the last {settle_seconds:g} s wait for the next tick."
        ),
    )
    def _sensor(context: dg.SensorEvaluationContext, settings: CohortSettings):
        raw_dir = settings.settings.raw_dir
        cursor = DeliveryCursor.loads(context.cursor)
        current = scan(raw_dir)
        changes, next_cursor = diff(cursor, current, time.time_ns() - int(settle_seconds * 1e9))
        if changes.waiting:
            context.log.info(f"still being written, next tick: {_short(list(changes.waiting))}")
        if not changes:
            return dg.SkipReason("no new delivery files")
        if not context.cursor:
            context.log.info(f"first scan: {len(current)} file(s) present; requesting one full build")
            return dg.SensorResult(run_requests=first_scan_requests(birth_year_job is not None, delivery_key(changes, current)),
                                   cursor=next_cursor.dumps(), asset_events=delivery_events(files_by_raw_asset(changes.files), ()))
        delivery = plan(raw_dir, changes, partitions_def.get_partition_keys())
        if delivery.ignored:
            context.log.warning(f"files with no place in the raw extract contract, ignored: {_short(list(delivery.ignored))}")
        if not delivery:
            return dg.SensorResult(skip_reason=dg.SkipReason("no file feeds an asset"), cursor=next_cursor.dumps())
        raw_keys = [dg.AssetKey(list(k)) for k in delivery.raw_assets]
        shared, split = affected_assets(raw_keys, context.repository_def.asset_graph, partitioned)
        requests = delivery_requests(delivery, "delivery:" + delivery_key(changes, current), shared, split)
        context.log.info(
            f"delivery: {_short(list(delivery.files))} -> {len(shared)} shared asset(s), "
            f"{len(split)} birth-year asset(s) for birth years {delivery.birth_years_tag() or 'none'}"
        )
        return dg.SensorResult(run_requests=requests, cursor=next_cursor.dumps(),
                               asset_events=delivery_events(delivery.raw_assets, changes.removed))

    return _sensor


# ------------------------------------------------------------------------- after ingestion
def birth_year_requests_after(
    run: Any, asset_graph: Any, partitioned: dg.AssetSelection, partition_keys: Sequence[str]
) -> list[dg.RunRequest]:
    """The birth-year runs owed once an ingestion run has succeeded: the partitioned assets
    downstream of what it built, for the years its tag names."""
    years = parse_birth_years_tag(run.tags.get(BIRTH_YEARS_TAG), partition_keys)
    if not years:
        return []
    built = run.asset_selection
    selection = (dg.AssetSelection.assets(*built).downstream() if built else dg.AssetSelection.all()) & partitioned
    keys = _materializable(selection.resolve(asset_graph), asset_graph)
    if not keys:
        return []
    tags = {TRIGGER_TAG: run.tags.get(TRIGGER_TAG, "ingestion"), AFTER_RUN_TAG: run.run_id}
    return [
        dg.RunRequest(run_key=f"{run.run_id}:{year}", partition_key=year, asset_selection=keys, tags=tags)
        for year in years
    ]


def build_after_ingest_sensor(
    shared_job: Any,
    birth_year_job: Any,
    name: str = AFTER_INGEST_SENSOR,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds: int = FOLLOWER_INTERVAL_SECONDS,
) -> dg.SensorDefinition:
    partitioned = birth_year_job.selection
    partitions_def = getattr(birth_year_job, "partitions_def", None) or BIRTH_YEAR

    @dg.run_status_sensor(
        run_status=dg.DagsterRunStatus.SUCCESS,
        name=name,
        monitored_jobs=[shared_job],
        request_job=birth_year_job,
        default_status=default_status,
        minimum_interval_seconds=minimum_interval_seconds,
        description=(
            f"After a `{SHARED_JOB}` run tagged `{BIRTH_YEARS_TAG}` (by a delivery or the quarterly backfill) "
            "succeeds, runs the birth-year assets downstream of what it built, one run per birth year. "
            "Acts on no other run, so it is on by default."
        ),
    )
    def _sensor(context: dg.RunStatusSensorContext):
        requests = birth_year_requests_after(
            context.dagster_run, context.repository_def.asset_graph, partitioned, partitions_def.get_partition_keys()
        )
        if not requests:
            yield dg.SkipReason(f"run {context.dagster_run.run_id} owes no birth-year rebuild")
        yield from requests

    return _sensor


# ------------------------------------------------------------------------ outputs after years
PARTITION_RUNS_PENDING = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]
"""A birth-year run in these states will still write its partition. NOT_STARTED is left out: a run the
daemon launches is QUEUED within its creating tick, so a NOT_STARTED run is one whose launch was abandoned."""
OUTPUTS_RUNS_UNREAD = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.STARTING]
"""An outputs run in these states has not read the research tables yet: it will see every finished year."""


def outputs_request_after(run: Any, instance: dg.DagsterInstance, outputs_keys: Sequence[dg.AssetKey],
                          outputs_job_name: str = OUTPUTS_JOB) -> dg.RunRequest | dg.SkipReason:
    """The outputs run owed after a birth-year run succeeded, or why none is owed (yet).

    Owed only for runs that a delivery or a schedule started (they carry `cohort/trigger`), once no
    run of any birth year is queued or running (the outputs read every year: the last run of a batch
    requests them, whatever order and parallelism the queue allows), and not when an outputs run
    that has not yet read anything is already waiting."""
    if TRIGGER_TAG not in run.tags:
        return dg.SkipReason(f"run {run.run_id} was not started by a delivery or a schedule")
    if not outputs_keys:
        return dg.SkipReason("no output asset lies downstream of the birth years")
    pending = [r for r in instance.get_runs(filters=dg.RunsFilter(statuses=PARTITION_RUNS_PENDING))
               if PARTITION_TAG in r.tags and r.run_id != run.run_id]
    if pending:
        years = ", ".join(sorted({r.tags[PARTITION_TAG] for r in pending}))
        return dg.SkipReason(f"birth-year run(s) still to finish ({years}): the last one requests the outputs")
    waiting = instance.get_runs(filters=dg.RunsFilter(job_name=outputs_job_name, statuses=OUTPUTS_RUNS_UNREAD), limit=1)
    if waiting:
        return dg.SkipReason(f"outputs run {waiting[0].run_id} is waiting and will read every birth year")
    tags = {TRIGGER_TAG: run.tags[TRIGGER_TAG], AFTER_RUN_TAG: run.run_id}
    return dg.RunRequest(run_key=f"outputs-after:{run.run_id}", asset_selection=list(outputs_keys), tags=tags)


def build_outputs_after_years_sensor(
    birth_year_job: Any,
    outputs_job: Any,
    name: str = OUTPUTS_SENSOR,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds: int = FOLLOWER_INTERVAL_SECONDS,
) -> dg.SensorDefinition:
    @dg.run_status_sensor(
        run_status=dg.DagsterRunStatus.SUCCESS,
        name=name,
        monitored_jobs=[birth_year_job],
        request_job=outputs_job,
        default_status=default_status,
        minimum_interval_seconds=minimum_interval_seconds,
        description=(
            f"After a `{BIRTH_YEAR_JOB}` run started by a delivery or a schedule succeeds, and no birth-year run "
            f"is queued or running, runs `{OUTPUTS_JOB}` (the outputs read every birth year). "
            "Acts on no other run, so it is on by default."
        ),
    )
    def _sensor(context: dg.RunStatusSensorContext):
        keys = _materializable(outputs_job.selection.resolve(context.repository_def.asset_graph),
                               context.repository_def.asset_graph)
        yield outputs_request_after(context.dagster_run, context.instance, keys, outputs_job.name)

    return _sensor


# ----------------------------------------------------------------------------------- assembly
def job_named(jobs: Sequence[Any], name: str) -> Any | None:
    return next((j for j in jobs if getattr(j, "name", None) == name), None)


def build_sensors(jobs: Sequence[Any]) -> list[dg.SensorDefinition]:
    """Every sensor, given the jobs of `orchestration.jobs.build_jobs`: the two followers only when a
    partitioned job (and, for the outputs, an outputs job) exists."""
    shared = job_named(jobs, SHARED_JOB)
    birth_year = job_named(jobs, BIRTH_YEAR_JOB)
    outputs = job_named(jobs, OUTPUTS_JOB)
    sensors = [build_check_alert_sensor()]
    if shared is not None:
        sensors.append(build_delivery_sensor(shared, birth_year))
        if birth_year is not None:
            sensors.append(build_after_ingest_sensor(shared, birth_year))
    if birth_year is not None and outputs is not None:
        sensors.append(build_outputs_after_years_sensor(birth_year, outputs))
    return sensors

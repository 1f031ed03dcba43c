"""Operating the platform with the daemon running: a backfill launched from the UI, then a delivery.

One `dagster dev -w workspace.yaml` (web server, daemon, code server) serves the module on 127.0.0.1
and a free port, with a throwaway DAGSTER_HOME holding the repo's `dagster.yaml` (its run queue),
a throwaway COHORT_HOME, a synthetic delivery of three birth years (2006-2008, 150 children each), and
the alert channels pointed at a webhook and an SMTP server on loopback. Everything is driven through
the web server's GraphQL API with the mutations the UI itself sends:

1. **Ingestion.** Jobs > `build_shared_assets` > Materialize all
   (`launchPipelineExecution`), waited for until it succeeds.
2. **Backfill.** Jobs > `build_birth_year` > Materialize all > birth years 2006, 2007 and
   2008 > Launch backfill (`launchPartitionBackfill` with the job's partition set, as the UI sends it):
   the daemon queues one run per birth year and launches them as the run queue allows.
3. **A delivery with the daemon running.** The delivery sensor's cursor is set to the files ingested in
   step 1 (`setSensorCursor`: "everything already ingested", as docs/operations.md says), a new MHSDS
   file with five referrals of children born in 2007 and one bad row is dropped into the raw folder,
   and the delivery and alert sensors are turned on (`startSensor`). The daemon then runs the MHSDS
   ingestion, birth year 2007, and the outputs, and alerts once per failed check on every channel.

About 5 minutes on a quiet 2-core machine, up to twice that on a busy one (about 30 s to load the code
location, 45 s of ingestion, 2 minutes of backfill, 90 s of delivery and alerts); the tests themselves
only read what the fixtures recorded.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pytest

from cohort_platform.defs.resources import open_warehouse
from cohort_platform.orchestration import storage
from cohort_platform.orchestration.deliveries import DeliveryCursor, scan
from cohort_platform_tests.operations.servers import SmtpState, Webhook, smtp_server, webhook_server
from cohort_platform_tests.ui.live import REPO, Server, graphql, serve

pytestmark = pytest.mark.ui

BIRTH_YEARS = ["2006", "2007", "2008"]
CHILDREN_PER_YEAR = 150
CUTOFF = dt.date(2025, 3, 31)
LOCATION = {"repositoryLocationName": "cohort_platform", "repositoryName": "__repository__"}
RUN_SECONDS = 600  # bounds for each wait: generous, the machine is shared
DELIVERED_YEAR = "2007"
NEW_REFERRALS = 5
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}
BACKFILL_DONE = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
# partitioned tables and the columns that identify one row of them
ROW_KEYS = {
    "secure.link_map": "dataset, record_id, role, person_id",  # a mother's record links to each of her twins
    "research.children": "research_id",
    "research.mental_health_referrals": "*",
}


# ------------------------------------------------------------------------------------ GraphQL
def query(live: Live, text: str, **variables) -> dict:
    return graphql(live.server.url, text, variables)


RUN_FIELDS = """runId jobName status creationTime startTime endTime tags { key value }
                assetSelection { path } assetMaterializations { assetKey { path } partition }"""


@dataclass(frozen=True)
class Run:
    run_id: str
    job: str
    status: str
    created: float
    ended: float | None
    tags: dict[str, str]
    selection: frozenset[str]
    materialised: frozenset[tuple[str, str | None]]  # (asset, partition)

    @classmethod
    def from_graphql(cls, node: dict) -> Run:
        return cls(
            run_id=node["runId"], job=node["jobName"], status=node["status"], created=node["creationTime"],
            ended=node["endTime"], tags={t["key"]: t["value"] for t in node["tags"]},
            selection=frozenset("/".join(a["path"]) for a in node["assetSelection"] or []),
            materialised=frozenset(("/".join(m["assetKey"]["path"]), m["partition"]) for m in node["assetMaterializations"]),
        )

    @property
    def partition(self) -> str | None:
        return self.tags.get("dagster/partition")

    @property
    def assets(self) -> set[str]:
        return {asset for asset, _ in self.materialised}


def run(live: Live, run_id: str) -> Run:
    node = query(live, f"query($id: ID!) {{ runOrError(runId: $id) {{ ... on Run {{ {RUN_FIELDS} }} }} }}", id=run_id)
    return Run.from_graphql(node["runOrError"])


def runs_created_after(live: Live, after: float) -> list[Run]:
    nodes = query(live, f"""query($f: RunsFilter) {{ runsOrError(filter: $f) {{ ... on Runs {{ results {{ {RUN_FIELDS} }} }} }} }}""",
                  f={"createdAfter": after})["runsOrError"]["results"]
    return sorted((Run.from_graphql(n) for n in nodes), key=lambda r: r.created)


def job_assets(live: Live, job: str) -> tuple[list[dict], list[dict]]:
    """The job's assets and their checks, as the UI's Materialize all sends them."""
    nodes = query(live, """query($p: PipelineSelector!) { assetNodes(pipeline: $p) { assetKey { path } isMaterializable
                             assetChecksOrError { ... on AssetChecks { checks { name } } } } }""",
                  p={**LOCATION, "pipelineName": job})["assetNodes"]
    assets = [{"path": n["assetKey"]["path"]} for n in nodes if n["isMaterializable"]]
    checks = [{"assetKey": {"path": n["assetKey"]["path"]}, "name": c["name"]}
              for n in nodes if n["isMaterializable"] for c in n["assetChecksOrError"].get("checks", [])]
    return assets, checks


def launch_job_from_the_ui(live: Live, job: str) -> str:
    """Jobs > `job` > Materialize all (an unpartitioned asset job): one run, queued for the daemon."""
    assets, checks = job_assets(live, job)
    answer = query(live, """mutation($e: ExecutionParams!) { launchPipelineExecution(executionParams: $e) {
                              __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }""",
                   e={"mode": "default", "runConfigData": "{}",
                      "executionMetadata": {"tags": [{"key": "dagster/from_ui", "value": "true"}]},
                      "selector": {**LOCATION, "pipelineName": job, "assetSelection": assets, "assetCheckSelection": checks}})
    result = answer["launchPipelineExecution"]
    assert result["__typename"] == "LaunchRunSuccess", result
    return result["run"]["runId"]


def launch_backfill_from_the_ui(live: Live, job: str, partitions: list[str]) -> str:
    """Jobs > `job` > Materialize all > choose partitions > Launch backfill: the parameters the UI's
    LaunchAssetChoosePartitionsDialog sends for an asset job (its partition set, the job's assets)."""
    assets, _ = job_assets(live, job)
    answer = query(live, """mutation($b: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $b) {
                              __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message }
                              ... on PartitionSetNotFoundError { message } ... on PartitionKeysNotFoundError { message } } }""",
                   b={"tags": [{"key": "dagster/from_ui", "value": "true"}], "assetSelection": assets,
                      "partitionNames": partitions, "fromFailure": False,
                      "selector": {"partitionSetName": f"{job}_partition_set", "repositorySelector": LOCATION}})
    result = answer["launchPartitionBackfill"]
    assert result["__typename"] == "LaunchBackfillSuccess", result
    return result["backfillId"]


def sensor_selector(name: str) -> dict:
    return {**LOCATION, "sensorName": name}


def set_sensor_cursor(live: Live, name: str, cursor: str) -> None:
    answer = query(live, """mutation($s: SensorSelector!, $c: String) { setSensorCursor(sensorSelector: $s, cursor: $c) {
                              __typename ... on PythonError { message } } }""", s=sensor_selector(name), c=cursor)
    assert answer["setSensorCursor"]["__typename"] == "Sensor", answer


def start_sensor(live: Live, name: str) -> None:
    answer = query(live, """mutation($s: SensorSelector!) { startSensor(sensorSelector: $s) {
                              __typename ... on Sensor { sensorState { status } } ... on PythonError { message } } }""",
                   s=sensor_selector(name))
    assert answer["startSensor"].get("sensorState", {}).get("status") == "RUNNING", answer


@dataclass(frozen=True)
class Tick:
    status: str
    timestamp: float
    run_ids: tuple[str, ...]
    skip_reason: str | None


def ticks(live: Live, name: str) -> list[Tick]:
    """The sensor's ticks, oldest first."""
    answer = query(live, """query($s: SensorSelector!) { sensorOrError(sensorSelector: $s) { ... on Sensor {
                              sensorState { ticks(limit: 100) { status timestamp runIds skipReason } } } } }""",
                   s=sensor_selector(name))
    found = answer["sensorOrError"]["sensorState"]["ticks"]
    return sorted((Tick(t["status"], t["timestamp"], tuple(t["runIds"]), t["skipReason"]) for t in found),
                  key=lambda t: t.timestamp)


def wait_for(what: str, probe, seconds: float = RUN_SECONDS, every: float = 3):
    """`probe()` until it returns something true (bounded); the last answer goes into the failure."""
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every)
    pytest.fail(f"timed out after {seconds:g} s waiting for {what}; last answer: {last!r}")


# ---------------------------------------------------------------------------------- warehouse
def rows_by_birth_year(home: Path, table: str) -> dict[int, tuple[int, int]]:
    """birth year -> (rows, distinct rows by the table's key), read through the warehouse.

    The warehouse reaches birth-year partitions through views over their Parquet files
    (`orchestration.storage`); they are refreshed first, so that what is counted is what is on disk
    now, whichever run refreshed them last."""
    key = ROW_KEYS[table]
    distinct = f"select distinct * from {table}" if key == "*" else f"select distinct birth_year, {key} from {table}"
    con = open_warehouse(home / "warehouse.duckdb")
    try:
        storage.refresh_partition_views(con, home)
        rows = dict(con.execute(f"select birth_year, count(*) from {table} group by 1").fetchall())
        unique = dict(con.execute(f"select birth_year, count(*) from ({distinct}) group by 1").fetchall())
    finally:
        con.close()
    return {int(year): (count, unique[year]) for year, count in rows.items()}


# ------------------------------------------------------------------------------------ fixtures
@dataclass
class Live:
    server: Server
    raw: Path
    home: Path
    dagster_home: Path
    webhook: Webhook
    smtp: SmtpState


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[Live]:
    from cohort_platform.synth.generate import generate

    tmp = tmp_path_factory.mktemp("daemon")
    raw, home, dagster_home = tmp / "raw", tmp / "home", tmp / "dagster_home"
    generate(raw, tmp / "truth", [int(y) for y in BIRTH_YEARS], CHILDREN_PER_YEAR, seed=6, cutoff=CUTOFF)
    dagster_home.mkdir()
    shutil.copy(REPO / "dagster.yaml", dagster_home / "dagster.yaml")
    with webhook_server() as hook, smtp_server() as mail:
        env = {**os.environ, "DAGSTER_HOME": str(dagster_home), "DAGSTER_DISABLE_TELEMETRY": "1",
               "COHORT_HOME": str(home), "COHORT_RAW_DIR": str(raw), "COHORT_CUTOFF": CUTOFF.isoformat(),
               "COHORT_PSEUDONYM_KEY": "ab" * 32, "COHORT_ALERT_WEBHOOK": hook.url,
               "COHORT_ALERT_SMTP": f"smtp://{mail.host}:{mail.port}?from=alerts@example.org&to=cohort-team@example.org"}
        with serve(["dagster", "dev"], env, tmp / "dagster_dev.log") as server:
            yield Live(server=server, raw=raw, home=home, dagster_home=dagster_home, webhook=hook, smtp=mail)


@dataclass
class Backfill:
    ingestion: Run
    backfill_id: str
    runs: list[Run]
    rows: dict[str, dict[int, tuple[int, int]]] = field(default_factory=dict)  # table -> year -> counts


def backfill_state(live: Live, backfill_id: str) -> tuple[str, dict[str, str]]:
    """The backfill's status and its runs' statuses, by run id."""
    node = query(live, """query($id: String!) { partitionBackfillOrError(backfillId: $id) {
                            ... on PartitionBackfill { status runs { runId status } } } }""",
                 id=backfill_id)["partitionBackfillOrError"]
    return node["status"], {r["runId"]: r["status"] for r in node["runs"]}


def runs_finished(live: Live, backfill_id: str, count: int) -> list[str] | None:
    _, runs = backfill_state(live, backfill_id)
    return list(runs) if len(runs) == count and set(runs.values()) <= TERMINAL else None


@pytest.fixture(scope="module")
def backfill(live) -> Backfill:
    """Step 1 (ingestion from the UI, until it succeeds), then step 2 (the backfill, until done)."""
    ingestion_id = launch_job_from_the_ui(live, "build_shared_assets")
    ingestion = wait_for("the ingestion run", lambda: (r := run(live, ingestion_id)).status in TERMINAL and r)
    assert ingestion.status == "SUCCESS", f"ingestion failed; see {live.server.log}"
    backfill_id = launch_backfill_from_the_ui(live, "build_birth_year", BIRTH_YEARS)
    # its runs, not its status: the daemon marks a backfill complete at its next tick, up to 30 s later
    run_ids = wait_for("the backfill's runs", lambda: runs_finished(live, backfill_id, len(BIRTH_YEARS)))
    outcome = Backfill(ingestion=ingestion, backfill_id=backfill_id, runs=[run(live, i) for i in run_ids])
    outcome.rows = {table: rows_by_birth_year(live.home, table) for table in ROW_KEYS}
    return outcome


MHSDS_HEADER = ("record_id,nhs_number,dob,sex,postcode,referral_date,source_of_referral,primary_reason,"
                "service_type,discharge_date,provider_code")


def new_mhsds_delivery(home: Path) -> str:
    """Five referrals of children born in 2007 (their identifiers as registered at birth, dates of birth
    away from New Year so that no other birth year is a linkage candidate, none opted out) and one row
    with sex 7, not a code: quarantined, it breaks the 1% value-validity threshold of clean/mhsds (a
    WARN check)."""
    con = open_warehouse(home / "warehouse.duckdb")
    try:
        children = con.execute(
            "select nhs_number, dob, sex, postcode from clean.births where year(dob) = ? and nhs_number_valid "
            "and postcode_valid and month(dob) between 2 and 11 "
            "and nhs_number not in (select nhs_number from clean.opt_outs where nhs_number is not null) "
            "order by record_id limit ?",
            [int(DELIVERED_YEAR), NEW_REFERRALS]).fetchall()
    finally:
        con.close()
    assert len(children) == NEW_REFERRALS
    rows = [f"MHNEW{i},{nhs},{dob},{sex},{postcode},2024-05-0{i + 1},A1,11,C03,,R16"
            for i, (nhs, dob, sex, postcode) in enumerate(children)]
    nhs, dob, _, postcode = children[0]
    rows.append(f"MHNEW9,{nhs},{dob},7,{postcode},2024-06-01,A1,11,C03,,R16")
    return "\n".join([MHSDS_HEADER, *rows]) + "\n"


@dataclass
class Delivery:
    dropped_at: float
    runs: list[Run]
    delivery_ticks: list[Tick]
    alerts: list[dict]
    rows: dict[str, dict[int, tuple[int, int]]]


@pytest.fixture(scope="module")
def delivery(live, backfill) -> Delivery:
    """Step 3: the sensors on, a new MHSDS file, and the daemon's runs until the outputs are rebuilt."""
    set_sensor_cursor(live, "new_delivery_sensor", DeliveryCursor(scan(live.raw)).dumps())
    path = live.raw / "mhsds" / "mhsds_2025-q1.csv"
    path.write_text(new_mhsds_delivery(live.home))
    copied = time.time() - 120  # copied with the provider's timestamp (cp -p): settled, as a finished copy is
    os.utime(path, (copied, copied))
    dropped_at = time.time()
    start_sensor(live, "check_failure_alerts")
    start_sensor(live, "new_delivery_sensor")

    def chain_done() -> list[Run] | None:
        runs = runs_created_after(live, dropped_at)
        if any(r.status in {"FAILURE", "CANCELED"} for r in runs):
            return runs
        outputs = [r for r in runs if r.job == "build_cohort_outputs"]
        return runs if outputs and all(r.status in TERMINAL for r in runs) else None

    runs = wait_for("the delivery's runs up to the outputs", chain_done)
    last_end = max(r.ended or 0 for r in runs)
    # a later tick of the delivery sensor (every 60 s) sees the file again, and one alert tick (every 30 s)
    # begins after the last run ended
    wait_for("a second tick of the delivery sensor", lambda: len([t for t in ticks(live, "new_delivery_sensor")
                                                                  if t.status != "STARTED"]) >= 2)
    wait_for("an alert tick after the last run", lambda: any(
        t.timestamp > last_end and t.status != "STARTED" for t in ticks(live, "check_failure_alerts")))
    alerts_file = live.home / "alerts.jsonl"
    alerts = [json.loads(line) for line in alerts_file.read_text().splitlines()] if alerts_file.exists() else []
    return Delivery(dropped_at=dropped_at, runs=runs, delivery_ticks=ticks(live, "new_delivery_sensor"),
                    alerts=alerts, rows={table: rows_by_birth_year(live.home, table) for table in ROW_KEYS})


# ------------------------------------------------------------------------- the asset graph's word
@pytest.fixture(scope="module")
def graph():
    from cohort_platform.definitions import defs

    return defs.resolve_asset_graph()


def _names(keys) -> set[str]:
    return {k.to_user_string() for k in keys}


def partitioned(graph) -> dg.AssetSelection:
    return dg.AssetSelection.assets(*[k for k in graph.materializable_asset_keys if graph.get(k).is_partitioned])


def downstream_of_mhsds(graph) -> dg.AssetSelection:
    return dg.AssetSelection.assets(dg.AssetKey(["raw", "mhsds"])).downstream(include_self=False)


def materializable(graph, selection: dg.AssetSelection) -> set[str]:
    return _names(k for k in selection.resolve(graph) if k in graph.materializable_asset_keys)


# ------------------------------------------------------------------------------------ backfill
def test_the_ingestion_launched_from_the_ui_builds_every_shared_asset(backfill, graph):
    shared = materializable(graph, dg.AssetSelection.all() - partitioned(graph).downstream())
    assert backfill.ingestion.assets == shared


def test_a_backfill_of_three_birth_years_launched_from_the_ui_runs_each_year_once_successfully(backfill):
    assert sorted(r.partition for r in backfill.runs) == BIRTH_YEARS
    assert {r.status for r in backfill.runs} == {"SUCCESS"}


def test_each_backfill_run_materialises_every_birth_year_asset_of_its_year(backfill, graph):
    expected = materializable(graph, partitioned(graph))
    for r in backfill.runs:
        assert r.materialised == {(asset, r.partition) for asset in expected}, r.partition


@pytest.mark.parametrize("table", ["secure.link_map", "research.children"])
def test_the_warehouse_holds_exactly_the_three_backfilled_birth_years_once(backfill, table):
    rows = backfill.rows[table]
    assert sorted(rows) == [int(y) for y in BIRTH_YEARS]
    for year, (count, distinct) in rows.items():
        assert count > 0 and count == distinct, f"{table}[{year}]: {count - distinct} duplicated rows"


# ------------------------------------------------------------------------------------ delivery
def _after(delivery: Delivery, job: str) -> list[Run]:
    return [r for r in delivery.runs if r.job == job]


def test_the_delivery_starts_one_ingestion_one_birth_year_and_one_outputs_run_and_nothing_else(delivery):
    assert [(r.job, r.partition) for r in delivery.runs] == [
        ("build_shared_assets", None), ("build_birth_year", DELIVERED_YEAR), ("build_cohort_outputs", None)]
    assert {r.status for r in delivery.runs} == {"SUCCESS"}


def test_the_ingestion_run_rebuilds_mhsds_and_what_it_feeds_up_to_the_birth_years(delivery, graph):
    [ingestion] = _after(delivery, "build_shared_assets")
    expected = materializable(graph, downstream_of_mhsds(graph) - partitioned(graph).downstream())
    assert ingestion.assets == expected
    assert {"clean/mhsds", "quarantine/mhsds"} <= ingestion.assets
    others = {a for a in ingestion.assets if a.split("/")[0] in {"clean", "quarantine"}} - {"clean/mhsds", "quarantine/mhsds"}
    assert not others, f"other datasets were ingested again: {sorted(others)}"


def test_only_the_birth_year_of_the_delivered_rows_is_rebuilt(delivery, graph):
    [year_run] = _after(delivery, "build_birth_year")
    expected = materializable(graph, downstream_of_mhsds(graph) & partitioned(graph))
    assert year_run.materialised == {(asset, DELIVERED_YEAR) for asset in expected}


def test_the_outputs_are_refreshed_once_after_the_birth_year(delivery, graph):
    [year_run] = _after(delivery, "build_birth_year")
    [outputs] = _after(delivery, "build_cohort_outputs")
    assert outputs.created >= year_run.ended
    assert outputs.assets == materializable(graph, partitioned(graph).downstream() - partitioned(graph))
    assert outputs.tags["cohort/after_run"] == year_run.run_id


def test_the_delivered_file_is_processed_once(delivery):
    finished = [t for t in delivery.delivery_ticks if t.status != "STARTED"]
    requesting = [t for t in finished if t.run_ids]
    assert len(requesting) == 1 and len(requesting[0].run_ids) == 1
    later = [t for t in finished if t.timestamp > requesting[0].timestamp]
    assert later and all(t.status == "SKIPPED" and not t.run_ids for t in later), later


def test_the_new_referrals_reach_the_research_table_of_their_birth_year_only(backfill, delivery):
    before = backfill.rows["research.mental_health_referrals"]
    after = delivery.rows["research.mental_health_referrals"]
    year = int(DELIVERED_YEAR)
    assert after[year][0] - before.get(year, (0, 0))[0] == NEW_REFERRALS
    assert {y: c for y, c in after.items() if y != year} == {y: c for y, c in before.items() if y != year}


def test_a_rebuilt_birth_year_replaces_its_link_map_rows_rather_than_adding_to_them(backfill, delivery):
    before, after = backfill.rows["secure.link_map"], delivery.rows["secure.link_map"]
    year = int(DELIVERED_YEAR)
    rows, distinct = after[year]
    assert rows == distinct, f"{rows - distinct} duplicated rows"
    assert rows - before[year][0] == NEW_REFERRALS  # the new referrals' links, nothing twice
    assert {y: c for y, c in after.items() if y != year} == {y: c for y, c in before.items() if y != year}


# -------------------------------------------------------------------------------------- alerts
def failed_checks(live: Live, run_ids) -> list[tuple[str, str, str]]:
    """(run, asset, check) of every failed check evaluation of these runs, read from the instance."""
    instance = dg.DagsterInstance.from_config(str(live.dagster_home))
    try:
        found = []
        for run_id in run_ids:
            for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
                evaluation = entry.dagster_event.event_specific_data
                if not evaluation.passed:
                    found.append((run_id, evaluation.asset_key.to_user_string(), evaluation.check_name))
        return found
    finally:
        instance.dispose()


def _every_run(backfill: Backfill, delivery: Delivery) -> list[str]:
    return [backfill.ingestion.run_id, *(r.run_id for r in backfill.runs), *(r.run_id for r in delivery.runs)]


def test_every_failed_check_alerts_exactly_once_in_alerts_jsonl(live, backfill, delivery):
    expected = failed_checks(live, _every_run(backfill, delivery))
    got = [(a["run_id"], a["asset"], a["check"]) for a in delivery.alerts]
    assert expected, "no check failed: nothing to alert on"
    assert sorted(got) == sorted(expected)


def test_the_webhook_and_the_mail_channel_each_get_one_alert_per_failed_check(live, delivery):
    summaries = sorted(a["summary"] for a in delivery.alerts)
    assert sorted(p["text"] for p in live.webhook.posts) == summaries
    assert sorted(m.message.get_content().splitlines()[0] for m in live.smtp.mails) == summaries


def test_the_delivered_bad_row_fails_a_check_that_alerts_once_on_each_channel(delivery, live):
    [ingestion] = _after(delivery, "build_shared_assets")
    mine = [a for a in delivery.alerts if (a["run_id"], a["asset"], a["check"]) == (ingestion.run_id, "clean/mhsds", "value_validity")]
    assert len(mine) == 1 and mine[0]["severity"] == "WARN", mine
    assert [p["text"] for p in live.webhook.posts].count(mine[0]["summary"]) == 1
    assert [m.message.get_content().splitlines()[0] for m in live.smtp.mails].count(mine[0]["summary"]) == 1


# Last in the module, so that the daemon's next backfill tick (every 30 s) has passed meanwhile.
def test_the_backfill_launched_from_the_ui_completes(live, backfill):
    status = wait_for("the backfill's status", lambda: (s := backfill_state(live, backfill.backfill_id)[0]) in BACKFILL_DONE and s,
                      seconds=120)
    assert status == "COMPLETED_SUCCESS"

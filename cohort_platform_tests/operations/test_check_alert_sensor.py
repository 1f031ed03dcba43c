"""The alert sensor on a real (temporary, on-disk) instance: failed checks of materialised assets
become alerts, one per (run, asset, partition, check) and notifier."""

import json

import dagster as dg
import pytest

from cohort_platform.defs.operations.resources import Notifier
from cohort_platform.defs.operations.sensors import build_check_alert_sensor
from cohort_platform_tests.operations.servers import webhook_server

KEY = dg.AssetKey(["clean", "tiny"])


@dg.asset(key=KEY)
def tiny() -> int:
    return 1


@dg.asset_check(asset=KEY, name="warn_fails", description="Values are all plausible.")
def warn_fails() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN,
                               description="2 implausible values", metadata={"implausible": 2})


@dg.asset_check(asset=KEY, name="error_fails", blocking=True, description="Keys are unique.")
def error_fails() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.ERROR, metadata={"duplicated_rows": 3})


@dg.asset_check(asset=KEY, name="passes")
def passes() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(passed=True)


SENSOR = build_check_alert_sensor()
CHECKS = [warn_fails, error_fails, passes]
QUIET = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def _materialise(instance, partition_tag: str | None = None) -> str:
    tags = {"dagster/partition": partition_tag} if partition_tag else None
    return dg.materialize([tiny, *CHECKS], instance=instance, raise_on_error=False, tags=tags, run_config=QUIET).run_id


def _tick(instance, home, cursor=None, notifier=None):
    notifier = notifier or Notifier(home=str(home))
    defs = dg.Definitions(assets=[tiny], asset_checks=CHECKS, sensors=[SENSOR], resources={"notifier": notifier})
    context = dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs, resources={"notifier": notifier})
    result = SENSOR(context)
    return result, context.cursor


def _alerts(home):
    path = home / "alerts.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """Run 1, a tick that sees it (its cursor kept), then run 2 of birth year 2008."""
    with dg.instance_for_test() as instance:
        first = _materialise(instance)
        _, cursor_after_first = _tick(instance, tmp_path_factory.mktemp("scratch"))
        second = _materialise(instance, partition_tag="2008")
        yield instance, first, second, cursor_after_first


def test_each_failed_check_blocking_or_warning_alerts_exactly_once_per_run(history, tmp_path):
    instance, first, second, _ = history
    _tick(instance, tmp_path)
    alerts = _alerts(tmp_path)
    assert sorted((a["run_id"], a["check"], a["severity"]) for a in alerts) == sorted([
        (first, "error_fails", "ERROR"), (first, "warn_fails", "WARN"),
        (second, "error_fails", "ERROR"), (second, "warn_fails", "WARN"),
    ])
    assert {a["asset"] for a in alerts} == {"clean/tiny"}


def test_passing_checks_raise_no_alert(history, tmp_path):
    _tick(history[0], tmp_path)
    assert "passes" not in {a["check"] for a in _alerts(tmp_path)}


def test_the_alert_carries_the_rule_what_failed_and_the_partition(history, tmp_path):
    instance, first, second, _ = history
    _tick(instance, tmp_path)
    by = {(a["run_id"], a["check"]): a for a in _alerts(tmp_path)}
    assert by[first, "warn_fails"]["rule"] == "Values are all plausible."
    assert by[first, "warn_fails"]["description"] == "2 implausible values"
    assert by[first, "error_fails"]["description"] == "duplicated_rows=3" and by[first, "error_fails"]["blocking"] is True
    assert by[first, "warn_fails"]["partition"] is None and by[second, "warn_fails"]["partition"] == "2008"


def test_a_second_tick_sends_nothing_again(history, tmp_path):
    instance = history[0]
    _, cursor = _tick(instance, tmp_path)
    result, _ = _tick(instance, tmp_path, cursor=cursor)
    assert isinstance(result, dg.SkipReason)
    assert len(_alerts(tmp_path)) == 4


def test_after_a_tick_only_the_newer_run_alerts(history, tmp_path):
    instance, first, second, cursor_after_first = history
    _tick(instance, tmp_path, cursor=cursor_after_first)
    assert {a["run_id"] for a in _alerts(tmp_path)} == {second} and len(_alerts(tmp_path)) == 2


def test_runs_read_again_in_the_overlap_window_do_not_alert_again(history, tmp_path):
    instance = history[0]
    _, cursor = _tick(instance, tmp_path)
    state = json.loads(cursor)
    overlap = json.dumps({"runs_updated_after": 0, "sent": state["sent"]})  # every run again, same ledger
    _tick(instance, tmp_path, cursor=overlap)
    assert len(_alerts(tmp_path)) == 4


def test_every_notifier_gets_exactly_one_alert_per_failed_check(history, tmp_path):
    instance, first, second, cursor_after_first = history
    with webhook_server() as hook:
        notifier = Notifier(home=str(tmp_path), webhook_url=hook.url)
        _, cursor = _tick(instance, tmp_path, notifier=notifier, cursor=cursor_after_first)
        _tick(instance, tmp_path, notifier=notifier, cursor=cursor)
    texts = [p["text"] for p in hook.posts]
    assert len(texts) == 2 and len(_alerts(tmp_path)) == 2
    assert sum("warn_fails" in t for t in texts) == 1 and sum("error_fails" in t for t in texts) == 1
    assert all(second in t for t in texts)


def test_the_channels_are_configured_from_the_environment_without_showing_secrets(history, tmp_path, monkeypatch):
    instance, _, second, cursor_after_first = history
    with webhook_server() as hook:
        monkeypatch.setenv("COHORT_ALERT_WEBHOOK", hook.url)
        notifier = Notifier.from_env(str(tmp_path))
        assert notifier.webhook_url == "COHORT_ALERT_WEBHOOK" and notifier.smtp is None  # the name, not the URL
        _tick(instance, tmp_path, notifier=notifier, cursor=cursor_after_first)
    assert len(hook.posts) == 2


def test_without_variables_only_the_log_and_jsonl_are_used(tmp_path):
    notifier = Notifier.from_env(str(tmp_path), env={})
    assert [n.name for n in notifier.notifiers()] == ["log", "jsonl"]

"""Alerts without Dagster's machinery: building them, deduplicating them, JSONL, dispatch, SMTP spec."""

import json
import logging
from types import SimpleNamespace

import dagster as dg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cohort_platform.orchestration.alerts import (
    ALERTS_FILE,
    Alert,
    AlertLedger,
    JsonlNotifier,
    LogNotifier,
    SmtpNotifier,
    WebhookNotifier,
    alert_from_evaluation,
    dispatch,
    notifiers_from_env,
    parse_smtp_spec,
)

T0 = 1_700_000_000.0


def _alert(run="r1", asset="clean/births", partition=None, check="record_id_unique", severity="ERROR") -> Alert:
    return Alert(asset=asset, check=check, severity=severity, partition=partition, run_id=run,
                 time="2023-11-14T22:13:20+00:00", rule="keys are unique.", description="duplicated_rows=3")


def _evaluation(**kw):
    base = dict(
        asset_key=dg.AssetKey(["clean", "births"]), check_name="contract_expectations", passed=False,
        severity=dg.AssetCheckSeverity.WARN, description="failed: nhs_number valid in 95% of rows",
        metadata={"failed": 1, "results": [{"expectation": "x", "success": False}]},
    )
    return dg.AssetCheckEvaluation(**{**base, **kw})


def test_an_alert_names_asset_partition_check_severity_rule_and_run():
    alert = alert_from_evaluation(_evaluation(), run_id="abc123", timestamp=T0, partition="2008",
                                  rule="GX suite from the contract.")
    assert (alert.asset, alert.check, alert.severity, alert.partition, alert.run_id) == (
        "clean/births", "contract_expectations", "WARN", "2008", "abc123")
    assert alert.rule == "GX suite from the contract."
    assert alert.description == "failed: nhs_number valid in 95% of rows"
    assert alert.time == "2023-11-14T22:13:20+00:00"
    for part in ("clean/births", "2008", "contract_expectations", "WARN", "abc123", "GX suite", "95%"):
        assert part in alert.summary


def test_the_summary_carries_no_link():
    alert = alert_from_evaluation(_evaluation(), run_id="abc123", timestamp=T0)
    assert "http" not in alert.summary and "://" not in alert.summary


def test_an_evaluation_without_description_is_explained_by_its_metadata():
    alert = alert_from_evaluation(_evaluation(description=None, metadata={"rows": 10, "duplicated_rows": 2}),
                                  run_id="r", timestamp=T0)
    assert alert.description == "rows=10; duplicated_rows=2"
    assert alert.metadata == {"rows": 10, "duplicated_rows": 2}


def test_the_evaluations_own_partition_wins_over_the_runs_tag():
    alert = alert_from_evaluation(_evaluation(partition="2010"), run_id="r", timestamp=T0, partition="2008")
    assert alert.partition == "2010"


def test_any_object_shaped_like_an_evaluation_will_do():
    fake = SimpleNamespace(asset_key=SimpleNamespace(path=["environment", "no2"]), check_name="land_coverage",
                           severity="WARN", description=None, metadata={}, blocking=False, partition=None)
    alert = alert_from_evaluation(fake, run_id="r", timestamp=T0)
    assert alert.asset == "environment/no2" and alert.description == "no detail given"
    assert alert.rule == "the check `land_coverage` passes."


def test_a_check_evaluated_twice_in_one_run_alerts_once():
    ledger = AlertLedger()
    assert ledger.admit([_alert(), _alert()]) == [_alert()]
    assert ledger.admit([_alert()]) == []


def test_the_same_check_alerts_again_in_another_run_or_partition():
    ledger = AlertLedger([_alert().key])
    fresh = ledger.admit([_alert(run="r2"), _alert(partition="2009"), _alert(check="other")])
    assert len(fresh) == 3


def test_the_ledger_forgets_the_oldest_keys_beyond_its_capacity():
    ledger = AlertLedger(capacity=2)
    ledger.admit([_alert(run="a"), _alert(run="b"), _alert(run="c")])
    assert [k[0] for k in ledger.keys()] == ["b", "c"]


@given(st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from(["clean/x", "clean/y"]),
                          st.sampled_from([None, "2008"]), st.sampled_from(["k1", "k2"]))))
def test_admitting_any_sequence_passes_each_key_exactly_once(keys):
    ledger = AlertLedger()
    alerts = [_alert(run=r, asset=a, partition=p, check=c) for r, a, p, c in keys]
    first = ledger.admit(alerts)
    assert len(first) == len({a.key for a in alerts})
    assert ledger.admit(alerts) == []


def test_jsonl_appends_one_json_object_per_alert(tmp_path):
    notifier = JsonlNotifier(tmp_path / "home" / ALERTS_FILE)
    notifier.send(_alert(severity="WARN", partition="2008"))
    notifier.send(_alert(check="value_validity"))
    lines = (tmp_path / "home" / ALERTS_FILE).read_text().splitlines()
    assert len(lines) == 2
    first = json.loads(lines[0])
    assert first["asset"] == "clean/births" and first["partition"] == "2008" and first["severity"] == "WARN"
    assert first["run_id"] == "r1" and first["rule"] == "keys are unique." and "summary" in first
    assert json.loads(lines[1])["check"] == "value_validity"


def test_the_log_notifier_logs_errors_as_errors_and_warnings_as_warnings(caplog):
    logger = logging.getLogger("alerts-test")
    with caplog.at_level(logging.WARNING, logger="alerts-test"):
        LogNotifier(logger).send(_alert(severity="ERROR"))
        LogNotifier(logger).send(_alert(severity="WARN"))
    assert [r.levelno for r in caplog.records] == [logging.ERROR, logging.WARNING]


class _Broken:
    name = "broken"

    def __init__(self):
        self.calls = 0

    def send(self, alert):
        self.calls += 1
        raise ConnectionError("down")


def test_a_failing_notifier_is_logged_not_raised_and_not_retried_within_the_batch(tmp_path, caplog):
    broken, jsonl = _Broken(), JsonlNotifier(tmp_path / ALERTS_FILE)
    with caplog.at_level(logging.ERROR):
        report = dispatch([_alert(run="a"), _alert(run="b")], [broken, jsonl])
    assert broken.calls == 1
    assert report.sent == {"broken": 0, "jsonl": 2} and report.failed == {"broken": 2}
    assert "broken failed" in caplog.text and "ConnectionError" in caplog.text
    assert len((tmp_path / ALERTS_FILE).read_text().splitlines()) == 2


def test_default_notifiers_are_the_log_and_jsonl(tmp_path):
    notifiers = notifiers_from_env({}, tmp_path)
    assert [n.name for n in notifiers] == ["log", "jsonl"]
    assert notifiers[1].path == tmp_path / ALERTS_FILE


def test_webhook_and_smtp_join_when_their_variables_are_set(tmp_path):
    env = {"COHORT_ALERT_WEBHOOK": "https://hooks.example.org/T000/B000/XXXX",
           "COHORT_ALERT_SMTP": "smtp://mail.example.org?from=a@example.org&to=b@example.org"}
    notifiers = notifiers_from_env(env, tmp_path)
    assert [n.name for n in notifiers] == ["log", "jsonl", "webhook", "smtp"]
    assert "XXXX" not in repr(notifiers[2])


def test_a_malformed_channel_is_left_out_and_logged_while_the_others_alert(tmp_path, caplog):
    env = {"COHORT_ALERT_SMTP": "smtp://mail.example.org?to=b@example.org", "COHORT_ALERT_WEBHOOK": "ftp://x"}
    with caplog.at_level(logging.ERROR):
        notifiers = notifiers_from_env(env, tmp_path)
    assert [n.name for n in notifiers] == ["log", "jsonl"]
    assert "COHORT_ALERT_SMTP" in caplog.text and "COHORT_ALERT_WEBHOOK" in caplog.text


def test_a_webhook_must_be_http():
    with pytest.raises(ValueError, match="http"):
        WebhookNotifier("file:///etc/passwd")


def test_the_smtp_spec_is_parsed_with_defaults():
    spec = parse_smtp_spec("smtp://mail.example.org?from=cohort@example.org&to=a@example.org,b@example.org")
    assert (spec.host, spec.port, spec.user, spec.starttls, spec.implicit_tls) == ("mail.example.org", 25, None, False, False)
    assert spec.sender == "cohort@example.org" and spec.recipients == ("a@example.org", "b@example.org")


def test_the_smtp_spec_carries_credentials_tls_and_timeout():
    spec = parse_smtp_spec("smtp://ops%40x.org:p%3Ass@mail.x.org:587?from=a@x.org&to=b@x.org&starttls=true&timeout=3")
    assert (spec.user, spec.password, spec.port, spec.starttls, spec.timeout) == ("ops@x.org", "p:ss", 587, True, 3.0)
    assert "p:ss" not in repr(spec) and "p:ss" not in repr(SmtpNotifier(spec))
    assert parse_smtp_spec("smtps://mail.x.org?from=a@x.org&to=b@x.org").port == 465


@pytest.mark.parametrize("spec", [
    "http://mail.x.org?from=a@x.org&to=b@x.org",  # wrong scheme
    "smtp://mail.x.org?to=b@x.org",  # no sender
    "smtp://mail.x.org?from=a@x.org",  # no recipient
    "smtp://?from=a@x.org&to=b@x.org",  # no host
])
def test_a_bad_smtp_spec_is_refused_without_echoing_it(spec):
    with pytest.raises(ValueError) as info:
        parse_smtp_spec(spec)
    assert spec not in str(info.value)


def test_the_email_names_severity_asset_and_check_in_its_subject():
    notifier = SmtpNotifier("smtp://m.x.org?from=a@x.org&to=b@x.org,c@x.org")
    msg = notifier.message(_alert(severity="WARN", partition="2008"))
    assert msg["Subject"] == "[cohort_platform] WARN check failed: clean/births[2008] record_id_unique"
    assert msg["To"] == "b@x.org, c@x.org"
    assert "run_id: r1" in msg.get_content()

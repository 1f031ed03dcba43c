"""The webhook and e-mail notifiers against real servers on 127.0.0.1."""

import logging
import time

from cohort_platform.orchestration.alerts import Alert, SmtpNotifier, WebhookNotifier, dispatch
from cohort_platform_tests.operations.servers import free_closed_port, smtp_server, webhook_server


def _alert(**kw) -> Alert:
    base = dict(asset="clean/births", check="record_id_unique", severity="ERROR", partition="2008", run_id="run-42",
                time="2026-11-01T03:00:00+00:00", rule="`record_id` identifies exactly one row.",
                description="duplicated_rows=3", blocking=True)
    return Alert(**{**base, **kw})


def test_the_webhook_posts_slack_compatible_json():
    with webhook_server() as hook:
        WebhookNotifier(hook.url).send(_alert())
    assert len(hook.posts) == 1
    assert set(hook.posts[0]) == {"text"}
    text = hook.posts[0]["text"]
    for part in ("clean/births", "2008", "record_id_unique", "ERROR", "run-42", "duplicated_rows=3"):
        assert part in text
    assert hook.headers[0]["Content-Type"].startswith("application/json")


def test_an_http_error_is_logged_not_raised(caplog):
    with webhook_server(status=500) as hook, caplog.at_level(logging.ERROR):
        report = dispatch([_alert()], [WebhookNotifier(hook.url)])
    assert report.failed == {"webhook": 1} and report.errors["webhook"] == "HTTP 500 Internal Server Error"
    assert hook.url not in caplog.text  # a webhook URL is a secret


def test_an_unreachable_webhook_is_logged_not_raised():
    report = dispatch([_alert()], [WebhookNotifier(f"http://127.0.0.1:{free_closed_port()}/hook", timeout=2)])
    assert report.sent == {"webhook": 0} and report.errors["webhook"].startswith("unreachable")


def test_a_slow_webhook_costs_one_timeout_per_batch():
    with webhook_server(delay_seconds=1.5) as hook:
        started = time.monotonic()
        report = dispatch([_alert(run_id=f"r{i}") for i in range(5)], [WebhookNotifier(hook.url, timeout=0.3)])
        elapsed = time.monotonic() - started
    assert report.failed == {"webhook": 5}
    assert elapsed < 1.2


def test_smtp_delivers_one_mail_to_every_recipient():
    with smtp_server() as smtp:
        notifier = SmtpNotifier(f"smtp://{smtp.host}:{smtp.port}?from=cohort@example.org&to=a@example.org,b@example.org")
        report = dispatch([_alert(), _alert(check="contract_expectations", severity="WARN")], [notifier])
    assert report.sent == {"smtp": 2}
    assert len(smtp.mails) == 2
    mail = smtp.mails[0]
    assert mail.sender == "cohort@example.org" and mail.recipients == ["a@example.org", "b@example.org"]
    assert mail.message["Subject"].strip() == "[cohort_platform] ERROR check failed: clean/births[2008] record_id_unique"
    body = mail.message.get_content()
    assert "run-42" in body and "duplicated_rows=3" in body and "`record_id` identifies" in body
    assert smtp.logins == [] and "STARTTLS" not in smtp.commands  # neither asked for


def test_smtp_logs_in_when_given_a_user():
    with smtp_server() as smtp:
        SmtpNotifier(f"smtp://ops%40example.org:s%3Dcret@{smtp.host}:{smtp.port}?from=a@example.org&to=b@example.org").send(_alert())
    assert smtp.logins == [("ops@example.org", "s=cret")]
    assert len(smtp.mails) == 1


def test_starttls_asked_of_a_server_without_it_is_logged_not_raised_and_sends_nothing():
    with smtp_server() as smtp:
        notifier = SmtpNotifier(f"smtp://u:secret@{smtp.host}:{smtp.port}?from=a@example.org&to=b@example.org&starttls=true")
        report = dispatch([_alert()], [notifier])
    assert report.failed == {"smtp": 1} and "STARTTLS" in report.errors["smtp"]
    assert "secret" not in report.errors["smtp"]
    assert smtp.mails == [] and smtp.logins == []  # never logs in over plain text when TLS was asked


def test_an_unreachable_smtp_server_is_logged_not_raised():
    notifier = SmtpNotifier(f"smtp://127.0.0.1:{free_closed_port()}?from=a@example.org&to=b@example.org&timeout=2")
    report = dispatch([_alert()], [notifier])
    assert report.failed == {"smtp": 1} and "ConnectionRefused" in report.errors["smtp"]

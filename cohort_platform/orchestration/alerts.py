"""Alerts for failed data-quality checks, and the channels that carry them.

Plain Python, no Dagster: the alert sensor (`cohort_platform.defs.operations.sensors`) turns each
failed ASSET_CHECK_EVALUATION event into an `Alert` and hands it to the notifiers built here.

- `Alert`: one failed check of one asset (and partition) in one run: asset, partition, check,
  severity, the rule the check enforces, what failed, the run and the time, and a one-paragraph
  `summary` without links (it goes to chat and e-mail, where a UI link may not resolve).
- Notifiers: `LogNotifier` (the sensor's log) and `JsonlNotifier` (`<home>/alerts.jsonl`, one JSON
  object a line: the durable record) always; `WebhookNotifier` (Slack-compatible `{"text": ...}`
  POST) when `COHORT_ALERT_WEBHOOK` is set; `SmtpNotifier` (e-mail) when `COHORT_ALERT_SMTP` is set.
- `AlertLedger`: one alert per (run, asset, partition, check): a check evaluated twice in one run
  alerts once, however many sensor ticks see it.

Alerts leave the secure zone (chat, e-mail), so they carry only what the check put in its description
and scalar metadata: counts, shares, column names. Checks must never put person-level values there.

COHORT_ALERT_SMTP format (percent-encode reserved characters in the user and password):

    smtp://[user[:password]@]host[:port]?from=ADDR&to=ADDR[,ADDR...][&starttls=true][&timeout=SECONDS]
    smtps://...   (TLS from the first byte, port 465 by default)

`smtp://` talks plain SMTP on port 25 by default and upgrades with STARTTLS only when
`starttls=true`; it logs in only when a user is given.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import smtplib
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

ALERTS_FILE = "alerts.jsonl"
WEBHOOK_ENV = "COHORT_ALERT_WEBHOOK"
SMTP_ENV = "COHORT_ALERT_SMTP"
DEFAULT_TIMEOUT_SECONDS = 10.0
_MAX_TEXT = 500  # a metadata value or description longer than this is cut: alerts are for people
_LOG = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------ alert
@dataclass(frozen=True)
class Alert:
    asset: str
    check: str
    severity: str  # "ERROR" (blocking) or "WARN"
    partition: str | None
    run_id: str
    time: str  # ISO 8601, UTC
    rule: str  # what the check requires (its declared description), else its name
    description: str  # what failed: the evaluation's own description, else its metadata
    blocking: bool | None = None
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def key(self) -> tuple[str, str, str, str]:
        """Identity for deduplication: one alert per (run, asset, partition, check)."""
        return (self.run_id, self.asset, self.partition or "", self.check)

    @property
    def subject(self) -> str:
        where = f"{self.asset}[{self.partition}]" if self.partition else self.asset
        return f"[cohort_platform] {self.severity} check failed: {where} {self.check}"

    @property
    def summary(self) -> str:
        """One paragraph for people, without links."""
        where = f"{self.asset} (birth year {self.partition})" if self.partition else self.asset
        kind = "blocking " if self.blocking else ""
        return (
            f"{self.severity} {kind}check `{self.check}` failed on {where} in run {self.run_id} at {self.time}. "
            f"Rule: {self.rule} Failed: {self.description}"
        )

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "summary": self.summary}


def alert_from_evaluation(
    evaluation: Any,
    run_id: str,
    timestamp: float,
    partition: str | None = None,
    rule: str | None = None,
) -> Alert:
    """An `Alert` from a Dagster `AssetCheckEvaluation` (or anything shaped like one: asset_key,
    check_name, severity, description, metadata, blocking, partition). The evaluation's own
    partition wins over `partition` (the run's partition tag), which covers checks that are not
    partitioned themselves but ran in a partitioned run."""
    severity = getattr(evaluation.severity, "value", evaluation.severity)
    metadata = scalar_metadata(getattr(evaluation, "metadata", None) or {})
    description = getattr(evaluation, "description", None) or render_metadata(metadata) or "no detail given"
    return Alert(
        asset=asset_name(evaluation.asset_key),
        check=evaluation.check_name,
        severity=str(severity),
        partition=getattr(evaluation, "partition", None) or partition,
        run_id=run_id,
        time=iso_utc(timestamp),
        rule=_cut(rule or f"the check `{evaluation.check_name}` passes."),
        description=_cut(description),
        blocking=getattr(evaluation, "blocking", None),
        metadata=metadata,
    )


def asset_name(asset_key: Any) -> str:
    """`clean/births` for AssetKey(["clean", "births"]), as the Dagster UI writes it."""
    if hasattr(asset_key, "to_user_string"):
        return asset_key.to_user_string()
    if hasattr(asset_key, "path"):
        return "/".join(asset_key.path)
    return str(asset_key)


def iso_utc(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, tz=dt.timezone.utc).isoformat(timespec="seconds")


def scalar_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Metadata values as plain JSON values (Dagster wraps them in MetadataValue); JSON values
    (lists, dicts) become compact text, cut to a readable length."""
    out: dict[str, Any] = {}
    for name, value in metadata.items():
        value = getattr(value, "value", value)
        if value is None or isinstance(value, (bool, int, float)):
            out[name] = value
        elif isinstance(value, str):
            out[name] = _cut(value)
        else:
            try:
                out[name] = _cut(json.dumps(value, default=str, separators=(",", ":")))
            except (TypeError, ValueError):
                out[name] = _cut(str(value))
    return out


def render_metadata(metadata: Mapping[str, Any]) -> str:
    return "; ".join(f"{k}={v}" for k, v in metadata.items())


def _cut(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 3] + "..."


# ---------------------------------------------------------------------------------- deduplication
class AlertLedger:
    """The alerts already sent, by key, so that each (run, asset, partition, check) alerts once.

    Bounded: it keeps the most recent `capacity` keys (a sensor stores it in its cursor). A run is
    evaluated within hours, so forgetting keys from thousands of alerts ago loses nothing."""

    def __init__(self, keys: Iterable[Sequence[str]] = (), capacity: int = 2000):
        self.capacity = capacity
        self._keys: dict[tuple[str, ...], None] = {tuple(k): None for k in keys}

    def __contains__(self, alert: Alert) -> bool:
        return alert.key in self._keys

    def admit(self, alerts: Iterable[Alert]) -> list[Alert]:
        """The alerts not sent before (nor earlier in `alerts`), now remembered as sent."""
        fresh = []
        for alert in alerts:
            if alert.key in self._keys:
                continue
            self._keys[alert.key] = None
            fresh.append(alert)
        while len(self._keys) > self.capacity:
            del self._keys[next(iter(self._keys))]
        return fresh

    def keys(self) -> list[list[str]]:
        return [list(k) for k in self._keys]


# -------------------------------------------------------------------------------------- notifiers
class AlertNotifier(Protocol):
    name: str

    def send(self, alert: Alert) -> None:
        """Deliver one alert; raise on failure (`dispatch` logs it and carries on)."""


class LogNotifier:
    """The alert as one log line: ERROR for blocking failures, WARNING for warnings."""

    name = "log"

    def __init__(self, logger: logging.Logger | Any | None = None):
        self.logger = logger or _LOG

    def send(self, alert: Alert) -> None:
        (self.logger.error if alert.severity == "ERROR" else self.logger.warning)(alert.summary)


class JsonlNotifier:
    """Appends one JSON object a line to `path` (normally `<home>/alerts.jsonl`): the durable record
    that every other channel can be checked against."""

    name = "jsonl"

    def __init__(self, path: Path | str):
        self.path = Path(path)

    def send(self, alert: Alert) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(alert.to_json(), ensure_ascii=False, default=str)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(line + "\n")


class WebhookNotifier:
    """A Slack-compatible incoming webhook: POST `{"text": summary}` as JSON. Slack, Mattermost,
    Rocket.Chat and Teams' incoming webhooks all accept this shape."""

    name = "webhook"

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT_SECONDS):
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"{WEBHOOK_ENV} must be an http(s) URL")
        self.url = url
        self.timeout = timeout

    def __repr__(self) -> str:  # the URL of a Slack webhook is its secret
        return f"WebhookNotifier(host={urllib.parse.urlsplit(self.url).hostname!r})"

    def send(self, alert: Alert) -> None:
        body = json.dumps({"text": alert.summary}).encode("utf-8")
        request = urllib.request.Request(
            self.url, data=body, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (http(s) only, checked above)
            response.read()


@dataclass(frozen=True)
class SmtpSpec:
    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    implicit_tls: bool = False
    timeout: float = DEFAULT_TIMEOUT_SECONDS


_TRUE = {"1", "true", "yes", "on"}


def parse_smtp_spec(spec: str) -> SmtpSpec:
    """Parse COHORT_ALERT_SMTP (format in the module docstring). Errors never echo the password."""
    parts = urllib.parse.urlsplit(spec.strip())
    if parts.scheme not in ("smtp", "smtps"):
        raise ValueError(f"{SMTP_ENV} must start with smtp:// or smtps://")
    if not parts.hostname:
        raise ValueError(f"{SMTP_ENV} names no host")
    query = urllib.parse.parse_qs(parts.query)
    sender = (query.get("from") or [""])[0].strip()
    recipients = tuple(a.strip() for v in query.get("to", []) for a in v.split(",") if a.strip())
    if not sender or not recipients:
        raise ValueError(f"{SMTP_ENV} needs ?from=ADDRESS&to=ADDRESS[,ADDRESS...]")
    implicit_tls = parts.scheme == "smtps"
    try:
        port = parts.port or (465 if implicit_tls else 25)
    except ValueError:
        raise ValueError(f"{SMTP_ENV} has an invalid port") from None
    timeout = float((query.get("timeout") or [DEFAULT_TIMEOUT_SECONDS])[0])
    return SmtpSpec(
        host=parts.hostname,
        port=port,
        sender=sender,
        recipients=recipients,
        user=urllib.parse.unquote(parts.username) if parts.username else None,
        password=urllib.parse.unquote(parts.password) if parts.password else None,
        starttls=(query.get("starttls") or ["false"])[0].lower() in _TRUE,
        implicit_tls=implicit_tls,
        timeout=timeout,
    )


class SmtpNotifier:
    """One e-mail per alert, subject naming severity, asset and check; body = summary and fields."""

    name = "smtp"

    def __init__(self, spec: SmtpSpec | str):
        self.spec = parse_smtp_spec(spec) if isinstance(spec, str) else spec

    def __repr__(self) -> str:
        return f"SmtpNotifier(host={self.spec.host!r}, port={self.spec.port}, to={list(self.spec.recipients)})"

    def message(self, alert: Alert) -> EmailMessage:
        msg = EmailMessage()
        msg["Subject"] = alert.subject
        msg["From"] = self.spec.sender
        msg["To"] = ", ".join(self.spec.recipients)
        fields = {k: v for k, v in alert.to_json().items() if k not in ("summary", "metadata")}
        body = [alert.summary, "", *(f"{k}: {v}" for k, v in fields.items())]
        if alert.metadata:
            body += ["", "metadata:", *(f"  {k}: {v}" for k, v in alert.metadata.items())]
        msg.set_content("\n".join(body) + "\n")
        return msg

    def send(self, alert: Alert) -> None:
        spec = self.spec
        if spec.implicit_tls:
            server: smtplib.SMTP = smtplib.SMTP_SSL(spec.host, spec.port, timeout=spec.timeout,
                                                    context=ssl.create_default_context())
        else:
            server = smtplib.SMTP(spec.host, spec.port, timeout=spec.timeout)
        with server:
            if spec.starttls:
                server.starttls(context=ssl.create_default_context())
            if spec.user:
                server.login(spec.user, spec.password or "")
            server.send_message(self.message(alert))


def build_notifiers(
    home: Path | str,
    webhook_url: str | None = None,
    smtp: str | None = None,
    logger: logging.Logger | Any | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> list[AlertNotifier]:
    """The log and `<home>/alerts.jsonl` always; the webhook and e-mail when configured. A channel
    whose setting is malformed is left out with an error in the log: the others still alert."""
    notifiers: list[AlertNotifier] = [LogNotifier(logger), JsonlNotifier(Path(home) / ALERTS_FILE)]
    for variable, value, make in (
        (WEBHOOK_ENV, webhook_url, lambda v: WebhookNotifier(v, timeout=timeout)),
        (SMTP_ENV, smtp, SmtpNotifier),
    ):
        if not value:
            continue
        try:
            notifiers.append(make(value))
        except ValueError as exc:
            (logger or _LOG).error(f"alert channel from {variable} left out: {exc}")
    return notifiers


def notifiers_from_env(env: Mapping[str, str], home: Path | str, logger: logging.Logger | Any | None = None) -> list[AlertNotifier]:
    """`build_notifiers` configured from COHORT_ALERT_WEBHOOK and COHORT_ALERT_SMTP."""
    return build_notifiers(home, webhook_url=env.get(WEBHOOK_ENV) or None, smtp=env.get(SMTP_ENV) or None, logger=logger)


# --------------------------------------------------------------------------------------- dispatch
@dataclass
class DispatchReport:
    sent: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)  # notifier -> first error of the batch


def dispatch(alerts: Sequence[Alert], notifiers: Sequence[AlertNotifier], logger: logging.Logger | Any | None = None) -> DispatchReport:
    """Send every alert through every notifier. A failing notifier is logged, never raised, and is
    not tried again for the rest of the batch: one unreachable webhook costs one timeout, not one
    per alert, so a sensor tick with many alerts stays within its time limit. `alerts.jsonl` keeps
    the full record whatever the remote channels did."""
    log = logger or _LOG
    report = DispatchReport()
    for notifier in notifiers:
        report.sent[notifier.name] = 0
        for i, alert in enumerate(alerts):
            try:
                notifier.send(alert)
            except Exception as exc:  # noqa: BLE001 (an alert channel must never break the caller)
                report.failed[notifier.name] = len(alerts) - i
                report.errors[notifier.name] = describe_error(exc)
                log.error(
                    f"alert notifier {notifier.name} failed ({report.errors[notifier.name]}); "
                    f"{len(alerts) - i} alert(s) not sent through it (all are in {ALERTS_FILE})"
                )
                break
            report.sent[notifier.name] += 1
    return report


def describe_error(exc: BaseException) -> str:
    """The error without secrets: webhook URLs and SMTP passwords never reach the log."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"unreachable: {exc.reason}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"SMTP {exc.smtp_code}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__

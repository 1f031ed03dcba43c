"""The `notifier` resource: where alerts for failed checks go.

Configured from the environment when the code location loads: `<home>/alerts.jsonl` and the log
always, a Slack-compatible webhook when COHORT_ALERT_WEBHOOK is set, e-mail when COHORT_ALERT_SMTP is
set (format in `cohort_platform.orchestration.alerts`). Both are secrets (a webhook URL is its own
password), so they are passed as `dg.EnvVar`: the UI shows the variable's name, never its value.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from cohort_platform.config import Settings
from cohort_platform.orchestration.alerts import (
    DEFAULT_TIMEOUT_SECONDS,
    SMTP_ENV,
    WEBHOOK_ENV,
    Alert,
    AlertNotifier,
    DispatchReport,
    build_notifiers,
    dispatch,
)


class Notifier(dg.ConfigurableResource):
    """Sends alerts through the log, `<home>/alerts.jsonl`, and the webhook and SMTP channels when set."""

    home: str
    webhook_url: str | None = None
    smtp: str | None = None
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    @classmethod
    def from_env(cls, home: str, env: Mapping[str, str] | None = None) -> "Notifier":
        """Channels for the variables set in `env` (default: the process environment); their values
        are read by Dagster from the process environment when the resource is used."""
        env = os.environ if env is None else env
        return cls(
            home=str(home),
            webhook_url=dg.EnvVar(WEBHOOK_ENV) if env.get(WEBHOOK_ENV) else None,
            smtp=dg.EnvVar(SMTP_ENV) if env.get(SMTP_ENV) else None,
        )

    def notifiers(self, logger: logging.Logger | Any | None = None) -> list[AlertNotifier]:
        return build_notifiers(self.home, webhook_url=self.webhook_url, smtp=self.smtp,
                               logger=logger, timeout=self.timeout_seconds)

    def send(self, alerts: Sequence[Alert], logger: logging.Logger | Any | None = None) -> DispatchReport:
        """Every alert through every channel; failures are logged, never raised."""
        return dispatch(alerts, self.notifiers(logger), logger)


def notifier_resource(settings: Settings, env: Mapping[str, str] | None = None) -> Notifier:
    return Notifier.from_env(str(settings.home), env)


def operations_resources(settings: Settings, env: Mapping[str, str] | None = None) -> dict[str, object]:
    """The resources the sensors need, beside `defs.resources.resources_for` (which gives `settings`)."""
    return {"notifier": notifier_resource(settings, env)}

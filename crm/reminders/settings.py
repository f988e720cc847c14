"""Settings of the reminders feature, from the app config or the environment.

| setting (app config or environment) | default | meaning |
|---|---|---|
| CRM_REMINDER_TIME | 08:30 | when the daily check runs (local time) |
| CRM_TIMEZONE | Asia/Shanghai | the local time zone (dates of the check, the schedule) |
| CRM_DELIVERY_RETRY_SECONDS | 300 | how often the scheduler sends due and failed deliveries |
| CRM_DELIVERY_GIVE_UP_HOURS | 24 | how long a failing delivery is retried before it is "dead" |
| CRM_WEBHOOK_TIMEOUT | 10 | seconds before a robot webhook call counts as failed |
| CRM_SMTP_TIMEOUT | 30 | seconds before an SMTP conversation counts as failed |
| CRM_BASE_URL | (none) | the app's public address, for links in emails and robot posts |
| CRM_SCHEDULER_LOCK_TTL | 60 | seconds a SQLite scheduler lock lives without a heartbeat |
| CRM_SMTP_* | see crm/config.py | SMTP host, port, user, password, TLS (none/starttls/ssl), from |
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

DEFAULT_TZ = "Asia/Shanghai"


def _get(config: Any, key: str, default: Any = None) -> Any:
    if config is not None and config.get(key) not in (None, ""):
        return config.get(key)
    value = os.environ.get(key)
    return value if value not in (None, "") else default


@dataclass(frozen=True)
class ReminderSettings:
    tz_name: str = DEFAULT_TZ
    run_at: time = time(8, 30)
    retry_seconds: int = 300
    give_up_hours: int = 24
    webhook_timeout: float = 10.0
    smtp_timeout: float = 30.0
    base_url: str | None = None
    lock_ttl_seconds: int = 60
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_tls: str = "none"
    smtp_from: str = "crm@localhost"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.tz_name)

    def today(self, now: datetime | None = None) -> date:
        return (now or datetime.now(self.tz)).astimezone(self.tz).date()

    @property
    def email_enabled(self) -> bool:
        return bool(self.smtp_host)


def parse_time(text: str) -> time:
    hours, _, minutes = text.strip().partition(":")
    value = time(int(hours), int(minutes or 0))
    return value


def from_config(config: Any = None) -> ReminderSettings:
    """Settings from a Flask config mapping (tests), falling back to the environment."""
    tz_name = (
        _get(config, "CRM_TIMEZONE")
        or (config or {}).get("BABEL_DEFAULT_TIMEZONE")
        or os.environ.get("CRM_TIMEZONE")
        or DEFAULT_TZ
    )
    return ReminderSettings(
        tz_name=tz_name,
        run_at=parse_time(str(_get(config, "CRM_REMINDER_TIME", "08:30"))),
        retry_seconds=int(_get(config, "CRM_DELIVERY_RETRY_SECONDS", 300)),
        give_up_hours=int(_get(config, "CRM_DELIVERY_GIVE_UP_HOURS", 24)),
        webhook_timeout=float(_get(config, "CRM_WEBHOOK_TIMEOUT", 10)),
        smtp_timeout=float(_get(config, "CRM_SMTP_TIMEOUT", 30)),
        base_url=(_get(config, "CRM_BASE_URL") or None),
        lock_ttl_seconds=int(_get(config, "CRM_SCHEDULER_LOCK_TTL", 60)),
        smtp_host=_get(config, "SMTP_HOST") or os.environ.get("CRM_SMTP_HOST") or None,
        smtp_port=int(_get(config, "SMTP_PORT") or os.environ.get("CRM_SMTP_PORT") or 25),
        smtp_user=_get(config, "SMTP_USER") or os.environ.get("CRM_SMTP_USER") or None,
        smtp_password=_get(config, "SMTP_PASSWORD") or os.environ.get("CRM_SMTP_PASSWORD"),
        smtp_tls=str(_get(config, "SMTP_TLS") or os.environ.get("CRM_SMTP_TLS") or "none"),
        smtp_from=str(
            _get(config, "SMTP_FROM") or os.environ.get("CRM_SMTP_FROM") or "crm@localhost"
        ),
    )


def current() -> ReminderSettings:
    """Settings of the current Flask app."""
    from flask import current_app

    return from_config(current_app.config)

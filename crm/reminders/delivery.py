"""Sending the outbox: email over SMTP and WeCom / DingTalk group-robot webhooks.

`deliver_due` is a job wrapper, so it commits: each delivery is claimed in a short
transaction (state `sending` with a lease), sent outside any transaction, and its outcome
recorded in another: success sets `sent_at` and `sent` together, so a sent message is never
sent again; a failure is kept with its error and retried with exponential backoff (1, 2, 4
... 60 minutes) until `give_up_at` (a day), then marked `dead` -- still in the delivery log,
and an admin can retry it. Only a crash between the remote server accepting a message and
the success being committed can repeat a message (when the lease expires).
"""

from __future__ import annotations

import json
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from crm import audit
from crm.accounts.models import Team, User
from crm.db import utcnow
from crm.reminders.models import Delivery
from crm.reminders.settings import ReminderSettings

LEASE = timedelta(minutes=10)
MAX_BACKOFF_SECONDS = 3600
STATES = ("pending", "sending", "sent", "failed", "dead")


class DeliveryError(Exception):
    """The remote side refused or did not answer; the delivery is retried."""


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    dead: int = 0


def backoff(attempts: int) -> timedelta:
    """Wait after the n-th failed attempt: 1, 2, 4, ... minutes, at most an hour."""
    return timedelta(seconds=min(MAX_BACKOFF_SECONDS, 60 * 2 ** max(0, attempts - 1)))


def send_email(settings: ReminderSettings, to_address: str, subject: str, body: str) -> None:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.smtp_from
    message["To"] = to_address
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.smtp_from.rpartition("@")[2] or None)
    message.set_content(body)
    host, port, timeout = (
        settings.smtp_host or "localhost",
        settings.smtp_port,
        settings.smtp_timeout,
    )
    tls = settings.smtp_tls.lower()
    try:
        if tls == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                host, port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
        with smtp:
            if tls == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password or "")
            refused = smtp.send_message(message)
            if refused:
                raise DeliveryError(f"recipients refused: {refused}")
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"SMTP: {type(exc).__name__}: {exc}") from exc


def robot_payload(kind: str, title: str, body: str) -> dict[str, Any]:
    if kind == "dingtalk":
        return {"msgtype": "markdown", "markdown": {"title": title, "text": body}}
    return {"msgtype": "markdown", "markdown": {"content": body}}


def post_webhook(url: str, kind: str, title: str, body: str, timeout: float) -> None:
    """POST the markdown message; a non-2xx answer, a timeout or a robot error code fails."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise DeliveryError("the webhook URL must start with http:// or https://")
    data = json.dumps(robot_payload(kind, title, body), ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url, data=data, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            answer = response.read(65536)
    except urllib.error.HTTPError as exc:
        raise DeliveryError(f"HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DeliveryError(f"{type(exc).__name__}: {reason}") from exc
    try:
        document = json.loads(answer.decode("utf-8") or "{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        return  # a 2xx without JSON: accepted
    if isinstance(document, dict) and document.get("errcode") not in (None, 0):
        raise DeliveryError(f"robot error {document.get('errcode')}: {document.get('errmsg')}")


def _due(now: datetime) -> Any:
    return or_(
        and_(Delivery.state.in_(("pending", "failed")), Delivery.next_attempt_at <= now),
        and_(Delivery.state == "sending", Delivery.locked_until < now),
    )


def _prepare(
    session: Session, delivery: Delivery, settings: ReminderSettings
) -> Callable[[], None]:
    """Resolve the recipient now; return the network call to make outside the transaction."""
    subject, body = delivery.subject, delivery.body
    if delivery.channel == "email":
        user = session.get(User, delivery.user_id) if delivery.user_id else None
        if user is None or not user.active:
            raise DeliveryError("the recipient is deactivated or gone")
        if not settings.email_enabled:
            raise DeliveryError("SMTP is not configured (CRM_SMTP_HOST)")
        address = user.email
        return lambda: send_email(settings, address, subject, body)
    team = session.get(Team, delivery.team_id) if delivery.team_id else None
    if team is None or not team.webhook_url:
        raise DeliveryError("the team has no webhook URL any more")
    url, kind = team.webhook_url, team.webhook_kind or delivery.channel
    return lambda: post_webhook(url, kind, subject, body, settings.webhook_timeout)


def deliver_due(
    session: Session, settings: ReminderSettings, now: datetime | None = None, limit: int = 200
) -> DeliveryReport:
    """Send the deliveries that are due (new, or failed and past their backoff). Commits."""
    now = now or utcnow()
    report = DeliveryReport()
    ids = list(
        session.scalars(
            select(Delivery.id)
            .where(_due(now))
            .order_by(Delivery.next_attempt_at, Delivery.id)
            .limit(limit)
        )
    )
    session.commit()
    for delivery_id in ids:
        claimed = session.execute(
            update(Delivery)
            .where(Delivery.id == delivery_id, _due(now))
            .values(
                state="sending",
                locked_until=now + LEASE,
                attempts=Delivery.attempts + 1,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        session.commit()
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            continue  # another process took it
        delivery = session.get(Delivery, delivery_id)
        assert delivery is not None
        try:
            call = _prepare(session, delivery, settings)
            session.commit()  # no transaction stays open during the network call
            call()
        except Exception as exc:
            _record_failure(session, delivery, exc, now, report)
        else:
            session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id, Delivery.state == "sending")
                .values(
                    state="sent", sent_at=now, locked_until=None, last_error=None, updated_at=now
                )
                .execution_options(synchronize_session=False)
            )
            report.sent += 1
        session.commit()
    return report


def _record_failure(
    session: Session, delivery: Delivery, exc: Exception, now: datetime, report: DeliveryReport
) -> None:
    dead = now + backoff(delivery.attempts) > delivery.give_up_at
    message = str(exc) if isinstance(exc, DeliveryError) else f"{type(exc).__name__}: {exc}"
    session.execute(
        update(Delivery)
        .where(Delivery.id == delivery.id, Delivery.state == "sending")
        .values(
            state="dead" if dead else "failed",
            last_error=message[:2000],
            next_attempt_at=now + backoff(delivery.attempts),
            locked_until=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if dead:
        report.dead += 1
    else:
        report.failed += 1


def retry_delivery(
    session: Session, delivery: Delivery, actor_id: int | None, now: datetime | None = None
) -> bool:
    """Queue a failed or dead delivery again now, retried for another day. Never a sent
    one. Flushes; returns whether it was queued."""
    if delivery.state not in ("failed", "dead"):
        return False
    now = now or utcnow()
    delivery.state = "pending"
    delivery.next_attempt_at = now
    delivery.give_up_at = now + timedelta(hours=24)
    audit.record(
        session,
        user_id=actor_id,
        entity_type="reminder_delivery",
        entity_id=delivery.id,
        action="retry",
        changes={"key": delivery.key},
    )
    session.flush()
    return True

"""Access rules of the reminders routes (see tests/security/matrix.py).

The sample notification belongs to the officer; `project_id` is the officer's team's
project (the lead may snooze it, the other team's officer gets 404, the read-only leader
403); the robot page of the team is for its lead and admins.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from crm.db import utcnow
from crm.extensions import db
from crm.reminders.models import (
    Delivery,
    Notification,
    Reminder,
    ReminderRun,
    ReminderSnooze,
    WorkCalendarDay,
)
from tests.security.matrix import Rule, admin_only_api, admin_only_web, api, web

CALENDAR_DAY = "2026-10-01"


def extend_context(ctx: dict[str, Any]) -> None:
    today = date.today()
    run = ReminderRun(as_of=today)
    db.session.add(run)
    db.session.flush()
    # The officer's notification and snooze, and the same for the other team's officer
    # (`other_X`), so the matrix also aims the routes at another team's records.
    for prefix in ("", "other_"):
        note, snooze = _notification_and_snooze(ctx, run, prefix, today)
        ctx[f"{prefix}notification_id"] = note.id
        ctx[f"{prefix}snooze_id"] = snooze.id
    now = utcnow()
    delivery = Delivery(
        key=f"email:{ctx['officer_id']}:{run.id}",
        channel="email",
        user_id=ctx["officer_id"],
        run_id=run.id,
        digest_on=today,
        subject="digest",
        body="body",
        state="dead",
        attempts=20,
        last_error="SMTP: refused",
        give_up_at=now,
        next_attempt_at=now,
    )
    db.session.add(delivery)
    db.session.add(WorkCalendarDay(on=date.fromisoformat(CALENDAR_DAY), name="国庆节"))
    db.session.flush()
    ctx["delivery_id"] = delivery.id


def _notification_and_snooze(
    ctx: dict[str, Any], run: ReminderRun, prefix: str, today: date
) -> tuple[Notification, ReminderSnooze]:
    project_id = ctx[f"{prefix}project_id"]
    reminder = Reminder(
        run_id=run.id,
        rule_code="no_activity",
        subject_kind="project",
        subject_id=project_id,
        project_id=project_id,
        team_id=ctx[f"{prefix}team_id"],
        owner_id=ctx[f"{prefix}officer_id"],
        stage="lead",
        anchor_on=today - timedelta(days=40),
        period_start=today - timedelta(days=40),
        level=1,
        elapsed_days=40,
        threshold_days=30,
        days_overdue=10,
        as_of=today,
    )
    db.session.add(reminder)
    db.session.flush()
    note = Notification(user_id=ctx[f"{prefix}officer_id"], reminder_id=reminder.id, run_id=run.id)
    snooze = ReminderSnooze(
        project_id=project_id,
        rule_code="no_stage_change",
        until=today + timedelta(days=30),
        reason="投资方董事会下月审议",
    )
    db.session.add_all([note, snooze])
    db.session.flush()
    return note, snooze


def _snooze_form(c: dict[str, Any]) -> dict[str, Any]:
    return {
        "snooze-rule_code": "no_activity",
        "snooze-until": (date.today() + timedelta(days=14)).isoformat(),
        "snooze-reason": "等待投资方回复",
    }


EDITORS = {"other_officer": 404, "leader": 403}
TEAM_ROBOT = web(403, lead="ok", admin="ok")

RULES = {
    "reminders.notifications": Rule("GET", lambda c: "/notifications", web()),
    "reminders.notification_read": Rule(
        "POST", lambda c: f"/notifications/{c['notification_id']}/read", web(404, officer="ok")
    ),
    "reminders.notifications_read_all": Rule("POST", lambda c: "/notifications/read-all", web()),
    "reminders.stalled": Rule("GET", lambda c: "/stalled", web()),
    "reminders.snooze": Rule(
        "POST", lambda c: f"/projects/{c['project_id']}/snoozes", web(**EDITORS), data=_snooze_form
    ),
    "reminders.snooze_cancel": Rule(
        "POST",
        lambda c: f"/projects/{c['project_id']}/snoozes/{c['snooze_id']}/cancel",
        web(**EDITORS),
    ),
    "reminders.rules": Rule("GET", lambda c: "/admin/reminders/rules", admin_only_web()),
    "reminders.rules_save": Rule("POST", lambda c: "/admin/reminders/rules", admin_only_web()),
    "reminders.calendar_add": Rule(
        "POST",
        lambda c: "/admin/reminders/calendar",
        admin_only_web(),
        data=lambda c: {"day-on": "2026-10-02", "day-working": "0", "day-name": "国庆节"},
    ),
    "reminders.calendar_delete": Rule(
        "POST", lambda c: f"/admin/reminders/calendar/{CALENDAR_DAY}/delete", admin_only_web()
    ),
    "reminders.deliveries": Rule("GET", lambda c: "/admin/reminders/deliveries", admin_only_web()),
    "reminders.delivery_retry": Rule(
        "POST", lambda c: f"/admin/reminders/deliveries/{c['delivery_id']}/retry", admin_only_web()
    ),
    "reminders.team_robot": Rule("GET", lambda c: f"/teams/{c['team_id']}/robot", TEAM_ROBOT),
    "reminders.team_robot_test": Rule(
        "POST", lambda c: f"/teams/{c['team_id']}/robot/test", TEAM_ROBOT
    ),
    "api.list_notifications": Rule("GET", lambda c: "/api/v1/notifications", api()),
    "api.read_notification": Rule(
        "POST",
        lambda c: f"/api/v1/notifications/{c['notification_id']}/read",
        api(404, officer="ok"),
    ),
    "api.read_all_notifications": Rule("POST", lambda c: "/api/v1/notifications/read-all", api()),
    "api.list_snoozes": Rule(
        "GET", lambda c: f"/api/v1/projects/{c['project_id']}/snoozes", api(other_officer=404)
    ),
    "api.create_snooze": Rule(
        "POST",
        lambda c: f"/api/v1/projects/{c['project_id']}/snoozes",
        api(**EDITORS),
        json=lambda c: {
            "rule": "no_activity",
            "until": (date.today() + timedelta(days=14)).isoformat(),
            "reason": "等待投资方回复",
        },
    ),
    "api.delete_snooze": Rule(
        "DELETE",
        lambda c: f"/api/v1/projects/{c['project_id']}/snoozes/{c['snooze_id']}",
        api(**EDITORS),
    ),
    "api.list_stalled": Rule("GET", lambda c: "/api/v1/stalled", api()),
    "api.get_reminder_rules": Rule("GET", lambda c: "/api/v1/reminder-rules", admin_only_api()),
    "api.put_reminder_rules": Rule(
        "PUT",
        lambda c: "/api/v1/reminder-rules",
        admin_only_api(),
        json=lambda c: {"rules": [{"code": "no_activity", "stage": "lead", "days": 30}]},
    ),
}

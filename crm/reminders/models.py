"""Reminder rules, the reminders a daily check found, notifications, the delivery outbox,
the working-day calendar, snoozes and the scheduler's lock.

Exactly-once rests on unique keys: a reminder is unique per (rule, subject, period start,
escalation level), a notification per (user, reminder), a delivery per key (one digest per
person or team per day). Writers insert with ON CONFLICT DO NOTHING.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Column,
    Float,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Table,
    Text,
    Unicode,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import utcnow
from crm.extensions import db
from crm.pipeline.models import StageChange
from crm.visits.models import Task, Visit, visit_project

ANY_STAGE = "any"


class ReminderRule(db.Model):
    """One admin-editable threshold: a rule for one stage (or `any`), tighter for key projects."""

    __tablename__ = "reminder_rule"
    __table_args__ = (UniqueConstraint("code", "stage"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    stage: Mapped[str] = mapped_column(String(16), default=ANY_STAGE)
    enabled: Mapped[bool] = mapped_column(default=True)
    days: Mapped[int]
    # Threshold for key projects; None means the same as `days`.
    key_days: Mapped[int | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


class WorkCalendarDay(db.Model):
    """A date that differs from the Monday-to-Friday week: a public holiday (working=False)
    or a make-up working weekend day (调休, working=True)."""

    __tablename__ = "work_calendar_day"

    on: Mapped[date] = mapped_column(primary_key=True)
    working: Mapped[bool] = mapped_column(default=False)
    name: Mapped[str] = mapped_column(String(100), default="")


class ReminderRun(db.Model):
    """One run of the daily check (the log of when it ran and what it found)."""

    __tablename__ = "reminder_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    as_of: Mapped[date] = mapped_column(index=True)
    trigger: Mapped[str] = mapped_column(String(20), default="cli")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    created: Mapped[int] = mapped_column(default=0)
    notifications: Mapped[int] = mapped_column(default=0)
    deliveries: Mapped[int] = mapped_column(default=0)


class Reminder(db.Model):
    """A stalled subject found by the check, once per period and escalation level."""

    __tablename__ = "reminder"
    __table_args__ = (
        # The exactly-once key; its prefix also finds a subject's reminders.
        UniqueConstraint(
            "subject_kind",
            "subject_id",
            "rule_code",
            "period_start",
            "level",
            name="uq_reminder_key",
        ),
        # The run's reminders per team, worst first (digests, robots).
        Index("ix_reminder_run_team", "run_id", "team_id", "level", "days_overdue"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("reminder_run.id"))
    rule_code: Mapped[str] = mapped_column(String(40))
    subject_kind: Mapped[str] = mapped_column(String(10))  # "project" or "task"
    subject_id: Mapped[int]
    project_id: Mapped[int | None] = mapped_column(ForeignKey("project.id"))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("task.id"))
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    is_key: Mapped[bool] = mapped_column(default=False)
    stage: Mapped[str | None] = mapped_column(String(16))
    # When the clock started (signing, last activity, due date, ...).
    anchor_on: Mapped[date]
    # The anchor, or the day after a snooze of this rule ended when that is later.
    period_start: Mapped[date]
    level: Mapped[int]  # 1: threshold reached, 2: twice (team lead), 3: three times (leaders)
    elapsed_days: Mapped[int]
    threshold_days: Mapped[int]
    days_overdue: Mapped[int]
    as_of: Mapped[date]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReminderSnooze(db.Model):
    """No reminder of `rule_code` about the project until `until` (inclusive)."""

    __tablename__ = "reminder_snooze"
    __table_args__ = (Index("ix_reminder_snooze_lookup", "project_id", "rule_code", "until"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    rule_code: Mapped[str] = mapped_column(String(40))
    until: Mapped[date]
    reason: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[datetime | None]
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


class Delivery(db.Model):
    """One message to send (a person's email digest, a team's robot post): the outbox.

    State: pending -> sending -> sent, or failed (retried with backoff) -> dead after a day
    (kept, shown in the delivery log, can be retried by an admin). `sent_at` is written in
    the same transaction that records success, so a retry never re-sends a sent message.
    """

    __tablename__ = "reminder_delivery"
    __table_args__ = (Index("ix_reminder_delivery_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    channel: Mapped[str] = mapped_column(String(16))  # email, wecom, dingtalk
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("reminder_run.id"))
    digest_on: Mapped[date]
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Failures are retried with backoff until then (a day after queueing or a manual retry).
    give_up_at: Mapped[datetime]
    locked_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None]


class Notification(db.Model):
    """An in-app notification (the bell); reminder notifications are unique per user."""

    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("user_id", "reminder_id"),
        Index("ix_notification_inbox", "user_id", "read_at", "id"),
        # A run's notifications per recipient and reason, worst first (the email digest).
        Index("ix_notification_digest", "run_id", "user_id", "reason", "level", "days_overdue"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    reminder_id: Mapped[int | None] = mapped_column(ForeignKey("reminder.id"))
    # Copied from the reminder so a digest reads its worst items from one index.
    run_id: Mapped[int | None] = mapped_column(ForeignKey("reminder_run.id"))
    level: Mapped[int | None]
    days_overdue: Mapped[int | None]
    # Why this user is told: owner, lead (escalated, or no owner), leader (escalated).
    reason: Mapped[str] = mapped_column(String(16), default="owner")
    # Free text and link for notifications other features may add (not reminders).
    message: Mapped[str | None] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    read_at: Mapped[datetime | None]


class SchedulerLock(db.Model):
    """The lock row that lets one scheduler process run jobs on SQLite (PostgreSQL uses an
    advisory lock). The holder renews `expires_at`; an expired lock may be taken over."""

    __tablename__ = "scheduler_lock"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


# APScheduler's SQLAlchemyJobStore table, created by the migrations (same definition as the
# job store's) so the schema stays under Alembic and autogenerate does not drop it.
apscheduler_jobs = Table(
    "apscheduler_jobs",
    db.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)

# Indexes the daily check's queries need on other features' tables (latest visit, stage
# change and completed follow-up per project; open follow-ups by due date).
Index("ix_visit_project_project_visit", visit_project.c.project_id, visit_project.c.visit_id)
Index("ix_stage_change_project_on", StageChange.project_id, StageChange.on)
Index("ix_task_project_done", Task.project_id, Task.done_at)
Index("ix_task_open_due", Task.done_at, Task.due_on)
# A visit's date by its id, read from the index alone (the latest visit of each project).
Index("ix_visit_id_live_on", Visit.id, Visit.deleted_at, Visit.on)

"""Test data for the reminders tests: visits, tasks, stage changes, a fixed clock."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, insert, select

from crm.accounts.models import User
from crm.extensions import db
from crm.pipeline.models import Project, StageChange
from crm.reminders.models import Notification, Reminder, ReminderRule
from crm.reminders.services import CheckResult, run_check
from crm.reminders.settings import ReminderSettings
from crm.visits.models import Task, Visit, visit_project

SETTINGS = ReminderSettings()  # no SMTP: in-app and robots only


def visit(project: Project, on: date, author_id: int, **kw: Any) -> Visit:
    obj = Visit(on=on, type="visit", author_id=author_id, team_id=project.team_id, **kw)
    db.session.add(obj)
    db.session.flush()
    db.session.execute(insert(visit_project).values(visit_id=obj.id, project_id=project.id))
    return obj


def task(
    owner_id: int, team_id: int, due_on: date, project: Project | None = None, **kw: Any
) -> Task:
    obj = Task(
        title=kw.pop("title", "跟进"),
        owner_id=owner_id,
        team_id=team_id,
        project_id=project.id if project else None,
        due_on=due_on,
        **kw,
    )
    db.session.add(obj)
    db.session.flush()
    return obj


def stage_change(project: Project, on: date, to_stage: Any) -> StageChange:
    obj = StageChange(project_id=project.id, to_stage=to_stage, on=on)
    db.session.add(obj)
    db.session.flush()
    return obj


def set_rule(
    code: str, stage: str, days: int, key_days: int | None = None, enabled: bool = True
) -> None:
    rule = db.session.scalar(
        select(ReminderRule).where(ReminderRule.code == code, ReminderRule.stage == stage)
    )
    assert rule is not None
    rule.days, rule.key_days, rule.enabled = days, key_days, enabled
    db.session.flush()


def only_rules(*codes: str) -> None:
    """Disable every rule but these (tests look at one rule at a time)."""
    for rule in db.session.scalars(select(ReminderRule)):
        rule.enabled = rule.code in codes
    db.session.flush()


def at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def check(as_of: date, settings: ReminderSettings = SETTINGS) -> CheckResult:
    return run_check(db.session, as_of, settings)


def count_reminders(**where: Any) -> int:
    stmt = select(func.count()).select_from(Reminder)
    for name, value in where.items():
        stmt = stmt.where(getattr(Reminder, name) == value)
    return db.session.scalar(stmt) or 0


def notified(user: User) -> list[tuple[str, int, str]]:
    """(rule, level, reason) of the user's notifications."""
    return [
        (rule, level, reason)
        for rule, level, reason in db.session.execute(
            select(Reminder.rule_code, Reminder.level, Notification.reason)
            .join(Reminder, Reminder.id == Notification.reminder_id)
            .where(Notification.user_id == user.id)
            .order_by(Notification.id)
        )
    ]

"""The daily check, notifications, snoozes and the stalled-project listing.

Services take a Session and flush; the caller commits once (the CLI, the scheduler job, a
view). `run_check` must be the first thing in its transaction: it serialises concurrent
checks (an advisory transaction lock on PostgreSQL; on SQLite its first statement is a
write, which takes the database's write lock), and every row it writes has a unique key
written with ON CONFLICT DO NOTHING, so a second, concurrent or repeated run adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, literal, or_, select, text, update
from sqlalchemy.orm import Session, aliased

from crm import audit
from crm.accounts.models import Team, User
from crm.db import utcnow
from crm.enums import Role
from crm.pipeline.access import project_scope
from crm.pipeline.models import Project
from crm.reminders import rules as R
from crm.reminders.detection import (
    COLUMNS,
    CheckContext,
    Detection,
    build_context,
    detect,
    rule_queries,
)
from crm.reminders.models import Notification, Reminder, ReminderRun, ReminderSnooze
from crm.reminders.settings import ReminderSettings
from crm.reminders.sql import insert_ignoring_conflicts, without_jit
from crm.visits.models import Task

CHECK_LOCK_KEY = 0x43524D5245_4D31  # "CRMREM1": pg_advisory_xact_lock key of the check
MAX_SNOOZE_DAYS = 366
SQLITE_CACHE_KIB = 64 * 1024


@dataclass
class CheckResult:
    run_id: int
    as_of: date
    created: int = 0
    notifications: int = 0
    deliveries: list[Any] = field(default_factory=list)


def serialize_checks(session: Session) -> None:
    """Make concurrent checks run one after the other (PostgreSQL: a transaction-scoped
    advisory lock, and no JIT; SQLite: the run row written first takes the database's write
    lock).

    On SQLite the check also gets a bigger page cache (this connection only)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHECK_LOCK_KEY})
        without_jit(session)
    elif dialect == "sqlite":
        session.execute(text(f"PRAGMA cache_size = {-SQLITE_CACHE_KIB}"))


def run_check(
    session: Session, as_of: date, settings: ReminderSettings, *, trigger: str = "cli"
) -> CheckResult:
    """Find what is stalled on `as_of`, record new reminders once per (rule, subject,
    period, level), notify their recipients in-app and queue the digests (outbox).

    Idempotent: running it again for the same day, concurrently or after a crash (the
    transaction rolled back) records and sends nothing twice. Flushes; the caller commits.
    """
    from crm.reminders.digest import queue_digests

    serialize_checks(session)
    run = ReminderRun(as_of=as_of, trigger=trigger)
    session.add(run)
    session.flush()  # the first statement is a write (SQLite: take the write lock now)
    ctx = build_context(session, as_of, settings.tz_name)
    created = record_reminders(session, run.id, ctx)
    notified = notify(session, run.id) if created else 0
    deliveries = queue_digests(session, run, settings) if created else []
    run.created, run.notifications, run.deliveries = created, notified, len(deliveries)
    run.finished_at = utcnow()
    session.flush()
    return CheckResult(run.id, as_of, created, notified, deliveries)


def record_reminders(session: Session, run_id: int, ctx: CheckContext) -> int:
    """INSERT ... SELECT each rule's findings, skipping those recorded before (the unique
    key); return how many this run recorded. No row travels through Python."""
    extra = ["run_id", "as_of", "created_at"]
    now = utcnow()
    table = Reminder.__table__
    for _code, stmt in rule_queries(ctx):
        source = stmt.add_columns(
            literal(run_id).label("run_id"),
            literal(ctx.as_of, table.c.as_of.type).label("as_of"),
            literal(now, table.c.created_at.type).label("created_at"),
        )
        insert = insert_ignoring_conflicts(session, table).from_select([*COLUMNS, *extra], source)
        session.execute(insert.on_conflict_do_nothing())
    # (The driver's rowcount is unreliable for WITH ... INSERT on SQLite: count instead.)
    return (
        session.scalar(select(func.count()).select_from(Reminder).where(Reminder.run_id == run_id))
        or 0
    )


def notify(session: Session, run_id: int) -> int:
    """Notify in-app, set-based, for this run's reminders: the owner; the team's leads when
    the reminder reached twice its threshold or nobody active owns it. One notification per
    (user, reminder). (Leaders read the reminders past three times their threshold in
    their digest and on the stalled page.) Returns how many were created."""
    now = utcnow()
    columns = ["user_id", "reminder_id", "reason", "created_at", "run_id", "level", "days_overdue"]
    copied = (Reminder.run_id, Reminder.level, Reminder.days_overdue)
    stamp = literal(now, Notification.created_at.type)
    in_run = Reminder.run_id == run_id
    owner_user = aliased(User)
    owner_active = (
        exists()
        .where(owner_user.id == Reminder.owner_id, owner_user.active.is_(True))
        .correlate(Reminder)
    )
    owner = (
        select(User.id, Reminder.id, literal("owner"), stamp, *copied)
        .select_from(Reminder)
        .join(User, User.id == Reminder.owner_id)
        .where(in_run, User.active.is_(True))
    )
    lead = (
        select(User.id, Reminder.id, literal("lead"), stamp, *copied)
        .select_from(Reminder)
        .join(
            User,
            and_(User.team_id == Reminder.team_id, User.role == Role.LEAD, User.active.is_(True)),
        )
        .where(in_run, or_(Reminder.level >= 2, ~owner_active))
    )
    table = Notification.__table__
    for sel in (owner, lead):
        stmt = insert_ignoring_conflicts(session, table).from_select(columns, sel)
        session.execute(stmt.on_conflict_do_nothing())
    return (
        session.scalar(
            select(func.count()).select_from(Notification).where(Notification.run_id == run_id)
        )
        or 0
    )


# --- notifications ----------------------------------------------------------------------


@dataclass(frozen=True)
class NotificationRow:
    notification: Notification
    reminder: Reminder | None
    project_name: str | None
    task_title: str | None


def notification_rows_stmt(user_id: int) -> Any:
    return (
        select(Notification, Reminder, Project.name, Task.title)
        .outerjoin(Reminder, Reminder.id == Notification.reminder_id)
        .outerjoin(Project, Project.id == Reminder.project_id)
        .outerjoin(Task, Task.id == Reminder.task_id)
        .where(Notification.user_id == user_id)
    )


def list_notifications(
    session: Session, user_id: int, *, page: int, per_page: int, unread_only: bool = False
) -> tuple[list[NotificationRow], int]:
    """A page of the user's notifications, unread first, newest first; and the total."""
    where = [Notification.user_id == user_id]
    if unread_only:
        where.append(Notification.read_at.is_(None))
    total = session.scalar(select(func.count()).select_from(Notification).where(*where)) or 0
    stmt = notification_rows_stmt(user_id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    stmt = (
        stmt.order_by(Notification.read_at.is_not(None), Notification.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return [NotificationRow(*row) for row in session.execute(stmt)], int(total)


def unread_count(session: Session, user_id: int) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        )
        or 0
    )


def mark_read(session: Session, user_id: int, notification_id: int) -> Notification | None:
    """Mark one of the user's notifications read; None when it is not theirs."""
    note = session.scalar(
        select(Notification).where(
            Notification.id == notification_id, Notification.user_id == user_id
        )
    )
    if note is not None and note.read_at is None:
        note.read_at = utcnow()
        session.flush()
    return note


def mark_all_read(session: Session, user_id: int) -> int:
    result = session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# --- snoozes ----------------------------------------------------------------------------


class SnoozeError(ValueError):
    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def snooze(
    session: Session,
    project: Project,
    *,
    rule_code: str,
    until: date,
    reason: str,
    actor_id: int | None,
    today: date,
) -> ReminderSnooze:
    """Stop reminders of one rule about a project until `until` (inclusive), with a reason;
    recorded in the audit log. Flushes."""
    from flask_babel import gettext as _

    if rule_code not in R.BY_CODE:
        raise SnoozeError(_("Choose a rule."), "rule_code")
    if until < today:
        raise SnoozeError(_("The end date must not be in the past."), "until")
    if until > today + timedelta(days=MAX_SNOOZE_DAYS):
        raise SnoozeError(_("Snooze for at most a year."), "until")
    reason = reason.strip()
    if not reason:
        raise SnoozeError(_("Give a reason."), "reason")
    row = ReminderSnooze(
        project_id=project.id,
        rule_code=rule_code,
        until=until,
        reason=reason,
        created_by_id=actor_id,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        user_id=actor_id,
        entity_type="project",
        entity_id=project.id,
        action="reminder_snoozed",
        changes={"rule": rule_code, "until": until.isoformat(), "reason": reason},
    )
    return row


def cancel_snooze(session: Session, row: ReminderSnooze, actor_id: int | None) -> None:
    if row.cancelled_at is not None:
        return
    row.cancelled_at = utcnow()
    row.cancelled_by_id = actor_id
    audit.record(
        session,
        user_id=actor_id,
        entity_type="project",
        entity_id=row.project_id,
        action="reminder_snooze_cancelled",
        changes={"rule": row.rule_code, "until": row.until.isoformat()},
    )
    session.flush()


def active_snoozes(session: Session, project_id: int, today: date) -> list[ReminderSnooze]:
    return list(
        session.scalars(
            select(ReminderSnooze)
            .where(
                ReminderSnooze.project_id == project_id,
                ReminderSnooze.until >= today,
                ReminderSnooze.cancelled_at.is_(None),
            )
            .order_by(ReminderSnooze.until)
        )
    )


# --- stalled projects in a user's scope -------------------------------------------------


@dataclass
class StalledProject:
    project_id: int
    name: str
    stage: str
    is_key: bool
    team_code: str
    owner_id: int | None
    owner_name: str | None
    stalls: list[Detection]

    @property
    def worst(self) -> tuple[int, int]:
        return max((d.level, d.days_overdue) for d in self.stalls)


def stalled_projects(
    session: Session,
    user: User,
    as_of: date,
    tz_name: str,
    *,
    rule_code: str | None = None,
    min_level: int = 1,
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[StalledProject], int]:
    """A page of the projects `user` may see that are stalled on `as_of` (on `rule_code`,
    at `min_level` or more), worst first (escalation level, then days overdue); one query
    per rule plus one for the page."""
    without_jit(session)
    ctx = build_context(session, as_of, tz_name)
    codes = [rule_code] if rule_code else None
    found = detect(session, ctx, rule_codes=codes, where=project_scope(user))
    by_project: dict[int, list[Detection]] = {}
    for d in found:
        if d.project_id is not None and d.level >= min_level:
            by_project.setdefault(d.project_id, []).append(d)
    ordered = sorted(
        by_project.items(),
        key=lambda item: (
            -max(d.level for d in item[1]),
            -max(d.days_overdue for d in item[1]),
            item[0],
        ),
    )
    total = len(ordered)
    window = ordered[(page - 1) * per_page : page * per_page]
    ids = [pid for pid, _ in window]
    info = {
        row[0]: row
        for row in session.execute(
            select(
                Project.id,
                Project.name,
                Project.stage,
                Project.is_key,
                Team.code,
                Project.owner_id,
                func.coalesce(func.nullif(User.name, ""), User.email),
            )
            .join(Team, Team.id == Project.team_id)
            .outerjoin(User, User.id == Project.owner_id)
            .where(Project.id.in_(ids))
        )
    }
    items = []
    for pid, stalls in window:
        _id, name, stage, is_key, team_code, owner_id, owner_name = info[pid]
        stalls.sort(key=lambda d: (-d.level, -d.days_overdue, d.rule_code))
        items.append(
            StalledProject(pid, name, stage.value, is_key, team_code, owner_id, owner_name, stalls)
        )
    return items, total


def last_run(session: Session) -> ReminderRun | None:
    return session.scalar(select(ReminderRun).order_by(ReminderRun.id.desc()).limit(1))


def local_now(settings: ReminderSettings) -> datetime:
    return datetime.now(settings.tz)

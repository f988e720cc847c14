"""Digests: one email per person and one robot post per team for a run's new reminders.

A person's email lists their projects and follow-ups, then what was escalated to them, then
(for a team lead) the rest of their team's new reminders. Nobody gets an empty email. A
team with a WeCom or DingTalk group robot gets the team's new reminders as markdown. Each
digest is rendered once, in the recipient's language, into the outbox (`Delivery`), keyed
per recipient and run, so retries send exactly what was queued.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import g, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import Select, and_, exists, func, literal, or_, select
from sqlalchemy.orm import Session, aliased

from crm.accounts.models import Team, User
from crm.db import utcnow
from crm.enums import Role
from crm.pipeline.models import Project
from crm.reminders.models import Delivery, Notification, Reminder, ReminderRun
from crm.reminders.rules import RULE_CODES, level_label, rule_label
from crm.reminders.settings import ReminderSettings
from crm.reminders.sql import insert_ignoring_conflicts
from crm.visits.models import Task

WEBHOOK_KINDS = ("wecom", "dingtalk")
# Robot message limits (bytes of markdown): WeCom 4096, DingTalk about 20000.
ROBOT_LIMITS = {"wecom": 4000, "dingtalk": 18000}
EMAIL_ITEMS_PER_SECTION = 100
ROBOT_ITEMS = 60
DEFAULT_LOCALE = "zh_CN"


@dataclass(frozen=True)
class DigestItem:
    reminder_id: int
    rule_code: str
    level: int
    project_id: int | None
    project_name: str | None
    task_title: str | None
    team_id: int
    team_code: str
    owner_name: str | None
    is_key: bool
    elapsed_days: int
    threshold_days: int
    days_overdue: int

    @property
    def rule(self) -> str:
        return rule_label(self.rule_code)

    @property
    def level_text(self) -> str:
        return level_label(self.level)

    @property
    def title(self) -> str:
        if self.task_title and self.project_name:
            return f"{self.project_name} · {self.task_title}"
        return self.project_name or self.task_title or "—"


@dataclass
class Section:
    heading: str
    items: list[DigestItem] = field(default_factory=list)  # the first ones, worst first
    total: int = 0

    @property
    def shown(self) -> list[DigestItem]:
        return self.items[:EMAIL_ITEMS_PER_SECTION]

    @property
    def more(self) -> int:
        return max(0, self.total - len(self.shown))


def _item_columns(owner: Any) -> list[Any]:
    return [
        Reminder.id,
        Reminder.rule_code,
        Reminder.level,
        Reminder.project_id,
        Project.name,
        Task.title,
        Reminder.team_id,
        Team.code,
        func.coalesce(func.nullif(owner.name, ""), owner.email),
        Reminder.is_key,
        Reminder.elapsed_days,
        Reminder.threshold_days,
        Reminder.days_overdue,
    ]


def _item_rows(session: Session, ids: Any, *extra: Any) -> Any:
    """Rows of `_item_columns` (then `extra`) for a subquery of reminder ids `ids.c.id`."""
    owner = aliased(User)
    return session.execute(
        select(*_item_columns(owner), *extra)
        .join(ids, ids.c.id == Reminder.id)
        .join(Team, Team.id == Reminder.team_id)
        .outerjoin(Project, Project.id == Reminder.project_id)
        .outerjoin(Task, Task.id == Reminder.task_id)
        .outerjoin(owner, owner.id == Reminder.owner_id)
    )


def _worst_first(items: list[DigestItem]) -> list[DigestItem]:
    return sorted(items, key=lambda i: (-i.level, -i.days_overdue, -i.reminder_id))


def _items(session: Session, stmt: Select[Any]) -> list[DigestItem]:
    """Digest items for a SELECT of reminder ids (in its order)."""
    return _worst_first([DigestItem(*row) for row in _item_rows(session, stmt.subquery())])


def _first_notified(run_id: int, limit: int, dialect: str) -> Any:
    """A subquery of (id: reminder id, user_id, reason): for each recipient and reason of
    the run, its worst `limit` notifications.

    SQLite reads each (recipient, reason)'s first entries of the digest index (a correlated
    subquery per pair); PostgreSQL numbers the run's notifications in one pass (it would
    run such a subquery once per row)."""

    def worst_first(n: Any) -> tuple[Any, ...]:
        return (n.level.desc(), n.days_overdue.desc(), n.id.desc())

    if dialect == "postgresql":
        rank = func.row_number().over(
            partition_by=(Notification.user_id, Notification.reason),
            order_by=worst_first(Notification),
        )
        ranked = (
            select(
                Notification.reminder_id.label("id"),
                Notification.user_id,
                Notification.reason,
                rank.label("rank"),
            )
            .where(Notification.run_id == run_id)
            .subquery("ranked")
        )
        return (
            select(ranked.c.id, ranked.c.user_id, ranked.c.reason)
            .where(ranked.c.rank <= limit)
            .subquery("top")
        )
    pairs = (
        select(Notification.user_id, Notification.reason)
        .where(Notification.run_id == run_id)
        .distinct()
        .subquery("pairs")
    )
    worst = aliased(Notification)
    first_ids = (
        select(worst.id)
        .where(
            worst.run_id == run_id,
            worst.user_id == pairs.c.user_id,
            worst.reason == pairs.c.reason,
        )
        .order_by(*worst_first(worst))
        .limit(limit)
        .correlate(pairs)
    )
    return (
        select(Notification.reminder_id.label("id"), pairs.c.user_id, pairs.c.reason)
        .select_from(pairs)
        .join(Notification, Notification.id.in_(first_ids))
        .subquery("top")
    )


def notified_items(
    session: Session, run_id: int, limit: int
) -> dict[tuple[int, str], list[DigestItem]]:
    """For each (user, reason) notified in the run, the worst `limit` reminders (one
    query)."""
    top = _first_notified(run_id, limit, session.get_bind().dialect.name)
    out: dict[tuple[int, str], list[DigestItem]] = {}
    for row in _item_rows(session, top, top.c.user_id, top.c.reason):
        out.setdefault((row[-2], row[-1]), []).append(DigestItem(*row[:-2]))
    return {key: _worst_first(items) for key, items in out.items()}


def run_items(
    session: Session,
    run_id: int,
    limit: int,
    *,
    team_id: int | None = None,
    level: int | None = None,
    except_user: int | None = None,
) -> tuple[list[DigestItem], int]:
    """The worst `limit` of the run's reminders (for a team, at a level, those
    `except_user` was not notified of) and how many there are in all."""
    where = [Reminder.run_id == run_id]
    if team_id is not None:
        where.append(Reminder.team_id == team_id)
    if level is not None:
        where.append(Reminder.level == level)
    if except_user is not None:
        where.append(
            ~exists().where(
                Notification.user_id == except_user, Notification.reminder_id == Reminder.id
            )
        )
    total = session.scalar(select(func.count()).select_from(Reminder).where(*where)) or 0
    if not total:
        return [], 0
    top = (
        select(Reminder.id)
        .where(*where)
        .order_by(Reminder.level.desc(), Reminder.days_overdue.desc(), Reminder.id.desc())
        .limit(limit)
    )
    return _items(session, top), total


def _link(settings: ReminderSettings, item: DigestItem) -> str | None:
    if not settings.base_url or item.project_id is None:
        return None
    return f"{settings.base_url.rstrip('/')}/projects/{item.project_id}"


@dataclass(frozen=True)
class Phrases:
    """A digest's repeated words in one language, translated once per run and language
    (not once per item: a first run renders hundreds of digests of 100 items a section)."""

    rules: dict[str, str]
    levels: dict[int, str]
    key: str
    team: str
    owner: str
    open: str
    days: str  # %(elapsed)d, %(threshold)d, %(overdue)d
    days_short: str  # %(elapsed)d, %(threshold)d

    @classmethod
    def current(cls) -> Phrases:
        """The phrases in the current locale (inside `force_locale`)."""
        return cls(
            rules={code: rule_label(code) for code in RULE_CODES},
            levels={level: level_label(level) for level in (1, 2, 3)},
            key=_("Key"),
            team=_("Team"),
            owner=_("Owner"),
            open=_("Open"),
            days=_("%(elapsed)d days (threshold %(threshold)d), %(overdue)d days overdue"),
            days_short=_("%(elapsed)d days (threshold %(threshold)d)"),
        )


def phrases(locale: str) -> Phrases:
    """The phrases in `locale`, translated once per application context and language."""
    cache: dict[str, Phrases] = g.setdefault("_digest_phrases", {})
    if locale not in cache:
        with force_locale(locale):
            cache[locale] = Phrases.current()
    return cache[locale]


def render_email(
    user: User, sections: list[Section], run: ReminderRun, settings: ReminderSettings
) -> tuple[str, str]:
    locale = user.locale or DEFAULT_LOCALE
    with force_locale(locale):
        subject = _(
            "[Investment CRM] %(n)d new reminders about stalled projects, %(date)s",
            n=sum(section.total for section in sections),
            date=run.as_of.isoformat(),
        )
        body = render_template(
            "reminders/email_digest.txt",
            user=user,
            sections=sections,
            as_of=run.as_of,
            words=phrases(locale),
            link=lambda item: _link(settings, item),
            stalled_url=(settings.base_url.rstrip("/") + "/stalled") if settings.base_url else None,
        )
    return subject, body


def render_robot(
    team: Team, items: list[DigestItem], total: int, run: ReminderRun, settings: ReminderSettings
) -> tuple[str, str]:
    """The team's digest as markdown, within the robot's size limit."""
    limit = ROBOT_LIMITS.get(team.webhook_kind or "", 4000)
    with force_locale(DEFAULT_LOCALE):
        title = _(
            "Stalled-project reminders, %(team)s, %(date)s",
            team=team.name_zh,
            date=run.as_of.isoformat(),
        )
        shown = len(items)
        while True:
            body = render_template(
                "reminders/robot_digest.md",
                title=title,
                items=items[:shown],
                more=total - shown,
                words=phrases(DEFAULT_LOCALE),
                link=lambda item: _link(settings, item),
            )
            if len(body.encode("utf-8")) <= limit or shown == 0:
                return title, body
            shown = max(0, shown - max(1, shown // 5))


def queue_digests(session: Session, run: ReminderRun, settings: ReminderSettings) -> list[Delivery]:
    """Queue this run's digests in the outbox (unique per recipient and run); return them.

    Queries are bounded by the number of recipients and teams, not of reminders: counts
    come from one GROUP BY, each section's worst items from an index.
    """
    rows: list[dict[str, Any]] = []
    if settings.email_enabled:
        rows += _email_rows(session, run, settings)
    rows += _robot_rows(session, run, settings)
    if rows:
        stmt = insert_ignoring_conflicts(session, Delivery.__table__).on_conflict_do_nothing()
        session.execute(stmt, rows)
    return list(session.scalars(select(Delivery).where(Delivery.run_id == run.id)))


def _email_rows(
    session: Session, run: ReminderRun, settings: ReminderSettings
) -> list[dict[str, Any]]:
    limit = EMAIL_ITEMS_PER_SECTION
    counts: dict[int, dict[str, int]] = {}
    for user_id, reason, count in session.execute(
        select(Notification.user_id, Notification.reason, func.count())
        .where(Notification.run_id == run.id)
        .group_by(Notification.user_id, Notification.reason)
    ):
        counts.setdefault(user_id, {})[reason] = count
    escalated = run_items(session, run.id, limit, level=3)
    leads = session.scalars(
        select(User).where(
            User.active.is_(True),
            or_(
                and_(
                    User.role == Role.LEAD,
                    User.team_id.in_(select(Reminder.team_id).where(Reminder.run_id == run.id)),
                ),
                and_(User.role == Role.LEADER, literal(escalated[1] > 0)),
            ),
        )
    ).all()
    users = {u.id: u for u in leads}
    if counts:
        users.update(
            (u.id, u)
            for u in session.scalars(
                select(User).where(User.id.in_(list(counts)), User.active.is_(True))
            )
        )
    notified = notified_items(session, run.id, limit) if counts else {}
    rows = []
    for user in sorted(users.values(), key=lambda u: u.id):
        mine = counts.get(user.id, {})
        with force_locale(user.locale or DEFAULT_LOCALE):
            headings = (
                ("owner", _("Your projects and follow-ups")),
                ("lead", _("Escalated to you as team lead")),
            )
            sections = [
                Section(heading, notified.get((user.id, reason), []), total)
                for reason, heading in headings
                if (total := mine.get(reason, 0))
            ]
            if user.role == Role.LEAD and user.team_id is not None:
                rest, total = run_items(
                    session, run.id, limit, team_id=user.team_id, except_user=user.id
                )
                if total:
                    sections.append(Section(_("Your team's other new reminders"), rest, total))
            if user.role == Role.LEADER and escalated[1]:
                sections.append(Section(_("Past three times the threshold, all teams"), *escalated))
        if not sections:
            continue  # nothing to say: no email
        subject, body = render_email(user, sections, run, settings)
        rows.append(
            _delivery_row(
                run,
                f"email:{user.id}:{run.id}",
                "email",
                subject,
                body,
                user_id=user.id,
                give_up_hours=settings.give_up_hours,
            )
        )
    return rows


def _robot_rows(
    session: Session, run: ReminderRun, settings: ReminderSettings
) -> list[dict[str, Any]]:
    teams = session.scalars(
        select(Team).where(
            Team.id.in_(select(Reminder.team_id).where(Reminder.run_id == run.id)),
            Team.active.is_(True),
            Team.webhook_kind.in_(WEBHOOK_KINDS),
            Team.webhook_url.is_not(None),
            Team.webhook_url != "",
        )
    ).all()
    rows = []
    for team in teams:
        items, total = run_items(session, run.id, ROBOT_ITEMS, team_id=team.id)
        subject, body = render_robot(team, items, total, run, settings)
        kind = team.webhook_kind or "wecom"
        rows.append(
            _delivery_row(
                run,
                f"{kind}:{team.id}:{run.id}",
                kind,
                subject,
                body,
                team_id=team.id,
                give_up_hours=settings.give_up_hours,
            )
        )
    return rows


def _delivery_row(
    run: ReminderRun,
    key: str,
    channel: str,
    subject: str,
    body: str,
    *,
    user_id: int | None = None,
    team_id: int | None = None,
    give_up_hours: int = 24,
) -> dict[str, Any]:
    now = utcnow()
    return {
        "key": key,
        "channel": channel,
        "user_id": user_id,
        "team_id": team_id,
        "run_id": run.id,
        "digest_on": run.as_of,
        "subject": subject[:300],
        "body": body,
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "give_up_at": now + timedelta(hours=give_up_hours),
        "created_at": now,
        "updated_at": now,
    }

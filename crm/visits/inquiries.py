"""Inbound inquiries: a company contacts the bureau; it is logged as a lead with a received
date and must be answered within N working days (an admin setting, default 2).

Precisely: the deadline is the N-th working day after the day the inquiry was received
(the day of receipt does not count, whatever time it came in). An inquiry is *overdue*
("flagged") on any day after its deadline while it is unanswered. Working days are Monday
to Friday, minus the holidays and plus the make-up working days (调休) of the settings.
Received on a Friday with N = 2: the deadline is Tuesday; it is not flagged on Monday nor
on Tuesday (there is still Tuesday to answer), and flagged from Wednesday.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import audit
from crm.accounts.models import Team, User
from crm.pipeline.access import project_scope
from crm.pipeline.models import Company, Project
from crm.visits.settings import InquirySettings, load_inquiry_settings


class InquiryError(ValueError):
    def __init__(self, message: object, field: str) -> None:
        super().__init__(str(message))
        self.field = field


def answer_deadline(received_on: date, settings: InquirySettings) -> date:
    """The last day to answer an inquiry received on `received_on`."""
    day = received_on
    remaining = max(0, settings.working_days)
    while remaining:
        day += timedelta(days=1)
        if settings.is_working_day(day):
            remaining -= 1
    return day


def is_overdue(
    received_on: date, answered_on: date | None, as_of: date, settings: InquirySettings
) -> bool:
    return answered_on is None and as_of > answer_deadline(received_on, settings)


def latest_overdue_receipt(as_of: date, settings: InquirySettings) -> date:
    """The latest receipt day whose deadline is before `as_of` (deadlines only grow with it)."""
    day = as_of - timedelta(days=1)
    while answer_deadline(day, settings) >= as_of:
        day -= timedelta(days=1)
    return day


@dataclass(frozen=True)
class InquiryRow:
    project_id: int
    name: str
    company_name: str
    team_id: int
    team_code: str
    owner_id: int | None
    owner_name: str | None
    received_on: date
    answered_on: date | None
    deadline: date
    overdue: bool


def _rows_stmt():  # type: ignore[no-untyped-def]
    return (
        select(
            Project.id,
            Project.name,
            Company.name,
            Project.team_id,
            Team.code,
            Project.owner_id,
            func.coalesce(func.nullif(User.name, ""), User.email),
            Project.inquiry_received_on,
            Project.inquiry_answered_on,
        )
        .join(Company, Company.id == Project.company_id)
        .join(Team, Team.id == Project.team_id)
        .outerjoin(User, User.id == Project.owner_id)
        .where(
            Project.deleted_at.is_(None),
            Project.is_inquiry.is_(True),
            Project.inquiry_received_on.is_not(None),
        )
    )


def _to_row(raw: tuple, as_of: date, settings: InquirySettings) -> InquiryRow:  # type: ignore[type-arg]
    deadline = answer_deadline(raw[7], settings)
    return InquiryRow(*raw, deadline=deadline, overdue=raw[8] is None and as_of > deadline)


def unanswered_inquiries(
    session: Session, as_of: date, *, user: User | None = None
) -> list[InquiryRow]:
    """Inquiries still unanswered after their deadline on `as_of`, oldest first.

    For the reminders: `user=None` gives every team's; with a user, only what they may see.
    Two queries whatever the number of inquiries (the settings, then the rows).
    """
    settings = load_inquiry_settings(session)
    cutoff = latest_overdue_receipt(as_of, settings)
    stmt = _rows_stmt().where(
        Project.inquiry_answered_on.is_(None), Project.inquiry_received_on <= cutoff
    )
    if user is not None:
        stmt = stmt.where(project_scope(user))
    rows = session.execute(stmt.order_by(Project.inquiry_received_on, Project.id)).all()
    return [_to_row(tuple(r), as_of, settings) for r in rows]


def list_inquiries(
    session: Session, user: User, as_of: date, *, open_only: bool, page: int, per_page: int
) -> tuple[list[InquiryRow], int, int]:
    """A page of the inquiries `user` may see (unanswered first, oldest first), the total,
    and how many are overdue."""
    settings = load_inquiry_settings(session)
    stmt = _rows_stmt().where(project_scope(user))
    if open_only:
        stmt = stmt.where(Project.inquiry_answered_on.is_(None))
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    cutoff = latest_overdue_receipt(as_of, settings)
    overdue = (
        session.scalar(
            select(func.count()).select_from(
                _rows_stmt()
                .where(
                    project_scope(user),
                    Project.inquiry_answered_on.is_(None),
                    Project.inquiry_received_on <= cutoff,
                )
                .subquery()
            )
        )
        or 0
    )
    rows = session.execute(
        stmt.order_by(
            Project.inquiry_answered_on.is_not(None),
            Project.inquiry_received_on,
            Project.id,
        )
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return [_to_row(tuple(r), as_of, settings) for r in rows], total, overdue


def inquiry_row(session: Session, project_id: int, as_of: date) -> InquiryRow | None:
    """One inquiry (a project with a receipt date) with its deadline, whoever may see it."""
    row = session.execute(_rows_stmt().where(Project.id == project_id)).first()
    return _to_row(tuple(row), as_of, load_inquiry_settings(session)) if row else None


def mark_answered(
    session: Session, project: Project, *, on: date, user_id: int, today: date
) -> None:
    """Record the day the inquiry was answered (not before it was received, not in future)."""
    if not project.is_inquiry:
        raise InquiryError(_l("This project is not an inquiry."), "project")
    if on > today:
        raise InquiryError(_l("The date cannot be in the future."), "answered_on")
    if project.inquiry_received_on and on < project.inquiry_received_on:
        raise InquiryError(
            _l("An inquiry cannot be answered before it was received."), "answered_on"
        )
    old = project.inquiry_answered_on
    project.inquiry_answered_on = on
    audit.record(
        session,
        user_id=user_id,
        entity_type="project",
        entity_id=project.id,
        action="inquiry_answered",
        changes={"inquiry_answered_on": [old.isoformat() if old else None, on.isoformat()]},
    )
    session.flush()

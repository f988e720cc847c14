"""Read queries for visit pages: one query for a page of visits, one per kind of link.

A page of visits costs a fixed number of queries whatever its size: the rows (with the
company, region, author and team names), the projects linked to them that the viewer may
see, the participants, and the contacts.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, aliased

from crm.accounts.models import Team, User
from crm.pipeline.access import project_scope
from crm.pipeline.models import Company, Project
from crm.reference.models import Region
from crm.visits.access import visit_scope
from crm.visits.models import Contact, Visit, visit_contact, visit_participant, visit_project


@dataclass
class VisitRow:
    visit: Visit
    company_name: str | None
    region_code: str | None
    region_name_zh: str | None
    region_name_en: str | None
    author_name: str
    team_code: str
    projects: list[tuple[int, str]] = field(default_factory=list)
    participants: list[tuple[int, str]] = field(default_factory=list)
    contacts: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class VisitFilters:
    date_from: date | None = None
    date_to: date | None = None
    team_id: int | None = None
    user_id: int | None = None  # author or participant
    region_id: int | None = None
    company_id: int | None = None
    project_id: int | None = None
    type: str | None = None


def _rows_stmt() -> Select[Any]:
    author = aliased(User)
    return (
        select(
            Visit,
            Company.name,
            Region.code,
            Region.name_zh,
            Region.name_en,
            func.coalesce(func.nullif(author.name, ""), author.email),
            Team.code,
        )
        .join(author, author.id == Visit.author_id)
        .join(Team, Team.id == Visit.team_id)
        .outerjoin(Company, Company.id == Visit.company_id)
        .outerjoin(Region, Region.id == Visit.region_id)
    )


def _conditions(filters: VisitFilters) -> list[Any]:
    where: list[Any] = []
    if filters.date_from:
        where.append(Visit.on >= filters.date_from)
    if filters.date_to:
        where.append(Visit.on <= filters.date_to)
    if filters.team_id:
        where.append(Visit.team_id == filters.team_id)
    if filters.user_id:
        participant = select(visit_participant.c.visit_id).where(
            visit_participant.c.user_id == filters.user_id
        )
        where.append(or_(Visit.author_id == filters.user_id, Visit.id.in_(participant)))
    if filters.region_id:
        where.append(Visit.region_id == filters.region_id)
    if filters.company_id:
        where.append(Visit.company_id == filters.company_id)
    if filters.project_id:
        linked = select(visit_project.c.visit_id).where(
            visit_project.c.project_id == filters.project_id
        )
        where.append(Visit.id.in_(linked))
    if filters.type:
        where.append(Visit.type == filters.type)
    return where


def list_visits(
    session: Session, user: User, filters: VisitFilters, *, page: int, per_page: int
) -> tuple[list[VisitRow], int]:
    """A page of the visits `user` may see matching `filters`, newest first, and the total."""
    where = [visit_scope(user), *_conditions(filters)]
    total = session.scalar(select(func.count()).select_from(Visit).where(*where)) or 0
    stmt = (
        _rows_stmt()
        .where(*where)
        .order_by(Visit.on.desc(), Visit.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    rows = [VisitRow(*row) for row in session.execute(stmt)]
    attach_links(session, user, rows)
    return rows, total


def visit_row(session: Session, user: User, visit_id: int) -> VisitRow | None:
    row = session.execute(_rows_stmt().where(Visit.id == visit_id, visit_scope(user))).first()
    if row is None:
        return None
    result = VisitRow(*row)
    attach_links(session, user, [result])
    return result


def attach_links(session: Session, user: User, rows: list[VisitRow]) -> None:
    """Fill each row's projects (visible ones), participants and contacts: three queries."""
    if not rows:
        return
    ids = [r.visit.id for r in rows]
    projects: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for visit_id, pid, name in session.execute(
        select(visit_project.c.visit_id, Project.id, Project.name)
        .join(Project, Project.id == visit_project.c.project_id)
        .where(visit_project.c.visit_id.in_(ids), project_scope(user))
        .order_by(Project.id)
    ):
        projects[visit_id].append((pid, name))
    people: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for visit_id, uid, name in session.execute(
        select(
            visit_participant.c.visit_id,
            User.id,
            func.coalesce(func.nullif(User.name, ""), User.email),
        )
        .join(User, User.id == visit_participant.c.user_id)
        .where(visit_participant.c.visit_id.in_(ids))
        .order_by(User.id)
    ):
        people[visit_id].append((uid, name))
    contacts: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for visit_id, cid, name in session.execute(
        select(visit_contact.c.visit_id, Contact.id, Contact.name)
        .join(Contact, Contact.id == visit_contact.c.contact_id)
        .where(visit_contact.c.visit_id.in_(ids))
        .order_by(Contact.id)
    ):
        contacts[visit_id].append((cid, name))
    for row in rows:
        row.projects = projects.get(row.visit.id, [])
        row.participants = people.get(row.visit.id, [])
        row.contacts = contacts.get(row.visit.id, [])


def project_visits(
    session: Session, user: User, project_id: int, *, page: int = 1, per_page: int = 10
) -> tuple[list[VisitRow], int]:
    """A project's visits the user may see, newest first (the project page's timeline)."""
    return list_visits(
        session, user, VisitFilters(project_id=project_id), page=page, per_page=per_page
    )


def company_visits(
    session: Session, user: User, company_id: int, *, page: int = 1, per_page: int = 10
) -> tuple[list[VisitRow], int]:
    return list_visits(
        session, user, VisitFilters(company_id=company_id), page=page, per_page=per_page
    )


def user_visits(
    session: Session, user: User, *, page: int = 1, per_page: int = 20
) -> tuple[list[VisitRow], int]:
    """Visits the user wrote or took part in (the officer's own page)."""
    return list_visits(session, user, VisitFilters(user_id=user.id), page=page, per_page=per_page)

"""Read queries for visit pages: one query for a page of visits, one per kind of link.

A page of visits costs a fixed number of queries whatever its size: the count, the rows
(with the company, region, author and team names), then one query per kind of link the
page shows: the projects the viewer may see, the participants, the contacts. The base
statements are built once (building SQLAlchemy statements costs more than running these
indexed queries).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Select, func, select
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


ALL_LINKS = ("projects", "participants", "contacts")
COUNT_CAP = 1000


@functools.cache
def _rows_stmt() -> Select[Any]:
    author = aliased(User, name="author")
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
        # The author is always one of the participants (services.create_visit).
        participant = select(visit_participant.c.visit_id).where(
            visit_participant.c.user_id == filters.user_id
        )
        where.append(Visit.id.in_(participant))
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
    session: Session,
    user: User,
    filters: VisitFilters,
    *,
    page: int,
    per_page: int,
    links: Sequence[str] = ("projects",),
    count_cap: int = COUNT_CAP,
    scoped: bool = True,
) -> tuple[list[VisitRow], int]:
    """A page of the visits `user` may see matching `filters`, newest first, and the total.

    The total is exact up to `count_cap`; above it, `count_cap + 1` stands for "more than
    the cap" (counting every visible visit of a million, through the team scope, would cost
    seconds; the page itself comes from the date index and stays fast).
    `links` says which links to load (the pages show projects; the API all of them).
    `scoped=False` leaves out the visibility clause: only for a caller that filtered on a
    project the user may see (every visit linked to it is then visible, by definition).
    """
    where = [*_conditions(filters)]
    where.append(visit_scope(user) if scoped else Visit.deleted_at.is_(None))
    capped = select(Visit.id).where(*where).limit(count_cap + 1).subquery()
    total = session.scalar(select(func.count()).select_from(capped)) or 0
    stmt = (
        _rows_stmt()
        .where(*where)
        .order_by(Visit.on.desc(), Visit.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    rows = [VisitRow(*row) for row in session.execute(stmt)]
    attach_links(session, user, rows, links)
    return rows, total


def visit_row(session: Session, user: User, visit_id: int) -> VisitRow | None:
    row = session.execute(_rows_stmt().where(Visit.id == visit_id, visit_scope(user))).first()
    if row is None:
        return None
    result = VisitRow(*row)
    attach_links(session, user, [result], ALL_LINKS)
    return result


@functools.cache
def _link_stmts() -> dict[str, Select[Any]]:
    return {
        "projects": select(visit_project.c.visit_id, Project.id, Project.name)
        .join(Project, Project.id == visit_project.c.project_id)
        .order_by(Project.id),
        "participants": select(
            visit_participant.c.visit_id,
            User.id,
            func.coalesce(func.nullif(User.name, ""), User.email),
        )
        .join(User, User.id == visit_participant.c.user_id)
        .order_by(User.id),
        "contacts": select(visit_contact.c.visit_id, Contact.id, Contact.name)
        .join(Contact, Contact.id == visit_contact.c.contact_id)
        .order_by(Contact.id),
    }


def attach_links(
    session: Session, user: User, rows: list[VisitRow], links: Sequence[str] = ALL_LINKS
) -> None:
    """Fill each row's projects (visible ones), participants and contacts: a query each."""
    if not rows:
        return
    ids = [r.visit.id for r in rows]
    stmts = _link_stmts()
    conditions = {
        "projects": (visit_project.c.visit_id.in_(ids), project_scope(user)),
        "participants": (visit_participant.c.visit_id.in_(ids),),
        "contacts": (visit_contact.c.visit_id.in_(ids),),
    }
    for kind in links:
        found: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for visit_id, other_id, name in session.execute(stmts[kind].where(*conditions[kind])):
            found[visit_id].append((other_id, name))
        for row in rows:
            setattr(row, kind, found.get(row.visit.id, []))


def project_visits(
    session: Session, user: User, project_id: int, *, page: int = 1, per_page: int = 10
) -> tuple[list[VisitRow], int]:
    """A project's visits, newest first (the project page's timeline).

    The caller has checked that `user` may see the project, so every visit linked to it is
    visible to them (see crm.visits.access) and the query needs no visibility clause.
    """
    return list_visits(
        session,
        user,
        VisitFilters(project_id=project_id),
        page=page,
        per_page=per_page,
        scoped=False,
    )


def company_visits(
    session: Session, user: User, company_id: int, *, page: int = 1, per_page: int = 10
) -> tuple[list[VisitRow], int]:
    return list_visits(
        session, user, VisitFilters(company_id=company_id), page=page, per_page=per_page
    )


def user_visits(
    session: Session,
    user: User,
    *,
    person_id: int | None = None,
    page: int = 1,
    per_page: int = 20,
) -> tuple[list[VisitRow], int]:
    """Visits a person (by default the user) wrote or took part in, newest first, as far
    as `user` may see them (the author is always a participant)."""
    filters = VisitFilters(user_id=person_id or user.id)
    return list_visits(session, user, filters, page=page, per_page=per_page)

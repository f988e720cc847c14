"""Logging visits: one call records the visit, its participants and projects, creates the
company, a lead project and contacts on the fly when asked, turns next steps into tasks,
moves the projects' last activity forward, and remembers the place and participants for
the author's next visit. Plain functions taking a Session; they flush, the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from crm import audit
from crm.accounts.models import User
from crm.pipeline.access import project_scope
from crm.pipeline.models import Company, Project
from crm.reference.models import Region
from crm.visits import contacts as contact_service
from crm.visits.event_models import Event
from crm.visits.leads import (
    LeadError,
    create_lead_project,
    find_or_create_company,
    recompute_last_activity,
    touch_projects,
    visit_moment,
)
from crm.visits.models import (
    Contact,
    Visit,
    VisitDefaults,
    VisitType,
    visit_contact,
    visit_participant,
    visit_project,
)
from crm.visits.places import region_lookup
from crm.visits.tasks import TaskError, create_task

NEW_PROJECT = -1  # a next step's project_id meaning "the lead project created with the visit"


class VisitError(ValueError):
    """A refused visit; `field` names the input at fault (as the form names it)."""

    def __init__(self, message: object, field: str) -> None:
        super().__init__(str(message))
        self.field = field


@dataclass
class NextStep:
    title: str
    due_on: date
    owner_id: int | None = None  # default: the author
    project_id: int | None = None  # NEW_PROJECT for the lead created with the visit


@dataclass
class NewContact:
    name: str
    title: str | None = None
    phone: str | None = None


@dataclass
class VisitInput:
    on: date
    type: str
    city: str | None = None
    province: str | None = None
    region_id: int | None = None
    company_id: int | None = None
    company_name: str | None = None  # used when company_id is None
    create_company: bool = False  # create `company_name` when no company has that name
    new_project_name: str | None = None  # create a lead project for the company
    project_ids: list[int] = field(default_factory=list)
    participant_user_ids: list[int] = field(default_factory=list)
    contact_ids: list[int] = field(default_factory=list)
    new_contacts: list[NewContact] = field(default_factory=list)
    event_id: int | None = None
    purpose: str | None = None
    learned: str | None = None
    intent: str | None = None
    intent_amount: Decimal | None = None
    land_mu: Decimal | None = None
    expected_output: Decimal | None = None
    conditions_asked: str | None = None
    outcome: str | None = None
    next_steps: str | None = None
    tasks: list[NextStep] = field(default_factory=list)


@dataclass
class VisitResult:
    visit: Visit
    company_created: bool = False
    project: Project | None = None
    tasks: list[Any] = field(default_factory=list)


TEXT_FIELDS = ("purpose", "learned", "intent", "conditions_asked", "outcome", "next_steps")
NUMBER_FIELDS = ("intent_amount", "land_mu", "expected_output")


def _text(value: str | None, limit: int, name: str) -> str | None:
    text = (value or "").strip()
    if len(text) > limit:
        raise VisitError(_l("At most %(n)d characters.", n=limit), name)
    return text or None


def _check_common(session: Session, author: User, data: VisitInput, today: date) -> None:
    if data.on is None:
        raise VisitError(_l("Give the date of the visit."), "on")
    if data.on > today:
        raise VisitError(
            _l("A visit is logged once it has happened: the date is in the future."), "on"
        )
    if data.type not in {t.value for t in VisitType}:
        raise VisitError(_l("Choose the kind of visit."), "type")
    if data.region_id is not None and session.get(Region, data.region_id) is None:
        raise VisitError(_l("No such region."), "region")
    for name in NUMBER_FIELDS:
        value = getattr(data, name)
        if value is not None and (value < 0 or value >= Decimal("1e14")):
            raise VisitError(_l("Give a positive amount."), name)
    if (
        data.event_id is not None
        and session.scalar(
            select(Event.id).where(Event.id == data.event_id, Event.deleted_at.is_(None))
        )
        is None
    ):
        raise VisitError(_l("No such event."), "event_id")


def _participants(
    session: Session, author_id: int, ids: list[int], already: frozenset[int] = frozenset()
) -> list[int]:
    """The participants given plus the author (always there): active users, or users who
    were already participants (a colleague who left stays on the visits they attended)."""
    wanted = sorted(set(ids) - {author_id})
    found = set(
        session.scalars(select(User.id).where(User.id.in_(wanted), User.active.is_(True)))
    ) | (set(wanted) & already)
    if set(wanted) - found:
        raise VisitError(_l("Choose active users as participants."), "participant_user_ids")
    return sorted(found | {author_id})


def _visible_projects(session: Session, author: User, ids: list[int]) -> list[Project]:
    wanted = sorted(set(ids))
    if not wanted:
        return []
    projects = list(
        session.scalars(select(Project).where(Project.id.in_(wanted), project_scope(author)))
    )
    if len(projects) != len(wanted):
        raise VisitError(
            _l("One of the projects does not exist or is not visible to you."), "project_ids"
        )
    return projects


def _company(session: Session, author: User, data: VisitInput) -> tuple[Company | None, bool]:
    if data.company_id is not None:
        company = session.scalar(
            select(Company).where(Company.id == data.company_id, Company.deleted_at.is_(None))
        )
        if company is None:
            raise VisitError(_l("No such company."), "company_id")
        return company, False
    if (data.company_name or "").strip():
        try:
            return find_or_create_company(
                session, data.company_name or "", user_id=author.id, create=data.create_company
            )
        except LeadError as exc:
            raise VisitError(str(exc), exc.field) from exc
    return None, False


def create_visit(
    session: Session, author: User, data: VisitInput, *, now: datetime, today: date
) -> VisitResult:
    """Record a visit with everything it brings (see the module docstring)."""
    if author.team_id is None:
        raise VisitError(_l("Only members of a team log visits."), "team")
    _check_common(session, author, data, today)
    values = {name: _text(getattr(data, name), 10000, name) for name in TEXT_FIELDS}
    city = _text(data.city, 100, "city")
    province = _text(data.province, 100, "province")
    if data.region_id is None and (city or province):
        lookup = region_lookup(session)
        suggested = lookup.suggest(city, province)
        data.region_id = lookup.ids.get(suggested) if suggested else None
    participants = _participants(session, author.id, data.participant_user_ids)
    projects = _visible_projects(session, author, data.project_ids)
    company, company_created = _company(session, author, data)
    if company is None and (projects or data.new_project_name):
        company_ids = {p.company_id for p in projects}
        if len(company_ids) == 1 and not data.new_project_name:
            company = session.get(Company, company_ids.pop())
        else:
            raise VisitError(_l("Give the company the visit was with."), "company_name")
    contact_ids = sorted(set(data.contact_ids))
    if contact_ids:
        found = set(
            session.scalars(
                select(Contact.id).where(Contact.id.in_(contact_ids), Contact.deleted_at.is_(None))
            )
        )
        if found != set(contact_ids):
            raise VisitError(_l("One of the contacts does not exist."), "contact_ids")

    new_project = None
    if data.new_project_name:
        assert company is not None
        try:
            new_project = create_lead_project(
                session,
                author,
                company=company,
                name=data.new_project_name,
                on=data.on,
                team_id=author.team_id,
                planned_investment=data.intent_amount,
                land_mu=data.land_mu,
                expected_annual_output=data.expected_output,
                source_region_id=data.region_id,
            )
        except LeadError as exc:
            raise VisitError(str(exc), "new_project_name") from exc
        projects.append(new_project)

    for index, person in enumerate(data.new_contacts):
        if company is None:
            raise VisitError(_l("Give the company the new contacts work at."), "company_name")
        try:
            contact = contact_service.create_contact(
                session,
                contact_service.ContactInput(
                    name=person.name, company_id=company.id, title=person.title, phone=person.phone
                ),
                user_id=author.id,
                today=today,
            )
        except contact_service.ContactError as exc:
            raise VisitError(
                _l("New contact %(n)d: %(error)s", n=index + 1, error=str(exc)), "new_contacts"
            ) from exc
        contact_ids.append(contact.id)

    visit = Visit(
        on=data.on,
        type=data.type,
        city=city,
        province=province,
        region_id=data.region_id,
        company_id=company.id if company else None,
        event_id=data.event_id,
        author_id=author.id,
        team_id=author.team_id,
        intent_amount=data.intent_amount,
        land_mu=data.land_mu,
        expected_output=data.expected_output,
        **values,
    )
    session.add(visit)
    session.flush()
    _link(session, visit.id, [p.id for p in projects], participants, contact_ids)

    tasks = []
    for index, step in enumerate(data.tasks):
        project_id = step.project_id
        if project_id == NEW_PROJECT:
            project_id = new_project.id if new_project else None
        if project_id is None and len(projects) == 1:
            project_id = projects[0].id
        if project_id is not None and project_id not in {p.id for p in projects}:
            raise VisitError(
                _l("Next step %(n)d: link it to one of the visit's projects.", n=index + 1),
                "tasks",
            )
        try:
            tasks.append(
                create_task(
                    session,
                    title=step.title,
                    owner_id=step.owner_id or author.id,
                    due_on=step.due_on,
                    project_id=project_id,
                    created_by=author,
                    visit_id=visit.id,
                )
            )
        except TaskError as exc:
            raise VisitError(
                _l("Next step %(n)d: %(error)s", n=index + 1, error=str(exc)), "tasks"
            ) from exc

    touch_projects(session, [p.id for p in projects], visit_moment(data.on, now))
    remember_defaults(session, author.id, city, province, data.region_id, participants)
    audit.record(
        session,
        user_id=author.id,
        entity_type="visit",
        entity_id=visit.id,
        action="create",
        changes={
            "on": [None, data.on.isoformat()],
            "company_id": [None, visit.company_id],
            "project_ids": [None, sorted(p.id for p in projects)],
        },
    )
    session.flush()
    return VisitResult(
        visit=visit, company_created=company_created, project=new_project, tasks=tasks
    )


def _link(
    session: Session,
    visit_id: int,
    project_ids: list[int],
    user_ids: list[int],
    contact_ids: list[int],
) -> None:
    for table, column, ids in (
        (visit_project, "project_id", project_ids),
        (visit_participant, "user_id", user_ids),
        (visit_contact, "contact_id", contact_ids),
    ):
        unique = sorted(set(ids))
        if unique:
            session.execute(insert(table), [{"visit_id": visit_id, column: i} for i in unique])


def linked_ids(session: Session, visit_id: int) -> tuple[list[int], list[int], list[int]]:
    """(project ids, participant user ids, contact ids) of a visit."""
    projects = session.scalars(
        select(visit_project.c.project_id).where(visit_project.c.visit_id == visit_id)
    ).all()
    users = session.scalars(
        select(visit_participant.c.user_id).where(visit_participant.c.visit_id == visit_id)
    ).all()
    contacts = session.scalars(
        select(visit_contact.c.contact_id).where(visit_contact.c.visit_id == visit_id)
    ).all()
    return sorted(projects), sorted(users), sorted(contacts)


def update_visit(
    session: Session, visit: Visit, editor: User, data: VisitInput, *, now: datetime, today: date
) -> Visit:
    """Change a visit's facts and links (no on-the-fly creation: use the new-visit form).

    Links to projects the editor cannot see are kept as they are.
    """
    _check_common(session, editor, data, today)
    if data.company_id is None and (data.company_name or "").strip():
        company, _created = _company(session, editor, data)
        data.company_id = company.id if company else None
    elif data.company_id is not None:
        _company(session, editor, data)
    old_projects, old_users, old_contacts = linked_ids(session, visit.id)
    visible_old = set(
        session.scalars(
            select(Project.id).where(Project.id.in_(old_projects), project_scope(editor))
        )
    )
    projects = _visible_projects(session, editor, data.project_ids)
    project_ids = sorted({p.id for p in projects} | (set(old_projects) - visible_old))
    participants = _participants(
        session, visit.author_id, data.participant_user_ids, frozenset(old_users)
    )
    changes: dict[str, list[Any]] = {}
    new_values: dict[str, Any] = {
        "on": data.on,
        "type": data.type,
        "city": _text(data.city, 100, "city"),
        "province": _text(data.province, 100, "province"),
        "region_id": data.region_id,
        "company_id": data.company_id,
        "event_id": data.event_id,
        **{name: _text(getattr(data, name), 10000, name) for name in TEXT_FIELDS},
        **{name: getattr(data, name) for name in NUMBER_FIELDS},
    }
    for key, value in new_values.items():
        old = getattr(visit, key)
        if old != value:
            changes[key] = [_plain(old), _plain(value)]
            setattr(visit, key, value)
    for key, old_ids, new_ids in (
        ("project_ids", old_projects, project_ids),
        ("participant_user_ids", old_users, participants),
        ("contact_ids", old_contacts, sorted(set(data.contact_ids))),
    ):
        if sorted(old_ids) != sorted(new_ids):
            changes[key] = [sorted(old_ids), sorted(new_ids)]
    for table in (visit_project, visit_participant, visit_contact):
        session.execute(delete(table).where(table.c.visit_id == visit.id))
    _link(session, visit.id, project_ids, participants, sorted(set(data.contact_ids)))
    if changes:
        audit.record(
            session,
            user_id=editor.id,
            entity_type="visit",
            entity_id=visit.id,
            action="update",
            changes=changes,
        )
    recompute_last_activity(session, set(old_projects) | set(project_ids), now)
    session.flush()
    return visit


def _plain(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def delete_visit(session: Session, visit: Visit, *, user_id: int, now: datetime) -> None:
    """Soft delete; the projects' last activity is recomputed without it."""
    visit.deleted_at = now
    audit.record(session, user_id=user_id, entity_type="visit", entity_id=visit.id, action="delete")
    project_ids = session.scalars(
        select(visit_project.c.project_id).where(visit_project.c.visit_id == visit.id)
    ).all()
    session.flush()
    recompute_last_activity(session, project_ids, now)


def lead_from_visit(
    session: Session, visit: Visit, user: User, *, name: str, now: datetime
) -> Project:
    """Turn the interest a visit found into a new lead project, in one step.

    The project takes the visit's company, date, region and what was learned (amount, land,
    expected output), belongs to the user's team, and is linked to the visit.
    """
    if visit.company_id is None:
        raise VisitError(_l("The visit has no company: add it first."), "company_name")
    if user.team_id is None:
        raise VisitError(_l("Only members of a team create lead projects."), "team")
    company = session.get(Company, visit.company_id)
    assert company is not None
    try:
        project = create_lead_project(
            session,
            user,
            company=company,
            name=name,
            on=visit.on,
            team_id=user.team_id,
            planned_investment=visit.intent_amount,
            land_mu=visit.land_mu,
            expected_annual_output=visit.expected_output,
            source_region_id=visit.region_id,
            notes=visit.intent or visit.learned,
        )
    except LeadError as exc:
        raise VisitError(str(exc), "name") from exc
    session.execute(insert(visit_project), [{"visit_id": visit.id, "project_id": project.id}])
    touch_projects(session, [project.id], visit_moment(visit.on, now))
    audit.record(
        session,
        user_id=user.id,
        entity_type="visit",
        entity_id=visit.id,
        action="lead_project",
        changes={"project_id": [None, project.id]},
    )
    session.flush()
    return project


def remember_defaults(
    session: Session,
    user_id: int,
    city: str | None,
    province: str | None,
    region_id: int | None,
    participant_ids: list[int],
) -> None:
    row = session.get(VisitDefaults, user_id)
    if row is None:
        row = VisitDefaults(user_id=user_id)
        session.add(row)
    row.city, row.province, row.region_id = city, province, region_id
    row.participant_user_ids = sorted(set(participant_ids))


def defaults_for(session: Session, user_id: int) -> VisitDefaults | None:
    return session.get(VisitDefaults, user_id)

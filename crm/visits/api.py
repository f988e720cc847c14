"""Visit and contact endpoints of the JSON API (same services and scoping as the web UI)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from pydantic import Field
from sqlalchemy import func, or_, select

from crm.accounts.models import Team
from crm.api.framework import ApiError, Page, PageQuery, Schema, api_user, route
from crm.enums import Role
from crm.extensions import db
from crm.pipeline.models import Company
from crm.reference.models import Region
from crm.visits import contacts as contact_service
from crm.visits import queries, services
from crm.visits.access import get_visible_visit
from crm.visits.leads import company_candidates, local_today
from crm.visits.models import Contact
from crm.visits.places import region_lookup
from crm.visits.web import company_contacts, company_projects, now_utc

WRITERS = (Role.ADMIN, Role.LEAD, Role.OFFICER)
VisitTypeName = Literal["company_visit", "company_came", "online", "event"]
API_COUNT_CAP = 10_000  # `total` is exact up to this; API_COUNT_CAP + 1 means "more"
FIELD_NAMES = {"on": "date", "tasks": "tasks", "company_name": "company_name"}


class VisitOut(Schema):
    id: int
    date: dt.date
    type: VisitTypeName
    city: str | None
    province: str | None
    region: str | None = Field(description="4+N region code")
    company_id: int | None
    company_name: str | None
    event_id: int | None
    project_ids: list[int] = Field(description="linked projects the caller may see")
    participant_user_ids: list[int]
    contact_ids: list[int]
    purpose: str | None
    learned: str | None
    intent: str | None
    intent_amount: Decimal | None = Field(description="万元")
    land_mu: Decimal | None = Field(description="亩")
    expected_output: Decimal | None = Field(description="expected annual output, 万元")
    conditions_asked: str | None
    outcome: str | None
    next_steps: str | None
    author_id: int
    team: str
    created_at: dt.datetime


class VisitCreatedOut(VisitOut):
    created_company: bool
    created_project_id: int | None
    task_ids: list[int]


class VisitQuery(PageQuery):
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    team: str | None = Field(None, description="team code")
    user_id: int | None = Field(None, description="author or participant")
    region: str | None = Field(None, description="4+N region code")
    company_id: int | None = None
    project_id: int | None = None
    type: VisitTypeName | None = None


class NewContactIn(Schema):
    name: str = Field(min_length=1, max_length=100)
    title: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=40)


class NextStepIn(Schema):
    title: str = Field(min_length=1, max_length=300)
    due_date: dt.date
    owner_id: int | None = Field(None, description="default: the author")
    project_id: int | None = Field(None, description="one of the visit's projects")
    new_project: bool = Field(False, description="link to the lead project created now")


class VisitIn(Schema):
    date: dt.date
    type: VisitTypeName
    city: str | None = Field(None, max_length=100)
    province: str | None = Field(None, max_length=100)
    region: str | None = Field(None, description="region code; suggested from the city if absent")
    company_id: int | None = None
    company_name: str | None = Field(
        None, max_length=300, description="used when company_id is absent"
    )
    create_company: bool = Field(False, description="create company_name if no company has it")
    new_project_name: str | None = Field(None, max_length=300, description="create a lead")
    project_ids: list[int] = []
    participant_user_ids: list[int] = Field([], description="the author is always included")
    contact_ids: list[int] = []
    new_contacts: list[NewContactIn] = []
    event_id: int | None = None
    purpose: str | None = None
    learned: str | None = None
    intent: str | None = None
    intent_amount: Decimal | None = Field(None, ge=0, description="万元")
    land_mu: Decimal | None = Field(None, ge=0)
    expected_output: Decimal | None = Field(None, ge=0, description="万元")
    conditions_asked: str | None = None
    outcome: str | None = None
    next_steps: str | None = None
    tasks: list[NextStepIn] = Field([], max_length=20)


def visit_out(row: queries.VisitRow) -> VisitOut:
    v = row.visit
    return VisitOut(
        id=v.id,
        date=v.on,
        type=v.type,  # type: ignore[arg-type]
        city=v.city,
        province=v.province,
        region=row.region_code,
        company_id=v.company_id,
        company_name=row.company_name,
        event_id=v.event_id,
        project_ids=[pid for pid, _ in row.projects],
        participant_user_ids=[uid for uid, _ in row.participants],
        contact_ids=[cid for cid, _ in row.contacts],
        purpose=v.purpose,
        learned=v.learned,
        intent=v.intent,
        intent_amount=v.intent_amount,
        land_mu=v.land_mu,
        expected_output=v.expected_output,
        conditions_asked=v.conditions_asked,
        outcome=v.outcome,
        next_steps=v.next_steps,
        author_id=v.author_id,
        team=row.team_code,
        created_at=v.created_at,
    )


def _region_id(code: str | None, city: str | None, province: str | None) -> int | None:
    lookup = region_lookup(db.session)
    if code:
        if code not in lookup.ids:
            raise ApiError(422, "Unknown region.", [("region", "No region has this code.")])
        return lookup.ids[code]
    suggested = lookup.suggest(city, province)
    return lookup.ids.get(suggested) if suggested else None


@route(
    "/visits",
    summary="Visits the caller may see, newest first (total exact up to 10,000; 10,001 = more)",
    query=VisitQuery,
    response=Page[VisitOut],
    tags=["visits"],
)
def list_visits(query: VisitQuery) -> Page[VisitOut]:
    user = api_user()
    team_id = None
    if query.team:
        team_id = db.session.scalar(select(Team.id).where(Team.code == query.team))
        if team_id is None:
            raise ApiError(422, "Unknown team.", [("team", "No team has this code.")])
    region_id = None
    if query.region:
        region_id = db.session.scalar(select(Region.id).where(Region.code == query.region))
        if region_id is None:
            raise ApiError(422, "Unknown region.", [("region", "No region has this code.")])
    filters = queries.VisitFilters(
        date_from=query.date_from,
        date_to=query.date_to,
        team_id=team_id,
        user_id=query.user_id,
        region_id=region_id,
        company_id=query.company_id,
        project_id=query.project_id,
        type=query.type,
    )
    rows, total = queries.list_visits(
        db.session,
        user,
        filters,
        page=query.page,
        per_page=query.per_page,
        links=queries.ALL_LINKS,
        count_cap=API_COUNT_CAP,
    )
    return Page[VisitOut](
        items=[visit_out(r) for r in rows], total=total, page=query.page, per_page=query.per_page
    )


@route(
    "/visits",
    "POST",
    summary="Log a visit (may create the company, a lead project, contacts and follow-ups)",
    body=VisitIn,
    response=VisitCreatedOut,
    status=201,
    roles=WRITERS,
    tags=["visits"],
)
def create_visit(body: VisitIn) -> tuple[VisitCreatedOut, dict[str, str]]:
    user = api_user()
    data = services.VisitInput(
        on=body.date,
        type=body.type,
        city=body.city,
        province=body.province,
        region_id=_region_id(body.region, body.city, body.province),
        company_id=body.company_id,
        company_name=body.company_name,
        create_company=body.create_company,
        new_project_name=body.new_project_name,
        project_ids=body.project_ids,
        participant_user_ids=body.participant_user_ids,
        contact_ids=body.contact_ids,
        new_contacts=[services.NewContact(c.name, c.title, c.phone) for c in body.new_contacts],
        event_id=body.event_id,
        purpose=body.purpose,
        learned=body.learned,
        intent=body.intent,
        intent_amount=body.intent_amount,
        land_mu=body.land_mu,
        expected_output=body.expected_output,
        conditions_asked=body.conditions_asked,
        outcome=body.outcome,
        next_steps=body.next_steps,
        tasks=[
            services.NextStep(
                title=t.title,
                due_on=t.due_date,
                owner_id=t.owner_id,
                project_id=services.NEW_PROJECT if t.new_project else t.project_id,
            )
            for t in body.tasks
        ],
    )
    try:
        result = services.create_visit(db.session, user, data, now=now_utc(), today=local_today())
    except services.VisitError as exc:
        db.session.rollback()
        raise ApiError(422, str(exc), [(FIELD_NAMES.get(exc.field, exc.field), str(exc))]) from exc
    db.session.commit()
    row = queries.visit_row(db.session, user, result.visit.id)
    assert row is not None
    out = VisitCreatedOut(
        **visit_out(row).model_dump(),
        created_company=result.company_created,
        created_project_id=result.project.id if result.project else None,
        task_ids=[t.id for t in result.tasks],
    )
    return out, {"Location": f"/api/v1/visits/{result.visit.id}"}


@route("/visits/<int:visit_id>", summary="One visit", response=VisitOut, tags=["visits"])
def get_visit(visit_id: int) -> VisitOut:
    row = queries.visit_row(db.session, api_user(), visit_id)
    if row is None:
        raise ApiError(404, "No such visit.")
    return visit_out(row)


@route(
    "/visits/<int:visit_id>",
    "DELETE",
    summary="Delete a visit (soft delete, kept in the history)",
    roles=WRITERS,
    status=204,
    tags=["visits"],
)
def delete_visit(visit_id: int) -> None:
    from crm.visits.access import can_edit_visit

    user = api_user()
    visit = get_visible_visit(db.session, user, visit_id)
    if not can_edit_visit(user, visit):
        raise ApiError(403, "You may not change this visit.")
    services.delete_visit(db.session, visit, user_id=user.id, now=now_utc())
    db.session.commit()


# --- helpers of the visit form (called by crm/static/js/visits.js with the session) -------


class CompanySuggestionQuery(Schema):
    q: str = Field(min_length=1, max_length=100, description="part of a company's name or pinyin")


class CompanySuggestion(Schema):
    id: int
    name: str
    exact: bool = Field(description="the typed name is this company's (normalised) name")


class CompanySuggestions(Schema):
    items: list[CompanySuggestion]


class NamedRef(Schema):
    id: int
    name: str


class CompanyVisitOptions(Schema):
    projects: list[NamedRef] = Field(description="the company's projects the caller may see")
    contacts: list[NamedRef]


@route(
    "/visits/company-suggestions",
    summary="Companies a typed name may mean (exact matches first), for the visit form",
    query=CompanySuggestionQuery,
    response=CompanySuggestions,
    tags=["visits"],
)
def suggest_companies(query: CompanySuggestionQuery) -> CompanySuggestions:
    matches = company_candidates(db.session, query.q)
    return CompanySuggestions(
        items=[CompanySuggestion(id=m.id, name=m.name, exact=m.exact) for m in matches]
    )


@route(
    "/visits/company-options/<int:company_id>",
    summary="A company's projects (visible ones) and contacts, for the visit form",
    response=CompanyVisitOptions,
    tags=["visits"],
)
def company_visit_options(company_id: int) -> CompanyVisitOptions:
    if (
        db.session.scalar(
            select(Company.id).where(Company.id == company_id, Company.deleted_at.is_(None))
        )
        is None
    ):
        raise ApiError(404, "No such company.")
    return CompanyVisitOptions(
        projects=[
            NamedRef(id=pid, name=name)
            for pid, name in company_projects(db.session, api_user(), company_id)
        ],
        contacts=[
            NamedRef(id=cid, name=name) for cid, name in company_contacts(db.session, company_id)
        ],
    )


# --- contacts ----------------------------------------------------------------------------


class EmploymentOut(Schema):
    company_id: int
    company_name: str
    title: str | None
    started_on: dt.date | None
    ended_on: dt.date | None


class ContactOut(Schema):
    id: int
    name: str
    company_id: int | None
    title: str | None
    phone: str | None
    email: str | None
    wechat: str | None
    notes: str | None
    created_at: dt.datetime
    employment: list[EmploymentOut] | None = Field(
        None, description="companies over time, newest first (single contact only)"
    )


class ContactQuery(PageQuery):
    company_id: int | None = None
    q: str | None = Field(None, max_length=100, description="part of the name or phone")


class ContactIn(Schema):
    name: str = Field(min_length=1, max_length=100)
    company_id: int | None = None
    title: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=40)
    email: str | None = Field(None, max_length=254)
    wechat: str | None = Field(None, max_length=100)
    notes: str | None = None


class ContactPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=100)
    company_id: int | None = None
    title: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=40)
    email: str | None = Field(None, max_length=254)
    wechat: str | None = Field(None, max_length=100)
    notes: str | None = None


def contact_out(contact: Contact, employment: list[EmploymentOut] | None = None) -> ContactOut:
    return ContactOut(
        id=contact.id,
        name=contact.name,
        company_id=contact.company_id,
        title=contact.title,
        phone=contact.phone,
        email=contact.email,
        wechat=contact.wechat,
        notes=contact.notes,
        created_at=contact.created_at,
        employment=employment,
    )


def _contact(contact_id: int) -> Contact:
    contact = db.session.scalar(
        select(Contact).where(Contact.id == contact_id, Contact.deleted_at.is_(None))
    )
    if contact is None:
        raise ApiError(404, "No such contact.")
    return contact


def _contact_with_history(contact: Contact) -> ContactOut:
    history = [
        EmploymentOut(
            company_id=row.company_id,
            company_name=name,
            title=row.title,
            started_on=row.started_on,
            ended_on=row.ended_on,
        )
        for row, name in contact_service.employment_history(db.session, contact.id)
    ]
    return contact_out(contact, history)


@route(
    "/contacts",
    summary="Contacts (people at companies)",
    query=ContactQuery,
    response=Page[ContactOut],
    tags=["contacts"],
)
def list_contacts(query: ContactQuery) -> Page[ContactOut]:
    where = [Contact.deleted_at.is_(None)]
    if query.company_id:
        where.append(Contact.company_id == query.company_id)
    if query.q:
        like = f"%{query.q.replace('%', '').replace('_', '')}%"
        where.append(or_(Contact.name.like(like), Contact.phone.like(like)))
    total = db.session.scalar(select(func.count()).select_from(Contact).where(*where)) or 0
    contacts = db.session.scalars(
        select(Contact)
        .where(*where)
        .order_by(Contact.name, Contact.id)
        .limit(query.per_page)
        .offset((query.page - 1) * query.per_page)
    ).all()
    return Page[ContactOut](
        items=[contact_out(c) for c in contacts],
        total=total,
        page=query.page,
        per_page=query.per_page,
    )


@route(
    "/contacts",
    "POST",
    summary="Create a contact",
    body=ContactIn,
    response=ContactOut,
    status=201,
    roles=WRITERS,
    tags=["contacts"],
)
def create_contact(body: ContactIn) -> tuple[ContactOut, dict[str, str]]:
    user = api_user()
    try:
        contact = contact_service.create_contact(
            db.session,
            contact_service.ContactInput(**body.model_dump()),
            user_id=user.id,
            today=local_today(),
        )
    except contact_service.ContactError as exc:
        db.session.rollback()
        raise ApiError(422, str(exc), [(exc.field, str(exc))]) from exc
    db.session.commit()
    return _contact_with_history(contact), {"Location": f"/api/v1/contacts/{contact.id}"}


@route(
    "/contacts/<int:contact_id>",
    summary="One contact with their employment history",
    response=ContactOut,
    tags=["contacts"],
)
def get_contact(contact_id: int) -> ContactOut:
    return _contact_with_history(_contact(contact_id))


@route(
    "/contacts/<int:contact_id>",
    "PATCH",
    summary="Change a contact (a new company_id keeps the old employment in the history)",
    body=ContactPatch,
    response=ContactOut,
    roles=WRITERS,
    tags=["contacts"],
)
def update_contact(contact_id: int, body: ContactPatch) -> ContactOut:
    user = api_user()
    contact = _contact(contact_id)
    current = {
        k: getattr(contact, k)
        for k in ("name", "company_id", "title", "phone", "email", "wechat", "notes")
    }
    current.update(body.model_dump(include=body.model_fields_set))
    if current["name"] is None:
        raise ApiError(422, "A contact needs a name.", [("name", "Give the contact's name.")])
    try:
        contact_service.update_contact(
            db.session,
            contact,
            contact_service.ContactInput(**current),
            user_id=user.id,
            today=local_today(),
        )
    except contact_service.ContactError as exc:
        db.session.rollback()
        raise ApiError(422, str(exc), [(exc.field, str(exc))]) from exc
    db.session.commit()
    return _contact_with_history(contact)

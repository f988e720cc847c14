"""Visit and contact endpoints of the JSON API (same services and scoping as the web UI)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from pydantic import Field
from sqlalchemy import select

from crm.accounts.models import Team
from crm.api.framework import Amount, ApiError, Page, PageQuery, Schema, api_user, route
from crm.enums import Role
from crm.extensions import db
from crm.pipeline.models import Company
from crm.reference.models import Region
from crm.visits import queries, services
from crm.visits.access import get_visible_visit
from crm.visits.leads import company_candidates, local_today
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
    intent_amount: Amount | None = Field(None, description="万元")
    land_mu: Amount | None = Field(None, description="亩")
    expected_output: Amount | None = Field(None, description="万元")
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


def region_id_for(code: str | None, city: str | None, province: str | None) -> int | None:
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
        region_id=region_id_for(body.region, body.city, body.province),
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

"""Company endpoints of the JSON API: list (with search), create, read, update."""

from __future__ import annotations

from datetime import datetime
from typing import NoReturn

from pydantic import Field
from sqlalchemy import select

from crm.api.framework import ApiError, Page, PageQuery, Schema, api_user, route
from crm.enums import OwnershipType, Role
from crm.extensions import db
from crm.pipeline import company_queries
from crm.pipeline import company_services as services
from crm.pipeline.listing import MAX_QUERY_LENGTH
from crm.pipeline.models import Company, CompanyTop500

WRITERS = (Role.ADMIN, Role.LEAD, Role.OFFICER)


class CompanyQuery(PageQuery):
    q: str | None = Field(
        None, max_length=MAX_QUERY_LENGTH, description="Name, pinyin, initials or English name"
    )


class Top500Tag(Schema):
    list: str
    year: int
    rank: int | None


class CompanyOut(Schema):
    id: int
    name: str
    name_en: str | None
    aliases: list[str]
    uscc: str | None
    ownership_type: OwnershipType | None
    hq_city: str | None
    hq_province: str | None
    tags: list[str]
    top500: list[Top500Tag]
    merged_into_id: int | None
    created_at: datetime
    updated_at: datetime


class DuplicateOut(Schema):
    id: int
    name: str
    reason: str = Field(description="name, alias or name_en")


class CompanyCreated(CompanyOut):
    possible_duplicates: list[DuplicateOut] = Field(
        description="Existing companies whose name, an alias or English name normalises the "
        "same; the company was created anyway"
    )


class CompanyIn(Schema):
    name: str = Field(min_length=1, max_length=300)
    name_en: str | None = Field(None, max_length=300)
    aliases: list[str] = Field(default_factory=list, max_length=services.MAX_ALIASES)
    uscc: str | None = Field(None, max_length=40)
    ownership_type: OwnershipType | None = None
    hq_city: str | None = Field(None, max_length=100)
    hq_province: str | None = Field(None, max_length=100)
    tags: list[str] = Field(default_factory=list)


class CompanyPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=300)
    name_en: str | None = Field(None, max_length=300)
    aliases: list[str] | None = Field(None, max_length=services.MAX_ALIASES)
    uscc: str | None = Field(None, max_length=40)
    ownership_type: OwnershipType | None = None
    hq_city: str | None = Field(None, max_length=100)
    hq_province: str | None = Field(None, max_length=100)
    tags: list[str] | None = None


def _top500(company_ids: list[int]) -> dict[int, list[Top500Tag]]:
    out: dict[int, list[Top500Tag]] = {cid: [] for cid in company_ids}
    if not company_ids:
        return out
    for tag in db.session.scalars(
        select(CompanyTop500)
        .where(CompanyTop500.company_id.in_(company_ids))
        .order_by(CompanyTop500.year.desc(), CompanyTop500.list_code)
    ):
        out[tag.company_id].append(Top500Tag(list=tag.list_code, year=tag.year, rank=tag.rank))
    return out


def company_out(company: Company, top500: list[Top500Tag]) -> CompanyOut:
    return CompanyOut(
        id=company.id,
        name=company.name,
        name_en=company.name_en,
        aliases=list(company.aliases or []),
        uscc=company.uscc,
        ownership_type=company.ownership_type,
        hq_city=company.hq_city,
        hq_province=company.hq_province,
        tags=list(company.tags or []),
        top500=top500,
        merged_into_id=company.merged_into_id,
        created_at=company.created_at,
        updated_at=company.updated_at,
    )


def _company(company_id: int) -> Company:
    company = db.session.get(Company, company_id)
    if company is None or company.deleted_at is not None:
        raise ApiError(404, "No such company.")
    return company


def _raise(exc: services.CompanyError) -> NoReturn:
    db.session.rollback()
    status = 409 if exc.existing_id is not None else 422
    raise ApiError(status, str(exc), [(exc.field, str(exc))]) from exc


@route(
    "/companies",
    summary="Companies (every signed-in user), by name; `q` searches names, pinyin and English",
    query=CompanyQuery,
    response=Page[CompanyOut],
    tags=["companies"],
)
def list_companies(query: CompanyQuery) -> Page[CompanyOut]:
    rows, total = company_queries.list_companies(
        db.session, (query.q or "").strip(), page=query.page, per_page=query.per_page
    )
    tags = _top500([c.id for c in rows])
    return Page[CompanyOut](
        items=[company_out(c, tags[c.id]) for c in rows],
        total=total,
        page=query.page,
        per_page=query.per_page,
    )


@route(
    "/companies",
    "POST",
    summary="Create a company (409 when the credit code is taken; look-alikes are reported)",
    body=CompanyIn,
    response=CompanyCreated,
    status=201,
    roles=WRITERS,
    tags=["companies"],
    extra_responses=(409,),
)
def create_company(body: CompanyIn) -> CompanyCreated:
    data = services.CompanyData(**body.model_dump())
    duplicates = [d for d in services.find_duplicates(db.session, data) if d.reason != "uscc"]
    try:
        company = services.create_company(db.session, data, actor_id=api_user().id)
    except services.CompanyError as exc:
        _raise(exc)
    db.session.commit()
    out = company_out(company, [])
    return CompanyCreated(
        **out.model_dump(),
        possible_duplicates=[
            DuplicateOut(id=d.company_id, name=d.name, reason=d.reason) for d in duplicates
        ],
    )


@route(
    "/companies/<int:company_id>",
    summary="One company with its Top-500 tags",
    response=CompanyOut,
    tags=["companies"],
)
def get_company(company_id: int) -> CompanyOut:
    company = _company(company_id)
    return company_out(company, _top500([company.id])[company.id])


@route(
    "/companies/<int:company_id>",
    "PATCH",
    summary="Change a company (only the fields given)",
    body=CompanyPatch,
    response=CompanyOut,
    roles=WRITERS,
    tags=["companies"],
    extra_responses=(409,),
)
def update_company(company_id: int, body: CompanyPatch) -> CompanyOut:
    company = _company(company_id)
    if company.merged_into_id is not None:
        raise ApiError(409, f"This company was merged into company {company.merged_into_id}.")
    given = body.model_dump(exclude_unset=True)
    if "name" in given and not given["name"]:
        raise ApiError(422, "A company needs a name.", [("name", "A company needs a name.")])
    data = services.CompanyData(
        name=given.get("name", company.name),
        name_en=given.get("name_en", company.name_en),
        aliases=given.get("aliases", list(company.aliases or [])) or [],
        uscc=given.get("uscc", company.uscc),
        ownership_type=given.get("ownership_type", company.ownership_type),
        hq_city=given.get("hq_city", company.hq_city),
        hq_province=given.get("hq_province", company.hq_province),
        tags=given.get("tags", list(company.tags or [])) or [],
    )
    try:
        services.update_company(db.session, company, data, actor_id=api_user().id)
    except services.CompanyError as exc:
        _raise(exc)
    db.session.commit()
    return company_out(company, _top500([company.id])[company.id])

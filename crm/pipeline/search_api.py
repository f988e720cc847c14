"""Search endpoint of the JSON API."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from crm.api.framework import Schema, api_user, route
from crm.enums import Stage
from crm.extensions import db
from crm.pipeline import search as search_service
from crm.pipeline.listing import MAX_QUERY_LENGTH

API_LIMIT = 20


class SearchQuery(Schema):
    q: str = Field(min_length=1, max_length=MAX_QUERY_LENGTH, description="Words to look for")


class ProjectHitOut(Schema):
    id: int
    name: str
    company_id: int
    company_name: str
    stage: Stage
    planned_investment: Decimal | None = Field(description="万元, as a decimal string")
    is_key: bool


class CompanyHitOut(Schema):
    id: int
    name: str
    name_en: str | None
    uscc: str | None


class SearchOut(Schema):
    projects: list[ProjectHitOut]
    companies: list[CompanyHitOut]
    more_projects: bool = Field(description="More projects match than are listed")
    more_companies: bool = Field(description="More companies match than are listed")


@route(
    "/search",
    summary="Projects (in the caller's scope) and companies by name, pinyin, initials or English",
    query=SearchQuery,
    response=SearchOut,
    tags=["search"],
)
def search(query: SearchQuery) -> SearchOut:
    result = search_service.search(db.session, api_user(), query.q, API_LIMIT)
    return SearchOut(
        projects=[
            ProjectHitOut(
                id=h.id,
                name=h.name,
                company_id=h.company_id,
                company_name=h.company_name,
                stage=h.stage,
                planned_investment=h.planned_investment,
                is_key=h.is_key,
            )
            for h in result.projects
        ],
        companies=[
            CompanyHitOut(id=c.id, name=c.name, name_en=c.name_en, uscc=c.uscc)
            for c in result.companies
        ],
        more_projects=result.more_projects,
        more_companies=result.more_companies,
    )

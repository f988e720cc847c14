"""Project endpoints of the JSON API."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from pydantic import Field

from crm.api.framework import ApiError, Page, PageQuery, Schema, api_user, route
from crm.enums import ALL_STAGES, Stage
from crm.extensions import db
from crm.pipeline import queries


class ProjectOut(Schema):
    id: int
    name: str
    company_id: int
    company_name: str
    chain: str | None
    target_zone: str | None
    landed_zone: str | None
    planned_investment: Decimal | None = Field(description="万元, as a decimal string")
    foreign_capital_usd: Decimal | None
    stage: Stage
    stage_dates: dict[str, date]
    owner_id: int | None
    team: str
    source_region: str | None
    is_key: bool
    key_reasons: list[str]
    version: int
    created_at: datetime
    updated_at: datetime


def project_out(row: queries.ProjectRow) -> ProjectOut:
    p = row.project
    dates = {s.value: d for s in ALL_STAGES if (d := p.stage_date(s)) is not None}
    return ProjectOut(
        id=p.id,
        name=p.name,
        company_id=p.company_id,
        company_name=row.company_name,
        chain=row.chain_code,
        target_zone=row.target_zone_code,
        landed_zone=row.landed_zone_code,
        planned_investment=p.planned_investment,
        foreign_capital_usd=p.foreign_capital_usd,
        stage=p.stage,
        stage_dates=dates,
        owner_id=p.owner_id,
        team=row.team_code,
        source_region=row.region_code,
        is_key=p.is_key,
        key_reasons=list(p.key_reasons or []),
        version=p.version,
        created_at=p.created_at,
        updated_at=p.updated_at,
    )


@route(
    "/projects",
    summary="Projects the caller may see",
    query=PageQuery,
    response=Page[ProjectOut],
    tags=["projects"],
)
def list_projects(query: PageQuery) -> Page[ProjectOut]:
    rows, total, _amount = queries.list_projects(
        db.session, api_user(), page=query.page, per_page=query.per_page
    )
    return Page[ProjectOut](
        items=[project_out(r) for r in rows], total=total, page=query.page, per_page=query.per_page
    )


@route(
    "/projects/<int:project_id>",
    summary="One project",
    response=ProjectOut,
    tags=["projects"],
)
def get_project(project_id: int) -> tuple[ProjectOut, dict[str, str]]:
    row = queries.project_row(db.session, api_user(), project_id)
    if row is None:
        raise ApiError(404, "No such project.")
    return project_out(row), {"ETag": f'"{row.project.version}"'}

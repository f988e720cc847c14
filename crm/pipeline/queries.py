"""Read queries for projects: one set-based query per page."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased

from crm.accounts.models import Team, User
from crm.pipeline.access import project_scope
from crm.pipeline.models import Company, Project
from crm.reference.models import IndustrialChain, Region, Zone


@dataclass(frozen=True)
class ProjectRow:
    project: Project
    company_name: str
    chain_code: str | None
    chain_name_zh: str | None
    chain_name_en: str | None
    target_zone_code: str | None
    landed_zone_code: str | None
    landed_zone_name_zh: str | None
    team_code: str
    owner_name: str | None
    region_code: str | None


def project_rows_stmt() -> Select[Any]:
    """Projects joined with the names a list or a JSON document shows (no per-row query)."""
    target = aliased(Zone)
    landed = aliased(Zone)
    return (
        select(
            Project,
            Company.name,
            IndustrialChain.code,
            IndustrialChain.name_zh,
            IndustrialChain.name_en,
            target.code,
            landed.code,
            landed.name_zh,
            Team.code,
            func.coalesce(func.nullif(User.name, ""), User.email),
            Region.code,
        )
        .join(Company, Company.id == Project.company_id)
        .join(Team, Team.id == Project.team_id)
        .outerjoin(IndustrialChain, IndustrialChain.id == Project.chain_id)
        .outerjoin(target, target.id == Project.target_zone_id)
        .outerjoin(landed, landed.id == Project.landed_zone_id)
        .outerjoin(User, User.id == Project.owner_id)
        .outerjoin(Region, Region.id == Project.source_region_id)
    )


def to_rows(result: Any) -> list[ProjectRow]:
    return [ProjectRow(*row) for row in result]


def list_projects(
    session: Session, user: User, *, page: int, per_page: int
) -> tuple[list[ProjectRow], int, Decimal]:
    """A page of the projects `user` may see, newest first, with the count and amount sum."""
    scope = project_scope(user)
    total, amount = session.execute(
        select(func.count(), func.coalesce(func.sum(Project.planned_investment), 0)).where(scope)
    ).one()
    stmt = (
        project_rows_stmt()
        .where(scope)
        .order_by(Project.updated_at.desc(), Project.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return to_rows(session.execute(stmt)), int(total), Decimal(amount)


def project_row(session: Session, user: User, project_id: int) -> ProjectRow | None:
    stmt = project_rows_stmt().where(Project.id == project_id, project_scope(user))
    row = session.execute(stmt).first()
    return ProjectRow(*row) if row else None

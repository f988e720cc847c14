"""Row lists behind the report's detail sheets and the dashboard's tables.

Each function returns one SELECT (joined for every name it shows, no per-row query); the
workbook streams it with `yield_per`, the dashboard takes the first rows with a LIMIT.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased

from crm.accounts.models import Team, User
from crm.enums import Stage
from crm.pipeline.models import Company, Project, StageChange
from crm.reference.models import IndustrialChain, Zone
from crm.reports.metrics import zone_of_project
from crm.reports.scope import ReportScope
from crm.reports.stalled import stalls_subquery
from crm.reports.weeks import Week

STREAM_BATCH = 2000


@dataclass(frozen=True)
class ProjectLine:
    id: int
    name: str
    company: str
    chain_zh: str | None
    chain_en: str | None
    zone_zh: str | None
    zone_en: str | None
    stage: Stage
    amount: Decimal | None
    signed_on: date | None
    landed_on: date | None
    started_on: date | None
    owner: str | None
    team_code: str
    team_zh: str
    team_en: str
    last_activity_at: datetime | None
    key_reasons: list[str]
    extra: Any = None  # the sheet's own column: rule and days overdue, or the change


def _owner_name() -> Any:
    return func.coalesce(func.nullif(User.name, ""), User.email)


def _project_columns(zone: Any) -> list[Any]:
    return [
        Project.id,
        Project.name,
        Company.name,
        IndustrialChain.name_zh,
        IndustrialChain.name_en,
        zone.name_zh,
        zone.name_en,
        Project.stage,
        Project.planned_investment,
        Project.signed_on,
        Project.landed_on,
        Project.started_on,
        _owner_name(),
        Team.code,
        Team.name_zh,
        Team.name_en,
        Project.last_activity_at,
        Project.key_reasons,
    ]


def _joined(stmt: Select[Any], zone: Any) -> Select[Any]:
    return (
        stmt.join(Company, Company.id == Project.company_id)
        .join(Team, Team.id == Project.team_id)
        .outerjoin(IndustrialChain, IndustrialChain.id == Project.chain_id)
        .outerjoin(zone, zone.id == zone_of_project())
        .outerjoin(User, User.id == Project.owner_id)
    )


def key_projects_stmt(scope: ReportScope) -> Select[Any]:
    """Key projects not dropped, largest planned investment first."""
    zone = aliased(Zone)
    stmt = select(*_project_columns(zone)).select_from(Project)
    return (
        _joined(stmt, zone)
        .where(scope.projects(), Project.is_key.is_(True), Project.stage != Stage.DROPPED)
        .order_by(Project.planned_investment.desc().nulls_last(), Project.id)
    )


def stalled_lines_stmt(
    session: Session, scope: ReportScope, as_of: date, limit: int | None = None
) -> Select[Any]:
    """Stalled projects with their rule and days overdue (one line per project and rule),
    longest overdue first, by the reminder rules (`crm.reports.stalled`).

    The stalled lines are picked first (and cut to `limit`), then joined for their names.
    """
    zone = aliased(Zone)
    stalls = stalls_subquery(session, scope, as_of)
    order = (stalls.c.days_overdue.desc(), stalls.c.project_id, stalls.c.rule_code)
    picked = select(stalls.c.project_id, stalls.c.rule_code, stalls.c.days_overdue).order_by(*order)
    if limit is not None:
        picked = picked.limit(limit)
    chosen = picked.subquery("chosen")
    stmt = select(*_project_columns(zone), chosen.c.rule_code, chosen.c.days_overdue).select_from(
        chosen
    )
    stmt = stmt.join(Project, Project.id == chosen.c.project_id)
    return _joined(stmt, zone).order_by(
        chosen.c.days_overdue.desc(), Project.id, chosen.c.rule_code
    )


def stage_changes_stmt(scope: ReportScope, week: Week) -> Select[Any]:
    """The week's stage changes of projects in scope, in date order."""
    zone = aliased(Zone)
    author = aliased(User)
    stmt = select(
        *_project_columns(zone),
        StageChange.on,
        StageChange.from_stage,
        StageChange.to_stage,
        func.coalesce(func.nullif(author.name, ""), author.email),
        StageChange.note,
    ).select_from(StageChange)
    stmt = stmt.join(Project, Project.id == StageChange.project_id)
    return (
        _joined(stmt, zone)
        .outerjoin(author, author.id == StageChange.user_id)
        .where(scope.projects(), StageChange.on >= week.start, StageChange.on <= week.end)
        .order_by(StageChange.on, StageChange.id)
    )


def _line(row: Any) -> ProjectLine:
    values = list(row)
    base, extra = values[:18], values[18:]
    return ProjectLine(*base[:-1], key_reasons=list(base[-1] or []), extra=tuple(extra) or None)


def stream(session: Session, stmt: Select[Any]) -> Iterator[ProjectLine]:
    """Rows of `stmt` as ProjectLines, fetched in batches (memory stays flat)."""
    result = session.execute(stmt.execution_options(yield_per=STREAM_BATCH))
    for row in result:
        yield _line(row)


def first(session: Session, stmt: Select[Any], limit: int) -> list[ProjectLine]:
    return [_line(row) for row in session.execute(stmt.limit(limit))]


def count(session: Session, stmt: Select[Any]) -> int:
    return session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0

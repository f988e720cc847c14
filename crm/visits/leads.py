"""Companies and lead projects created on the fly (from a visit, an inquiry or an event),
and a project's "last activity" time.

A project's last activity is the latest of its visits, its stage changes and its completed
follow-ups. A visit counts at the end of its day (Asia/Shanghai), or now when that is
later than now (a visit logged on the day it happened counts from when it was logged).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select, true, update
from sqlalchemy.orm import Session

from crm import audit
from crm.accounts.models import User
from crm.enums import Stage
from crm.pipeline.keys import company_top500, key_reasons, key_threshold
from crm.pipeline.models import Company, Project, StageChange
from crm.pipeline.names import normalize_company_name, query_variants, search_blob
from crm.visits.models import Task, Visit, visit_project

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


class LeadError(ValueError):
    def __init__(self, message: object, field: str) -> None:
        super().__init__(str(message))
        self.field = field


def local_today(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(LOCAL_TZ).date()


def week_bounds(day: date) -> tuple[date, date]:
    """Monday and Sunday of the ISO week containing `day`."""
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=6)


def visit_moment(on: date, now: datetime) -> datetime:
    """When a visit on `on` counts as activity (see the module docstring)."""
    end = datetime.combine(on, time(23, 59, 59), tzinfo=LOCAL_TZ).astimezone(UTC)
    return min(end, now)


def touch_projects(session: Session, project_ids: Iterable[int], moment: datetime) -> None:
    """Move the projects' last activity forward to `moment` (never backwards).

    A plain UPDATE: recording activity is not an edit of the project, so it does not bump
    the project's version (it must not make someone's open edit form stale).
    """
    ids = sorted(set(project_ids))
    if not ids:
        return
    session.execute(
        update(Project)
        .where(
            Project.id.in_(ids),
            or_(Project.last_activity_at.is_(None), Project.last_activity_at < moment),
        )
        .values(last_activity_at=moment)
        .execution_options(synchronize_session=False)
    )
    for obj in session.identity_map.values():
        if isinstance(obj, Project) and obj.id in ids:
            session.expire(obj, ["last_activity_at"])


def recompute_last_activity(session: Session, project_ids: Iterable[int], now: datetime) -> None:
    """Recompute last activity from the sources (after a visit is removed or moved)."""
    ids = sorted(set(project_ids))
    if not ids:
        return
    latest: dict[int, datetime] = {}

    def keep(pid: int, moment: datetime | None) -> None:
        if moment is not None and (pid not in latest or moment > latest[pid]):
            latest[pid] = moment

    for pid, on in session.execute(
        select(visit_project.c.project_id, func.max(Visit.on))
        .join(Visit, Visit.id == visit_project.c.visit_id)
        .where(visit_project.c.project_id.in_(ids), Visit.deleted_at.is_(None))
        .group_by(visit_project.c.project_id)
    ):
        keep(pid, visit_moment(on, now))
    for pid, at in session.execute(
        select(StageChange.project_id, func.max(StageChange.at))
        .where(StageChange.project_id.in_(ids))
        .group_by(StageChange.project_id)
    ):
        keep(pid, at)
    for pid, at in session.execute(
        select(Task.project_id, func.max(Task.done_at))
        .where(Task.project_id.in_(ids), Task.deleted_at.is_(None))
        .group_by(Task.project_id)
    ):
        keep(pid, at)
    for pid in ids:
        session.execute(
            update(Project)
            .where(Project.id == pid)
            .values(last_activity_at=latest.get(pid))
            .execution_options(synchronize_session=False)
        )
    for obj in session.identity_map.values():
        if isinstance(obj, Project) and obj.id in ids:
            session.expire(obj, ["last_activity_at"])


@dataclass(frozen=True)
class CompanyMatch:
    id: int
    name: str
    exact: bool


def company_candidates(session: Session, name: str, limit: int = 8) -> list[CompanyMatch]:
    """Existing companies a typed name may mean: exact normalised matches first."""
    name = (name or "").strip()
    if not name:
        return []
    alive = Company.deleted_at.is_(None) & Company.merged_into_id.is_(None)
    normalized = normalize_company_name(name)
    exact = session.execute(
        select(Company.id, Company.name)
        .where(alive, Company.normalized_name == normalized)
        .order_by(Company.id)
        .limit(limit)
    ).all()
    found = [CompanyMatch(cid, cname, True) for cid, cname in exact]
    variants = [v for v in query_variants(name) if v]
    if variants and len(found) < limit:
        like = or_(*(Company.search_blob.like(f"%{v}%") for v in variants))
        seen = [m.id for m in found]
        rest = session.execute(
            select(Company.id, Company.name)
            .where(alive, like, Company.id.not_in(seen) if seen else true())
            .order_by(func.length(Company.name), Company.id)
            .limit(limit - len(found))
        ).all()
        found += [CompanyMatch(cid, cname, False) for cid, cname in rest]
    return found


def find_or_create_company(
    session: Session, name: str, *, user_id: int | None, create: bool
) -> tuple[Company, bool]:
    """The company with this (normalised) name, or a new one when `create` is true.

    Raises LeadError("company_name") when no exact match exists and `create` is false.
    """
    name = (name or "").strip()
    if not name:
        raise LeadError(_l("Give the company's name."), "company_name")
    if len(name) > 300:
        raise LeadError(_l("The name is too long (at most 300 characters)."), "company_name")
    normalized = normalize_company_name(name)
    existing = session.scalar(
        select(Company)
        .where(
            Company.normalized_name == normalized,
            Company.deleted_at.is_(None),
            Company.merged_into_id.is_(None),
        )
        .order_by(Company.id)
        .limit(1)
    )
    if existing is not None:
        return existing, False
    if not create:
        raise LeadError(
            _l("No company has this name: choose one of the suggestions or confirm a new one."),
            "company_name",
        )
    company = Company(
        name=name, normalized_name=normalized, search_blob=search_blob(name, [], None)
    )
    session.add(company)
    session.flush()
    audit.record(
        session,
        user_id=user_id,
        entity_type="company",
        entity_id=company.id,
        action="create",
        changes={"name": [None, name], "via": [None, "visits"]},
    )
    return company, True


def create_lead_project(
    session: Session,
    user: User,
    *,
    company: Company,
    name: str,
    on: date,
    team_id: int,
    planned_investment: Decimal | None = None,
    land_mu: Decimal | None = None,
    expected_annual_output: Decimal | None = None,
    source_region_id: int | None = None,
    is_inquiry: bool = False,
    inquiry_received_on: date | None = None,
    notes: str | None = None,
) -> Project:
    """A new project at the lead stage (线索) with its first history row and audit entry."""
    name = (name or "").strip()
    if not name:
        raise LeadError(_l("Give the project a name."), "project_name")
    if len(name) > 300:
        raise LeadError(_l("The name is too long (at most 300 characters)."), "project_name")
    reasons = key_reasons(
        planned_investment=planned_investment,
        threshold=key_threshold(session),
        top500=company_top500(session, company.id),
        current_year=on.year,
        manual=False,
        manual_reason=None,
    )
    project = Project(
        name=name,
        company_id=company.id,
        team_id=team_id,
        owner_id=user.id if user.team_id == team_id else None,
        stage=Stage.LEAD,
        lead_on=on,
        planned_investment=planned_investment,
        land_mu=land_mu,
        expected_annual_output=expected_annual_output,
        source_region_id=source_region_id,
        is_key=bool(reasons),
        key_reasons=reasons,
        is_inquiry=is_inquiry,
        inquiry_received_on=inquiry_received_on,
        notes=notes,
        search_blob=search_blob(name, [company.name, *(company.aliases or [])], None),
        created_by_id=user.id,
    )
    session.add(project)
    session.flush()
    session.add(
        StageChange(
            project_id=project.id, from_stage=None, to_stage=Stage.LEAD, on=on, user_id=user.id
        )
    )
    audit.record(
        session,
        user_id=user.id,
        entity_type="project",
        entity_id=project.id,
        action="create",
        changes={
            "name": [None, name],
            "company_id": [None, company.id],
            "stage": [None, Stage.LEAD.value],
            **({"is_inquiry": [None, True]} if is_inquiry else {}),
        },
    )
    session.flush()
    return project

"""Project endpoints of the JSON API: list, read, create, PATCH with If-Match, stage moves,
history (deleting, restoring, sharing and key marks: `manage_api`). They call the same
services as the web pages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any, Literal

from flask import Response, jsonify, request, url_for
from pydantic import Field
from sqlalchemy import func, or_, select
from sqlalchemy.orm.exc import StaleDataError

from crm.accounts.models import Team
from crm.api.framework import (
    MAX_INTEGER,
    PROBLEM_TYPE,
    Amount,
    ApiError,
    Header,
    Page,
    PageQuery,
    Schema,
    api_user,
    route,
)
from crm.enums import ALL_STAGES, Role, Stage
from crm.extensions import db
from crm.pipeline import list_queries, queries, services, totals
from crm.pipeline.access import can_edit, get_visible_project, project_scope
from crm.pipeline.changes import FieldChange, project_history
from crm.pipeline.errors import ConflictError, NotAllowed, ProjectError
from crm.pipeline.listing import ProjectFilter
from crm.pipeline.models import Project
from crm.pipeline.sql_hints import in_subquery
from crm.pipeline.stages import TransitionError, local_today, transition
from crm.pipeline.stages import history as stage_history
from crm.reference.models import IndustrialChain, Zone
from crm.reminders.detection import request_context
from crm.reminders.rules import RULE_CODES
from crm.reminders.sql import without_jit

WRITERS = (Role.ADMIN, Role.LEAD, Role.OFFICER)
RuleCode = Literal[RULE_CODES]  # the reminder rules' codes


class ProjectOut(Schema):
    id: int
    name: str
    name_en: str | None
    company_id: int
    company_name: str
    chain: str | None
    target_zone: str | None
    landed_zone: str | None
    planned_investment: Decimal | None = Field(description="万元, as a decimal string")
    foreign_capital_usd: Decimal | None
    stage: Stage
    stage_dates: dict[str, dt.date]
    owner_id: int | None
    owner_name: str | None
    team: str
    source_region: str | None
    is_key: bool
    key_reasons: list[str]
    key_manual_reason: str | None
    external_id: str | None
    notes: str | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime


def project_out(row: queries.ProjectRow) -> ProjectOut:
    p = row.project
    dates = {s.value: d for s in ALL_STAGES if (d := p.stage_date(s)) is not None}
    return ProjectOut(
        id=p.id,
        name=p.name,
        name_en=p.name_en,
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
        owner_name=row.owner_name,
        team=row.team_code,
        source_region=row.region_code,
        is_key=p.is_key,
        key_reasons=list(p.key_reasons or []),
        key_manual_reason=p.key_manual_reason,
        external_id=p.external_id,
        notes=p.notes,
        version=p.version,
        created_at=p.created_at,
        updated_at=p.updated_at,
    )


def etag(version: int) -> str:
    return f'"{version}"'


def _one(
    project_id: int, status_headers: dict[str, str] | None = None, *, scoped: bool = True
) -> Any:
    """The project as JSON with its ETag (scoped to the caller unless `scoped` is false: the
    answer to a change that moved the project out of the caller's scope)."""
    if scoped:
        row = queries.project_row(db.session, api_user(), project_id)
    else:
        found = db.session.execute(queries.project_rows_stmt().where(Project.id == project_id))
        row = next(iter(queries.to_rows(found)), None)
    if row is None:
        raise ApiError(404, "No such project.")
    return project_out(row), {"ETag": etag(row.project.version), **(status_headers or {})}


def project_json(project_id: int, *, scoped: bool = True) -> Any:
    """The project as the API shows it, with its ETag header."""
    return _one(project_id, scoped=scoped)


# --- list and read -------------------------------------------------------------------------


class ProjectQuery(PageQuery):
    cursor: str | None = Field(
        None,
        description="Keyset pagination by id: send an empty cursor for the first page, then "
        "each answer's next_cursor. Without it, page/per_page are used.",
    )
    stage: list[Stage] | None = None
    team: str | None = None
    chain: str | None = None
    zone: str | None = Field(None, description="Target or landed zone code")
    is_key: bool | None = None
    stalled: bool | None = Field(
        None,
        description="true: only projects stalled today by the reminder rules (as on "
        "/stalled: thresholds, snoozes, on-hold and dropped projects excluded); false: only "
        "projects not stalled",
    )
    stalled_rule: list[RuleCode] | None = Field(  # type: ignore[valid-type]
        None, description="Only stalls on these rules (implies stalled=true unless false)"
    )


class ProjectPage(Page[ProjectOut]):
    next_cursor: str | None = None


def _filters(query: ProjectQuery) -> list[Any]:
    where: list[Any] = []
    if query.stage:
        where.append(Project.stage.in_(query.stage))
    if query.team:
        where.append(Project.team_id.in_(select(Team.id).where(Team.code == query.team)))
    if query.chain:
        chains = select(IndustrialChain.id).where(IndustrialChain.code == query.chain)
        where.append(Project.chain_id.in_(chains))
    if query.zone:
        zone_id = select(Zone.id).where(Zone.code == query.zone).scalar_subquery()
        where.append(or_(Project.target_zone_id == zone_id, Project.landed_zone_id == zone_id))
    if query.is_key is not None:
        where.append(Project.is_key.is_(query.is_key))
    return where


def _total(query: ProjectQuery, where: list[Any]) -> int:
    """How many projects match: from the kept totals unless a chain, zone or stalled filter
    needs the projects themselves (crm.pipeline.totals)."""
    if not (query.chain or query.zone or query.stalled is not None or query.stalled_rule):
        found = ProjectFilter(stages=tuple(query.stage or ()))
        if query.team:
            team_id = db.session.scalar(select(Team.id).where(Team.code == query.team))
            found = replace(found, teams=(query.team,), resolved=(("teams", (team_id or 0,)),))
        kept = totals.totals_for(db.session, api_user(), found)
        if kept is not None:
            return sum(
                count
                for (_stage, key), (count, _amount) in kept.items()
                if query.is_key is None or key == query.is_key
            )
    return db.session.scalar(select(func.count()).select_from(Project).where(*where)) or 0


@route(
    "/projects",
    summary="Projects the caller may see (page or cursor pagination, basic filters)",
    query=ProjectQuery,
    response=ProjectPage,
    tags=["projects"],
)
def list_projects(query: ProjectQuery) -> ProjectPage:
    where = [project_scope(api_user()), *_filters(query)]
    if query.stalled is not None or query.stalled_rule:
        # A real filter: counted by SQL, never from the kept totals.
        without_jit(db.session)
        ctx = request_context(db.session)
        stalled = list_queries.stalled_condition(ctx, query.stalled_rule or (), where)
        where.append(~stalled if query.stalled is False else stalled)
    total = _total(query, where)
    ids = select(Project.id).where(*where)
    if query.cursor is not None:
        after = query.cursor.strip()
        if after and (not after.isdigit() or len(after) > 18):
            raise ApiError(422, "Invalid cursor.", [("cursor", "Use the next_cursor returned")])
        if after:
            ids = ids.where(Project.id > int(after))
        order: tuple[Any, ...] = (Project.id,)
        ids = ids.order_by(*order).limit(query.per_page)
    else:
        order = (Project.updated_at.desc(), Project.id.desc())
        ids = ids.order_by(*order).limit(query.per_page).offset((query.page - 1) * query.per_page)
    # The page's ids from narrow data first, then the wide rows with their names.
    stmt = queries.project_rows_stmt().where(in_subquery(Project.id, ids)).order_by(*order)
    rows = queries.to_rows(db.session.execute(stmt))
    next_cursor = None
    if query.cursor is not None and len(rows) == query.per_page:
        next_cursor = str(rows[-1].project.id)
    return ProjectPage(
        items=[project_out(r) for r in rows],
        total=total,
        page=query.page,
        per_page=query.per_page,
        next_cursor=next_cursor,
    )


@route(
    "/projects/<int:project_id>",
    summary="One project (with its ETag)",
    response=ProjectOut,
    tags=["projects"],
)
def get_project(project_id: int) -> tuple[ProjectOut, dict[str, str]]:
    return _one(project_id)  # type: ignore[no-any-return]


# --- create and update -------------------------------------------------------------------------


class ProjectFields(Schema):
    name: str | None = Field(None, min_length=1, max_length=300)
    name_en: str | None = Field(None, max_length=300)
    company_id: int | None = None
    company_name: str | None = Field(
        None, max_length=300, description="An existing company's name, or a new company"
    )
    chain: str | None = None
    target_zone: str | None = None
    landed_zone: str | None = None
    planned_investment: Amount | None = Field(None, description="万元")
    foreign_capital_usd: Amount | None = Field(None, description="US dollars")
    source_region: str | None = None
    owner_id: int | None = None
    team: str | None = None
    notes: str | None = Field(None, max_length=20000)
    external_id: str | None = Field(None, max_length=100)


class ProjectCreate(ProjectFields):
    name: str = Field(min_length=1, max_length=300)  # type: ignore[assignment]
    stage: Stage = Stage.LEAD
    stage_dates: dict[Stage, dt.date] = Field(
        default_factory=dict, description="The date of the stage given and of each before it"
    )


class ProjectPatch(ProjectFields):
    pass


def refused(exc: Exception) -> ApiError:
    """A service's refusal as a problem: NotAllowed 403, else 422 naming the field."""
    if isinstance(exc, NotAllowed):
        return ApiError(403, str(exc))
    field = getattr(exc, "field", "body")
    return ApiError(422, str(exc), [(field, str(exc))])


@route(
    "/projects",
    "POST",
    summary="Create a project (company_name names an existing company or creates one)",
    body=ProjectCreate,
    response=ProjectOut,
    status=201,
    roles=WRITERS,
    tags=["projects"],
)
def create_project(body: ProjectCreate) -> Any:
    values = body.model_dump(exclude_unset=True, exclude={"stage", "stage_dates"})
    try:
        project = services.create_project(
            db.session, api_user(), values, stage=body.stage, stage_dates=body.stage_dates
        )
    except (ProjectError, NotAllowed, TransitionError) as exc:
        raise refused(exc) from exc  # nothing is committed: the request's session is discarded
    db.session.commit()
    location = url_for("api.get_project", project_id=project.id)
    return _one(project.id, {"Location": location})


def _editable(project_id: int) -> Project:
    user = api_user()
    project = get_visible_project(db.session, user, project_id)
    if not can_edit(db.session, user, project):
        raise ApiError(403, "You may read this project but not change it.")
    return project


def _if_match(project: Project, *, required: bool) -> int:
    """The version the caller's If-Match names (428 when missing and required, 412 when stale)."""
    header = request.headers.get("If-Match", "").strip()
    if not header:
        if required:
            raise ApiError(428, "Send If-Match with the ETag of the project you read.")
        return project.version
    if header == "*":
        return project.version
    versions = []
    for tag in header.split(","):
        tag = tag.strip().removeprefix("W/").strip('"')
        # ASCII digits only ("²".isdigit() is true too), and no version the database can't hold.
        if tag.isascii() and tag.isdigit() and int(tag) <= MAX_INTEGER:
            versions.append(int(tag))
    if project.version in versions:
        return project.version
    raise _precondition_failed(project.id, min(versions) if versions else 0)


def _precondition_failed(project_id: int, since: int) -> Exception:
    conflict = services.conflict_for(db.session, project_id, since)
    return _Stale(conflict)


class _Stale(Exception):
    def __init__(self, conflict: ConflictError) -> None:
        self.conflict = conflict


def _change_json(change: FieldChange) -> dict[str, Any]:
    return {
        "field": change.field,
        "value": change.value,
        "by": change.user_name,
        "by_id": change.user_id,
        "at": change.at.isoformat(),
        "action": change.action,
    }


def stale_response(exc: _Stale) -> Response:
    conflict = exc.conflict
    fields = ", ".join(c.field for c in conflict.changes) or "unknown fields"
    response = jsonify(
        {
            "type": "about:blank",
            "title": "Precondition Failed",
            "status": 412,
            "detail": f"The project changed since the version you sent (changed: {fields}). "
            "Read it again, re-apply your change and send the new ETag.",
            "current_version": conflict.current_version,
            "changes": [_change_json(c) for c in conflict.changes],
        }
    )
    response.status_code = 412
    response.mimetype = PROBLEM_TYPE
    response.headers["ETag"] = etag(conflict.current_version)
    return response


@route(
    "/projects/<int:project_id>",
    "PATCH",
    summary="Change a project's fields; If-Match with its ETag is required",
    body=ProjectPatch,
    response=ProjectOut,
    roles=WRITERS,
    tags=["projects"],
    extra_responses=(412, 428),
    headers=(Header("If-Match", True, "the ETag of the project as read (or *)"),),
)
def update_project(project_id: int, body: ProjectPatch) -> Any:
    project = _editable(project_id)
    values = body.model_dump(exclude_unset=True)

    def change(expected: int) -> None:
        services.update_project(db.session, project, api_user(), values, expected_version=expected)

    try:
        stale = commit_if_match(project, change, required=True)
    except (ProjectError, NotAllowed) as exc:
        raise refused(exc) from exc
    return stale or _one(project_id)


def commit_if_match(
    project: Project, change: Callable[[int], Any], *, required: bool
) -> Response | None:
    """Run `change(expected_version)` and commit, honouring If-Match (428 when `required`
    and missing); a stale version or a concurrent write answers 412 with what the others
    changed (the returned Response). Errors of `change` propagate, nothing committed."""
    project_id = project.id
    try:
        expected = _if_match(project, required=required)
        try:
            change(expected)
            db.session.commit()
        except (ConflictError, StaleDataError) as exc:
            if isinstance(exc, StaleDataError):
                db.session.rollback()  # the failed flush left the session unusable
            raise _precondition_failed(project_id, expected) from exc
    except _Stale as stale:
        return stale_response(stale)
    return None


# --- stage moves ---------------------------------------------------------------------------


class TransitionIn(Schema):
    to: Stage
    date: dt.date | None = Field(None, description="Defaults to today (Asia/Shanghai)")
    note: str | None = Field(None, max_length=5000)
    reason: str | None = Field(None, max_length=5000)
    drop_reason: str | None = Field(None, description="A drop reason code (to: dropped)")
    dates: dict[Stage, dt.date] = Field(
        default_factory=dict, description="The date of each skipped stage"
    )


@route(
    "/projects/<int:project_id>/transitions",
    "POST",
    summary="Move a project to another stage (If-Match optional)",
    body=TransitionIn,
    response=ProjectOut,
    status=201,
    roles=WRITERS,
    tags=["projects"],
    extra_responses=(412,),
    headers=(Header("If-Match", False, "the ETag of the project as read"),),
)
def create_transition(project_id: int, body: TransitionIn) -> Any:
    project = _editable(project_id)

    def move(_expected: int) -> None:
        transition(
            db.session,
            project,
            to=body.to,
            on=body.date or local_today(),
            user_id=api_user().id,
            note=body.note,
            reason=body.reason,
            skipped_dates=body.dates,
            drop_reason_code=body.drop_reason,
        )

    try:
        stale = commit_if_match(project, move, required=False)
    except TransitionError as exc:
        raise ApiError(422, str(exc), [(exc.field, str(exc))]) from exc
    return stale or _one(project_id)


# --- history ------------------------------------------------------------------


class StageChangeOut(Schema):
    from_stage: Stage | None
    to_stage: Stage
    on: dt.date
    user_id: int | None
    note: str | None
    reason: str | None
    at: dt.datetime


class AuditEntryOut(Schema):
    id: int
    at: dt.datetime
    user_id: int | None
    user_name: str | None
    action: str
    changes: dict[str, Any] = Field(description="field: [before, after]")


class HistoryOut(Page[AuditEntryOut]):
    stage_changes: list[StageChangeOut]


@route(
    "/projects/<int:project_id>/history",
    summary="A project's stage changes and its change log (newest first, paged)",
    query=PageQuery,
    response=HistoryOut,
    tags=["projects"],
)
def project_history_api(project_id: int, query: PageQuery) -> HistoryOut:
    project = get_visible_project(db.session, api_user(), project_id)
    entries, total = project_history(
        db.session, project.id, limit=query.per_page, offset=(query.page - 1) * query.per_page
    )
    return HistoryOut(
        items=[
            AuditEntryOut(
                id=e.entry.id,
                at=e.entry.at,
                user_id=e.entry.user_id,
                user_name=e.user_name,
                action=e.entry.action,
                changes=e.entry.changes or {},
            )
            for e in entries
        ],
        total=total,
        page=query.page,
        per_page=query.per_page,
        stage_changes=[
            StageChangeOut(
                from_stage=c.from_stage,
                to_stage=c.to_stage,
                on=c.on,
                user_id=c.user_id,
                note=c.note,
                reason=c.reason,
                at=c.at,
            )
            for c in stage_history(db.session, project.id)
        ],
    )

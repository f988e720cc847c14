"""Report endpoints: the dashboard's numbers, weekly workbooks, the archive, annual targets."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from flask import Response, current_app, url_for
from pydantic import Field

from crm.api.framework import Amount, ApiError, Page, PageQuery, Schema, api_user, route
from crm.enums import Role
from crm.extensions import db
from crm.reports import archive, cache, dashboard, targets
from crm.reports.files import XLSX, file_response, temporary_path
from crm.reports.scope import REPORT_ROLES, ReportScope, ScopeError, scope_for
from crm.reports.weekly import write_weekly
from crm.reports.weeks import Week, WeekError, last_complete_week, local_today


class WeekQuery(Schema):
    week: str | None = Field(None, description="ISO week, e.g. 2026-W47", examples=["2026-W47"])
    team: str | None = Field(None, description="Team code (leaders and admins; leads: own)")


class WeeklyQuery(WeekQuery):
    lang: Literal["zh", "en"] | None = Field(None, description="Default: your language")


def _today() -> date:
    return local_today(current_app.config["BABEL_DEFAULT_TIMEZONE"])


def _week_and_scope(query: WeekQuery, default: Week) -> tuple[Week, ReportScope]:
    try:
        week = Week.parse(query.week) if query.week else default
    except WeekError as exc:
        raise ApiError(422, str(exc), [("week", str(exc))]) from exc
    if week.start > _today():
        raise ApiError(422, "That week has not begun yet.", [("week", "in the future")])
    try:
        scope = scope_for(db.session, api_user(), query.team)
    except ScopeError as exc:
        raise ApiError(403, str(exc)) from exc
    return week, scope


@route(
    "/dashboard",
    summary="The dashboard's numbers (amounts in 万元; the weekly report's numbers)",
    query=WeekQuery,
    roles=REPORT_ROLES,
    tags=["reports"],
)
def get_dashboard(query: WeekQuery) -> Any:
    from crm.reports.views import cache_seconds

    week, scope = _week_and_scope(query, Week.of(_today()))
    as_of = min(_today(), week.end)
    board = cache.cached(
        db.session,
        ("dashboard", scope.key, week.label, as_of.isoformat()),
        cache_seconds(),
        lambda: dashboard.build(db.session, scope, week, as_of=as_of),
    )
    return board.as_dict()


@route(
    "/reports/weekly",
    summary="The weekly report of a past week as an Excel workbook",
    query=WeeklyQuery,
    roles=REPORT_ROLES,
    binary=XLSX,
    tags=["reports"],
)
def get_weekly_report(query: WeeklyQuery) -> Response:
    week, scope = _week_and_scope(query, last_complete_week(_today()))
    user = api_user()
    lang = query.lang or ("en" if user.locale == "en" else "zh")
    path = temporary_path()
    try:
        write_weekly(db.session, scope, week, path, lang=lang, as_of=min(_today(), week.end))
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return file_response(path, f"weekly-{week.label}-{scope.key}.xlsx", delete=True)


class ArchiveOut(Schema):
    id: int
    week: str
    week_start: date
    team: str | None
    language: str
    size: int
    sha256: str
    source: str
    created_at: datetime
    download_url: str


@route(
    "/reports/archive",
    summary="Archived weekly reports (a lead sees their team's)",
    query=PageQuery,
    response=Page[ArchiveOut],
    roles=REPORT_ROLES,
    tags=["reports"],
)
def list_report_archive(query: PageQuery) -> Page[ArchiveOut]:
    lines, total = archive.list_archives(
        db.session, api_user(), page=query.page, per_page=query.per_page
    )
    items = [
        ArchiveOut(
            id=line.row.id,
            week=line.row.week,
            week_start=line.row.week_start,
            team=line.team_code,
            language=line.row.language,
            size=line.row.size,
            sha256=line.row.sha256,
            source=line.row.source,
            created_at=line.row.created_at,
            download_url=url_for("api.get_archived_report", archive_id=line.row.id),
        )
        for line in lines
    ]
    return Page[ArchiveOut](items=items, total=total, page=query.page, per_page=query.per_page)


@route(
    "/reports/archive/<int:archive_id>",
    summary="Download an archived weekly report, byte for byte as archived",
    roles=REPORT_ROLES,
    binary=XLSX,
    tags=["reports"],
    extra_responses=(410,),
)
def get_archived_report(archive_id: int) -> Response:
    row = archive.get_visible(db.session, api_user(), archive_id)
    if row is None:
        raise ApiError(404, "No such archived report.")
    try:
        path = archive.archived_file(row, archive.reports_dir(current_app.config))
    except archive.ArchiveError as exc:
        raise ApiError(410, str(exc)) from exc
    return file_response(path, path.name, etag=row.sha256)


class TargetsQuery(Schema):
    year: int | None = Field(None, ge=2000, le=2100, description="Default: this year")


class TargetValues(Schema):
    signed_count: int | None = Field(None, ge=0)
    signed_amount: Amount | None = Field(None, description="万元")
    key_count: int | None = Field(None, ge=0)
    started_count: int | None = Field(None, ge=0)


class TargetOut(Schema):
    kind: Literal["zone", "team"]
    code: str
    name_zh: str
    name_en: str
    target: TargetValues


class TargetsOut(Schema):
    year: int
    items: list[TargetOut]


class TargetIn(TargetValues):
    kind: Literal["zone", "team"]
    code: str


class TargetsIn(Schema):
    year: int = Field(ge=2000, le=2100)
    items: list[TargetIn] = Field(
        description="Zones and teams to set; one with every value null loses its targets; "
        "zones and teams not listed keep theirs."
    )


def _targets_out(year: int, rows: list[targets.TargetRow]) -> TargetsOut:
    return TargetsOut(
        year=year,
        items=[
            TargetOut(
                kind=r.kind,  # type: ignore[arg-type]
                code=r.code,
                name_zh=r.name_zh,
                name_en=r.name_en,
                target=TargetValues(
                    signed_count=r.signed_count,
                    signed_amount=r.signed_amount,
                    key_count=r.key_count,
                    started_count=r.started_count,
                ),
            )
            for r in rows
        ],
    )


@route(
    "/targets",
    summary="Annual targets per zone and team",
    query=TargetsQuery,
    response=TargetsOut,
    roles=REPORT_ROLES,
    tags=["reports"],
)
def get_targets(query: TargetsQuery) -> TargetsOut:
    year = query.year or _today().year
    return _targets_out(year, targets.list_targets(db.session, year))


@route(
    "/targets",
    "PUT",
    summary="Set annual targets (admin)",
    body=TargetsIn,
    response=TargetsOut,
    roles=(Role.ADMIN,),
    tags=["reports"],
)
def put_targets(body: TargetsIn) -> TargetsOut:
    items = [
        targets.TargetInput(
            i.kind, i.code, i.signed_count, i.signed_amount, i.key_count, i.started_count
        )
        for i in body.items
    ]
    try:
        rows = targets.save_targets(db.session, body.year, items, api_user().id)
    except targets.TargetError as exc:
        db.session.rollback()
        raise ApiError(422, str(exc), [(exc.field, str(exc))]) from exc
    db.session.commit()
    return _targets_out(body.year, rows)

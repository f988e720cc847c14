"""The SQL of the reminder rules: one SELECT per rule.

Each rule is one SELECT: a materialised common table expression picks the subjects in the
rule's stages past its threshold (cut-off dates computed once in Python, so indexes on the
date columns help) with their anchor date and threshold; the outer SELECT computes, in SQL,
the elapsed days (working days for inquiries), the escalation level, the days overdue and
the period start, as the columns `COLUMNS`. Projects on hold, dropped or deleted, and rules
snoozed for a project, never match. `crm.reminders.detection` runs them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    Date,
    Integer,
    Select,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from crm.enums import Stage
from crm.pipeline.models import Project, StageChange
from crm.pipeline.sql_hints import scanned, unselective
from crm.reminders import rules as R
from crm.reminders.calendar import WorkCalendar, load_calendar
from crm.reminders.models import ANY_STAGE, ReminderSnooze, WorkCalendarDay
from crm.reminders.settings import DEFAULT_TZ
from crm.reminders.sql import (
    day_number,
    floor_date,
    greatest,
    python_day_number,
    to_local_date,
    weekdays_through,
)
from crm.visits.models import Task, Visit, visit_project

CLOSED_STAGES = (Stage.ON_HOLD, Stage.DROPPED)
ONLY_PROJECTS = "only_project_ids"  # the project ids of a cached narrowed check (detection)
# The columns of every rule's SELECT, in this order (also the reminder's columns).
COLUMNS = (
    "rule_code",
    "subject_kind",
    "subject_id",
    "project_id",
    "task_id",
    "team_id",
    "owner_id",
    "is_key",
    "stage",
    "anchor_on",
    "period_start",
    "level",
    "elapsed_days",
    "threshold_days",
    "days_overdue",
)


@dataclass(frozen=True)
class CheckContext:
    as_of: date
    thresholds: dict[tuple[str, str], R.Threshold]
    # The holidays and make-up days, for a tight pre-filter of unanswered inquiries; without
    # it the pre-filter counts calendar days (looser: the exact test is in SQL either way).
    calendar: WorkCalendar | None
    tz_name: str = DEFAULT_TZ
    # A clause on `Project` limiting the projects the rules look at (a page's ids, a user's
    # scope and filters), applied inside each rule before anything is computed. With it,
    # follow-ups without a project are left out.
    narrow: ColumnElement[bool] | None = None

    def cutoff(self, days: int) -> date:
        return self.as_of - timedelta(days=days)

    def working_cutoff(self, working_days: int) -> date:
        """The latest anchor that can be `working_days` working days before `as_of`."""
        if self.calendar is None:
            return self.cutoff(working_days)  # a working day is a calendar day
        return self.calendar.latest_start(self.as_of, working_days)

    def cache_key(self) -> tuple[Any, ...]:
        """What the rules' SQL depends on besides `narrow` (statements built with the same
        narrowing can be reused while it holds)."""
        exceptions = self.calendar.exceptions if self.calendar is not None else None
        return (
            self.as_of,
            self.tz_name,
            tuple(sorted(self.thresholds.items())),
            tuple(sorted(exceptions.items())) if exceptions is not None else None,
        )

    def narrowed(self, *clauses: ColumnElement[bool] | None) -> CheckContext:
        """This context, looking only at the projects matching every clause."""
        parts = [c for c in (self.narrow, *clauses) if c is not None]
        return replace(self, narrow=and_(*parts) if parts else None)


def build_context(
    session: Session, as_of: date, tz_name: str = DEFAULT_TZ, *, calendar: bool = True
) -> CheckContext:
    """Thresholds and (with `calendar`) the working-day calendar: one or two small queries."""
    work_calendar = load_calendar(session) if calendar else None
    return CheckContext(as_of, R.load_thresholds(session), work_calendar, tz_name)


# --- SQL pieces ------------------------------------------------------------------------


def _alive_open(ctx: CheckContext) -> ColumnElement[bool]:
    if ctx.narrow is None:  # most projects: read them all in order (SQLite), not by index
        return and_(
            scanned(Project.deleted_at).is_(None), scanned(Project.stage).not_in(CLOSED_STAGES)
        )
    alive = and_(Project.deleted_at.is_(None), Project.stage.not_in(CLOSED_STAGES))
    return and_(alive, ctx.narrow)


def _stage_in(ctx: CheckContext, stages: Any) -> ColumnElement[bool]:
    """The project's stage is one of `stages` (most projects, for most rules: see
    `_alive_open`)."""
    return (scanned(Project.stage) if ctx.narrow is None else Project.stage).in_(list(stages))


def _not_snoozed(code: str, as_of: date, project_id: Any = Project.id) -> ColumnElement[bool]:
    return ~exists().where(
        ReminderSnooze.project_id == project_id,
        ReminderSnooze.rule_code == code,
        ReminderSnooze.until >= as_of,
        ReminderSnooze.cancelled_at.is_(None),
    )


def _in_stage(threshold_stage: str, stage: Any) -> ColumnElement[bool]:
    return literal(True) if threshold_stage == ANY_STAGE else stage == threshold_stage


def _past_threshold(
    ctx: CheckContext,
    thresholds: list[R.Threshold],
    anchor: Any,
    stage: Any,
    is_key: Any,
    cutoff: Callable[[int], date] | None = None,
) -> ColumnElement[bool]:
    """anchor <= the cut-off of the (stage, key or not) threshold, for the enabled rows."""
    cutoff = cutoff or ctx.cutoff
    parts = []
    for t in thresholds:
        in_stage = _in_stage(t.stage, stage)
        parts.append(and_(in_stage, is_key.is_(True), anchor <= cutoff(t.for_project(True))))
        parts.append(and_(in_stage, is_key.is_(False), anchor <= cutoff(t.for_project(False))))
    return or_(*parts) if parts else false()


def _threshold(thresholds: list[R.Threshold], stage: Any, is_key: Any) -> Any:
    whens = []
    for t in thresholds:
        in_stage = _in_stage(t.stage, stage)
        whens.append((and_(in_stage, is_key.is_(True)), t.for_project(True)))
        whens.append((in_stage, t.for_project(False)))
    return case(*whens, else_=None)


def _base_columns(
    subject_id: Any,
    project_id: Any,
    task_id: Any,
    team_id: Any,
    owner_id: Any,
    is_key: Any,
    stage: Any,
    anchor: Any,
    threshold: Any,
) -> list[Any]:
    return [
        subject_id.label("subject_id"),
        project_id.label("project_id"),
        task_id.label("task_id"),
        team_id.label("team_id"),
        owner_id.label("owner_id"),
        is_key.label("is_key"),
        stage.label("stage"),
        type_coerce(anchor, Date()).label("anchor_on"),
        threshold.label("threshold_days"),
    ]


def _project_base(anchor: Any, threshold: Any) -> list[Any]:
    return _base_columns(
        Project.id,
        Project.id,
        literal(None, Integer()),
        Project.team_id,
        Project.owner_id,
        Project.is_key,
        Project.stage,
        anchor,
        threshold,
    )


def _last_stage_change() -> Any:
    return (
        select(func.max(StageChange.on))
        .where(StageChange.project_id == Project.id)
        .scalar_subquery()
    )


def _current_stage_date() -> Any:
    return case(
        *[(Project.stage == s, getattr(Project, f"{s.value}_on")) for s in R.OPEN_STAGES],
        else_=None,
    )


def _created_date(ctx: CheckContext) -> Any:
    return to_local_date(Project.created_at, ctx.tz_name, ctx.as_of)


def _latest(*dates: Any, fallback: Any) -> Any:
    """The latest of nullable dates, or `fallback` when all are NULL."""
    floor = floor_date()
    latest = greatest(*[func.coalesce(d, floor) for d in dates])
    return func.coalesce(func.nullif(latest, floor), fallback)


def _visit_dates(project_id: Any) -> tuple[Any, Any]:
    """The latest visit date of a project, and the date of its last logged visit (highest
    id: one index probe, usually the latest date too since visits are logged as they
    happen)."""
    join = visit_project.join(Visit, Visit.id == visit_project.c.visit_id)
    where = (visit_project.c.project_id == project_id, Visit.deleted_at.is_(None))
    latest = select(func.max(Visit.on)).select_from(join).where(*where).scalar_subquery()
    last_logged = (
        select(Visit.on)
        .select_from(join)
        .where(*where)
        .order_by(visit_project.c.visit_id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return latest, last_logged


def _cutoff_case(ctx: CheckContext, thresholds: list[R.Threshold], stage: Any, is_key: Any) -> Any:
    whens = []
    for t in thresholds:
        in_stage = _in_stage(t.stage, stage)
        whens.append((and_(in_stage, is_key.is_(True)), literal(ctx.cutoff(t.for_project(True)))))
        whens.append((in_stage, literal(ctx.cutoff(t.for_project(False)), Date())))
    return case(*whens, else_=None)


def _working_days_after(anchor: Any, ctx: CheckContext) -> Any:
    """Working days d with anchor < d <= as_of: weekdays, minus holidays on weekdays, plus
    make-up working days on weekends (from the calendar table)."""
    as_of_number = python_day_number(ctx.as_of)
    weekday = day_number(WorkCalendarDay.on) % 7 < 5
    delta = case(
        (and_(WorkCalendarDay.working.is_(True), ~weekday), 1),
        (and_(WorkCalendarDay.working.is_(False), weekday), -1),
        else_=0,
    )
    adjustment = (
        select(func.coalesce(func.sum(delta), 0))
        .where(WorkCalendarDay.on > anchor, WorkCalendarDay.on <= ctx.as_of)
        .scalar_subquery()
    )
    return (
        weekdays_through(literal(as_of_number))
        - weekdays_through(day_number(anchor))
        + (adjustment)
    )


def _finish(ctx: CheckContext, code: str, kind: str, base: Select[Any]) -> Select[Any]:
    """The rule's SELECT of `COLUMNS` from its base query (materialised once, with the
    elapsed days computed there once per row)."""
    base_anchor = base.selected_columns.anchor_on
    if code == R.INQUIRY_UNANSWERED:
        days = _working_days_after(base_anchor, ctx)
    else:
        days = literal(python_day_number(ctx.as_of)) - day_number(base_anchor)
    cte = base.add_columns(days.label("elapsed")).cte(f"{code}_base").prefix_with("MATERIALIZED")
    anchor, threshold, elapsed = cte.c.anchor_on, cte.c.threshold_days, cte.c.elapsed
    level = case((elapsed >= threshold * 3, 3), (elapsed >= threshold * 2, 2), else_=1)
    snoozed_until = (
        select(func.max(ReminderSnooze.until))
        .where(
            ReminderSnooze.project_id == cte.c.project_id,
            ReminderSnooze.rule_code == code,
            ReminderSnooze.until < ctx.as_of,
            ReminderSnooze.cancelled_at.is_(None),
        )
        .scalar_subquery()
    )
    period_start = greatest(anchor, func.coalesce(snoozed_until, floor_date()))
    return select(
        literal(code).label("rule_code"),
        literal(kind).label("subject_kind"),
        cte.c.subject_id,
        cte.c.project_id,
        cte.c.task_id,
        cte.c.team_id,
        cte.c.owner_id,
        cte.c.is_key,
        cte.c.stage,
        anchor,
        type_coerce(period_start, Date()).label("period_start"),
        level.label("level"),
        elapsed.label("elapsed_days"),
        threshold.label("threshold_days"),
        (elapsed - threshold).label("days_overdue"),
    ).where(elapsed >= threshold)


# --- one query per rule ------------------------------------------------------------------


def _stage_rule(ctx: CheckContext, code: str, anchor: Any) -> Select[Any]:
    thresholds = R.enabled_for(ctx.thresholds, code)
    threshold = _threshold(thresholds, Project.stage, Project.is_key)
    base = select(*_project_base(anchor, threshold)).where(
        _alive_open(ctx),
        anchor.is_not(None),
        _past_threshold(ctx, thresholds, anchor, Project.stage, Project.is_key),
        _not_snoozed(code, ctx.as_of),
    )
    return _finish(ctx, code, "project", base)


def _computed_anchor_rule(ctx: CheckContext, code: str, anchor: Any) -> Select[Any]:
    """A rule whose anchor is computed from other tables: computed once, then compared."""
    thresholds = R.enabled_for(ctx.thresholds, code)
    threshold = _threshold(thresholds, Project.stage, Project.is_key)
    inner = (
        select(*_project_base(anchor, threshold))
        .where(
            _alive_open(ctx),
            _stage_in(ctx, [t.stage for t in thresholds]),
            _not_snoozed(code, ctx.as_of),
        )
        .cte(f"{code}_anchor")
        .prefix_with("MATERIALIZED")
    )
    base = select(*inner.c).where(
        _past_threshold(ctx, thresholds, inner.c.anchor_on, inner.c.stage, inner.c.is_key)
    )
    return _finish(ctx, code, "project", base)


def signed_not_landed(ctx: CheckContext) -> Select[Any]:
    return _stage_rule(ctx, R.SIGNED_NOT_LANDED, Project.signed_on)


def landed_not_started(ctx: CheckContext) -> Select[Any]:
    # 签约未开工 counts from signing.
    return _stage_rule(
        ctx, R.LANDED_NOT_STARTED, func.coalesce(Project.signed_on, Project.landed_on)
    )


def started_not_operating(ctx: CheckContext) -> Select[Any]:
    """Past the planned operating date (the planned period is the threshold); without a
    plan, the rule's days after the start."""
    code = R.STARTED_NOT_OPERATING
    thresholds = R.enabled_for(ctx.thresholds, code)
    planned, started = Project.planned_operating_on, Project.started_on
    period = greatest(literal(1), day_number(planned) - day_number(started))
    threshold = case(
        (planned.is_not(None), period),
        else_=_threshold(thresholds, Project.stage, Project.is_key),
    )
    without_plan = _past_threshold(ctx, thresholds, started, Project.stage, Project.is_key)
    base = select(*_project_base(started, threshold)).where(
        _alive_open(ctx),
        _stage_in(ctx, [t.stage for t in thresholds]),
        started.is_not(None),
        or_(
            and_(planned.is_not(None), planned <= ctx.as_of),
            and_(planned.is_(None), without_plan),
        ),
        _not_snoozed(code, ctx.as_of),
    )
    return _finish(ctx, code, "project", base)


def no_activity(ctx: CheckContext) -> Select[Any]:
    """Leads and negotiations without a visit, stage change or completed follow-up.

    A project's last activity (`last_activity_at`) is kept by the visits feature as the
    latest of its visits (never dated in the future), stage changes and completed
    follow-ups, so it stands for the visits of every project that has one; the visits
    themselves are read only for projects without it (data that never went through the
    visits feature). There, two steps keep it cheap on a million visits: the cheap dates
    first and the last logged visit rule out active projects; only the others get their
    latest visit computed.
    """
    code = R.NO_ACTIVITY
    thresholds = R.enabled_for(ctx.thresholds, code)
    floor = floor_date()
    last_done = (
        select(func.max(Task.done_at))
        .where(Task.project_id == Project.id, Task.deleted_at.is_(None))
        .scalar_subquery()
    )
    cheap = func.nullif(
        greatest(
            *[
                func.coalesce(d, floor)
                for d in (
                    Project.lead_on,
                    Project.negotiating_on,
                    _last_stage_change(),
                    to_local_date(last_done, ctx.tz_name, ctx.as_of),
                    to_local_date(Project.last_activity_at, ctx.tz_name, ctx.as_of),
                )
            ]
        ),
        floor,
    )
    first = (
        select(
            *_project_base(
                literal(None, Date()), _threshold(thresholds, Project.stage, Project.is_key)
            ),
            type_coerce(cheap, Date()).label("cheap_on"),
            _cutoff_case(ctx, thresholds, Project.stage, Project.is_key).label("cutoff_on"),
            _created_date(ctx).label("created_on"),
            Project.last_activity_at.is_(None).label("visits_unknown"),
        )
        .where(
            _alive_open(ctx),
            _stage_in(ctx, [t.stage for t in thresholds]),
            _not_snoozed(code, ctx.as_of),
        )
        .cte(f"{code}_cheap")
        .prefix_with("MATERIALIZED")
    )
    latest_visit, last_logged = _visit_dates(first.c.project_id)
    unknown = first.c.visits_unknown.is_(True)
    visited = case((unknown, func.coalesce(latest_visit, floor)), else_=floor)
    anchor = func.coalesce(
        func.nullif(greatest(func.coalesce(first.c.cheap_on, floor), visited), floor),
        first.c.created_on,
    )
    skipped = ("anchor_on", "cheap_on", "created_on", "visits_unknown")
    columns = [c for c in first.c if c.name not in skipped]
    second = (
        select(*columns, type_coerce(anchor, Date()).label("anchor_on"))
        .where(
            func.coalesce(first.c.cheap_on, floor) <= first.c.cutoff_on,
            or_(~unknown, func.coalesce(last_logged, floor) <= first.c.cutoff_on),
        )
        .cte(f"{code}_anchor")
        .prefix_with("MATERIALIZED")
    )
    names = (
        "subject_id",
        "project_id",
        "task_id",
        "team_id",
        "owner_id",
        "is_key",
        "stage",
        "anchor_on",
        "threshold_days",
    )
    base = select(*[second.c[n] for n in names]).where(second.c.anchor_on <= second.c.cutoff_on)
    return _finish(ctx, code, "project", base)


def no_stage_change(ctx: CheckContext) -> Select[Any]:
    anchor = _latest(_current_stage_date(), _last_stage_change(), fallback=_created_date(ctx))
    return _computed_anchor_rule(ctx, R.NO_STAGE_CHANGE, anchor)


def inquiry_unanswered(ctx: CheckContext) -> Select[Any]:
    code = R.INQUIRY_UNANSWERED
    thresholds = R.enabled_for(ctx.thresholds, code)

    received = Project.inquiry_received_on
    threshold = _threshold(thresholds, Project.stage, Project.is_key)
    base = select(*_project_base(received, threshold)).where(
        _alive_open(ctx),
        Project.stage.in_((Stage.LEAD, Stage.NEGOTIATING)),
        Project.is_inquiry.is_(True),
        Project.inquiry_answered_on.is_(None),
        received.is_not(None),
        _past_threshold(
            ctx, thresholds, received, Project.stage, Project.is_key, ctx.working_cutoff
        ),
        _not_snoozed(code, ctx.as_of),
    )
    return _finish(ctx, code, "project", base)


def task_overdue(ctx: CheckContext) -> Select[Any]:
    code = R.TASK_OVERDUE
    thresholds = R.enabled_for(ctx.thresholds, code)
    is_key = func.coalesce(Project.is_key, false())
    project_ok = and_(_alive_open(ctx), _not_snoozed(code, ctx.as_of, Task.project_id))
    due = _past_threshold(ctx, thresholds, Task.due_on, Project.stage, is_key)
    is_open = Task.done_at.is_(None)
    if ctx.narrow is None:  # every open follow-up, with or without a project
        project_ok = or_(Task.project_id.is_(None), project_ok)
        tasks = Task.__table__.outerjoin(Project.__table__, Project.id == Task.project_id)
    else:  # the narrowed projects' follow-ups, found from the projects by an index
        tasks = Project.__table__.join(Task.__table__, Task.project_id == Project.id)
        # (so SQLite does not start from the index of open follow-ups by due date)
        due, is_open = unselective(due), unselective(is_open)
    base = (
        select(
            *_base_columns(
                Task.id,
                Task.project_id,
                Task.id,
                Task.team_id,
                Task.owner_id,
                is_key,
                Project.stage,
                Task.due_on,
                _threshold(thresholds, Project.stage, is_key),
            )
        )
        .select_from(tasks)
        .where(is_open, Task.deleted_at.is_(None), project_ok, due)
    )
    return _finish(ctx, code, "task", base)


QUERIES: dict[str, Callable[[CheckContext], Select[Any]]] = {
    R.SIGNED_NOT_LANDED: signed_not_landed,
    R.LANDED_NOT_STARTED: landed_not_started,
    R.STARTED_NOT_OPERATING: started_not_operating,
    R.NO_ACTIVITY: no_activity,
    R.TASK_OVERDUE: task_overdue,
    R.INQUIRY_UNANSWERED: inquiry_unanswered,
    R.NO_STAGE_CHANGE: no_stage_change,
}

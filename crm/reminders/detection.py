"""Finding stalled projects and overdue follow-ups, for the daily check, the stalled
badges and page, and the project list's filter.

The SQL lives in `crm.reminders.queries` (one set-based SELECT per rule); this module runs
it and offers the functions other features use: `stalled_for_projects` (badges) and
`stalled_project_ids_subquery` (a "stalled only" list filter).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import Select, false, select, union, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from crm.enums import Stage
from crm.pipeline.models import Project
from crm.reminders import rules as R
from crm.reminders.queries import COLUMNS, ONLY_PROJECTS, QUERIES, CheckContext, build_context

__all__ = [
    "COLUMNS",
    "CheckContext",
    "Detection",
    "Stall",
    "build_context",
    "detect",
    "rule_queries",
    "stalled_for_projects",
    "stalled_project_ids_subquery",
]


class Detection(NamedTuple):
    rule_code: str
    subject_kind: str  # "project" or "task"
    subject_id: int
    project_id: int | None
    task_id: int | None
    team_id: int
    owner_id: int | None
    is_key: bool
    stage: str | None
    anchor_on: date  # when the clock started (signing, last activity, due date, ...)
    period_start: date  # the anchor, or the last day of a snooze that ended after it
    level: int  # 1 at the threshold, 2 at twice (team lead), 3 at three times (leaders)
    elapsed_days: int
    threshold_days: int
    days_overdue: int

    @property
    def key(self) -> tuple[str, int, str, date, int]:
        """The exactly-once key (as in `uq_reminder_key`)."""
        return (self.subject_kind, self.subject_id, self.rule_code, self.period_start, self.level)


class Stall(NamedTuple):
    """What the stalled badge shows: the rule and the days past its threshold."""

    rule: str
    days_overdue: int


def rule_queries(
    ctx: CheckContext,
    rule_codes: Iterable[str] | None = None,
    where: ColumnElement[bool] | None = None,
    project_ids: Iterable[int] | None = None,
) -> list[tuple[str, Select[Any]]]:
    """The SELECT of each enabled rule, optionally narrowed to the projects matching
    `where` (a clause on `Project`, e.g. a user's scope) or to project ids."""
    if project_ids is None:
        queries = _build(ctx, rule_codes)
    else:
        ids = list(project_ids)
        queries = [
            (code, stmt.params({ONLY_PROJECTS: ids}))
            for code, stmt in _narrowed_queries(ctx, rule_codes)
        ]
    if where is None:
        return queries
    return [
        (code, stmt.where(stmt.selected_columns.project_id.in_(select(Project.id).where(where))))
        for code, stmt in queries
    ]


def _build(ctx: CheckContext, rule_codes: Iterable[str] | None) -> list[tuple[str, Select[Any]]]:
    return [
        (code, QUERIES[code](ctx))
        for code in rule_codes or R.RULE_CODES
        if code in QUERIES and R.enabled_for(ctx.thresholds, code)
    ]


# Narrowed statements by what they depend on: a project page checks one project, and
# building the rules' SQL costs more than running it for one project (~30 ms vs ~6 ms).
_NARROWED: dict[tuple[Any, ...], tuple[list[tuple[str, Select[Any]]], Any]] = {}
_NARROWED_MAX = 32


def _narrowed(
    ctx: CheckContext, rule_codes: Iterable[str] | None
) -> tuple[list[tuple[str, Select[Any]]], Any]:
    """The rules' SELECTs taking the project ids as the parameter ONLY_PROJECTS, and all
    of them as one UNION ALL (None when no rule is enabled)."""
    codes = tuple(rule_codes) if rule_codes is not None else None
    narrowed = replace(ctx, narrowed=True)
    key = (*narrowed.cache_key(), codes)
    found = _NARROWED.get(key)
    if found is None:
        if len(_NARROWED) >= _NARROWED_MAX:
            _NARROWED.clear()
        queries = _build(narrowed, codes)
        together = union_all(*(stmt for _code, stmt in queries)) if queries else None
        found = _NARROWED[key] = (queries, together)
    return found


def _narrowed_queries(
    ctx: CheckContext, rule_codes: Iterable[str] | None
) -> list[tuple[str, Select[Any]]]:
    return _narrowed(ctx, rule_codes)[0]


def detect(
    session: Session,
    ctx: CheckContext,
    *,
    rule_codes: Iterable[str] | None = None,
    where: ColumnElement[bool] | None = None,
    project_ids: Iterable[int] | None = None,
) -> list[Detection]:
    """Everything stalled on `ctx.as_of` (one query per enabled rule; for a few projects,
    one query in all)."""
    if project_ids is not None and where is None:
        together = _narrowed(ctx, rule_codes)[1]
        statements = [together] if together is not None else []
        params: dict[str, Any] = {ONLY_PROJECTS: list(project_ids)}
    else:
        statements = [stmt for _code, stmt in rule_queries(ctx, rule_codes, where, project_ids)]
        params = {}
    found: list[Detection] = []
    for stmt in statements:
        for row in session.execute(stmt, params):
            stage = row.stage.value if isinstance(row.stage, Stage) else row.stage
            found.append(Detection(*row[:8], stage, *row[9:]))
    return found


def stalled_for_projects(
    session: Session,
    project_ids: Iterable[int],
    as_of: date | None = None,
    *,
    tz_name: str | None = None,
) -> dict[int, list[Stall]]:
    """For the given projects, the rules they are stalled on and the days past each
    threshold (follow-ups: the most overdue one), worst first. Projects that are not
    stalled are absent. A bounded number of queries, whatever the number of projects."""
    ids = list(project_ids)
    if not ids:
        return {}
    tz_name, as_of = _defaults(tz_name, as_of)
    ctx = build_context(session, as_of, tz_name)
    worst: dict[tuple[int, str], int] = {}
    for d in detect(session, ctx, project_ids=ids):
        if d.project_id is None:
            continue
        k = (d.project_id, d.rule_code)
        worst[k] = max(worst.get(k, -1), d.days_overdue)
    out: dict[int, list[Stall]] = {}
    for (pid, code), days in worst.items():
        out.setdefault(pid, []).append(Stall(code, days))
    for stalls in out.values():
        stalls.sort(key=lambda s: (-s.days_overdue, s.rule))
    return out


def stalled_project_ids_subquery(
    session: Session,
    as_of: date | None = None,
    rule_codes: Iterable[str] | None = None,
    *,
    tz_name: str | None = None,
) -> Select[Any]:
    """A SELECT of the ids of stalled projects, for `Project.id.in_(...)` in a list query.

    Runs two small queries now (thresholds, calendar); the returned statement is pure SQL
    and selects nothing when every rule is disabled.
    """
    tz_name, as_of = _defaults(tz_name, as_of)
    ctx = build_context(session, as_of, tz_name)
    selects = [
        select(stmt.subquery().c.project_id.label("project_id"))
        for _code, stmt in rule_queries(ctx, rule_codes)
    ]
    if not selects:
        return select(Project.id).where(false())
    if len(selects) == 1:
        return selects[0]
    return select(union(*selects).subquery().c.project_id)


def _defaults(tz_name: str | None, as_of: date | None) -> tuple[str, date]:
    from crm.reminders import settings

    if tz_name is None or as_of is None:
        try:
            current = settings.current()
        except RuntimeError:  # outside an app context
            current = settings.ReminderSettings()
        tz_name = tz_name or current.tz_name
        as_of = as_of or current.today()
    return tz_name, as_of

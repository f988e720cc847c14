"""Finding stalled projects and overdue follow-ups, for the daily check, the stalled
badges and page, and the project list's filter.

The SQL lives in `crm.reminders.queries` (one set-based SELECT per rule); this module runs
it and offers the functions other features use: `stalled_for_projects` (badges),
`stalled_project_ids_subquery` (a "stalled only" list filter), `project_stalls_subquery`
(the report's stalled list) and `request_context` (the thresholds, once per request).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any, NamedTuple

from sqlalchemy import (
    Integer,
    Select,
    String,
    bindparam,
    false,
    func,
    literal,
    select,
    union_all,
)
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
    "all_rules_stmt",
    "build_context",
    "detect",
    "project_stalls_subquery",
    "request_context",
    "rule_queries",
    "stalled_for_projects",
    "stalled_project_ids_subquery",
    "stalls_by_rule",
    "today_context",
    "worst_first",
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
    `where` (a clause on `Project`, e.g. a user's scope) or to project ids. The narrowing
    happens inside each rule, so a narrow query only computes what it returns."""
    ids = list(project_ids) if project_ids is not None else None
    ctx = ctx.narrowed(where, Project.id.in_(ids) if ids is not None else None)
    out = []
    # Each rule once: a code given twice would put two CTEs of the same name in one statement.
    for code in dict.fromkeys(rule_codes or R.RULE_CODES):
        if code not in QUERIES or not R.enabled_for(ctx.thresholds, code):
            continue
        out.append((code, QUERIES[code](ctx)))
    return out


def all_rules_stmt(
    ctx: CheckContext,
    rule_codes: Iterable[str] | None = None,
    where: ColumnElement[bool] | None = None,
    project_ids: Iterable[int] | None = None,
) -> Select[Any] | None:
    """Every enabled rule's findings (`COLUMNS`) in one statement (UNION ALL); None when
    no rule is enabled."""
    selects = [stmt for _code, stmt in rule_queries(ctx, rule_codes, where, project_ids)]
    if not selects:
        return None
    if len(selects) == 1:
        return selects[0]
    found = union_all(*selects).subquery("found")
    return select(*[found.c[name] for name in COLUMNS])


# Statements built once and reused with the project ids as the parameter ONLY_PROJECTS,
# keyed by what their SQL depends on: a project page checks one project, a list 50, and
# building the rules' SQL costs more than running it for them (~30-80 ms vs a few).
_STATEMENTS: dict[tuple[Any, ...], Select[Any] | None] = {}
_STATEMENTS_MAX = 64
_MISSING: Any = object()


def _reused(key: tuple[Any, ...], build: Callable[[], Select[Any] | None]) -> Select[Any] | None:
    """The statement cached under `key`, built by `build` the first time (bounded cache;
    under threads at worst two build it, and none reads a key cleared under it)."""
    stmt = _STATEMENTS.get(key, _MISSING)
    if stmt is _MISSING:
        if len(_STATEMENTS) >= _STATEMENTS_MAX:
            _STATEMENTS.clear()
        stmt = _STATEMENTS[key] = build()
    return stmt  # type: ignore[no-any-return]


def _narrowed(ctx: CheckContext, rule_codes: Iterable[str] | None) -> Select[Any] | None:
    """`all_rules_stmt` for the projects in the ONLY_PROJECTS parameter (cached)."""
    codes = tuple(rule_codes) if rule_codes is not None else None

    def build() -> Select[Any] | None:
        only = Project.id.in_(bindparam(ONLY_PROJECTS, expanding=True))
        return all_rules_stmt(ctx.narrowed(only), codes)

    return _reused(("rules", *ctx.cache_key(), codes), build)


def _badge_stmt(ctx: CheckContext) -> Select[Any] | None:
    """(project_id, rule_code, days_overdue) of the projects in the ONLY_PROJECTS parameter,
    one row per rule (cached: lists and boards show 50 badges a page)."""

    def build() -> Select[Any] | None:
        found = _narrowed(ctx, None)
        if found is None:
            return None
        stalls = _grouped(found)
        return select(stalls.c.project_id, stalls.c.rule_code, stalls.c.days_overdue)

    return _reused(("badges", *ctx.cache_key()), build)


def detect(
    session: Session,
    ctx: CheckContext,
    *,
    rule_codes: Iterable[str] | None = None,
    where: ColumnElement[bool] | None = None,
    project_ids: Iterable[int] | None = None,
) -> list[Detection]:
    """Everything stalled on `ctx.as_of`: one query, whatever the number of rules (for
    project ids alone, a statement built once and reused with the ids as a parameter)."""
    params: dict[str, Any] = {}
    if project_ids is not None and where is None and ctx.narrow is None:
        stmt = _narrowed(ctx, rule_codes)
        params[ONLY_PROJECTS] = list(project_ids)
    else:
        stmt = all_rules_stmt(ctx, rule_codes, where, project_ids)
    if stmt is None:
        return []
    found: list[Detection] = []
    for row in session.execute(stmt, params):
        stage = row.stage.value if isinstance(row.stage, Stage) else row.stage
        found.append(Detection(*row[:8], stage, *row[9:]))
    return found


def project_stalls_subquery(
    ctx: CheckContext,
    rule_codes: Iterable[str] | None = None,
    where: ColumnElement[bool] | None = None,
    project_ids: Iterable[int] | None = None,
) -> Any:
    """A subquery of (project_id, rule_code, days_overdue, level): each project's stalls,
    one row per rule (follow-ups: the most overdue one). Pure SQL."""
    stmt = all_rules_stmt(ctx, rule_codes, where, project_ids)
    if stmt is None:  # nothing enabled: an empty set of the same shape
        none = literal(None, Integer())
        return (
            select(
                none.label("project_id"),
                literal("", String()).label("rule_code"),
                none.label("days_overdue"),
                none.label("level"),
            )
            .where(false())
            .subquery("stalls")
        )
    return _grouped(stmt)


def _grouped(stmt: Select[Any]) -> Any:
    """Per project and rule, the most days overdue and the highest level (a subquery)."""
    found = stmt.subquery("found_stalls")
    return (
        select(
            found.c.project_id,
            found.c.rule_code,
            func.max(found.c.days_overdue).label("days_overdue"),
            func.max(found.c.level).label("level"),
        )
        .where(found.c.project_id.is_not(None))
        .group_by(found.c.project_id, found.c.rule_code)
        .subquery("stalls")
    )


def worst_first(stalls: Iterable[Stall]) -> list[Stall]:
    """The badge's order: most days overdue first, then by rule."""
    return sorted(stalls, key=lambda s: (-s.days_overdue, s.rule))


def stalls_by_rule(found: Iterable[Detection]) -> list[Stall]:
    """One project's detections as badge entries: per rule the most days overdue."""
    worst: dict[str, int] = {}
    for d in found:
        worst[d.rule_code] = max(worst.get(d.rule_code, d.days_overdue), d.days_overdue)
    return worst_first(Stall(rule, days) for rule, days in worst.items())


def stalled_for_projects(
    session: Session,
    project_ids: Iterable[int],
    as_of: date | None = None,
    *,
    tz_name: str | None = None,
    ctx: CheckContext | None = None,
) -> dict[int, list[Stall]]:
    """For the given projects, the rules they are stalled on and the days past each
    threshold (follow-ups: the most overdue one), worst first. Projects that are not
    stalled are absent. One query (plus the thresholds when no `ctx` is given), whatever
    the number of projects and rules."""
    ids = sorted({int(i) for i in project_ids})
    if not ids:
        return {}
    if ctx is None:
        tz_name, as_of = _defaults(tz_name, as_of)
        ctx = build_context(session, as_of, tz_name, calendar=False)
    if ctx.narrow is None:
        # Built once per day and thresholds; the ids are a parameter (lists, boards).
        stmt, params = _badge_stmt(ctx), {ONLY_PROJECTS: ids}
    else:
        stalls = project_stalls_subquery(ctx, project_ids=ids)
        stmt, params = select(stalls.c.project_id, stalls.c.rule_code, stalls.c.days_overdue), {}
    if stmt is None:
        return {}
    out: dict[int, list[Stall]] = {}
    for pid, code, days in session.execute(stmt, params):
        out.setdefault(int(pid), []).append(Stall(code, int(days)))
    return {pid: worst_first(found) for pid, found in out.items()}


def stalled_project_ids_subquery(
    session: Session,
    as_of: date | None = None,
    rule_codes: Iterable[str] | None = None,
    *,
    tz_name: str | None = None,
    ctx: CheckContext | None = None,
    where: ColumnElement[bool] | None = None,
) -> Select[Any]:
    """A SELECT of the ids of stalled projects, for `Project.id.in_(...)` in a list query.

    `where` (a clause on `Project`: the list's scope and other filters) narrows the rules
    to the projects the list can show, so they compute no more than needed. Runs one small
    query now (the thresholds) unless `ctx` is given; the statement is pure SQL and
    selects nothing when every rule is disabled.
    """
    if ctx is None:
        tz_name, as_of = _defaults(tz_name, as_of)
        ctx = build_context(session, as_of, tz_name, calendar=False)
    stalls = project_stalls_subquery(ctx, rule_codes, where)
    return select(stalls.c.project_id)


def today_context(session: Session, as_of: date | None = None) -> CheckContext:
    """The rules' context on `as_of` (default: today in the configured time zone)."""
    tz_name, as_of = _defaults(None, as_of)
    return build_context(session, as_of, tz_name, calendar=False)


def request_context(session: Session) -> CheckContext:
    """Today's context for badges and filters, loaded once per request (one query)."""
    from flask import g, has_request_context

    if not has_request_context():
        return today_context(session)
    tz_name, as_of = _defaults(None, None)
    cached = g.get("_reminders_context")
    if cached is None or cached.as_of != as_of or cached.tz_name != tz_name:
        cached = build_context(session, as_of, tz_name, calendar=False)
        g._reminders_context = cached
    return cached  # type: ignore[no-any-return]


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

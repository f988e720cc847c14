"""Stalled projects as the report sees them: one small interface to point at the reminders.

Until the reminders feature provides its rule engine, the report applies the rule leaders
watch most, 签约未开工: a project signed (or landed) but not started `SIGNED_NOT_STARTED_DAYS`
days after signing (`KEY_SIGNED_NOT_STARTED_DAYS` for key projects). Projects on hold or
dropped are not stalled. Everything else in the report uses only `stalled_condition` and
`stalled_stmt`, so switching to the reminders' `stalled_for_projects` means changing this
module alone.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import Select, and_, case, func, literal, select
from sqlalchemy.sql.elements import ColumnElement

from crm.enums import Stage
from crm.pipeline.models import Project
from crm.reports.sqlfuncs import days_between

SIGNED_NOT_STARTED_DAYS = 90
KEY_SIGNED_NOT_STARTED_DAYS = 60
RULE_SIGNED_NOT_STARTED = "signed_not_started"


def threshold_days() -> ColumnElement[int]:
    return case(
        (Project.is_key.is_(True), KEY_SIGNED_NOT_STARTED_DAYS), else_=SIGNED_NOT_STARTED_DAYS
    )


def stalled_condition(
    scope: ColumnElement[bool], as_of: date
) -> tuple[ColumnElement[bool], ColumnElement[int]]:
    """WHERE clause selecting the stalled projects of `scope` on `as_of`, and days overdue."""
    overdue = days_between(Project.signed_on, literal(as_of)) - threshold_days()
    latest_cut = as_of - timedelta(days=KEY_SIGNED_NOT_STARTED_DAYS)
    where = and_(
        scope,
        Project.stage.in_((Stage.SIGNED, Stage.LANDED)),
        Project.signed_on.is_not(None),
        Project.signed_on < latest_cut,  # index-friendly pre-filter
        overdue > 0,
        func.coalesce(Project.started_on, as_of + timedelta(days=1)) > as_of,
    )
    return where, overdue


def stalled_stmt(scope: ColumnElement[bool], as_of: date) -> Select[Any]:
    """Stalled projects in `scope` as of `as_of`: (project id, rule, days overdue).

    A subquery-ready SELECT; callers join it for names.
    """
    where, overdue = stalled_condition(scope, as_of)
    return select(
        Project.id.label("project_id"),
        literal(RULE_SIGNED_NOT_STARTED).label("rule"),
        overdue.label("days_overdue"),
    ).where(where)

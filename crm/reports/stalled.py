"""Stalled projects as the report sees them: the reminder rules' own findings.

The weekly workbook's 停滞项目 sheet, the dashboard, the stalled page, the badges and the
API all ask `crm.reminders.detection`, so they agree: the same rules and thresholds (normal
and key projects), snoozes, and exclusions (projects on hold, dropped or deleted are never
stalled). A project stalled on several rules has one row per rule (for follow-ups: the most
overdue one). Everything here is SQL: the rules run once per statement, narrowed to the
report's scope.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from crm.pipeline.models import Project
from crm.reminders.detection import project_stalls_subquery, today_context
from crm.reminders.sql import without_jit
from crm.reports.scope import ReportScope


def stalls_subquery(session: Session, scope: ReportScope, as_of: date) -> Any:
    """(project_id, rule_code, days_overdue, level) of the projects of `scope` stalled on
    `as_of`: one row per project and rule. Reads the rules' thresholds now (one query).

    The rules leave out deleted projects themselves; a report of every team runs them
    unnarrowed, which lets them read the whole table in order (SQLite) instead of by
    index."""
    without_jit(session)
    where = None if scope.all_teams else Project.team_id == scope.team_id
    return project_stalls_subquery(today_context(session, as_of), where=where)

"""What the dashboard page and `GET /api/v1/dashboard` show: the metrics plus short lists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from crm.reports import listings, metrics
from crm.reports.scope import ReportScope
from crm.reports.weeks import Week

TOP = 20


@dataclass
class Dashboard:
    metrics: metrics.Metrics
    key_projects: list[listings.ProjectLine]
    key_total: int
    stalled: list[listings.ProjectLine]
    stalled_total: int

    def as_dict(self) -> dict[str, Any]:
        data = self.metrics.as_dict()
        data["key_projects_top"] = [_line(p) for p in self.key_projects]
        data["stalled_top"] = [
            {**_line(p), "rule": p.extra[0], "days_overdue": int(p.extra[1])} for p in self.stalled
        ]
        data["stalled_total"] = self.stalled_total
        return data


def _line(p: listings.ProjectLine) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "company": p.company,
        "stage": p.stage.value,
        "planned_investment": None if p.amount is None else str(p.amount),
        "signed_on": _day(p.signed_on),
        "started_on": _day(p.started_on),
        "team": p.team_code,
        "owner": p.owner,
        "key_reasons": p.key_reasons,
    }


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def build(
    session: Session, scope: ReportScope, week: Week, *, as_of: date | None = None
) -> Dashboard:
    """Every number and list of the dashboard for `scope` and `week` (see metrics.compute)."""
    numbers = metrics.compute(session, scope, week, as_of=as_of)
    stalled_stmt = listings.stalled_lines_stmt(session, scope, numbers.as_of, limit=TOP)
    return Dashboard(
        metrics=numbers,
        key_projects=listings.first(session, listings.key_projects_stmt(scope), TOP),
        key_total=numbers.key_active.count,
        stalled=listings.first(session, stalled_stmt, TOP),
        stalled_total=sum(c.count for *_names, c in numbers.stalled_by_team),
    )

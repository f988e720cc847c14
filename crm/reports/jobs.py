"""The Monday-morning job: generate last week's reports and keep them.

Register it with the scheduler of the reminders feature (`crm scheduler`), e.g. in
`crm/reminders/scheduler.py`:

    from crm.reports.jobs import generate_last_week_report
    EXTRA_JOBS.append(
        ("weekly-report", generate_last_week_report,
         {"trigger": "cron", "day_of_week": "mon", "hour": 7, "minute": 0})
    )

(Asia/Shanghai; any Monday-morning time works.) The job is idempotent: a report already
archived for the week and scope is kept and not generated again, so a rerun, a catch-up
after downtime (misfire grace) or two schedulers by mistake archive each report once.
"""

from __future__ import annotations

import logging
from contextlib import nullcontext
from datetime import date

from flask import Flask, has_app_context
from sqlalchemy import select

from crm.accounts.models import Team
from crm.extensions import db
from crm.reports import archive
from crm.reports.scope import ReportScope
from crm.reports.weeks import last_complete_week, local_today

log = logging.getLogger(__name__)


def generate_last_week_report(app: Flask, today: date | None = None) -> list[int]:
    """Archive last week's report for all teams and for each active team (Chinese).

    Returns the ids of the archived reports (existing ones included). Each report is
    committed on its own, so one failure does not lose the others.
    """
    # Reuse the caller's application context (tests, `crm shell`); the scheduler has none.
    context = nullcontext() if has_app_context() else app.app_context()
    with context:
        today = today or local_today(app.config["BABEL_DEFAULT_TIMEZONE"])
        week = last_complete_week(today)
        directory = archive.reports_dir(app.config)
        teams = db.session.execute(
            select(Team.id, Team.code, Team.name_zh, Team.name_en)
            .where(Team.active.is_(True))
            .order_by(Team.code)
        ).all()
        scopes = [ReportScope(), *(ReportScope(*team) for team in teams)]
        ids = []
        for scope in scopes:
            existing = archive.find(db.session, week, scope, "zh")
            if existing is not None:
                ids.append(existing.id)
                continue
            try:
                row = archive.archive_weekly(
                    db.session, scope, week, directory, lang="zh", source="job"
                )
                db.session.commit()
            except Exception:
                db.session.rollback()
                log.exception("weekly report %s for %s failed", week.label, scope.key)
                continue
            log.info("archived weekly report %s for %s (#%s)", week.label, scope.key, row.id)
            ids.append(row.id)
        return ids


def weekly_report_job() -> None:
    """The Monday-morning job run by `crm scheduler`: archive last week's reports."""
    from flask import current_app

    from crm.reminders.scheduler import with_app_context

    with with_app_context():
        ids = generate_last_week_report(current_app._get_current_object())
        log.info("weekly reports archived: %s", ids)

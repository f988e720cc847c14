"""`crm report weekly`: write a weekly report from the command line."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from crm.extensions import db
from crm.reports import archive
from crm.reports.scope import ScopeError, team_scope
from crm.reports.weekly import write_weekly
from crm.reports.weeks import Week, WeekError, last_complete_week, local_today

report_cli = AppGroup("report", help="Reports.")


@report_cli.command("weekly")
@click.option("--week", "week_label", help="ISO week such as 2026-W47 (default: last week).")
@click.option("--team", "team_code", help="Only this team's projects (default: all teams).")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), help="File.")
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--archive/--no-archive", "keep", default=False, help="Also keep it archived.")
def weekly(
    week_label: str | None, team_code: str | None, out: Path | None, lang: str, keep: bool
) -> None:
    """Write the weekly Excel report (prints the file's path)."""
    today = local_today(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    try:
        week = Week.parse(week_label) if week_label else last_complete_week(today)
        scope = team_scope(db.session, team_code)
    except (WeekError, ScopeError) as exc:
        raise click.ClickException(str(exc)) from exc
    if week.start > today:
        raise click.ClickException(f"{week.label} has not begun yet.")
    as_of = min(today, week.end)
    if keep:
        row = archive.archive_weekly(
            db.session,
            scope,
            week,
            archive.reports_dir(current_app.config),
            lang=lang,
            source="cli",
            as_of=as_of,
        )
        db.session.commit()
        kept = archive.reports_dir(current_app.config) / row.path
        click.echo(f"Archived as #{row.id}: {kept}")
        if out is None:
            return
        out.write_bytes(kept.read_bytes())
    else:
        out = out or Path(f"weekly-{week.label}-{scope.key}.xlsx")
        write_weekly(db.session, scope, week, out, lang=lang, as_of=as_of)
    click.echo(str(out))


def init_app(app: Flask) -> None:
    app.cli.add_command(report_cli)
    _register_weekly_job()


def _register_weekly_job() -> None:
    """Let `crm scheduler` archive last week's report every Monday at 07:00 (local time)."""
    from crm.reminders.scheduler import EXTRA_JOBS, ScheduledJob, cron

    if all(job.id != "reports-weekly" for job in EXTRA_JOBS):
        EXTRA_JOBS.append(
            ScheduledJob(
                "reports-weekly",
                "crm.reports.jobs:weekly_report_job",
                cron(day_of_week="mon", hour=7),
                misfire_grace_time=6 * 3600,
            )
        )

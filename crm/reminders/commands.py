"""CLI: `crm reminders run|deliver` and `crm scheduler`."""

from __future__ import annotations

import logging
import signal
import sys
import time
from datetime import date, datetime
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from crm.extensions import db

reminders_cli = AppGroup("reminders", help="Stalled-project reminders.")


def _parse_day(_ctx: Any, _param: Any, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter("use YYYY-MM-DD") from exc


@reminders_cli.command("run")
@click.option("--as-of", callback=_parse_day, help="Check as on this day (YYYY-MM-DD).")
@click.option("--dry-run", is_flag=True, help="Print what would be sent; record and send nothing.")
@click.option(
    "--no-send", is_flag=True, help="Record and queue, but leave sending to the scheduler."
)
def run_command(as_of: date | None, dry_run: bool, no_send: bool) -> None:
    """Run the daily check once (for today unless --as-of), then send what it queued."""
    from crm.reminders import settings as reminder_settings
    from crm.reminders.delivery import deliver_due
    from crm.reminders.services import run_check

    settings = reminder_settings.current()
    as_of = as_of or settings.today()
    session = db.session
    session.rollback()
    try:
        result = run_check(session, as_of, settings, trigger="dry-run" if dry_run else "cli")
    except Exception:
        session.rollback()
        raise
    if dry_run:
        _print_dry_run(result)
        session.rollback()
        return
    session.commit()
    click.echo(
        f"Check of {as_of}: {result.created} new reminders, "
        f"{result.notifications} notifications, {len(result.deliveries)} digests queued."
    )
    if not no_send:
        report = deliver_due(session, settings)
        click.echo(f"Deliveries: {report.sent} sent, {report.failed} failed, {report.dead} dead.")


def _print_dry_run(result: Any) -> None:
    from crm.accounts.models import User
    from crm.pipeline.models import Project
    from crm.reminders.models import Notification, Reminder
    from crm.reminders.rules import rule_label
    from crm.visits.models import Task

    click.echo(f"Dry run of the check of {result.as_of}: nothing is recorded or sent.")
    click.echo(f"{result.created} new reminders would be recorded:")
    recipients: dict[int, list[str]] = {}
    notified = db.session.execute(
        select(Notification.reminder_id, User.email, Notification.reason)
        .join(User, User.id == Notification.user_id)
        .join(Reminder, Reminder.id == Notification.reminder_id)
        .where(Reminder.run_id == result.run_id)
    ).all()
    for reminder_id, email, reason in notified:
        recipients.setdefault(reminder_id, []).append(f"{email} ({reason})")
    reminders = db.session.execute(
        select(Reminder, Project.name, Task.title)
        .outerjoin(Project, Project.id == Reminder.project_id)
        .outerjoin(Task, Task.id == Reminder.task_id)
        .where(Reminder.run_id == result.run_id)
        .order_by(Reminder.id)
    ).all()
    for r, project_name, task_title in reminders:
        subject = " / ".join(
            part
            for part in (project_name and f"{project_name} (#{r.project_id})", task_title)
            if part
        )
        to = ", ".join(recipients.get(r.id, [])) or "nobody in-app (no active owner or lead)"
        click.echo(
            f"  - {rule_label(r.rule_code)} [{r.rule_code}] {subject}: level {r.level}, "
            f"{r.elapsed_days} days, threshold {r.threshold_days}, "
            f"{r.days_overdue} overdue -> {to}"
        )
    click.echo(f"{len(result.deliveries)} digests would be sent:")
    for d in result.deliveries:
        target = f"user {d.user_id}" if d.user_id else f"team {d.team_id}"
        click.echo(f"  - {d.channel} to {target}: {d.subject}")
        for line in d.body.splitlines():
            click.echo(f"      {line}")


@reminders_cli.command("deliver")
def deliver_command() -> None:
    """Send due deliveries now (and retry failed ones whose backoff has passed)."""
    from crm.reminders import settings as reminder_settings
    from crm.reminders.delivery import deliver_due

    report = deliver_due(db.session, reminder_settings.current())
    click.echo(f"Deliveries: {report.sent} sent, {report.failed} failed, {report.dead} dead.")


@click.command("scheduler")
@click.option("--poll", default=10.0, show_default=True, help="Seconds between lock attempts.")
def scheduler_command(poll: float) -> None:
    """Run scheduled jobs (daily check, delivery retries, registered extra jobs) in this
    process until stopped. Only one scheduler runs jobs at a time; another one waits."""
    from crm.reminders import scheduler as sched
    from crm.reminders import settings as reminder_settings

    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    sched.set_app(app)
    settings = reminder_settings.current()
    engine = db.engine
    lock = sched.make_lock(engine, settings)
    stop = {"requested": False}
    scheduler_ref: dict[str, Any] = {}

    def _stop(_signum: int, _frame: Any) -> None:
        stop["requested"] = True
        running = scheduler_ref.get("scheduler")
        if running is not None and running.running:
            running.shutdown(wait=False)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    waiting = False
    while not lock.acquire():
        if not waiting:
            click.echo(
                f"Another scheduler is running ({lock.holder()}); waiting for it to stop.",
                err=True,
            )
            waiting = True
        for _ in range(max(1, int(poll * 10))):
            if stop["requested"]:
                return
            time.sleep(0.1)
    click.echo(
        f"Scheduler lock acquired at {datetime.now(settings.tz):%Y-%m-%d %H:%M:%S %Z}; daily "
        f"check at {settings.run_at:%H:%M} {settings.tz_name}, deliveries every "
        f"{settings.retry_seconds} s.",
        err=True,
    )
    try:
        scheduler = sched.build_scheduler(engine, settings)
        scheduler_ref["scheduler"] = scheduler
        heartbeat = sched.Heartbeat(
            lock, max(1.0, settings.lock_ttl_seconds / 3), lambda: _stop(0, None)
        )
        heartbeat.start()
        if not stop["requested"]:
            scheduler.start()
        heartbeat.stopped.set()
    finally:
        lock.release()
        click.echo("Scheduler stopped; lock released.", err=True)


def init_app(app: Flask) -> None:
    app.cli.add_command(reminders_cli)
    app.cli.add_command(scheduler_command)

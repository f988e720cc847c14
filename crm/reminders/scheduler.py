"""`crm scheduler`: APScheduler 3 in its own process (never inside gunicorn workers).

Jobs persist in the application's database (SQLAlchemyJobStore, table `apscheduler_jobs`,
created by the migrations). The daily check runs at CRM_REMINDER_TIME (default 08:30) in
CRM_TIMEZONE (default Asia/Shanghai) with `coalesce` and a `misfire_grace_time` reaching to
midnight: a scheduler that was down at 08:30 runs the check once when it comes back that
day. Deliveries due or failed are sent every CRM_DELIVERY_RETRY_SECONDS.

Only one scheduler process runs jobs at a time: it holds a PostgreSQL advisory lock (held
by its connection) or, on SQLite, a lock row it renews (heartbeat) before it expires. A
second process says so and waits until the lock is free.

Other features add jobs by appending a `ScheduledJob` to `EXTRA_JOBS` from a module the
app imports (their `commands.py`, for instance), e.g. the weekly report::

    from crm.reminders.scheduler import EXTRA_JOBS, ScheduledJob, cron
    EXTRA_JOBS.append(ScheduledJob("reports-weekly", "crm.reports.jobs:weekly_report_job",
                                   cron(day_of_week="mon", hour=7), misfire_grace_time=6 * 3600))

The function is referenced by its import path (jobs are stored in the database) and runs
without arguments; `with_app_context()` gives it the application.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask
from sqlalchemy import delete, select, text, update
from sqlalchemy.engine import Connection, Engine

from crm.reminders.settings import ReminderSettings

log = logging.getLogger("crm.scheduler")

LOCK_NAME = "scheduler"
PG_LOCK_KEY = 0x43524D5343_4844  # "CRMSCHD"
DAILY_JOB_ID = "reminders-daily-check"
DELIVERY_JOB_ID = "reminders-deliveries"
CATCH_UP_JOB_ID = "reminders-catch-up"


@dataclass(frozen=True)
class ScheduledJob:
    id: str
    func: str  # "package.module:function", called without arguments
    trigger: Callable[[ReminderSettings], BaseTrigger]
    misfire_grace_time: int | Callable[[ReminderSettings], int] | None = 3600
    coalesce: bool = True

    def grace(self, settings: ReminderSettings) -> int | None:
        value = self.misfire_grace_time
        return value(settings) if callable(value) else value


EXTRA_JOBS: list[ScheduledJob] = []


def cron(**fields: Any) -> Callable[[ReminderSettings], BaseTrigger]:
    """A trigger factory for a cron schedule in the app's time zone."""
    return lambda settings: CronTrigger(timezone=settings.tz, **fields)


def _daily_trigger(settings: ReminderSettings) -> BaseTrigger:
    return CronTrigger(
        hour=settings.run_at.hour, minute=settings.run_at.minute, timezone=settings.tz
    )


def _until_midnight(settings: ReminderSettings) -> int:
    """Grace for a missed daily run: the rest of that day."""
    return max(60, 86400 - (settings.run_at.hour * 3600 + settings.run_at.minute * 60))


def _delivery_trigger(settings: ReminderSettings) -> BaseTrigger:
    return IntervalTrigger(seconds=settings.retry_seconds, timezone=settings.tz)


def core_jobs() -> list[ScheduledJob]:
    return [
        ScheduledJob(
            DAILY_JOB_ID,
            "crm.reminders.scheduler:daily_check_job",
            _daily_trigger,
            _until_midnight,
        ),
        ScheduledJob(
            DELIVERY_JOB_ID,
            "crm.reminders.scheduler:deliver_job",
            _delivery_trigger,
            lambda s: max(30, s.retry_seconds),
        ),
    ]


# --- the jobs -----------------------------------------------------------------------------

_APP: Flask | None = None


def set_app(app: Flask | None) -> None:
    global _APP
    _APP = app


def with_app_context() -> Any:
    """The application context jobs run in (the app `crm scheduler` was started with)."""
    if _APP is None:
        from crm import create_app

        set_app(create_app())
    assert _APP is not None
    return _APP.app_context()


def daily_check_job() -> None:
    """Run the daily check for today (local date) and send what it queued."""
    from crm.extensions import db
    from crm.reminders import settings as reminder_settings
    from crm.reminders.delivery import deliver_due
    from crm.reminders.services import run_check

    with with_app_context():
        settings = reminder_settings.current()
        session = db.session
        session.rollback()  # start the check's own transaction
        try:
            result = run_check(session, settings.today(), settings, trigger="scheduler")
            session.commit()
        except Exception:
            session.rollback()
            log.exception("daily check failed")
            raise
        log.info(
            "daily check %s: %d new reminders, %d notifications, %d deliveries",
            result.as_of,
            result.created,
            result.notifications,
            len(result.deliveries),
        )
        report = deliver_due(session, settings)
        log.info("deliveries: %d sent, %d failed, %d dead", report.sent, report.failed, report.dead)


def deliver_job() -> None:
    """Send due deliveries and retry failed ones whose backoff has passed."""
    from crm.extensions import db
    from crm.reminders import settings as reminder_settings
    from crm.reminders.delivery import deliver_due

    with with_app_context():
        report = deliver_due(db.session, reminder_settings.current())
        if report.sent or report.failed or report.dead:
            log.info(
                "deliveries: %d sent, %d failed, %d dead", report.sent, report.failed, report.dead
            )


# --- one scheduler at a time -----------------------------------------------------------------


def process_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class SchedulerLock:
    """The right to run jobs; `acquire` does not block."""

    def acquire(self) -> bool:
        raise NotImplementedError

    def renew(self) -> bool:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    def holder(self) -> str:
        return "another process"


class AdvisoryLock(SchedulerLock):
    """PostgreSQL: a session-level advisory lock held by a dedicated connection."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.connection: Connection | None = None

    def acquire(self) -> bool:
        connection = self.engine.connect()
        got = connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": PG_LOCK_KEY})
        if got.scalar():
            connection.commit()
            self.connection = connection
            return True
        connection.rollback()
        connection.close()
        return False

    def renew(self) -> bool:
        if self.connection is None:
            return False
        try:
            self.connection.execute(text("SELECT 1"))
            self.connection.commit()
        except Exception:
            log.exception("the scheduler lock's connection failed")
            return False
        return True

    def release(self) -> None:
        if self.connection is None:
            return
        try:
            self.connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": PG_LOCK_KEY})
            self.connection.commit()
        finally:
            self.connection.close()
            self.connection = None

    def holder(self) -> str:
        return "another scheduler (PostgreSQL advisory lock)"


class RowLock(SchedulerLock):
    """SQLite: a row naming the holder, renewed by a heartbeat, taken over once expired."""

    def __init__(self, engine: Engine, ttl_seconds: int, owner: str | None = None) -> None:
        self.engine = engine
        self.ttl = timedelta(seconds=ttl_seconds)
        self.owner = owner or process_identity()
        self._holder = "another process"

    def acquire(self) -> bool:
        from sqlalchemy.dialects.sqlite import insert

        from crm.db import utcnow
        from crm.reminders.models import SchedulerLock as LockRow

        now = utcnow()
        table = LockRow.__table__
        values = {
            "name": LOCK_NAME,
            "owner": self.owner,
            "acquired_at": now,
            "heartbeat_at": now,
            "expires_at": now + self.ttl,
        }
        stmt = (
            insert(table)
            .values(**values)
            .on_conflict_do_update(
                index_elements=["name"],
                set_={k: v for k, v in values.items() if k != "name"},
                where=(table.c.expires_at < now) | (table.c.owner == self.owner),
            )
        )
        with self.engine.begin() as connection:
            connection.execute(stmt)
            row = connection.execute(
                select(table.c.owner, table.c.expires_at).where(table.c.name == LOCK_NAME)
            ).one()
        self._holder = f"{row.owner} (until {row.expires_at:%Y-%m-%d %H:%M:%S} UTC)"
        return bool(row.owner == self.owner)

    def renew(self) -> bool:
        from crm.db import utcnow
        from crm.reminders.models import SchedulerLock as LockRow

        now = utcnow()
        with self.engine.begin() as connection:
            result = connection.execute(
                update(LockRow.__table__)
                .where(LockRow.name == LOCK_NAME, LockRow.owner == self.owner)
                .values(heartbeat_at=now, expires_at=now + self.ttl)
            )
        return result.rowcount == 1

    def release(self) -> None:
        from crm.reminders.models import SchedulerLock as LockRow

        with self.engine.begin() as connection:
            connection.execute(
                delete(LockRow.__table__).where(
                    LockRow.name == LOCK_NAME, LockRow.owner == self.owner
                )
            )

    def holder(self) -> str:
        return self._holder


def make_lock(engine: Engine, settings: ReminderSettings) -> SchedulerLock:
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine)
    return RowLock(engine, settings.lock_ttl_seconds)


class Heartbeat(threading.Thread):
    """Renews the lock; if it is lost, stops the scheduler so no two processes run jobs."""

    def __init__(self, lock: SchedulerLock, interval: float, on_lost: Callable[[], None]) -> None:
        super().__init__(name="scheduler-heartbeat", daemon=True)
        self.lock, self.interval, self.on_lost = lock, interval, on_lost
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                held = self.lock.renew()
            except Exception:
                log.exception("renewing the scheduler lock failed")
                held = False
            if not held:
                log.error("the scheduler lock was lost: stopping")
                self.on_lost()
                return


# --- building the scheduler -----------------------------------------------------------------


def build_scheduler(engine: Engine, settings: ReminderSettings) -> BlockingScheduler:
    """A scheduler on the database job store with the core and extra jobs in place.

    A job whose trigger is unchanged keeps its stored next run time, so a run missed while
    no scheduler was up is still made (within its grace time) when one starts again.
    """
    store = SQLAlchemyJobStore(engine=engine)
    scheduler = BlockingScheduler(
        jobstores={"default": store},
        executors={"default": ThreadPoolExecutor(2)},
        job_defaults={"coalesce": True, "max_instances": 1},
        timezone=settings.tz,
    )
    store.start(scheduler, "default")  # to read what is stored before the scheduler starts
    wanted = core_jobs() + list(EXTRA_JOBS)
    kept: set[str] = set()
    for job in wanted:
        trigger = job.trigger(settings)
        existing = store.lookup_job(job.id)
        if (
            existing is not None
            and repr(existing.trigger) == repr(trigger)
            and existing.func_ref == job.func
            and existing.misfire_grace_time == job.grace(settings)
        ):
            kept.add(job.id)
            continue
        scheduler.add_job(
            job.func,
            trigger,
            id=job.id,
            name=job.id,
            replace_existing=True,
            misfire_grace_time=job.grace(settings),
            coalesce=job.coalesce,
            max_instances=1,
        )
    known = {job.id for job in wanted} | {CATCH_UP_JOB_ID}
    for stored in store.get_all_jobs():
        if stored.id not in known:
            store.remove_job(stored.id)
    if DAILY_JOB_ID in kept:
        # Its stored next run time makes a missed run (misfire grace, coalesce): a catch-up
        # left over from an earlier start would only run the check a second time.
        if store.lookup_job(CATCH_UP_JOB_ID) is not None:
            store.remove_job(CATCH_UP_JOB_ID)
    elif _daily_run_missed_today(engine, settings):
        # A new (or rescheduled) daily job has no stored run to catch up: run today's now.
        scheduler.add_job(
            "crm.reminders.scheduler:daily_check_job",
            "date",
            id=CATCH_UP_JOB_ID,
            replace_existing=True,
            misfire_grace_time=_until_midnight(settings),
        )
    return scheduler


def _daily_run_missed_today(engine: Engine, settings: ReminderSettings) -> bool:
    from crm.reminders.models import ReminderRun

    now = datetime.now(settings.tz)
    if now.time() < settings.run_at:
        return False
    with engine.connect() as connection:
        ran = connection.execute(
            select(ReminderRun.id).where(ReminderRun.as_of == now.date()).limit(1)
        ).first()
    return ran is None

"""`crm scheduler`: a process that runs the jobs; one at a time (a database lock); a daily
run missed while it was down is made once when it comes back the same day."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from datetime import time as clock
from typing import Any

import pytest
from sqlalchemy import create_engine, select

from crm.extensions import db
from crm.reminders import scheduler as sched
from crm.reminders.models import ReminderRun
from crm.reminders.settings import ReminderSettings
from tests.conftest import ROOT
from tests.reminders.committed import Delivery, Reminder, committed_database
from tests.reminders.servers import robot_server

pytestmark = pytest.mark.slow


@pytest.fixture
def robot():
    with robot_server() as server:
        yield server


@pytest.fixture
def committed(tmp_path, tmp_path_factory, robot):
    yield from committed_database(tmp_path, tmp_path_factory, webhook_url=robot.url)


class Process:
    """A `flask --app crm scheduler` process whose stderr is collected as it comes."""

    def __init__(self, env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "crm", "scheduler", "--poll", "0.2"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)

    def said(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=30)
        finally:
            self.reader.join(timeout=5)
            if self.proc.stderr is not None:
                self.proc.stderr.close()


def wait_for(condition: Callable[[], bool], timeout: float = 45, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_scheduler_process_runs_the_check_and_delivers_and_only_one_runs_jobs(committed, robot):
    env = committed.env(
        CRM_REMINDER_TIME="00:00",  # already past today: the first start runs the check
        CRM_DELIVERY_RETRY_SECONDS="1",
        CRM_SCHEDULER_LOCK_TTL="3",
    )
    first = Process(env)
    second: Process | None = None
    try:
        wait_for(lambda: first.said("Scheduler lock acquired"), what="the lock")
        wait_for(lambda: committed.count(ReminderRun) >= 1, what="the daily check")
        wait_for(lambda: len(robot.requests) == 1, what="the robot post")
        assert committed.count(Reminder) == 2
        wait_for(lambda: committed.count(Delivery, state="sent") == 1, what="the sent state")
        assert robot.requests[0]["json"]["msgtype"] == "markdown"
        assert "项目" in robot.requests[0]["json"]["markdown"]["content"]

        second = Process(env)
        wait_for(lambda: second.said("Another scheduler is running"), what="the second one")
        time.sleep(2)
        assert not second.said("Scheduler lock acquired")
        assert committed.count(ReminderRun) == 1  # the second runs nothing

        assert first.stop() == 0
        assert first.said("lock released")
        wait_for(lambda: second.said("Scheduler lock acquired"), what="the take-over")
        time.sleep(1.5)
        assert committed.count(ReminderRun) == 1  # today's check already ran: not again
        assert len(robot.requests) == 1  # and nothing was sent twice
    finally:
        first.stop()
        if second is not None:
            assert second.stop() == 0
    assert first.proc.returncode == 0, "".join(first.lines)


def _store_job(engine: Any, settings: ReminderSettings) -> None:
    """Start a scheduler paused (its jobs go to the store, none runs) and stop it."""
    from apscheduler.schedulers.base import STATE_PAUSED

    scheduler = sched.build_scheduler(engine, settings)
    thread = threading.Thread(target=lambda: scheduler.start(paused=True), daemon=True)
    thread.start()
    wait_for(lambda: scheduler.state == STATE_PAUSED, what="the paused scheduler")
    if scheduler.get_job(sched.CATCH_UP_JOB_ID):
        scheduler.remove_job(sched.CATCH_UP_JOB_ID)
    scheduler.shutdown(wait=False)
    thread.join(timeout=10)


def test_a_daily_run_missed_while_down_is_made_once_when_the_scheduler_returns(committed):
    local_now = datetime.now(ReminderSettings().tz)
    if local_now.time() < clock(0, 5):
        pytest.skip("too close to midnight in Asia/Shanghai for a run earlier today")
    run_at = (local_now - timedelta(minutes=3)).time().replace(second=0, microsecond=0)
    settings = ReminderSettings(run_at=run_at, retry_seconds=3600)
    sched.set_app(committed.app)
    engine = create_engine(committed.url)
    try:
        with committed.app.app_context():
            db.session.add(ReminderRun(as_of=local_now.date() - timedelta(days=5)))
            db.session.commit()
        _store_job(engine, settings)
        store = sched.SQLAlchemyJobStore(engine=engine)
        store.start(sched.BlockingScheduler(), "default")
        job = store.lookup_job(sched.DAILY_JOB_ID)
        assert job.coalesce and job.misfire_grace_time == sched._until_midnight(settings)
        # The scheduler was down for three days, including today's run time.
        missed = datetime.combine(local_now.date() - timedelta(days=3), run_at, settings.tz)
        job._modify(next_run_time=missed)
        store.update_job(job)

        scheduler = sched.build_scheduler(engine, settings)
        thread = threading.Thread(target=scheduler.start, daemon=True)
        thread.start()
        try:
            wait_for(
                lambda: committed.count(ReminderRun, trigger="scheduler") >= 1, what="the catch-up"
            )
            time.sleep(1)
        finally:
            scheduler.shutdown(wait=True)
            thread.join(timeout=10)
        assert committed.count(ReminderRun, trigger="scheduler") == 1  # once, not 4 times
        with committed.app.app_context():
            run = db.session.scalar(select(ReminderRun).where(ReminderRun.trigger == "scheduler"))
            assert run.as_of == local_now.date()
            db.session.remove()
        job = store.lookup_job(sched.DAILY_JOB_ID)
        assert job.next_run_time.date() == local_now.date() + timedelta(days=1)
    finally:
        sched.set_app(None)
        engine.dispose()


def test_extra_jobs_are_registered_with_the_core_ones(committed):
    engine = create_engine(committed.url)
    job = sched.ScheduledJob(
        "reports-weekly", "crm.reminders.scheduler:deliver_job", sched.cron(day_of_week="mon")
    )
    sched.EXTRA_JOBS.append(job)
    try:
        _store_job(engine, ReminderSettings())
        store = sched.SQLAlchemyJobStore(engine=engine)
        store.start(sched.BlockingScheduler(), "default")
        ids = {j.id for j in store.get_all_jobs()}
        assert {sched.DAILY_JOB_ID, sched.DELIVERY_JOB_ID, "reports-weekly"} <= ids
    finally:
        sched.EXTRA_JOBS.remove(job)
        engine.dispose()


def test_the_sqlite_lock_row_has_one_holder_and_expires(tmp_path):
    if os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"):
        pytest.skip("the lock row is SQLite's; PostgreSQL uses an advisory lock")
    from flask_migrate import upgrade

    from tests.conftest import make_app

    url = f"sqlite:///{tmp_path}/lock.sqlite3"
    saved = os.environ.get("CRM_INSTANCE_PATH")
    app = make_app(url, tmp_path / "instance")
    with app.app_context():
        upgrade()
        engine = db.engine
        first = sched.RowLock(engine, ttl_seconds=1, owner="host:1")
        second = sched.RowLock(engine, ttl_seconds=1, owner="host:2")
        assert first.acquire()
        assert not second.acquire()
        assert "host:1" in second.holder()
        assert first.renew()
        time.sleep(1.2)  # no heartbeat: the lock expires
        assert second.acquire()
        assert not first.renew()  # the old holder learns it lost the lock
        second.release()
        assert first.acquire()
        first.release()
        db.engine.dispose()
    if saved is not None:
        os.environ["CRM_INSTANCE_PATH"] = saved


def test_the_postgresql_advisory_lock_has_one_holder():
    base = os.environ.get("TEST_DATABASE_URL", "")
    if not base.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    engine = create_engine(base)
    try:
        first, second = sched.AdvisoryLock(engine), sched.AdvisoryLock(engine)
        assert first.acquire()
        assert not second.acquire()
        assert first.renew()
        first.release()
        assert second.acquire()
        second.release()
    finally:
        engine.dispose()

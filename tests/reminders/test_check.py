"""Exactly once: the check run twice, concurrently (threads and processes on their own
connections), or rerun after a crash records and notifies each reminder once; and the
`crm reminders run` command, with --as-of and --dry-run."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import date, timedelta

import pytest

from crm.extensions import db
from crm.reminders import digest, services
from crm.reminders.models import ReminderRun
from crm.reminders.settings import ReminderSettings
from tests.conftest import ROOT
from tests.reminders.committed import (
    SIGNED,
    Delivery,
    Notification,
    Reminder,
    committed_database,
)
from tests.reminders.helpers import check, count_reminders, only_rules

DAY_90 = SIGNED + timedelta(days=90)
EMAIL = ReminderSettings(smtp_host="127.0.0.1")  # queue email digests (nothing is sent here)


@pytest.fixture
def committed(tmp_path, tmp_path_factory):
    yield from committed_database(tmp_path, tmp_path_factory)


def _expected_once(committed) -> None:
    assert committed.count(Reminder) == 2  # one per stalled project
    assert committed.count(Notification) == 2  # the owner, once per reminder
    # One digest each for the owner and for the lead (their team's new reminders).
    assert committed.count(Delivery, channel="email", user_id=committed.ids["officer"]) == 1
    assert committed.count(Delivery, channel="email", user_id=committed.ids["lead"]) == 1
    assert committed.count(Delivery) == 2
    assert committed.count(Notification, user_id=committed.ids["lead"]) == 0


def test_running_twice_the_same_day_records_once(people):
    from tests import factories

    only_rules("landed_not_started")
    factories.project(people.team, owner=people.officer, stage="landed", signed_on=SIGNED)
    first = check(DAY_90, EMAIL)
    second = check(DAY_90, EMAIL)
    assert (first.created, first.notifications, len(first.deliveries)) == (1, 1, 2)
    assert (second.created, second.notifications, second.deliveries) == (0, 0, [])
    assert count_reminders() == 1


def test_two_concurrent_checks_in_threads_record_each_reminder_once(committed, monkeypatch):
    app = committed.app
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    real_notify = services.notify

    def slow_notify(session, run_id):  # widen the window in which the runs overlap
        time.sleep(0.3)
        return real_notify(session, run_id)

    monkeypatch.setattr(services, "notify", slow_notify)

    def worker() -> None:
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                services.run_check(db.session, DAY_90, EMAIL)
                db.session.commit()
                db.session.remove()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert committed.count(ReminderRun) == 2  # both ran ...
    _expected_once(committed)  # ... and everything was recorded once


def test_two_concurrent_processes_record_each_reminder_once(committed):
    command = [
        sys.executable,
        "-m",
        "flask",
        "--app",
        "crm",
        "reminders",
        "run",
        "--as-of",
        DAY_90.isoformat(),
        "--no-send",
    ]
    env = committed.env(CRM_SMTP_HOST="127.0.0.1")
    processes = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in processes]
    for process, (_out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, err.decode()
    created = sorted(int(out.decode().split("new reminders")[0].split()[-1]) for out, _ in outputs)
    assert created == [0, 2]
    _expected_once(committed)


def test_a_crash_halfway_rolls_back_and_the_rerun_records_once(committed, monkeypatch):
    def crash(*args, **kwargs):
        raise RuntimeError("power cut while queueing digests")

    with committed.app.app_context():
        monkeypatch.setattr(digest, "queue_digests", crash)
        with pytest.raises(RuntimeError):
            services.run_check(db.session, DAY_90, EMAIL)
        db.session.rollback()
        monkeypatch.undo()
        assert committed.count(Reminder) == 0  # nothing half-done survived
        services.run_check(db.session, DAY_90, EMAIL)
        db.session.commit()
        services.run_check(db.session, DAY_90, EMAIL)
        db.session.commit()
        db.session.remove()
    _expected_once(committed)


def test_cli_dry_run_prints_what_would_be_sent_and_records_nothing(committed):
    runner = committed.app.test_cli_runner()
    committed.app.config.update(SMTP_HOST="127.0.0.1")
    result = runner.invoke(args=["reminders", "run", "--as-of", DAY_90.isoformat(), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "Dry run" in result.output
    assert "2 new reminders would be recorded" in result.output
    assert (
        "landed_not_started" in result.output and "officer@committed.test (owner)" in result.output
    )
    assert "email to user" in result.output
    assert committed.count(Reminder) == 0 and committed.count(Delivery) == 0
    assert committed.count(ReminderRun) == 0


def test_cli_run_as_of_records_and_reports(committed):
    runner = committed.app.test_cli_runner()
    early = runner.invoke(args=["reminders", "run", "--as-of", "2026-04-04", "--no-send"])
    assert early.exit_code == 0 and "0 new reminders" in early.output
    result = runner.invoke(args=["reminders", "run", "--as-of", DAY_90.isoformat(), "--no-send"])
    assert result.exit_code == 0, result.output
    assert "2 new reminders" in result.output
    bad = runner.invoke(args=["reminders", "run", "--as-of", "04/05/2026"])
    assert bad.exit_code != 0 and "YYYY-MM-DD" in bad.output


def test_the_default_day_is_today_in_the_configured_time_zone():
    from datetime import UTC, datetime

    settings = ReminderSettings(tz_name="Asia/Shanghai")
    late_utc = datetime(2026, 3, 1, 17, 0, tzinfo=UTC)  # 01:00 on 2 March in Shanghai
    assert settings.today(late_utc) == date(2026, 3, 2)

"""`crm scheduler` runs the weekly report job every Monday morning."""

from __future__ import annotations

from crm.reminders import scheduler
from crm.reminders.settings import ReminderSettings


def test_the_weekly_report_is_a_scheduled_monday_job(app):
    jobs = {job.id: job for job in scheduler.EXTRA_JOBS}
    assert jobs["reports-weekly"].func == "crm.reports.jobs:weekly_report_job"
    trigger = jobs["reports-weekly"].trigger(ReminderSettings())
    assert "mon" in str(trigger) and "hour='7'" in str(trigger)


def test_the_job_function_archives_last_weeks_reports(app, monkeypatch):
    from crm.reports import jobs

    calls = []
    monkeypatch.setattr(jobs, "generate_last_week_report", lambda a: calls.append(a) or [])
    monkeypatch.setattr(scheduler, "_APP", app)
    jobs.weekly_report_job()
    assert calls == [app]

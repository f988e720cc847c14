"""The daily check on a controlled clock: thresholds, key projects, exclusions, snoozes,
escalation, and each rule's idea of when the clock started."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from crm.audit import AuditLog
from crm.enums import Stage
from crm.extensions import db
from crm.pipeline.models import Project
from crm.reminders.calendar import WorkCalendar
from crm.reminders.detection import (
    Stall,
    build_context,
    detect,
    stalled_for_projects,
    stalled_project_ids_subquery,
)
from crm.reminders.models import Reminder, WorkCalendarDay
from crm.reminders.services import snooze
from crm.reminders.settings import ReminderSettings
from tests import factories
from tests.reminders.helpers import (
    at,
    check,
    count_reminders,
    notified,
    only_rules,
    set_rule,
    stage_change,
    task,
    visit,
)

SIGNED = date(2026, 1, 5)


def landed_project(people, **kw):
    return factories.project(
        people.team,
        owner=people.officer,
        stage=Stage.LANDED,
        signed_on=SIGNED,
        landed_on=SIGNED + timedelta(days=10),
        **kw,
    )


def test_signed_not_started_fires_on_day_90_from_signing_and_only_once(people):
    only_rules("landed_not_started")
    project = landed_project(people)

    assert check(SIGNED + timedelta(days=89)).created == 0
    result = check(SIGNED + timedelta(days=90))
    assert result.created == 1
    reminder = db.session.scalar(select(Reminder))
    assert (reminder.rule_code, reminder.level, reminder.days_overdue) == (
        "landed_not_started",
        1,
        0,
    )
    assert (reminder.elapsed_days, reminder.threshold_days) == (90, 90)
    assert reminder.anchor_on == SIGNED and reminder.project_id == project.id
    assert notified(people.officer) == [("landed_not_started", 1, "owner")]
    assert notified(people.lead) == []  # the owner is told first

    assert check(SIGNED + timedelta(days=91)).created == 0  # same period, same level
    assert count_reminders() == 1
    stalls = stalled_for_projects(db.session, [project.id], SIGNED + timedelta(days=91))
    assert stalls == {project.id: [Stall("landed_not_started", 1)]}


def test_key_projects_use_the_tighter_threshold(people):
    only_rules("landed_not_started")
    key = landed_project(people, is_key=True)
    normal = landed_project(people)
    day_60 = SIGNED + timedelta(days=60)
    check(SIGNED + timedelta(days=59))
    assert count_reminders() == 0
    check(day_60)
    assert count_reminders(project_id=key.id) == 1
    assert count_reminders(project_id=normal.id) == 0
    reminder = db.session.scalar(select(Reminder).where(Reminder.project_id == key.id))
    assert reminder.threshold_days == 60 and reminder.is_key


@pytest.mark.parametrize("stage", [Stage.ON_HOLD, Stage.DROPPED])
def test_projects_on_hold_or_dropped_are_never_reminded(people, stage):
    project = landed_project(people)
    project.stage = stage
    old_task = task(people.officer.id, people.team.id, SIGNED, project)
    db.session.flush()
    late = SIGNED + timedelta(days=400)
    assert check(late).created == 0
    assert stalled_for_projects(db.session, [project.id], late) == {}
    assert old_task.id  # its overdue follow-up is not reminded either


def test_deleted_projects_are_never_reminded(people):
    project = landed_project(people)
    project.deleted_at = at(SIGNED)
    db.session.flush()
    assert check(SIGNED + timedelta(days=400)).created == 0


def test_escalation_to_the_lead_at_twice_and_to_leaders_at_three_times(people):
    only_rules("landed_not_started")
    settings = ReminderSettings(smtp_host="127.0.0.1")  # queue email digests
    project = landed_project(people)
    check(SIGNED + timedelta(days=90), settings)
    check(SIGNED + timedelta(days=179), settings)
    assert count_reminders() == 1

    check(SIGNED + timedelta(days=180), settings)
    assert count_reminders(level=2) == 1
    assert ("landed_not_started", 2, "lead") in notified(people.lead)
    assert ("landed_not_started", 2, "owner") in notified(people.officer)
    assert notified(people.leader) == []

    result = check(SIGNED + timedelta(days=270), settings)
    assert count_reminders(level=3) == 1
    assert ("landed_not_started", 3, "lead") in notified(people.lead)
    leader_digests = [d for d in result.deliveries if d.user_id == people.leader.id]
    assert len(leader_digests) == 1
    assert project.name in leader_digests[0].body
    assert check(SIGNED + timedelta(days=400), settings).created == 0  # 3 is the last level


def test_a_project_first_seen_far_past_its_threshold_gets_one_reminder(people):
    only_rules("landed_not_started")
    landed_project(people)
    assert check(SIGNED + timedelta(days=500)).created == 1
    assert count_reminders(level=3) == 1


def test_nobody_owns_it_so_the_lead_is_told_at_once(people):
    only_rules("landed_not_started")
    factories.project(people.team, stage=Stage.LANDED, signed_on=SIGNED)
    check(SIGNED + timedelta(days=90))
    assert notified(people.lead) == [("landed_not_started", 1, "lead")]


def test_a_snooze_holds_reminders_until_its_end_and_is_audited(people):
    only_rules("landed_not_started")
    project = landed_project(people)
    until = SIGNED + timedelta(days=120)
    snooze(
        db.session,
        project,
        rule_code="landed_not_started",
        until=until,
        reason="用地指标待批",
        actor_id=people.officer.id,
        today=SIGNED + timedelta(days=80),
    )
    for day in (90, 100, 120):
        assert check(SIGNED + timedelta(days=day)).created == 0
        assert stalled_for_projects(db.session, [project.id], SIGNED + timedelta(days=day)) == {}
    assert check(until + timedelta(days=1)).created == 1
    reminder = db.session.scalar(select(Reminder))
    assert reminder.period_start == until  # the period starts again after the snooze
    entry = db.session.scalar(
        select(AuditLog).where(AuditLog.entity_id == project.id, AuditLog.entity_type == "project")
    )
    assert entry.action == "reminder_snoozed"
    assert entry.changes["reason"] == "用地指标待批"


def test_a_snooze_after_a_reminder_reminds_again_when_it_ends(people):
    only_rules("landed_not_started")
    project = landed_project(people)
    check(SIGNED + timedelta(days=90))
    snooze(
        db.session,
        project,
        rule_code="landed_not_started",
        until=SIGNED + timedelta(days=100),
        reason="等待开工许可",
        actor_id=people.lead.id,
        today=SIGNED + timedelta(days=91),
    )
    assert check(SIGNED + timedelta(days=95)).created == 0
    assert check(SIGNED + timedelta(days=101)).created == 1
    assert count_reminders() == 2


def test_snooze_validation(people):
    from crm.reminders.services import SnoozeError

    project = landed_project(people)
    today = date(2026, 5, 1)
    for kwargs, field in (
        ({"rule_code": "nope", "until": today, "reason": "x"}, "rule_code"),
        ({"rule_code": "no_activity", "until": today - timedelta(days=1), "reason": "x"}, "until"),
        (
            {"rule_code": "no_activity", "until": today + timedelta(days=400), "reason": "x"},
            "until",
        ),
        ({"rule_code": "no_activity", "until": today, "reason": "  "}, "reason"),
    ):
        with pytest.raises(SnoozeError) as error:
            snooze(db.session, project, actor_id=None, today=today, **kwargs)
        assert error.value.field == field


def test_no_activity_counts_visits_stage_changes_and_completed_follow_ups(people):
    only_rules("no_activity")
    lead_on = date(2026, 1, 1)
    project = factories.project(people.team, owner=people.officer, lead_on=lead_on)
    visit(project, date(2026, 2, 1), people.officer.id)
    visit(project, date(2026, 1, 20), people.officer.id)  # logged later, happened earlier
    assert check(date(2026, 3, 2)).created == 0  # 29 days since the visit
    assert check(date(2026, 3, 3)).created == 1  # 30 days
    reminder = db.session.scalar(select(Reminder))
    assert reminder.anchor_on == date(2026, 2, 1)

    # A completed follow-up is activity: the clock starts again, a new period.
    task(people.officer.id, people.team.id, date(2026, 3, 5), project, done_at=at(date(2026, 3, 5)))
    assert check(date(2026, 4, 3)).created == 0
    assert check(date(2026, 4, 4)).created == 1
    # So is a stage change.
    project.stage = Stage.NEGOTIATING
    stage_change(project, date(2026, 4, 10), Stage.NEGOTIATING)
    assert check(date(2026, 5, 9)).created == 0
    assert check(date(2026, 5, 10)).created == 1
    assert count_reminders() == 3


def test_no_activity_counts_visits_logged_through_the_visits_feature(people):
    """Visits logged by the app move the project's last activity, which the rule reads
    instead of the project's visits."""
    from crm.visits.leads import touch_projects, visit_moment

    only_rules("no_activity")
    project = factories.project(people.team, owner=people.officer, lead_on=date(2026, 1, 1))
    logged = datetime(2026, 2, 3, 1, tzinfo=UTC)  # logged on 3 February, back-dated to the 1st
    visit(project, date(2026, 2, 1), people.officer.id)
    touch_projects(db.session, [project.id], visit_moment(date(2026, 2, 1), logged))
    assert check(date(2026, 3, 2)).created == 0  # 29 days since the visit
    assert check(date(2026, 3, 3)).created == 1
    assert db.session.scalar(select(Reminder.anchor_on)) == date(2026, 2, 1)


def test_no_activity_is_tighter_for_key_projects_and_ignores_deleted_visits(people):
    only_rules("no_activity")
    project = factories.project(people.team, lead_on=date(2026, 1, 1), is_key=True)
    gone = visit(project, date(2026, 1, 10), people.officer.id)
    gone.deleted_at = at(date(2026, 1, 11))
    db.session.flush()
    assert check(date(2026, 1, 14)).created == 0  # 13 days since lead_on
    assert check(date(2026, 1, 15)).created == 1  # 14 days: the deleted visit does not count


def test_overdue_follow_up(people):
    only_rules("task_overdue")
    project = landed_project(people)
    due = date(2026, 3, 2)
    open_task = task(people.officer.id, people.team.id, due, project, title="补充材料")
    done = task(people.officer.id, people.team.id, due, project, done_at=at(due))
    loose = task(people.lead.id, people.team.id, due)  # a follow-up without a project
    assert check(due + timedelta(days=6)).created == 0
    assert check(due + timedelta(days=7)).created == 2
    subjects = set(db.session.execute(select(Reminder.subject_kind, Reminder.subject_id)).all())
    assert subjects == {("task", open_task.id), ("task", loose.id)}
    assert done.id not in {s for _k, s in subjects}
    assert notified(people.lead) == [("task_overdue", 1, "owner")]
    stalls = stalled_for_projects(db.session, [project.id], due + timedelta(days=9))
    assert stalls == {project.id: [Stall("task_overdue", 2)]}


def test_inquiry_unanswered_counts_working_days(people):
    only_rules("inquiry_unanswered")
    friday = date(2026, 3, 27)
    factories.project(
        people.team, owner=people.officer, is_inquiry=True, inquiry_received_on=friday
    )
    assert check(date(2026, 3, 29)).created == 0  # Sunday: no working day yet
    assert check(date(2026, 3, 30)).created == 0  # Monday: one
    assert check(date(2026, 3, 31)).created == 1  # Tuesday: two
    reminder = db.session.scalar(select(Reminder))
    assert (reminder.elapsed_days, reminder.days_overdue) == (2, 0)


def test_holidays_and_make_up_days_in_the_calendar(people):
    only_rules("inquiry_unanswered")
    db.session.add_all(
        [
            WorkCalendarDay(on=date(2026, 3, 30), working=False, name="假日"),
            WorkCalendarDay(on=date(2026, 3, 28), working=True, name="调休"),
        ]
    )
    friday = date(2026, 3, 27)
    factories.project(people.team, is_inquiry=True, inquiry_received_on=friday)
    # Saturday 28 works, Monday 30 is off: the second working day is Tuesday 31.
    assert check(date(2026, 3, 30)).created == 0
    assert check(date(2026, 3, 31)).created == 1
    assert db.session.scalar(select(Reminder.elapsed_days)) == 2


def test_answered_inquiries_are_not_reminded(people):
    only_rules("inquiry_unanswered")
    factories.project(
        people.team,
        is_inquiry=True,
        inquiry_received_on=date(2026, 3, 2),
        inquiry_answered_on=date(2026, 3, 3),
    )
    assert check(date(2026, 4, 1)).created == 0


def test_started_not_operating_uses_the_planned_date_or_the_default(people):
    only_rules("started_not_operating")
    started = date(2025, 1, 1)
    planned = factories.project(
        people.team, stage=Stage.STARTED, started_on=started, planned_operating_on=date(2025, 7, 1)
    )
    unplanned = factories.project(people.team, stage=Stage.STARTED, started_on=started)
    check(date(2025, 6, 30))
    assert count_reminders() == 0
    check(date(2025, 7, 1))
    assert count_reminders(project_id=planned.id) == 1
    assert db.session.scalar(select(Reminder.threshold_days)) == 181  # the planned period
    check(started + timedelta(days=729))
    assert count_reminders(project_id=unplanned.id) == 0
    check(started + timedelta(days=730))
    assert count_reminders(project_id=unplanned.id) == 1


def test_signed_not_landed_and_no_stage_change(people):
    only_rules("signed_not_landed", "no_stage_change")
    signed = factories.project(people.team, stage=Stage.SIGNED, signed_on=SIGNED)
    check(SIGNED + timedelta(days=60))
    assert count_reminders(project_id=signed.id, rule_code="signed_not_landed") == 1
    check(SIGNED + timedelta(days=180))
    assert count_reminders(project_id=signed.id, rule_code="no_stage_change") == 1


def test_thresholds_are_admin_data_and_rules_can_be_disabled(people):
    only_rules("landed_not_started")
    landed_project(people)
    set_rule("landed_not_started", "landed", days=30, key_days=20)
    assert check(SIGNED + timedelta(days=30)).created == 1
    set_rule("landed_not_started", "landed", days=30, enabled=False)
    assert check(SIGNED + timedelta(days=60)).created == 0
    assert detect(db.session, build_context(db.session, SIGNED + timedelta(days=60))) == []


def test_stalled_project_ids_subquery_filters_a_project_list(people):
    only_rules("landed_not_started", "no_activity")
    stalled = landed_project(people)
    fresh = factories.project(people.team, stage=Stage.LANDED, signed_on=date(2026, 4, 1))
    as_of = SIGNED + timedelta(days=95)
    ids = db.session.scalars(
        select(Project.id).where(
            Project.id.in_([stalled.id, fresh.id]),
            Project.id.in_(stalled_project_ids_subquery(db.session, as_of)),
        )
    ).all()
    assert ids == [stalled.id]
    only = stalled_project_ids_subquery(db.session, as_of, ["no_activity"])
    assert stalled.id not in db.session.scalars(only).all()


def test_the_working_day_calendar():
    calendar = WorkCalendar({date(2026, 10, 1): False, date(2026, 10, 10): True})
    assert calendar.working_days_after(date(2026, 9, 25), date(2026, 9, 28)) == 1  # Fri->Mon
    assert calendar.working_days_after(date(2026, 9, 30), date(2026, 10, 2)) == 1  # 1 Oct off
    assert calendar.working_days_after(date(2026, 10, 9), date(2026, 10, 10)) == 1  # Sat works
    assert calendar.working_days_after(date(2026, 10, 9), date(2026, 10, 9)) == 0
    assert calendar.latest_start(date(2026, 10, 2), 2) == date(2026, 9, 29)
    assert calendar.latest_start(date(2026, 9, 28), 1) == date(2026, 9, 27)

"""Stage transition rules: dates, skipping, side states, backwards moves and history."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from crm.audit import AuditLog
from crm.enums import Stage
from crm.extensions import db
from crm.pipeline.models import StageChange
from crm.pipeline.stages import TransitionError, history, plan, transition
from tests import factories

TODAY = date(2026, 11, 22)


@pytest.fixture
def project(app):
    team = factories.team()
    return factories.project(team, stage=Stage.LEAD, lead_on=date(2026, 1, 10))


def move(project, to, on, **kw):
    return transition(db.session, project, to=to, on=on, user_id=None, today=TODAY, **kw)


def test_forward_one_stage_records_date_history_and_audit(project):
    rows = move(project, Stage.NEGOTIATING, date(2026, 2, 1), note="first meeting")
    assert project.stage == Stage.NEGOTIATING
    assert project.negotiating_on == date(2026, 2, 1)
    assert [(r.from_stage, r.to_stage, r.note) for r in rows] == [
        (Stage.LEAD, Stage.NEGOTIATING, "first meeting")
    ]
    entry = db.session.scalar(select(AuditLog).where(AuditLog.entity_id == project.id))
    assert entry.action == "stage_change"
    assert entry.changes["stage"] == ["lead", "negotiating"]
    assert entry.changes["negotiating_on"] == [None, "2026-02-01"]


def test_date_in_the_future_is_refused(project):
    with pytest.raises(TransitionError) as err:
        move(project, Stage.NEGOTIATING, date(2026, 11, 23))
    assert err.value.field == "date"
    assert project.stage == Stage.LEAD


def test_today_is_allowed(project):
    move(project, Stage.NEGOTIATING, TODAY)
    assert project.negotiating_on == TODAY


def test_date_before_previous_stage_is_refused(project):
    with pytest.raises(TransitionError) as err:
        move(project, Stage.NEGOTIATING, date(2026, 1, 9))
    assert err.value.field == "date"
    move(project, Stage.NEGOTIATING, date(2026, 1, 10))  # the same day is fine


def test_skipping_stages_needs_every_skipped_date(project):
    with pytest.raises(TransitionError) as err:
        move(
            project,
            Stage.STARTED,
            date(2026, 3, 1),
            skipped_dates={Stage.NEGOTIATING: date(2026, 2, 1), Stage.SIGNED: date(2026, 2, 20)},
        )
    assert err.value.field == "dates.landed"
    assert project.stage == Stage.LEAD and project.signed_on is None


def test_skipping_with_all_dates_records_each_stage(project):
    rows = move(
        project,
        Stage.STARTED,
        date(2026, 2, 20),
        skipped_dates={
            Stage.NEGOTIATING: date(2026, 2, 1),
            Stage.SIGNED: date(2026, 2, 20),
            Stage.LANDED: date(2026, 2, 20),
        },
    )
    assert project.stage == Stage.STARTED
    assert (project.signed_on, project.landed_on, project.started_on) == (
        date(2026, 2, 20),
        date(2026, 2, 20),
        date(2026, 2, 20),
    )  # same day is fine
    assert [r.to_stage for r in rows] == [
        Stage.NEGOTIATING,
        Stage.SIGNED,
        Stage.LANDED,
        Stage.STARTED,
    ]


def test_skipped_dates_must_not_decrease(project):
    with pytest.raises(TransitionError) as err:
        move(
            project,
            Stage.SIGNED,
            date(2026, 2, 1),
            skipped_dates={Stage.NEGOTIATING: date(2026, 3, 1)},
        )
    assert err.value.field == "date"


def test_skipped_date_in_the_future_is_refused(project):
    with pytest.raises(TransitionError) as err:
        move(
            project,
            Stage.SIGNED,
            date(2026, 11, 20),
            skipped_dates={Stage.NEGOTIATING: date(2026, 12, 1)},
        )
    assert err.value.field == "dates.negotiating"


def test_backwards_needs_a_reason_and_clears_later_dates(project):
    move(
        project, Stage.SIGNED, date(2026, 3, 1), skipped_dates={Stage.NEGOTIATING: date(2026, 2, 1)}
    )
    with pytest.raises(TransitionError) as err:
        move(project, Stage.NEGOTIATING, date(2026, 4, 1))
    assert err.value.field == "reason"
    move(project, Stage.NEGOTIATING, date(2026, 4, 1), reason="contract renegotiated")
    assert project.stage == Stage.NEGOTIATING
    assert project.signed_on is None
    assert project.negotiating_on == date(2026, 2, 1)  # when it first got there
    last = history(db.session, project.id)[-1]
    assert (last.to_stage, last.on, last.reason) == (
        Stage.NEGOTIATING,
        date(2026, 4, 1),
        "contract renegotiated",
    )


def test_on_hold_and_resume_without_reason(project):
    move(project, Stage.NEGOTIATING, date(2026, 2, 1))
    move(project, Stage.ON_HOLD, date(2026, 3, 1), note="investor busy")
    assert project.stage == Stage.ON_HOLD and project.resume_stage == Stage.NEGOTIATING
    move(project, Stage.NEGOTIATING, date(2026, 4, 1))
    assert project.stage == Stage.NEGOTIATING
    assert project.on_hold_on is None and project.resume_stage is None


def test_resume_from_hold_cannot_predate_the_hold(project):
    move(project, Stage.ON_HOLD, date(2026, 3, 1))
    with pytest.raises(TransitionError):
        move(project, Stage.NEGOTIATING, date(2026, 2, 1))


def test_drop_needs_a_reason_code_and_reopen_needs_a_reason(project):
    with pytest.raises(TransitionError) as err:
        move(project, Stage.DROPPED, date(2026, 3, 1))
    assert err.value.field == "drop_reason"
    with pytest.raises(TransitionError):
        move(project, Stage.DROPPED, date(2026, 3, 1), drop_reason_code="not-a-code")
    move(
        project,
        Stage.DROPPED,
        date(2026, 3, 1),
        drop_reason_code="chose_other_city",
        reason="went to Wuhan",
    )
    assert project.stage == Stage.DROPPED
    assert (project.drop_reason_code, project.drop_reason_text) == (
        "chose_other_city",
        "went to Wuhan",
    )
    with pytest.raises(TransitionError) as err:
        move(project, Stage.LEAD, date(2026, 4, 1))
    assert err.value.field == "reason"
    move(project, Stage.LEAD, date(2026, 4, 1), reason="investor came back")
    assert project.stage == Stage.LEAD and project.drop_reason_code is None


def test_reopen_forward_asks_for_skipped_dates(project):
    move(project, Stage.DROPPED, date(2026, 3, 1), drop_reason_code="funding")
    assert plan(project, Stage.SIGNED).skipped == (Stage.NEGOTIATING,)
    move(
        project,
        Stage.SIGNED,
        date(2026, 5, 1),
        reason="funding found",
        skipped_dates={Stage.NEGOTIATING: date(2026, 4, 1)},
    )
    assert project.signed_on == date(2026, 5, 1)


def test_same_stage_is_refused(project):
    with pytest.raises(TransitionError):
        move(project, Stage.LEAD, date(2026, 2, 1))


def test_history_is_kept_forever_in_order(project):
    move(project, Stage.NEGOTIATING, date(2026, 2, 1))
    move(project, Stage.SIGNED, date(2026, 3, 1))
    move(project, Stage.NEGOTIATING, date(2026, 3, 5), reason="x")
    stages = [r.to_stage for r in history(db.session, project.id)]
    assert stages == [Stage.NEGOTIATING, Stage.SIGNED, Stage.NEGOTIATING]
    count = db.session.scalar(
        select(StageChange.id).where(StageChange.project_id == project.id).limit(1)
    )
    assert count is not None

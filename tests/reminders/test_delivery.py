"""Delivery: email digests over a real local SMTP server, group-robot posts to a local HTTP
server; failures (refusal, 5xx, timeout, robot error codes) are kept, retried with backoff
and never sent twice once sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from crm.enums import Stage
from crm.extensions import db
from crm.reminders.delivery import backoff, deliver_due, retry_delivery
from crm.reminders.models import Delivery
from crm.reminders.settings import ReminderSettings
from tests import factories
from tests.reminders.helpers import check, only_rules
from tests.reminders.servers import robot_server, smtp_server

SIGNED = datetime(2026, 1, 5).date()
DAY_90 = SIGNED + timedelta(days=90)
# The delivery clock (the check queues deliveries due "now", in real time).
T0 = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)


@pytest.fixture
def stalled(people):
    only_rules("landed_not_started")
    return factories.project(
        people.team,
        owner=people.officer,
        stage=Stage.LANDED,
        signed_on=SIGNED,
        name="华芯半导体封测基地",
    )


@pytest.fixture
def smtp():
    with smtp_server() as server:
        yield server


@pytest.fixture
def robot():
    with robot_server() as server:
        yield server


def email_settings(port: int, **kw) -> ReminderSettings:
    return ReminderSettings(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_from="crm@zone.example.cn",
        base_url="https://crm.example.cn",
        **kw,
    )


def states() -> dict[str, str]:
    return {d.key.split(":")[0]: d.state for d in db.session.scalars(select(Delivery))}


def test_daily_email_digest_goes_to_the_owner_and_the_lead_once(people, stalled, smtp):
    recorder, port = smtp
    settings = email_settings(port)
    check(DAY_90, settings)
    report = deliver_due(db.session, settings, now=T0)
    assert (report.sent, report.failed) == (2, 0)
    by_recipient = {m["To"]: m for m in recorder.messages}
    assert set(by_recipient) == {people.officer.email, people.lead.email}
    mine = by_recipient[people.officer.email]
    assert mine["From"] == "crm@zone.example.cn"
    body = mine.get_content()
    assert "华芯半导体封测基地" in body
    assert f"https://crm.example.cn/projects/{stalled.id}" in body
    assert "华芯半导体封测基地" in by_recipient[people.lead.email].get_content()
    sent = db.session.scalars(select(Delivery)).all()
    assert all(d.state == "sent" and d.sent_at == T0 and d.attempts == 1 for d in sent)

    # Nothing is sent twice: not by another delivery pass, not by another check.
    assert deliver_due(db.session, settings, now=T0 + timedelta(hours=1)).sent == 0
    check(DAY_90, settings)
    assert deliver_due(db.session, settings, now=T0 + timedelta(hours=2)).sent == 0
    assert len(recorder.messages) == 2


def test_no_email_when_there_is_nothing_to_say(people, stalled, smtp):
    recorder, port = smtp
    settings = email_settings(port)
    result = check(DAY_90 - timedelta(days=1), settings)
    assert result.deliveries == []
    assert deliver_due(db.session, settings, now=T0).sent == 0
    assert recorder.messages == []


def test_an_smtp_refusal_is_kept_retried_with_backoff_then_sent(people, stalled, smtp):
    recorder, port = smtp
    settings = email_settings(port)
    check(DAY_90, settings)
    recorder.refuse = "554 5.7.1 Relay access denied"
    report = deliver_due(db.session, settings, now=T0)
    assert report.failed == 2
    failed = db.session.scalars(select(Delivery)).all()
    assert all(d.state == "failed" and "554" in (d.last_error or "") for d in failed)
    assert all(d.next_attempt_at == T0 + backoff(1) for d in failed)

    recorder.refuse = None
    assert deliver_due(db.session, settings, now=T0 + timedelta(seconds=30)).sent == 0  # backoff
    report = deliver_due(db.session, settings, now=T0 + backoff(1))
    assert report.sent == 2
    assert len(recorder.messages) == 2
    assert all(
        d.attempts == 2 and d.last_error is None for d in db.session.scalars(select(Delivery))
    )


def test_a_failing_delivery_is_given_up_after_a_day_shown_and_can_be_retried(people, stalled, smtp):
    recorder, port = smtp
    settings = email_settings(port)
    check(DAY_90, settings)
    recorder.refuse = "550 mailbox unavailable"
    now = T0
    attempts = 0
    while "failed" in states().values() or attempts == 0:
        deliver_due(db.session, settings, now=now)
        attempts += 1
        now += timedelta(hours=1)
        assert attempts < 40
    assert set(states().values()) == {"dead"}  # never dropped: kept with its error
    dead = db.session.scalars(select(Delivery)).first()
    assert "550" in dead.last_error and dead.attempts >= 10
    assert deliver_due(db.session, settings, now=now + timedelta(days=3)).sent == 0

    recorder.refuse = None
    assert retry_delivery(db.session, dead, people.admin.id, now=now)
    assert deliver_due(db.session, settings, now=now).sent == 1
    assert len(recorder.messages) == 1
    assert not retry_delivery(db.session, dead, people.admin.id)  # sent: never again


def test_a_delivery_claimed_by_another_process_is_left_alone_until_its_lease_ends(
    people, stalled, smtp
):
    recorder, port = smtp
    settings = email_settings(port)
    check(DAY_90, settings)
    for d in db.session.scalars(select(Delivery)):
        d.state, d.locked_until = "sending", T0 + timedelta(minutes=10)
    db.session.flush()
    assert deliver_due(db.session, settings, now=T0).sent == 0
    assert deliver_due(db.session, settings, now=T0 + timedelta(minutes=11)).sent == 2
    assert len(recorder.messages) == 2


def test_team_robot_gets_the_digest_as_markdown_and_a_500_is_retried(people, stalled, robot):
    people.team.webhook_kind, people.team.webhook_url = "wecom", robot.url
    settings = ReminderSettings(base_url="https://crm.example.cn")  # no SMTP: robots only
    check(DAY_90, settings)
    robot.script = [(500, {"error": "busy"}, 0)]
    report = deliver_due(db.session, settings, now=T0)
    assert report.failed == 1
    failed = db.session.scalar(select(Delivery))
    assert failed.channel == "wecom" and failed.state == "failed"
    assert "HTTP 500" in failed.last_error

    assert deliver_due(db.session, settings, now=T0 + backoff(1)).sent == 1
    assert len(robot.requests) == 2
    payload = robot.requests[-1]["json"]
    assert payload["msgtype"] == "markdown"
    assert "华芯半导体封测基地" in payload["markdown"]["content"]
    assert f"(https://crm.example.cn/projects/{stalled.id})" in payload["markdown"]["content"]
    assert robot.requests[-1]["path"].endswith("key=test-key")
    assert deliver_due(db.session, settings, now=T0 + timedelta(hours=3)).sent == 0
    assert len(robot.requests) == 2


def test_dingtalk_payload_and_robot_error_codes(people, stalled, robot):
    people.team.webhook_kind, people.team.webhook_url = "dingtalk", robot.url
    settings = ReminderSettings()
    check(DAY_90, settings)
    robot.script = [(200, {"errcode": 310000, "errmsg": "keywords not in content"}, 0)]
    deliver_due(db.session, settings, now=T0)
    failed = db.session.scalar(select(Delivery))
    assert failed.state == "failed" and "310000" in failed.last_error
    assert deliver_due(db.session, settings, now=T0 + backoff(1)).sent == 1
    payload = robot.requests[-1]["json"]
    assert payload["msgtype"] == "markdown"
    assert set(payload["markdown"]) == {"title", "text"}
    assert "华芯半导体封测基地" in payload["markdown"]["text"]


def test_a_webhook_that_times_out_is_a_failure(people, stalled, robot):
    people.team.webhook_kind, people.team.webhook_url = "wecom", robot.url
    settings = ReminderSettings(webhook_timeout=0.3)
    check(DAY_90, settings)
    robot.script = [(200, {"errcode": 0}, 1.5)]
    assert deliver_due(db.session, settings, now=T0).failed == 1
    assert "timed out" in db.session.scalar(select(Delivery.last_error)).lower()


def test_a_long_team_digest_fits_the_robot_limit(people, robot):
    only_rules("landed_not_started")
    people.team.webhook_kind, people.team.webhook_url = "wecom", robot.url
    for i in range(80):
        factories.project(
            people.team, stage=Stage.LANDED, signed_on=SIGNED, name=f"长沙智能制造产业园项目{i:03d}"
        )
    check(DAY_90, ReminderSettings())
    body = db.session.scalar(select(Delivery.body))
    assert len(body.encode("utf-8")) <= 4000
    shown = body.count("长沙智能制造产业园项目")
    assert 0 < shown < 80
    assert f" {80 - shown} " in body  # "... and N more."


def test_each_email_lists_its_recipients_worst_hundred_reminders(people):
    from crm.enums import Role

    only_rules("landed_not_started")
    other = factories.user(Role.OFFICER, people.team, name="赵专员")
    for i in range(103):  # signed 90 to 192 days before DAY_90: the last is the worst
        factories.project(
            people.team,
            owner=people.officer,
            stage=Stage.LANDED,
            signed_on=SIGNED - timedelta(days=i),
            name=f"项目{i:03d}",
        )
    factories.project(
        people.team, owner=other, stage=Stage.LANDED, signed_on=SIGNED, name="赵的项目"
    )
    check(DAY_90, ReminderSettings(smtp_host="127.0.0.1"))
    bodies = {
        d.user_id: d.body for d in db.session.scalars(select(Delivery)) if d.channel == "email"
    }
    mine = bodies[people.officer.id]
    listed = [line.split("- ", 1)[1] for line in mine.splitlines() if line.startswith("- 项目")]
    assert listed == [f"项目{i:03d}" for i in range(102, 2, -1)]  # 100, most overdue first
    assert "... and 3 more." in mine
    assert "赵的项目" not in mine
    theirs = bodies[other.id]
    assert "赵的项目" in theirs and "项目000" not in theirs

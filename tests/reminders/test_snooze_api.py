"""Snoozes through the API, as on the project page: a snoozed rule leaves the stalled list
until the date, ending the snooze brings it back; recorded in the history; other teams get
404 like a missing project, leaders 403; and marking every notification read."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from crm.audit import AuditLog
from crm.enums import Stage
from crm.extensions import db
from crm.reminders import settings as reminder_settings
from crm.reminders.models import ReminderSnooze
from tests import factories
from tests.reminders.helpers import check, only_rules


def auth(user) -> dict[str, str]:
    return {"Authorization": f"Bearer {factories.token(user)}"}


def stalled_ids(client, user):
    items = client.get("/api/v1/stalled", headers=auth(user)).get_json()["items"]
    return [item["project_id"] for item in items]


def landed_long_ago(people):
    today = reminder_settings.current().today()
    return factories.project(
        people.team,
        owner=people.officer,
        stage=Stage.LANDED,
        signed_on=today - timedelta(days=150),
        landed_on=today - timedelta(days=120),
    )


def test_a_snooze_pauses_the_rule_until_its_date_and_can_be_ended(client, people):
    only_rules("landed_not_started")
    project = landed_long_ago(people)
    assert project.id in stalled_ids(client, people.officer)
    until = reminder_settings.current().today() + timedelta(days=30)
    url = f"/api/v1/projects/{project.id}/snoozes"
    body = {"rule": "landed_not_started", "until": until.isoformat(), "reason": "等用地指标"}
    created = client.post(url, json=body, headers=auth(people.lead))
    assert created.status_code == 201, created.json
    snooze = created.get_json()
    assert (snooze["rule"], snooze["until"], snooze["reason"]) == (
        "landed_not_started",
        until.isoformat(),
        "等用地指标",
    )
    assert snooze["created_by_id"] == people.lead.id and snooze["cancelled_at"] is None
    assert project.id not in stalled_ids(client, people.officer)
    listed = client.get(url, headers=auth(people.officer)).get_json()["items"]
    assert [s["id"] for s in listed] == [snooze["id"]]

    ended = client.delete(f"{url}/{snooze['id']}", headers=auth(people.officer))
    assert ended.status_code == 204
    assert client.get(url, headers=auth(people.officer)).get_json()["items"] == []
    assert project.id in stalled_ids(client, people.officer)
    actions = db.session.scalars(
        select(AuditLog.action)
        .where(AuditLog.entity_type == "project", AuditLog.entity_id == project.id)
        .order_by(AuditLog.id)
    ).all()
    assert actions[-2:] == ["reminder_snoozed", "reminder_snooze_cancelled"]


def test_bad_snoozes_are_422_naming_the_field(client, people):
    project = landed_long_ago(people)
    today = reminder_settings.current().today()
    url = f"/api/v1/projects/{project.id}/snoozes"
    cases = [
        ({"rule": "nope", "until": today.isoformat(), "reason": "r"}, "rule"),
        (
            {
                "rule": "no_activity",
                "until": (today - timedelta(days=1)).isoformat(),
                "reason": "r",
            },
            "until",
        ),
        (
            {
                "rule": "no_activity",
                "until": (today + timedelta(days=400)).isoformat(),
                "reason": "r",
            },
            "until",
        ),
        ({"rule": "no_activity", "until": today.isoformat(), "reason": "  "}, "reason"),
        ({"rule": "no_activity", "until": "2026-02-30", "reason": "r"}, "until"),
        ({"rule": "no_activity", "reason": "r"}, "until"),
    ]
    for body, field in cases:
        response = client.post(url, json=body, headers=auth(people.officer))
        assert response.status_code == 422, body
        assert response.mimetype == "application/problem+json"
        assert field in [e["field"] for e in response.get_json()["errors"]], body
    assert db.session.scalar(select(ReminderSnooze.id)) is None


def test_other_teams_get_404_and_leaders_403(client, people):
    project = landed_long_ago(people)
    today = reminder_settings.current().today()
    url = f"/api/v1/projects/{project.id}/snoozes"
    body = {"rule": "no_activity", "until": today.isoformat(), "reason": "r"}
    snooze_id = client.post(url, json=body, headers=auth(people.officer)).get_json()["id"]
    outsider = auth(people.other_officer)
    assert client.get(url, headers=outsider).status_code == 404
    assert client.post(url, json=body, headers=outsider).status_code == 404
    assert client.delete(f"{url}/{snooze_id}", headers=outsider).status_code == 404
    leader = auth(people.leader)
    assert client.get(url, headers=leader).status_code == 200
    assert client.post(url, json=body, headers=leader).status_code == 403
    assert client.delete(f"{url}/{snooze_id}", headers=leader).status_code == 403
    # A snooze of another project through this project's URL does not exist here.
    elsewhere = landed_long_ago(people)
    wrong = f"/api/v1/projects/{elsewhere.id}/snoozes/{snooze_id}"
    assert client.delete(wrong, headers=auth(people.officer)).status_code == 404
    row = db.session.get(ReminderSnooze, snooze_id)
    assert row.cancelled_at is None
    assert db.session.scalars(select(ReminderSnooze.id)).all() == [snooze_id]


def test_every_notification_is_marked_read_at_once(client, people):
    only_rules("landed_not_started")
    for _ in range(2):
        landed_long_ago(people)
    check(reminder_settings.current().today())
    headers = auth(people.officer)
    unread = client.get("/api/v1/notifications?unread=true", headers=headers).get_json()
    assert unread["total"] == 2
    response = client.post("/api/v1/notifications/read-all", headers=headers)
    assert response.status_code == 200 and response.get_json() == {"marked_read": 2}
    after = client.get("/api/v1/notifications?unread=true", headers=headers).get_json()
    assert after["total"] == 0
    again = client.post("/api/v1/notifications/read-all", headers=headers).get_json()
    assert again == {"marked_read": 0}

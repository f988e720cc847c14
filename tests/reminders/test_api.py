"""The reminders API: my notifications, marking one read, stalled projects in my scope,
and the admin's rule thresholds."""

from __future__ import annotations

from datetime import date, timedelta

from crm.enums import Stage
from tests import factories
from tests.reminders.helpers import check, only_rules

TODAY = date.today()


def auth(user) -> dict[str, str]:
    return {"Authorization": f"Bearer {factories.token(user)}"}


def test_notifications_unread_first_paged_and_marked_read(client, people):
    only_rules("landed_not_started")
    for i in range(3):
        factories.project(
            people.team,
            owner=people.officer,
            stage=Stage.LANDED,
            signed_on=TODAY - timedelta(days=100 + i),
            name=f"麓谷项目{i}",
        )
    check(TODAY)
    headers = auth(people.officer)
    body = client.get("/api/v1/notifications?per_page=2", headers=headers).get_json()
    assert body["total"] == 3 and len(body["items"]) == 2
    first = body["items"][0]
    assert first["rule"] == "landed_not_started" and first["reason"] == "owner"
    assert first["project_name"].startswith("麓谷项目") and first["read_at"] is None
    assert first["threshold_days"] == 90 and first["days_overdue"] >= 10

    oldest = client.get("/api/v1/notifications?page=2&per_page=2", headers=headers).get_json()
    target = oldest["items"][0]["id"]
    response = client.post(f"/api/v1/notifications/{target}/read", headers=headers)
    assert response.status_code == 200 and response.get_json()["read_at"]
    items = client.get("/api/v1/notifications", headers=headers).get_json()["items"]
    assert items[-1]["id"] == target  # read ones come after the unread
    unread = client.get("/api/v1/notifications?unread=true", headers=headers).get_json()
    assert unread["total"] == 2

    other = auth(people.other_officer)
    assert client.post(f"/api/v1/notifications/{target}/read", headers=other).status_code == 404
    assert client.get("/api/v1/notifications", headers=other).get_json()["total"] == 0


def test_stalled_projects_in_my_scope(client, people):
    only_rules("landed_not_started", "task_overdue")
    mine = factories.project(
        people.team, stage=Stage.LANDED, signed_on=TODAY - timedelta(days=95), name="我队项目"
    )
    theirs = factories.project(
        people.other_team, stage=Stage.LANDED, signed_on=TODAY - timedelta(days=300)
    )
    body = client.get("/api/v1/stalled", headers=auth(people.officer)).get_json()
    assert [i["project_id"] for i in body["items"]] == [mine.id]
    stall = body["items"][0]["stalls"][0]
    assert stall == {
        "rule": "landed_not_started",
        "rule_label": stall["rule_label"],
        "level": 1,
        "elapsed_days": 95,
        "threshold_days": 90,
        "days_overdue": 5,
        "since": (TODAY - timedelta(days=95)).isoformat(),
        "task_id": None,
    }
    leader = client.get("/api/v1/stalled", headers=auth(people.leader)).get_json()
    assert [i["project_id"] for i in leader["items"]] == [theirs.id, mine.id]  # worst first
    escalated = client.get("/api/v1/stalled?level=3", headers=auth(people.leader)).get_json()
    assert [i["project_id"] for i in escalated["items"]] == [theirs.id]
    none = client.get("/api/v1/stalled?rule=task_overdue", headers=auth(people.leader))
    assert none.get_json()["total"] == 0
    bad = client.get("/api/v1/stalled?rule=nonsense", headers=auth(people.leader))
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"


def test_admin_reads_and_changes_thresholds(client, people):
    headers = auth(people.admin)
    body = client.get("/api/v1/reminder-rules?per_page=200", headers=headers).get_json()
    rules = {(r["code"], r["stage"]): r for r in body["items"]}
    assert rules[("landed_not_started", "landed")]["days"] == 90
    assert rules[("landed_not_started", "landed")]["key_days"] == 60
    assert rules[("inquiry_unanswered", "any")]["working_days"] is True

    response = client.put(
        "/api/v1/reminder-rules",
        json={"rules": [{"code": "landed_not_started", "stage": "landed", "days": 75}]},
        headers=headers,
    )
    assert response.status_code == 200
    changed = {(r["code"], r["stage"]): r for r in response.get_json()["items"]}
    assert changed[("landed_not_started", "landed")]["days"] == 75

    for payload, status in (
        ({"rules": [{"code": "nope", "stage": "any", "days": 3}]}, 422),
        ({"rules": [{"code": "no_activity", "stage": "lead", "key_days": 40}]}, 422),
        ({"rules": [{"code": "no_activity", "stage": "lead", "days": 0}]}, 422),
        ({"rules": []}, 422),
    ):
        response = client.put("/api/v1/reminder-rules", json=payload, headers=headers)
        assert response.status_code == status, payload
        assert response.mimetype == "application/problem+json"
    officer = client.put(
        "/api/v1/reminder-rules",
        json={"rules": [{"code": "no_activity", "stage": "lead", "days": 3}]},
        headers=auth(people.officer),
    )
    assert officer.status_code == 403


def test_the_openapi_document_describes_the_reminder_endpoints(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"/notifications", "/stalled", "/reminder-rules"} <= {
        p.removeprefix("/api/v1") for p in paths
    }

"""A walk through every endpoint the API issues (3 to 7) list, called as a client would:
each answers with success and the documented shape. The features' own tests go deeper;
this file fails when one of the promised endpoints disappears or stops working."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest

from crm.enums import Role, Stage
from crm.extensions import db
from crm.reminders.models import Notification, Reminder, ReminderRun
from crm.visits import events
from tests import factories

PDF = b"%PDF-1.4\n% tour\n"
LEDGER = "项目名称,投资方名称,总投资(万元)\n巡检测试项目,巡检测试有限公司,5000\n"


class Caller:
    """A test client that sends one user's Bearer token and checks the status."""

    def __init__(self, client, user):
        self.client = client
        self.headers = {"Authorization": f"Bearer {factories.token(user)}"}

    def __call__(self, method, url, status=200, **kwargs):
        headers = {**self.headers, **kwargs.pop("headers", {})}
        response = self.client.open(url, method=method, headers=headers, **kwargs)
        assert response.status_code == status, (method, url, response.get_data(as_text=True))
        return response


@pytest.fixture
def world(app):
    team = factories.team()
    lead = factories.user(Role.LEAD, team)
    officer = factories.user(Role.OFFICER, team)
    project = factories.project(team, owner=officer, name="巡检项目")
    return {
        "team": team,
        "lead": lead,
        "officer": officer,
        "admin": factories.user(Role.ADMIN),
        "project": project,
    }


def page_of(response):
    body = response.get_json()
    assert {"items", "total", "page", "per_page"} <= body.keys()
    return body


def test_issue_3_projects_companies_search(client, world):
    call = Caller(client, world["officer"])
    project, team = world["project"], world["team"]
    created = call(
        "POST", "/api/v1/projects", 201, json={"name": "新项目", "company_name": "新公司"}
    )
    new_id = created.get_json()["id"]
    filters = f"stage=lead&team={team.code}&chain=automobile&zone=changsha-etdz&is_key=false"
    page_of(call("GET", f"/api/v1/projects?{filters}&page=1&per_page=10"))
    first = call("GET", "/api/v1/projects?cursor=&per_page=1").get_json()
    assert first["next_cursor"]
    call("GET", f"/api/v1/projects?cursor={first['next_cursor']}&per_page=1")
    read = call("GET", f"/api/v1/projects/{project.id}")
    call(
        "PATCH",
        f"/api/v1/projects/{project.id}",
        json={"notes": "tour"},
        headers={"If-Match": read.headers["ETag"]},
    )
    call("POST", f"/api/v1/projects/{new_id}/transitions", 201, json={"to": "negotiating"})
    history = call("GET", f"/api/v1/projects/{new_id}/history").get_json()
    assert history["stage_changes"] and history["items"]
    companies = page_of(call("GET", "/api/v1/companies"))
    assert companies["total"] >= 1
    call("GET", f"/api/v1/companies/{project.company_id}")
    assert call("GET", "/api/v1/search?q=巡检").get_json()


def test_issue_4_visits_contacts_tasks_events_attachments(client, world):
    call = Caller(client, world["officer"])
    project, team, officer = world["project"], world["team"], world["officer"]
    day = date.today() - timedelta(days=2)
    visit = call(
        "POST",
        "/api/v1/visits",
        201,
        json={
            "date": day.isoformat(),
            "type": "company_visit",
            "company_id": project.company_id,
            "project_ids": [project.id],
        },
    ).get_json()
    filters = (
        f"date_from={day - timedelta(days=1)}&date_to={day}&team={team.code}"
        f"&user_id={officer.id}&company_id={project.company_id}&project_id={project.id}"
        "&region=yangtze-delta"
    )
    page_of(call("GET", f"/api/v1/visits?{filters}"))
    listed = page_of(call("GET", f"/api/v1/visits?project_id={project.id}"))
    assert [v["id"] for v in listed["items"]] == [visit["id"]]
    call("GET", f"/api/v1/visits/{visit['id']}")
    call("POST", "/api/v1/contacts", 201, json={"name": "巡检联系人"})
    page_of(call("GET", "/api/v1/contacts"))
    task = call(
        "POST",
        "/api/v1/tasks",
        201,
        json={"title": "回访", "due_date": "2026-12-01", "project_id": project.id},
    ).get_json()
    for scope in ("mine", "team"):
        page_of(call("GET", f"/api/v1/tasks?scope={scope}"))
    call("POST", f"/api/v1/tasks/{task['id']}/complete", json={"note": "done"})
    event = events.create_event(
        db.session, officer, events.EventInput(name="签约仪式", on=day), team.id
    )
    events.link_projects(db.session, officer, event, [project.id])
    page_of(call("GET", "/api/v1/events"))
    call("GET", f"/api/v1/events/{event.id}")
    signed = call("POST", f"/api/v1/events/{event.id}/sign", json={}).get_json()
    assert [r["status"] for r in signed["results"]] == ["signed"]
    uploaded = call(
        "POST",
        "/api/v1/attachments",
        201,
        data={
            "parent": "project",
            "parent_id": str(project.id),
            "file": (io.BytesIO(PDF), "a.pdf"),
        },
        content_type="multipart/form-data",
    ).get_json()
    content = call("GET", f"/api/v1/attachments/{uploaded['id']}/content")
    assert content.data == PDF


def test_issue_5_incentives_and_policies(client, world):
    call = Caller(client, world["officer"])
    facts = {"rd_expense": "5000", "rd_expense_prev": "2000"}
    evaluated = call(
        "POST", "/api/v1/incentives/evaluate", json={"zone": "changsha-etdz", "facts": facts}
    ).get_json()
    assert evaluated["results"]
    compared = call(
        "POST",
        "/api/v1/incentives/compare",
        json={"zones": ["changsha-etdz", "changsha-hitech"], "facts": facts},
    ).get_json()
    assert len(compared["zones"]) == 2
    call("GET", f"/api/v1/projects/{world['project'].id}/incentives?zone=changsha-etdz")
    policies = page_of(call("GET", "/api/v1/policies"))
    call("GET", f"/api/v1/policies/{policies['items'][0]['id']}")


def test_issue_6_notifications_stalled_reminder_rules(client, world):
    officer, project = world["officer"], world["project"]
    run = ReminderRun(as_of=date.today())
    db.session.add(run)
    db.session.flush()
    reminder = Reminder(
        run_id=run.id,
        rule_code="no_activity",
        subject_kind="project",
        subject_id=project.id,
        project_id=project.id,
        team_id=project.team_id,
        owner_id=officer.id,
        stage="lead",
        anchor_on=date.today() - timedelta(days=40),
        period_start=date.today() - timedelta(days=40),
        level=1,
        elapsed_days=40,
        threshold_days=30,
        days_overdue=10,
        as_of=date.today(),
    )
    db.session.add(reminder)
    db.session.flush()
    note = Notification(user_id=officer.id, reminder_id=reminder.id, run_id=run.id)
    db.session.add(note)
    db.session.flush()
    call = Caller(client, officer)
    assert page_of(call("GET", "/api/v1/notifications"))["total"] == 1
    call("POST", f"/api/v1/notifications/{note.id}/read")
    page_of(call("GET", "/api/v1/stalled"))
    admin = Caller(client, world["admin"])
    rules = page_of(admin("GET", "/api/v1/reminder-rules"))
    first = rules["items"][0]
    admin(
        "PUT",
        "/api/v1/reminder-rules",
        json={"rules": [{"code": first["code"], "stage": first["stage"], "days": first["days"]}]},
    )


def test_issue_7_reports_dashboard_targets_imports(client, world):
    lead = Caller(client, world["lead"])
    week = date.today() - timedelta(days=7)
    label = f"{week.isocalendar().year}-W{week.isocalendar().week:02d}"
    workbook = lead("GET", f"/api/v1/reports/weekly?week={label}")
    assert workbook.data[:2] == b"PK"  # an xlsx file
    page_of(lead("GET", "/api/v1/reports/archive"))
    assert lead("GET", "/api/v1/dashboard").get_json()
    assert lead("GET", "/api/v1/targets").get_json()
    admin = Caller(client, world["admin"])
    admin(
        "PUT",
        "/api/v1/targets",
        json={
            "year": 2026,
            "items": [{"kind": "team", "code": world["team"].code, "signed_count": 12}],
        },
    )
    officer = Caller(client, world["officer"])
    uploaded = officer(
        "POST",
        "/api/v1/imports",
        201,
        data={"file": (io.BytesIO(LEDGER.encode()), "ledger.csv")},
        content_type="multipart/form-data",
    ).get_json()
    assert uploaded["create_count"] == 1 and uploaded["error_count"] == 0
    applied = officer("POST", f"/api/v1/imports/{uploaded['id']}/apply").get_json()
    assert applied["applied_at"] is not None
    found = officer("GET", "/api/v1/projects?per_page=200").get_json()["items"]
    assert [(p["name"], p["stage"]) for p in found if p["name"] == "巡检测试项目"] == [
        ("巡检测试项目", Stage.LEAD.value)
    ]


def test_the_web_only_capabilities_now_in_the_api_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    expected = {
        "/api/v1/projects/{project_id}/evaluations": {"get", "post"},
        "/api/v1/evaluations/{evaluation_id}": {"get"},
        "/api/v1/projects/{project_id}/incentive-facts": {"get", "put"},
        "/api/v1/projects/{project_id}/key-mark": {"put", "delete"},
        "/api/v1/projects/{project_id}/shares": {"get", "post"},
        "/api/v1/projects/{project_id}/shares/{team}": {"delete"},
        "/api/v1/projects/{project_id}/reassign": {"post"},
        "/api/v1/projects/{project_id}": {"get", "patch", "delete"},
        "/api/v1/projects/{project_id}/restore": {"post"},
        "/api/v1/projects/{project_id}/snoozes": {"get", "post"},
        "/api/v1/projects/{project_id}/snoozes/{snooze_id}": {"delete"},
        "/api/v1/notifications/read-all": {"post"},
        "/api/v1/events/{event_id}": {"get", "patch"},
        "/api/v1/events/{event_id}/projects": {"post"},
        "/api/v1/events/{event_id}/projects/{project_id}": {"delete"},
        "/api/v1/contacts/{contact_id}": {"get", "patch", "delete"},
        "/api/v1/visits/{visit_id}": {"get", "patch", "delete"},
        "/api/v1/visits/{visit_id}/lead-project": {"post"},
        "/api/v1/inquiries/{project_id}/answered": {"post"},
    }
    for path, methods in expected.items():
        assert path in paths, path
        assert methods <= set(paths[path]), (path, set(paths[path]))
    put_key = paths["/api/v1/projects/{project_id}/key-mark"]["put"]
    assert "requestBody" in put_key and "412" in put_key["responses"]

"""Follow-ups: "My work" ordering, completing with a note, the team lead's overdue view, API."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from crm.audit import AuditLog
from crm.enums import Role
from crm.extensions import db
from crm.pipeline.models import Project
from crm.visits.leads import local_today
from crm.visits.models import Task
from crm.visits.tasks import TaskError, create_task, my_work, team_overdue
from tests import factories
from tests.conftest import login
from tests.visits.support import team_with_people

WEDNESDAY = date(2026, 11, 18)


def add(owner, title, due, project=None, creator=None):
    return create_task(
        db.session,
        title=title,
        owner_id=owner.id,
        due_on=due,
        project_id=project.id if project else None,
        created_by=creator or owner,
    )


def test_my_work_groups_overdue_then_this_week_then_later(app):
    team, officer, lead = team_with_people()
    project = factories.project(team, owner=officer)
    add(officer, "later-2", date(2026, 12, 1), project)
    add(officer, "this-week-sunday", date(2026, 11, 22))
    add(officer, "overdue-old", date(2026, 11, 10), project)
    add(officer, "next-monday", date(2026, 11, 23))
    add(officer, "overdue-this-week", date(2026, 11, 17))
    add(officer, "today", WEDNESDAY)
    done = add(officer, "done", date(2026, 11, 1))
    done.done_at = datetime(2026, 11, 2, tzinfo=UTC)
    add(lead, "someone else's", date(2026, 11, 1))
    work = my_work(db.session, officer, WEDNESDAY)
    titles = lambda rows: [r.task.title for r in rows]  # noqa: E731
    assert titles(work.overdue) == ["overdue-old", "overdue-this-week"]
    assert titles(work.this_week) == ["today", "this-week-sunday"]
    assert titles(work.later) == ["next-monday", "later-2"]
    assert titles(work.done) == ["done"]
    assert work.open_total == 6 and not work.truncated
    assert work.overdue[0].project_name == project.name


def test_the_week_ends_on_sunday_in_the_iso_calendar(app):
    _team, officer, _lead = team_with_people()
    sunday = date(2026, 11, 22)
    add(officer, "sunday", sunday)
    add(officer, "monday", sunday + timedelta(days=1))
    work = my_work(db.session, officer, sunday)
    assert [r.task.title for r in work.this_week] == ["sunday"]
    assert [r.task.title for r in work.later] == ["monday"]


def test_task_validation(app):
    team, officer, _lead = team_with_people()
    other_project = factories.project(factories.team())
    inactive = factories.user(team_obj=team, active=False)
    cases = [
        ({"title": " "}, "title"),
        ({"title": "x" * 301}, "title"),
        ({"owner_id": inactive.id}, "owner_id"),
        ({"project_id": other_project.id}, "project_id"),
    ]
    for change, field in cases:
        kw = {"title": "Call", "owner_id": officer.id, "due_on": WEDNESDAY, "project_id": None}
        kw.update(change)
        with pytest.raises(TaskError) as err:
            create_task(db.session, created_by=officer, **kw)
        assert err.value.field == field


def test_my_work_page_orders_sections_and_completes_with_a_note(client, app):
    team, officer, _lead = team_with_people()
    project = factories.project(team, owner=officer)
    today = local_today()
    add(officer, "Later task", today + timedelta(days=30), project)
    overdue = add(officer, "Overdue task", today - timedelta(days=2), project)
    add(officer, "Due today task", today, project)
    login(client, officer.email)
    page = client.get("/my-work").get_data(as_text=True)
    positions = [page.index(t) for t in ("Overdue task", "Due today task", "Later task")]
    assert positions == sorted(positions)
    overdue_section = re.search(r'data-testid="section-overdue".*?</section>', page, re.S).group(0)
    assert "Overdue task" in overdue_section and "Later task" not in overdue_section

    response = client.form(
        f"/tasks/{overdue.id}/complete",
        {"done-note": "Sent the brochure by email", "next": "/my-work"},
    )
    assert response.status_code == 302 and response.headers["Location"].endswith("/my-work")
    db.session.expire_all()
    task = db.session.get(Task, overdue.id)
    assert task.done_at is not None and task.done_note == "Sent the brochure by email"
    assert task.done_by_id == officer.id
    assert db.session.get(Project, project.id).last_activity_at == task.done_at
    # The note stays on the project's timeline.
    panel = client.get(f"/projects/{project.id}").get_data(as_text=True)
    done_list = re.search(r'data-testid="done-tasks".*?</ul>', panel, re.S).group(0)
    assert "Sent the brochure by email" in done_list
    entry = db.session.scalar(
        select(AuditLog).where(AuditLog.entity_type == "task", AuditLog.action == "complete")
    )
    assert entry.entity_id == overdue.id


def test_a_lead_sees_the_officers_overdue_follow_up(make_client, app):
    _team, officer, lead = team_with_people()
    other_team, other_officer, _other_lead = team_with_people()
    today = local_today()
    add(officer, "Officer overdue", today - timedelta(days=1))
    add(officer, "Officer not due", today + timedelta(days=3))
    add(other_officer, "Other team overdue", today - timedelta(days=1))
    client = make_client()
    login(client, lead.email)
    page = client.get("/my-work?tab=team").get_data(as_text=True)
    assert "Officer overdue" in page
    assert "Officer not due" not in page and "Other team overdue" not in page
    leader = factories.user(Role.LEADER)
    client = make_client()
    login(client, leader.email)
    page = client.get("/my-work?tab=team").get_data(as_text=True)
    assert "Officer overdue" in page and "Other team overdue" in page
    page = client.get(f"/my-work?tab=team&team={other_team.id}").get_data(as_text=True)
    assert "Officer overdue" not in page and "Other team overdue" in page
    rows, total = team_overdue(db.session, lead, today)
    assert [r.task.title for r in rows] == ["Officer overdue"] and total == 1


def test_the_lead_can_complete_a_team_task_but_another_team_cannot_see_it(make_client, app):
    _team, officer, lead = team_with_people()
    task = add(officer, "Team task", local_today())
    outsider = factories.user(team_obj=factories.team())
    client = make_client()
    login(client, outsider.email)
    assert client.form(f"/tasks/{task.id}/complete", {}).status_code == 404
    client = make_client()
    login(client, lead.email)
    assert client.form(f"/tasks/{task.id}/complete", {}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Task, task.id).done_by_id == lead.id


def test_add_a_follow_up_from_the_project_page(client, app):
    team, officer, lead = team_with_people()
    project = factories.project(team, owner=officer)
    login(client, officer.email)
    page = client.get(f"/projects/{project.id}").get_data(as_text=True)
    assert 'data-testid="add-task"' in page
    response = client.form(
        f"/projects/{project.id}/tasks",
        {
            "task-title": "Book the site visit",
            "task-due_on": "2026-12-03",
            "task-owner_id": str(lead.id),
        },
    )
    assert response.status_code == 302
    task = db.session.scalar(select(Task).where(Task.title == "Book the site visit"))
    assert task.owner_id == lead.id and task.project_id == project.id and task.team_id == team.id
    bad = client.form(
        f"/projects/{project.id}/tasks",
        {"task-title": "", "task-due_on": "", "task-owner_id": "999999"},
    )
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "Say what needs doing." in text and "Give a due date." in text
    assert "Choose the owner from the list." in text


def test_tasks_api(client, app):
    team, officer, lead = team_with_people()
    project = factories.project(team, owner=officer)
    headers = {"Authorization": f"Bearer {factories.token(officer)}"}
    created = client.post(
        "/api/v1/tasks",
        json={"title": "Send contract draft", "due_date": "2026-01-05", "project_id": project.id},
        headers=headers,
    )
    assert created.status_code == 201
    body = created.get_json()
    assert set(body) == {
        "id",
        "title",
        "owner_id",
        "team_id",
        "project_id",
        "visit_id",
        "due_date",
        "done_at",
        "note",
        "overdue",
    }
    assert body["owner_id"] == officer.id and body["overdue"] is True and body["done_at"] is None
    add(lead, "Lead's own", date(2026, 1, 1))
    mine = client.get("/api/v1/tasks", headers=headers).get_json()
    assert [t["title"] for t in mine["items"]] == ["Send contract draft"]
    team_tasks = client.get("/api/v1/tasks?scope=team&open=true", headers=headers).get_json()
    assert sorted(t["title"] for t in team_tasks["items"]) == ["Lead's own", "Send contract draft"]
    done = client.post(
        f"/api/v1/tasks/{body['id']}/complete", json={"note": "sent"}, headers=headers
    ).get_json()
    assert done["note"] == "sent" and done["done_at"] is not None and done["overdue"] is False
    again = client.post(f"/api/v1/tasks/{body['id']}/complete", json={}, headers=headers)
    assert again.status_code == 409
    bad = client.post("/api/v1/tasks", json={"title": "x"}, headers=headers)
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "due_date"


def test_complete_form_validation(client, app):
    _team, officer, _lead = team_with_people()
    task = add(officer, "Long note", local_today())
    login(client, officer.email)
    page = client.form(
        f"/tasks/{task.id}/complete", {"done-note": "x" * 5001}, follow_redirects=True
    ).get_data(as_text=True)
    assert "alert-danger" in page  # the length error, flashed
    db.session.expire_all()
    assert db.session.get(Task, task.id).done_at is None

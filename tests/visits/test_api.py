"""The visits API: shapes, filters, creation with follow-ups, errors and scoping."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from crm.enums import Role
from crm.extensions import db
from crm.pipeline.models import Project
from crm.visits.leads import local_today
from tests import factories
from tests.visits.support import log_visit, team_with_people

VISIT_KEYS = {
    "id",
    "date",
    "type",
    "city",
    "province",
    "region",
    "company_id",
    "company_name",
    "event_id",
    "project_ids",
    "participant_user_ids",
    "contact_ids",
    "purpose",
    "learned",
    "intent",
    "intent_amount",
    "land_mu",
    "expected_output",
    "conditions_asked",
    "outcome",
    "next_steps",
    "author_id",
    "team",
    "created_at",
}


@pytest.fixture
def setup(app):
    team, officer, lead = team_with_people()
    project = factories.project(team, owner=officer)
    headers = {"Authorization": f"Bearer {factories.token(officer)}"}
    return team, officer, lead, project, headers


def test_create_a_visit_and_read_it_back(client, setup):
    team, officer, lead, project, headers = setup
    day = (local_today() - timedelta(days=1)).isoformat()
    response = client.post(
        "/api/v1/visits",
        json={
            "date": day,
            "type": "company_came",
            "city": "杭州",
            "company_id": project.company_id,
            "project_ids": [project.id],
            "participant_user_ids": [lead.id],
            "new_contacts": [{"name": "许总", "phone": "13700001111"}],
            "purpose": "来访洽谈",
            "intent_amount": "35000.5",
            "outcome": "签约意向明确",
            "next_steps": "准备合同",
            "tasks": [{"title": "起草框架协议", "due_date": "2026-12-10"}],
        },
        headers=headers,
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert set(body) >= VISIT_KEYS
    assert body["date"] == day and body["type"] == "company_came"
    assert body["region"] == "yangtze-delta"  # suggested from the city
    assert body["project_ids"] == [project.id]
    assert body["participant_user_ids"] == sorted([officer.id, lead.id])
    assert len(body["contact_ids"]) == 1
    assert body["intent_amount"] == "35000.50"
    assert body["team"] == team.code and body["author_id"] == officer.id
    assert len(body["task_ids"]) == 1 and body["created_project_id"] is None
    assert response.headers["Location"] == f"/api/v1/visits/{body['id']}"
    again = client.get(f"/api/v1/visits/{body['id']}", headers=headers).get_json()
    assert {k: again[k] for k in VISIT_KEYS} == {k: body[k] for k in VISIT_KEYS}
    task = client.get(f"/api/v1/tasks/{body['task_ids'][0]}", headers=headers).get_json()
    assert task["project_id"] == project.id and task["visit_id"] == body["id"]


def test_create_with_a_new_company_and_lead(client, setup):
    _team, _officer, _lead, _project, headers = setup
    response = client.post(
        "/api/v1/visits",
        json={
            "date": (local_today() - timedelta(days=2)).isoformat(),
            "type": "online",
            "company_name": "API新建测试有限公司",
            "create_company": True,
            "new_project_name": "API线索项目",
            "tasks": [{"title": "回访", "due_date": "2026-12-01", "new_project": True}],
        },
        headers=headers,
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    lead = db.session.get(Project, body["created_project_id"])
    assert lead.name == "API线索项目" and body["project_ids"] == [lead.id]
    assert body["created_company"] is True and body["company_name"] == "API新建测试有限公司"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"type": "company_visit"}, "date"),
        ({"date": "2999-01-01", "type": "company_visit"}, "date"),
        ({"date": "2026-01-05", "type": "dinner"}, "type"),
        ({"date": "2026-01-05", "type": "online", "region": "mars"}, "region"),
        ({"date": "2026-01-05", "type": "online", "intent_amount": "-1"}, "intent_amount"),
        ({"date": "2026-01-05", "type": "online", "typo": 1}, "typo"),
        ({"date": "2026-01-05", "type": "online", "company_id": True}, "company_id"),
        ({"date": "2026-01-05", "type": "online", "land_mu": "很多"}, "land_mu"),
        ({"date": "2026-01-05", "type": "online", "company_name": "无此公司XYZ"}, "company_name"),
        (
            {
                "date": "2026-01-05",
                "type": "online",
                "company_name": "联系人测试有限公司",
                "create_company": True,
                "new_contacts": [{"name": "a", "phone": "1"}],
            },
            "new_contacts",
        ),
    ],
)
def test_create_errors_name_the_field(client, setup, payload, field):
    *_rest, headers = setup
    response = client.post("/api/v1/visits", json=payload, headers=headers)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert any(e["field"].split(".")[0] == field for e in response.get_json()["errors"])


def test_list_filters(client, setup):
    _team, officer, lead, project, headers = setup
    other_team, other_officer, _ = team_with_people()
    company = factories.company("筛选测试有限公司")
    d1, d2, d3 = date(2026, 3, 2), date(2026, 3, 9), date(2026, 3, 16)
    a = log_visit(officer, on=d1, project_ids=[project.id], city="北京").visit
    b = log_visit(lead, on=d2, company_id=company.id, city="上海").visit
    c = log_visit(officer, on=d3, participant_user_ids=[lead.id]).visit
    log_visit(other_officer, on=d2)
    leader_headers = {"Authorization": f"Bearer {factories.token(factories.user(Role.LEADER))}"}

    def ids(query, h=headers):
        response = client.get(f"/api/v1/visits?{query}", headers=h)
        assert response.status_code == 200, response.get_json()
        return [v["id"] for v in response.json["items"]]

    assert ids("") == [c.id, b.id, a.id]  # newest first, own team only
    assert ids("date_from=2026-03-05&date_to=2026-03-10") == [b.id]
    assert ids(f"user_id={lead.id}") == [c.id, b.id]  # author or participant
    assert ids("region=jing-jin-ji") == [a.id]
    assert ids(f"company_id={company.id}") == [b.id]
    assert ids(f"project_id={project.id}") == [a.id]
    assert ids("type=online") == []
    assert len(ids(f"team={other_team.code}", leader_headers)) == 1
    assert ids(f"team={other_team.code}") == []  # not visible to this officer
    bad = client.get("/api/v1/visits?team=nope", headers=headers)
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "team"


def test_other_teams_get_404_and_project_ids_are_filtered(client, setup):
    _team, officer, _lead, project, _headers = setup
    visit = log_visit(officer, project_ids=[project.id]).visit
    outsider = factories.user(team_obj=factories.team())
    out_headers = {"Authorization": f"Bearer {factories.token(outsider)}"}
    assert client.get(f"/api/v1/visits/{visit.id}", headers=out_headers).status_code == 404
    joint = factories.user(team_obj=factories.team())
    joint_visit = log_visit(
        officer, project_ids=[project.id], participant_user_ids=[joint.id]
    ).visit
    joint_headers = {"Authorization": f"Bearer {factories.token(joint)}"}
    body = client.get(f"/api/v1/visits/{joint_visit.id}", headers=joint_headers).get_json()
    assert body["project_ids"] == []  # took part, but may not see the project


def test_delete_a_visit(client, setup):
    _team, officer, _lead, project, headers = setup
    visit = log_visit(officer, project_ids=[project.id]).visit
    assert client.delete(f"/api/v1/visits/{visit.id}", headers=headers).status_code == 204
    assert client.get(f"/api/v1/visits/{visit.id}", headers=headers).status_code == 404


def test_openapi_lists_the_feature_endpoints(client, app):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path, method in [
        ("/api/v1/visits", "get"),
        ("/api/v1/visits", "post"),
        ("/api/v1/visits/{visit_id}", "get"),
        ("/api/v1/contacts", "post"),
        ("/api/v1/contacts/{contact_id}", "patch"),
        ("/api/v1/tasks", "get"),
        ("/api/v1/tasks/{task_id}/complete", "post"),
        ("/api/v1/events", "post"),
        ("/api/v1/events/{event_id}/sign", "post"),
        ("/api/v1/attachments", "post"),
        ("/api/v1/attachments/{attachment_id}/content", "get"),
        ("/api/v1/inquiries", "get"),
    ]:
        assert method in paths[path], (path, method)


def test_visit_form_helpers(client, setup):
    _team, _officer, _lead, project, headers = setup
    company = db.session.get(factories.Company, project.company_id)
    hidden = factories.project(factories.team(), company_obj=company)
    body = client.get(
        f"/api/v1/visits/company-suggestions?q={company.name}", headers=headers
    ).get_json()
    assert body["items"][0] == {"id": company.id, "name": company.name, "exact": True}
    options = client.get(f"/api/v1/visits/company-options/{company.id}", headers=headers).get_json()
    assert [p["id"] for p in options["projects"]] == [project.id]  # not the other team's
    assert hidden.id not in [p["id"] for p in options["projects"]]
    assert client.get("/api/v1/visits/company-options/999999", headers=headers).status_code == 404
    empty = client.get("/api/v1/visits/company-suggestions?q=", headers=headers)
    assert empty.status_code == 422

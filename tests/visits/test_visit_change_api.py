"""Editing a visit and turning it into a lead project through the API, as on the web:
fields left out are kept, links to projects the editor may not see stay, another team's
visit answers 404, leaders 403; each change recorded."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import insert, select

from crm.audit import AuditLog
from crm.enums import Role
from crm.extensions import db
from crm.visits.models import Visit, visit_project
from tests import factories
from tests.visits.support import log_visit, team_with_people


def auth(user):
    return {"Authorization": f"Bearer {factories.token(user)}"}


@pytest.fixture
def logged(app):
    team, officer, _lead = team_with_people()
    project = factories.project(team)
    visit = log_visit(
        officer, company_id=project.company_id, project_ids=[project.id], purpose="了解扩产计划"
    ).visit
    return team, officer, project, visit


def test_a_visit_is_patched_and_what_is_left_out_is_kept(client, logged):
    team, officer, project, visit = logged
    second = factories.project(team)
    url = f"/api/v1/visits/{visit.id}"
    response = client.patch(
        url,
        json={"intent_amount": "30000", "region": "yangtze-delta", "project_ids": [second.id]},
        headers=auth(officer),
    )
    assert response.status_code == 200, response.json
    body = response.get_json()
    assert body["intent_amount"] == "30000.00" and body["region"] == "yangtze-delta"
    assert body["purpose"] == "了解扩产计划" and body["type"] == "company_visit"
    assert body["project_ids"] == [second.id]
    entry = db.session.scalars(
        select(AuditLog).where(AuditLog.entity_type == "visit", AuditLog.action == "update")
    ).one()
    assert entry.changes["project_ids"] == [[project.id], [second.id]]
    assert db.session.get(Visit, visit.id).intent_amount == Decimal("30000.00")
    for bad, field in (({"date": None}, "date"), ({"region": "mars"}, "region")):
        refused = client.patch(url, json=bad, headers=auth(officer))
        assert refused.status_code == 422 and refused.get_json()["errors"][0]["field"] == field


def test_links_to_projects_the_editor_may_not_see_stay(client, logged):
    _team, officer, project, visit = logged
    hidden = factories.project(factories.team())
    db.session.execute(insert(visit_project).values(visit_id=visit.id, project_id=hidden.id))
    admin = factories.user(Role.ADMIN)
    response = client.patch(
        f"/api/v1/visits/{visit.id}", json={"project_ids": []}, headers=auth(officer)
    )
    assert response.status_code == 200 and response.get_json()["project_ids"] == []
    seen_by_admin = client.get(f"/api/v1/visits/{visit.id}", headers=auth(admin)).get_json()
    assert seen_by_admin["project_ids"] == [hidden.id]
    refused = client.patch(
        f"/api/v1/visits/{visit.id}", json={"project_ids": [hidden.id]}, headers=auth(officer)
    )
    assert refused.status_code == 422  # another team's project cannot be linked
    assert project.id not in seen_by_admin["project_ids"]


def test_a_lead_project_is_made_from_the_visit(client, logged):
    team, officer, _project, visit = logged
    client.patch(
        f"/api/v1/visits/{visit.id}", json={"intent_amount": "8000"}, headers=auth(officer)
    )
    response = client.post(
        f"/api/v1/visits/{visit.id}/lead-project", json={"name": "扩产项目"}, headers=auth(officer)
    )
    assert response.status_code == 201, response.json
    body = response.get_json()
    assert response.headers["Location"].endswith(f"/api/v1/projects/{body['id']}")
    assert (body["name"], body["stage"], body["team"]) == ("扩产项目", "lead", team.code)
    assert body["planned_investment"] == "8000.00"
    linked = client.get(f"/api/v1/visits/{visit.id}", headers=auth(officer)).get_json()
    assert body["id"] in linked["project_ids"]
    empty = client.post(
        f"/api/v1/visits/{visit.id}/lead-project", json={"name": ""}, headers=auth(officer)
    )
    assert empty.status_code == 422


def test_other_teams_get_404_and_leaders_403(client, logged):
    _team, _officer, _project, visit = logged
    before = db.session.get(Visit, visit.id).purpose
    outsider = auth(factories.user(Role.OFFICER, factories.team()))
    leader = auth(factories.user(Role.LEADER))
    for headers, status in ((outsider, 404), (leader, 403)):
        patch = client.patch(f"/api/v1/visits/{visit.id}", json={"purpose": "x"}, headers=headers)
        assert patch.status_code == status
        lead = client.post(
            f"/api/v1/visits/{visit.id}/lead-project", json={"name": "x"}, headers=headers
        )
        assert lead.status_code == status
    db.session.expire_all()
    assert db.session.get(Visit, visit.id).purpose == before
    assert client.patch("/api/v1/visits/987654", json={}, headers=outsider).status_code == 404

"""Saved incentive evaluations through the API: saved like the web saves them (policy
versions, note, who, when), listed and read back unchanged after a policy changes; scoped
to the project (another team's answers 404), leaders cannot save."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from crm.enums import Role
from crm.extensions import db
from crm.incentives import store
from crm.incentives.models import SavedEvaluation
from crm.pipeline.models import Project
from tests import factories
from tests.incentives.app_support import (
    CHANGSHA_ETDZ,
    MOFCOM,
    bearer,
    changed_policy_text,
    officer_with_team,
    project_in,
)

RD = {"rd_expense": "5000", "rd_expense_prev": "2000"}


@pytest.fixture
def officer(app):
    return officer_with_team()


def save(client, headers, project_id, **body):
    return client.post(f"/api/v1/projects/{project_id}/evaluations", json=body, headers=headers)


def test_saving_keeps_the_evaluation_as_the_web_does(client, officer):
    user, team = officer
    project = project_in(team, landed="changsha-etdz")
    headers = bearer(user)
    response = save(
        client,
        headers,
        project.id,
        zone="changsha-etdz",
        as_of="2026-06-01",
        note="pitch",
        facts=RD,
    )
    assert response.status_code == 201, response.json
    body = response.get_json()
    assert response.headers["Location"].endswith(f"/api/v1/evaluations/{body['id']}")
    assert body["policy_versions"] == {CHANGSHA_ETDZ: 1, MOFCOM: 1}
    assert body["total_applies"] == "200.00" and body["note"] == "pitch"
    assert body["created_by_id"] == user.id and body["created_by"] == user.name
    assert body["zone"] == "changsha-etdz" and body["as_of"] == "2026-06-01"
    assert body["facts"]["rd_expense"] == "5000"
    assert any(r["status"] == "applies" and r["cap_applied"] for r in body["results"])
    stored = db.session.scalar(
        select(SavedEvaluation).where(SavedEvaluation.project_id == project.id)
    )
    assert stored.id == body["id"] and stored.total_applies == Decimal("200.00")

    # A new policy version later: the saved evaluation reads exactly as it was saved.
    store.save_version(
        db.session,
        changed_policy_text("2026-01-31"),
        file_name="m.yaml",
        origin="upload",
        user_id=factories.user(Role.ADMIN).id,
    )
    again = client.get(f"/api/v1/evaluations/{body['id']}", headers=headers).get_json()
    assert again == body
    listed = client.get(f"/api/v1/projects/{project.id}/evaluations", headers=headers).get_json()
    assert listed["total"] == 1
    summary = listed["items"][0]
    assert summary["id"] == body["id"] and summary["note"] == "pitch"
    assert summary["policy_versions"] == {CHANGSHA_ETDZ: 1, MOFCOM: 1}
    assert "results" not in summary


def test_defaults_are_the_projects_zone_and_stored_facts(client, officer):
    user, team = officer
    project = project_in(team, landed="changsha-etdz", facts=RD)
    response = save(client, bearer(user), project.id, as_of="2026-06-01")
    assert response.status_code == 201
    body = response.get_json()
    assert body["zone"] == "changsha-etdz" and body["total_applies"] == "200.00"
    assert body["note"] is None


def test_bad_input_is_422_with_the_field_and_saves_nothing(client, officer):
    user, team = officer
    project = project_in(team, target="changsha-etdz")
    no_zone = factories.project(team)
    headers = bearer(user)
    cases = [
        (project.id, {"zone": "atlantis"}, "zone"),
        (project.id, {"as_of": "2026-02-30"}, "as_of"),
        (project.id, {"facts": {"rd_expense": "lots"}}, "facts.rd_expense"),
        (project.id, {"note": "x" * 2001}, "note"),
        (project.id, {"zonee": "changsha-etdz"}, "zonee"),
        (no_zone.id, {}, "zone"),
        (no_zone.id, {"facts": {"rd_expense": "-1"}}, "facts.rd_expense"),  # both named
    ]
    for project_id, body, field in cases:
        response = save(client, headers, project_id, **body)
        assert response.status_code == 422, (body, response.json)
        assert response.mimetype == "application/problem+json"
        assert field in [e["field"] for e in response.get_json()["errors"]], body
    assert db.session.scalar(select(SavedEvaluation.id)) is None


def test_other_teams_get_404_and_leaders_cannot_save(client, officer):
    user, team = officer
    project = project_in(team, landed="changsha-etdz")
    saved_id = save(client, bearer(user), project.id).get_json()["id"]
    outsider = bearer(factories.user(Role.OFFICER, factories.team()))
    for url in (f"/api/v1/projects/{project.id}/evaluations", f"/api/v1/evaluations/{saved_id}"):
        assert client.get(url, headers=outsider).status_code == 404
    assert save(client, outsider, project.id).status_code == 404
    assert client.get("/api/v1/evaluations/987654", headers=outsider).status_code == 404
    leader = bearer(factories.user(Role.LEADER))
    assert client.get(f"/api/v1/evaluations/{saved_id}", headers=leader).status_code == 200
    assert save(client, leader, project.id).status_code == 403
    count = db.session.scalars(select(SavedEvaluation.id)).all()
    assert count == [saved_id]


def test_the_list_is_newest_first_and_paged(client, officer):
    user, team = officer
    project = project_in(team, landed="changsha-etdz")
    headers = bearer(user)
    ids = [save(client, headers, project.id, note=str(n)).get_json()["id"] for n in range(3)]
    url = f"/api/v1/projects/{project.id}/evaluations"
    first = client.get(f"{url}?per_page=2", headers=headers).get_json()
    assert [i["id"] for i in first["items"]] == ids[::-1][:2] and first["total"] == 3
    second = client.get(f"{url}?per_page=2&page=2", headers=headers).get_json()
    assert [i["id"] for i in second["items"]] == [ids[0]] and second["total"] == 3
    beyond = client.get(f"{url}?per_page=2&page=5", headers=headers).get_json()
    assert beyond["items"] == [] and beyond["total"] == 3


def test_the_projects_facts_are_read_and_replaced_all_or_nothing(client, officer):
    user, team = officer
    project = project_in(team, landed="changsha-etdz", facts={"good_credit": True})
    headers = bearer(user)
    url = f"/api/v1/projects/{project.id}/incentive-facts"
    read = client.get(url, headers=headers).get_json()
    assert read["facts"] == {"good_credit": True}
    assert read["derived"] == {"chain": "automobile", "planned_investment": "5000.00"}
    refused = client.put(url, json={"facts": {**RD, "rd_expense_prev": "many"}}, headers=headers)
    assert refused.status_code == 422
    assert refused.get_json()["errors"][0]["field"] == "facts.rd_expense_prev"
    assert client.get(url, headers=headers).get_json()["facts"] == {"good_credit": True}
    # chain and planned_investment stay the project's own fields.
    kept = client.put(url, json={"facts": {**RD, "chain": "biomedicine"}}, headers=headers)
    assert kept.status_code == 200
    assert kept.get_json()["facts"] == RD and kept.get_json()["derived"]["chain"] == "automobile"
    assert db.session.get(Project, project.id).facts == RD
    saved = save(client, headers, project.id, as_of="2026-06-01").get_json()
    assert saved["total_applies"] == "200.00"  # evaluated with the stored facts
    outsider = bearer(factories.user(Role.OFFICER, factories.team()))
    assert client.get(url, headers=outsider).status_code == 404
    assert client.put(url, json={"facts": {}}, headers=outsider).status_code == 404
    leader = bearer(factories.user(Role.LEADER))
    assert client.put(url, json={"facts": {}}, headers=leader).status_code == 403
    assert db.session.get(Project, project.id).facts == RD

"""Managing a project through the API as the sharing page does: key marks, shares,
reassigning. A lead of the project's team or an admin; each change in the history; the
other team gets 404 (like a missing project), officers and leaders 403."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm.enums import Role
from crm.extensions import db
from crm.pipeline.models import Project, ProjectShare
from tests import factories


def auth(user, **extra):
    return {"Authorization": f"Bearer {factories.token(user)}", **extra}


@pytest.fixture
def team(app):
    return factories.team()


@pytest.fixture
def other(app):
    return factories.team()


@pytest.fixture
def lead(team):
    return factories.user(Role.LEAD, team)


@pytest.fixture
def officer(team):
    return factories.user(Role.OFFICER, team)


@pytest.fixture
def project(team, officer):
    return factories.project(team, owner=officer, amount="5000")


def fresh(project_id):
    db.session.expire_all()
    return db.session.get(Project, project_id)


def history(client, user, project_id):
    url = f"/api/v1/projects/{project_id}/history"
    return client.get(url, headers=auth(user)).get_json()["items"]


def test_a_lead_marks_and_unmarks_a_key_project_with_a_reason(client, lead, project):
    url = f"/api/v1/projects/{project.id}/key-mark"
    marked = client.put(url, json={"reason": "市领导关注"}, headers=auth(lead))
    assert marked.status_code == 200, marked.json
    body = marked.get_json()
    assert body["is_key"] and body["key_reasons"] == ["manual"]
    assert body["key_manual_reason"] == "市领导关注"
    assert marked.headers["ETag"] == f'"{body["version"]}"' and body["version"] == 2
    entry = history(client, lead, project.id)[0]
    assert entry["action"] == "key_mark" and entry["changes"]["reason"] == [None, "市领导关注"]

    unmarked = client.delete(url, json={"reason": "priority dropped"}, headers=auth(lead))
    assert unmarked.status_code == 200
    assert not unmarked.get_json()["is_key"] and unmarked.get_json()["key_reasons"] == []
    assert history(client, lead, project.id)[0]["action"] == "key_unmark"
    # Removing a mark that is not there, or without a reason: 422 naming the field.
    again = client.delete(url, json={"reason": "x"}, headers=auth(lead))
    assert again.status_code == 422 and again.get_json()["errors"][0]["field"] == "reason"
    empty = client.put(url, json={"reason": ""}, headers=auth(lead))
    assert empty.status_code == 422 and empty.get_json()["errors"][0]["field"] == "reason"


def test_a_key_mark_with_a_stale_if_match_is_412_and_changes_nothing(client, lead, project):
    url = f"/api/v1/projects/{project.id}/key-mark"
    stale = auth(lead, **{"If-Match": f'"{project.version}"'})
    client.patch(
        f"/api/v1/projects/{project.id}",
        json={"notes": "changed first"},
        headers=auth(lead, **{"If-Match": f'"{project.version}"'}),
    )
    response = client.put(url, json={"reason": "late"}, headers=stale)
    assert response.status_code == 412
    assert response.mimetype == "application/problem+json"
    assert [c["field"] for c in response.get_json()["changes"]] == ["notes"]
    assert not fresh(project.id).key_manual
    current = response.headers["ETag"]
    ok = client.put(url, json={"reason": "late"}, headers=auth(lead, **{"If-Match": current}))
    assert ok.status_code == 200 and ok.get_json()["is_key"]


def test_sharing_is_listed_created_changed_and_ended(client, lead, project, other):
    base = f"/api/v1/projects/{project.id}/shares"
    assert client.get(base, headers=auth(lead)).get_json() == {"items": []}
    created = client.post(base, json={"team": other.code}, headers=auth(lead))
    assert created.status_code == 201
    assert created.get_json()["team"] == other.code and created.get_json()["access"] == "read"
    changed = client.post(base, json={"team": other.code, "access": "edit"}, headers=auth(lead))
    assert changed.status_code == 200 and changed.get_json()["access"] == "edit"
    listed = client.get(base, headers=auth(lead)).get_json()["items"]
    assert [(s["team"], s["access"]) for s in listed] == [(other.code, "edit")]
    # The other team's officer now sees and may change the project.
    outsider = factories.user(Role.OFFICER, other)
    assert client.get(f"/api/v1/projects/{project.id}", headers=auth(outsider)).status_code == 200

    assert client.delete(f"{base}/{other.code}", headers=auth(lead)).status_code == 204
    assert client.get(f"/api/v1/projects/{project.id}", headers=auth(outsider)).status_code == 404
    assert client.delete(f"{base}/{other.code}", headers=auth(lead)).status_code == 404
    assert client.delete(f"{base}/no-such-team", headers=auth(lead)).status_code == 404
    actions = [(e["action"], e["changes"]) for e in history(client, lead, project.id)]
    key = f"share:{other.code}"
    assert actions[:3] == [
        ("unshare", {key: ["edit", None]}),
        ("share", {key: ["read", "edit"]}),
        ("share", {key: [None, "read"]}),
    ]


def test_sharing_refuses_unknown_teams_and_the_own_team(client, lead, project, team):
    base = f"/api/v1/projects/{project.id}/shares"
    for body in ({"team": "no-such-team"}, {"team": team.code}, {"team": "x", "access": "all"}):
        response = client.post(base, json=body, headers=auth(lead))
        assert response.status_code == 422, body
        assert response.get_json()["errors"][0]["field"] in ("team", "access")
    assert db.session.scalar(select(ProjectShare.id)) is None


def test_reassigning_to_another_owner_and_team_is_recorded(client, lead, project, other):
    newcomer = factories.user(Role.OFFICER, other)
    url = f"/api/v1/projects/{project.id}/reassign"
    wrong = client.post(url, json={"owner_id": newcomer.id}, headers=auth(lead))
    assert wrong.status_code == 422 and wrong.get_json()["errors"][0]["field"] == "owner_id"
    moved = client.post(url, json={"team": other.code, "owner_id": newcomer.id}, headers=auth(lead))
    assert moved.status_code == 200, moved.json
    body = moved.get_json()
    assert (body["team"], body["owner_id"]) == (other.code, newcomer.id)
    assert moved.headers["ETag"] == f'"{body["version"]}"'
    # The project left the lead's team: the lead no longer sees it, its new team does.
    assert client.get(f"/api/v1/projects/{project.id}", headers=auth(lead)).status_code == 404
    entry = history(client, newcomer, project.id)[0]
    assert entry["action"] == "reassign"
    assert entry["changes"]["team"][1] == other.code
    assert entry["changes"]["owner_id"][1] == newcomer.id


def test_reassigning_keeps_what_is_left_out(client, lead, project, officer, team):
    url = f"/api/v1/projects/{project.id}/reassign"
    response = client.post(url, json={"team": team.code}, headers=auth(lead))
    assert response.status_code == 200 and response.get_json()["owner_id"] == officer.id
    cleared = client.post(url, json={"owner_id": None}, headers=auth(lead))
    assert cleared.status_code == 200 and cleared.get_json()["owner_id"] is None


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("PUT", "/key-mark", {"reason": "r"}),
        ("DELETE", "/key-mark", {"reason": "r"}),
        ("GET", "/shares", None),
        ("POST", "/shares", {"team": "OTHER"}),
        ("DELETE", "/shares/OTHER", None),
        ("POST", "/reassign", {"owner_id": None}),
    ],
)
def test_only_a_lead_of_the_team_or_an_admin_manages(
    client, project, officer, other, method, suffix, body
):
    """Another team (even its lead) gets 404 as for a missing project; the team's officer
    and leaders 403; nothing changes."""
    factories.share(project, factories.team("shared-with"))
    suffix = suffix.replace("OTHER", other.code)
    url = f"/api/v1/projects/{project.id}{suffix}"
    before = (fresh(project.id).version, db.session.scalars(select(ProjectShare.team_id)).all())
    refusals = {
        404: [factories.user(Role.LEAD, other), factories.user(Role.OFFICER, other)],
        403: [officer, factories.user(Role.LEADER)],
    }
    for status, users in refusals.items():
        for user in users:
            response = client.open(url, method=method, json=body, headers=auth(user))
            assert response.status_code == status, (user.role, response.json)
            assert response.mimetype == "application/problem+json"
    assert client.open(url, method=method, json=body).status_code == 401
    after = (fresh(project.id).version, db.session.scalars(select(ProjectShare.team_id)).all())
    assert after == before
    missing = f"/api/v1/projects/987654{suffix}"
    admin = factories.user(Role.ADMIN)
    assert client.open(missing, method=method, json=body, headers=auth(admin)).status_code == 404

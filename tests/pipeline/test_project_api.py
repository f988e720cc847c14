"""The project API: create, list (page and cursor), read, PATCH with If-Match, transitions,
history, delete and restore; scoping and roles."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm.enums import Role, Stage
from crm.extensions import db
from crm.pipeline.models import Company, Project
from crm.pipeline.stages import local_today
from tests import factories

TODAY = local_today()


def auth(token, **extra):
    return {"Authorization": f"Bearer {token}", **extra}


@pytest.fixture
def team(app):
    return factories.team()


@pytest.fixture
def officer(team):
    return factories.user(Role.OFFICER, team)


@pytest.fixture
def token(officer):
    return factories.token(officer)


def create(client, token, **body):
    body.setdefault("name", "接口项目")
    body.setdefault("company_name", "接口测试有限公司")
    return client.post("/api/v1/projects", json=body, headers=auth(token))


def test_create_with_a_new_company_returns_the_project_with_etag(client, token, officer):
    response = create(
        client,
        token,
        chain="automobile",
        target_zone="changsha-etdz",
        planned_investment="100000.00",
        foreign_capital_usd=2500000,
        source_region="yangtze-delta",
    )
    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["ETag"] == f'"{body["version"]}"'
    assert response.headers["Location"].endswith(f"/api/v1/projects/{body['id']}")
    assert body["company_name"] == "接口测试有限公司"
    assert body["planned_investment"] == "100000.00"  # a decimal string in 万元
    assert body["foreign_capital_usd"] == "2500000.00"
    assert (body["chain"], body["target_zone"], body["source_region"]) == (
        "automobile",
        "changsha-etdz",
        "yangtze-delta",
    )
    assert body["stage"] == "lead" and body["stage_dates"] == {"lead": TODAY.isoformat()}
    assert body["owner_id"] == officer.id and body["is_key"] and body["key_reasons"] == ["amount"]
    for key in ("id", "company_id", "landed_zone", "team", "version", "created_at", "updated_at"):
        assert key in body


def test_create_names_an_existing_company_or_uses_company_id(client, token):
    company = factories.company("上汽大众汽车有限公司", aliases=["上汽大众"])
    assert create(client, token, company_name="上汽大众").get_json()["company_id"] == company.id
    body = create(client, token, company_name=None, company_id=company.id).get_json()
    assert body["company_id"] == company.id


def test_create_at_a_later_stage_with_all_dates(client, token):
    signed = TODAY - timedelta(days=30)
    response = create(
        client,
        token,
        stage="started",
        stage_dates={
            "negotiating": signed.isoformat(),
            "signed": signed.isoformat(),
            "landed": signed.isoformat(),
            "started": (signed + timedelta(days=18)).isoformat(),
        },
    )
    assert response.status_code == 201, response.get_json()
    assert (
        response.get_json()["stage_dates"]["started"] == (signed + timedelta(days=18)).isoformat()
    )
    missing = create(client, token, stage="signed", stage_dates={"signed": signed.isoformat()})
    assert missing.status_code == 422
    assert missing.get_json()["errors"][0]["field"] == "dates.negotiating"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"colour": "red"}, "colour"),
        ({"planned_investment": "-1"}, "planned_investment"),
        ({"planned_investment": "1.234"}, "planned_investment"),
        ({"chain": "no-such-chain"}, "chain"),
        ({"name": ""}, "name"),
    ],
)
def test_invalid_input_is_a_422_naming_the_field(client, token, body, field):
    response = create(client, token, **body)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert field in {e["field"] for e in response.get_json()["errors"]}


def test_leaders_cannot_write(client, team):
    project = factories.project(team)
    leader_token = factories.token(factories.user(Role.LEADER))
    assert create(client, leader_token).status_code == 403
    assert (
        client.patch(
            f"/api/v1/projects/{project.id}",
            json={"notes": "x"},
            headers=auth(leader_token, **{"If-Match": f'"{project.version}"'}),
        ).status_code
        == 403
    )
    assert (
        client.get(f"/api/v1/projects/{project.id}", headers=auth(leader_token)).status_code == 200
    )


def test_other_teams_get_404(client, team):
    project = factories.project(team)
    stranger = factories.token(factories.user(Role.OFFICER, factories.team()))
    headers = auth(stranger, **{"If-Match": f'"{project.version}"'})
    assert client.get(f"/api/v1/projects/{project.id}", headers=headers).status_code == 404
    assert (
        client.patch(f"/api/v1/projects/{project.id}", json={}, headers=headers).status_code == 404
    )
    assert (
        client.post(
            f"/api/v1/projects/{project.id}/transitions", json={"to": "signed"}, headers=headers
        ).status_code
        == 404
    )
    assert client.get(f"/api/v1/projects/{project.id}/history", headers=headers).status_code == 404


def test_patch_requires_if_match_and_answers_with_a_new_etag(client, token, team):
    project = factories.project(team, amount="5000")
    url = f"/api/v1/projects/{project.id}"
    response = client.patch(url, json={"notes": "x"}, headers=auth(token))
    assert response.status_code == 428
    assert response.mimetype == "application/problem+json"
    etag = client.get(url, headers=auth(token)).headers["ETag"]
    response = client.patch(
        url,
        json={"notes": "checked", "planned_investment": "100000"},
        headers=auth(token, **{"If-Match": etag}),
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["notes"] == "checked" and body["is_key"]
    assert response.headers["ETag"] != etag == f'"{project.version - 1}"'


def test_patch_with_a_stale_etag_is_412_and_says_what_changed(client, token, team, officer):
    project = factories.project(team, amount="5000")
    url = f"/api/v1/projects/{project.id}"
    etag = client.get(url, headers=auth(token)).headers["ETag"]
    first = client.patch(
        url, json={"planned_investment": "7000"}, headers=auth(token, **{"If-Match": etag})
    )
    assert first.status_code == 200
    second = client.patch(url, json={"notes": "mine"}, headers=auth(token, **{"If-Match": etag}))
    assert second.status_code == 412
    assert second.mimetype == "application/problem+json"
    problem = second.get_json()
    assert problem["status"] == 412 and "planned_investment" in problem["detail"]
    changed = {c["field"]: c for c in problem["changes"]}
    assert changed["planned_investment"]["value"] == "7000.00"
    assert changed["planned_investment"]["by_id"] == officer.id
    assert second.headers["ETag"] == first.headers["ETag"]
    assert db.session.get(Project, project.id).notes is None


def test_patch_refuses_unknown_and_read_only_fields(client, token, team):
    project = factories.project(team)
    headers = auth(token, **{"If-Match": f'"{project.version}"'})
    for body in ({"stage": "signed"}, {"is_key": True}, {"version": 9}, {"nmae": "typo"}):
        response = client.patch(f"/api/v1/projects/{project.id}", json=body, headers=headers)
        assert response.status_code == 422, body


def test_transitions_through_the_api(client, token, team):
    project = factories.project(team, lead_on=TODAY - timedelta(days=60))
    url = f"/api/v1/projects/{project.id}/transitions"
    skipped = client.post(
        url, json={"to": "signed", "date": TODAY.isoformat()}, headers=auth(token)
    )
    assert skipped.status_code == 422
    assert skipped.get_json()["errors"][0]["field"] == "dates.negotiating"
    future = client.post(
        url,
        json={"to": "negotiating", "date": (TODAY + timedelta(days=1)).isoformat()},
        headers=auth(token),
    )
    assert future.status_code == 422 and future.get_json()["errors"][0]["field"] == "date"
    signed = TODAY - timedelta(days=10)
    response = client.post(
        url,
        json={
            "to": "signed",
            "date": signed.isoformat(),
            "note": "签约仪式",
            "dates": {"negotiating": (TODAY - timedelta(days=30)).isoformat()},
        },
        headers=auth(token),
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["stage"] == "signed" and body["stage_dates"]["signed"] == signed.isoformat()
    assert response.headers["ETag"] == f'"{body["version"]}"'
    back = client.post(url, json={"to": "negotiating"}, headers=auth(token))
    assert back.status_code == 422 and back.get_json()["errors"][0]["field"] == "reason"
    back = client.post(url, json={"to": "negotiating", "reason": "重新谈判"}, headers=auth(token))
    assert back.status_code == 201 and back.get_json()["stage"] == "negotiating"
    drop = client.post(url, json={"to": "dropped"}, headers=auth(token))
    assert drop.get_json()["errors"][0]["field"] == "drop_reason"
    drop = client.post(url, json={"to": "dropped", "drop_reason": "funding"}, headers=auth(token))
    assert drop.status_code == 201 and drop.get_json()["stage"] == "dropped"
    stale = client.post(
        url,
        json={"to": "lead", "reason": "x"},
        headers=auth(token, **{"If-Match": '"1"'}),
    )
    assert stale.status_code == 412


def test_history_lists_stage_changes_and_audit_entries(client, token, team):
    project_id = create(client, token).get_json()["id"]
    client.post(
        f"/api/v1/projects/{project_id}/transitions",
        json={"to": "negotiating", "note": "初次洽谈"},
        headers=auth(token),
    )
    body = client.get(f"/api/v1/projects/{project_id}/history", headers=auth(token)).get_json()
    assert [c["to_stage"] for c in body["stage_changes"]] == ["lead", "negotiating"]
    assert body["stage_changes"][1]["note"] == "初次洽谈"
    actions = [e["action"] for e in body["items"]]
    assert actions[:2] == ["stage_change", "create"] and body["total"] == 2
    assert body["items"][0]["changes"]["stage"] == ["lead", "negotiating"]


def test_list_filters_and_cursor(client, team, officer, token):
    other = factories.team()
    key = factories.project(team, stage=Stage.SIGNED, is_key=True, chain="automobile")
    plain = factories.project(team, chain="biomedicine")
    factories.project(other)  # invisible
    headers = auth(token)
    body = client.get("/api/v1/projects", headers=headers).get_json()
    assert body["total"] == 2 and {p["id"] for p in body["items"]} == {key.id, plain.id}
    assert client.get("/api/v1/projects?stage=signed", headers=headers).get_json()["total"] == 1
    assert (
        client.get("/api/v1/projects?is_key=true", headers=headers).get_json()["items"][0]["id"]
        == key.id
    )
    chain = client.get("/api/v1/projects?chain=biomedicine", headers=headers).get_json()
    assert [p["id"] for p in chain["items"]] == [plain.id]
    assert (
        client.get(f"/api/v1/projects?team={other.code}", headers=headers).get_json()["total"] == 0
    )
    for _ in range(3):
        factories.project(team)
    seen, cursor = [], ""
    while cursor is not None:
        page = client.get(f"/api/v1/projects?per_page=2&cursor={cursor}", headers=headers)
        body = page.get_json()
        seen += [p["id"] for p in body["items"]]
        cursor = body["next_cursor"]
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 5
    assert client.get("/api/v1/projects?cursor=abc", headers=headers).status_code == 422


def test_admin_deletes_softly_and_restores(client, team, token):
    project = factories.project(team)
    admin_token = factories.token(factories.user(Role.ADMIN))
    url = f"/api/v1/projects/{project.id}"
    assert client.delete(url, headers=auth(token)).status_code == 403
    assert client.delete(url, headers=auth(admin_token)).status_code == 204
    assert client.get(url, headers=auth(token)).status_code == 404
    assert db.session.get(Project, project.id) is not None  # soft
    response = client.post(f"{url}/restore", headers=auth(admin_token))
    assert response.status_code == 200
    assert client.get(url, headers=auth(token)).status_code == 200


def test_company_created_through_the_api_is_found_again(client, token):
    first = create(client, token, company_name="长沙新材料股份有限公司").get_json()
    second = create(client, token, company_name="长沙新材料有限公司").get_json()
    assert first["company_id"] == second["company_id"]
    assert db.session.get(Company, first["company_id"]).name == "长沙新材料股份有限公司"

"""API conventions: tokens, problem documents, pagination, OpenAPI, reference endpoints."""

from __future__ import annotations

from crm.accounts.services import issue_token, revoke_token, set_active
from crm.enums import Role
from crm.extensions import db
from tests import factories


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_me_with_token(client):
    user = factories.user(Role.OFFICER)
    response = client.get("/api/v1/me", headers=auth(factories.token(user)))
    assert response.status_code == 200
    body = response.get_json()
    assert body["email"] == user.email and body["role"] == "officer"
    assert body["team"]["code"]


def test_missing_or_bad_token_is_a_401_problem(client):
    for headers in ({}, auth("crm_not-a-real-token")):
        response = client.get("/api/v1/me", headers=headers)
        assert response.status_code == 401
        assert response.mimetype == "application/problem+json"
        assert response.get_json()["status"] == 401


def test_revoked_token_and_deactivated_user_are_refused(client):
    user = factories.user(Role.OFFICER)
    issued = issue_token(db.session, user, "script")
    assert client.get("/api/v1/me", headers=auth(issued.secret)).status_code == 200
    revoke_token(db.session, issued.token, user.id)
    assert client.get("/api/v1/me", headers=auth(issued.secret)).status_code == 401
    second = issue_token(db.session, user, "other")
    set_active(db.session, user, False)
    assert client.get("/api/v1/me", headers=auth(second.secret)).status_code == 401


def test_tokens_are_stored_hashed(app):
    user = factories.user(Role.OFFICER)
    issued = issue_token(db.session, user, "x")
    assert issued.secret not in (issued.token.token_hash, issued.token.prefix)


def test_reference_endpoints(client):
    token = factories.token(factories.user(Role.OFFICER))
    chains = client.get("/api/v1/chains?per_page=200", headers=auth(token)).get_json()
    assert chains["total"] == 22 and len(chains["items"]) == 22
    codes = {c["code"] for c in chains["items"]}
    assert {"construction-machinery", "aerospace-beidou", "intelligent-equipment"} <= codes
    assert sum(c["confirmed"] for c in chains["items"]) == 13
    zones = client.get("/api/v1/zones", headers=auth(token)).get_json()["items"]
    levels = {z["code"]: z["level"] for z in zones}
    assert levels["changsha-etdz"] == "national_etdz"
    assert levels["changsha-hitech"] == "national_hitech"
    assert levels["shanghai-changning"] == "district"
    regions = client.get("/api/v1/regions", headers=auth(token)).get_json()["items"]
    assert [r["code"] for r in regions][:4] == [
        "jing-jin-ji",
        "yangtze-delta",
        "greater-bay-area",
        "chengdu-chongqing",
    ]
    assert all(r["name_zh"] and r["name_en"] for r in regions)
    teams = client.get("/api/v1/teams", headers=auth(token)).get_json()
    assert set(teams) == {"items", "total", "page", "per_page"}


def test_pagination_envelope_and_limits(client):
    token = factories.token(factories.user(Role.OFFICER))
    page = client.get("/api/v1/chains?page=2&per_page=5", headers=auth(token)).get_json()
    assert page["page"] == 2 and page["per_page"] == 5 and len(page["items"]) == 5
    too_big = client.get("/api/v1/chains?per_page=201", headers=auth(token))
    assert too_big.status_code == 422
    problem = too_big.get_json()
    assert problem["errors"][0]["field"] == "per_page"
    assert client.get("/api/v1/chains?page=abc", headers=auth(token)).status_code == 422


def test_openapi_document_lists_every_api_route(client, app):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    documented = {path for path in doc["paths"]}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api.") and rule.endpoint != "api.openapi_document":
            path = rule.rule.replace("<int:", "{").replace("<", "{").replace(">", "}")
            assert path in documented, f"{rule.rule} missing from the OpenAPI document"


def test_unknown_api_path_is_a_problem_document(client):
    response = client.get("/api/v1/nope")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_browser_session_can_read_the_api_but_needs_csrf_to_write(client):
    from tests.conftest import login

    user = factories.user(Role.OFFICER)
    login(client, user.email)
    assert client.get("/api/v1/me").status_code == 200

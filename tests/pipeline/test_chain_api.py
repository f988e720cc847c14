"""The chain admin API: `GET /chains` (retired ones on request), admins' `POST /chains`,
`PATCH /chains/{code}` and `POST /chains/{code}/merge`, with problem documents naming the
field at fault."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm.enums import Role
from crm.extensions import db
from crm.pipeline.models import Project
from crm.reference.models import IndustrialChain
from tests import factories


def auth(user) -> dict[str, str]:
    return {"Authorization": f"Bearer {factories.token(user)}"}


@pytest.fixture
def admin(app):
    return auth(factories.user(Role.ADMIN))


def codes(client, headers, **params) -> list[str]:
    query = "&".join(f"{k}={v}" for k, v in {"per_page": 200, **params}.items())
    body = client.get(f"/api/v1/chains?{query}", headers=headers).get_json()
    return [c["code"] for c in body["items"]]


def test_add_a_chain(client, admin):
    response = client.post(
        "/api/v1/chains",
        json={"code": "new-materials", "name_zh": "新材料", "source": "2025 plan"},
        headers=admin,
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["code"] == "new-materials" and body["name_en"] == "新材料"
    assert body["confirmed"] is False and body["retired"] is False
    assert body["chain_set"] == "changsha-2017" and body["source"] == "2025 plan"
    assert "new-materials" in codes(client, admin)


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        ({"code": "automobile", "name_zh": "重复"}, 409, "code"),
        ({"code": "Bad Code", "name_zh": "坏"}, 422, "code"),
        ({"code": "fine-code", "name_zh": "   "}, 422, "name_zh"),
        ({"code": "fine-code"}, 422, "name_zh"),
        ({"code": "fine-code", "name_zh": "好", "colour": "red"}, 422, "colour"),
    ],
)
def test_add_refusals_name_the_field(client, admin, payload, status, field):
    response = client.post("/api/v1/chains", json=payload, headers=admin)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert field in [e["field"] for e in response.get_json()["errors"]]
    found = db.session.scalar(select(IndustrialChain).where(IndustrialChain.code == "fine-code"))
    assert found is None


def test_rename_confirm_and_retire_then_restore(client, admin):
    response = client.patch(
        "/api/v1/chains/biomedicine",
        json={"name_zh": "生物医药(含医疗器械)", "confirmed": True, "source": "2023 report"},
        headers=admin,
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["name_zh"] == "生物医药(含医疗器械)" and body["confirmed"] is True
    assert "生物医药" in body["aliases_zh"]
    retired = client.patch("/api/v1/chains/biomedicine", json={"retired": True}, headers=admin)
    assert retired.get_json()["retired"] is True
    assert "biomedicine" not in codes(client, admin)
    assert "biomedicine" in codes(client, admin, include_retired="true")
    client.patch("/api/v1/chains/biomedicine", json={"retired": False}, headers=admin)
    assert "biomedicine" in codes(client, admin)


def test_patch_refusals(client, admin):
    empty = client.patch("/api/v1/chains/big-data", json={"name_zh": ""}, headers=admin)
    assert empty.status_code == 422 and empty.get_json()["errors"][0]["field"] == "name_zh"
    blank = client.patch("/api/v1/chains/big-data", json={"name_zh": "  "}, headers=admin)
    assert blank.status_code == 422 and blank.get_json()["errors"][0]["field"] == "name_zh"
    null = client.patch("/api/v1/chains/big-data", json={"name_zh": None}, headers=admin)
    assert null.status_code == 200 and null.get_json()["name_zh"].startswith("大数据")
    assert client.patch("/api/v1/chains/nope", json={}, headers=admin).status_code == 404


def test_merge_moves_projects(client, admin):
    team = factories.team()
    moving = [factories.project(team, chain="gene-technology") for _ in range(2)]
    response = client.post(
        "/api/v1/chains/gene-technology/merge", json={"into": "biomedicine"}, headers=admin
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["merged"] == "gene-technology" and body["projects_moved"] == 2
    assert body["into"]["code"] == "biomedicine" and "基因技术" in body["into"]["aliases_zh"]
    target_id = db.session.scalar(
        select(IndustrialChain.id).where(IndustrialChain.code == "biomedicine")
    )
    assert {db.session.get(Project, p.id).chain_id for p in moving} == {target_id}
    assert "gene-technology" not in codes(client, admin)


@pytest.mark.parametrize(
    ("code", "into", "status"),
    [
        ("gene-technology", "gene-technology", 422),  # itself
        ("gene-technology", "no-such-chain", 404),
        ("no-such-chain", "biomedicine", 404),
    ],
)
def test_merge_refusals(client, admin, code, into, status):
    response = client.post(f"/api/v1/chains/{code}/merge", json={"into": into}, headers=admin)
    assert response.status_code == status
    if code == "gene-technology":
        assert response.get_json()["errors"][0]["field"] == "into"


def test_merge_into_a_retired_chain_is_refused(client, admin):
    client.patch("/api/v1/chains/biomedicine", json={"retired": True}, headers=admin)
    response = client.post(
        "/api/v1/chains/gene-technology/merge", json={"into": "biomedicine"}, headers=admin
    )
    assert response.status_code == 409 and "retired" in response.get_json()["detail"]


@pytest.mark.parametrize("role", [Role.OFFICER, Role.LEAD, Role.LEADER])
def test_only_admins_change_chains(client, app, role):
    headers = auth(factories.user(role))
    assert client.get("/api/v1/chains", headers=headers).status_code == 200
    calls = [
        client.post("/api/v1/chains", json={"code": "x-y", "name_zh": "某"}, headers=headers),
        client.patch("/api/v1/chains/big-data", json={"retired": True}, headers=headers),
        client.post("/api/v1/chains/big-data/merge", json={"into": "automobile"}, headers=headers),
    ]
    assert [c.status_code for c in calls] == [403, 403, 403]
    assert "big-data" in codes(client, headers)

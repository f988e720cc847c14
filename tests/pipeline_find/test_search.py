"""Search: Chinese name parts, pinyin, initials, English; scope; the API; blob upkeep."""

from __future__ import annotations

import pytest

from crm.enums import Stage
from crm.extensions import db
from crm.pipeline.search import refresh_search_blobs, search
from tests import factories
from tests.conftest import login
from tests.pipeline_find.conftest import count_queries


@pytest.fixture
def desay(teams):
    company = factories.company(
        "惠州亿纬锂能股份有限公司", name_en="EVE Energy", aliases=["亿纬锂能"]
    )
    desay = factories.company(
        "德赛电池有限公司", name_en="Desay Battery", aliases=["德赛"], hq_city="惠州"
    )
    project = factories.project(
        teams["mine"], name="储能电芯项目", company_obj=desay, stage=Stage.SIGNED
    )
    other = factories.project(teams["mine"], name="动力电池项目", company_obj=company)
    foreign = factories.project(teams["other"], name="德赛电池二期", company_obj=desay)
    refresh_search_blobs(db.session, company_ids=[desay.id, company.id])
    return {"company": desay, "project": project, "other": other, "foreign": foreign}


@pytest.mark.parametrize(
    "q",
    [
        "德赛",
        "德赛电池",
        "dsdc",
        "desai",
        "DeSai",
        "dé sài",
        "Desay",
        "desay battery",
        "德赛电池有限公司",
    ],
)
def test_finds_projects_and_companies_by_any_kind_of_name(teams, desay, q):
    result = search(db.session, teams["officer"], q)
    assert desay["company"].id in [c.id for c in result.companies], q
    assert desay["project"].id in [p.id for p in result.projects], q
    assert desay["other"].id not in [p.id for p in result.projects], q


def test_two_chinese_characters_of_a_project_name(teams, desay):
    result = search(db.session, teams["officer"], "电芯")
    assert [p.id for p in result.projects] == [desay["project"].id]
    assert result.companies == []


def test_another_teams_project_never_appears(make_client, teams, desay):
    result = search(db.session, teams["officer"], "德赛电池")
    assert desay["foreign"].id not in [p.id for p in result.projects]
    assert desay["foreign"].id in [
        p.id for p in search(db.session, teams["leader"], "德赛").projects
    ]
    client = make_client()
    login(client, teams["officer"].email)
    page = client.get("/search?q=德赛电池").get_data(as_text=True)
    assert "储能电芯项目" in page and "德赛电池二期" not in page
    token = factories.token(teams["officer"])
    body = client.get(
        "/api/v1/search?q=dsdc", headers={"Authorization": f"Bearer {token}"}
    ).get_json()
    assert [p["id"] for p in body["projects"]] == [desay["project"].id]
    assert desay["foreign"].id not in [p["id"] for p in body["projects"]]


def test_api_shape_bounds_and_validation(client, teams):
    company = factories.company("批量测试科技有限公司")
    for i in range(25):
        factories.project(teams["mine"], name=f"批量项目{i}", company_obj=company)
    token = factories.token(teams["officer"])
    headers = {"Authorization": f"Bearer {token}"}
    body = client.get("/api/v1/search?q=批量", headers=headers).get_json()
    assert len(body["projects"]) == 20 and body["more_projects"] is True
    assert body["companies"][0] == {
        "id": company.id,
        "name": "批量测试科技有限公司",
        "name_en": None,
        "uscc": None,
    }
    assert set(body["projects"][0]) == {
        "id",
        "name",
        "company_id",
        "company_name",
        "stage",
        "planned_investment",
        "is_key",
    }
    missing = client.get("/api/v1/search", headers=headers)
    assert missing.status_code == 422 and missing.mimetype == "application/problem+json"
    assert client.get("/api/v1/search?q=" + "x" * 101, headers=headers).status_code == 422
    punctuation = client.get("/api/v1/search?q=%25%25", headers=headers).get_json()
    assert punctuation["projects"] == [] and punctuation["companies"] == []


def test_merged_companies_are_not_found(teams):
    gone = factories.company("已合并科技有限公司")
    kept = factories.company("保留科技有限公司")
    gone.merged_into_id = kept.id
    db.session.flush()
    assert search(db.session, teams["officer"], "已合并").companies == []


def test_search_box_on_every_page_and_results_page(as_officer, teams, desay):
    home = as_officer.get("/").get_data(as_text=True)
    assert 'role="search" action="/search"' in home
    page = as_officer.get("/search?q=desai").get_data(as_text=True)
    assert "德赛电池有限公司" in page and "储能电芯项目" in page
    assert 'href="/projects?q=desai"' in page
    assert as_officer.get("/search").status_code == 200
    assert as_officer.get("/search?q=%27%20OR%201%3D1").status_code == 200


def test_renaming_a_company_refreshes_its_projects_blobs(teams, desay):
    company = desay["company"]
    company.name = "比亚迪股份有限公司"
    company.aliases = []
    db.session.flush()
    written = refresh_search_blobs(db.session, company_ids=[company.id])
    assert written >= 2  # the company and its projects
    assert refresh_search_blobs(db.session, company_ids=[company.id]) == 0  # nothing left
    result = search(db.session, teams["officer"], "byd")
    assert [p.id for p in result.projects] == [desay["project"].id]
    assert search(db.session, teams["officer"], "dsdc").projects == []
    version = desay["project"].version
    db.session.refresh(desay["project"])
    assert desay["project"].version == version  # a blob is not an edit


def _search_queries(client):
    with count_queries() as counter:
        assert client.get("/search?q=项目").status_code == 200
    return counter.count


def test_search_query_count_does_not_grow_with_data(as_officer, teams):
    for i in range(3):
        factories.project(teams["mine"], name=f"项目{i}")
    small = _search_queries(as_officer)
    for i in range(80):
        factories.project(teams["mine"], name=f"项目{i}")
    large = _search_queries(as_officer)
    assert small == large <= 4

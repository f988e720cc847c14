"""The project list: each filter, sorting, pages, count and sum, saved filters, scoping."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from urllib.parse import parse_qsl

import pytest
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from crm.enums import Stage
from crm.extensions import db
from crm.pipeline import list_queries, listing
from crm.pipeline.list_models import SavedFilter
from crm.pipeline.models import CompanyTop500, Project
from crm.pipeline.search import refresh_search_blobs
from tests import factories
from tests.conftest import login
from tests.pipeline_find.conftest import add_projects, count_queries, region_id, zone_id

TODAY = date(2026, 11, 22)


def ids(user, query, sort=None):
    """Ids of the projects `user` sees with the query string's filter, in list order."""
    args = MultiDict(parse_qsl(query, keep_blank_values=True))
    found, problems = listing.parse_filter(args)
    assert problems == []
    order, sort_problems = listing.parse_sort(args)
    assert sort_problems == []
    result = list_queries.list_page(
        db.session, user, found, order, page=1, per_page=500, today=TODAY
    )
    return [r.id for r in result.rows]


@pytest.fixture
def data(teams):
    """Projects of the officer's team with one distinguishing fact each, and one project
    of another team that matches every filter (it must never show)."""
    mine, other = teams["mine"], teams["other"]
    officer, lead = teams["officer"], teams["lead"]
    top = factories.company("中国石油化工集团有限公司", tags=["central_soe"])
    db.session.add(
        CompanyTop500(company_id=top.id, list_code="fortune_global_500", year=TODAY.year - 1)
    )
    old_top = factories.company("老牌集团有限公司")
    db.session.add(CompanyTop500(company_id=old_top.id, list_code="china_top_500", year=2020))
    listed = factories.company("上市科技股份有限公司", tags=["listed"])
    p = {
        "lead": factories.project(mine, owner=officer, stage=Stage.LEAD, amount="100"),
        "signed": factories.project(
            mine,
            owner=lead,
            stage=Stage.SIGNED,
            amount="200000",
            chain="energy-storage-materials",
            signed_on=date(2022, 1, 20),
            is_key=True,
            company_obj=top,
            source_region_id=region_id("greater-bay-area"),
        ),
        "landed": factories.project(
            mine,
            owner=officer,
            stage=Stage.LANDED,
            amount="5000",
            signed_on=date(2023, 5, 1),
            landed_on=date(2023, 6, 1),
            target_zone_id=zone_id("changsha-etdz"),
            landed_zone_id=zone_id("wangcheng-etdz"),
            company_obj=listed,
        ),
        "target": factories.project(
            mine,
            owner=None,
            stage=Stage.NEGOTIATING,
            amount=None,
            target_zone_id=zone_id("wangcheng-etdz"),
            company_obj=old_top,
        ),
        "dropped": factories.project(
            mine, owner=officer, stage=Stage.DROPPED, amount="7000", dropped_on=date(2025, 3, 3)
        ),
    }
    p["foreign"] = factories.project(
        other,
        owner=teams["other_officer"],
        stage=Stage.SIGNED,
        amount="200000",
        chain="energy-storage-materials",
        signed_on=date(2022, 1, 20),
        is_key=True,
        company_obj=top,
        target_zone_id=zone_id("wangcheng-etdz"),
        landed_zone_id=zone_id("wangcheng-etdz"),
        source_region_id=region_id("greater-bay-area"),
    )
    db.session.flush()
    return {k: v.id for k, v in p.items()}


def test_each_filter_selects_exactly_its_projects(teams, data):
    officer = teams["officer"]
    d = data
    assert set(ids(officer, "")) == {d["lead"], d["signed"], d["landed"], d["target"], d["dropped"]}
    assert ids(officer, "stage=signed") == [d["signed"]]
    assert set(ids(officer, "stage=signed&stage=dropped")) == {d["signed"], d["dropped"]}
    assert ids(officer, "chain=energy-storage-materials") == [d["signed"]]
    # A project's zone is where it landed, else where it is headed.
    assert set(ids(officer, "zone=wangcheng-etdz")) == {d["landed"], d["target"]}
    assert ids(officer, "zone=changsha-etdz") == []
    assert set(ids(officer, f"team={teams['mine'].code}")) == set(ids(officer, ""))
    assert ids(officer, f"team={teams['other'].code}") == []
    assert set(ids(officer, f"owner={officer.id}")) == {d["lead"], d["landed"], d["dropped"]}
    assert set(ids(officer, "owner=me")) == {d["lead"], d["landed"], d["dropped"]}
    assert ids(officer, f"owner={teams['lead'].id}") == [d["signed"]]
    assert ids(officer, "key=1") == [d["signed"]]
    # Top-500 tags count for this and the previous year only.
    assert ids(officer, "tag=fortune_global_500") == [d["signed"]]
    assert ids(officer, "tag=top500") == [d["signed"]]
    assert ids(officer, "tag=china_top_500") == []
    assert ids(officer, "tag=listed") == [d["landed"]]
    assert set(ids(officer, "tag=listed&tag=central_soe")) == {d["landed"], d["signed"]}
    assert set(ids(officer, "min=5000")) == {d["signed"], d["landed"], d["dropped"]}
    assert set(ids(officer, "min=5000&max=7000")) == {d["landed"], d["dropped"]}
    assert ids(officer, "max=100") == [d["lead"]]
    assert ids(officer, "signed_from=2022-01-01&signed_to=2022-12-31") == [d["signed"]]
    assert set(ids(officer, "signed_from=2022-01-20")) == {d["signed"], d["landed"]}
    assert ids(officer, "landed_to=2023-06-01") == [d["landed"]]
    assert ids(officer, "dropped_from=2025-01-01") == [d["dropped"]]
    assert ids(officer, "region=greater-bay-area") == [d["signed"]]
    landed_company = db.session.get(Project, d["landed"]).company_id
    assert ids(officer, f"company={landed_company}") == [d["landed"]]
    # Filters combine with AND.
    assert ids(officer, "stage=signed&min=300000") == []


def test_another_teams_project_never_shows_but_a_shared_one_does(teams, data):
    officer = teams["officer"]
    everything = "chain=energy-storage-materials&key=1&region=greater-bay-area"
    assert data["foreign"] not in ids(officer, everything)
    assert data["foreign"] in ids(teams["leader"], everything)
    factories.share(db.session.get(Project, data["foreign"]), teams["mine"])
    assert data["foreign"] in ids(officer, everything)


def test_search_words_filter_the_list(teams):
    company = factories.company("德赛电池有限公司", name_en="Desay Battery")
    hit = factories.project(teams["mine"], company_obj=company, name="储能电芯项目")
    factories.project(teams["mine"], name="别的项目")
    refresh_search_blobs(db.session, project_ids=[hit.id])  # adds the investor's English name
    for q in ("dsdc", "desai", "德赛", "desay", "储能"):
        assert ids(teams["officer"], f"q={q}") == [hit.id], q


def test_sorting_both_ways_with_a_stable_tiebreak(teams):
    mine, officer = teams["mine"], teams["officer"]
    same = [factories.project(mine, amount="500", name=f"同额{i}") for i in range(3)]
    big = factories.project(mine, amount="9000", name="甲")
    none = factories.project(mine, amount=None, name="乙")
    same_ids = [p.id for p in same]
    assert ids(officer, "sort=amount&dir=desc") == [big.id, *reversed(same_ids), none.id]
    assert ids(officer, "sort=amount&dir=asc") == [*same_ids, big.id, none.id]
    by_name = ids(officer, "sort=name&dir=asc")
    names = [db.session.get(Project, i).name for i in by_name]
    assert names == sorted(names)
    for key in listing.SORT_KEYS:
        for direction in ("asc", "desc"):
            got = ids(officer, f"sort={key}&dir={direction}")
            assert sorted(got) == sorted([*same_ids, big.id, none.id]), key


def test_page_shows_count_sum_and_fifty_rows_a_page(as_officer, teams):
    add_projects(teams["mine"], teams["officer"], 55)
    factories.project(teams["other"], amount="999999")  # not counted: another team
    total = sum(1000 * (i + 1) for i in range(55))
    page = as_officer.get("/projects").get_data(as_text=True)
    summary = re.search(r'data-testid="list-summary">([^<]*)<', page).group(1)
    assert summary.startswith("55 ")
    amount = list_queries.count_and_sum(
        db.session, teams["officer"], listing.ProjectFilter(), TODAY
    )
    assert amount == (55, Decimal(total))
    rows = re.findall(r'<a href="/projects/(\d+)">', page)
    assert len(rows) == 50
    second = as_officer.get("/projects?page=2").get_data(as_text=True)
    assert len(re.findall(r'<a href="/projects/(\d+)">', second)) == 5
    assert not set(rows) & set(re.findall(r'<a href="/projects/(\d+)">', second))
    filtered = as_officer.get("/projects?stage=lead").get_data(as_text=True)
    leads = [i for i in range(55) if i % 8 == 0]
    summary = re.search(r'data-testid="list-summary">([^<]*)<', filtered).group(1)
    assert summary.startswith(f"{len(leads)} ")


def test_sort_headers_link_both_directions_and_keep_the_filter(as_officer, teams):
    factories.project(teams["mine"])
    page = as_officer.get("/projects?stage=lead&sort=amount&dir=desc").get_data(as_text=True)
    link = re.search(r'href="([^"]*)" data-testid="sort-amount"', page).group(1)
    assert "stage=lead" in link and "dir=asc" in link
    assert 'aria-sort="descending"' in page
    name_link = re.search(r'href="([^"]*)" data-testid="sort-name"', page).group(1)
    assert "sort=name" in name_link and "dir=asc" in name_link


@pytest.mark.parametrize(
    "query, param",
    [
        ("stage=nope", "stage"),
        ("chain=not-a-chain", "chain"),
        ("zone=atlantis", "zone"),
        ("team=nobody", "team"),
        ("region=mars", "region"),
        ("owner=abc", "owner"),
        ("company=x1", "company"),
        ("key=maybe", "key"),
        ("tag=unicorn", "tag"),
        ("min=lots", "min"),
        ("min=-5", "min"),
        ("min=100&max=5", "max"),
        ("max=1e400", "max"),
        ("signed_from=2022-13-01", "signed_from"),
        ("landed_from=2023-01-02&landed_to=2023-01-01", "landed_to"),
        ("sort=colour", "sort"),
        ("dir=sideways", "dir"),
        ("page=-3", "page"),
        ("page=99999999999", "page"),
    ],
)
def test_bad_filter_values_get_a_clear_message_never_a_500(as_officer, teams, query, param):
    factories.project(teams["mine"])
    response = as_officer.get(f"/projects?{query}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    problems = re.search(r'data-testid="filter-problems">(.*?)</div>', page, re.S).group(1)
    assert f"<code>{param}</code>" in problems


def test_sql_like_input_is_just_a_value(as_officer, teams):
    factories.project(teams["mine"], name="正常项目")
    for value in ("' OR 1=1 --", "%", "_", "\\"):
        response = as_officer.get("/projects", query_string={"q": value, "chain": value})
        assert response.status_code == 200
        assert "正常项目" not in response.get_data(as_text=True)
    # NUL, which PostgreSQL text cannot hold, is refused for every route (crm.security).
    refused = as_officer.get("/projects", query_string={"q": "\u0000", "chain": "\u0000"})
    assert refused.status_code == 400
    assert "正常项目" not in refused.get_data(as_text=True)


def test_saved_filters_save_apply_replace_and_delete_with_confirmation(make_client, teams):
    client = make_client()
    login(client, teams["officer"].email)
    response = client.form(
        "/projects/filters", {"name": "我的签约", "query": "stage=signed&key=1&page=3"}
    )
    assert response.status_code == 302
    saved = db.session.scalar(select(SavedFilter).where(SavedFilter.name == "我的签约"))
    assert saved.user_id == teams["officer"].id
    assert saved.query == "stage=signed&key=1"  # canonical, without the page
    page = client.get("/projects").get_data(as_text=True)
    assert 'href="/projects?stage=signed&amp;key=1">我的签约</a>' in page
    # The same name replaces the query.
    client.form("/projects/filters", {"name": "我的签约", "query": "stage=landed"})
    db.session.expire_all()
    assert [s.query for s in db.session.scalars(select(SavedFilter))] == ["stage=landed"]
    # An empty name is refused with a message.
    response = client.form("/projects/filters", {"name": "  ", "query": "stage=lead"})
    assert "Give the filter a name" in client.get(response.location).get_data(as_text=True)
    # Someone else can neither see nor delete it.
    other = make_client()
    login(other, teams["lead"].email)
    assert "我的签约" not in other.get("/projects").get_data(as_text=True)
    assert other.get(f"/projects/filters/{saved.id}/delete").status_code == 404
    assert other.form(f"/projects/filters/{saved.id}/delete").status_code == 404
    # Delete asks first, then deletes.
    confirm = client.get(f"/projects/filters/{saved.id}/delete")
    assert confirm.status_code == 200 and "我的签约" in confirm.get_data(as_text=True)
    assert db.session.get(SavedFilter, saved.id) is not None
    assert client.form(f"/projects/filters/{saved.id}/delete").status_code == 302
    db.session.expire_all()
    assert db.session.get(SavedFilter, saved.id) is None


def test_filter_form_keeps_what_was_chosen(as_officer, teams):
    factories.project(teams["mine"])
    page = as_officer.get(
        "/projects?stage=signed&chain=automobile&key=1&min=10&signed_from=2022-01-01&q=abc"
    ).get_data(as_text=True)
    assert 'value="signed" id="filter-stage-signed" checked' in page
    assert '<option value="automobile" selected>' in page
    assert 'id="filter-key" checked' in page
    assert 'name="min" inputmode="decimal" value="10"' in page
    assert 'value="2022-01-01"' in page
    assert 'name="q" value="abc"' in page


def _list_queries(client):
    with count_queries() as counter:
        assert client.get("/projects?stage=lead&stage=signed&sort=company").status_code == 200
    return counter.count


def test_list_query_count_does_not_grow_with_data(as_officer, teams):
    add_projects(teams["mine"], teams["officer"], 5)
    small = _list_queries(as_officer)
    add_projects(teams["mine"], teams["officer"], 60)
    add_projects(teams["other"], teams["other_officer"], 20)
    large = _list_queries(as_officer)
    assert small == large
    assert large <= 12

"""The dashboard page and GET /api/v1/dashboard."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import event

from crm.enums import Stage
from crm.extensions import db
from crm.reports import cache
from tests import factories
from tests.conftest import login
from tests.reports.support import WEEK, build, visit


@pytest.fixture
def data(app):
    return build()


@pytest.fixture
def no_cache(app, monkeypatch):
    monkeypatch.setitem(app.config, "CRM_REPORT_CACHE_SECONDS", 0)


def test_leaders_see_every_chart_with_its_table_one_click_away(data, client):
    login(client, data.leader.email)
    response = client.get(f"/dashboard?week={WEEK.label}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    charts = re.findall(r"<svg[^>]*report-chart[^>]*>", page)  # not the navbar's bell
    assert len(charts) == 7  # funnel, signings, chains, zones, lead times, visits, stalled
    assert all('role="img"' in c and "aria-label=" in c for c in charts)
    for table in ("funnel", "signings", "chains", "zones", "lead-times", "visits", "stalled"):
        assert f'<details class="mt-2" data-testid="{table}-table">' in page
    assert "style=" not in page  # the CSP forbids inline styles
    assert "<script>" not in page
    assert "甲二 重点 开工本周" in page  # key projects
    assert "甲三 签约未开工" in page  # stalled
    assert 'value="2025-W47"' in page
    assert "reports/weekly.xlsx?week=2025-W47" in page


def test_a_lead_sees_only_their_team_and_cannot_pick_another(data, client):
    login(client, data.lead_a.email)
    page = client.get(f"/dashboard?week={WEEK.label}").get_data(as_text=True)
    assert "甲二 重点 开工本周" in page
    assert "乙一" not in page
    assert 'name="team"' not in page  # no team picker for a lead
    assert client.get(f"/dashboard?week={WEEK.label}&team=rpt-b").status_code == 403
    assert client.get(f"/dashboard?week={WEEK.label}&team=rpt-a").status_code == 200


def test_week_argument_is_checked(data, client):
    login(client, data.leader.email)
    assert client.get("/dashboard?week=2025-W99").status_code == 400
    assert client.get("/dashboard?week=2999-W01").status_code == 400
    assert client.get("/dashboard?week=nonsense").status_code == 400
    assert client.get("/dashboard").status_code == 200  # this week


def test_api_dashboard_numbers_and_scope(data, client):
    leader = factories.token(data.leader)
    lead = factories.token(data.lead_a)
    headers = {"Authorization": f"Bearer {leader}"}
    body = client.get(f"/api/v1/dashboard?week={WEEK.label}", headers=headers).get_json()
    assert body["week"] == "2025-W47" and body["scope"] == "all"
    assert body["events"]["signed"]["ytd"] == {"count": 4, "amount": "184000.00"}
    assert body["rates"]["ytd"]["start_rate"] == "0.2500"
    assert body["key_projects_top"][0]["name"] == "甲二 重点 开工本周"
    # The longest overdue by the reminder rules: B2, negotiating since 1 April 2024 without
    # activity (30 days allowed).
    top = body["stalled_top"][0]
    assert (top["name"], top["rule"]) == ("乙二 洽谈", "no_activity")
    assert top["days_overdue"] == (WEEK.end - date(2024, 4, 1)).days - 30
    by_team = client.get(
        f"/api/v1/dashboard?week={WEEK.label}&team=rpt-b", headers=headers
    ).get_json()
    assert by_team["scope"] == "rpt-b" and by_team["events"]["signed"]["ytd"]["count"] == 0
    own = client.get(
        f"/api/v1/dashboard?week={WEEK.label}", headers={"Authorization": f"Bearer {lead}"}
    ).get_json()
    assert own["scope"] == "rpt-a"
    other = client.get(
        f"/api/v1/dashboard?week={WEEK.label}&team=rpt-b",
        headers={"Authorization": f"Bearer {lead}"},
    )
    assert other.status_code == 403
    bad = client.get("/api/v1/dashboard?week=2025-W60", headers=headers)
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"


def test_cached_numbers_are_refreshed_when_a_project_changes(data, client, app, monkeypatch):
    monkeypatch.setitem(app.config, "CRM_REPORT_CACHE_SECONDS", 3600)
    cache.clear()
    headers = {"Authorization": f"Bearer {factories.token(data.leader)}"}
    url = f"/api/v1/dashboard?week={WEEK.label}"
    first = client.get(url, headers=headers).get_json()
    again = client.get(url, headers=headers).get_json()
    assert again["computed_at"] == first["computed_at"]  # served from the cache
    project = data.projects["A5"]
    project.stage = Stage.SIGNED
    project.signed_on = date(2025, 11, 22)
    db.session.flush()
    fresh = client.get(url, headers=headers).get_json()
    assert (
        fresh["events"]["signed"]["week"]["count"] == first["events"]["signed"]["week"]["count"] + 1
    )


def count_statements(client, url: str) -> int:
    statements = []

    def record(*args, **kwargs):
        statements.append(args[2])

    engine = db.session.get_bind().engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return len(statements)


def test_dashboard_queries_do_not_grow_with_the_data(data, client, no_cache):
    login(client, data.leader.email)
    url = f"/dashboard?week={WEEK.label}"
    client.get(url)
    small = count_statements(client, url)
    team = factories.team("rpt-more", zone="liuyang-etdz")
    owner = factories.user(team_obj=team)
    for n in range(30):
        factories.project(
            team,
            owner=owner,
            stage=Stage.SIGNED,
            chain="biomedicine",
            signed_on=date(2025, 1, 1 + n),
            is_key=n % 2 == 0,
        )
        visit(team, owner, date(2025, 11, 18), "overseas")
    large = count_statements(client, url)
    assert large == small, (small, large)

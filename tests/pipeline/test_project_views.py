"""Project pages in the browser: create, edit, move through the stages, read, history."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from crm.enums import Role, Stage
from crm.extensions import db
from crm.pipeline.models import CompanyTop500, Project, StageChange
from crm.pipeline.stages import local_today
from tests import factories
from tests.conftest import login
from tests.pipeline.sql_counter import count_queries

TODAY = local_today()


@pytest.fixture
def team(app):
    return factories.team()


@pytest.fixture
def officer(team):
    return factories.user(Role.OFFICER, team, name="王专员")


@pytest.fixture
def officer_client(client, officer):
    login(client, officer.email)
    return client


def fresh(project_id):
    db.session.expire_all()
    return db.session.get(Project, project_id)


# --- creating and editing ---------------------------------------------------------------


def test_new_project_form_creates_a_project(officer_client, officer):
    page = officer_client.get("/projects/new").get_data(as_text=True)
    assert 'name="company_name"' in page and 'name="planned_investment"' in page
    assert 'name="team"' not in page  # officers work in their own team
    response = officer_client.form(
        "/projects/new",
        {
            "name": "智能网联汽车项目",
            "company_name": "湘江汽车科技有限公司",
            "chain": "automobile",
            "target_zone": "changsha-etdz",
            "planned_investment": "120000",
            "source_region": "yangtze-delta",
            "owner_id": str(officer.id),
        },
    )
    assert response.status_code == 302
    project = db.session.scalar(select(Project).where(Project.name == "智能网联汽车项目"))
    assert response.headers["Location"].endswith(f"/projects/{project.id}")
    assert project.team_id == officer.team_id and project.is_key
    assert project.planned_investment == Decimal("120000.00")


def test_new_project_with_an_existing_company_says_so(officer_client):
    company = factories.company("德赛电池股份有限公司")
    match = officer_client.get("/projects/company-match?name=德赛电池").get_json()
    assert match["match"] == {"id": company.id, "name": company.name}
    assert officer_client.get("/projects/company-match?name=无此公司").get_json()["match"] is None
    response = officer_client.form(
        "/projects/new",
        {"name": "储能项目", "company_name": "德赛电池有限公司"},
        follow_redirects=True,
    )
    assert "德赛电池股份有限公司" in response.get_data(as_text=True)
    project = db.session.scalar(select(Project).where(Project.name == "储能项目"))
    assert project.company_id == company.id


@pytest.mark.parametrize(
    ("amount", "message"),
    [("-5", "cannot be negative"), ("10.123", "at most two decimals"), ("abc", "Enter a number")],
)
def test_invalid_amount_is_shown_next_to_the_field_with_input_kept(officer_client, amount, message):
    response = officer_client.form(
        "/projects/new",
        {"name": "保留输入项目", "company_name": "保留输入公司", "planned_investment": amount},
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert re.search(r'id="planned_investment-error"[^>]*>[^<]*' + message, page)
    assert 'value="保留输入项目"' in page and f'value="{amount}"' in page
    assert db.session.scalar(select(Project).where(Project.name == "保留输入项目")) is None


def test_edit_form_saves_changes(officer_client, team, officer):
    project = factories.project(team, owner=officer, amount="5000", name="旧名称")
    page = officer_client.get(f"/projects/{project.id}/edit").get_data(as_text=True)
    assert (
        'value="旧名称"' in page
        and f'name="version" type="hidden" value="{project.version}"' in page
    )
    response = officer_client.form(
        f"/projects/{project.id}/edit",
        {
            "version": str(project.version),
            "name": "新名称",
            "company_name": db.session.get(factories.Company, project.company_id).name,
            "planned_investment": "6000",
            "owner_id": str(officer.id),
        },
    )
    assert response.status_code == 302
    project = fresh(project.id)
    assert (project.name, project.planned_investment) == ("新名称", Decimal("6000.00"))


# --- moving through the stages ----------------------------------------------------------------


def test_transition_form_asks_for_each_skipped_stage(officer_client, team, officer):
    project = factories.project(team, owner=officer, lead_on=TODAY - timedelta(days=60))
    page = officer_client.get(f"/projects/{project.id}/transition?to=started").get_data(
        as_text=True
    )
    for stage in ("negotiating", "signed", "landed"):
        assert f'name="date_{stage}"' in page
    assert f'value="{TODAY.isoformat()}"' in page  # today by default
    signed = TODAY - timedelta(days=20)
    data = {
        "version": str(project.version),
        "date_negotiating": (TODAY - timedelta(days=40)).isoformat(),
        "date_signed": signed.isoformat(),
        "date": (signed + timedelta(days=18)).isoformat(),
        "note": "开工仪式",
    }
    response = officer_client.form(f"/projects/{project.id}/transition?to=started", data)
    assert response.status_code == 422
    assert 'id="date_landed-error"' in response.get_data(as_text=True)
    data["date_landed"] = signed.isoformat()
    response = officer_client.form(f"/projects/{project.id}/transition?to=started", data)
    assert response.status_code == 302
    project = fresh(project.id)
    assert project.stage == Stage.STARTED
    assert (project.signed_on, project.landed_on) == (signed, signed)
    page = officer_client.get(f"/projects/{project.id}").get_data(as_text=True)
    assert "18" in re.search(r'data-testid="signing-to-start">([^<]*)<', page).group(1)


def test_a_future_date_is_refused_next_to_the_date(officer_client, team, officer):
    project = factories.project(team, owner=officer, lead_on=TODAY - timedelta(days=5))
    response = officer_client.form(
        f"/projects/{project.id}/transition?to=negotiating",
        {"version": str(project.version), "date": (TODAY + timedelta(days=1)).isoformat()},
    )
    assert response.status_code == 422
    assert "future" in response.get_data(as_text=True)
    assert fresh(project.id).stage == Stage.LEAD


def test_moving_backwards_needs_a_reason(officer_client, team, officer):
    project = factories.project(
        team,
        owner=officer,
        stage=Stage.SIGNED,
        lead_on=TODAY - timedelta(days=30),
        negotiating_on=TODAY - timedelta(days=20),
        signed_on=TODAY - timedelta(days=10),
    )
    url = f"/projects/{project.id}/transition?to=negotiating"
    assert 'name="reason"' in officer_client.get(url).get_data(as_text=True)
    response = officer_client.form(url, {"version": str(project.version), "date": TODAY})
    assert response.status_code == 422
    response = officer_client.form(
        url, {"version": str(project.version), "date": TODAY, "reason": "合同重谈"}
    )
    assert response.status_code == 302
    project = fresh(project.id)
    assert project.stage == Stage.NEGOTIATING and project.signed_on is None
    last = db.session.scalars(
        select(StageChange).where(StageChange.project_id == project.id).order_by(StageChange.id)
    ).all()[-1]
    assert last.reason == "合同重谈"


def test_dropping_offers_the_reason_list(officer_client, team, officer):
    project = factories.project(team, owner=officer, lead_on=TODAY - timedelta(days=3))
    url = f"/projects/{project.id}/transition?to=dropped"
    page = officer_client.get(url).get_data(as_text=True)
    assert 'value="chose_other_city"' in page
    response = officer_client.form(
        url,
        {
            "version": str(project.version),
            "date": TODAY,
            "drop_reason": "chose_other_city",
            "reason": "去了武汉",
        },
    )
    assert response.status_code == 302
    project = fresh(project.id)
    assert (project.stage, project.drop_reason_code) == (Stage.DROPPED, "chose_other_city")


def test_stage_chooser_without_a_target(officer_client, team, officer):
    project = factories.project(team, owner=officer)
    page = officer_client.get(f"/projects/{project.id}/transition").get_data(as_text=True)
    assert f"/projects/{project.id}/transition?to=negotiating" in page
    assert f"/projects/{project.id}/transition?to=dropped" in page


def test_a_stale_transition_form_is_refused(officer_client, team, officer):
    project = factories.project(team, owner=officer, lead_on=TODAY - timedelta(days=3))
    old_version = project.version
    project.notes = "changed by someone"
    db.session.flush()
    response = officer_client.form(
        f"/projects/{project.id}/transition?to=negotiating",
        {"version": str(old_version), "date": TODAY},
    )
    assert response.status_code == 422
    assert 'data-testid="stale"' in response.get_data(as_text=True)
    assert fresh(project.id).stage == Stage.LEAD


# --- the project page -----------------------------------------------------------------------


def test_project_page_says_why_it_is_key_and_shows_the_timeline(officer_client, team, officer):
    company = factories.company("上汽大众汽车有限公司")
    db.session.add(
        CompanyTop500(company_id=company.id, list_code="fortune_global_500", year=TODAY.year)
    )
    project = factories.project(
        team,
        owner=officer,
        company_obj=company,
        amount="500000",
        stage=Stage.SIGNED,
        lead_on=date(2022, 1, 1),
        signed_on=date(2022, 2, 6),
        is_key=True,
        key_reasons=[f"top500:fortune_global_500:{TODAY.year}", "amount"],
    )
    page = officer_client.get(f"/projects/{project.id}").get_data(as_text=True)
    reasons = re.search(r'data-testid="key-reasons">(.*?)</ul>', page, re.S).group(1)
    assert f"The investor is on the {TODAY.year} Fortune Global 500" in reasons
    assert "Planned investment of at least 1,000 M CNY" in reasons
    timeline = re.search(r'data-testid="timeline">(.*?)</ol>', page, re.S).group(1)
    assert "2022-01-01" in timeline and "36 days" in timeline
    assert f"/projects/{project.id}/transition?to=landed" in page  # the advance button
    assert f"/projects/{project.id}/edit" in page


def test_leaders_read_everything_but_change_nothing(client, team):
    project = factories.project(team, lead_on=TODAY - timedelta(days=3))
    leader = factories.user(Role.LEADER)
    login(client, leader.email)
    page = client.get(f"/projects/{project.id}").get_data(as_text=True)
    assert project.name in page
    assert "/edit" not in page and "transition?to=" not in page
    assert client.get(f"/projects/{project.id}/edit").status_code == 403
    assert client.form(f"/projects/{project.id}/edit", {"name": "x"}).status_code == 403
    assert (
        client.form(
            f"/projects/{project.id}/transition?to=negotiating", {"date": TODAY}
        ).status_code
        == 403
    )
    assert client.form("/projects/new", {"name": "x", "company_name": "y"}).status_code == 403
    assert (
        client.form(f"/projects/{project.id}/key", {"marked": "1", "reason": "x"}).status_code
        == 403
    )
    assert fresh(project.id).stage == Stage.LEAD


def test_another_teams_project_is_not_found(client, team):
    project = factories.project(team)
    stranger = factories.user(Role.OFFICER, factories.team())
    login(client, stranger.email)
    for url in ("", "/edit", "/history", "/transition?to=signed"):
        assert client.get(f"/projects/{project.id}{url}").status_code == 404
    assert client.form(f"/projects/{project.id}/edit", {"name": "x"}).status_code == 404


def test_history_page_shows_field_level_changes_with_names(officer_client, team, officer):
    response = officer_client.form(
        "/projects/new", {"name": "历史项目", "company_name": "历史公司", "notes": "一"}
    )
    project = db.session.scalar(select(Project).where(Project.name == "历史项目"))
    officer_client.form(
        f"/projects/{project.id}/edit",
        {
            "version": str(project.version),
            "name": "历史项目",
            "company_name": "历史公司",
            "notes": "二",
            "owner_id": str(officer.id),
        },
    )
    page = officer_client.get(f"/projects/{project.id}/history").get_data(as_text=True)
    table = re.search(r'data-testid="audit-entries">(.*?)</table>', page, re.S).group(1)
    cells = [re.sub(r"<[^>]+>|\s+", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", table, re.S)]
    assert "王专员" in cells
    index = cells.index("二")
    assert cells[index - 1] == "一"  # before, then after
    assert "王专员" in re.search(r'data-testid="stage-changes">(.*?)</table>', page, re.S).group(1)
    assert response.status_code == 302


def test_admin_deletes_and_restores(client, team):
    project = factories.project(team, name="将被删除的项目")
    admin = factories.user(Role.ADMIN)
    login(client, admin.email)
    response = client.form(f"/projects/{project.id}/delete")
    assert response.status_code == 302
    assert client.get(f"/projects/{project.id}").status_code == 404
    listing = client.get("/admin/projects/deleted").get_data(as_text=True)
    assert "将被删除的项目" in listing
    assert client.form(f"/projects/{project.id}/restore").status_code == 302
    assert client.get(f"/projects/{project.id}").status_code == 200
    assert fresh(project.id).deleted_at is None


def _populate(team, owner, count):
    company = factories.company()
    for _ in range(count):
        factories.project(team, owner=owner, company_obj=company)


def test_project_page_query_count_does_not_grow_with_data(officer_client, team, officer):
    project = factories.project(team, owner=officer, stage=Stage.SIGNED, signed_on=TODAY)
    other = factories.team()
    factories.share(project, other)
    officer_client.get(f"/projects/{project.id}")  # warm-up (login, caches)
    counts = []
    for extra in (5, 60):
        _populate(team, officer, extra)
        _populate(other, None, extra)
        with count_queries() as statements:
            response = officer_client.get(f"/projects/{project.id}")
        assert response.status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
    # The page and its panels (visits, incentives, reminders): bounded, not growing.
    assert counts[0] <= 25, counts


def test_demo_projects_go_through_every_stage_in_the_browser(client, make_client, app):
    from pathlib import Path

    from crm.reference.demo import DEMO_PASSWORD, ensure_teams_and_users, load_real_projects

    ensure_teams_and_users(db.session)
    load_real_projects(db.session, Path(app.config["CRM_SEED_DIR"]), TODAY)
    saic = db.session.scalar(
        select(Project).where(Project.external_id == "demo:saic-vw-audi-new-models")
    )
    desai = db.session.scalar(
        select(Project).where(Project.external_id == "demo:desai-energy-storage")
    )
    login(client, "officer.etdz@example.com", DEMO_PASSWORD)
    page = client.get(f"/projects/{saic.id}").get_data(as_text=True)
    reasons = re.search(r'data-testid="key-reasons">(.*?)</ul>', page, re.S).group(1)
    # Demo users read the product's default language, Chinese.
    assert f"投资方入选{TODAY.year}年《财富》世界500强" in reasons
    assert f"投资方入选{TODAY.year}年中国企业500强" in reasons
    assert "计划投资额不低于 10亿元" in reasons
    assert client.get(f"/projects/{desai.id}").status_code == 404  # another team's project

    day = saic.signed_on
    for stage in ("landed", "started", "operating"):
        day = day + timedelta(days=30)
        url = f"/projects/{saic.id}/transition?to={stage}"
        assert client.get(url).status_code == 200
        form = {"version": str(fresh(saic.id).version), "date": day.isoformat()}
        assert client.form(url, form).status_code == 302, stage
        assert fresh(saic.id).stage == Stage(stage)
    # Side states and back: on hold, resume, drop, reopen.
    for stage, extra in (
        ("on_hold", {}),
        ("operating", {}),
        ("dropped", {"drop_reason": "investor_changed_plans"}),
        ("operating", {"reason": "投资方恢复计划"}),
    ):
        url = f"/projects/{saic.id}/transition?to={stage}"
        form = {"version": str(fresh(saic.id).version), "date": TODAY.isoformat(), **extra}
        assert client.form(url, form).status_code == 302, stage
        assert fresh(saic.id).stage == Stage(stage)
    page = client.get(f"/projects/{saic.id}").get_data(as_text=True)
    assert "签约至开工：60 天" in page

    other = make_client()
    login(other, "officer.wangcheng@example.com", DEMO_PASSWORD)
    page = other.get(f"/projects/{desai.id}").get_data(as_text=True)
    assert "计划投资额不低于 10亿元" in page
    assert "签约至开工：18 天" in page
    url = f"/projects/{desai.id}/transition?to=operating"
    form = {"version": str(fresh(desai.id).version), "date": TODAY.isoformat()}
    assert other.form(url, form).status_code == 302
    assert fresh(desai.id).stage == Stage.OPERATING

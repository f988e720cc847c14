"""Logging visits: one form, on-the-fly company and lead, follow-ups, memory, scoping."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from flask import render_template_string
from sqlalchemy import func, select

from crm.enums import Role, Stage
from crm.extensions import db
from crm.pipeline.models import Company, Project, StageChange
from crm.reference.models import Region
from crm.visits import services
from crm.visits.access import visit_scope
from crm.visits.leads import local_today, visit_moment
from crm.visits.models import Contact, Task, Visit, VisitDefaults, visit_participant, visit_project
from crm.visits.panels import company_visits_context
from crm.visits.places import region_lookup
from tests import factories
from tests.conftest import login
from tests.visits.support import log_visit, team_with_people

SHANGHAI = ZoneInfo("Asia/Shanghai")


def region_id(code):
    return db.session.scalar(select(Region.id).where(Region.code == code))


@pytest.mark.parametrize(
    ("city", "province", "region"),
    [
        ("深圳", None, "greater-bay-area"),
        ("深圳市", None, "greater-bay-area"),
        ("香港", None, "greater-bay-area"),
        ("上海", None, "yangtze-delta"),
        ("苏州", "江苏省", "yangtze-delta"),
        ("江苏省苏州市", None, "yangtze-delta"),
        ("成都市", None, "chengdu-chongqing"),
        ("北京", None, "jing-jin-ji"),
        ("惠州", "广东", "greater-bay-area"),
        ("汕头", "广东省", "other-domestic"),  # Guangdong outside the Bay Area
        ("长沙", "湖南", "other-domestic"),
        ("杭州", None, "yangtze-delta"),  # the province comes from seed/city_provinces.yaml
        ("石家庄市", None, "jing-jin-ji"),
        ("武汉", None, "other-domestic"),
        ("新加坡", None, "overseas"),
        ("某某镇", None, None),  # not enough to tell: the officer chooses
    ],
)
def test_region_is_suggested_from_the_place(app, city, province, region):
    assert region_lookup(db.session).suggest(city, province) == region


def test_new_visit_form_remembers_the_last_place_and_participants(client, app):
    _team, officer, lead = team_with_people()
    colleague_elsewhere = factories.user(team_obj=factories.team())
    log_visit(
        officer,
        city="深圳",
        region_id=region_id("greater-bay-area"),
        participant_user_ids=[lead.id, colleague_elsewhere.id],
    )
    login(client, officer.email)
    page = client.get("/visits/new").get_data(as_text=True)
    assert re.search(r'name="city"[^>]*value="深圳"', page)
    assert re.search(r'<option selected value="greater-bay-area">', page)
    selected = set(re.findall(r'<option selected value="(\d+)">', page))
    assert {str(officer.id), str(lead.id), str(colleague_elsewhere.id)} <= selected
    assert 'name="viewport" content="width=device-width, initial-scale=1"' in page


def test_log_a_visit_with_a_new_company_lead_contacts_and_follow_ups(client, app):
    team, officer, lead = team_with_people()
    login(client, officer.email)
    day = local_today() - timedelta(days=1)
    response = client.form(
        "/visits/new",
        {
            "on": day.isoformat(),
            "type": "company_visit",
            "company_name": "深圳市新拓储能科技有限公司",
            "create_company": "y",
            "new_project_name": "新拓储能电池项目",
            "city": "深圳",
            "participant_user_ids": [str(officer.id), str(lead.id)],
            "new_contacts": "陈总, 董事长, 13912345678\n林经理,,",
            "purpose": "春节走访",
            "intent": "计划在中部建设生产基地",
            "intent_amount": "200000",
            "land_mu": "300",
            "expected_output": "500000",
            "conditions_asked": "用地和人才政策",
            "outcome": "同意下月来长考察",
            "next_steps": "准备考察行程",
            "steps-0-title": "安排园区考察",
            "steps-0-due_on": (day + timedelta(days=10)).isoformat(),
            "steps-0-project": "new",
            "steps-1-title": "发送政策汇编",
            "steps-1-due_on": (day + timedelta(days=2)).isoformat(),
            "steps-1-owner_id": str(lead.id),
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    visit = db.session.scalar(select(Visit).order_by(Visit.id.desc()))
    assert response.headers["Location"].endswith(f"/visits/{visit.id}")
    company = db.session.get(Company, visit.company_id)
    assert company.name == "深圳市新拓储能科技有限公司"
    assert visit.region_id == region_id("greater-bay-area")  # suggested from the city
    assert visit.intent_amount == Decimal("200000.00") and visit.land_mu == Decimal("300.00")
    project = db.session.scalar(select(Project).where(Project.name == "新拓储能电池项目"))
    assert project.stage == Stage.LEAD and project.lead_on == day
    assert project.company_id == company.id and project.team_id == team.id
    assert project.planned_investment == Decimal("200000.00") and project.is_key
    assert project.source_region_id == region_id("greater-bay-area")
    assert (
        db.session.scalar(select(StageChange.to_stage).where(StageChange.project_id == project.id))
        == Stage.LEAD
    )
    linked = db.session.scalars(
        select(visit_project.c.project_id).where(visit_project.c.visit_id == visit.id)
    ).all()
    assert linked == [project.id]
    people = set(
        db.session.scalars(
            select(visit_participant.c.user_id).where(visit_participant.c.visit_id == visit.id)
        )
    )
    assert people == {officer.id, lead.id}
    contacts = db.session.scalars(select(Contact).where(Contact.company_id == company.id)).all()
    assert sorted((c.name, c.title, c.phone) for c in contacts) == [
        ("林经理", None, None),
        ("陈总", "董事长", "13912345678"),
    ]
    tasks = db.session.scalars(
        select(Task).where(Task.visit_id == visit.id).order_by(Task.id)
    ).all()
    assert [(t.title, t.owner_id, t.project_id) for t in tasks] == [
        ("安排园区考察", officer.id, project.id),
        ("发送政策汇编", lead.id, project.id),  # the visit's only project by default
    ]
    # The follow-ups appear on their owners' work pages.
    assert "安排园区考察" in client.get("/my-work").get_data(as_text=True)
    assert project.last_activity_at == visit_moment(day, datetime.now(UTC))
    remembered = db.session.get(VisitDefaults, officer.id)
    assert remembered.city == "深圳" and remembered.participant_user_ids == sorted(
        [officer.id, lead.id]
    )


def _post(client, **fields):
    data = {"on": (local_today() - timedelta(days=1)).isoformat(), "type": "company_visit"}
    data.update(fields)
    return client.form("/visits/new", data)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"on": ""}, "Give the date."),
        ({"on": "2999-01-01"}, "the date is in the future"),
        ({"type": "party"}, 'id="type-error"'),
        ({"intent_amount": "-5"}, "Give a positive amount."),
        ({"land_mu": "abc"}, 'id="land_mu-error"'),
        ({"new_contacts": "王总, 总经理, 12345"}, "Line 1:"),
        ({"new_contacts": "a, b, c, d"}, "Line 1: write name, title, phone"),
        ({"new_project_name": "无公司项目"}, "Give the company the new project is with."),
        ({"steps-0-title": "跟进"}, "Give a due date for this next step."),
        ({"steps-0-due_on": "2026-12-01"}, "Say what needs doing by this date."),
        ({"company_name": "完全不存在的某某公司"}, "No company has this name"),
        ({"participant_user_ids": "999999"}, "Choose active users as participants."),
        ({"project_ids": "999999"}, "does not exist or is not visible"),
    ],
)
def test_visit_form_validation(client, app, fields, message):
    _team, officer, _lead = team_with_people()
    login(client, officer.email)
    before = db.session.scalar(select(func.count()).select_from(Visit))
    response = _post(client, **fields)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Visit)) == before
    assert db.session.scalar(select(Project.id).where(Project.name == "无公司项目")) is None


def test_a_typed_name_offers_existing_companies_and_a_pick_is_used(client, app):
    _team, officer, _lead = team_with_people()
    existing = factories.company("长沙远大住宅工业集团股份有限公司")
    login(client, officer.email)
    response = _post(client, company_name="远大住宅")
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "长沙远大住宅工业集团股份有限公司" in page
    response = _post(client, company_name="远大住宅", company_pick=str(existing.id))
    assert response.status_code == 302
    visit = db.session.scalar(select(Visit).order_by(Visit.id.desc()))
    assert visit.company_id == existing.id
    assert (
        db.session.scalar(
            select(func.count()).select_from(Company).where(Company.name == "远大住宅")
        )
        == 0
    )


def test_opening_the_form_from_a_project_page_prefills_it(client, app):
    team, officer, _lead = team_with_people()
    project = factories.project(team, owner=officer)
    login(client, officer.email)
    page = client.get(f"/visits/new?project_id={project.id}").get_data(as_text=True)
    assert re.search(rf'<option selected value="{project.id}">', page)
    company = db.session.get(Company, project.company_id)
    assert f'value="{company.name}"' in page
    outsider_project = factories.project(factories.team())
    assert client.get(f"/visits/new?project_id={outsider_project.id}").status_code == 404


def test_turn_interest_into_a_lead_project_in_one_step(client, app):
    team, officer, _lead = team_with_people()
    company = factories.company("华芯半导体有限公司")
    visit = log_visit(
        officer,
        company_id=company.id,
        region_id=region_id("yangtze-delta"),
        intent="计划扩产封装测试",
        intent_amount=Decimal("80000"),
        land_mu=Decimal("120"),
        expected_output=Decimal("300000"),
    ).visit
    login(client, officer.email)
    response = client.form(f"/visits/{visit.id}/lead-project", {"name": "华芯封测基地项目"})
    project = db.session.scalar(select(Project).where(Project.name == "华芯封测基地项目"))
    assert response.headers["Location"].endswith(f"/projects/{project.id}")
    assert project.stage == Stage.LEAD and project.lead_on == visit.on
    assert project.company_id == company.id and project.team_id == team.id
    assert project.planned_investment == Decimal("80000.00") and project.land_mu == Decimal(
        "120.00"
    )
    assert project.expected_annual_output == Decimal("300000.00")
    assert project.source_region_id == region_id("yangtze-delta")
    assert project.notes == "计划扩产封装测试"
    assert (
        db.session.scalar(
            select(visit_project.c.visit_id).where(visit_project.c.project_id == project.id)
        )
        == visit.id
    )
    empty = client.form(f"/visits/{visit.id}/lead-project", {"name": ""}, follow_redirects=True)
    assert "Give the project a name." in empty.get_data(as_text=True)


def test_last_activity_is_the_latest_of_visits_stage_changes_and_completions(app):
    team, officer, _lead = team_with_people()
    project = factories.project(team, owner=officer)
    now = datetime.now(UTC)
    old_day = local_today() - timedelta(days=20)
    first = log_visit(officer, on=old_day, project_ids=[project.id]).visit
    expected = datetime.combine(old_day, time(23, 59, 59), tzinfo=SHANGHAI).astimezone(UTC)
    assert project.last_activity_at == expected
    # An older visit logged later never moves it backwards.
    log_visit(officer, on=old_day - timedelta(days=5), project_ids=[project.id])
    assert project.last_activity_at == expected
    newer = log_visit(officer, on=old_day + timedelta(days=3), project_ids=[project.id]).visit
    newer_moment = visit_moment(newer.on, now)
    assert project.last_activity_at == newer_moment
    # Deleting the newest visit recomputes from what is left.
    services.delete_visit(db.session, newer, user_id=officer.id, now=now)
    assert project.last_activity_at == expected
    services.delete_visit(db.session, first, user_id=officer.id, now=now)
    assert project.last_activity_at == visit_moment(old_day - timedelta(days=5), now)


def test_last_activity_does_not_bump_the_project_version(app):
    team, officer, _lead = team_with_people()
    project = factories.project(team, owner=officer)
    version = project.version
    log_visit(officer, project_ids=[project.id])
    db.session.refresh(project)
    assert project.version == version and project.last_activity_at is not None


def test_visits_are_scoped_to_the_team_participants_and_visible_projects(app):
    team, officer, lead = team_with_people()
    other_team, other_officer, _other_lead = team_with_people()
    project = factories.project(team, owner=officer)
    joint = factories.user(team_obj=factories.team())
    visit = log_visit(officer, project_ids=[project.id], participant_user_ids=[joint.id]).visit
    private = log_visit(officer).visit

    def visible(user):
        return set(db.session.scalars(select(Visit.id).where(visit_scope(user))))

    assert {visit.id, private.id} <= visible(lead)
    assert visit.id in visible(joint) and private.id not in visible(joint)  # took part
    assert not {visit.id, private.id} & visible(other_officer)
    factories.share(project, other_team)
    assert visit.id in visible(other_officer) and private.id not in visible(other_officer)
    assert {visit.id, private.id} <= visible(factories.user(Role.LEADER))


def test_other_teams_get_404_on_the_visit_page(make_client, app):
    _team, officer, _lead = team_with_people()
    visit = log_visit(officer).visit
    outsider = factories.user(team_obj=factories.team())
    client = make_client()
    login(client, outsider.email)
    assert client.get(f"/visits/{visit.id}").status_code == 404
    assert client.get(f"/visits/{visit.id}/edit").status_code == 404
    leader = factories.user(Role.LEADER)
    client = make_client()
    login(client, leader.email)
    assert client.get(f"/visits/{visit.id}").status_code == 200
    assert client.get(f"/visits/{visit.id}/edit").status_code == 403


def test_edit_a_visit(client, app):
    team, officer, _lead = team_with_people()
    project = factories.project(team, owner=officer)
    visit = log_visit(officer, company_id=project.company_id, purpose="first").visit
    login(client, officer.email)
    page = client.get(f"/visits/{visit.id}/edit").get_data(as_text=True)
    assert "first" in page
    company = db.session.get(Company, project.company_id)
    response = client.form(
        f"/visits/{visit.id}/edit",
        {
            "on": visit.on.isoformat(),
            "type": "online",
            "company_id": str(company.id),
            "company_name": company.name,
            "project_ids": str(project.id),
            "purpose": "changed",
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    visit = db.session.get(Visit, visit.id)
    assert visit.type == "online" and visit.purpose == "changed"
    assert db.session.get(Project, project.id).last_activity_at is not None


def test_project_page_panel_shows_visits_newest_first(client, app):
    team, officer, _lead = team_with_people()
    project = factories.project(team, owner=officer)
    today = local_today()
    log_visit(
        officer, on=today - timedelta(days=9), project_ids=[project.id], purpose="older visit"
    )
    log_visit(
        officer, on=today - timedelta(days=2), project_ids=[project.id], purpose="newer visit"
    )
    login(client, officer.email)
    page = client.get(f"/projects/{project.id}").get_data(as_text=True)
    assert page.index("newer visit") < page.index("older visit")
    assert 'id="panel-visits"' in page and "<title>" + project.name in page


def test_company_page_include_and_my_visits(client, app):
    _team, officer, lead = team_with_people()
    company = factories.company("星城科技有限公司")
    log_visit(
        lead, company_id=company.id, purpose="lead's visit", participant_user_ids=[officer.id]
    )
    log_visit(officer, company_id=company.id, purpose="officer's visit")
    log_visit(lead, company_id=company.id, purpose="without the officer")
    ctx = company_visits_context(db.session, officer, company.id)
    assert ctx["visit_total"] == 3
    html = render_template_string(
        '{% include "visits/_company_visits.html" %}', ctx=ctx, current_user=officer
    )
    assert "officer&#39;s visit" in html or "officer's visit" in html
    login(client, officer.email)
    mine = client.get("/me/visits").get_data(as_text=True)
    assert "lead&#39;s visit" in mine and "officer&#39;s visit" in mine
    assert "without the officer" not in mine


def test_visit_list_filters(client, app):
    team, officer, _lead = team_with_people()
    _other_team, other_officer, _other_lead = team_with_people()
    monday = local_today() - timedelta(days=local_today().weekday() + 7)  # last week's Monday
    log_visit(officer, on=monday, purpose="last week", region_id=region_id("yangtze-delta"))
    log_visit(officer, on=monday - timedelta(days=7), purpose="two weeks ago")
    log_visit(other_officer, on=monday, purpose="other team")
    leader = factories.user(Role.LEADER)
    login(client, leader.email)
    iso = monday.isocalendar()
    page = client.get(f"/visits?week={iso.year}-W{iso.week:02d}&team={team.id}").get_data(
        as_text=True
    )
    assert "last week" in page and "two weeks ago" not in page and "other team" not in page
    page = client.get("/visits?region=yangtze-delta").get_data(as_text=True)
    assert "last week" in page and "two weeks ago" not in page

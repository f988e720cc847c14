"""Inbound inquiries: logged as leads, answered, flagged after N working days."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from crm.enums import Role, Stage
from crm.extensions import db
from crm.pipeline.models import Company, Project, StageChange
from crm.visits.inquiries import answer_deadline, unanswered_inquiries
from crm.visits.leads import local_today
from crm.visits.models import Contact
from crm.visits.settings import InquirySettings, load_inquiry_settings, save_inquiry_settings
from tests import factories
from tests.conftest import login
from tests.visits.support import team_with_people

FRIDAY = date(2026, 11, 20)
SATURDAY, SUNDAY = date(2026, 11, 21), date(2026, 11, 22)
MONDAY, TUESDAY, WEDNESDAY = date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25)


def test_the_days_are_what_the_tests_say():
    assert [d.strftime("%a") for d in (FRIDAY, SATURDAY, SUNDAY, MONDAY, TUESDAY, WEDNESDAY)] == [
        "Fri",
        "Sat",
        "Sun",
        "Mon",
        "Tue",
        "Wed",
    ]


def test_deadline_skips_the_weekend():
    settings = InquirySettings(working_days=2)
    assert answer_deadline(FRIDAY, settings) == TUESDAY
    assert answer_deadline(SATURDAY, settings) == TUESDAY
    assert answer_deadline(SUNDAY, settings) == TUESDAY
    assert answer_deadline(MONDAY, settings) == WEDNESDAY
    assert answer_deadline(FRIDAY, InquirySettings(working_days=1)) == MONDAY


def test_holidays_and_make_up_working_days():
    with_holiday = InquirySettings(working_days=2, holidays=frozenset({MONDAY}))
    assert answer_deadline(FRIDAY, with_holiday) == WEDNESDAY
    with_make_up_saturday = InquirySettings(working_days=2, makeup_workdays=frozenset({SATURDAY}))
    assert answer_deadline(FRIDAY, with_make_up_saturday) == MONDAY


@pytest.fixture
def friday_inquiry(app):
    team, officer, _lead = team_with_people()
    return factories.project(
        team, owner=officer, is_inquiry=True, inquiry_received_on=FRIDAY, lead_on=FRIDAY
    )


def flagged_ids(as_of, **kw):
    return [row.project_id for row in unanswered_inquiries(db.session, as_of, **kw)]


def test_received_friday_is_flagged_from_wednesday_not_monday_or_tuesday(friday_inquiry):
    for day in (FRIDAY, SATURDAY, SUNDAY, MONDAY, TUESDAY):
        assert friday_inquiry.id not in flagged_ids(day), day
    assert friday_inquiry.id in flagged_ids(WEDNESDAY)
    (row,) = [
        r for r in unanswered_inquiries(db.session, WEDNESDAY) if r.project_id == friday_inquiry.id
    ]
    assert row.deadline == TUESDAY and row.overdue and row.owner_id == friday_inquiry.owner_id


def test_a_monday_holiday_moves_the_flag_to_thursday(friday_inquiry):
    save_inquiry_settings(db.session, InquirySettings(working_days=2, holidays=frozenset({MONDAY})))
    assert friday_inquiry.id not in flagged_ids(WEDNESDAY)
    assert friday_inquiry.id in flagged_ids(WEDNESDAY + timedelta(days=1))


def test_the_number_of_working_days_is_a_setting(friday_inquiry):
    save_inquiry_settings(db.session, InquirySettings(working_days=1))
    assert friday_inquiry.id not in flagged_ids(MONDAY)
    assert friday_inquiry.id in flagged_ids(TUESDAY)


def test_an_answered_inquiry_is_never_flagged(friday_inquiry):
    friday_inquiry.inquiry_answered_on = WEDNESDAY + timedelta(days=5)
    db.session.flush()
    assert friday_inquiry.id not in flagged_ids(WEDNESDAY + timedelta(days=10))


def test_flags_respect_the_users_scope(friday_inquiry):
    outsider = factories.user(team_obj=factories.team())
    assert friday_inquiry.id in flagged_ids(WEDNESDAY)
    assert friday_inquiry.id not in flagged_ids(WEDNESDAY, user=outsider)
    leader = factories.user(Role.LEADER)
    assert friday_inquiry.id in flagged_ids(WEDNESDAY, user=leader)


def test_log_an_inquiry_from_the_web_creates_company_lead_and_contact(client, app):
    _team, officer, _lead = team_with_people()
    login(client, officer.email)
    today = local_today()
    response = client.form(
        "/inquiries/new",
        {
            "company_name": "湖南测试询盘科技有限公司",
            "create_company": "y",
            "project_name": "新材料产线咨询",
            "received_on": today.isoformat(),
            "contact_name": "赵经理",
            "contact_phone": "0731-88889999",
            "notes": "问用地价格",
        },
    )
    assert response.status_code == 302
    project = db.session.scalar(select(Project).where(Project.name == "新材料产线咨询"))
    assert project.is_inquiry and project.inquiry_received_on == today
    assert project.stage == Stage.LEAD and project.team_id == officer.team_id
    assert (
        db.session.scalar(select(StageChange.to_stage).where(StageChange.project_id == project.id))
        == Stage.LEAD
    )
    company = db.session.get(Company, project.company_id)
    contact = db.session.scalar(select(Contact).where(Contact.company_id == company.id))
    assert contact.name == "赵经理" and contact.phone == "0731-88889999"
    page = client.get("/inquiries").get_data(as_text=True)
    assert "新材料产线咨询" in page


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("company_name", "", "Give the company's name."),
        ("project_name", "", "Give the project a name."),
        ("received_on", "", "Give the date it was received."),
        ("received_on", "2099-01-01", "The date cannot be in the future."),
        ("contact_phone", "12345", "phone"),
        ("contact_email", "not-an-email", "not a valid email address"),
    ],
)
def test_inquiry_form_validation(client, app, field, value, message):
    _team, officer, _lead = team_with_people()
    login(client, officer.email)
    data = {
        "company_name": "某公司",
        "create_company": "y",
        "project_name": "咨询",
        "received_on": local_today().isoformat(),
        "contact_name": "钱先生",
    }
    data[field] = value
    response = client.form("/inquiries/new", data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(Project.id).where(Project.name == "咨询")) is None


def test_unknown_company_without_confirmation_offers_candidates(client, app):
    _team, officer, _lead = team_with_people()
    factories.company("长沙候选测试机械有限公司")
    login(client, officer.email)
    response = client.form(
        "/inquiries/new",
        {
            "company_name": "候选测试机械",
            "project_name": "咨询",
            "received_on": local_today().isoformat(),
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Did you mean one of these?" in page and "长沙候选测试机械有限公司" in page
    assert db.session.scalar(select(Project.id).where(Project.name == "咨询")) is None


def test_the_same_company_under_another_legal_form_is_reused(client, app):
    _team, officer, _lead = team_with_people()
    existing = factories.company("长沙复用测试机械有限公司")
    login(client, officer.email)
    response = client.form(
        "/inquiries/new",
        {
            "company_name": "长沙复用测试机械集团",
            "project_name": "复用咨询",
            "received_on": local_today().isoformat(),
        },
    )
    assert response.status_code == 302
    project = db.session.scalar(select(Project).where(Project.name == "复用咨询"))
    assert project.company_id == existing.id


def test_mark_answered(client, friday_inquiry):
    officer = db.session.get(factories.User, friday_inquiry.owner_id)
    login(client, officer.email)
    response = client.form(
        f"/inquiries/{friday_inquiry.id}/answered", {"answered_on": SATURDAY.isoformat()}
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Project, friday_inquiry.id).inquiry_answered_on == SATURDAY
    bad = client.form(
        f"/inquiries/{friday_inquiry.id}/answered",
        {"answered_on": (FRIDAY - timedelta(days=1)).isoformat()},
        follow_redirects=True,
    )
    assert "cannot be answered before it was received" in bad.get_data(as_text=True)


def test_settings_page_validates_and_saves(client, app):
    admin = factories.user(Role.ADMIN)
    login(client, admin.email)
    bad = client.form(
        "/admin/visit-settings",
        {"working_days": "0", "holidays": "2026-10-01\nnot-a-date", "makeup_workdays": ""},
    )
    page = bad.get_data(as_text=True)
    assert bad.status_code == 422
    assert "Between 1 and 30 days." in page and "“not-a-date” is not a date" in page
    good = client.form(
        "/admin/visit-settings",
        {
            "working_days": "3",
            "holidays": "2026-10-01, 2026-10-02",
            "makeup_workdays": "2026-09-27",
        },
    )
    assert good.status_code == 302
    settings = load_inquiry_settings(db.session)
    assert settings.working_days == 3
    assert settings.holidays == frozenset({date(2026, 10, 1), date(2026, 10, 2)})
    assert settings.makeup_workdays == frozenset({date(2026, 9, 27)})


def test_api_lists_inquiries_with_deadline_and_flag(client, friday_inquiry):
    officer = db.session.get(factories.User, friday_inquiry.owner_id)
    body = client.get(
        "/api/v1/inquiries", headers={"Authorization": f"Bearer {factories.token(officer)}"}
    ).get_json()
    (item,) = body["items"]
    assert item["project_id"] == friday_inquiry.id
    assert item["received_on"] == FRIDAY.isoformat()
    assert item["deadline"] == TUESDAY.isoformat()
    assert item["overdue"] is (local_today() > TUESDAY)


def test_answered_form_needs_a_date(client, friday_inquiry):
    officer = db.session.get(factories.User, friday_inquiry.owner_id)
    login(client, officer.email)
    page = client.form(
        f"/inquiries/{friday_inquiry.id}/answered", {"answered_on": ""}, follow_redirects=True
    ).get_data(as_text=True)
    assert "Give the date it was answered." in page
    db.session.expire_all()
    assert db.session.get(Project, friday_inquiry.id).inquiry_answered_on is None

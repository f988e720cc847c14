"""Contacts: phone and email checked for shape, several per company, history kept on a move."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from crm.enums import Role
from crm.extensions import db
from crm.visits.contacts import (
    ContactError,
    ContactInput,
    create_contact,
    employment_history,
    normalize_email,
    normalize_phone,
    update_contact,
)
from crm.visits.models import Contact, ContactEmployment
from tests import factories
from tests.conftest import login
from tests.visits.support import log_visit, team_with_people


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("13812345678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("008613812345678", "13812345678"),
        ("19912345678", "19912345678"),
        ("0731-88889999", "0731-88889999"),
        ("(0731) 8888 9999", "0731-88889999"),
        ("010-12345678", "010-12345678"),
        ("02112345678", "021-12345678"),
        ("0731-88889999-123", "0731-88889999-123"),
        ("0731-88889999转8", "0731-88889999-8"),
        ("+86 731 8888 9999", "0731-88889999"),
        ("+65 6123 4567", "+6561234567"),
        ("+1 (415) 555-2671", "+14155552671"),
        ("", None),
        ("   ", None),
    ],
)
def test_valid_phones_are_stored_in_one_form(raw, stored):
    assert normalize_phone(raw) == stored


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("12812345678", "starts with 13 to 19"),  # no 12x mobiles
        ("1381234567", "11 digits"),  # one digit short
        ("138123456789", "11 digits"),  # one too many
        ("88889999", "Add the area code"),
        ("0731-123", "area code then 7 or 8 digits"),
        ("+12", "international number"),
        ("phone me", "does not look like a phone number"),
        ("13812345678 ext 12", "11 digits"),
    ],
)
def test_bad_phones_get_a_clear_message(raw, message):
    with pytest.raises(ContactError) as err:
        normalize_phone(raw)
    assert err.value.field == "phone"
    assert message in str(err.value)


def test_email_shape():
    assert normalize_email(" Li.Ming@Example.COM ") == "Li.Ming@example.com"
    assert normalize_email("") is None
    for bad in ("li.ming", "li@", "@example.com", "li ming@example.com", "li@@example.com"):
        with pytest.raises(ContactError) as err:
            normalize_email(bad)
        assert err.value.field == "email"
        assert "not a valid email address" in str(err.value)


def test_several_contacts_per_company_and_history_on_a_move(app):
    _team, officer, _lead = team_with_people()
    first = factories.company("甲公司")
    second = factories.company("乙公司")
    a = create_contact(
        db.session,
        ContactInput(name="王总", company_id=first.id, title="总经理"),
        user_id=officer.id,
        today=date(2026, 1, 1),
    )
    create_contact(
        db.session,
        ContactInput(name="李经理", company_id=first.id),
        user_id=officer.id,
        today=date(2026, 1, 1),
    )
    assert len(db.session.scalars(select(Contact).where(Contact.company_id == first.id)).all()) == 2
    visit = log_visit(officer, company_id=first.id, contact_ids=[a.id]).visit
    update_contact(
        db.session,
        a,
        ContactInput(name="王总", company_id=second.id, title="副总裁"),
        user_id=officer.id,
        today=date(2026, 6, 1),
    )
    history = employment_history(db.session, a.id)
    assert [(name, row.title, row.started_on, row.ended_on) for row, name in history] == [
        ("乙公司", "副总裁", date(2026, 6, 1), None),
        ("甲公司", "总经理", date(2026, 1, 1), date(2026, 6, 1)),
    ]
    assert a.company_id == second.id
    # The visit keeps the company of the time.
    assert visit.company_id == first.id


def test_contact_form_validation(client, app):
    _team, officer, _lead = team_with_people()
    login(client, officer.email)
    cases = [
        ({"name": ""}, "Give the contact"),
        ({"name": "王", "phone": "555"}, "does not look like a phone number"),
        ({"name": "王", "phone": "1381234567"}, "11 digits"),
        ({"name": "王", "email": "wang@"}, "not a valid email address"),
        ({"name": "王", "company_name": "不存在的公司"}, "No company has this name"),
    ]
    for data, message in cases:
        response = client.form("/contacts/new", data)
        assert response.status_code == 422, data
        assert message in response.get_data(as_text=True), data
    assert db.session.scalar(select(Contact.id).where(Contact.name == "王")) is None


def test_contact_web_crud_keeps_history(client, app):
    _team, officer, _lead = team_with_people()
    first = factories.company("丙科技有限公司")
    login(client, officer.email)
    response = client.form(
        "/contacts/new",
        {
            "name": "周工",
            "company_id": str(first.id),
            "company_name": first.name,
            "title": "技术总监",
            "phone": "+86 139 0000 1111",
            "email": "zhou@example.com",
            "wechat": "zhou_gong",
        },
    )
    assert response.status_code == 302
    contact = db.session.scalar(select(Contact).where(Contact.name == "周工"))
    assert contact.phone == "13900001111" and contact.company_id == first.id
    # Move to a company that does not exist yet (created on confirmation).
    response = client.form(
        f"/contacts/{contact.id}/edit",
        {
            "name": "周工",
            "company_name": "丁新能源有限公司",
            "create_company": "y",
            "title": "CTO",
            "phone": "13900001111",
        },
    )
    assert response.status_code == 302
    page = client.get(f"/contacts/{contact.id}").get_data(as_text=True)
    assert "丙科技有限公司" in page and "丁新能源有限公司" in page
    rows = db.session.scalars(
        select(ContactEmployment).where(ContactEmployment.contact_id == contact.id)
    ).all()
    assert len(rows) == 2 and sum(r.ended_on is None for r in rows) == 1
    client.form(f"/contacts/{contact.id}/delete")
    assert client.get(f"/contacts/{contact.id}").status_code == 404


def test_leaders_read_contacts_but_cannot_change_them(client, app):
    _team, officer, _lead = team_with_people()
    contact = create_contact(
        db.session, ContactInput(name="孙总"), user_id=officer.id, today=date(2026, 1, 1)
    )
    leader = factories.user(Role.LEADER)
    login(client, leader.email)
    assert client.get(f"/contacts/{contact.id}").status_code == 200
    assert client.form(f"/contacts/{contact.id}/edit", {"name": "x"}).status_code == 403


def test_contacts_api_shapes_and_validation(client, app):
    _team, officer, _lead = team_with_people()
    company = factories.company("戊集团有限公司")
    headers = {"Authorization": f"Bearer {factories.token(officer)}"}
    created = client.post(
        "/api/v1/contacts",
        json={"name": "吴总", "company_id": company.id, "phone": "0731 8888 9999"},
        headers=headers,
    )
    assert created.status_code == 201
    body = created.get_json()
    assert set(body) == {
        "id",
        "name",
        "company_id",
        "title",
        "phone",
        "email",
        "wechat",
        "notes",
        "created_at",
        "employment",
    }
    assert body["phone"] == "0731-88889999"
    assert body["employment"][0]["company_id"] == company.id
    assert created.headers["Location"] == f"/api/v1/contacts/{body['id']}"
    bad = client.post("/api/v1/contacts", json={"name": "吴总", "phone": "555"}, headers=headers)
    assert bad.status_code == 422
    assert bad.get_json()["errors"][0]["field"] == "phone"
    other = factories.company("己有限公司")
    patched = client.patch(
        f"/api/v1/contacts/{body['id']}", json={"company_id": other.id}, headers=headers
    ).get_json()
    assert patched["company_id"] == other.id and patched["phone"] == "0731-88889999"
    assert [e["company_id"] for e in patched["employment"]] == [other.id, company.id]
    listed = client.get(f"/api/v1/contacts?company_id={other.id}", headers=headers).get_json()
    assert [c["id"] for c in listed["items"]] == [body["id"]]
    assert listed["items"][0]["employment"] is None

"""Changes the web makes that the API makes too: editing an event, linking and unlinking
its projects, deleting a contact, answering an inquiry. Same rules as the web: the event's
team only, another team's project answers 404 like a missing one, leaders change nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from crm.audit import AuditLog
from crm.enums import Role
from crm.extensions import db
from crm.pipeline.models import Project
from crm.visits import contacts, events
from crm.visits.event_models import Event
from crm.visits.leads import local_today
from crm.visits.models import Contact
from tests import factories
from tests.visits.support import team_with_people

TODAY = local_today()


def auth(user):
    return {"Authorization": f"Bearer {factories.token(user)}"}


@pytest.fixture
def ceremony(app):
    team, officer, lead = team_with_people()
    event = events.create_event(
        db.session,
        officer,
        events.EventInput(name="集中签约仪式", on=TODAY - timedelta(days=5), place="望城"),
        team.id,
    )
    return team, officer, lead, event


def linked_ids(client, user, event):
    body = client.get(f"/api/v1/events/{event.id}", headers=auth(user)).get_json()
    return body["project_ids"]


def test_an_event_is_patched_field_by_field(client, ceremony):
    _team, officer, _lead, event = ceremony
    url = f"/api/v1/events/{event.id}"
    response = client.patch(
        url, json={"place": "长沙", "zone": "changsha-etdz", "notes": None}, headers=auth(officer)
    )
    assert response.status_code == 200, response.json
    body = response.get_json()
    assert (body["name"], body["place"], body["zone"]) == ("集中签约仪式", "长沙", "changsha-etdz")
    assert body["date"] == (TODAY - timedelta(days=5)).isoformat()  # left out: kept
    entry = db.session.scalars(
        select(AuditLog).where(AuditLog.entity_type == "event", AuditLog.action == "update")
    ).one()
    assert entry.changes["place"] == ["望城", "长沙"]
    for bad, field in (
        ({"name": None}, "name"),
        ({"zone": "atlantis"}, "zone"),
        ({"kind": "x"}, "kind"),
    ):
        refused = client.patch(url, json=bad, headers=auth(officer))
        assert refused.status_code == 422 and refused.get_json()["errors"][0]["field"] == field
    cleared = client.patch(url, json={"zone": None}, headers=auth(officer)).get_json()
    assert cleared["zone"] is None


def test_linking_and_unlinking_projects(client, ceremony):
    team, officer, _lead, event = ceremony
    a, b = factories.project(team), factories.project(team)
    url = f"/api/v1/events/{event.id}/projects"
    linked = client.post(url, json={"project_ids": [a.id, b.id]}, headers=auth(officer))
    assert linked.status_code == 200 and linked.get_json()["linked"] == 2
    again = client.post(url, json={"project_ids": [a.id]}, headers=auth(officer)).get_json()
    assert again["linked"] == 0 and sorted(again["project_ids"]) == sorted([a.id, b.id])
    assert client.delete(f"{url}/{a.id}", headers=auth(officer)).status_code == 204
    assert linked_ids(client, officer, event) == [b.id]
    assert client.delete(f"{url}/{a.id}", headers=auth(officer)).status_code == 404


def test_another_teams_project_is_404_like_a_missing_one_and_nothing_changes(client, ceremony):
    _team, officer, _lead, event = ceremony
    hidden = factories.project(factories.team())
    admin = factories.user(Role.ADMIN)
    linked_by_admin = factories.project(factories.team())
    events.link_projects(db.session, admin, event, [linked_by_admin.id])
    url = f"/api/v1/events/{event.id}/projects"
    answers = set()
    for ids in ([hidden.id], [987654]):
        response = client.post(url, json={"project_ids": ids}, headers=auth(officer))
        assert response.status_code == 404
        answers.add(response.get_json()["detail"])
    assert len(answers) == 1
    for project_id in (hidden.id, linked_by_admin.id, 987654):
        assert client.delete(f"{url}/{project_id}", headers=auth(officer)).status_code == 404
    summary = events.event_summary(db.session, admin, event)
    assert [p.project.id for p in summary.projects] == [linked_by_admin.id]
    unlinks = select(AuditLog).where(AuditLog.action.in_(("link_projects", "unlink_project")))
    assert [e.changes for e in db.session.scalars(unlinks)] == [
        {"project_ids": [None, [linked_by_admin.id]]}
    ]


def test_other_teams_and_leaders_cannot_change_the_event(client, ceremony):
    team, officer, _lead, event = ceremony
    p = factories.project(team)
    events.link_projects(db.session, officer, event, [p.id])
    for user in (factories.user(Role.OFFICER, factories.team()), factories.user(Role.LEADER)):
        headers = auth(user)
        base = f"/api/v1/events/{event.id}"
        assert client.patch(base, json={"place": "x"}, headers=headers).status_code == 403
        linking = client.post(f"{base}/projects", json={"project_ids": [p.id]}, headers=headers)
        assert linking.status_code == 403
        assert client.delete(f"{base}/projects/{p.id}", headers=headers).status_code == 403
    db.session.expire_all()
    assert db.session.get(Event, event.id).place == "望城"
    assert linked_ids(client, officer, event) == [p.id]
    assert client.patch("/api/v1/events/987654", json={}, headers=auth(officer)).status_code == 404


def test_a_contact_is_deleted_softly(client, ceremony):
    _team, officer, _lead, _event = ceremony
    contact = contacts.create_contact(
        db.session, contacts.ContactInput(name="王经理"), user_id=officer.id, today=TODAY
    )
    url = f"/api/v1/contacts/{contact.id}"
    leader = auth(factories.user(Role.LEADER))
    assert client.delete(url, headers=leader).status_code == 403
    assert client.delete(url, headers=auth(officer)).status_code == 204
    assert client.get(url, headers=auth(officer)).status_code == 404
    assert db.session.get(Contact, contact.id).deleted_at is not None
    assert client.delete(url, headers=auth(officer)).status_code == 404


def test_an_inquiry_is_answered_through_the_api(client, ceremony):
    team, officer, _lead, _event = ceremony
    received = TODAY - timedelta(days=3)
    inquiry = factories.project(
        team, owner=officer, is_inquiry=True, inquiry_received_on=received, lead_on=received
    )
    url = f"/api/v1/inquiries/{inquiry.id}/answered"
    early = client.post(
        url, json={"answered_on": str(received - timedelta(days=1))}, headers=auth(officer)
    )
    assert early.status_code == 422 and early.get_json()["errors"][0]["field"] == "answered_on"
    outsider = auth(factories.user(Role.OFFICER, factories.team()))
    assert client.post(url, json={}, headers=outsider).status_code == 404
    assert client.post(url, json={}, headers=auth(factories.user(Role.LEADER))).status_code == 403
    ordinary = factories.project(team)
    assert (
        client.post(
            f"/api/v1/inquiries/{ordinary.id}/answered", json={}, headers=auth(officer)
        ).status_code
        == 404
    )
    assert db.session.get(Project, inquiry.id).inquiry_answered_on is None
    answered = client.post(url, json={}, headers=auth(officer))
    assert answered.status_code == 200
    body = answered.get_json()
    assert body["answered_on"] == TODAY.isoformat() and body["overdue"] is False
    assert db.session.get(Project, inquiry.id).inquiry_answered_on == TODAY

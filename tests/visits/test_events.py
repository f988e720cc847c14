"""Events: signing several linked projects on the event's date in one action."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from crm.audit import AuditLog
from crm.enums import Role, Stage
from crm.extensions import db
from crm.pipeline.models import Project, StageChange
from crm.visits import events
from crm.visits.event_models import Event
from tests import factories
from tests.conftest import login
from tests.visits.support import team_with_people

EVENT_DAY = date(2026, 2, 10)
TODAY = date(2026, 11, 22)


@pytest.fixture
def ceremony(app):
    team, officer, lead = team_with_people()
    event = events.create_event(
        db.session,
        officer,
        events.EventInput(name="一江两岸集中签约仪式", on=EVENT_DAY, place="望城"),
        team.id,
    )
    return team, officer, lead, event


def project(team, stage=Stage.LEAD, amount="10000", **kw):
    return factories.project(team, stage=stage, amount=amount, lead_on=date(2026, 1, 5), **kw)


def test_signing_several_projects_is_one_action_recorded_on_each(ceremony):
    team, officer, _lead, event = ceremony
    lead_project = project(team)
    negotiating = project(team, Stage.NEGOTIATING, negotiating_on=date(2026, 1, 20))
    events.link_projects(db.session, officer, event, [lead_project.id, negotiating.id])
    results = events.sign_at_event(db.session, officer, event, today=TODAY)
    assert [(r.project_id, r.status) for r in results] == [
        (lead_project.id, "signed"),
        (negotiating.id, "signed"),
    ]
    for p in (lead_project, negotiating):
        assert p.stage == Stage.SIGNED and p.signed_on == EVENT_DAY
    # Decision: the skipped negotiating stage of a lead gets the event's date.
    assert lead_project.negotiating_on == EVENT_DAY
    assert negotiating.negotiating_on == date(2026, 1, 20)
    history = db.session.execute(
        select(StageChange.from_stage, StageChange.to_stage, StageChange.on, StageChange.note)
        .where(StageChange.project_id == lead_project.id)
        .order_by(StageChange.id)
    ).all()
    assert history == [
        (Stage.LEAD, Stage.NEGOTIATING, EVENT_DAY, None),
        (Stage.NEGOTIATING, Stage.SIGNED, EVENT_DAY, "于活动签约：一江两岸集中签约仪式"),
    ]
    entry = db.session.scalar(
        select(AuditLog).where(AuditLog.entity_type == "event", AuditLog.action == "sign")
    )
    assert entry.changes["signed_project_ids"][1] == [lead_project.id, negotiating.id]
    summary = events.event_summary(db.session, officer, event)
    assert summary.signed_count == 2 and summary.signed_amount == Decimal("20000.00")


def test_projects_that_cannot_be_signed_are_reported_and_the_others_signed(ceremony):
    team, officer, _lead, event = ceremony
    ok = project(team)
    already_here = project(team, Stage.SIGNED, signed_on=EVENT_DAY, negotiating_on=EVENT_DAY)
    past = project(team, Stage.LANDED, signed_on=date(2026, 1, 20), landed_on=date(2026, 1, 25))
    dropped = project(team, Stage.DROPPED, dropped_on=date(2026, 1, 10), resume_stage=Stage.LEAD)
    too_late = factories.project(team, lead_on=date(2026, 3, 1))  # its lead date is after
    shared_read_only = project(factories.team())
    factories.share(shared_read_only, team, can_edit=False)
    ids = [p.id for p in (ok, already_here, past, dropped, too_late, shared_read_only)]
    events.link_projects(db.session, officer, event, ids)
    results = {
        r.project_id: r for r in events.sign_at_event(db.session, officer, event, today=TODAY)
    }
    assert results[ok.id].status == "signed"
    assert results[already_here.id].status == "already_signed"
    assert (
        results[past.id].status == "refused"
        and "已于 2026-01-20 签约" in results[past.id].message  # Chinese outside a request
    )
    assert results[dropped.id].status == "refused" and "已终止" in results[dropped.id].message
    assert (
        results[too_late.id].status == "refused"
        # Outside a request the service speaks the default language, Chinese.
        and "不能早于" in results[too_late.id].message
    )
    assert results[shared_read_only.id].status == "refused"
    assert "无权修改" in results[shared_read_only.id].message
    assert too_late.stage == Stage.LEAD and too_late.negotiating_on is None
    assert past.stage == Stage.LANDED
    summary = events.event_summary(db.session, officer, event)
    assert summary.signed_count == 2  # ok and already_here


def test_all_or_nothing_signs_nothing_when_one_cannot_be_signed(ceremony):
    team, officer, _lead, event = ceremony
    ok = project(team)
    past = project(team, Stage.LANDED, signed_on=date(2026, 1, 20), landed_on=date(2026, 1, 25))
    events.link_projects(db.session, officer, event, [ok.id, past.id])
    with pytest.raises(events.SignRefused) as err:
        events.sign_at_event(db.session, officer, event, today=TODAY, all_or_nothing=True)
    assert {r.project_id: r.status for r in err.value.results} == {
        ok.id: "signed",
        past.id: "refused",
    }
    db.session.expire_all()
    assert db.session.get(Project, ok.id).stage == Stage.LEAD
    assert db.session.scalar(select(StageChange.id).where(StageChange.project_id == ok.id)) is None


def test_an_event_without_a_date_or_in_the_future_cannot_sign(ceremony):
    team, officer, _lead, event = ceremony
    p = project(team)
    events.link_projects(db.session, officer, event, [p.id])
    event.on = None
    with pytest.raises(events.EventError):
        events.sign_at_event(db.session, officer, event, today=TODAY)
    event.on = date(2026, 12, 1)
    with pytest.raises(events.EventError) as err:
        events.sign_at_event(db.session, officer, event, today=TODAY)
    assert "尚未举办" in str(err.value)  # "has not happened yet", in Chinese outside a request
    assert p.stage == Stage.LEAD


def test_only_visible_projects_can_be_linked(ceremony):
    _team, officer, _lead, event = ceremony
    hidden = project(factories.team())
    with pytest.raises(events.EventError):
        events.link_projects(db.session, officer, event, [hidden.id])


def test_event_page_shows_count_and_total_signed_there(client, ceremony):
    team, officer, _lead, event = ceremony
    a = project(team, amount="150000")
    b = project(team, amount="50000.50")
    other_team_project = project(factories.team(), amount="999")
    events.link_projects(db.session, officer, event, [a.id, b.id])
    db.session.execute(
        events.event_project.insert().values(event_id=event.id, project_id=other_team_project.id)
    )
    login(client, officer.email)
    response = client.form(f"/events/{event.id}/sign", {"sign-project_ids": [str(a.id), str(b.id)]})
    assert response.status_code == 302
    page = client.get(f"/events/{event.id}").get_data(as_text=True)
    count = re.search(r'data-testid="signed-count">(\d+)<', page).group(1)
    amount = re.search(r'data-testid="signed-amount">([^<]+)<', page).group(1)
    assert count == "2"
    assert amount.strip() == "2,000 M CNY"  # 200,000.50 万元, for an English reader
    assert "1 more linked projects belong to other teams." in page


def test_other_teams_read_the_event_but_cannot_sign(make_client, ceremony):
    team, officer, _lead, event = ceremony
    p = project(team)
    events.link_projects(db.session, officer, event, [p.id])
    outsider = factories.user(team_obj=factories.team())
    client = make_client()
    login(client, outsider.email)
    page = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert event.name in page and p.name not in page
    assert (
        client.form(f"/events/{event.id}/sign", {"sign-project_ids": str(p.id)}).status_code == 403
    )
    assert p.stage == Stage.LEAD


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "", "kind": "signing"}, "Give the event"),
        ({"name": "x", "kind": "party"}, 'id="kind-error"'),  # WTForms' own (translated) text
        ({"name": "x", "kind": "signing", "on": "2026-13-01"}, 'id="on-error"'),
        ({"name": "x", "kind": "signing", "reported_projects": "-1"}, "Give a positive number."),
        ({"name": "x", "kind": "signing", "reported_total": "-5"}, "Give a positive amount."),
        ({"name": "x" * 301, "kind": "signing"}, 'id="name-error"'),
    ],
)
def test_event_form_validation(client, app, data, message):
    _team, officer, _lead = team_with_people()
    login(client, officer.email)
    response = client.form("/events/new", data)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(Event.id)) is None


def test_create_link_and_sign_through_the_web(client, app):
    team, officer, _lead = team_with_people()
    p = project(team)
    login(client, officer.email)
    response = client.form(
        "/events/new",
        {
            "name": "春季推介会",
            "kind": "promotion",
            "on": "2026-03-01",
            "place": "深圳",
            "reported_total": "300000",
        },
    )
    assert response.status_code == 302
    event = db.session.scalar(select(Event).where(Event.name == "春季推介会"))
    assert event.team_id == team.id and event.reported_total == Decimal("300000.00")
    bad = client.form(f"/events/{event.id}/projects", {"link-more_ids": "12a"})
    assert bad.status_code == 422 and "whole numbers" in bad.get_data(as_text=True)
    assert (
        client.form(f"/events/{event.id}/projects", {"link-project_ids": str(p.id)}).status_code
        == 302
    )
    assert (
        client.form(f"/events/{event.id}/sign", {"sign-project_ids": str(p.id)}).status_code == 302
    )
    db.session.expire_all()
    assert db.session.get(Project, p.id).signed_on == date(2026, 3, 1)


def test_events_api(client, app):
    team, officer, _lead = team_with_people()
    a, b = project(team), project(team, Stage.OPERATING, signed_on=date(2026, 1, 6))
    headers = {"Authorization": f"Bearer {factories.token(officer)}"}
    created = client.post(
        "/api/v1/events",
        json={
            "name": "签约仪式",
            "date": "2026-02-10",
            "zone": "wangcheng-etdz",
            "project_ids": [a.id, b.id],
        },
        headers=headers,
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["zone"] == "wangcheng-etdz" and sorted(body["project_ids"]) == sorted([a.id, b.id])
    assert body["signed_count"] == 0
    strict = client.post(
        f"/api/v1/events/{body['id']}/sign", json={"all_or_nothing": True}, headers=headers
    )
    assert strict.status_code == 409
    assert strict.get_json()["errors"][0]["field"] == f"project_ids.{b.id}"
    signed = client.post(
        f"/api/v1/events/{body['id']}/sign", json={"project_ids": [a.id]}, headers=headers
    ).get_json()
    assert signed["date"] == "2026-02-10"
    assert signed["results"] == [
        {"project_id": a.id, "name": a.name, "status": "signed", "message": None}
    ]
    detail = client.get(f"/api/v1/events/{body['id']}", headers=headers).get_json()
    assert detail["signed_count"] == 1 and detail["signed_amount"] == "10000.00"
    listed = client.get("/api/v1/events", headers=headers).get_json()
    assert [e["id"] for e in listed["items"]] == [body["id"]]
    leader = factories.user(Role.LEADER)
    refused = client.post(
        f"/api/v1/events/{body['id']}/sign",
        json={},
        headers={"Authorization": f"Bearer {factories.token(leader)}"},
    )
    assert refused.status_code == 403


def test_an_administrator_says_which_team_keeps_the_event(client, app):
    team, _officer, _lead = team_with_people()
    admin = factories.user(Role.ADMIN)
    login(client, admin.email)
    assert 'name="team_id"' in client.get("/events/new").get_data(as_text=True)
    missing = client.form("/events/new", {"name": "市级推介会", "kind": "promotion"})
    assert missing.status_code == 422
    assert "Choose the team that keeps the event." in missing.get_data(as_text=True)
    done = client.form(
        "/events/new", {"name": "市级推介会", "kind": "promotion", "team_id": str(team.id)}
    )
    assert done.status_code == 302
    assert db.session.scalar(select(Event.team_id).where(Event.name == "市级推介会")) == team.id
    headers = {"Authorization": f"Bearer {factories.token(admin)}"}
    refused = client.post("/api/v1/events", json={"name": "x"}, headers=headers)
    assert refused.status_code == 422 and refused.get_json()["errors"][0]["field"] == "team"
    created = client.post("/api/v1/events", json={"name": "x", "team": team.code}, headers=headers)
    assert created.status_code == 201 and created.get_json()["team_id"] == team.id


def test_an_officer_cannot_file_an_event_under_another_team(client, app):
    _team, officer, _lead = team_with_people()
    other = factories.team()
    headers = {"Authorization": f"Bearer {factories.token(officer)}"}
    response = client.post(
        "/api/v1/events", json={"name": "x", "team": other.code}, headers=headers
    )
    assert response.status_code == 422


def test_sign_form_needs_a_project(client, ceremony):
    team, officer, _lead, event = ceremony
    p = project(team)
    events.link_projects(db.session, officer, event, [p.id])
    login(client, officer.email)
    page = client.form(f"/events/{event.id}/sign", {}, follow_redirects=True).get_data(as_text=True)
    assert "Choose at least one project." in page
    assert p.stage == Stage.LEAD


@pytest.fixture
def other_teams_project(ceremony):
    """A project of another team, linked to the ceremony by an admin (the event's team may
    not see it), and one that is not linked at all."""
    _team, _officer, _lead, event = ceremony
    other = factories.team()
    linked, unlinked = project(other), project(other)
    events.link_projects(db.session, factories.user(Role.ADMIN), event, [linked.id])
    return linked, unlinked


def _unsigned_and_unrecorded(*projects):
    for p in projects:
        db.session.refresh(p)
        assert p.stage == Stage.LEAD and p.signed_on is None
        changes = db.session.scalars(select(StageChange).where(StageChange.project_id == p.id))
        assert list(changes) == []
    sign_logs = select(AuditLog).where(AuditLog.entity_type == "event", AuditLog.action == "sign")
    assert list(db.session.scalars(sign_logs)) == []


def test_signing_another_teams_project_at_the_event_is_404_and_changes_nothing(
    client, ceremony, other_teams_project
):
    team, officer, _lead, event = ceremony
    own = project(team)
    events.link_projects(db.session, officer, event, [own.id])
    login(client, officer.email)
    for hidden in other_teams_project:
        for chosen in ([hidden.id], [own.id, hidden.id], [987654]):  # 987654: missing
            response = client.form(
                f"/events/{event.id}/sign", {"sign-project_ids": [str(i) for i in chosen]}
            )
            assert response.status_code == 404
            page = response.get_data(as_text=True)
            assert "One of the projects does not exist or is not visible to you." in page
            assert "Nothing was changed." in page and event.name in page
    _unsigned_and_unrecorded(own, *other_teams_project)


def test_the_api_refuses_to_sign_another_teams_project_like_a_missing_one(
    client, ceremony, other_teams_project
):
    _team, officer, _lead, event = ceremony
    headers = {"Authorization": f"Bearer {factories.token(officer)}"}
    answers = []
    for chosen in ([p.id] for p in other_teams_project), ([987654],):
        for ids in chosen:
            response = client.post(
                f"/api/v1/events/{event.id}/sign", json={"project_ids": ids}, headers=headers
            )
            assert response.status_code == 404
            assert response.mimetype == "application/problem+json"
            answers.append(response.get_json()["detail"])
    assert len(set(answers)) == 1  # another team's project reads exactly like a missing one
    # Without a choice, "every linked project" never reaches the hidden one either.
    response = client.post(f"/api/v1/events/{event.id}/sign", json={}, headers=headers)
    assert response.status_code == 422
    _unsigned_and_unrecorded(*other_teams_project)


def test_unlinking_a_project_the_user_may_not_see_is_404_and_records_nothing(
    client, ceremony, other_teams_project
):
    _team, officer, _lead, event = ceremony
    linked, unlinked = other_teams_project
    login(client, officer.email)
    for p in (linked, unlinked):
        response = client.form(f"/events/{event.id}/projects/{p.id}/remove")
        assert response.status_code == 404
        assert "Nothing was changed." in response.get_data(as_text=True)
    unlinks = select(AuditLog).where(AuditLog.action == "unlink_project")
    assert list(db.session.scalars(unlinks)) == []
    summary = events.event_summary(db.session, factories.user(Role.ADMIN), event)
    assert [p.project.id for p in summary.projects] == [linked.id]  # still linked

"""Sharing projects with other teams (read or edit) and reassigning them (leads, admins)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from crm.accounts.models import Team
from crm.enums import Role
from crm.extensions import db
from crm.pipeline import sharing
from crm.pipeline.errors import NotAllowed, ProjectError
from crm.pipeline.models import Project, ProjectShare
from tests import factories
from tests.conftest import login


@pytest.fixture
def team(app):
    return factories.team()


@pytest.fixture
def other(app):
    return factories.team()


@pytest.fixture
def lead(team):
    return factories.user(Role.LEAD, team)


@pytest.fixture
def officer(team):
    return factories.user(Role.OFFICER, team)


@pytest.fixture
def outsider(other):
    return factories.user(Role.OFFICER, other)


@pytest.fixture
def project(team, officer):
    return factories.project(team, owner=officer)


def fresh(project_id):
    db.session.expire_all()
    return db.session.get(Project, project_id)


def test_read_share_shows_the_project_without_edit_rights(client, project, other, outsider):
    login(client, outsider.email)
    assert client.get(f"/projects/{project.id}").status_code == 404
    factories.share(project, other, can_edit=False)
    page = client.get(f"/projects/{project.id}")
    assert page.status_code == 200
    assert f"/projects/{project.id}/edit" not in page.get_data(as_text=True)
    assert client.get(f"/projects/{project.id}/edit").status_code == 403
    assert client.get(f"/projects/{project.id}/transition?to=signed").status_code == 403
    token = factories.token(outsider)
    response = client.patch(
        f"/api/v1/projects/{project.id}",
        json={"notes": "x"},
        headers={"Authorization": f"Bearer {token}", "If-Match": f'"{project.version}"'},
    )
    assert response.status_code == 403


def test_edit_share_lets_the_other_team_change_it(client, project, other, outsider):
    factories.share(project, other, can_edit=True)
    login(client, outsider.email)
    page = client.get(f"/projects/{project.id}").get_data(as_text=True)
    assert f"/projects/{project.id}/edit" in page
    token = factories.token(outsider)
    response = client.patch(
        f"/api/v1/projects/{project.id}",
        json={"notes": "协作备注"},
        headers={"Authorization": f"Bearer {token}", "If-Match": f'"{project.version}"'},
    )
    assert response.status_code == 200
    assert fresh(project.id).notes == "协作备注"
    # Editing is not managing: the other team cannot share or reassign it.
    assert client.get(f"/projects/{project.id}/sharing").status_code == 403


def test_lead_shares_and_unshares_in_the_browser(
    client, make_client, project, lead, other, outsider
):
    login(client, lead.email)
    page = client.get(f"/projects/{project.id}/sharing").get_data(as_text=True)
    assert f'value="{other.code}"' in page
    response = client.form(
        f"/projects/{project.id}/share", {"share_team": other.code, "access": "edit"}
    )
    assert response.status_code == 302
    share = db.session.scalar(select(ProjectShare).where(ProjectShare.project_id == project.id))
    assert (share.team_id, share.can_edit) == (other.id, True)
    response = client.form(f"/projects/{project.id}/share/{other.id}/remove")
    assert response.status_code == 302
    assert (
        db.session.scalar(select(ProjectShare).where(ProjectShare.project_id == project.id)) is None
    )
    visitor = make_client()
    login(visitor, outsider.email)
    assert visitor.get(f"/projects/{project.id}").status_code == 404


def test_officers_cannot_share_or_reassign(client, project, officer, other):
    login(client, officer.email)
    assert client.get(f"/projects/{project.id}/sharing").status_code == 403
    assert (
        client.form(
            f"/projects/{project.id}/share", {"share_team": other.code, "access": "read"}
        ).status_code
        == 403
    )
    with pytest.raises(NotAllowed):
        sharing.share_project(db.session, project, officer, team_code=other.code, can_edit=False)
    with pytest.raises(NotAllowed):
        sharing.reassign(db.session, project, officer, owner_id=None)


def test_a_lead_of_another_team_cannot_manage_a_shared_project(project, other):
    factories.share(project, other, can_edit=True)
    other_lead = factories.user(Role.LEAD, other)
    with pytest.raises(NotAllowed):
        sharing.reassign(db.session, project, other_lead, owner_id=other_lead.id)


def test_sharing_with_the_own_team_is_refused(project, lead, team):
    with pytest.raises(ProjectError):
        sharing.share_project(db.session, project, lead, team_code=team.code, can_edit=True)


def test_reassign_owner_within_the_team(client, project, lead, team):
    colleague = factories.user(Role.OFFICER, team)
    login(client, lead.email)
    response = client.form(
        f"/projects/{project.id}/reassign", {"team": team.code, "owner_id": str(colleague.id)}
    )
    assert response.status_code == 302
    assert fresh(project.id).owner_id == colleague.id
    stranger = factories.user(Role.OFFICER, factories.team())
    response = client.form(
        f"/projects/{project.id}/reassign", {"team": team.code, "owner_id": str(stranger.id)}
    )
    assert response.status_code == 422
    assert fresh(project.id).owner_id == colleague.id


def test_moving_to_another_team_drops_the_old_owner_and_the_share(project, lead, other):
    factories.share(project, other, can_edit=False)
    changes = sharing.reassign(db.session, project, lead, team_code=other.code, change_owner=False)
    assert project.team_id == other.id and project.owner_id is None
    assert changes["team"][1] == other.code
    assert (
        db.session.scalar(select(ProjectShare).where(ProjectShare.project_id == project.id)) is None
    )


def test_admin_moves_a_project_with_a_new_owner(project, other, outsider):
    admin = factories.user(Role.ADMIN)
    sharing.reassign(db.session, project, admin, team_code=other.code, owner_id=outsider.id)
    assert (project.team_id, project.owner_id) == (other.id, outsider.id)
    assert db.session.get(Team, project.team_id).code == other.code


def test_a_project_moved_away_leaves_the_old_team(client, project, lead, officer, other):
    sharing.reassign(db.session, project, lead, team_code=other.code, change_owner=False)
    login(client, officer.email)
    assert client.get(f"/projects/{project.id}").status_code == 404

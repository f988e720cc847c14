"""Administrators manage users and teams in the web UI and from the command line."""

from __future__ import annotations

from sqlalchemy import select

from crm.accounts.models import Team, User
from crm.audit import AuditLog
from crm.enums import Role
from crm.extensions import db
from tests import factories
from tests.conftest import login


def _admin_client(client):
    admin = factories.user(Role.ADMIN)
    login(client, admin.email)
    return admin


def test_admin_creates_user_in_the_ui(client):
    _admin_client(client)
    team = factories.team("east-team")
    response = client.form(
        "/admin/users/new",
        {
            "email": "New.Officer@Example.com",
            "name": "新专员",
            "role": "officer",
            "team_code": team.code,
            "password": "a-long-enough-passphrase",
        },
    )
    assert response.status_code == 302
    created = db.session.scalar(select(User).where(User.email == "new.officer@example.com"))
    assert created is not None and created.team_id == team.id and created.role == Role.OFFICER
    assert db.session.scalar(
        select(AuditLog).where(AuditLog.entity_type == "user", AuditLog.entity_id == created.id)
    )


def test_user_form_keeps_input_and_shows_errors_beside_fields(client):
    _admin_client(client)
    response = client.form(
        "/admin/users/new",
        {
            "email": "kept@example.com",
            "name": "保留的名字",
            "role": "officer",
            "team_code": "",
            "password": "password",
        },
    )
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert 'value="kept@example.com"' in body
    assert "保留的名字" in body
    assert "invalid-feedback" in body


def test_officer_without_team_is_refused(client):
    _admin_client(client)
    response = client.form(
        "/admin/users/new",
        {
            "email": "noteam@example.com",
            "role": "officer",
            "team_code": "",
            "password": "a-long-enough-passphrase",
        },
    )
    assert response.status_code == 422
    assert db.session.scalar(select(User).where(User.email == "noteam@example.com")) is None


def test_deactivate_and_reactivate_in_the_ui(client, make_client):
    _admin_client(client)
    officer = factories.user(Role.OFFICER)
    other = make_client()
    login(other, officer.email)
    assert other.get("/").status_code == 200
    assert client.form(f"/admin/users/{officer.id}/active", {"active": "0"}).status_code == 302
    db.session.refresh(officer)
    assert officer.active is False
    assert other.get("/").status_code == 302  # logged out at once
    assert client.form(f"/admin/users/{officer.id}/active", {"active": "1"}).status_code == 302
    db.session.refresh(officer)
    assert officer.active is True
    assert login(make_client(), officer.email).status_code == 302


def test_last_admin_cannot_be_deactivated(client):
    admin = _admin_client(client)
    for other in db.session.scalars(
        select(User).where(User.role == Role.ADMIN, User.id != admin.id)
    ):
        other.active = False
    client.form(f"/admin/users/{admin.id}/active", {"active": "0"})
    db.session.refresh(admin)
    assert admin.active is True


def test_admin_creates_and_edits_team(client):
    _admin_client(client)
    response = client.form(
        "/admin/teams/new",
        {
            "code": "liuyang",
            "name_zh": "浏阳招商队",
            "name_en": "Liuyang",
            "zone_code": "liuyang-etdz",
        },
    )
    assert response.status_code == 302
    team = db.session.scalar(select(Team).where(Team.code == "liuyang"))
    assert team is not None and team.zone_id is not None
    response = client.form(
        f"/admin/teams/{team.id}",
        {
            "code": "liuyang",
            "name_zh": "浏阳经开区招商局",
            "name_en": "",
            "zone_code": "liuyang-etdz",
        },
    )
    assert response.status_code == 302
    db.session.refresh(team)
    assert team.name_zh == "浏阳经开区招商局"


def test_team_code_must_be_unique_and_well_formed(client):
    _admin_client(client)
    factories.team("taken")
    assert client.form("/admin/teams/new", {"code": "taken", "name_zh": "x"}).status_code == 422
    assert client.form("/admin/teams/new", {"code": "Bad Code!", "name_zh": "x"}).status_code == 422


def test_non_admins_cannot_manage_users(client):
    officer = factories.user(Role.LEAD)
    login(client, officer.email)
    assert client.get("/admin/users").status_code == 403
    assert client.form("/admin/teams/new", {"code": "x", "name_zh": "x"}).status_code == 403


# --- command line --------------------------------------------------------------------------


def test_cli_user_create_reads_password_from_stdin(runner):
    team = factories.team("cli-team")
    result = runner.invoke(
        args=["user", "create", "cli@example.com", "--role", "officer", "--team", team.code],
        input="a-long-enough-passphrase\n",
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.email == "cli@example.com"))
    assert user is not None and user.team_id == team.id


def test_cli_user_create_refuses_weak_password(runner):
    result = runner.invoke(
        args=["user", "create", "weak@example.com", "--role", "admin"], input="123456\n"
    )
    assert result.exit_code != 0
    assert "8" in result.output  # "at least 8 characters", in the CLI's language
    assert db.session.scalar(select(User).where(User.email == "weak@example.com")) is None


def test_cli_user_list_deactivate_reactivate(runner):
    user = factories.user(Role.OFFICER, email="listed@example.com")
    assert "listed@example.com" in runner.invoke(args=["user", "list"]).output
    assert runner.invoke(args=["user", "deactivate", user.email]).exit_code == 0
    db.session.refresh(user)
    assert not user.active
    assert "inactive" in runner.invoke(args=["user", "list"]).output
    assert runner.invoke(args=["user", "reactivate", user.email]).exit_code == 0
    db.session.refresh(user)
    assert user.active


def test_cli_token_create_prints_token_on_last_line(runner, client):
    user = factories.user(Role.LEADER)
    result = runner.invoke(args=["token", "create", user.email])
    assert result.exit_code == 0
    token = result.output.strip().splitlines()[-1]
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.get_json()["email"] == user.email

"""Sessions and tokens end from the server: deactivation, a password change, a change of
role or team, a two-factor reset. The browser's old cookie stops working on its next
request, and API tokens of a deactivated user stop at once."""

from __future__ import annotations

from crm.accounts import two_factor
from crm.accounts.services import set_active, set_password, update_user
from crm.enums import Role
from crm.extensions import db
from tests import factories
from tests.conftest import login


def _two_sessions(make_client, user):
    first, second = make_client(), make_client()
    login(first, user.email)
    login(second, user.email)
    assert first.get("/").status_code == 200 and second.get("/").status_code == 200
    return first, second


def test_deactivation_ends_browser_sessions_and_api_tokens(make_client):
    factories.user(Role.ADMIN)
    user = factories.user(Role.OFFICER)
    token = factories.token(user)
    first, second = _two_sessions(make_client, user)
    set_active(db.session, user, False)
    db.session.flush()
    for client in (first, second):
        assert client.get("/projects").status_code == 302
    api = make_client().get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 401 and api.mimetype == "application/problem+json"


def test_password_change_ends_every_other_session(make_client):
    user = factories.user(Role.OFFICER)
    first, second = _two_sessions(make_client, user)
    set_password(db.session, user, "a-completely-new-passphrase")
    db.session.flush()
    assert first.get("/").status_code == 302 and second.get("/").status_code == 302


def test_a_change_of_role_or_team_takes_effect_at_once(make_client):
    user = factories.user(Role.OFFICER)
    other_team = factories.team()
    first, _second = _two_sessions(make_client, user)
    update_user(
        db.session,
        user,
        name=user.name,
        role=Role.OFFICER,
        team_code=other_team.code,
        actor_id=None,
    )
    db.session.flush()
    assert first.get("/").status_code == 302  # logged in again, with the new scope


def test_a_two_factor_reset_ends_sessions(make_client):
    user = factories.user(Role.LEADER)
    first, second = _two_sessions(make_client, user)
    two_factor.disable(db.session, user, actor_id=None, reset=True)
    db.session.flush()
    assert first.get("/").status_code == 302 and second.get("/").status_code == 302


def test_a_revoked_token_is_refused(client):
    from crm.accounts.models import ApiToken
    from crm.accounts.services import revoke_token

    user = factories.user(Role.OFFICER)
    secret = factories.token(user)
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    token = db.session.scalars(db.select(ApiToken).where(ApiToken.user_id == user.id)).one()
    revoke_token(db.session, token, user.id)
    db.session.flush()
    assert client.get("/api/v1/me", headers=headers).status_code == 401

"""Logging in and out, throttling, and sessions ended from the server."""

from __future__ import annotations

from sqlalchemy import func, select

from crm.accounts.models import LoginAttempt
from crm.accounts.services import set_active, set_password
from crm.enums import Role
from crm.extensions import db
from tests import factories
from tests.conftest import PASSWORD, login


def test_login_then_home_then_logout(client):
    user = factories.user(Role.OFFICER)
    response = login(client, user.email)
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    response = client.form("/logout")
    assert response.status_code == 302
    assert client.get("/").status_code == 302  # back to the login page


def test_wrong_password_and_unknown_account_look_the_same(client):
    user = factories.user(Role.OFFICER)
    wrong = login(client, user.email, "not-the-password")
    unknown = login(client, "nobody@example.com", "not-the-password")
    assert wrong.status_code == unknown.status_code == 200
    for response in (wrong, unknown):
        body = response.get_data(as_text=True)
        assert "Wrong email or password." in body or "邮箱或密码错误" in body
    # The typed email is kept on the form.
    assert user.email in wrong.get_data(as_text=True)


def test_deactivated_user_cannot_log_in(client):
    user = factories.user(Role.OFFICER)
    set_active(db.session, user, False)
    response = login(client, user.email)
    assert response.status_code == 200  # the form again, not a redirect
    assert client.get("/").status_code == 302


def test_throttled_after_ten_failures_for_one_account(make_client):
    user = factories.user(Role.OFFICER)
    for i in range(10):
        # Different clients (IPs are the same in tests; the account is what matters here).
        response = login(make_client(), user.email, f"wrong-{i}")
        assert response.status_code == 200
    response = login(make_client(), user.email, PASSWORD)
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    body = response.get_data(as_text=True)
    assert "seconds" in body or "秒" in body


def test_throttle_counts_failures_per_client_too(client, app):
    for i in range(10):
        login(client, f"someone{i}@example.com", "wrong-password")
    count = db.session.scalar(select(func.count()).select_from(LoginAttempt))
    assert count == 10
    assert login(client, "another@example.com", "whatever-pw").status_code == 429


def test_password_change_ends_other_sessions(make_client):
    user = factories.user(Role.OFFICER)
    first, second = make_client(), make_client()
    login(first, user.email)
    login(second, user.email)
    assert second.get("/").status_code == 200
    response = first.form(
        "/profile/password",
        {"pw-current_password": PASSWORD, "pw-new_password": "a-brand-new-passphrase"},
    )
    assert response.status_code == 302
    assert first.get("/").status_code == 200  # the session that changed it stays
    assert second.get("/").status_code == 302  # the other one is logged out


def test_deactivation_ends_sessions_at_once(client):
    user = factories.user(Role.OFFICER)
    login(client, user.email)
    assert client.get("/").status_code == 200
    set_active(db.session, user, False)
    db.session.flush()
    assert client.get("/").status_code == 302


def test_common_and_short_passwords_refused(client):
    user = factories.user(Role.OFFICER)
    login(client, user.email)
    for bad in ("password1", "12345678", "short"):
        response = client.form(
            "/profile/password", {"pw-current_password": PASSWORD, "pw-new_password": bad}
        )
        assert response.status_code == 422


def test_set_password_service_bumps_session_version(app):
    user = factories.user(Role.OFFICER)
    before = user.session_version
    set_password(db.session, user, "another-long-passphrase")
    assert user.session_version == before + 1


def test_outside_the_tests_passwords_are_hashed_with_scrypt(app, monkeypatch, tmp_path):
    """The tests hash cheaply (tests/conftest.py); the app's own setting is scrypt, for the
    stored hashes and for the dummy hash checked when an account does not exist."""
    from crm import security
    from crm.config import from_environment

    configured = from_environment(str(tmp_path))["PASSWORD_HASH_METHOD"]
    assert configured == "scrypt"
    monkeypatch.setitem(app.config, "PASSWORD_HASH_METHOD", configured)
    user = factories.user(Role.OFFICER)
    set_password(db.session, user, "another-long-passphrase")
    assert user.password_hash.startswith("scrypt:")
    assert security.verify_password(user.password_hash, "another-long-passphrase")
    assert security._dummy_hash(security.password_hash_method()).startswith("scrypt:")
    monkeypatch.delitem(app.config, "PASSWORD_HASH_METHOD")
    assert security.password_hash_method() == "scrypt"


def test_session_cookie_flags(client):
    user = factories.user(Role.OFFICER)
    response = login(client, user.email)
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    body = response.get_data(as_text=True)
    assert "<script>" not in body  # no inline script anywhere


def test_idle_timeout_logs_out(client, app):
    user = factories.user(Role.OFFICER)
    login(client, user.email)
    with client.session_transaction() as session:
        session["seen_at"] = session["seen_at"] - 3 * 3600
    assert client.get("/").status_code == 302


def test_absolute_timeout_logs_out(client):
    user = factories.user(Role.OFFICER)
    login(client, user.email)
    with client.session_transaction() as session:
        session["login_at"] = session["login_at"] - 13 * 3600
    assert client.get("/").status_code == 302


def test_csrf_missing_or_wrong_token_is_refused(client):
    user = factories.user(Role.ADMIN)
    login(client, user.email)
    for token in (None, "forged-token"):
        data = {"code": "x-team", "name_zh": "新队", "zone_code": ""}
        if token:
            data["csrf_token"] = token
        response = client.post("/admin/teams/new", data=data)
        assert response.status_code == 400
    from crm.accounts.models import Team

    assert db.session.scalar(select(Team).where(Team.code == "x-team")) is None


def test_login_requires_csrf(client):
    user = factories.user(Role.OFFICER)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400

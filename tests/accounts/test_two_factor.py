"""Two-factor login: enrolment, the code step, recovery codes, the admins' requirement."""

from __future__ import annotations

import importlib.util
import re
import time
from datetime import UTC, datetime

import pyotp
import pytest
from sqlalchemy import event, select

from crm.accounts import two_factor
from crm.accounts.models import LoginAttempt, User
from crm.audit import AuditLog
from crm.enums import Role
from crm.extensions import db
from tests import factories
from tests.conftest import PASSWORD, login

QRCODE = importlib.util.find_spec("qrcode") is not None
CODE_RE = re.compile(r"<code>([2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4})</code>")


def _code(secret: str, offset_steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * offset_steps)


def _enrol(client, user: User) -> list[str]:
    """Enrol through the pages; return the recovery codes shown."""
    login(client, user.email)
    assert client.form("/profile/2fa/setup", {}).status_code == 302
    page = client.get("/profile/2fa").get_data(as_text=True)
    assert "data:image/svg+xml;base64," in page or not QRCODE
    db.session.refresh(user)
    assert user.totp_secret and user.totp_secret in page and not user.totp_enabled
    response = client.form("/profile/2fa/confirm", {"otp-code": _code(user.totp_secret)})
    assert response.status_code == 302
    page = client.get("/profile/2fa").get_data(as_text=True)
    codes = CODE_RE.findall(page)
    assert len(codes) == 10
    db.session.refresh(user)
    return codes


def _enrolled_user(role: Role = Role.OFFICER) -> tuple[User, list[str]]:
    user = factories.user(role)
    two_factor.start_enrollment(db.session, user)
    codes = two_factor.confirm_enrollment(db.session, user, _code(user.totp_secret))
    db.session.flush()
    return user, codes


def test_enrolment_shows_a_qr_code_and_turns_on_only_with_a_right_code(client):
    user = factories.user(Role.OFFICER)
    login(client, user.email)
    client.form("/profile/2fa/setup", {})
    db.session.refresh(user)
    wrong = "000000" if _code(user.totp_secret) != "000000" else "111111"
    response = client.form("/profile/2fa/confirm", {"otp-code": wrong})
    assert response.status_code == 422
    db.session.refresh(user)
    assert not user.totp_enabled
    uri = two_factor.provisioning_uri(user)
    assert uri.startswith("otpauth://totp/") and "secret=" + user.totp_secret in uri


def test_recovery_codes_are_shown_once_and_stored_hashed(client):
    user = factories.user(Role.OFFICER)
    codes = _enrol(client, user)
    assert user.totp_enabled
    assert len(user.recovery_codes) == 10
    stored = " ".join(user.recovery_codes)
    assert not any(code in stored or code.replace("-", "") in stored for code in codes)
    # Shown once: the next visit no longer lists them.
    assert not CODE_RE.findall(client.get("/profile/2fa").get_data(as_text=True))


def test_login_needs_the_code_after_the_password(make_client):
    user, _codes = _enrolled_user()
    client = make_client()
    response = client.form("/login?next=/reference/", {"email": user.email, "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"].endswith("/login/code")
    # Not logged in yet: every page still sends to the login page.
    assert client.get("/").status_code == 302
    assert client.get("/api/v1/me").status_code == 401
    client._token = None
    response = client.form("/login/code", {"code": _code(user.totp_secret, 1)})
    assert response.status_code == 302 and response.headers["Location"].endswith("/reference/")
    assert client.get("/").status_code == 200


def test_a_code_is_accepted_only_once(make_client):
    user, _codes = _enrolled_user()
    code = _code(user.totp_secret, 1)
    first = make_client()
    login(first, user.email)
    assert first.form("/login/code", {"code": code}).status_code == 302
    second = make_client()
    login(second, user.email)
    response = second.form("/login/code", {"code": code})
    assert response.status_code == 200  # the form again, with the error
    assert second.get("/").status_code == 302


def test_a_recovery_code_logs_in_once(make_client):
    user, codes = _enrolled_user()
    client = make_client()
    login(client, user.email)
    response = client.form("/login/code", {"code": codes[3].lower()})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    db.session.refresh(user)
    assert two_factor.recovery_codes_left(user) == 9
    assert db.session.scalar(
        select(AuditLog).where(
            AuditLog.entity_id == user.id, AuditLog.action == "2fa_recovery_code_used"
        )
    )
    again = make_client()
    login(again, user.email)
    assert again.form("/login/code", {"code": codes[3]}).status_code == 200
    assert again.get("/").status_code == 302


def test_wrong_codes_are_throttled_like_passwords(make_client):
    user, _codes = _enrolled_user()
    for _ in range(10):
        db.session.add(LoginAttempt(ip="198.51.100.7", email=user.email, at=datetime.now(UTC)))
    db.session.flush()
    client = make_client()
    # The password step is throttled per account too, so enter the code step directly.
    with client.session_transaction() as session:
        session["2fa_pending"] = {
            "user": user.get_id(),
            "at": time.time(),
            "next": "/",
            "failures": 0,
        }
    response = client.form("/login/code", {"code": _code(user.totp_secret, 1)})
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert client.get("/").status_code == 302


def test_five_wrong_codes_send_back_to_the_password(make_client):
    user, _codes = _enrolled_user()
    client = make_client()
    login(client, user.email)
    for _ in range(4):
        assert client.form("/login/code", {"code": "12345"}).status_code == 200
    response = client.form("/login/code", {"code": "12345"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    # The right code no longer helps: the password step must be done again.
    response = client.form("/login/code", {"code": _code(user.totp_secret, 1)})
    assert response.headers["Location"].endswith("/login")
    assert client.get("/").status_code == 302
    failures = db.session.scalar(
        select(db.func.count()).select_from(LoginAttempt).where(LoginAttempt.email == user.email)
    )
    assert failures == 5


def test_the_code_step_expires(make_client):
    user, _codes = _enrolled_user()
    client = make_client()
    login(client, user.email)
    with client.session_transaction() as session:
        pending = dict(session["2fa_pending"])
        pending["at"] -= 301
        session["2fa_pending"] = pending
    response = client.form("/login/code", {"code": _code(user.totp_secret, 1)})
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    assert client.get("/").status_code == 302


def test_deactivation_during_the_code_step_refuses_the_login(make_client):
    from crm.accounts.services import set_active

    user, _codes = _enrolled_user()
    factories.user(Role.ADMIN)  # not the last admin
    client = make_client()
    login(client, user.email)
    set_active(db.session, user, False)
    db.session.flush()
    response = client.form("/login/code", {"code": _code(user.totp_secret, 1)})
    assert response.headers["Location"].endswith("/login")
    assert client.get("/").status_code == 302


def test_required_roles_must_enrol_before_anything_else(client, make_client):
    admin = factories.user(Role.ADMIN)
    login(client, admin.email)
    response = client.form("/admin/security", {"require_admin": "y", "require_leader": "y"})
    assert response.status_code == 302
    assert two_factor.required_roles(db.session) == {Role.ADMIN, Role.LEADER}
    # The admin who saved it is now held at the enrolment page too.
    for url in ("/", "/projects", "/admin/users", "/profile", "/reference/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response.headers["Location"].endswith("/profile/2fa"), url
    api = client.get("/api/v1/me")
    assert api.status_code == 403 and api.mimetype == "application/problem+json"
    assert client.get("/profile/2fa").status_code == 200
    # Officers are not concerned.
    officer = factories.user(Role.OFFICER)
    other = make_client()
    login(other, officer.email)
    assert other.get("/").status_code == 200
    # Once enrolled, the admin works normally.
    client.form("/profile/2fa/setup", {})
    db.session.refresh(admin)
    response = client.form("/profile/2fa/confirm", {"otp-code": _code(admin.totp_secret)})
    assert response.status_code == 302
    assert client.get("/admin/users").status_code == 200


def test_required_roles_cannot_use_api_tokens_until_enrolled(client):
    two_factor.set_required_roles(db.session, {Role.LEADER}, None)
    leader = factories.user(Role.LEADER)
    token = factories.token(leader)
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    two_factor.start_enrollment(db.session, leader)
    two_factor.confirm_enrollment(db.session, leader, _code(leader.totp_secret))
    db.session.flush()
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


def test_only_admins_and_leaders_can_be_required(app):
    with pytest.raises(two_factor.TwoFactorError):
        two_factor.set_required_roles(db.session, {Role.OFFICER}, None)


def test_disable_needs_the_password_and_is_refused_when_required(client):
    user = factories.user(Role.LEADER)
    _enrol(client, user)
    assert client.form("/profile/2fa/disable", {"off-password": "wrong-one"}).status_code == 422
    db.session.refresh(user)
    assert user.totp_enabled
    two_factor.set_required_roles(db.session, {Role.LEADER}, None)
    db.session.flush()
    client.form("/profile/2fa/disable", {"off-password": PASSWORD})
    db.session.refresh(user)
    assert user.totp_enabled
    two_factor.set_required_roles(db.session, set(), None)
    db.session.flush()
    assert client.form("/profile/2fa/disable", {"off-password": PASSWORD}).status_code == 302
    db.session.refresh(user)
    assert not user.totp_enabled and user.totp_secret is None and user.recovery_codes == []


def test_new_recovery_codes_replace_the_old_ones(client):
    user = factories.user(Role.OFFICER)
    old = _enrol(client, user)
    response = client.form("/profile/2fa/recovery-codes", {"renew-password": PASSWORD})
    assert response.status_code == 302
    new = CODE_RE.findall(client.get("/profile/2fa").get_data(as_text=True))
    assert len(new) == 10 and not set(new) & set(old)
    db.session.refresh(user)
    with pytest.raises(two_factor.TwoFactorError):
        two_factor.verify_login_code(db.session, user, old[0])
    assert two_factor.verify_login_code(db.session, user, new[0]) == "recovery"


def test_reset_2fa_command(runner, make_client):
    user, _codes = _enrolled_user(Role.ADMIN)
    before = user.session_version
    result = runner.invoke(args=["user", "reset-2fa", user.email.upper()])
    assert result.exit_code == 0, result.output
    db.session.refresh(user)
    assert not user.totp_enabled and user.totp_secret is None
    assert user.session_version == before + 1
    # They log in with the password alone again.
    client = make_client()
    assert login(client, user.email).headers["Location"].endswith("/")
    result = runner.invoke(args=["user", "reset-2fa", "nobody@example.com"])
    assert result.exit_code != 0 and "No user" in result.output


def test_code_step_accepts_codes_from_adjacent_steps_only(app):
    user, _codes = _enrolled_user()
    now = time.time() + 600  # later than the enrolment's step
    totp = pyotp.TOTP(user.totp_secret)
    with pytest.raises(two_factor.TwoFactorError):
        two_factor.verify_login_code(db.session, user, totp.at(now - 90), now=now)
    assert two_factor.verify_login_code(db.session, user, totp.at(now - 30), now=now) == "totp"
    assert two_factor.verify_login_code(db.session, user, totp.at(now + 30), now=now) == "totp"
    with pytest.raises(two_factor.TwoFactorError):  # an older step after a newer one
        two_factor.verify_login_code(db.session, user, totp.at(now), now=now)


def test_the_requirement_costs_no_query_for_users_it_cannot_concern(app):
    officer = factories.user(Role.OFFICER)
    enrolled, _codes = _enrolled_user(Role.ADMIN)
    statements: list[str] = []

    def count(*args):
        statements.append(args[2])

    engine = db.session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert not two_factor.must_enroll(db.session, officer)
        assert not two_factor.must_enroll(db.session, enrolled)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert statements == []


def test_the_language_chosen_before_logging_in_is_kept(client):
    user = factories.user(Role.OFFICER)
    client.form("/language/en", {"next": "/login"})
    login(client, user.email)
    assert "Log out" in client.get("/").get_data(as_text=True)


def test_the_qr_code_encodes_the_otpauth_uri(app):
    import base64

    pytest.importorskip("qrcode", reason="the qrcode package draws the QR code")
    uri = "otpauth://totp/Investment%20CRM:a%40example.com?secret=JBSWY3DPEHPK3PXP"
    data = two_factor.qr_code_data_uri(uri)
    assert data.startswith("data:image/svg+xml;base64,")
    svg = base64.b64decode(data.split(",", 1)[1]).decode()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "<path" in svg
    assert "<script" not in svg and "style=" not in svg  # nothing the CSP would refuse

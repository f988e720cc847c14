"""Two-factor login pages: the code step of logging in, enrolment on the profile, and the
administrators' setting that requires 2FA for admins and leaders."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import func, select

from crm import nav
from crm.accounts import two_factor
from crm.accounts.forms import (
    ConfirmForm,
    PasswordConfirmForm,
    SecuritySettingsForm,
    TwoFactorCodeForm,
)
from crm.accounts.models import User
from crm.accounts.views import PENDING_2FA, bp, start_session
from crm.enums import Role
from crm.extensions import db
from crm.security import (
    client_ip,
    record_failure,
    roles_required,
    seconds_until_allowed,
    verify_password,
)

# How long the code step waits after the password step, and how many wrong codes it takes
# before the password must be typed again (the database throttle applies on top).
PENDING_SECONDS = 300
MAX_CODE_FAILURES = 5

nav.ADMIN_NAV.append(("accounts.security_settings", _l("Security")))

# What a user who must enrol may still reach.
_ENROLMENT_ENDPOINTS = frozenset(
    {
        "accounts.two_factor",
        "accounts.two_factor_setup",
        "accounts.two_factor_confirm",
        "accounts.logout",
        "accounts.switch_language",
        "main.healthz",
        "static",
        "bootstrap.static",
    }
)


@bp.before_app_request
def _require_enrolment() -> Any:
    """Users whose role requires 2FA and who have not set it up can do nothing else."""
    if request.endpoint in _ENROLMENT_ENDPOINTS or request.endpoint is None:
        return None
    if not current_user.is_authenticated:
        return None
    if not two_factor.must_enroll(db.session, current_user):
        return None
    message = _("Your role requires two-factor login. Set it up to continue.")
    if request.blueprint == "api":
        from crm.api.framework import problem

        return problem(403, message)
    flash(message, "warning")
    return redirect(url_for("accounts.two_factor"))


# --- the code step of logging in -------------------------------------------------------------


def _pending_user(now: datetime) -> User | None:
    pending = session.get(PENDING_2FA)
    if not isinstance(pending, dict) or now.timestamp() - pending.get("at", 0) > PENDING_SECONDS:
        return None
    try:
        raw_id, raw_version = str(pending["user"]).split(".", 1)
        user = db.session.get(User, int(raw_id))
    except (KeyError, ValueError):
        return None
    if user is None or not user.active or user.session_version != int(raw_version):
        return None
    return user


@bp.route("/login/code", methods=["GET", "POST"])
def login_code() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    now = datetime.now(UTC)
    user = _pending_user(now)
    if user is None:
        session.pop(PENDING_2FA, None)
        flash(_("Please log in again."), "info")
        return redirect(url_for("accounts.login"))
    form = TwoFactorCodeForm()
    if form.validate_on_submit():
        ip = client_ip()
        wait = seconds_until_allowed(db.session, ip, user.email, now)
        if wait:
            return (
                render_template("accounts/login_code.html", form=form, retry_after=wait),
                429,
                {"Retry-After": str(wait)},
            )
        try:
            kind = two_factor.verify_login_code(db.session, user, form.code.data or "")
        except two_factor.TwoFactorError:
            record_failure(db.session, ip, user.email, now)
            pending = dict(session[PENDING_2FA])
            pending["failures"] = int(pending.get("failures", 0)) + 1
            db.session.commit()
            if pending["failures"] >= MAX_CODE_FAILURES:
                session.pop(PENDING_2FA, None)
                flash(_("Too many wrong codes. Log in again."), "warning")
                return redirect(url_for("accounts.login"))
            session[PENDING_2FA] = pending
            form.code.errors.append(_("That code is not right."))
            return render_template("accounts/login_code.html", form=form), 200
        target = session[PENDING_2FA].get("next") or url_for("main.home")
        start_session(user, now)
        db.session.commit()
        if kind == "recovery":
            flash(
                _(
                    "You used a recovery code; %(n)d left. Set up your authenticator again "
                    "or create new codes on your profile.",
                    n=two_factor.recovery_codes_left(user),
                ),
                "warning",
            )
        return redirect(target if target.startswith("/") and not target.startswith("//") else "/")
    return render_template("accounts/login_code.html", form=form)


# --- enrolment on the profile ----------------------------------------------------------------


def _page(status: int = 200, **forms: Any) -> Any:
    user = current_user._get_current_object()
    uri = qr = None
    if not user.totp_enabled and user.totp_secret:
        uri = two_factor.provisioning_uri(user)
        qr = two_factor.qr_code_data_uri(uri)
    return render_template(
        "accounts/two_factor.html",
        code_form=forms.get("code_form") or TwoFactorCodeForm(prefix="otp"),
        disable_form=forms.get("disable_form") or PasswordConfirmForm(prefix="off"),
        renew_form=forms.get("renew_form") or PasswordConfirmForm(prefix="renew"),
        setup_form=ConfirmForm(prefix="setup"),
        uri=uri,
        qr=qr,
        secret=user.totp_secret if uri else None,
        recovery_codes=session.pop("new_recovery_codes", None),
        codes_left=two_factor.recovery_codes_left(user),
        required=user.role in two_factor.required_roles(db.session),
    ), status


@bp.get("/profile/2fa", endpoint="two_factor")
@login_required
def two_factor_page() -> Any:
    return _page()


@bp.post("/profile/2fa/setup")
@login_required
def two_factor_setup() -> Any:
    ConfirmForm(prefix="setup").validate_on_submit()  # CSRF is checked globally
    try:
        two_factor.start_enrollment(db.session, current_user)
    except two_factor.TwoFactorError:
        flash(_("Two-factor login is already on."), "info")
    else:
        db.session.commit()
    return redirect(url_for("accounts.two_factor"))


@bp.post("/profile/2fa/confirm")
@login_required
def two_factor_confirm() -> Any:
    form = TwoFactorCodeForm(prefix="otp")
    if form.validate_on_submit():
        try:
            codes = two_factor.confirm_enrollment(db.session, current_user, form.code.data or "")
        except two_factor.TwoFactorError:
            form.code.errors.append(
                _("That code is not right. Check your phone's clock and try again.")
            )
        else:
            db.session.commit()
            session["new_recovery_codes"] = codes
            flash(_("Two-factor login is on."), "success")
            return redirect(url_for("accounts.two_factor"))
    return _page(422, code_form=form)


def _password_ok(form: PasswordConfirmForm) -> bool:
    if not form.validate_on_submit():
        return False
    if not verify_password(current_user.password_hash, form.password.data or ""):
        form.password.errors.append(_("The password is wrong."))
        return False
    return True


@bp.post("/profile/2fa/disable")
@login_required
def two_factor_disable() -> Any:
    form = PasswordConfirmForm(prefix="off")
    if current_user.role in two_factor.required_roles(db.session):
        flash(_("Your role requires two-factor login: it cannot be turned off."), "danger")
        return redirect(url_for("accounts.two_factor"))
    if not _password_ok(form):
        return _page(422, disable_form=form)
    two_factor.disable(db.session, current_user, current_user.id)
    db.session.commit()
    flash(_("Two-factor login is off."), "success")
    return redirect(url_for("accounts.two_factor"))


@bp.post("/profile/2fa/recovery-codes")
@login_required
def two_factor_recovery_codes() -> Any:
    form = PasswordConfirmForm(prefix="renew")
    if not current_user.totp_enabled:
        return redirect(url_for("accounts.two_factor"))
    if not _password_ok(form):
        return _page(422, renew_form=form)
    session["new_recovery_codes"] = two_factor.regenerate_recovery_codes(db.session, current_user)
    db.session.commit()
    flash(_("New recovery codes created; the old ones no longer work."), "success")
    return redirect(url_for("accounts.two_factor"))


# --- the administrators' setting -------------------------------------------------------------


@bp.route("/admin/security", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def security_settings() -> Any:
    required = two_factor.required_roles(db.session)
    form = SecuritySettingsForm()
    if request.method == "GET":
        form.require_admin.data = Role.ADMIN in required
        form.require_leader.data = Role.LEADER in required
    if form.validate_on_submit():
        roles = set()
        if form.require_admin.data:
            roles.add(Role.ADMIN)
        if form.require_leader.data:
            roles.add(Role.LEADER)
        two_factor.set_required_roles(db.session, roles, current_user.id)
        db.session.commit()
        flash(_("Security settings saved."), "success")
        return redirect(url_for("accounts.security_settings"))
    without = dict(
        db.session.execute(
            select(User.role, func.count())
            .where(
                User.active.is_(True),
                User.totp_enabled.is_(False),
                User.role.in_(two_factor.REQUIRABLE_ROLES),
            )
            .group_by(User.role)
        ).all()
    )
    return render_template(
        "accounts/security.html",
        form=form,
        admins_without=without.get(Role.ADMIN, 0),
        leaders_without=without.get(Role.LEADER, 0),
    )

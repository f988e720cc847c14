"""Login, logout, the profile page, and the administration of users and teams."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from crm.accounts import services
from crm.accounts.forms import (
    ConfirmForm,
    LanguageForm,
    LoginForm,
    PasswordChangeForm,
    TeamForm,
    TokenForm,
    UserCreateForm,
    UserEditForm,
)
from crm.accounts.models import ApiToken, Team, User
from crm.db import reads_before_writes
from crm.enums import Role
from crm.extensions import db
from crm.reference.models import Zone
from crm.security import (
    client_ip,
    record_failure,
    roles_required,
    seconds_until_allowed,
    verify_password,
)

bp = Blueprint("accounts", __name__)


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("main.home")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm()
    if form.validate_on_submit():
        now = datetime.now(UTC)
        email = services.normalize_email(form.email.data or "")
        ip = client_ip()
        # The password hash is slow on purpose: check it without holding SQLite's write lock.
        with reads_before_writes(db.session):
            wait = seconds_until_allowed(db.session, ip, email, now)
            password = form.password.data or ""
            user = None if wait else services.authenticate(db.session, email, password)
        if wait:
            return (
                render_template("accounts/login.html", form=form, retry_after=wait),
                429,
                {"Retry-After": str(wait)},
            )
        if user is None:
            record_failure(db.session, ip, email, now)
            db.session.commit()
            form.password.errors.append(_("Wrong email or password."))
            return render_template("accounts/login.html", form=form), 200
        if user.totp_enabled:
            # The password was right; the session is not logged in until the code is.
            new_session()
            session[PENDING_2FA] = {
                "user": user.get_id(),
                "at": now.timestamp(),
                "next": _safe_next(request.args.get("next")),
                "failures": 0,
            }
            return redirect(url_for("accounts.login_code"))
        start_session(user, now)
        db.session.commit()
        return redirect(_safe_next(request.args.get("next")))
    return render_template("accounts/login.html", form=form)


# Set by the password step for a user with two-factor login; read by `login_code`.
PENDING_2FA = "2fa_pending"


def new_session() -> None:
    """Start a new session, keeping only the language chosen on the login page."""
    locale = session.get("locale")
    session.clear()
    if locale:
        session["locale"] = locale


def start_session(user: User, now: datetime) -> None:
    """Log `user` in on a new session (the caller commits)."""
    new_session()  # a new session at login
    login_user(user)
    session.permanent = True
    session["login_at"] = now.timestamp()
    session["seen_at"] = now.timestamp()
    user.last_login_at = now


@bp.post("/logout")
def logout() -> Any:
    ConfirmForm().validate_on_submit()  # CSRF is checked globally; nothing else to do
    logout_user()
    session.clear()
    flash(_("You have logged out."), "info")
    return redirect(url_for("accounts.login"))


@bp.route("/profile", methods=["GET"])
@login_required
def profile() -> Any:
    tokens = db.session.scalars(
        select(ApiToken)
        .where(ApiToken.user_id == current_user.id)
        .order_by(ApiToken.created_at.desc())
    ).all()
    return render_template(
        "accounts/profile.html",
        password_form=PasswordChangeForm(prefix="pw"),
        language_form=LanguageForm(prefix="lang", locale=current_user.locale or "zh_CN"),
        token_form=TokenForm(prefix="tok"),
        tokens=tokens,
        new_token=session.pop("new_token", None),
        confirm_form=ConfirmForm(),
    )


@bp.post("/profile/password")
@login_required
def change_password() -> Any:
    form = PasswordChangeForm(prefix="pw")
    if form.validate_on_submit():
        if not verify_password(current_user.password_hash, form.current_password.data or ""):
            form.current_password.errors.append(_("The current password is wrong."))
        else:
            try:
                services.set_password(
                    db.session, current_user, form.new_password.data or "", current_user.id
                )
            except services.AccountError as exc:
                form.new_password.errors.append(str(exc))
            else:
                db.session.commit()
                # This session carries the new session version; the others end.
                login_user(current_user._get_current_object())
                flash(
                    _("Your password has been changed. Other sessions were logged out."), "success"
                )
                return redirect(url_for("accounts.profile"))
    tokens = db.session.scalars(select(ApiToken).where(ApiToken.user_id == current_user.id)).all()
    return render_template(
        "accounts/profile.html",
        password_form=form,
        language_form=LanguageForm(prefix="lang", locale=current_user.locale or "zh_CN"),
        token_form=TokenForm(prefix="tok"),
        tokens=tokens,
        new_token=None,
        confirm_form=ConfirmForm(),
    ), 422


@bp.post("/profile/language")
@login_required
def change_language() -> Any:
    form = LanguageForm(prefix="lang")
    if form.validate_on_submit():
        current_user.locale = form.locale.data
        db.session.commit()
    return redirect(url_for("accounts.profile"))


@bp.post("/language/<locale>")
def switch_language(locale: str) -> Any:
    """Switch language from the navigation bar (kept on the user, or in the session)."""
    ConfirmForm().validate_on_submit()
    if locale not in ("zh_CN", "en"):
        abort(404)
    if current_user.is_authenticated:
        current_user.locale = locale
        db.session.commit()
    session["locale"] = locale
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/profile/tokens")
@login_required
def create_token() -> Any:
    form = TokenForm(prefix="tok")
    if form.validate_on_submit():
        issued = services.issue_token(db.session, current_user, form.name.data or "")
        db.session.commit()
        session["new_token"] = issued.secret
        flash(_("Token created. Copy it now: it is shown only once."), "success")
    else:
        flash(_("Give the token a name."), "danger")
    return redirect(url_for("accounts.profile"))


@bp.post("/profile/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int) -> Any:
    ConfirmForm().validate_on_submit()
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != current_user.id:
        abort(404)
    services.revoke_token(db.session, token, current_user.id)
    db.session.commit()
    flash(_("Token revoked."), "success")
    return redirect(url_for("accounts.profile"))


# --- administration ----------------------------------------------------------------------


def _team_choices() -> list[tuple[str, str]]:
    teams = db.session.scalars(select(Team).where(Team.active.is_(True)).order_by(Team.code))
    return [("", _("(no team)"))] + [(t.code, f"{t.name_zh} ({t.code})") for t in teams]


def _zone_choices() -> list[tuple[str, str]]:
    zones = db.session.scalars(select(Zone).where(Zone.active.is_(True)).order_by(Zone.id))
    return [("", "—")] + [(z.code, z.name_zh) for z in zones]


@bp.get("/admin/users")
@roles_required(Role.ADMIN)
def users() -> Any:
    show = request.args.get("show", "active")
    stmt = select(User, Team).outerjoin(Team, Team.id == User.team_id).order_by(User.email)
    if show == "active":
        stmt = stmt.where(User.active.is_(True))
    elif show == "inactive":
        stmt = stmt.where(User.active.is_(False))
    rows = db.session.execute(stmt).all()
    return render_template("accounts/users.html", rows=rows, show=show, form=ConfirmForm())


@bp.route("/admin/users/new", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def user_new() -> Any:
    form = UserCreateForm()
    form.team_code.choices = _team_choices()
    if form.validate_on_submit():
        try:
            services.create_user(
                db.session,
                email=form.email.data or "",
                password=form.password.data or "",
                role=Role(form.role.data),
                team_code=form.team_code.data or None,
                name=form.name.data or "",
                actor_id=current_user.id,
            )
        except services.AccountError as exc:
            getattr(form, exc.field or "email").errors.append(str(exc))
        else:
            db.session.commit()
            flash(_("User created."), "success")
            return redirect(url_for("accounts.users"))
    status = 422 if form.errors else 200
    return render_template("accounts/user_form.html", form=form, user=None), status


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def user_edit(user_id: int) -> Any:
    user = db.session.get(User, user_id) or abort(404)
    team = db.session.get(Team, user.team_id) if user.team_id else None
    form = UserEditForm(obj=None if request.method == "POST" else user)
    form.team_code.choices = _team_choices()
    if request.method == "GET":
        form.role.data = user.role.value
        form.team_code.data = team.code if team else ""
    if form.validate_on_submit():
        try:
            services.update_user(
                db.session,
                user,
                name=form.name.data or "",
                role=Role(form.role.data),
                team_code=form.team_code.data or None,
                actor_id=current_user.id,
            )
        except services.AccountError as exc:
            getattr(form, exc.field or "name").errors.append(str(exc))
        else:
            db.session.commit()
            flash(_("User saved."), "success")
            return redirect(url_for("accounts.users"))
    status = 422 if form.errors else 200
    return render_template(
        "accounts/user_form.html", form=form, user=user, confirm_form=ConfirmForm()
    ), status


@bp.post("/admin/users/<int:user_id>/active")
@roles_required(Role.ADMIN)
def user_set_active(user_id: int) -> Any:
    ConfirmForm().validate_on_submit()
    user = db.session.get(User, user_id) or abort(404)
    activate = request.form.get("active") == "1"
    try:
        services.set_active(db.session, user, activate, current_user.id)
    except services.AccountError as exc:
        flash(str(exc), "danger")
        return redirect(url_for("accounts.users"))
    db.session.commit()
    flash(_("User reactivated.") if activate else _("User deactivated."), "success")
    return redirect(url_for("accounts.users"))


@bp.get("/admin/teams")
@roles_required(Role.ADMIN)
def teams() -> Any:
    rows = db.session.execute(
        select(Team, Zone).outerjoin(Zone, Zone.id == Team.zone_id).order_by(Team.code)
    ).all()
    return render_template("accounts/teams.html", rows=rows)


@bp.route("/admin/teams/new", methods=["GET", "POST"])
@bp.route("/admin/teams/<int:team_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def team_edit(team_id: int | None = None) -> Any:
    team = (db.session.get(Team, team_id) or abort(404)) if team_id else None
    form = TeamForm(obj=team if request.method == "GET" else None)
    form.zone_code.choices = _zone_choices()
    if team is not None and request.method == "GET" and team.zone_id:
        zone = db.session.get(Zone, team.zone_id)
        form.zone_code.data = zone.code if zone else ""
    if team is not None:
        form.code.data = team.code  # the code never changes once set
    if form.validate_on_submit():
        try:
            services.save_team(
                db.session,
                code=form.code.data or "",
                name_zh=form.name_zh.data or "",
                name_en=form.name_en.data or "",
                zone_code=form.zone_code.data or None,
                team=team,
                actor_id=current_user.id,
            )
        except services.AccountError as exc:
            getattr(form, exc.field or "code").errors.append(str(exc))
        else:
            db.session.commit()
            flash(_("Team saved."), "success")
            return redirect(url_for("accounts.teams"))
    status = 422 if form.errors else 200
    return render_template("accounts/team_form.html", form=form, team=team), status

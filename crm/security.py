"""Password policy, session lifetime, login throttling and security headers."""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from flask import Flask, abort, current_app, has_app_context, request, session
from flask_babel import lazy_gettext as _l
from flask_login import current_user, logout_user
from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter
from werkzeug.security import check_password_hash, generate_password_hash

from crm.enums import Role
from crm.extensions import db, login_manager
from crm.web import MAX_ID, fields_with_nul, path_has_nul

MIN_PASSWORD_LENGTH = 8
F = TypeVar("F", bound=Callable[..., Any])

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


@functools.cache
def _common_passwords() -> frozenset[str]:
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    return frozenset(FREQUENCY_LISTS["passwords"])


def password_problem(password: str, email: str | None = None) -> str | None:
    """Why `password` is unacceptable, or None. Length and common passwords only."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return str(_l("Use at least %(n)d characters.", n=MIN_PASSWORD_LENGTH))
    lowered = password.lower()
    if lowered in _common_passwords():
        return str(_l("This password is too common; choose another."))
    if email and lowered == email.lower():
        return str(_l("The password must not be your email address."))
    return None


#: Werkzeug's scrypt: deliberately slow. Only the tests choose a cheaper method (config
#: `PASSWORD_HASH_METHOD`), since they create and log in thousands of users.
DEFAULT_HASH_METHOD = "scrypt"


def password_hash_method() -> str:
    if has_app_context():
        return current_app.config.get("PASSWORD_HASH_METHOD") or DEFAULT_HASH_METHOD
    return DEFAULT_HASH_METHOD


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=password_hash_method())


def verify_password(password_hash: str, password: str) -> bool:
    return check_password_hash(password_hash, password)


@functools.cache
def _dummy_hash(method: str) -> str:
    return generate_password_hash("not-a-real-password", method=method)


def verify_dummy(password: str) -> None:
    """Check a fixed hash made with the current method when the account does not exist, so
    the time taken does not tell whether it does."""
    check_password_hash(_dummy_hash(password_hash_method()), password)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return "crm_" + secrets.token_urlsafe(32)


# --- login throttling -------------------------------------------------------------------


def seconds_until_allowed(db_session: Session, ip: str, email: str, now: datetime) -> int:
    """0 if a login may be tried now, else how many seconds to wait.

    More than the configured number of failures within the window, from this client or
    for this account, blocks further attempts until the oldest of them leaves the window.
    """
    from crm.accounts.models import LoginAttempt

    window = timedelta(seconds=current_app.config["CRM_LOGIN_WINDOW_SECONDS"])
    limit = current_app.config["CRM_LOGIN_MAX_FAILURES"]
    since = now - window
    recent = select(LoginAttempt.at).where(
        LoginAttempt.at > since, or_(LoginAttempt.ip == ip, LoginAttempt.email == email)
    )
    count = db_session.scalar(select(func.count()).select_from(recent.subquery())) or 0
    if count < limit:
        return 0
    times = db_session.scalars(recent.order_by(LoginAttempt.at.desc()).limit(limit)).all()
    oldest = min(times)
    return max(1, int((oldest + window - now).total_seconds()) + 1)


def record_failure(db_session: Session, ip: str, email: str, now: datetime) -> None:
    from crm.accounts.models import LoginAttempt

    db_session.add(LoginAttempt(ip=ip, email=email, at=now))
    # Keep the table small: nothing older than a day is ever read.
    db_session.execute(delete(LoginAttempt).where(LoginAttempt.at < now - timedelta(days=1)))


def client_ip() -> str:
    return request.remote_addr or "unknown"


# --- access decorators -------------------------------------------------------------------


def roles_required(*roles: Role) -> Callable[[F], F]:
    """Allow only the given roles (403 otherwise); anonymous users go to the login page."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def write_required(view: F) -> F:
    """Refuse changes by read-only roles (leaders)."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not current_user.can_write:
            abort(403)
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


# --- wiring --------------------------------------------------------------------------


class BoundedIntConverter(IntegerConverter):
    """`<int:...>` limited to what the database can compare: a larger number is a 404,
    not an overflow error deep in the driver.

    The 404 is raised here rather than as a failed match: Werkzeug reports a path whose
    only failure is a converter's as 405 when a rule for another method has the same
    path (PATCH /api/v1/companies/<huge> would say "method not allowed")."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)

    def to_python(self, value: str) -> Any:
        if self.max is not None and not self.fixed_digits and int(value) > self.max:
            raise NotFound()
        return super().to_python(value)


def _load_user(user_id: str) -> Any:
    from crm.accounts.models import User

    try:
        raw_id, raw_version = user_id.split(".", 1)
        uid, version = int(raw_id), int(raw_version)
    except ValueError:
        return None
    user = db.session.get(User, uid)
    if user is None or not user.active or user.session_version != version:
        return None
    return user


def init_app(app: Flask) -> None:
    # Before any blueprint is registered, so every `<int:...>` rule uses it.
    app.url_map.converters["int"] = BoundedIntConverter
    login_manager.user_loader(_load_user)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("Please log in to see this page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"

    @app.before_request
    def _request_size_limit() -> None:
        """Refuse a state-changing request larger than MAX_CONTENT_LENGTH with 413, before
        any view runs: a route that never reads the body must not skip the limit.
        (A body without Content-Length is still limited by Werkzeug when it is read.)"""
        if request.method not in {"POST", "PUT", "PATCH", "DELETE"}:
            return
        limit = app.config.get("MAX_CONTENT_LENGTH")
        length = request.content_length
        if limit is not None and length is not None and length > limit:
            abort(413)

    @app.before_request
    def _no_nul_characters() -> None:
        """Input holding a NUL character is refused here, once for every route: PostgreSQL
        text cannot hold one, and the query would fail with a database error instead."""
        if request.routing_exception is not None:
            return  # no route: the 404 or 405 follows
        if path_has_nul():
            abort(404)
        names = fields_with_nul()
        if not names:
            return
        if request.blueprint == "api":
            from crm.api.framework import ApiError

            errors = [(name, "NUL character") for name in names]
            raise ApiError(422, "Text may not contain NUL characters.", errors)
        abort(400, description=_l("Text may not contain NUL characters."))

    @app.before_request
    def _session_timeouts() -> None:
        if request.blueprint == "api" or request.endpoint == "static":
            return
        if not current_user.is_authenticated:
            return
        now = datetime.now(UTC).timestamp()
        started = session.get("login_at", now)
        max_age = app.config["CRM_SESSION_MAX_HOURS"] * 3600
        idle = app.config["PERMANENT_SESSION_LIFETIME"].total_seconds()
        last_seen = session.get("seen_at", now)
        if now - started > max_age or now - last_seen > idle:
            logout_user()
            session.clear()
            return
        session["seen_at"] = now

    @app.after_request
    def _security_headers(response: Any) -> Any:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        if app.config.get("SESSION_COOKIE_SECURE"):
            headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if request.endpoint != "static":
            headers.setdefault("Cache-Control", "no-store")
        return response

"""Configuration from the environment.

Every setting has a safe default for a developer's machine except the secret key in
production, which must be given (see `crm.create_app`).
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def instance_secret_key(instance_path: str) -> str:
    """Return the secret key kept in the instance folder, generating it once."""
    path = Path(instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # Create with owner-only permissions; never overwrite a key another process wrote first.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def from_environment(instance_path: str) -> dict[str, Any]:
    """Build the Flask config mapping from `CRM_*` environment variables."""
    env = os.environ.get("CRM_ENV", "development")
    database_url = os.environ.get("CRM_DATABASE_URL") or (
        "sqlite:///" + str(Path(instance_path) / "crm.sqlite3")
    )
    https = _env_bool("CRM_HTTPS", False)
    return {
        "CRM_ENV": env,
        "SECRET_KEY": os.environ.get("CRM_SECRET_KEY"),
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": https,
        "REMEMBER_COOKIE_SECURE": https,
        "PREFERRED_URL_SCHEME": "https" if https else "http",
        # Idle timeout: the cookie lives this long after the last request.
        "PERMANENT_SESSION_LIFETIME": timedelta(minutes=_env_int("CRM_IDLE_MINUTES", 120)),
        # Absolute timeout: a session ends this long after login, active or not.
        "CRM_SESSION_MAX_HOURS": _env_int("CRM_SESSION_MAX_HOURS", 12),
        "WTF_CSRF_TIME_LIMIT": None,
        "BABEL_DEFAULT_LOCALE": "zh_CN",
        "BABEL_DEFAULT_TIMEZONE": os.environ.get("CRM_TIMEZONE", "Asia/Shanghai"),
        "BOOTSTRAP_SERVE_LOCAL": True,
        "BOOTSTRAP_BOOTSWATCH_THEME": None,
        # Werkzeug's method name; not read from the environment: only the tests, which
        # create and log in thousands of users, set a cheaper one (tests/conftest.py).
        "PASSWORD_HASH_METHOD": "scrypt",
        "CRM_LOGIN_MAX_FAILURES": _env_int("CRM_LOGIN_MAX_FAILURES", 10),
        "CRM_LOGIN_WINDOW_SECONDS": _env_int("CRM_LOGIN_WINDOW_SECONDS", 60),
        "CRM_KEY_PROJECT_THRESHOLD_WAN": os.environ.get("CRM_KEY_PROJECT_THRESHOLD_WAN", "100000"),
        "CRM_UPLOAD_DIR": os.environ.get("CRM_UPLOAD_DIR") or str(Path(instance_path) / "uploads"),
        "CRM_MAX_UPLOAD_MB": _env_int("CRM_MAX_UPLOAD_MB", 20),
        "MAX_CONTENT_LENGTH": (_env_int("CRM_MAX_UPLOAD_MB", 20) + 1) * 1024 * 1024,
        "CRM_SEED_DIR": os.environ.get("CRM_SEED_DIR")
        or str(Path(__file__).resolve().parent.parent / "seed"),
        "SMTP_HOST": os.environ.get("CRM_SMTP_HOST"),
        "SMTP_PORT": _env_int("CRM_SMTP_PORT", 25),
        "SMTP_USER": os.environ.get("CRM_SMTP_USER"),
        "SMTP_PASSWORD": os.environ.get("CRM_SMTP_PASSWORD"),
        "SMTP_TLS": os.environ.get("CRM_SMTP_TLS", "none"),
        "SMTP_FROM": os.environ.get("CRM_SMTP_FROM", "crm@localhost"),
    }

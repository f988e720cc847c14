"""Navigation entries; features add theirs here instead of editing base.html."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup

# (endpoint, label, roles allowed or None for everyone signed in)
NAV: list[tuple[str, Any, tuple[str, ...] | None]] = [
    ("main.home", _l("Overview"), None),
    ("pipeline.project_list", _l("Projects"), None),
    ("reference.index", _l("Reference data"), None),
]
ADMIN_NAV: list[tuple[str, Any]] = [
    ("accounts.users", _l("Users")),
    ("accounts.teams", _l("Teams")),
]
SEARCH_ENDPOINT: list[str] = []
NAVBAR_EXTRAS: list[Callable[[], Markup]] = []


def init_app(app: Flask) -> None:
    @app.context_processor
    def _navigation() -> dict[str, Any]:
        def nav_items() -> list[tuple[str, Any]]:
            role = current_user.role.value if current_user.is_authenticated else None
            return [(e, label) for e, label, roles in NAV if roles is None or role in roles]

        return {
            "nav_items": nav_items,
            "admin_nav_items": lambda: ADMIN_NAV,
            "search_endpoint": lambda: SEARCH_ENDPOINT[0] if SEARCH_ENDPOINT else None,
            "navbar_extras": lambda: [extra() for extra in NAVBAR_EXTRAS],
        }

"""The authorisation matrix: which actor may reach which route.

Each feature's tests declare `RULES` in `tests/<feature>/access.py`: for every endpoint a
method, a URL built from a context of sample records, and the expected outcome per actor.
`test_access_matrix.py` fails for any route of the app that has no rule.

Outcomes: "ok" (allowed: not 401/403/404 and never 5xx), "login" (anonymous browser sent to
the login page), or an exact status code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ACTORS = ("anonymous", "officer", "other_officer", "lead", "leader", "admin")

Outcome = str | int


@dataclass(frozen=True)
class Rule:
    method: str
    url: Callable[[dict[str, Any]], str]
    expect: dict[str, Outcome]
    data: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    json: Callable[[dict[str, Any]], Any] | None = None
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def web(everyone: Outcome = "ok", **overrides: Outcome) -> dict[str, Outcome]:
    """Expectations for a web page: anonymous users are sent to log in."""
    expect = {actor: everyone for actor in ACTORS}
    expect["anonymous"] = "login"
    expect.update(overrides)
    return expect


def api(everyone: Outcome = "ok", **overrides: Outcome) -> dict[str, Outcome]:
    """Expectations for an API endpoint: anonymous callers get 401."""
    expect = {actor: everyone for actor in ACTORS}
    expect["anonymous"] = 401
    expect.update(overrides)
    return expect


def admin_only_web() -> dict[str, Outcome]:
    return web(403, admin="ok")


def admin_only_api() -> dict[str, Outcome]:
    return api(403, admin="ok")

"""The authorisation matrix: which actor may reach which route.

Each feature's tests declare `RULES` in `tests/<feature>/access.py`: for every endpoint a
method, a URL built from a context of sample records, and the expected outcome per actor.
`test_access_matrix.py` fails for any route of the app that has no rule.

Outcomes: "ok" (allowed: not 401/403/404 and never 5xx), "login" (anonymous browser sent to
the login page), or an exact status code.

Own team vs other team: the context holds pairs of sample records, `X` in the officer's
team and `other_X` in another team (`project_id` / `other_project_id`, `team_id` /
`other_team_id`; features add theirs in `extend_context`). A rule whose URL or data uses
such a record is run a second time with each pair swapped, so every route, and above all
every write, is tried against the other team's record too. The expectations for the swap
are `Rule.other_team` when given, else derived: the officer and the lead now stand where
`other_officer` stood, and `other_officer` where the officer stood.

The security tests (CSRF, XSS, injection, uploads, downloads) build their URLs from these
same rules, so a new route is covered by all of them as soon as it has its rule.
"""

from __future__ import annotations

import hashlib
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

ACTORS = ("anonymous", "officer", "other_officer", "lead", "leader", "admin")
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
IGNORED_ENDPOINTS = frozenset({"static", "bootstrap.static"})
TESTS = Path(__file__).resolve().parent.parent

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
    # Expectations when the context's own-team records are swapped for the other team's
    # (None: derived, see the module docstring).
    other_team: dict[str, Outcome] | None = None


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


# --- the rules of every feature ----------------------------------------------------------


def _access_modules() -> list[Any]:
    modules = []
    for info in pkgutil.iter_modules([str(TESTS)]):
        if not info.ispkg:
            continue
        try:
            modules.append(importlib.import_module(f"tests.{info.name}.access"))
        except ModuleNotFoundError:
            continue
    return modules


def collect_rules() -> dict[str, Rule]:
    rules: dict[str, Rule] = {}
    for module in _access_modules():
        for endpoint, rule in module.RULES.items():
            assert endpoint not in rules, f"two rules for {endpoint}"
            rules[endpoint] = rule
    return rules


RULES = collect_rules()


def route_keys(app: Any) -> set[tuple[str, str]]:
    """(endpoint, method) for every route of the app except static files."""
    keys = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint in IGNORED_ENDPOINTS:
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            keys.add((rule.endpoint, method))
    return keys


def is_api(endpoint: str) -> bool:
    return endpoint.startswith("api.")


# --- the sample records ------------------------------------------------------------------


def make_context() -> dict[str, Any]:
    """Sample records every rule can build its URL from (flushed, rolled back after)."""
    from crm.accounts.services import issue_token
    from crm.enums import Role
    from crm.extensions import db
    from tests import factories

    team = factories.team("matrix-team")
    other_team = factories.team("matrix-other")
    officer = factories.user(Role.OFFICER, team)
    other_officer = factories.user(Role.OFFICER, other_team)
    lead = factories.user(Role.LEAD, team)
    leader = factories.user(Role.LEADER)
    admin = factories.user(Role.ADMIN)
    project = factories.project(team, owner=officer)
    other_project = factories.project(other_team, owner=other_officer)
    admin_token = issue_token(db.session, admin, "matrix")
    users = {
        "officer": officer,
        "other_officer": other_officer,
        "lead": lead,
        "leader": leader,
        "admin": admin,
    }
    ctx: dict[str, Any] = {
        "team_id": team.id,
        "team_code": team.code,
        "other_team_id": other_team.id,
        "other_team_code": other_team.code,
        "officer_id": officer.id,
        "other_officer_id": other_officer.id,
        "project_id": project.id,
        "company_id": project.company_id,
        "other_project_id": other_project.id,
        "other_company_id": other_project.company_id,
        "admin_token_id": admin_token.token.id,
        "users": users,
        "tokens": {name: factories.token(u) for name, u in users.items()},
    }
    # Features add the sample records their routes need.
    for module in _access_modules():
        hook = getattr(module, "extend_context", None)
        if hook:
            hook(ctx)
    db.session.flush()
    return ctx


def swap_teams(ctx: dict[str, Any]) -> dict[str, Any]:
    """The context with every own-team record `X` exchanged with its `other_X`."""
    swapped = dict(ctx)
    for key in ctx:
        other = f"other_{key}"
        if not key.startswith("other_") and other in ctx:
            swapped[key], swapped[other] = ctx[other], ctx[key]
    return swapped


def other_team_expectations(rule: Rule) -> dict[str, Outcome]:
    if rule.other_team is not None:
        return rule.other_team
    expect = dict(rule.expect)
    expect["officer"] = rule.expect["other_officer"]
    expect["lead"] = rule.expect["other_officer"]
    expect["other_officer"] = rule.expect["officer"]
    return expect


def uses_team_records(rule: Rule, ctx: dict[str, Any]) -> bool:
    """Whether the rule's request changes when the own-team records are swapped."""
    swapped = swap_teams(ctx)
    for build in (rule.url, rule.data, rule.json):
        if build is not None and build(ctx) != build(swapped):
            return True
    return False


# --- "nothing changed" ---------------------------------------------------------------------

# Columns that change on reads (last use of a token, last login), not on the write tested.
VOLATILE_COLUMNS = frozenset({"api_token.last_used_at", "user_account.last_login_at"})
VOLATILE_TABLES = frozenset({"login_attempt"})


def database_fingerprint() -> str:
    """A digest of every table's rows: equal before and after means nothing was written.

    Reading every table takes a query per table, and the security tests take a fingerprint
    before and after each of hundreds of requests; so the last digest is kept with the
    database's count of rows written so far on this connection (`_rows_written`) and the
    session's innermost transaction (or savepoint). While neither moved, no row can have
    changed (a rollback that could undo rows ends that transaction), and the digest is
    reused."""
    from crm.extensions import db

    db.session.flush()
    written = _rows_written()
    cached = db.session.info.get("fingerprint")
    if written is not None and cached is not None:
        cached_written, transaction, digest = cached
        if cached_written == written and transaction is _innermost_transaction():
            return digest
    digest = _digest_of_every_table()
    db.session.info["fingerprint"] = (written, _innermost_transaction(), digest)
    return digest


def _innermost_transaction() -> Any:
    from crm.extensions import db

    session = db.session()
    return session.get_nested_transaction() or session.get_transaction()


def _digest_of_every_table() -> str:
    from crm.extensions import db

    digest = hashlib.sha256()
    for table in db.metadata.sorted_tables:
        if table.name in VOLATILE_TABLES:
            continue
        columns = [c for c in table.columns if f"{table.name}.{c.name}" not in VOLATILE_COLUMNS]
        order = list(table.primary_key.columns) or columns
        rows = db.session.execute(select(*columns).order_by(*order)).all()
        digest.update(f"{table.name}:{len(rows)}:{rows!r}".encode())
    return digest.hexdigest()


# Rows inserted, updated or deleted so far by this connection (SQLite) or in this
# transaction (PostgreSQL's statistics, kept when a savepoint is rolled back; None when
# `track_counts` is off). Both only grow; any write, even one undone, moves them.
_ROWS_WRITTEN = {
    "sqlite": "SELECT total_changes()",
    "postgresql": (
        "SELECT CASE WHEN current_setting('track_counts')::boolean THEN "
        "(SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0) "
        "FROM pg_stat_xact_all_tables) END"
    ),
}


def _rows_written() -> int | None:
    from crm.extensions import db

    query = _ROWS_WRITTEN.get(db.session.connection().dialect.name)
    return None if query is None else db.session.execute(text(query)).scalar()


def outcome_is_refusal(outcome: Outcome) -> bool:
    return outcome == "login" or outcome in (400, 401, 403, 404, 405, 409, 412, 422)


def check(outcome: Any, status: int, where: str, location: str) -> None:
    where = f"{where}: got {status}"
    assert status < 500, where
    if outcome == "ok":
        assert status not in (401, 403, 404), where
        assert not (status == 302 and "/login" in location), where + " (sent to login)"
    elif outcome == "login":
        assert status == 302 and "/login" in location, where
    else:
        assert status == outcome, f"{where}, expected {outcome}"


def log_in_as(client: Any, actor: str, ctx: dict[str, Any], sessions: dict[str, Any]) -> None:
    """Log `client` in as `actor`, reusing a session cookie (and its CSRF token) made earlier
    in this test while it is still valid: logging in and fetching a token cost requests."""
    from tests.conftest import login

    user = ctx["users"][actor]
    cached = sessions.get(actor)
    if cached and cached[1] == user.session_version:
        client.set_cookie("session", cached[0], domain="localhost")
        client._token = cached[2]
        return
    login(client, user.email)
    token = client.csrf_token()  # stored in the session cookie: fetch it before keeping it
    cookie = client.get_cookie("session", domain="localhost")
    if cookie is not None:
        sessions[actor] = (cookie.value, user.session_version, token)


def request_as(
    client: Any,
    actor: str,
    endpoint: str,
    rule: Rule,
    ctx: dict[str, Any],
    method: str,
    sessions: dict[str, Any] | None = None,
) -> Any:
    """Send the rule's request for `actor` (logged in, or with the actor's token for the API)."""
    headers = {}
    if actor != "anonymous":
        if is_api(endpoint):
            headers["Authorization"] = f"Bearer {ctx['tokens'][actor]}"
        else:
            log_in_as(client, actor, ctx, {} if sessions is None else sessions)
    url = rule.url(ctx)
    if method == "GET":
        return client.get(url, headers=headers)
    if is_api(endpoint):
        payload = rule.json(ctx) if rule.json else {}
        return client.open(url, method=method, json=payload, headers=headers)
    data = rule.data(ctx) if rule.data else {}
    data["csrf_token"] = client.csrf_token()
    return client.open(url, method=method, data=data, headers=headers)

"""Every route of the web UI and the API, for every kind of actor, answers as its rule says.

A route without a rule fails `test_every_route_has_a_rule`: new routes must declare who may
reach them (in tests/<feature>/access.py).
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Any

import pytest

from crm.accounts.services import issue_token
from crm.enums import Role
from crm.extensions import db
from tests import factories
from tests.conftest import login
from tests.security.matrix import ACTORS, Rule

TESTS = Path(__file__).resolve().parent.parent
IGNORED = {"static", "bootstrap.static"}


def collect_rules() -> dict[str, Rule]:
    rules: dict[str, Rule] = {}
    for info in pkgutil.iter_modules([str(TESTS)]):
        if not info.ispkg:
            continue
        try:
            module = importlib.import_module(f"tests.{info.name}.access")
        except ModuleNotFoundError:
            continue
        for endpoint, rule in module.RULES.items():
            assert endpoint not in rules, f"two rules for {endpoint}"
            rules[endpoint] = rule
    return rules


RULES = collect_rules()


def route_keys(app: Any) -> set[tuple[str, str]]:
    keys = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint in IGNORED:
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            keys.add((rule.endpoint, method))
    return keys


def test_every_route_has_a_rule(app):
    declared = set(RULES)
    missing = sorted(
        f"{endpoint} {method}" for endpoint, method in route_keys(app) if endpoint not in declared
    )
    assert not missing, "routes without an access rule: " + ", ".join(missing)


@pytest.fixture
def context(app):
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
        "officer_id": officer.id,
        "project_id": project.id,
        "company_id": project.company_id,
        "other_project_id": other_project.id,
        "admin_token_id": admin_token.token.id,
        "users": users,
        "tokens": {name: factories.token(u) for name, u in users.items()},
    }
    # Features add the sample records their routes need.
    for info in pkgutil.iter_modules([str(TESTS)]):
        try:
            module = importlib.import_module(f"tests.{info.name}.access")
        except ModuleNotFoundError:
            continue
        hook = getattr(module, "extend_context", None)
        if hook:
            hook(ctx)
    return ctx


def _check(outcome: Any, status: int, endpoint: str, actor: str, location: str) -> None:
    where = f"{endpoint} as {actor}: got {status}"
    assert status < 500, where
    if outcome == "ok":
        assert status not in (401, 403, 404), where
        assert not (status == 302 and "/login" in location), where + " (sent to login)"
    elif outcome == "login":
        assert status == 302 and "/login" in location, where
    else:
        assert status == outcome, f"{where}, expected {outcome}"


@pytest.mark.parametrize("actor", ACTORS)
def test_matrix(actor, app, make_client, context):
    for endpoint, rule in sorted(RULES.items()):
        client = make_client()
        headers = {}
        if actor != "anonymous":
            if endpoint.startswith("api."):
                headers["Authorization"] = f"Bearer {context['tokens'][actor]}"
            else:
                login(client, context["users"][actor].email)
        url = rule.url(context)
        if rule.method == "GET":
            response = client.get(url, headers=headers)
        elif endpoint.startswith("api."):
            payload = rule.json(context) if rule.json else {}
            response = client.open(url, method=rule.method, json=payload, headers=headers)
        else:
            data = rule.data(context) if rule.data else {}
            data["csrf_token"] = client.csrf_token()
            response = client.open(url, method=rule.method, data=data, headers=headers)
        _check(
            rule.expect[actor],
            response.status_code,
            endpoint,
            actor,
            response.headers.get("Location", ""),
        )

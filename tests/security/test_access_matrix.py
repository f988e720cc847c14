"""Every route of the web UI and the API, for every kind of actor, answers as its rule says,
on the officer's own team's records and on another team's.

A route without a rule fails `test_every_route_has_a_rule`: new routes must declare who may
reach them (in tests/<feature>/access.py). A refused write changes nothing in the database.
"""

from __future__ import annotations

import pytest
from sqlalchemy import delete, update

from crm.accounts.models import Team
from crm.extensions import db
from tests import factories
from tests.security.matrix import (
    ACTORS,
    RULES,
    UNSAFE_METHODS,
    check,
    database_fingerprint,
    other_team_expectations,
    outcome_is_refusal,
    request_as,
    route_keys,
    swap_teams,
    uses_team_records,
)


def test_every_route_has_a_rule(app):
    declared = set(RULES)
    missing = sorted(
        f"{endpoint} {method}" for endpoint, method in route_keys(app) if endpoint not in declared
    )
    assert not missing, "routes without an access rule: " + ", ".join(missing)


def test_every_rule_names_a_route(app):
    endpoints = {endpoint for endpoint, _ in route_keys(app)}
    stale = sorted(set(RULES) - endpoints)
    assert not stale, "rules for routes that no longer exist: " + ", ".join(stale)


def _run(actor, make_client, ctx, expectations_of, rules):
    sessions = {}
    for endpoint, rule in sorted(rules.items()):
        outcome = expectations_of(rule)[actor]
        guard = rule.method in UNSAFE_METHODS and outcome_is_refusal(outcome)
        before = database_fingerprint() if guard else None
        client = make_client()
        response = request_as(client, actor, endpoint, rule, ctx, rule.method, sessions)
        check(
            outcome,
            response.status_code,
            f"{endpoint} {rule.method} {rule.url(ctx)} as {actor}",
            response.headers.get("Location", ""),
        )
        if guard:
            assert database_fingerprint() == before, (
                f"{endpoint} as {actor} was refused ({response.status_code}) but changed data"
            )


@pytest.mark.parametrize("actor", ACTORS)
def test_matrix(actor, make_client, context):
    _run(actor, make_client, context, lambda rule: rule.expect, RULES)


@pytest.mark.parametrize("actor", ACTORS)
def test_matrix_on_the_other_teams_records(actor, make_client, context):
    """The same requests aimed at the other team's records: officers and leads of the first
    team are refused (404, as for a record that does not exist), writes change nothing."""
    scoped = {e: r for e, r in RULES.items() if uses_team_records(r, context)}
    # The swap reaches projects and the records hanging off them.
    for endpoint in (
        "pipeline.project_detail",
        "pipeline.project_unshare",
        "visits.event_sign",
        "visits.task_complete",
        "visits.attachment_download",
        "reminders.snooze_cancel",
        "incentives.saved_evaluation",
        "reports.import_detail",
    ):
        assert endpoint in scoped, endpoint
    _run(actor, make_client, swap_teams(context), other_team_expectations, scoped)


def test_the_fingerprint_sees_every_write_and_every_undo(context):
    """The fingerprint keeps its last digest while no row is written (see its docstring):
    a write of any kind, or a rollback undoing rows, must still change it."""
    start = database_fingerprint()
    assert database_fingerprint() == start
    team = factories.team()
    inserted = database_fingerprint()
    assert inserted != start
    db.session.execute(update(Team).where(Team.id == team.id).values(name_en="Renamed"))
    updated = database_fingerprint()
    assert updated != inserted
    savepoint = db.session.begin_nested()
    db.session.execute(delete(Team).where(Team.id == team.id))
    assert database_fingerprint() != updated
    savepoint.rollback()
    assert database_fingerprint() == updated
    db.session.rollback()  # as an error handler does: undoes what this test flushed
    assert database_fingerprint() != updated

"""A check of a few projects (the project page's panel, the stalled badges) reads those
projects only: the narrowing sits inside each rule's first step, not after it."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Table
from sqlalchemy.sql import operators, visitors
from sqlalchemy.sql.elements import BinaryExpression
from sqlalchemy.sql.selectable import CTE, Join, Select

from crm.enums import Stage
from crm.extensions import db
from crm.pipeline.models import Project
from crm.reminders.detection import build_context, detect, rule_queries
from crm.visits.models import Task
from tests import factories
from tests.reminders.helpers import only_rules, set_rule, task

SIGNED = date(2026, 1, 5)


def _narrowed(select_: Select) -> bool:
    """Whether the SELECT's WHERE has `project.id IN (...)` or `task.project_id IN (...)`."""
    targets = {Project.__table__.c.id, Task.__table__.c.project_id}
    where = select_.whereclause
    if where is None:
        return False
    return any(
        isinstance(node, BinaryExpression)
        and node.operator is operators.in_op
        and node.left in targets
        for node in visitors.iterate(where)
    )


def _tables(from_: object) -> list[Table]:
    if isinstance(from_, Table):
        return [from_]
    if isinstance(from_, Join):
        return _tables(from_.left) + _tables(from_.right)
    return []  # a CTE: checked on its own


def _reads_a_table(select_: Select) -> bool:
    """Whether the SELECT reads `project` or `task` itself (not through another step)."""
    return any(t.name in ("project", "task") for f in select_.get_final_froms() for t in _tables(f))


def test_every_rule_narrows_its_first_step_to_the_projects(people):
    ctx = build_context(db.session, SIGNED)
    queries = rule_queries(ctx, project_ids=[1, 2])
    assert len(queries) >= 7  # every rule is enabled by default
    for code, stmt in queries:
        steps = [n.element for n in visitors.iterate(stmt) if isinstance(n, CTE)]
        first = [s for s in steps if _reads_a_table(s)]
        assert first, code
        assert all(_narrowed(s) for s in first), code


def test_whole_check_is_not_narrowed(people):
    ctx = build_context(db.session, SIGNED)
    for code, stmt in rule_queries(ctx):
        steps = [n.element for n in visitors.iterate(stmt) if isinstance(n, CTE)]
        assert not any(_narrowed(s) for s in steps), code


def test_narrowed_check_finds_what_the_whole_check_finds_for_those_projects(people):
    def landed():
        return factories.project(
            people.team,
            owner=people.officer,
            stage=Stage.LANDED,
            signed_on=SIGNED,
            landed_on=SIGNED + timedelta(days=10),
        )

    first, second = landed(), landed()
    task(people.officer.id, people.team.id, SIGNED + timedelta(days=30), first)
    task(people.officer.id, people.team.id, SIGNED + timedelta(days=30), second)
    task(people.officer.id, people.team.id, SIGNED + timedelta(days=30))  # no project
    ctx = build_context(db.session, SIGNED + timedelta(days=200))

    everything = detect(db.session, ctx)
    assert {d.project_id for d in everything} >= {first.id, second.id, None}
    for ids in ([first.id], [second.id], [first.id, second.id]):
        # The statements are reused between calls: each call gets its own projects.
        narrowed = detect(db.session, ctx, project_ids=ids)
        assert narrowed
        assert sorted(narrowed) == sorted(d for d in everything if d.project_id in ids)


def test_reused_statements_follow_changed_thresholds(people):
    only_rules("landed_not_started")
    project = factories.project(
        people.team,
        owner=people.officer,
        stage=Stage.LANDED,
        signed_on=SIGNED,
        landed_on=SIGNED + timedelta(days=10),
    )
    as_of = SIGNED + timedelta(days=100)
    assert [
        d.rule_code
        for d in detect(db.session, build_context(db.session, as_of), project_ids=[project.id])
    ] == ["landed_not_started"]
    set_rule("landed_not_started", "landed", 120)
    assert detect(db.session, build_context(db.session, as_of), project_ids=[project.id]) == []

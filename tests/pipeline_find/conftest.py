"""Helpers for the finding tests: reference ids, a SQL statement counter, sample data."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import event, select

from crm.enums import Role, Stage
from crm.extensions import db
from crm.reference.models import Region, Zone
from tests import factories
from tests.conftest import login


def zone_id(code: str) -> int:
    return db.session.scalar(select(Zone.id).where(Zone.code == code))


def region_id(code: str) -> int:
    return db.session.scalar(select(Region.id).where(Region.code == code))


class QueryCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)


@contextmanager
def count_queries() -> Iterator[QueryCounter]:
    """Count the SQL statements sent to the database inside the block."""
    counter = QueryCounter()
    engine = db.engine

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK")):
            counter.statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield counter
    finally:
        event.remove(engine, "before_cursor_execute", before)


def add_projects(team: Any, owner: Any, n: int, **kw: Any) -> list[Any]:
    """`n` projects spread over every stage, with amounts 1000, 2000, ..."""
    stages = list(Stage)
    return [
        factories.project(
            team,
            owner=owner,
            stage=stages[i % len(stages)],
            amount=str(Decimal(1000 * (i + 1))),
            **kw,
        )
        for i in range(n)
    ]


@pytest.fixture
def teams(app):
    """Two teams with an officer each, a lead, a leader and an admin."""
    mine = factories.team("find-mine")
    other = factories.team("find-other")
    return {
        "mine": mine,
        "other": other,
        "officer": factories.user(Role.OFFICER, mine, name="赵专员"),
        "other_officer": factories.user(Role.OFFICER, other, name="钱专员"),
        "lead": factories.user(Role.LEAD, mine, name="孙队长"),
        "leader": factories.user(Role.LEADER, name="李局长"),
        "admin": factories.user(Role.ADMIN, name="管理员"),
    }


@pytest.fixture
def as_officer(client, teams):
    login(client, teams["officer"].email)
    return client

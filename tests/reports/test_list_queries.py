"""The reports' list pages issue a fixed number of statements whatever the number of rows."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import event

from crm.enums import Role
from crm.extensions import db
from crm.reports.import_models import LedgerImport
from crm.reports.models import ReportArchive
from tests import factories
from tests.conftest import login


def statements(client, url: str) -> int:
    seen = []
    engine = db.session.get_bind().engine

    def record(*args, **kwargs):
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return len(seen)


def add_rows(team, user, n: int) -> None:
    for i in range(n):
        db.session.add(
            LedgerImport(
                filename=f"台账{i}.xlsx", path=f"imports/x{i}", size=1, sha256="0" * 64,
                file_type="xlsx", user_id=user.id, team_id=team.id, status="invalid",
                header_signature="0" * 64,
            )
        )  # fmt: skip
        db.session.add(
            ReportArchive(
                week=f"2025-W{i % 50 + 1:02d}", week_start=date(2025, 1, 6),
                team_id=team.id if i % 2 else None, language="zh", path=f"weekly/x{i}.xlsx",
                size=1, sha256="0" * 64, source="job",
            )
        )  # fmt: skip
    db.session.flush()


@pytest.mark.parametrize("url", ["/imports", "/reports/archive"])
def test_list_pages_do_not_query_per_row(app, client, url):
    team = factories.team("list-q")
    admin = factories.user(Role.ADMIN)
    login(client, admin.email)
    add_rows(team, admin, 2)
    client.get(url)
    few = statements(client, url)
    add_rows(team, admin, 25)
    many = statements(client, url)
    assert many == few, (few, many)

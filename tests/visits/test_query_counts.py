"""The feature's pages issue a fixed number of SQL statements, whatever the amount of data."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest
from sqlalchemy import event

from crm.extensions import db
from crm.visits import events
from crm.visits.leads import local_today
from crm.visits.tasks import create_task
from tests import factories
from tests.conftest import login
from tests.visits.support import log_visit, team_with_people


@contextlib.contextmanager
def count_statements():
    engine = db.engine
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def add_data(team, officer, lead, project, event_obj, size):
    """`size` visits (each with its projects, people and contacts), tasks and linked projects."""
    company = db.session.get(factories.Company, project.company_id)
    today = local_today()
    for n in range(size):
        extra = factories.project(team, owner=officer, company_obj=company)
        log_visit(
            officer,
            on=today - timedelta(days=n % 20 + 1),
            company_id=company.id,
            project_ids=[project.id, extra.id],
            participant_user_ids=[lead.id],
            city="深圳",
        )
        for due in (today - timedelta(days=n + 1), today, today + timedelta(days=n + 9)):
            create_task(
                db.session,
                title=f"task {n}",
                owner_id=officer.id,
                due_on=due,
                project_id=project.id,
                created_by=officer,
            )
        events.link_projects(db.session, officer, event_obj, [extra.id])
    db.session.flush()


# (url, who looks, whether the page shows more when there is more data)
PAGES = [
    ("/visits", "officer", True),
    ("/visits?week={week}&team={team_id}", "officer", True),
    ("/me/visits", "officer", True),
    ("/users/{officer_id}/visits", "lead", True),
    ("/companies/{company_id}", "officer", True),
    ("/my-work", "officer", True),
    ("/my-work?tab=team", "lead", True),
    ("/projects/{project_id}", "officer", True),
    ("/visits/{visit_id}", "officer", False),
    ("/events/{event_id}", "officer", True),
    ("/events", "officer", False),
    ("/contacts", "officer", False),
    ("/inquiries", "officer", False),
]


@pytest.mark.parametrize(("page", "who", "grows"), PAGES)
def test_statement_count_does_not_grow_with_data(client, app, page, who, grows):
    team, officer, lead = team_with_people()
    project = factories.project(team, owner=officer)
    event_obj = events.create_event(
        db.session, officer, events.EventInput(name="签约", on=local_today()), team.id
    )
    first_visit = log_visit(officer, project_ids=[project.id]).visit
    login(client, (officer if who == "officer" else lead).email)
    iso = local_today().isocalendar()
    url = page.format(
        week=f"{iso.year}-W{iso.week:02d}",
        team_id=team.id,
        project_id=project.id,
        visit_id=first_visit.id,
        event_id=event_obj.id,
        officer_id=officer.id,
        company_id=project.company_id,
    )
    counts, sizes = [], []
    for size in (2, 12):
        add_data(team, officer, lead, project, event_obj, size)
        with count_statements() as statements:
            response = client.get(url)
        assert response.status_code == 200, url
        counts.append(len(statements))
        sizes.append(len(response.get_data()))
    assert counts[0] == counts[1], (url, counts)
    if grows:
        assert sizes[1] > sizes[0], url  # the page did show the extra rows

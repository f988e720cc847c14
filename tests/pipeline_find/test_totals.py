"""Counts and sums kept by the database triggers (crm.pipeline.totals) agree with counting
the projects, through every kind of change, for every scope."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select, update

from crm.enums import Stage
from crm.extensions import db
from crm.pipeline import listing, totals
from crm.pipeline.access import project_scope
from crm.pipeline.list_models import ProjectTotal
from crm.pipeline.list_queries import count_and_sum
from crm.pipeline.models import Project
from tests import factories
from tests.pipeline_find.conftest import add_projects

TODAY = date(2026, 11, 22)


def counted(user, f=listing.ProjectFilter()):
    """What counting the projects themselves gives, per (stage, key flag)."""
    rows = db.session.execute(
        select(
            Project.stage,
            Project.is_key,
            func.count(),
            func.coalesce(func.sum(Project.planned_investment), 0),
        )
        .where(project_scope(user), *listing.filter_conditions(f, user_id=user.id, today=TODAY))
        .group_by(Project.stage, Project.is_key)
    ).all()
    return {(Stage(s), bool(k)): (int(n), Decimal(a)) for s, k, n, a in rows}


def kept(user, f=listing.ProjectFilter()):
    found = totals.totals_for(db.session, user, f)
    assert found is not None
    return {k: v for k, v in found.items() if v != (0, Decimal(0))}


def same_everywhere(teams):
    db.session.flush()
    for who in ("admin", "leader", "officer", "other_officer", "lead"):
        assert kept(teams[who]) == counted(teams[who]), who


@pytest.fixture
def projects(teams):
    made = add_projects(teams["mine"], teams["officer"], 9)
    made += add_projects(teams["other"], teams["other_officer"], 5)
    made.append(factories.project(teams["mine"], amount=None, is_key=True))
    made.append(factories.project(teams["other"], amount="0.01", stage=Stage.SIGNED))
    factories.share(made[-1], teams["mine"])  # another team's project, shared with mine
    return made


def test_totals_follow_every_change(teams, projects):
    same_everywhere(teams)
    first, second, third, shared = projects[0], projects[1], projects[2], projects[-1]
    first.stage = Stage.DROPPED
    second.team_id = teams["other"].id
    third.is_key = True
    shared.planned_investment = Decimal("12345678.99")
    same_everywhere(teams)
    first.planned_investment = None
    second.deleted_at = datetime(2026, 11, 1, tzinfo=UTC)  # deleted: no longer counted
    same_everywhere(teams)
    second.deleted_at = None  # restored
    first.name = "只改名字"  # not a counted column: no change written
    same_everywhere(teams)
    db.session.execute(
        update(Project)
        .where(Project.team_id == teams["other"].id)
        .values(stage=Stage.LANDED)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(delete(Project).where(Project.id == third.id))
    db.session.expire_all()
    same_everywhere(teams)


def test_filters_on_stage_team_and_key_are_answered_from_the_totals(teams, projects):
    options = listing.load_filter_options(db.session, teams["admin"])
    for query in ("stage=lead&stage=signed", "key=1", "team=find-other&stage=signed", ""):
        f, problems = listing.parse_filter(_args(query), options)
        assert problems == []
        for who in ("admin", "officer"):
            assert kept(teams[who], f) == counted(teams[who], f), (query, who)
            found = count_and_sum(db.session, teams[who], f, TODAY)
            values = counted(teams[who], f).values()
            assert found == (sum(n for n, _ in values), sum((a for _, a in values), Decimal(0)))


def test_other_filters_count_the_projects(teams, projects):
    options = listing.load_filter_options(db.session, teams["admin"])
    for query in (
        "chain=automobile",
        "min=10",
        "q=项目",
        "owner=me",
        "stage=lead&zone=changsha-etdz",
    ):
        f, _problems = listing.parse_filter(_args(query), options)
        if f.is_empty():
            continue
        assert totals.totals_for(db.session, teams["admin"], f) is None, query


def test_folding_keeps_the_sums_and_leaves_a_row_per_place(teams, projects):
    for project in projects[:6]:
        project.stage = Stage.ON_HOLD
    db.session.flush()
    before = kept(teams["admin"])
    rows_before = db.session.scalar(select(func.count()).select_from(ProjectTotal))
    totals.compact_totals(db.session)
    places = db.session.execute(
        select(ProjectTotal.team_id, ProjectTotal.stage, ProjectTotal.is_key)
    ).all()
    assert len(places) == len(set(places)) < rows_before
    assert kept(teams["admin"]) == before
    same_everywhere(teams)


def test_a_writing_commit_folds_once_a_reader_asked(teams, projects, monkeypatch):
    monkeypatch.setattr(totals, "COMPACT_AFTER", 3)
    db.session.commit()  # the projects' own transaction
    many = db.session.scalar(select(func.count()).select_from(ProjectTotal))
    kept(teams["admin"])  # sums more than 3 rows: asks for a fold
    db.session.commit()  # nothing written in this transaction: no fold
    assert db.session.scalar(select(func.count()).select_from(ProjectTotal)) == many
    projects[0].stage = Stage.SIGNED  # a write (two more rows), then the commit folds
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(ProjectTotal)) < many
    same_everywhere(teams)


def _args(query):
    from urllib.parse import parse_qsl

    from werkzeug.datastructures import MultiDict

    return MultiDict(parse_qsl(query))


def test_api_list_totals_match_the_projects(client, teams, projects):
    headers = {"Authorization": f"Bearer {factories.token(teams['officer'])}"}
    queries = (
        "",
        "stage=lead&stage=signed",
        "is_key=true",
        "is_key=false",
        "team=find-other",
        "team=find-mine&is_key=false",
        "team=nowhere",
        "chain=automobile",
    )
    for query in queries:
        body = client.get(f"/api/v1/projects?per_page=100&{query}", headers=headers).get_json()
        assert body["total"] == len(body["items"]), query
    everything = client.get("/api/v1/projects?per_page=100", headers=headers).get_json()
    assert everything["total"] == sum(n for n, _ in counted(teams["officer"]).values()) > 0

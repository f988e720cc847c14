"""Stalled badges and the "stalled only" filter: the project list, the board (with its lazily
loaded cards), the project page, the export, saved filters and GET /api/v1/projects all show
what the reminder rules find (threshold edge, snoozes, projects on hold or dropped, team
scope), in a number of SQL statements that does not grow with the rows."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from openpyxl import load_workbook

from crm.enums import Stage
from crm.extensions import db
from crm.pipeline.models import Project
from crm.reminders import settings as reminder_settings
from crm.reminders.models import ReminderSnooze
from crm.visits.models import Task
from tests import factories
from tests.conftest import login
from tests.pipeline_find.conftest import count_queries
from tests.reminders.helpers import only_rules

SIGNED_DAYS = 60  # the seeded threshold of "signed, not landed" for projects not key


@dataclass
class Cases:
    edge: Project  # signed 60 days ago: stalled today, 0 days overdue
    late: Project  # 75 days: 15 days overdue
    early: Project  # 59 days: not yet
    held: Project  # on hold: never stalled
    dropped: Project
    snoozed: Project  # 90 days, but the rule is snoozed
    foreign: Project  # another team's stalled project

    @property
    def stalled(self) -> set[int]:
        return {self.edge.id, self.late.id}

    @property
    def quiet(self) -> set[int]:
        return {p.id for p in (self.early, self.held, self.dropped, self.snoozed)}


@pytest.fixture
def today(app) -> date:
    return reminder_settings.current().today()


@pytest.fixture
def cases(teams, today) -> Cases:
    only_rules("signed_not_landed")
    mine, officer = teams["mine"], teams["officer"]

    def signed(days: int, team: Any = mine, **kw: Any) -> Project:
        kw.setdefault("stage", Stage.SIGNED)
        return factories.project(team, owner=officer, signed_on=today - timedelta(days=days), **kw)

    found = Cases(
        edge=signed(SIGNED_DAYS, name="到期当天项目"),
        late=signed(SIGNED_DAYS + 15, name="逾期项目"),
        early=signed(SIGNED_DAYS - 1, name="未到期项目"),
        held=signed(200, stage=Stage.ON_HOLD, resume_stage=Stage.SIGNED, name="暂缓项目"),
        dropped=signed(200, stage=Stage.DROPPED, name="终止项目"),
        snoozed=signed(90, name="已暂停提醒项目"),
        foreign=signed(100, team=teams["other"], name="别队停滞项目"),
    )
    db.session.add(
        ReminderSnooze(
            project_id=found.snoozed.id,
            rule_code="signed_not_landed",
            until=today + timedelta(days=3),
            reason="等待土地批复",
            created_by_id=officer.id,
        )
    )
    db.session.flush()
    return found


def _badged(page: str, ids: set[int], pattern: str) -> dict[int, str]:
    """Each project's block (list row or card) in the page, by `pattern` with the id."""
    out = {}
    for pid in ids:
        match = re.search(pattern.format(id=pid), page, re.S)
        assert match, f"project {pid} is not on the page"
        out[pid] = match.group(0)
    return out


ROW = r"<tr>\s*<td><a href=\"/projects/{id}\">.*?</tr>"
CARD = r"<article[^>]*data-project-id=\"{id}\".*?</article>"


def _list_ids(page: str) -> set[int]:
    table = page.split('data-testid="project-table"', 1)[-1]
    return {int(i) for i in re.findall(r'<tr>\s*<td><a href="/projects/(\d+)"', table)}


def _card_ids(page: str) -> set[int]:
    return {int(i) for i in re.findall(r'data-testid="board-card"\s+data-project-id="(\d+)"', page)}


def test_the_list_badges_stalled_projects_with_rule_and_days(as_officer, cases):
    page = as_officer.get("/projects").get_data(as_text=True)
    rows = _badged(page, cases.stalled | cases.quiet, ROW)
    for pid in cases.stalled:
        assert 'data-testid="stalled-badge"' in rows[pid]
    for pid in cases.quiet:
        assert "stalled-badge" not in rows[pid], pid
    late = rows[cases.late.id]
    assert "Stalled: Signed, not landed · 15 d" in late
    # Screen readers get the words, not just a red badge.
    assert '<span class="visually-hidden">Stalled: Signed, not landed, 15 days overdue' in late
    assert "· 0 d" in rows[cases.edge.id]


def test_board_cards_and_lazily_loaded_cards_carry_the_badge(as_officer, cases):
    page = as_officer.get("/board").get_data(as_text=True)
    fragment = as_officer.get("/board/signed/cards?start=0").get_data(as_text=True)
    for html in (page, fragment):
        signed = {cases.edge.id, cases.late.id, cases.early.id, cases.snoozed.id}
        cards = _badged(html, signed, CARD)
        for pid in signed:
            assert ("stalled-badge" in cards[pid]) == (pid in cases.stalled), pid
    held = _badged(page, {cases.held.id}, CARD)[cases.held.id]
    assert "stalled-badge" not in held


def test_the_project_page_shows_the_badge_by_its_name(as_officer, cases):
    page = as_officer.get(f"/projects/{cases.late.id}").get_data(as_text=True)
    title = re.search(r"<h1.*?</h1>", page, re.S).group(0)
    assert 'data-testid="stalled-badge"' in title and "15 d" in title
    for quiet in (cases.snoozed, cases.held, cases.early):
        page = as_officer.get(f"/projects/{quiet.id}").get_data(as_text=True)
        assert "stalled-badge" not in page


def test_stalled_only_lists_exactly_the_stalled_projects(as_officer, cases):
    page = as_officer.get("/projects?stalled=1").get_data(as_text=True)
    assert _list_ids(page) == cases.stalled  # not the snoozed, held, early or foreign ones
    assert 'id="filter-stalled" checked' in page
    assert "2 projects" in page
    board = as_officer.get("/board?stalled=1").get_data(as_text=True)
    assert _card_ids(board) == cases.stalled
    more = as_officer.get("/board/signed/cards?start=0&stalled=1").get_data(as_text=True)
    assert _card_ids(more) == cases.stalled
    by_rule = as_officer.get("/projects?stalled_rule=signed_not_landed").get_data(as_text=True)
    assert _list_ids(by_rule) == cases.stalled
    assert _list_ids(as_officer.get("/projects?stalled_rule=no_activity").get_data(True)) == set()


def test_a_bad_stalled_value_is_reported_not_applied(as_officer, cases):
    page = as_officer.get("/projects?stalled=maybe&stalled_rule=nonsense").get_data(as_text=True)
    assert 'data-testid="filter-problems"' in page
    assert "<code>stalled</code>" in page and "<code>stalled_rule</code>" in page
    assert cases.early.id in _list_ids(page)  # the list is not filtered


def test_saved_filters_and_the_export_keep_the_stalled_filter(as_officer, teams, cases):
    response = as_officer.form("/projects/filters", {"name": "停滞", "query": "stalled=1"})
    assert response.status_code == 302 and "stalled=1" in response.headers["Location"]
    page = as_officer.get("/projects").get_data(as_text=True)
    link = re.search(r'href="(/projects\?[^"]*stalled=1[^"]*)">停滞<', page).group(1)
    assert _list_ids(as_officer.get(link).get_data(as_text=True)) == cases.stalled
    export = as_officer.get("/projects/export.xlsx?stalled=1")
    sheet = load_workbook(io.BytesIO(export.get_data())).worksheets[0]
    names = {c.value for row in sheet.iter_rows() for c in row}
    assert {"到期当天项目", "逾期项目"} <= names
    assert not names & {"未到期项目", "暂缓项目", "已暂停提醒项目", "别队停滞项目"}


def test_api_filters_on_stalled_within_the_callers_scope(client, teams, cases):
    officer = {"Authorization": f"Bearer {factories.token(teams['officer'])}"}
    leader = {"Authorization": f"Bearer {factories.token(teams['leader'])}"}

    def ids(query: str, headers: dict[str, str]) -> set[int]:
        response = client.get(f"/api/v1/projects?{query}", headers=headers)
        assert response.status_code == 200, response.get_json()
        return {item["id"] for item in response.get_json()["items"]}

    assert ids("stalled=true", officer) == cases.stalled
    assert ids("stalled=false", officer) == cases.quiet
    assert ids("stalled=true", leader) == cases.stalled | {cases.foreign.id}
    assert ids("stalled_rule=signed_not_landed&stage=signed", officer) == cases.stalled
    assert ids("stalled=true&stalled_rule=task_overdue", officer) == set()
    # A rule named twice counts once (it used to put one CTE twice in the count: a 500).
    twice = "stalled_rule=signed_not_landed&stalled_rule=signed_not_landed"
    assert ids(twice, officer) == ids(twice + "&cursor=", officer) == cases.stalled
    assert ids(twice + "&chain=none", officer) == set()
    bad = client.get("/api/v1/projects?stalled_rule=nonsense", headers=officer)
    assert bad.status_code == 422
    spec = client.get("/api/v1/openapi.json").get_json()
    params = {p["name"] for p in spec["paths"]["/api/v1/projects"]["get"]["parameters"]}
    assert {"stalled", "stalled_rule"} <= params


def _counts(client, urls: list[str]) -> dict[str, int]:
    out = {}
    for url in urls:
        with count_queries() as counter:
            assert client.get(url).status_code == 200, url
        out[url] = counter.count
    return out


def test_badges_and_the_filter_cost_the_same_queries_for_more_rows(as_officer, teams, cases):
    urls = [
        "/projects",
        "/projects?stalled=1",
        "/board",
        "/board?stalled=1",
        "/board/signed/cards?start=0&stalled=1",
        f"/projects/{cases.late.id}",
    ]
    small = _counts(as_officer, urls)
    today = reminder_settings.current().today()
    for i in range(30):
        factories.project(
            teams["mine"],
            owner=teams["officer"],
            stage=Stage.SIGNED,
            signed_on=today - timedelta(days=SIGNED_DAYS + i),
        )
    large = _counts(as_officer, urls)
    assert small == large
    plain = _counts(as_officer, ["/projects?stage=signed"])["/projects?stage=signed"]
    # The badges and the filter: the rules' thresholds (once per request) and one query.
    assert large["/projects"] - plain <= 2
    # (PostgreSQL: one more, switching off JIT compilation for the filter's rules.)
    assert large["/projects?stalled=1"] <= large["/projects"] + 1


def test_overdue_follow_ups_count_for_their_own_project_only(as_officer, teams, cases, today):
    only_rules("signed_not_landed", "task_overdue")  # follow-ups: 7 days

    def follow_up(project: Project, days_late: int) -> None:
        db.session.add(
            Task(
                title="回访",
                owner_id=teams["officer"].id,
                team_id=project.team_id,
                project_id=project.id,
                due_on=today - timedelta(days=days_late),
            )
        )

    follow_up(cases.early, 10)  # 3 days past the threshold
    follow_up(cases.foreign, 40)  # another team's: never on this officer's pages
    follow_up(cases.held, 40)  # a project on hold: never reminded, nor its follow-ups
    db.session.flush()
    page = as_officer.get("/projects?stalled=1").get_data(as_text=True)
    assert _list_ids(page) == cases.stalled | {cases.early.id}
    rows = _badged(page, {cases.early.id, cases.late.id}, ROW)
    assert "Follow-up overdue · 3 d" in rows[cases.early.id]
    assert "+1" not in rows[cases.late.id]  # only its own rule, no other project's task
    board = as_officer.get("/board?stalled=1").get_data(as_text=True)
    assert _card_ids(board) == cases.stalled | {cases.early.id}


def test_another_teams_user_sees_no_badge_data_of_projects_they_cannot_see(client, teams, cases):
    login(client, teams["other_officer"].email)
    page = client.get("/projects?stalled=1").get_data(as_text=True)
    assert _list_ids(page) == {cases.foreign.id}

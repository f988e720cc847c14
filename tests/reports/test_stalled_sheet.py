"""The weekly report's 停滞项目 sheet lists what the reminder rules find: the same projects,
rules and days overdue as the stalled page's API and the project list's "stalled only"
filter, for a leader (every team) and a team lead (their own team)."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import openpyxl
import pytest

from crm.enums import Role, Stage
from crm.extensions import db
from crm.reminders import settings as reminder_settings
from crm.reminders.models import ReminderSnooze
from crm.reports.labels import TEXT
from crm.reports.scope import ReportScope
from crm.reports.weekly import write_weekly
from crm.reports.weeks import Week
from crm.visits.models import Task
from tests import factories
from tests.conftest import login


@pytest.fixture
def world(app):
    today = reminder_settings.current().today()
    team_a, team_b = factories.team("stl-a"), factories.team("stl-b")
    officer = factories.user(Role.OFFICER, team_a, name="甲专员")
    lead = factories.user(Role.LEAD, team_a, name="甲队长")
    leader = factories.user(Role.LEADER, name="局领导")

    def project(team, name, stage, **kw):
        kw.setdefault("lead_on", today - timedelta(days=5))
        return factories.project(team, name=name, stage=stage, owner=officer, **kw)

    ago = lambda days: today - timedelta(days=days)  # noqa: E731
    project(team_a, "签约未落地", Stage.SIGNED, signed_on=ago(61))
    project(team_a, "阈值当天", Stage.LANDED, signed_on=ago(90))
    project(team_a, "洽谈无进展", Stage.NEGOTIATING, lead_on=ago(300), negotiating_on=ago(200))
    held = project(team_a, "暂缓", Stage.ON_HOLD, signed_on=ago(400), resume_stage=Stage.SIGNED)
    snoozed = project(team_a, "暂停提醒", Stage.SIGNED, signed_on=ago(100))
    followed = project(team_a, "跟进逾期", Stage.LEAD)
    project(team_b, "乙队停滞", Stage.SIGNED, signed_on=ago(120))
    project(team_b, "乙队正常", Stage.SIGNED, signed_on=ago(10))
    for due in (ago(20), ago(9)):  # two overdue follow-ups: the worst one counts
        db.session.add(
            Task(
                title="回访",
                owner_id=officer.id,
                team_id=team_a.id,
                project_id=followed.id,
                due_on=due,
            )
        )
    db.session.add(
        ReminderSnooze(
            project_id=snoozed.id,
            rule_code="signed_not_landed",
            until=today + timedelta(days=1),
            reason="等待批复",
        )
    )
    db.session.flush()
    return {"today": today, "a": team_a, "lead": lead, "leader": leader, "held": held}


def sheet_lines(scope: ReportScope, today) -> list[tuple[str, str, int]]:
    buffer = io.BytesIO()
    write_weekly(db.session, scope, Week.of(today), buffer, as_of=today)
    buffer.seek(0)
    sheet = openpyxl.load_workbook(buffer)["停滞项目"]
    header = [c.value for c in sheet[2]]
    name, rule, days = header.index("项目名称"), header.index("规则"), header.index("逾期天数")
    assert "责任人" in header  # the owner
    return [
        (row[name], row[rule], row[days])
        for row in sheet.iter_rows(min_row=3, values_only=True)
        if row[name] is not None
    ]


def api_lines(client, user) -> tuple[set[tuple[str, str, int]], set[int]]:
    """(project, rule in the sheet's words, days overdue) from GET /api/v1/stalled; ids."""
    headers = {"Authorization": f"Bearer {factories.token(user)}"}
    body = client.get("/api/v1/stalled?per_page=200", headers=headers).get_json()
    assert body["total"] == len(body["items"])
    worst: dict[tuple[str, str], int] = {}
    for item in body["items"]:
        for stall in item["stalls"]:
            key = (item["name"], TEXT[stall["rule"]][0])
            worst[key] = max(worst.get(key, stall["days_overdue"]), stall["days_overdue"])
    return {(*key, days) for key, days in worst.items()}, {i["project_id"] for i in body["items"]}


def listed_ids(client, user) -> set[int]:
    login(client, user.email)
    page = client.get("/projects?stalled=1").get_data(as_text=True)
    return {int(i) for i in re.findall(r'<tr>\s*<td><a href="/projects/(\d+)"', page)}


def test_the_sheet_the_stalled_api_and_the_list_filter_agree(world, client, make_client):
    today, team = world["today"], world["a"]
    everyone = sheet_lines(ReportScope(), today)
    expected, ids = api_lines(client, world["leader"])
    assert len(everyone) == len(set(everyone))  # one row per project and rule
    assert set(everyone) == expected
    assert ("签约未落地", "签约未落地", 1) in expected
    assert ("阈值当天", "已签约未开工", 0) in expected  # day 90: reminded, 0 days overdue
    assert ("跟进逾期", "跟进事项逾期", 13) in expected  # the worst of two follow-ups
    assert ("乙队停滞", "签约未落地", 60) in expected
    names = {name for name, _rule, _days in expected}
    assert not names & {"暂缓", "乙队正常"}
    assert ("暂停提醒", "签约未落地") not in {(n, r) for n, r, _d in expected}
    assert [days for *_x, days in everyone] == sorted((d for *_x, d in everyone), reverse=True)
    assert listed_ids(client, world["leader"]) == ids

    own = sheet_lines(ReportScope(team.id, team.code, team.name_zh, team.name_en), today)
    lead_expected, lead_ids = api_lines(client, world["lead"])
    assert set(own) == lead_expected
    assert {name for name, _r, _d in own} == names - {"乙队停滞"}
    assert listed_ids(make_client(), world["lead"]) == lead_ids

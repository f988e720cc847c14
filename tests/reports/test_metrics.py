"""The report's numbers: checked by hand, and computed three ways (workbook, API, SQL)."""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import text

from crm.enums import Stage
from crm.extensions import db
from crm.reports import metrics, targets
from crm.reports.scope import ReportScope
from crm.reports.weeks import Week
from tests import factories
from tests.conftest import login
from tests.reports.support import WEEK, amount, build


@pytest.fixture
def data(app):
    return build()


def scope_of(team) -> ReportScope:
    return ReportScope(team.id, team.code, team.name_zh, team.name_en)


def test_weeks_are_iso_monday_to_sunday_with_year_to_date_windows():
    week = Week.parse("2025-W47")
    assert (week.start, week.end) == (date(2025, 11, 17), date(2025, 11, 23))
    assert week.previous().label == "2025-W46"
    assert Week.of(date(2025, 11, 23)) == week
    assert week.year_to_date.start == date(2025, 1, 1)
    assert week.last_year_to_date.end == date(2024, 11, 23)
    # Week 1 of 2026 starts on Monday 29 December 2025; its year to date is 2026's.
    first = Week.parse("2026-W01")
    assert first.start == date(2025, 12, 29) and first.year_to_date.start == date(2026, 1, 1)
    assert Week.parse("2020-W53").end == date(2021, 1, 3)
    leap = Week.of(date(2024, 2, 29))
    assert leap.last_year_to_date.end == date(2023, 3, 3)  # that week's Sunday, a year back
    with pytest.raises(ValueError):
        Week.parse("2025-W53")
    with pytest.raises(ValueError):
        Week.parse("47")


def test_numbers_by_hand(data):
    m = metrics.compute(db.session, ReportScope(), WEEK)
    ev = m.events
    assert (ev["lead"]["week"].count, ev["lead"]["ytd"].count) == (1, 2)
    assert (ev["signed"]["week"].count, ev["signed"]["week"].amount) == (1, Decimal("50000.00"))
    assert (ev["signed"]["last_week"].count, ev["signed"]["last_week"].amount) == (
        1,
        Decimal("120000.00"),
    )
    assert (ev["signed"]["ytd"].count, ev["signed"]["ytd"].amount) == (4, Decimal("184000.00"))
    assert (ev["signed"]["last_ytd"].count, ev["signed"]["last_ytd"].amount) == (
        2,
        Decimal("50000.00"),
    )
    assert ev["landed"]["week"].count == 1 and ev["landed"]["ytd"].count == 2
    assert ev["started"]["ytd"].amount == Decimal("150000.00")
    assert ev["operating"]["week"].count == 1
    # 开工率 and 履约率 over the projects signed this year: A1..A4; A2 started and landed,
    # A4 landed but was dropped, so one of four each.
    ytd = m.rates["ytd"]
    assert (ytd.signed, ytd.started, ytd.honoured) == (4, 1, 1)
    assert ytd.start_rate == Decimal("0.2500") and ytd.honoured_rate == Decimal("0.2500")
    last = m.rates["last_ytd"]
    assert (last.signed, last.started, last.honoured) == (2, 1, 1)
    assert m.by_stage["signed"].count == 2 and m.by_stage["dropped"].count == 1
    assert m.key_active.count == 1 and m.key_active.amount == Decimal("120000.00")
    # Stalled by the reminder rules on the week's end: A3 (signed, not landed; no stage
    # change) and B2 (negotiating without activity since April 2024).
    stalled = [(code, c.count) for code, _zh, _en, c in m.stalled_by_team]
    assert stalled == [("rpt-a", 1), ("rpt-b", 1)]
    lead_times = {lt.key: lt for lt in m.lead_times}
    assert lead_times["changsha-etdz"].median == Decimal("8.0")
    assert lead_times["wangcheng-etdz"].median == Decimal("51.0")
    overall = lead_times[None]
    assert (overall.projects, overall.minimum, overall.maximum) == (2, 8, 51)
    assert overall.median == Decimal("29.5")
    visits = {(v.team, v.region): v.count for v in m.visits_by_team_region}
    assert visits == {
        ("rpt-a", "yangtze-delta"): 2,
        ("rpt-a", None): 1,
        ("rpt-b", "jing-jin-ji"): 2,
    }
    assert m.visits_per_team_week["rpt-a"][-2:] == [1, 3]
    months = [c.count for c in m.signings_by_month]
    assert months[1] == 1 and months[2] == 1 and months[10] == 2 and sum(months) == 4


def test_a_leads_numbers_hold_only_their_team(data):
    m = metrics.compute(db.session, scope_of(data.team_b), WEEK)
    assert m.events["signed"]["ytd"].count == 0
    assert m.events["started"]["ytd"].count == 1
    assert sum(c.count for c in m.by_stage.values()) == 2
    assert {v.team for v in m.visits_by_team_region} == {"rpt-b"}
    assert [(code, c.count) for code, _zh, _en, c in m.stalled_by_team] == [("rpt-b", 1)]


def test_quartiles_of_days_from_signing_to_start(app):
    team = factories.team("rpt-q")
    days = [3, 10, 18, 40, 41, 90, 200]
    for n in days:
        factories.project(
            team,
            stage=Stage.STARTED,
            signed_on=date(2025, 1, 2),
            started_on=date(2025, 1, 2) + timedelta(days=n),
        )
    m = metrics.compute(db.session, ReportScope(team.id, team.code, "", ""), WEEK)
    overall = m.lead_times[-1]  # per zone first (here only "not set"), then all zones
    # n = 7: median is the 4th value, quartiles the 2nd and 6th (nearest rank).
    assert (overall.p25, overall.median, overall.p75) == (10, Decimal("40.0"), 90)
    assert (overall.minimum, overall.maximum, overall.projects) == (3, 200, 7)


def test_progress_against_annual_targets(data):
    targets.save_targets(
        db.session,
        2025,
        [
            targets.TargetInput("zone", "changsha-etdz", 10, Decimal("100000"), 2, 5),
            targets.TargetInput("team", "rpt-b", 4, None, None, 2),
        ],
        data.admin.id,
    )
    m = metrics.compute(db.session, ReportScope(), WEEK)
    rows = {(t.kind, t.code): t for t in m.targets}
    etdz = rows[("zone", "changsha-etdz")]
    # Signed this year in the zone (landed, else target zone): A1, A2, A3, A4.
    assert etdz.actual_signed_count == 4
    assert etdz.actual_signed_amount == Decimal("184000.00")
    assert etdz.progress("signed_count") == Decimal("0.4000")
    assert etdz.actual_key_count == 1 and etdz.actual_started_count == 1
    team_b = rows[("team", "rpt-b")]
    assert team_b.actual_started_count == 1 and team_b.progress("started_count") == Decimal("0.5")
    assert m.target_total.signed_count == 10  # leaders: the sum of the zone targets
    lead_view = metrics.compute(db.session, scope_of(data.team_b), WEEK)
    assert [(t.kind, t.code) for t in lead_view.targets] == [("team", "rpt-b")]


# --- the same numbers three ways ----------------------------------------------------------


def sql_count(column: str, start: date, end: date, team_id: int | None) -> tuple[int, Decimal]:
    team = "AND team_id = :team" if team_id else ""
    count, total = db.session.execute(
        text(
            f"SELECT count(*), coalesce(sum(planned_investment), 0) FROM project "
            f"WHERE deleted_at IS NULL AND {column} >= :start AND {column} <= :end {team}"
        ),
        {"start": start, "end": end, "team": team_id},
    ).one()
    return int(count), amount(total)


def workbook_rows(data: bytes) -> dict[str, list]:
    sheet = openpyxl.load_workbook(io.BytesIO(data))["总览"]
    rows: dict[str, list] = {}
    for row in sheet.iter_rows(min_row=3, values_only=True):
        rows.setdefault(row[1], list(row))  # the events come first ("签约" is a stage too)
    return rows


@pytest.mark.parametrize("as_lead", [False, True])
def test_workbook_dashboard_api_and_sql_agree(data, client, as_lead):
    user = data.lead_a if as_lead else data.leader
    team_id = data.team_a.id if as_lead else None
    token = factories.token(user)
    api = client.get(
        f"/api/v1/dashboard?week={WEEK.label}", headers={"Authorization": f"Bearer {token}"}
    )
    assert api.status_code == 200
    numbers = api.get_json()
    response = client.get(
        f"/api/v1/reports/weekly?week={WEEK.label}&lang=zh",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    cells = workbook_rows(response.get_data())
    periods = {
        "week": (WEEK.start, WEEK.end),
        "last_week": (WEEK.previous().start, WEEK.previous().end),
        "ytd": (date(2025, 1, 1), WEEK.end),
        "last_ytd": (date(2024, 1, 1), date(2024, 11, 23)),
    }
    labels = {"lead": "新增线索", "signed": "签约", "landed": "落地", "started": "开工",
              "operating": "投产"}  # fmt: skip
    columns = {"week": 2, "last_week": 4, "ytd": 6, "last_ytd": 8}
    for event, label in labels.items():
        row = cells[label]
        for period, (start, end) in periods.items():
            expected = sql_count(f"{event}_on", start, end, team_id)
            from_api = numbers["events"][event][period]
            from_book = (row[columns[period]], row[columns[period] + 1])
            assert (from_api["count"], Decimal(from_api["amount"])) == expected, (event, period)
            assert from_book[0] == expected[0], (event, period)
            assert amount(Decimal(str(from_book[1])) * 10000) == expected[1], (event, period)
    # Projects by stage: API, workbook and SQL.
    stage_rows = db.session.execute(
        text(
            "SELECT stage, count(*) FROM project WHERE deleted_at IS NULL "
            + ("AND team_id = :team " if team_id else "")
            + "GROUP BY stage"
        ),
        {"team": team_id},
    ).all()
    by_sql = dict(stage_rows)
    for stage, value in numbers["by_stage"].items():
        assert value["count"] == by_sql.get(stage, 0)
    assert cells["签约"][2] is not None
    stage_totals = next(r for label, r in cells.items() if label == "合计")
    assert stage_totals[2] == sum(by_sql.values())
    # 开工率 / 履约率 as the workbook shows them equal the API's.
    assert Decimal(str(cells["开工率（本年）"][10])) == Decimal(
        numbers["rates"]["ytd"]["start_rate"]
    )
    assert Decimal(str(cells["履约率（本年）"][10])) == Decimal(
        numbers["rates"]["ytd"]["honoured_rate"]
    )
    # The dashboard page shows the same figures.
    login(client, user.email)
    page = client.get(f"/dashboard?week={WEEK.label}").get_data(as_text=True)
    signed_week = sql_count("signed_on", WEEK.start, WEEK.end, team_id)[0]
    assert f'data-testid="signed-week">{signed_week}<' in page
    assert f'data-testid="signed-ytd">{numbers["events"]["signed"]["ytd"]["count"]}<' in page

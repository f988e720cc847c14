"""The weekly workbook as leaders open it: sheets, headers, formats, print setup, totals."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import text

from crm.extensions import db
from crm.reports.scope import ReportScope
from crm.reports.weekly import write_weekly
from tests.reports.support import WEEK, amount, build

SHEETS_ZH = ["总览", "重点项目", "本周进展", "停滞项目", "本周走访", "按产业链", "按园区", "图表"]
SHEETS_EN = [
    "Summary",
    "Key projects",
    "Progress this week",
    "Stalled projects",
    "Visits this week",
    "By chain",
    "By zone",
    "Charts",
]


@pytest.fixture
def data(app):
    return build()


def workbook(scope: ReportScope, lang: str = "zh") -> openpyxl.Workbook:
    buffer = io.BytesIO()
    write_weekly(db.session, scope, WEEK, buffer, lang=lang)
    buffer.seek(0)
    return openpyxl.load_workbook(buffer)


def data_rows(sheet) -> list[tuple]:
    return [
        r for r in sheet.iter_rows(min_row=3, values_only=True) if any(v is not None for v in r)
    ]


def header(sheet) -> list[str]:
    return [c.value for c in sheet[2]]


def test_sheets_headers_and_what_leaders_expect_of_each_sheet(data):
    book = workbook(ReportScope())
    assert book.sheetnames == SHEETS_ZH
    for sheet in book.worksheets:
        title = sheet["A1"].value
        assert "2025年第47周" in title and "2025-11-17至2025-11-23" in title, title
        assert sheet["A2"].value == "序号"
        assert sheet.freeze_panes == "A3"
        assert sheet.auto_filter.ref.startswith("A2:")
        assert sheet.print_title_rows == "$1:$2"
        setup = sheet.page_setup
        assert setup.orientation == "landscape"
        assert int(setup.paperSize) == 9  # A4
        assert int(setup.fitToWidth) == 1 and int(setup.fitToHeight) == 0
        assert sheet.sheet_properties.pageSetUpPr.fitToPage is True
        assert sheet.column_dimensions["B"].width >= 10
    summary = book["总览"]
    assert header(summary)[:4] == ["序号", "指标", "本周·数量", "本周·金额(亿元)"]
    assert summary["D3"].number_format == "#,##0.00"  # 亿元 with thousands separators
    assert summary["C3"].number_format == "#,##0"
    key = book["重点项目"]
    assert "计划投资(万元)" in header(key)
    assert "签约日期" in header(key)
    progress = book["本周进展"]
    assert header(progress)[1:4] == ["日期", "原阶段", "新阶段"]
    dates = [r[1] for r in data_rows(progress)]
    assert all(hasattr(d, "year") for d in dates)  # real dates, not text
    assert progress["B3"].number_format == "yyyy-mm-dd"
    stalled = book["停滞项目"]
    assert header(stalled)[1:5] == ["项目名称", "投资方", "规则", "逾期天数"]
    rows = [(r[1], r[3], r[4]) for r in data_rows(stalled)]  # one per project and rule
    assert rows[0] == ("乙二 洽谈", "无进展", (WEEK.end - date(2024, 4, 1)).days - 30)
    assert ("甲三 签约未开工", "签约未落地", (WEEK.end - date(2025, 3, 1)).days - 60) in rows
    assert book["图表"]._charts, "the pipeline charts"


def test_english_report_for_english_users(data):
    book = workbook(ReportScope(), lang="en")
    assert book.sheetnames == SHEETS_EN
    assert book["Summary"]["A2"].value == "No."
    assert "week 2025-W47" in book["Summary"]["A1"].value
    assert any("(10k CNY)" in h for h in header(book["Key projects"]) if h)


def test_every_total_matches_the_database(data):
    book = workbook(ReportScope())
    keys = db.session.execute(
        text(
            "SELECT count(*), coalesce(sum(planned_investment), 0) FROM project "
            "WHERE deleted_at IS NULL AND is_key = :yes AND stage <> 'dropped'"
        ),
        {"yes": True},
    ).one()
    key_rows = data_rows(book["重点项目"])
    assert len(key_rows) == keys[0]
    planned = header(book["重点项目"]).index("计划投资(万元)")
    assert amount(sum(Decimal(str(r[planned])) for r in key_rows)) == amount(keys[1])
    changes = db.session.execute(
        text('SELECT count(*) FROM stage_change WHERE "on" BETWEEN :a AND :b'),
        {"a": WEEK.start, "b": WEEK.end},
    ).scalar()
    assert len(data_rows(book["本周进展"])) == changes == 4
    visits = db.session.execute(
        text('SELECT count(*) FROM visit WHERE deleted_at IS NULL AND "on" BETWEEN :a AND :b'),
        {"a": WEEK.start, "b": WEEK.end},
    ).scalar()
    visit_rows = data_rows(book["本周走访"])
    assert visit_rows[-1][1] == "合计" and visit_rows[-1][-1] == visits == 5
    active = db.session.execute(
        text(
            "SELECT count(*), coalesce(sum(planned_investment), 0) FROM project "
            "WHERE deleted_at IS NULL AND stage <> 'dropped'"
        )
    ).one()
    for sheet in ("按产业链", "按园区"):
        rows = data_rows(book[sheet])
        assert sum(r[2] for r in rows) == active[0], sheet
        total_yi = sum(Decimal(str(r[3])) for r in rows)
        assert amount(total_yi * 10000) == amount(active[1]), sheet
    stages = data_rows(book["图表"])
    assert [r[1] for r in stages] == ["线索", "洽谈", "签约", "落地", "开工", "投产"]


def test_a_leads_report_holds_only_their_teams_projects(data):
    team = data.team_b
    book = workbook(ReportScope(team.id, team.code, team.name_zh, team.name_en))
    assert team.name_zh in book["总览"]["A1"].value
    everything = [str(v) for s in book.worksheets for r in data_rows(s) for v in r if v]
    assert not any(v.startswith("甲") for v in everything)
    stages = {r[1]: r[2] for r in data_rows(book["图表"])}
    assert stages["开工"] == 1 and stages["洽谈"] == 1 and stages["签约"] == 0
    assert [r[1] for r in data_rows(book["本周走访"])] == [team.name_zh, "合计"]


def test_command_line_writes_the_report(data, runner, tmp_path):
    out = tmp_path / "w47.xlsx"
    result = runner.invoke(
        args=["report", "weekly", "--week", "2025-W47", "--team", "rpt-a", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert str(out) in result.output
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == SHEETS_ZH
    assert "甲" in "".join(str(r[1]) for r in data_rows(book["重点项目"]))
    bad = runner.invoke(args=["report", "weekly", "--week", "2025-W99"])
    assert bad.exit_code != 0 and "no week 99" in bad.output
    unknown = runner.invoke(args=["report", "weekly", "--team", "nope"])
    assert unknown.exit_code != 0 and "No team" in unknown.output

"""The xlsx export of the project list: same filter and scope, real values, no formulas."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

from openpyxl import load_workbook

from crm.enums import Stage
from tests import factories


def _sheet(response):
    assert response.status_code == 200
    assert response.mimetype == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert "attachment" in response.headers["Content-Disposition"]
    workbook = load_workbook(io.BytesIO(response.get_data()))
    return workbook.worksheets[0]


def _rows(sheet):
    header_row = next(
        r for r in range(1, 5) if sheet.cell(r, 2).value and sheet.cell(r + 1, 1).value == 1
    )
    headers = [c.value for c in sheet[header_row]]
    rows = []
    for row in sheet.iter_rows(min_row=header_row + 1):
        rows.append({h: c for h, c in zip(headers, row, strict=True)})
    return headers, rows


def test_export_holds_the_filtered_projects_with_real_values(as_officer, teams):
    teams["officer"].locale = "zh_CN"  # headers in Chinese, with 万元
    company = factories.company("德赛电池有限公司", uscc=None)
    signed = factories.project(
        teams["mine"],
        owner=teams["officer"],
        stage=Stage.SIGNED,
        amount="750000",
        name="储能电芯项目",
        company_obj=company,
        signed_on=date(2022, 1, 20),
        is_key=True,
        key_reasons=["amount"],
    )
    factories.project(teams["mine"], stage=Stage.LEAD, name="线索项目")
    factories.project(teams["other"], stage=Stage.SIGNED, name="别队签约项目")
    sheet = _sheet(as_officer.get("/projects/export.xlsx?stage=signed"))
    headers, rows = _rows(sheet)
    assert len(rows) == 1
    row = rows[0]
    by_header = {h: c.value for h, c in row.items()}
    assert signed.id in by_header.values()
    assert "储能电芯项目" in by_header.values()
    assert "德赛电池有限公司" in by_header.values()
    amounts = [c for c in row.values() if c.value == 750000]
    assert amounts and amounts[0].number_format == "#,##0.00"
    dates = [c for c in row.values() if c.is_date]
    assert any(c.value.date() == date(2022, 1, 20) for c in dates)
    assert any("万元" in str(h) for h in headers)
    assert sheet.freeze_panes is not None
    assert sheet.auto_filter.ref


def test_export_never_writes_user_text_as_a_formula(as_officer, teams):
    company = factories.company("@SUM(A1:A9)")
    factories.project(
        teams["mine"],
        name='=HYPERLINK("http://evil.example","click")',
        company_obj=company,
        amount="1",
    )
    factories.project(teams["mine"], name="+1+2", amount="2")
    factories.project(teams["mine"], name="-3", amount="3")
    sheet = _sheet(as_officer.get("/projects/export.xlsx?sort=amount&dir=asc"))
    _headers, rows = _rows(sheet)
    texts = {}
    for row in rows:
        for cell in row.values():
            if isinstance(cell.value, str) and cell.value and cell.value[0] in "=+-@":
                texts[cell.value] = cell
    assert set(texts) == {'=HYPERLINK("http://evil.example","click")', "@SUM(A1:A9)", "+1+2", "-3"}
    for cell in texts.values():
        assert cell.data_type == "s"
        assert cell.quotePrefix


def test_export_respects_scope_sort_and_reports_bad_filters(as_officer, teams):
    teams["officer"].locale = "zh_CN"  # headers in Chinese, with 万元
    for amount in ("300", "100", "200"):
        factories.project(teams["mine"], amount=amount)
    factories.project(teams["other"], amount="999")
    sheet = _sheet(as_officer.get("/projects/export.xlsx?sort=amount&dir=asc"))
    headers, rows = _rows(sheet)
    amount_header = next(h for h in headers if "万元" in str(h))
    amounts = [row[amount_header].value for row in rows]
    assert [Decimal(str(a)) for a in amounts] == [Decimal(100), Decimal(200), Decimal(300)]
    response = as_officer.get("/projects/export.xlsx?min=lots")
    assert response.status_code == 302
    assert response.location.endswith("/projects?min=lots")

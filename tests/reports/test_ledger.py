"""Importing a project ledger (台账): reading, recognising headers, validating, reporting."""

from __future__ import annotations

import io
import os
import zipfile
from collections import Counter
from datetime import date, datetime
from decimal import Decimal

import openpyxl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm.enums import Stage
from crm.reference.uscc import make_uscc, uscc_error
from crm.reports.ledger import (
    LedgerFileError,
    Table,
    error_report_xlsx,
    guess_mapping,
    header_signature,
    read_table,
    validate_rows,
)
from crm.reports.ledger_headers import guess_field
from crm.reports.ledger_values import (
    parse_bool,
    parse_date,
    parse_int,
    parse_money,
    parse_stage,
    parse_text,
    parse_top500,
)
from crm.reports.xlsx import Column, XlsxBook

MB = 2**20
CHAINS = {
    "工程机械": "construction-machinery",
    "construction-machinery": "construction-machinery",
    "汽车(含智能网联汽车)": "automobile",
    "automobile": "automobile",
    "先进储能材料": "energy-storage-materials",
}
GOOD_USCC = make_uscc(12345678)
BAD_USCC = GOOD_USCC[:-1] + ("0" if GOOD_USCC[-1] != "0" else "1")

#: Headers as a bureau's ledger has them (domain.md, "Ledger columns").
LEDGER_HEADERS = [
    "序号", "项目编号", "项目名称", "投资方名称", "统一社会信用代码", "企业类型",
    "来源地（省/市）", "所属产业链", "投资总额（万元）", "固定资产投资（万元）",
    "注册资本（万元）", "当月实际到位资金（万元）", "累计实际到位资金（万元）", "是否500强",
    "是否总部", "招商阶段", "签约时间", "落地时间", "开工时间", "投产时间", "签约所属活动",
    "用地（亩）", "预计年产值（万元）", "预计年纳税（万元）", "带动就业（人）", "项目方联系人",
    "责任单位", "责任人", "备注",
]  # fmt: skip


def xlsx_bytes(rows: list[list[object]], *, title: str | None = "2026年招商项目台账") -> bytes:
    """An xlsx as a person would make it; every str stays text (never a formula)."""
    wb = openpyxl.Workbook()
    ws = wb.active
    if title:
        ws.append([title])
        ws.append([])
    for row in rows:
        ws.append(row)
    for row in ws.iter_rows():
        for cell in row:
            if isinstance(cell.value, str):
                cell.data_type = "s"
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def read(data: bytes, filename: str = "台账.xlsx", **limits: int) -> Table:
    return read_table(
        data, filename, limits.get("max_bytes", 10 * MB), limits.get("max_rows", 10_000)
    )


def validate(table: Table):
    return validate_rows(table, guess_mapping(table.headers), CHAINS, uscc_error)


# --- headers ----------------------------------------------------------------------


def test_headers_of_a_realistic_chinese_ledger_are_recognised() -> None:
    mapping = guess_mapping(LEDGER_HEADERS)

    assert {LEDGER_HEADERS[i]: key for i, key in mapping.items()} == {
        "序号": None,
        "项目编号": "external_id",
        "项目名称": "project_name",
        "投资方名称": "company_name",
        "统一社会信用代码": "uscc",
        "企业类型": "company_type",
        "来源地（省/市）": "source_place",
        "所属产业链": "chain",
        "投资总额（万元）": "planned_investment",
        "固定资产投资（万元）": "fixed_asset_investment",
        "注册资本（万元）": "registered_capital",
        "当月实际到位资金（万元）": "funds_in_place_month",
        "累计实际到位资金（万元）": "funds_in_place_total",
        "是否500强": "is_top500",
        "是否总部": "is_hq",
        "招商阶段": "stage",
        "签约时间": "signed_on",
        "落地时间": "landed_on",
        "开工时间": "started_on",
        "投产时间": "operating_on",
        "签约所属活动": "event_name",
        "用地（亩）": "land_mu",
        "预计年产值（万元）": "expected_output",
        "预计年纳税（万元）": "expected_tax",
        "带动就业（人）": "jobs",
        "项目方联系人": "contact",
        "责任单位": "responsible_unit",
        "责任人": "owner",
        "备注": "notes",
    }


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("投资方", "company_name"),
        ("签约企业", "company_name"),
        ("信用代码", "uscc"),
        ("总投资(亿元)", "planned_investment"),
        ("计划总投资", "planned_investment"),
        ("总投资/万元", "planned_investment"),
        (" 项目 名称 *", "project_name"),
        ("【备注】", "notes"),
        ("项目状态", "stage"),
        ("签约日期", "signed_on"),
        ("注册时间", "landed_on"),
        ("竣工投产时间", "operating_on"),
        ("用地面积(平方米)", "land_mu"),
        ("Project name", "project_name"),
        ("ID", "external_id"),
        ("外资(万美元)", None),  # foreign currency is never guessed
        ("序号", None),
        ("对接人电话号码", None),
    ],
)
def test_header_variants(header: str, field: str | None) -> None:
    assert guess_field(header) == field


def test_a_field_is_guessed_for_its_first_column_only() -> None:
    assert guess_mapping(["项目名称", "总投资(万元)", "投资总额(亿元)"]) == {
        0: "project_name",
        1: "planned_investment",
        2: None,
    }


def test_header_signature_ignores_spacing_width_and_trailing_blanks_but_not_order() -> None:
    signature = header_signature(["项目名称", "投资总额（万元）", "签约时间"])

    assert signature == header_signature([" 项目名称", "投资总额(万元)", "签约时间", None, ""])
    assert signature != header_signature(["投资总额（万元）", "项目名称", "签约时间"])
    assert len(signature) == 64


# --- values -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "wan"),
    [
        ("1,234.5", "1234.5"),
        ("1234.5万元", "1234.5"),
        ("1234.5万", "1234.5"),
        ("12亿", "120000"),
        ("12.5亿元", "125000"),
        ("1.2e4", "12000"),
        ("１２３４", "1234"),
        ("￥3,000元", "0.3"),
        ("5000万人民币", "5000"),
        (1234.5, "1234.5"),
        (12345.670000000001, "12345.67"),
        (Decimal("88"), "88"),
        (0, "0"),
    ],
)
def test_amounts_are_read_in_wan(raw: object, wan: str) -> None:
    assert parse_money(raw) == (Decimal(wan), None)


def test_bare_amounts_take_the_column_unit_and_cell_units_win() -> None:
    yi = Decimal(10000)
    assert parse_money(12.5, yi) == (Decimal(125000), None)
    assert parse_money("3", yi) == (Decimal(30000), None)
    assert parse_money("3万元", yi) == (Decimal(3), None)


@pytest.mark.parametrize(("raw"), ["", None, "-", "/", "无", "  "])
def test_placeholders_are_empty_amounts(raw: object) -> None:
    assert parse_money(raw) == (None, None)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("abc", "not an amount"),
        ("约5亿", "not an amount"),
        ("-5", "negative"),
        ("$500", "US dollars"),
        ("100万美元", "US dollars"),
        (True, "not an amount"),
        (float("nan"), "not an amount"),
        ("1e999", "too large"),
    ],
)
def test_bad_amounts_say_why(raw: object, fragment: str) -> None:
    value, error = parse_money(raw)
    assert value is None
    assert error is not None and fragment in error


@pytest.mark.parametrize(
    "raw",
    [
        datetime(2022, 1, 20, 15, 30),
        date(2022, 1, 20),
        "2022-01-20",
        "2022/1/20",
        "2022.1.20",
        "2022年1月20日",
        "2022 年 1 月 20 日",
        "20220120",
        20220120,
        44581,
        44581.0,
        "44581",
        "2022-01-20 00:00:00",
        "２０２２－０１－２０",
    ],
)
def test_accepted_date_formats(raw: object) -> None:
    assert parse_date(raw) == (date(2022, 1, 20), None)


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ("2022-13-01", "month must be in 1..12"),
        ("2022-02-30", "not a valid date"),
        ("Jan 20, 2022", "2022年1月20日"),
        ("2022-1/20", "2022/1/20"),
        (2022, "2022-01-20"),
        ("1900-01-01", "outside"),
    ],
)
def test_bad_dates_name_the_accepted_formats(raw: object, fragment: str) -> None:
    value, error = parse_date(raw)
    assert value is None
    assert error is not None and fragment in error


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("是", True), ("否", False), ("Y", True), ("n", False), ("yes", True), ("No", False),
     ("TRUE", True), ("false", False), (1, True), (0, False), ("1", True), ("0", False),
     ("√", True), ("×", False), (True, True), ("", None), (None, None)],
)  # fmt: skip
def test_yes_no(raw: object, expected: bool | None) -> None:
    assert parse_bool(raw) == (expected, None)


def test_top500_accepts_the_list_name() -> None:
    assert parse_top500("世界500强") == (True, None)
    assert parse_top500("中国民营企业500强") == (True, None)
    assert parse_top500("非500强") == (False, None)
    assert parse_top500("否") == (False, None)
    assert parse_top500("也许")[1] is not None


@pytest.mark.parametrize(
    ("raw", "stage"),
    [("线索", Stage.LEAD), ("洽谈", Stage.NEGOTIATING), ("在谈", Stage.NEGOTIATING),
     ("签约", Stage.SIGNED), ("已签约", Stage.SIGNED), ("落地", Stage.LANDED),
     ("注册", Stage.LANDED), ("开工", Stage.STARTED), ("在建", Stage.STARTED),
     ("投产", Stage.OPERATING), ("竣工投产", Stage.OPERATING), ("运营", Stage.OPERATING),
     ("暂缓", Stage.ON_HOLD), ("终止", Stage.DROPPED), ("洽谈阶段", Stage.NEGOTIATING),
     ("lead", Stage.LEAD), ("negotiating", Stage.NEGOTIATING), ("signed", Stage.SIGNED),
     ("landed", Stage.LANDED), ("started", Stage.STARTED), ("operating", Stage.OPERATING),
     ("on_hold", Stage.ON_HOLD), ("On hold", Stage.ON_HOLD), ("dropped", Stage.DROPPED)],
)  # fmt: skip
def test_stages(raw: str, stage: Stage) -> None:
    assert parse_stage(raw) == (stage, None)


def test_unknown_stage_lists_the_accepted_names() -> None:
    value, error = parse_stage("差不多了")
    assert value is None
    assert error is not None and "竣工投产" in error and "on_hold" in error


def test_whole_numbers_and_text() -> None:
    assert parse_int("1,200人") == (1200, None)
    assert parse_int(300.0) == (300, None)
    assert parse_int(12.5)[1] is not None
    assert parse_text(13800138000.0) == ("13800138000", None)
    assert parse_text("  项目  A ") == ("项目 A", None)
    assert parse_text("x" * 11, 10)[1] is not None


@given(st.text())
def test_parsers_never_raise_on_arbitrary_text(text: str) -> None:
    for column_factor in (Decimal(1), Decimal(10000), Decimal("0.0001")):
        value, error = parse_money(text, column_factor)
        assert value is None or error is None
    for parse in (parse_date, parse_bool, parse_top500, parse_stage, parse_int):
        value, error = parse(text)
        assert value is None or error is None


@given(st.one_of(st.floats(), st.integers(), st.decimals(), st.booleans(), st.datetimes()))
def test_parsers_never_raise_on_cell_values(value: object) -> None:
    for parse in (parse_money, parse_date, parse_bool, parse_int, parse_text):
        parse(value)


# --- reading files ----------------------------------------------------------------


def test_header_row_is_found_below_a_title_and_two_level_headers_are_merged() -> None:
    data = xlsx_bytes(
        [
            ["序号", "项目名称", "投资方", "实际到位资金(万元)", None, "签约时间"],
            [None, None, None, "当月", "累计", None],
            [1, "项目A", "公司A", 100, 2000, date(2024, 1, 5)],
            [],
            [2, "项目B", "公司B", None, 50, "2024-02-01"],
        ]
    )
    table = read(data)

    assert table.file_type == "xlsx"
    assert table.header_rows == (3, 4)
    assert table.headers == [
        "序号",
        "项目名称",
        "投资方",
        "实际到位资金(万元)当月",
        "实际到位资金(万元)累计",
        "签约时间",
    ]
    assert [row.number for row in table.rows] == [5, 7]  # the blank row is skipped
    assert table.rows[0].values == (1, "项目A", "公司A", 100, 2000, datetime(2024, 1, 5))
    assert guess_mapping(table.headers)[3] == "funds_in_place_month"
    assert guess_mapping(table.headers)[4] == "funds_in_place_total"


def test_a_data_row_of_text_is_not_taken_for_a_second_header() -> None:
    data = "项目名称,投资方名称,备注\n项目A,公司A,\n项目B,公司B,说明\n".encode()
    table = read(data, "ledger.csv")

    assert table.header_rows == (1,)
    assert [row.values for row in table.rows] == [
        ("项目A", "公司A", ""),
        ("项目B", "公司B", "说明"),
    ]


def test_csv_in_gb18030_is_read() -> None:
    text = (
        "项目名称,投资方名称,投资总额(亿元),签约时间\r\n"
        "年产5万吨锂电材料项目,湖南某新材料有限公司,12.5,2024/3/8\r\n"
    )
    table = read(text.encode("gb18030"), "台账.csv")

    assert table.file_type == "csv"
    assert table.headers == ["项目名称", "投资方名称", "投资总额(亿元)", "签约时间"]
    report = validate(table)
    assert report.ok
    assert report.valid_rows[0].values["planned_investment"] == Decimal(125000)
    assert report.valid_rows[0].values["signed_on"] == date(2024, 3, 8)


@pytest.mark.parametrize(
    ("data", "name"),
    [
        ("\ufeff项目名称,投资方名称\n项目A,公司A\n".encode(), "a.csv"),
        ("项目名称\t投资方名称\n项目A\t公司A\n".encode(), "a.txt"),
        ("项目名称\t投资方名称\n项目A\t公司A\n".encode("utf-16"), "a.txt"),
    ],
)
def test_csv_variants(data: bytes, name: str) -> None:
    table = read(data, name)
    assert table.headers == ["项目名称", "投资方名称"]
    assert table.rows[0].values == ("项目A", "公司A")


def test_unrecognised_headers_are_kept_for_manual_mapping() -> None:
    table = read(b"Name,Investor Co\nA,B\n", "export.csv")

    assert not table.header_recognised
    assert table.headers == ["Name", "Investor Co"]
    assert guess_mapping(table.headers) == {0: None, 1: None}
    report = validate_rows(table, {0: "project_name", 1: "company_name"}, CHAINS, uscc_error)
    assert report.ok
    assert report.valid_rows[0].values == {"project_name": "A", "company_name": "B"}


def test_credit_codes_are_stored_half_width_without_spaces() -> None:
    typed = " ".join(GOOD_USCC[i : i + 6] for i in range(0, 18, 6)).translate(
        {c: c + 0xFEE0 for c in range(0x21, 0x7F)}
    )
    table = read(xlsx_bytes([["项目名称", "投资方名称", "信用代码"], ["项目A", "公司A", typed]]))

    assert validate(table).valid_rows[0].values["uscc"] == GOOD_USCC


OLE2 = bytes.fromhex("D0CF11E0A1B11AE1") + bytes(504)


@pytest.mark.parametrize(
    ("data", "name", "code", "fragment"),
    [
        (os.urandom(4096), "台账.xlsx", "not_spreadsheet", "not an Excel workbook"),
        (os.urandom(4096), "台账.pdf", "not_spreadsheet", "not a spreadsheet"),
        (OLE2 + b"Workbook".decode().encode("utf-16-le"), "台账.xls", "xls", "save as .xlsx"),
        (OLE2 + "EncryptedPackage".encode("utf-16-le") + bytes(64), "台账.xlsx", "encrypted",
         "password-protected"),
        (b"", "台账.xlsx", "empty", "empty"),
        (b"<html><table><tr><td>1</td></tr></table></html>", "台账.xls", "not_spreadsheet",
         "web page"),
        ("项目名称,投资方名称\x00\x00".encode("utf-32"), "a.csv", "undecodable", "UTF-8"),
        (b"PK\x03\x04garbage", "台账.xlsx", "not_spreadsheet", "damaged"),
    ],
)  # fmt: skip
def test_files_that_are_not_ledgers_are_refused(
    data: bytes, name: str, code: str, fragment: str
) -> None:
    with pytest.raises(LedgerFileError) as raised:
        read(data, name)
    assert raised.value.code == code
    assert fragment in str(raised.value)


def _zip(**members: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in members.items():
            archive.writestr(name.replace("__", "/"), content)
    return buffer.getvalue()


def test_other_zip_files_are_refused() -> None:
    with pytest.raises(LedgerFileError) as raised:
        read(_zip(word__document_xml=b"<w/>"), "台账.xlsx")
    assert raised.value.code == "not_spreadsheet"
    ods = _zip(mimetype=b"application/vnd.oasis.opendocument.spreadsheet")
    with pytest.raises(LedgerFileError, match=r"\.ods"):
        read(ods, "台账.ods")


def test_size_and_row_limits() -> None:
    rows = [["项目名称", "投资方名称"], *([f"项目{i}", "公司"] for i in range(30))]
    data = xlsx_bytes(rows)

    assert len(read(data, max_rows=30).rows) == 30
    with pytest.raises(LedgerFileError) as raised:
        read(data, max_rows=29)
    assert raised.value.code == "too_many_rows"
    assert "29" in str(raised.value)
    with pytest.raises(LedgerFileError) as raised:
        read(data, max_bytes=len(data) - 1)
    assert raised.value.code == "too_large"
    with pytest.raises(LedgerFileError, match="unpacks"):
        read_table(data, "a.xlsx", 10 * MB, 100, max_unpacked_bytes=1000)


def test_a_sheet_without_rows_or_header_is_refused() -> None:
    with pytest.raises(LedgerFileError) as raised:
        read(xlsx_bytes([], title=None))
    assert raised.value.code == "empty"
    with pytest.raises(LedgerFileError) as raised:
        read(xlsx_bytes([["项目名称", "投资方名称"]]))
    assert raised.value.code == "empty"
    with pytest.raises(LedgerFileError) as raised:
        read(xlsx_bytes([[1, 2], [3, 4]], title=None))
    assert raised.value.code == "no_header"


# --- validation -------------------------------------------------------------------

BROKEN_HEADERS = [
    "序号", "项目编号", "项目名称", "投资方名称", "统一社会信用代码", "所属产业链",
    "投资总额(万元)", "签约时间", "开工时间", "招商阶段", "是否500强",
]  # fmt: skip


def _row(
    n: int | str,
    name: str | None,
    company: str | None = "某有限公司",
    *,
    external_id: str | None = None,
    uscc: str | None = None,
    chain: str | None = "工程机械",
    amount: object = 30000,
    signed: object = None,
    started: object = None,
    stage: str | None = "线索",
    top500: str | None = "否",
) -> list[object]:
    if external_id is None and isinstance(n, int):
        external_id = f"CS-{n:03d}"
    return [n, external_id, name, company, uscc, chain, amount, signed, started, stage, top500]


BROKEN_ROWS = [
    _row(1, "年产10万台挖掘机项目", "三一重工股份有限公司", uscc=GOOD_USCC,
         chain="工程机械产业链", amount=500000, signed=date(2024, 1, 5),
         started=date(2024, 3, 1), stage="开工", top500="世界500强"),
    _row(2, None, stage="洽谈"),  # project name missing
    _row(3, "智能网联汽车零部件项目", uscc=BAD_USCC, chain="汽车"),
    _row(4, "储能电池项目", chain="不存在的链"),
    _row(5, "显示模组项目", chain="automobile", amount="约八千万"),
    _row(6, "碳材料项目", amount=0.8),  # 0.8 万元: surely 0.8 亿元
    _row(7, "合金项目", amount=2500000000),  # 25万亿元: surely yuan
    _row(8, "芯片封测项目", signed="2024年13月1日", stage="签约"),
    _row(9, "检测基地项目", signed="2024-05-01", started="2024.4.1", stage="开工"),
    _row(10, "大数据中心项目", stage="差不多", top500="也许"),
    _row(11, "重复编号项目", external_id="CS-001"),
    _row(12, '=HYPERLINK("http://evil","x")', "@某公司", amount="0.8亿", stage="签约"),
    _row("合计", None, None, external_id="", chain=None, amount=2500583000, stage=None,
         top500=None),
]  # fmt: skip


def _broken_table() -> Table:
    return read(xlsx_bytes([BROKEN_HEADERS, *BROKEN_ROWS]))


def test_every_kind_of_error_is_reported_with_row_column_and_value() -> None:
    report = validate(_broken_table())
    found = {(i.row, i.column, i.code): i for i in report.issues}

    # The title row and the blank row come first, so data starts on row 4.
    assert found[(5, "项目名称", "required")].value is None
    assert found[(6, "统一社会信用代码", "bad_uscc")].value == BAD_USCC
    assert "check character" in found[(6, "统一社会信用代码", "bad_uscc")].message
    assert found[(7, "所属产业链", "unknown_chain")].value == "不存在的链"
    assert found[(8, "投资总额(万元)", "not_a_number")].value == "约八千万"
    assert found[(9, "投资总额(万元)", "unit_looks_yi")].value == 0.8
    assert found[(10, "投资总额(万元)", "unit_looks_yuan")].value == 2500000000
    assert "month must be in 1..12" in found[(11, "签约时间", "bad_date")].message
    assert found[(12, "开工时间", "date_order")].value == "2024.4.1"
    assert found[(13, "招商阶段", "bad_stage")].value == "差不多"
    assert found[(13, "是否500强", "bad_bool")].value == "也许"
    assert "row 4" in found[(14, "项目编号", "duplicate")].message
    assert found[(16, "", "total_row")].severity == "warning"
    assert Counter(i.severity for i in report.issues)["error"] == len(report.errors) == 11
    assert not report.ok


def test_valid_rows_become_parsed_values() -> None:
    report = validate(_broken_table())

    assert [row.row for row in report.valid_rows] == [4, 15]
    first = report.valid_rows[0].values
    assert first == {
        "external_id": "CS-001",
        "project_name": "年产10万台挖掘机项目",
        "company_name": "三一重工股份有限公司",
        "uscc": GOOD_USCC,
        "chain": "construction-machinery",
        "planned_investment": Decimal(500000),
        "signed_on": date(2024, 1, 5),
        "started_on": date(2024, 3, 1),
        "stage": Stage.STARTED,
        "is_top500": True,
    }
    # "0.8亿" names its unit, so it is not suspected of being in the wrong unit.
    assert report.valid_rows[1].values["planned_investment"] == Decimal(8000)
    assert report.skipped_rows == [16]


def test_a_yi_header_converts_amounts_to_wan() -> None:
    table = read(
        xlsx_bytes(
            [
                ["项目名称", "投资方", "总投资（亿元）"],
                ["项目A", "公司A", 12.5],
                ["项目B", "公司B", "3000万"],
            ]
        )
    )
    report = validate(table)

    assert report.ok
    assert [r.values["planned_investment"] for r in report.valid_rows] == [
        Decimal(125000),
        Decimal(3000),
    ]


def test_a_wan_column_of_tiny_amounts_looks_like_yi() -> None:
    rows = [[f"项目{i}", f"公司{i}", amount] for i, amount in enumerate([1.5, 3, 20, 2, 5, 8])]
    unstated = validate(read(xlsx_bytes([["项目名称", "投资方名称", "总投资"], *rows])))
    stated = validate(read(xlsx_bytes([["项目名称", "投资方名称", "总投资(万元)"], *rows])))

    [column_issue] = [i for i in unstated.issues if i.code == "column_looks_yi"]
    assert (column_issue.row, column_issue.severity) == (0, "error")
    assert "总投资(亿元)" in column_issue.message
    assert unstated.valid_rows == []
    [warning] = [i for i in stated.issues if i.code == "column_looks_yi"]
    assert warning.severity == "warning"
    assert len(stated.valid_rows) == 6


def test_stage_dates_beyond_the_stage_are_a_warning() -> None:
    table = read(
        xlsx_bytes(
            [
                ["项目名称", "投资方名称", "签约时间", "招商阶段"],
                ["项目A", "公司A", "2024-01-02", "洽谈"],
            ]
        )
    )
    report = validate(table)

    assert report.ok
    assert [(i.code, i.severity) for i in report.issues] == [("stage_date_mismatch", "warning")]


def test_mapping_problems_block_every_row() -> None:
    table = read(xlsx_bytes([["项目名称", "投资方名称", "备注"], ["项目A", "公司A", "x"]]))

    report = validate_rows(
        table, {0: "project_name", 1: "project_name", 2: "no_such"}, CHAINS, uscc_error
    )

    codes = [(i.row, i.code) for i in report.issues]
    assert (0, "bad_mapping") in codes
    assert (0, "required_column") in codes  # nothing left for company_name
    assert report.valid_rows == []


def test_chains_match_by_code_name_or_common_variants() -> None:
    rows = [
        [f"项目{i}", "公司", chain]
        for i, chain in enumerate(
            ["工程机械", "工程机械产业链", "construction-machinery", "汽车", "先进储能材料链"]
        )
    ]
    report = validate(read(xlsx_bytes([["项目名称", "投资方名称", "产业链"], *rows])))

    assert [r.values["chain"] for r in report.valid_rows] == [
        "construction-machinery",
        "construction-machinery",
        "construction-machinery",
        "automobile",
        "energy-storage-materials",
    ]


# --- error report -----------------------------------------------------------------


def test_error_report_marks_bad_cells_and_lists_every_problem() -> None:
    table = _broken_table()
    report = validate(table)
    buffer = io.BytesIO()

    error_report_xlsx(table, report, buffer)

    wb = openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))
    assert wb.sheetnames == ["台账", "错误清单"]
    ledger, problems = wb["台账"], wb["错误清单"]
    headers = [c.value for c in ledger[2]]
    assert headers == ["行号", *table.headers, "错误"]
    by_row = {ledger.cell(r, 1).value: r for r in range(3, ledger.max_row + 1)}
    bad_uscc = ledger.cell(by_row[6], headers.index("统一社会信用代码") + 1)
    assert bad_uscc.value == BAD_USCC
    assert bad_uscc.fill.fgColor.rgb.endswith("FFC7CE")
    assert "check character" in ledger.cell(by_row[6], len(headers)).value
    assert ledger.cell(by_row[4], 3).fill.fill_type is None  # a valid row is left plain
    injected = ledger.cell(by_row[15], headers.index("项目名称") + 1)
    assert injected.value.startswith("=HYPERLINK")
    assert injected.data_type == "s"
    assert [c.value for c in problems[2]] == ["行号", "列", "值", "问题", "级别"]
    assert problems.max_row == 2 + len(report.issues)
    listed = {
        (problems.cell(r, 1).value, problems.cell(r, 2).value)
        for r in range(3, problems.max_row + 1)
    }
    assert (12, "开工时间") in listed


def test_error_report_can_be_written_in_english_with_translated_messages() -> None:
    table = _broken_table()
    buffer = io.BytesIO()

    error_report_xlsx(table, validate(table), buffer, lang="en", message=lambda i: f"[{i.code}]")

    wb = openpyxl.load_workbook(buffer)
    assert wb.sheetnames == ["Ledger", "Problems"]
    assert wb["Problems"].cell(3, 4).value.startswith("[")


# --- a whole file ---------------------------------------------------------------------

ROWS = 600  # 10,000 rows are timed in benchmarks/bench_reports.py (the import budget)


def test_every_row_of_a_long_ledger_is_read_and_validated_in_order() -> None:
    buffer = io.BytesIO()
    with XlsxBook(buffer) as book:
        sheet = book.sheet("台账", [Column(f"c{i}", h) for i, h in enumerate(LEDGER_HEADERS)])
        for i in range(ROWS):
            sheet.append(
                [i + 1, f"CS-{i}", f"项目{i}", f"公司{i}", make_uscc(i), "民营", "广东深圳",
                 "工程机械", 30000 + i, 20000, 5000, 100, 1000, "否", "否", "开工",
                 "2024-01-05", "2024-02-01", "2024-03-01", None, "春季招商会", 50, 100000,
                 5000, 300, "张三", "经开区", "李四", ""]
            )  # fmt: skip
    table = read(buffer.getvalue())
    report = validate(table)

    assert not report.issues, report.issues[:3]
    assert report.rows_total == len(report.valid_rows) == ROWS
    rows = report.valid_rows
    assert [r.row for r in rows] == list(range(rows[0].row, rows[0].row + ROWS))
    for i in (0, ROWS // 2, ROWS - 1):
        values = rows[i].values
        assert values["external_id"] == f"CS-{i}"
        assert values["project_name"] == f"项目{i}"
        assert values["uscc"] == make_uscc(i)
        assert values["planned_investment"] == Decimal(30000 + i)
        assert values["chain"] == "construction-machinery"
        assert values["stage"] == Stage.STARTED
        assert values["signed_on"] == date(2024, 1, 5)

"""Top-500 list files: parsing, row errors, refused files and proposed company matches."""

import io
import zipfile

import pytest
from openpyxl import Workbook

import crm.pipeline.top500 as top500
from crm.pipeline.top500 import (
    Match,
    MatchReason,
    NotASpreadsheetError,
    RowError,
    Top500Entry,
    parse_top500,
    propose_matches,
)


def xlsx_bytes(rows: list[list[object]], title: str = "2024") -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(text: str, encoding: str = "utf-8-sig") -> bytes:
    return text.encode(encoding)


# --- reading files ----------------------------------------------------------------------


def test_xlsx_with_english_headers_below_a_title_row():
    data = xlsx_bytes(
        [
            ["2024 Fortune Global 500 (sample)"],
            [],
            ["Rank", "Name", "Name_EN", "Aliases", "Revenue (USD m)"],
            [1, "沃尔玛", "Walmart", "Walmart Inc.|沃尔玛公司", 648125],
            [2.0, "亚马逊", "Amazon.com", None, 574785],
            [48, "上海汽车集团股份有限公司", "SAIC Motor", "上汽集团;上汽、SAIC|上汽", 103000],
        ]
    )
    parsed = parse_top500(data, "global500.xlsx")
    assert parsed.errors == []
    assert parsed.entries == [
        Top500Entry(4, 1, "沃尔玛", "Walmart", ("Walmart Inc.",)),
        Top500Entry(5, 2, "亚马逊", "Amazon.com", ()),
        # 上汽 reads the same as 上汽集团 (集团 is a legal form), so it is dropped as a repeat.
        Top500Entry(6, 48, "上海汽车集团股份有限公司", "SAIC Motor", ("上汽集团", "SAIC")),
    ]


def test_csv_with_chinese_headers_in_utf8_with_bom():
    text = (
        "排名,企业名称,英文名称,别名,所属行业\n"
        "1,国家电网有限公司,State Grid Corporation of China,国网|国家电网,电力\n"
        '2,"中国石油化工集团有限公司","China Petrochemical Corporation",中国石化；Sinopec,石化\n'
    )
    parsed = parse_top500(csv_bytes(text), "china500.csv")
    assert parsed.errors == []
    assert [(e.row, e.rank, e.name) for e in parsed.entries] == [
        (2, 1, "国家电网有限公司"),
        (3, 2, "中国石油化工集团有限公司"),
    ]
    # The alias that is only the name again (国家电网 = 国家电网有限公司) is dropped.
    assert parsed.entries[0].aliases == ("国网",)
    assert parsed.entries[1].aliases == ("中国石化", "Sinopec")


@pytest.mark.parametrize("header", ["名称", "企业名称", "公司名称", "name", "NAME", "公司 名称"])
def test_accepted_name_headers(header):
    parsed = parse_top500(csv_bytes(f"{header}\n比亚迪股份有限公司\n"))
    assert [e.name for e in parsed.entries] == ["比亚迪股份有限公司"]
    assert parsed.entries[0].rank is None


def test_csv_in_gb18030_as_saved_by_chinese_excel():
    text = "排名,公司名称,别名\r\n1,华为投资控股有限公司,华为\r\n"
    parsed = parse_top500(csv_bytes(text, "gb18030"), "民营500强.csv")
    assert [(e.name, e.aliases) for e in parsed.entries] == [("华为投资控股有限公司", ("华为",))]


def test_tab_separated_utf16_as_saved_by_excel_unicode_text():
    text = "排名\t名称\n1\t腾讯控股有限公司\n"
    parsed = parse_top500(text.encode("utf-16"), "list.txt")
    assert [e.name for e in parsed.entries] == ["腾讯控股有限公司"]


def test_a_path_can_be_given(tmp_path):
    path = tmp_path / "list.xlsx"
    path.write_bytes(xlsx_bytes([["排名", "名称"], [1, "三一集团有限公司"]]))
    assert [e.name for e in parse_top500(path).entries] == ["三一集团有限公司"]
    assert [e.name for e in parse_top500(str(path)).entries] == ["三一集团有限公司"]


def test_ranks_may_be_written_in_several_ways():
    text = "排名,名称\n１,甲公司\n2.0,乙公司\n 3 ,丙公司\n"
    assert [e.rank for e in parse_top500(csv_bytes(text)).entries] == [1, 2, 3]


def test_a_quoted_cell_over_two_lines_counts_as_one_row():
    text = '排名,名称,别名\n1,甲公司,"甲\n甲集团"\n2,乙公司,\n'
    parsed = parse_top500(csv_bytes(text))
    assert [(e.row, e.name) for e in parsed.entries] == [(2, "甲公司"), (3, "乙公司")]


# --- row errors -------------------------------------------------------------------------


def test_bad_rows_are_reported_with_row_column_value_and_message():
    data = xlsx_bytes(
        [
            ["排名", "企业名称", "英文名称"],
            [1, "德赛电池有限公司", "Desay Battery"],
            ["一", "三一重工股份有限公司", None],
            [3, None, "No Name Ltd"],
            [4, "德赛电池股份有限公司", None],
            [None, "中联重科股份有限公司", None],
            [0, "山河智能装备股份有限公司", None],
            [7.5, "蓝思科技股份有限公司", None],
            [],
            [8, "  ", None],
            [9, "铁建重工（中国）有限公司", None],
        ]
    )
    parsed = parse_top500(data, "bad.xlsx")
    assert parsed.errors == [
        RowError(3, "排名", "一", "rank is not a positive integer"),
        RowError(4, "企业名称", "", "name is missing"),
        RowError(
            5, "企业名称", "德赛电池股份有限公司", "same company as row 2 (both read as '德赛电池')"
        ),
        RowError(6, "排名", "", "rank is missing"),
        RowError(7, "排名", "0", "rank is not a positive integer"),
        RowError(8, "排名", "7.5", "rank is not a positive integer"),
        RowError(10, "企业名称", "", "name is missing"),
    ]
    assert [(e.row, e.name) for e in parsed.entries] == [
        (2, "德赛电池有限公司"),
        (11, "铁建重工（中国）有限公司"),
    ]


def test_one_row_can_have_two_errors():
    parsed = parse_top500(csv_bytes("rank,name\nfirst,\n"))
    assert parsed.errors == [
        RowError(2, "name", "", "name is missing"),
        RowError(2, "rank", "first", "rank is not a positive integer"),
    ]
    assert parsed.entries == []


# --- refused files ----------------------------------------------------------------------


def zip_without_workbook() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "not a workbook")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "is empty"),
        (b"  \r\n", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "neither an .xlsx workbook nor a csv text"),
        (bytes(range(256)) * 4, "neither an .xlsx workbook nor a csv text"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512, "old-format .xls"),
        (b"PK\x03\x04" + b"\x00" * 64, "not a readable .xlsx workbook"),
        (zip_without_workbook(), "not a readable .xlsx workbook"),
        ("# 项目说明\n这是一个文本文件。\n".encode(), "no header row with a name column"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\x00", "neither an .xlsx workbook"),
    ],
)
def test_files_that_are_not_spreadsheets_are_refused(data, message):
    with pytest.raises(NotASpreadsheetError, match=message) as raised:
        parse_top500(data, "upload.xlsx")
    assert str(raised.value).startswith("upload.xlsx ")


def test_a_renamed_csv_is_read_by_its_content_not_its_name():
    parsed = parse_top500(csv_bytes("名称\n甲公司\n"), "list.xlsx")
    assert [e.name for e in parsed.entries] == ["甲公司"]


def test_header_must_be_near_the_top():
    text = "\n".join(["说明"] * 12 + ["名称", "甲公司"])
    with pytest.raises(NotASpreadsheetError, match="first 10 rows"):
        parse_top500(csv_bytes(text))


def test_too_many_rows_are_refused():
    text = "名称\n" + "\n".join(f"公司{i}" for i in range(6))
    assert len(parse_top500(csv_bytes(text), max_rows=6).entries) == 6
    with pytest.raises(NotASpreadsheetError, match="more than 5 rows"):
        parse_top500(csv_bytes(text), max_rows=5)
    with pytest.raises(NotASpreadsheetError, match="more than 5 rows"):
        parse_top500(xlsx_bytes([["名称"]] + [[f"公司{i}"] for i in range(6)]), max_rows=5)


# --- matching ---------------------------------------------------------------------------


def entries(*rows: tuple) -> list[Top500Entry]:
    return [
        Top500Entry(row, row - 1, name, name_en, tuple(aliases))
        for row, (name, name_en, aliases) in enumerate(rows, 2)
    ]


def pairs(matches: list[Match]) -> list[tuple[int, str]]:
    return [(m.company_id, m.entry.name) for m in matches]


def test_limited_and_joint_stock_forms_match():
    matches = propose_matches(
        [(1, "德赛电池股份有限公司", None, None)],
        entries(("德赛电池有限公司", None, ())),
    )
    assert matches == [
        Match(
            1,
            Top500Entry(2, 1, "德赛电池有限公司"),
            (MatchReason("name", "德赛电池股份有限公司", "name", "德赛电池有限公司", "德赛电池"),),
        )
    ]
    assert matches[0].reasons[0].describe() == (
        "company name '德赛电池股份有限公司' matches list name '德赛电池有限公司' "
        "(both read as '德赛电池')"
    )


def test_china_in_brackets_and_full_width_letters_match():
    companies = [
        (1, "西门子（中国）有限公司", None, None),
        (2, "ＡＢＢ(中国)有限公司", [], ""),
        (3, "博世（中国）投资有限公司", None, None),
    ]
    matches = propose_matches(
        companies,
        entries(("西门子", "Siemens", ()), ("ABB", "ABB Ltd", ()), ("博世", "Robert Bosch", ())),
    )
    assert pairs(matches) == [(1, "西门子"), (2, "ABB")]
    # Both the list's name and its English name read as "abb": two reasons, one proposal.
    assert [(r.entry_field, r.key) for r in matches[1].reasons] == [
        ("name", "abb"),
        ("name_en", "abb"),
    ]


def test_english_aliases_match_in_either_direction():
    companies = [
        (10, "上海汽车集团股份有限公司", ["上汽集团"], "SAIC Motor Corporation Limited"),
        (11, "大众汽车（中国）投资有限公司", ["Volkswagen (China)"], None),
        (12, "丰田汽车公司", None, None),
    ]
    listed = entries(
        ("上汽集团", "SAIC Motor", ["ＳＡＩＣ　Motor Corp."]),
        ("大众公司", "Volkswagen AG", ["Volkswagen Group"]),
        ("丰田汽车", "Toyota Motor Corporation", ()),
    )
    matches = propose_matches(companies, listed)
    assert pairs(matches) == [(10, "上汽集团"), (11, "大众公司"), (12, "丰田汽车")]
    saic_reasons = {(r.company_field, r.entry_field, r.key) for r in matches[0].reasons}
    assert saic_reasons == {
        ("alias", "name", "上汽"),
        ("name_en", "name_en", "saicmotor"),
        ("name_en", "alias", "saicmotor"),
    }
    assert {(r.company_field, r.entry_field) for r in matches[1].reasons} == {
        ("alias", "name_en"),
        ("alias", "alias"),
    }


def test_a_company_matched_by_two_entries_is_proposed_for_both():
    # A list merged from two sources names BYD twice, once in each script; the parser
    # cannot tell (比亚迪 and byd are different keys), the matcher proposes both rows.
    companies = [(7, "比亚迪股份有限公司", ["比亚迪"], "BYD Company Limited")]
    listed = entries(
        ("比亚迪股份有限公司", None, ()),
        ("BYD Co., Ltd.", None, ["比亚迪汽车"]),
        ("长城汽车股份有限公司", "Great Wall Motor", ()),
    )
    matches = propose_matches(companies, listed)
    assert pairs(matches) == [(7, "比亚迪股份有限公司"), (7, "BYD Co., Ltd.")]
    assert [(r.company_field, r.key) for r in matches[0].reasons] == [
        ("name", "比亚迪"),
        ("alias", "比亚迪"),
    ]
    assert [(r.company_field, r.entry_field, r.key) for r in matches[1].reasons] == [
        ("name_en", "name", "byd"),
    ]


def test_a_group_and_its_listed_arm_read_the_same():
    # 集团有限公司 and 股份有限公司 are both legal forms: the group and its listed
    # subsidiary share a key, so the person confirming the match must look.
    matches = propose_matches(
        [(1, "中国石油化工股份有限公司", ["中国石化"], "Sinopec Corp.")],
        entries(("中国石油化工集团有限公司", "China Petrochemical Corporation", ["中国石化"])),
    )
    assert [r.key for r in matches[0].reasons] == ["中国石油化工", "中国石化"]


def test_an_entry_matching_two_companies_is_proposed_for_each_in_company_order():
    companies = [
        (5, "三一重工股份有限公司", None, None),
        (3, "三一重工有限公司", None, None),
        (4, "中联重科股份有限公司", None, None),
    ]
    matches = propose_matches(companies, entries(("三一重工", None, ())))
    assert pairs(matches) == [(5, "三一重工"), (3, "三一重工")]


def test_no_match_without_a_shared_key():
    companies = [(1, "比亚迪股份有限公司", None, "BYD Company Limited")]
    listed = entries(("比亚迪汽车工业有限公司", None, ()), ("长城汽车", "Great Wall Motor", ()))
    assert propose_matches(companies, listed) == []
    assert propose_matches([], listed) == []
    assert propose_matches(companies, []) == []


def test_empty_names_never_match_each_other():
    assert propose_matches([(1, "（）", ["--"], " ")], entries(("——", None, ["()"]))) == []


def test_matching_is_linear_each_name_normalised_once(monkeypatch):
    calls = 0
    real = top500.normalize_company_name

    def counting(name: str) -> str:
        nonlocal calls
        calls += 1
        return real(name)

    monkeypatch.setattr(top500, "normalize_company_name", counting)
    n, m = 3000, 400
    companies = ((i, f"测试企业{i}有限公司", [f"测试{i}"], f"Test {i} Co., Ltd.") for i in range(n))
    listed = iter(
        Top500Entry(i + 2, i + 1, f"测试企业{i * 7}股份有限公司", f"TEST {i * 7} Group", ())
        for i in range(m)
    )
    # Generators can be read once: a nested loop over companies would see them empty.
    matches = propose_matches(companies, listed)
    assert len(matches) == m
    assert calls == 3 * n + 2 * m
    assert all(len(match.reasons) == 2 for match in matches)

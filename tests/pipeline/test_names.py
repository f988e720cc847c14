"""Company-name normalisation, pinyin search keys and the search blob."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm.pipeline.names import (
    SEARCH_SEPARATOR,
    compact_text,
    normalize_company_name,
    query_variants,
    search_blob,
    search_keys,
)


def like(blob: str, query: str) -> bool:
    """What ``blob LIKE '%q%'`` answers for any of the query's variants."""
    return any(variant in blob for variant in query_variants(query))


@pytest.mark.parametrize(
    ("spellings", "key"),
    [
        (
            ["德赛电池有限公司", "德赛电池股份有限公司", "德赛电池有限责任公司", "德赛电池"],
            "德赛电池",
        ),
        (["上海汽车集团股份有限公司", "上海汽车集团有限公司", "上海汽车集团"], "上海汽车"),
        (["西门子（中国）有限公司", "西门子(中国)有限公司", "西门子【中国】有限公司"], "西门子"),
        (["中联重科（集团）股份有限公司", "中联重科股份有限公司"], "中联重科"),
        (
            ["大众汽车（中国香港）有限公司", "大众汽车（上海市）有限公司", "大众汽车（中国·上海）"],
            "大众汽车",
        ),
        (["Volvo (China Shanghai) Ltd.", "Volvo (Asia Pacific)", "Volvo [PRC]"], "volvo"),
        (["比亚迪（长沙）汽车有限公司", "比亚迪〔浏阳市〕汽车有限公司"], "比亚迪汽车"),
        (["ＳＡＩＣ Motor Corporation Limited", "SAIC Motor Corp.", "saic motor"], "saicmotor"),
        (["Siemens AG", "Siemens (China) Co., Ltd.", "SIEMENS Aktiengesellschaft"], "siemens"),
        (["Volkswagen AG", "Volkswagen Group", "VOLKSWAGEN"], "volkswagen"),
        (["Carrefour S.A.", "Carrefour SA", "Carrefour S. A."], "carrefour"),
        (["The Coca-Cola Company", "Coca-Cola"], "cocacola"),
        (["BASF SE", "BASF"], "basf"),
        (["Robert Bosch GmbH", "Robert Bosch"], "robertbosch"),
        (["HSBC Holdings plc", "HSBC Holdings PLC", "HSBC"], "hsbc"),
        (["Apple Inc.", "Apple Incorporated", "ＡＰＰＬＥ　ＩＮＣ．"], "apple"),
        (["ABB（中国）有限公司", "ABB Ltd", "ABB有限公司"], "abb"),
        (["TCL科技集团股份有限公司", "ＴＣＬ科技"], "tcl科技"),
        (["长沙某某投资合伙企业（有限合伙）", "长沙某某投资合伙企业"], "长沙某某投资合伙企业"),
    ],
)
def test_spellings_of_one_company_share_a_key(spellings, key):
    assert {normalize_company_name(spelling) for spelling in spellings} == {key}


@pytest.mark.parametrize(
    ("name", "key"),
    [
        # A city in front of the name, not in brackets, is part of the name.
        ("惠州市德赛电池有限公司", "惠州市德赛电池"),
        ("上海汽车", "上海汽车"),
        # A branch is its own record.
        ("德赛电池有限公司长沙分公司", "德赛电池有限公司长沙分公司"),
        # Brackets that say something other than a place or a legal form stay (unwrapped).
        ("某某（科技）有限公司", "某某科技"),
        ("Merck & Co., Inc.", "merck"),
        ("A.P. Møller - Mærsk A/S", "apmøllermærsk"),
        ("Straße GmbH", "strasse"),
        # Suffixes are whole words: names that merely end in the same letters keep them.
        ("Costco", "costco"),
        ("Tag", "tag"),
        ("Nissan", "nissan"),
        # Stripping stops before it would leave nothing.
        ("有限公司", "有限公司"),
        ("Co., Ltd.", "co"),
        ("Group", "group"),
        ("", ""),
        ("（）——", ""),
    ],
)
def test_normalised_names(name, key):
    assert normalize_company_name(name) == key


def test_compact_text_removes_only_spaces_and_punctuation():
    assert compact_text("德赛电池（惠州）有限公司") == "德赛电池惠州有限公司"
    assert compact_text("Dé Sài") == "désài"
    assert compact_text("ＳＡＩＣ　Motor") == "saicmotor"


def test_search_keys_of_a_chinese_name():
    assert search_keys("德赛电池有限公司") == {
        "normalized": "德赛电池",
        "pinyin": "desaidianchi",
        "initials": "dsdc",
    }


def test_search_keys_take_the_default_reading_in_context():
    # 重 reads chong in 重庆 and zhong in 重科; 长 reads chang in 长沙; 行 hang in 银行.
    assert search_keys("重庆银行")["pinyin"] == "chongqingyinhang"
    assert search_keys("中联重科")["pinyin"] == "zhonglianzhongke"
    assert search_keys("长沙")["initials"] == "cs"


def test_search_keys_keep_latin_letters_and_digits_lower_case():
    assert search_keys("TCL科技集团股份有限公司") == {
        "normalized": "tcl科技",
        "pinyin": "tclkeji",
        "initials": "tclkj",
    }
    assert search_keys("三一重工2号工厂")["initials"] == "syzg2hgc"
    assert search_keys("SAIC Motor")["pinyin"] == "saicmotor"


def test_search_keys_write_u_umlaut_as_v():
    assert search_keys("绿色能源")["pinyin"] == "lvsenengyuan"


DESAY = search_blob("惠州市德赛电池有限公司", ["德赛电池"], "Desay Battery Co., Ltd.")
SAIC = search_blob(
    "上海汽车集团股份有限公司", ["上汽集团", "上汽"], "SAIC Motor Corporation Limited"
)


def test_blob_layout():
    assert DESAY.startswith(SEARCH_SEPARATOR)
    assert DESAY.endswith(SEARCH_SEPARATOR)
    assert DESAY.lower() == DESAY
    keys = DESAY.strip(SEARCH_SEPARATOR).split(SEARCH_SEPARATOR)
    assert len(keys) == len(set(keys))
    assert {"惠州市德赛电池", "德赛电池", "desaidianchi", "dsdc", "hzsdsdc", "desaybattery"} <= set(
        keys
    )


@pytest.mark.parametrize(
    "query",
    [
        "dsdc",  # pinyin initials
        "DSDC",
        "ds",  # a prefix of the initials
        "desai",  # part of the full pinyin
        "de sai",
        "dé sài",  # pinyin typed with tone marks
        "desaidianchi",
        "德赛",  # two Chinese characters
        "赛电",  # any part of the Chinese name
        "德赛电池有限公司",  # the legal form in the query is ignored
        "惠州",
        "desay",  # part of the English name
        "Desay Battery Co., Ltd.",
        "ＤＥＳＡＹ",
    ],
)
def test_queries_that_find_desay(query):
    assert like(DESAY, query)


@pytest.mark.parametrize("query", ["ＳＡＩＣ", "saic", "SAIC Motor", "上汽", "shqc", "shanghaiqi"])
def test_queries_that_find_saic(query):
    assert like(SAIC, query)


@pytest.mark.parametrize("query", ["比亚迪", "byd", "dianchishang", "dsdcs", "德赛汽车", "%", "_"])
def test_queries_that_find_neither(query):
    assert not like(DESAY, query)
    assert not like(SAIC, query)


def test_a_query_never_matches_across_two_keys():
    blob = search_blob("德赛", None, "Battery")
    # "德赛" and "battery" are neighbours in the blob, but no query can span them.
    assert not like(blob, "赛battery")
    assert not like(blob, "赛|ba")
    assert not like(blob, "desaibattery")


def test_blob_of_nothing_is_empty():
    assert search_blob("", [], None) == ""
    assert search_blob("", None, "") == ""


def test_query_variants():
    assert query_variants("ＳＡＩＣ") == ["saic"]
    assert query_variants("德赛电池有限公司") == ["德赛电池", "德赛电池有限公司"]
    assert query_variants("dé sài") == ["désài", "desai"]
    assert query_variants("  ") == []
    assert query_variants("%_|") == []


@given(st.text())
def test_query_variants_are_safe_in_like_patterns(query):
    for variant in query_variants(query):
        assert variant
        assert not set(variant) & {"%", "_", "\\", SEARCH_SEPARATOR}
        assert all(ch.isalnum() for ch in variant)


name_alphabet = st.sampled_from(
    list("德赛电池有限公司股份集团控股中国上海长沙市区县科技()（）【】[]〔〕·-&.,/ ")
    + list("abcABCＡＢＣ123１２３")
    + ["Co", "Ltd", "Inc", "Group", "S.A.", "AG", "The", "s", "a", "l", "td", "the", "é", "ß"]
)
names = st.lists(name_alphabet, max_size=14).map("".join)


@given(names)
def test_normalisation_is_idempotent_on_name_like_text(name):
    once = normalize_company_name(name)
    assert normalize_company_name(once) == once


@given(st.text())
def test_normalisation_is_idempotent_on_any_text(text):
    once = normalize_company_name(text)
    assert normalize_company_name(once) == once
    assert all(ch.isalnum() for ch in once)


@given(names)
def test_a_name_is_found_by_its_normalised_and_compact_forms(name):
    blob = search_blob(name, None, None)
    for variant in (normalize_company_name(name), compact_text(name)):
        assert not variant or f"|{variant}|" in blob

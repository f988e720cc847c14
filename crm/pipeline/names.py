"""Company names: normalisation for matching and duplicate detection, and search keys.

``normalize_company_name`` reduces a name to the core two spellings of the same company
share: ``德赛电池（惠州）有限公司`` and ``德赛电池股份有限公司`` both become ``德赛电池``;
``SAIC Motor Corporation Limited`` and ``ＳＡＩＣ Motor Corp.`` both become ``saicmotor``.
It is for finding candidates that a person then confirms, never for deciding alone that
two records are the same company. The rules and the reasons for them are in
``docs/names-and-codes.md``.

``search_blob`` and ``query_variants`` make a plain ``LIKE '%q%'`` find a company by
any part of its Chinese name, its pinyin, its pinyin initials or its English name.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from typing import TypedDict

__all__ = [
    "SEARCH_SEPARATOR",
    "SearchKeys",
    "compact_text",
    "normalize_company_name",
    "query_variants",
    "search_blob",
    "search_keys",
]

#: Separates keys in a search blob. Normalised keys and queries hold only letters and
#: digits, so a ``LIKE '%q%'`` can never match across it.
SEARCH_SEPARATOR = "|"

# Chinese legal-form endings, stripped repeatedly from the end (longest first), so that
# 集团股份有限公司 goes as 股份有限公司 then 集团.
_CN_SUFFIXES = tuple(
    sorted(
        {
            "有限责任公司",
            "股份有限公司",
            "有限公司",
            "股份公司",
            "集团公司",
            "总公司",
            "公司",
            "集团",
            "控股",
            "股份",
            "有限合伙",
            "普通合伙",
            "特殊普通合伙",
        },
        key=len,
        reverse=True,
    )
)

# A branch (分公司) is a different record from its parent: its name is left whole.
_CN_KEPT_ENDINGS = ("分公司",)

# English and other Latin-script legal forms, written without punctuation or spaces.
# A trailing run of words is stripped when the words joined together spell one of these,
# so "Co., Ltd.", "S.A." and "S. A." all go.
_LATIN_SUFFIXES = frozenset(
    {
        "co",
        "ltd",
        "limited",
        "inc",
        "incorporated",
        "corporation",
        "corp",
        "company",
        "group",
        "holdings",
        "holding",
        "ag",
        "aktiengesellschaft",
        "gmbh",
        "kg",
        "kgaa",
        "sa",
        "sas",
        "spa",
        "se",
        "plc",
        "llc",
        "llp",
        "lp",
        "nv",
        "bv",
        "ab",
        "asa",
        "as",
        "oyj",
        "kk",
        "pte",
        "pty",
        "bhd",
        "sdn",
        "srl",
        "sarl",
    }
)
_LATIN_PREFIXES = frozenset({"the"})

# Bracketed words that only say where a company (or its branch) sits, e.g. 西门子（中国）
# or 比亚迪（长沙）汽车. They are removed with their brackets. Unbracketed place names are
# kept: 上海汽车 is a name, not a region marker.
_REGION_WORDS = frozenset(
    {
        # China, Greater China, Asia
        "中国",
        "中國",
        "中华",
        "中国大陆",
        "中国区",
        "大中华",
        "大中华区",
        "亚洲",
        "亚太",
        "亚太区",
        "华东",
        "华南",
        "华北",
        "华中",
        "西南",
        "西北",
        "东北",
        # provincial-level divisions
        "北京",
        "天津",
        "河北",
        "山西",
        "内蒙古",
        "辽宁",
        "吉林",
        "黑龙江",
        "上海",
        "江苏",
        "浙江",
        "安徽",
        "福建",
        "江西",
        "山东",
        "河南",
        "湖北",
        "湖南",
        "广东",
        "广西",
        "海南",
        "重庆",
        "四川",
        "贵州",
        "云南",
        "西藏",
        "陕西",
        "甘肃",
        "青海",
        "宁夏",
        "新疆",
        "香港",
        "澳门",
        "台湾",
        # cities often seen in subsidiaries' names
        "长沙",
        "株洲",
        "湘潭",
        "岳阳",
        "常德",
        "衡阳",
        "深圳",
        "广州",
        "东莞",
        "佛山",
        "珠海",
        "惠州",
        "苏州",
        "无锡",
        "常州",
        "南京",
        "杭州",
        "宁波",
        "温州",
        "合肥",
        "武汉",
        "成都",
        "西安",
        "郑州",
        "青岛",
        "济南",
        "厦门",
        "福州",
        "大连",
        "沈阳",
        "哈尔滨",
        "长春",
        "石家庄",
        "太原",
        "南昌",
        "昆明",
        "贵阳",
        "南宁",
        "兰州",
        "乌鲁木齐",
        # Latin spellings (compared without spaces)
        "china",
        "prc",
        "thepeoplesrepublicofchina",
        "mainlandchina",
        "greaterchina",
        "asia",
        "asiapacific",
        "apac",
        "hongkong",
        "hk",
        "macau",
        "macao",
        "taiwan",
        "beijing",
        "shanghai",
        "tianjin",
        "chongqing",
        "shenzhen",
        "guangzhou",
        "changsha",
        "suzhou",
        "hangzhou",
        "wuhan",
        "chengdu",
    }
)
_REGION_ENDINGS = ("特别行政区", "自治区", "地区", "省", "市", "区", "县")
# 2-4 Han characters and 省/市/县: an administrative unit such as （浏阳市）, （长沙县）.
_GENERIC_REGION = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]{2,4}[省市县]")

# Bracketed legal-form words: 中联重科（集团）, XX投资（有限合伙）.
_BRACKETED_FORMS = frozenset(
    {"集团", "控股", "股份", "有限合伙", "普通合伙", "特殊普通合伙", "group", "holdings"}
)

_BRACKETS = str.maketrans({"[": "(", "]": ")", "【": "(", "】": ")", "〔": "(", "〕": ")"})
_BRACKETS.update(str.maketrans({"〖": "(", "〗": ")", "{": "(", "}": ")"}))
_INNERMOST_GROUP = re.compile(r"\(([^()]*)\)")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")
_HAN_RUN = re.compile(f"((?:{_HAN.pattern})+)")
_NON_WORD = re.compile(r"[\W_]+")


def _fold(text: str) -> str:
    """NFKC with case folding (full-width to half-width, ß to ss), stable when repeated."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def _alnum_only(text: str) -> str:
    return "".join(ch for ch in text if ch.isalnum())


def compact_text(text: str) -> str:
    """Return ``text`` folded (NFKC, case-folded) with everything but letters and digits removed.

    Unlike :func:`normalize_company_name` nothing else is removed: no suffixes, no
    region markers, no accents (``compact_text("Dé Sài") == "désài"``; see
    :func:`query_variants` for accent stripping).
    """
    return _alnum_only(_fold(text))


def _is_region_marker(word: str) -> bool:
    if word in _REGION_WORDS or _GENERIC_REGION.fullmatch(word):
        return True
    if word.startswith(("中国", "china")) and word not in ("中国", "china"):
        # 中国香港, （中国·上海）, (China Shanghai)
        return _is_region_marker(word.removeprefix("中国").removeprefix("china"))
    for ending in _REGION_ENDINGS:
        if word.endswith(ending) and word[: -len(ending)] in _REGION_WORDS:
            return True
    return False


def _drop_bracketed_markers(text: str) -> str:
    """Remove bracket groups holding only a region or a legal form; unwrap the others."""

    def replace(match: re.Match[str]) -> str:
        inner = _alnum_only(match.group(1))
        if not inner or inner in _BRACKETED_FORMS or _is_region_marker(inner):
            return " "
        return f" {match.group(1)} "

    text = text.translate(_BRACKETS)
    while True:
        replaced = _INNERMOST_GROUP.sub(replace, text)
        if replaced == text:
            return replaced
        text = replaced


def _tokens(text: str) -> list[str]:
    """Split into Han runs and Latin words; Han runs merge across spaces and punctuation."""
    tokens: list[str] = []
    for word in _NON_WORD.split(text):
        for part in _HAN_RUN.split(word):
            if not part:
                continue
            part = _alnum_only(part)
            if not part:
                continue
            if tokens and _HAN.match(part) and _HAN.match(tokens[-1]):
                tokens[-1] += part
            else:
                tokens.append(part)
    return tokens


def _trailing_latin_run(tokens: list[str]) -> int:
    run = 0
    for token in reversed(tokens):
        if _HAN.match(token):
            break
        run += 1
    return run


def _strip_one_legal_form(tokens: list[str]) -> list[str] | None:
    """Return ``tokens`` without their last legal form, or None if they end in none."""
    last = tokens[-1]
    if _HAN.match(last):
        if last.endswith(_CN_KEPT_ENDINGS):
            return None
        for suffix in _CN_SUFFIXES:
            if last.endswith(suffix):
                rest = last[: -len(suffix)]
                return [*tokens[:-1], rest] if rest else tokens[:-1]
        return None
    # Latin words at the end: the shortest trailing run of words that spells a suffix.
    for size in range(1, _trailing_latin_run(tokens) + 1):
        if "".join(tokens[-size:]) in _LATIN_SUFFIXES:
            return tokens[:-size]
    return None


def _strip_legal_forms(tokens: list[str]) -> list[str]:
    """Strip legal forms from the end, and a leading "The", never down to nothing."""
    while tokens:
        shorter = _strip_one_legal_form(tokens)
        if not shorter:  # nothing to strip, or stripping would leave nothing
            break
        tokens = shorter
    # A leading "The" (The Coca-Cola Company) when something follows it.
    changed = True
    while changed:
        changed = False
        for size in range(1, len(tokens)):
            if _HAN.match(tokens[size - 1]):
                break
            if "".join(tokens[:size]) in _LATIN_PREFIXES:
                tokens = tokens[size:]
                changed = True
                break
    return tokens


def normalize_company_name(name: str) -> str:
    """Return the matching key of a company name: lower-case letters and digits only.

    Steps: NFKC with case folding (full-width to half-width); brackets （）[]【】〔〕 unified;
    bracket groups holding only a region or a legal form (（中国）, (China), （长沙）,
    （集团）, （有限合伙）) removed, other brackets dropped and their content kept; legal
    forms stripped from the end repeatedly (有限公司, 股份有限公司, 集团, Co., Ltd.,
    Limited, Inc., Corp., Group, Holdings, AG, GmbH, S.A., PLC ...) and a leading "The";
    then every space and punctuation mark removed.

    Promises: the result is idempotent (``f(f(x)) == f(x)``), contains only characters
    for which ``str.isalnum()`` holds, and is empty only when ``name`` has no letter or
    digit. Stripping stops before it would leave nothing: "有限公司" stays "有限公司" and
    "Co., Ltd." becomes "co".
    """
    return "".join(_strip_legal_forms(_tokens(_drop_bracketed_markers(_fold(name)))))


class SearchKeys(TypedDict):
    """The keys under which a text can be found."""

    normalized: str
    pinyin: str
    initials: str


def _no_reading(chunk: str) -> str:
    # pypinyin hands over Han characters it has no reading for: leave them out.
    return ""


@functools.lru_cache(maxsize=65_536)
def _syllables(han_run: str) -> tuple[str, ...]:
    # pypinyin costs about 0.1 ms a call; generated and imported data repeat names a lot.
    # Imported here: its phrase dictionary takes most of a second to load, which every
    # process (CLI commands, the scheduler, each gunicorn worker) would pay at start.
    from pypinyin import lazy_pinyin

    return tuple(s for s in lazy_pinyin(han_run, errors=_no_reading) if s)


def search_keys(text: str) -> SearchKeys:
    """Return the normalised text, its full pinyin and its pinyin initials.

    ``search_keys("德赛电池有限公司")`` gives ``normalized="德赛电池"``,
    ``pinyin="desaidianchi"`` and ``initials="dsdc"``. Pinyin has no tones and no
    spaces; ü is written ``v`` (as typed on a keyboard); a character with several
    readings takes pypinyin's default (context-aware) one; the rare character it cannot
    read is left out of both. Letters and digits that are not Chinese are kept,
    lower-cased, in all three keys (``TCL科技`` -> ``tclkeji``, ``tclkj``).
    """
    normalized = normalize_company_name(text)
    pinyin: list[str] = []
    initials: list[str] = []
    for part in _HAN_RUN.split(normalized):
        if not part:
            continue
        if not _HAN.match(part):
            pinyin.append(part)
            initials.append(part)
            continue
        syllables = _syllables(part)
        pinyin += syllables
        initials += (syllable[0] for syllable in syllables)
    return SearchKeys(normalized=normalized, pinyin="".join(pinyin), initials="".join(initials))


def search_blob(name: str, aliases: Iterable[str] | None = None, name_en: str | None = None) -> str:
    """Return one lower-case string holding every search key of a company (or project).

    For the name and each alias: the normalised name, the name with only punctuation
    removed (so "有限公司" in a query still matches), its pinyin and its pinyin
    initials; for the English name: its normalised and compact forms. Keys are unique,
    joined and wrapped by :data:`SEARCH_SEPARATOR` (``|德赛电池|desaidianchi|dsdc|``).

    Promise: for every ``q`` in :func:`query_variants`, ``q in blob`` holds exactly when
    ``q`` is part of one key, so ``LIKE '%q%'`` on the stored blob never matches across
    two keys.
    """
    keys: list[str] = []
    for text in (name, *(aliases or ())):
        if not text:
            continue
        found = search_keys(text)
        keys += [found["normalized"], compact_text(text), found["pinyin"], found["initials"]]
    if name_en:
        keys += [normalize_company_name(name_en), compact_text(name_en)]
    unique = [key for key in dict.fromkeys(keys) if key]
    if not unique:
        return ""
    return SEARCH_SEPARATOR + SEARCH_SEPARATOR.join(unique) + SEARCH_SEPARATOR


def _without_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def query_variants(q: str) -> list[str]:
    """Return what to look for in search blobs for a user's query, most specific first.

    The query normalised like a name (so "德赛电池有限公司" finds 德赛电池), the query
    with only spaces and punctuation removed (so "de sai" finds "desai"), and the same
    without accents (so pinyin typed with tone marks, "dé sài", finds "desai"). All are
    lower-case letters and digits, free of ``%``, ``_`` and the separator; duplicates and
    empty strings are left out, so a query of only punctuation gives ``[]``.
    """
    compact = compact_text(q)
    variants = [normalize_company_name(q), compact, _alnum_only(_without_accents(compact))]
    return [v for v in dict.fromkeys(variants) if v]

"""The fields a ledger column can be imported into, and how header text is recognised.

A header is normalised (full-width to half-width, lower case, no whitespace, 【】 as
brackets, a trailing ``*`` or ``:`` dropped), its unit is taken out of brackets or off
its end (``投资总额(亿元)``, ``总投资/万元``, ``总投资亿元``), every other bracketed part
is dropped (``来源地(省/市)``), and what is left is looked up among the aliases below.
A money column whose unit is a foreign currency is never guessed: the user maps it
knowingly (and the validation refuses US dollars).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from crm.reports.ledger_values import AREA_UNITS, MONEY_UNITS, USD_UNITS

__all__ = [
    "FIELDS",
    "FIELDS_BY_KEY",
    "LedgerField",
    "area_factor",
    "guess_field",
    "guess_mapping",
    "header_signature",
    "header_unit",
    "money_factor",
    "normalise_header",
]

FieldKind = Literal[
    "text", "uscc", "chain", "money", "area", "int", "date", "bool", "top500", "stage"
]


@dataclass(frozen=True)
class LedgerField:
    """A field of a ledger row: key, labels for the mapping form, kind and header aliases."""

    key: str
    label: str
    label_en: str
    kind: FieldKind
    aliases: tuple[str, ...]
    required: bool = False
    max_length: int | None = None


def _f(
    key: str, label: str, label_en: str, kind: FieldKind, *aliases: str, **kw: object
) -> LedgerField:
    return LedgerField(key, label, label_en, kind, (label, *aliases), **kw)  # type: ignore[arg-type]


# fmt: off
#: Every importable field, in the order of the ledger columns seen in public systems.
FIELDS: tuple[LedgerField, ...] = (
    _f("external_id", "项目编号", "Project ID", "text", "编号", "id", "项目id", "项目代码",
       "projectid", "externalid", max_length=100),
    _f("project_name", "项目名称", "Project name", "text", "项目名", "项目", "project",
       "projectname", required=True, max_length=300),
    _f("company_name", "投资方名称", "Investor", "text", "投资方", "企业名称", "签约企业",
       "投资主体", "投资企业", "签约主体", "公司名称", "签约单位", "company", "companyname",
       "investor", required=True, max_length=300),
    _f("uscc", "统一社会信用代码", "Credit code (USCC)", "uscc", "信用代码", "社会信用代码",
       "uscc", "creditcode"),
    _f("company_type", "企业类型", "Company type", "text", "企业性质", "companytype",
       max_length=100),
    _f("source_place", "来源地", "Source place", "text", "投资方来源地", "客商来源地", "来源",
       "source", "sourceplace", "origin", max_length=100),
    _f("chain", "所属产业链", "Industrial chain", "chain", "产业链", "产业链名称", "所属链条",
       "chain", "industrychain"),
    _f("planned_investment", "投资总额", "Planned investment", "money", "总投资",
       "计划总投资", "计划投资", "项目总投资", "总投资额", "投资额", "合同投资额",
       "plannedinvestment", "totalinvestment", "investment"),
    _f("fixed_asset_investment", "固定资产投资", "Fixed-asset investment", "money",
       "固投", "固定资产投资额", "fixedassetinvestment"),
    _f("registered_capital", "注册资本", "Registered capital", "money", "注册资金",
       "registeredcapital"),
    _f("funds_in_place_month", "当月实际到位资金", "Funds in place this month", "money",
       "当月到位资金", "本月实际到位资金", "本月到位资金", "实际到位资金当月",
       "到位资金当月", "fundsinplacemonth"),
    _f("funds_in_place_total", "累计实际到位资金", "Funds in place, total", "money",
       "累计到位资金", "实际到位资金", "实际到位资金累计", "到位资金累计", "fundsinplacetotal"),
    _f("is_top500", "是否500强", "Top-500 investor", "top500", "500强", "是否三类500强",
       "三类500强", "top500", "istop500"),
    _f("is_hq", "是否总部", "Headquarters", "bool", "总部", "是否总部项目", "ishq",
       "headquarters"),
    _f("stage", "招商阶段", "Stage", "stage", "项目阶段", "状态", "项目状态", "进展阶段",
       "阶段", "推进阶段", "stage", "status"),
    _f("signed_on", "签约时间", "Signed on", "date", "签约日期", "signedon", "signingdate"),
    _f("landed_on", "落地时间", "Landed on", "date", "注册时间", "落地日期", "注册日期",
       "landedon"),
    _f("started_on", "开工时间", "Started on", "date", "开工日期", "startedon"),
    _f("operating_on", "投产时间", "Operating since", "date", "竣工投产时间", "投产日期",
       "竣工投产日期", "operatingon"),
    _f("event_name", "签约所属活动", "Signing event", "text", "签约活动", "所属活动",
       "event", "eventname", max_length=200),
    _f("land_mu", "用地", "Land (mu)", "area", "用地面积", "用地规模", "占地面积", "landmu"),
    _f("expected_output", "预计年产值", "Expected annual output", "money", "年产值",
       "达产后年产值", "预计年产值达产后", "expectedoutput"),
    _f("expected_tax", "预计年纳税", "Expected annual tax", "money", "年纳税", "预计年税收",
       "达产后年纳税", "expectedtax"),
    _f("jobs", "带动就业", "Jobs", "int", "带动就业人数", "就业人数", "jobs"),
    _f("contact", "项目方联系人", "Investor contact", "text", "联系人", "联系人及电话",
       "联系方式", "contact", max_length=200),
    _f("responsible_unit", "责任单位", "Responsible unit", "text", "牵头单位", "责任部门",
       "responsibleunit", max_length=200),
    _f("owner", "责任人", "Owner", "text", "负责人", "招商责任人", "项目责任人", "owner",
       max_length=100),
    _f("notes", "备注", "Notes", "text", "备注说明", "说明", "notes", "remarks", "remark",
       max_length=4000),
)
# fmt: on
FIELDS_BY_KEY: dict[str, LedgerField] = {f.key: f for f in FIELDS}

# Serial-number columns are never data ("序号" must not become the external id).
_IGNORED = frozenset({"序号", "序", "no", "no.", "#", "行号"})
_BRACKETS = str.maketrans({"【": "(", "】": ")", "〔": "(", "〕": ")", "[": "(", "]": ")"})
_BRACKETED = re.compile(r"\(([^()]*)\)")
_UNITS = sorted({*MONEY_UNITS, *AREA_UNITS, *USD_UNITS}, key=len, reverse=True)


def normalise_header(text: object) -> str:
    """Header text reduced for matching: half-width, lower case, no whitespace, ``_`` or ``*``."""
    if text is None:
        return ""
    folded = unicodedata.normalize("NFKC", str(text)).translate(_BRACKETS).lower()
    return "".join(folded.split()).replace("_", "").strip("*:：")


def _split(text: object) -> tuple[str, str | None]:
    """(name without brackets or unit, unit or None) of a header."""
    header = normalise_header(text)
    unit = None
    for inside in _BRACKETED.findall(header):
        part = inside.replace("单位:", "").replace("单位", "")
        if part in _UNITS:
            unit = part
    base = _BRACKETED.sub("", header).rstrip("/")
    if not base:  # the whole header is bracketed: 【备注】
        base = next((g for g in _BRACKETED.findall(header) if g not in _UNITS), "")
    if unit is None:
        for candidate in _UNITS:
            if base.endswith(candidate) and len(base) > len(candidate) + 1:
                unit, base = candidate, base[: -len(candidate)].rstrip("/")
                break
    return base, unit


_ALIASES: dict[str, str] = {}
for _field in FIELDS:
    for _alias in _field.aliases:
        _ALIASES.setdefault(_split(_alias)[0], _field.key)


def header_unit(header: object) -> str | None:
    """The unit a header states (``亿元``, ``万元``, ``亩``, ``万美元`` ...), if any."""
    return _split(header)[1]


def money_factor(header: object) -> Decimal:
    """Value in 万元 of one unit of a money column (10000 for 亿元, 1 when unstated)."""
    unit = header_unit(header)
    return MONEY_UNITS.get(unit or "", Decimal(1))


def area_factor(header: object) -> Decimal:
    """Value in 亩 of one unit of an area column (1 when unstated)."""
    unit = header_unit(header)
    return AREA_UNITS.get(unit or "", Decimal(1))


def guess_field(header: object) -> str | None:
    """The field key a header most likely means, or ``None`` when it is not recognised."""
    base, unit = _split(header)
    if not base or base in _IGNORED:
        return None
    key = _ALIASES.get(base)
    if key is None:
        return None
    if unit in USD_UNITS and FIELDS_BY_KEY[key].kind == "money":
        return None  # foreign currency: never converted silently
    return key


def guess_mapping(headers: Sequence[object]) -> dict[int, str | None]:
    """Column index -> field key for every column; a field goes to its first column only."""
    mapping: dict[int, str | None] = {}
    taken: set[str] = set()
    for index, header in enumerate(headers):
        key = guess_field(header)
        if key in taken:
            key = None
        if key is not None:
            taken.add(key)
        mapping[index] = key
    return mapping


def header_signature(headers: Sequence[object]) -> str:
    """A stable hash of a header row, to remember a user's mapping for the same layout.

    Headers are normalised first (spacing, full-width forms and case do not matter) and
    trailing empty columns are ignored; order matters. SHA-256, hex.
    """
    names = [normalise_header(h) for h in headers]
    while names and not names[-1]:
        names.pop()
    return hashlib.sha256("\x1f".join(names).encode()).hexdigest()

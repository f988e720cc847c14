"""The catalogue of project facts that incentive conditions may refer to.

Every fact a policy file names must be listed here; the loader refuses files that use any
other key. Money facts are in 万元 (10,000 yuan) unless the type says US dollars.
`validate_facts` turns user or API input into the normalised form the engine expects.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum


class FactType(StrEnum):
    """How a fact's value is typed, compared and entered."""

    MONEY_WAN = "money_wan"  # amount in 万元, never negative
    USD = "usd"  # amount in US dollars, never negative
    NUMBER = "number"  # plain number, never negative
    BOOL = "bool"
    ENUM = "enum"  # one value of `choices`
    ENUM_LIST = "enum_list"  # a set of values of `choices`
    CHAIN_CODE = "chain_code"  # an industrial chain code (versioned reference data)


NUMERIC_TYPES = frozenset({FactType.MONEY_WAN, FactType.USD, FactType.NUMBER})
# No project comes near 10^12 (万元 or US dollars); larger values are typing mistakes, and
# refusing them keeps every computed amount within exact decimal arithmetic and NUMERIC(16,2).
MAX_NUMBER = Decimal(10) ** 12


@dataclass(frozen=True, slots=True)
class Choice:
    """One allowed value of an enum or enum-list fact."""

    code: str
    label_zh: str
    label_en: str


@dataclass(frozen=True, slots=True)
class FactDef:
    """A fact key with its type, labels and, for enums, the allowed values."""

    key: str
    type: FactType
    label_zh: str
    label_en: str
    description: str
    choices: tuple[Choice, ...] = ()
    in_issue: bool = True  # False for keys added for a seed measure

    @property
    def allowed(self) -> frozenset[str]:
        """The allowed codes of an enum or enum-list fact (empty for other types)."""
        return frozenset(choice.code for choice in self.choices)

    @property
    def unit(self) -> str | None:
        """The unit of a money fact, for labels and explanations."""
        return {FactType.MONEY_WAN: "万元", FactType.USD: "USD"}.get(self.type)


INDUSTRY_TAGS: tuple[Choice, ...] = (
    Choice("future_manufacturing", "未来制造", "future manufacturing"),
    Choice("future_energy", "未来能源", "future energy"),
    Choice("future_information", "未来信息", "future information"),
    Choice("future_biology", "未来生物", "future biology"),
    Choice("future_materials", "未来材料", "future materials"),
    Choice("artificial_intelligence", "人工智能", "artificial intelligence"),
    Choice("new_energy_equipment", "新能源装备", "new energy equipment"),
    Choice("low_altitude", "低空经济/低空制造", "low-altitude economy and manufacturing"),
    Choice("biomanufacturing", "生物制造", "biomanufacturing"),
    Choice("smart_internet", "智慧互联网", "smart internet"),
    Choice("aviation_transport_services", "航空及交通运输服务", "aviation and transport services"),
    Choice("fashion_consumption", "时尚消费", "fashion consumption"),
    Choice("business_financial_services", "商务金融服务", "business and financial services"),
    Choice("life_health", "生命健康", "life and health"),
    Choice("legal_services", "法律服务", "legal services"),
    Choice("financial_services", "金融服务", "financial services"),
    Choice("advertising_hr_services", "广告、人力资源等服务", "advertising, HR and other services"),
    Choice("green_low_carbon", "绿色低碳", "green and low-carbon"),
    Choice("advanced_manufacturing", "先进制造业", "advanced manufacturing"),
    Choice("modern_services", "现代服务业", "modern services"),
    # Added for seed 001, whose fashion-consumption area has two sub-measures of its own.
    Choice("modern_trade", "现代商贸", "modern trade and commerce"),
    Choice("fashion_brands", "创意时尚品牌", "creative fashion brands"),
)

TITLES: tuple[Choice, ...] = (
    Choice(
        "national_single_champion", "国家级制造业单项冠军", "national manufacturing single champion"
    ),
    Choice("little_giant", "国家级专精特新“小巨人”", "national specialised 'little giant'"),
    Choice("high_tech_enterprise", "高新技术企业", "high-tech enterprise"),
    Choice("green_factory", "国家级绿色工厂/绿色制造企业", "national green factory"),
    Choice("tech_sme", "科技型中小企业", "technology-based SME"),
    Choice(
        "remanufacturing_or_recycling",
        "再制造/资源循环利用项目",
        "remanufacturing or resource recycling",
    ),
)

HEADQUARTERS_TYPES: tuple[Choice, ...] = (
    Choice("none", "非总部", "not a headquarters"),
    Choice("multinational_regional", "跨国公司地区总部", "regional HQ of a multinational"),
    Choice("trade", "贸易型总部", "trade headquarters"),
    Choice("innovative", "创新型企业总部", "innovative enterprise headquarters"),
    Choice("private", "民营企业总部", "private enterprise headquarters"),
)


def _fact(
    key: str,
    type_: FactType,
    label_zh: str,
    label_en: str,
    description: str,
    choices: tuple[Choice, ...] = (),
    *,
    in_issue: bool = True,
) -> FactDef:
    return FactDef(key, type_, label_zh, label_en, description, choices, in_issue)


_M, _B = FactType.MONEY_WAN, FactType.BOOL

FACTS: Mapping[str, FactDef] = {
    fact.key: fact
    for fact in (
        _fact("chain", FactType.CHAIN_CODE, "所属产业链", "industrial chain", "chain code"),
        _fact(
            "industry_tags",
            FactType.ENUM_LIST,
            "产业领域标签",
            "industry tags",
            "fields the project belongs to",
            INDUSTRY_TAGS,
        ),
        _fact("planned_investment", _M, "计划投资总额", "planned investment", "total, 万元"),
        _fact("rd_expense", _M, "年度研发投入", "R&D expense", "this year, 万元"),
        _fact("rd_expense_prev", _M, "上年研发投入", "R&D expense last year", "万元"),
        _fact(
            "annual_new_equipment_investment",
            _M,
            "年度新增设备投资",
            "annual new equipment investment",
            "万元 a year",
        ),
        _fact("sales_revenue", _M, "年度销售收入", "sales revenue", "this year, 万元"),
        _fact("sales_revenue_prev", _M, "上年销售收入", "sales revenue last year", "万元"),
        _fact(
            "future_industry_recognised",
            _B,
            "经评定的未来产业企业产品",
            "recognised future-industry product",
            "products recognised through the zone's future-industry evaluation",
        ),
        _fact("titles", FactType.ENUM_LIST, "荣誉资质", "titles held", "recognised titles", TITLES),
        _fact("export_value", _M, "年出口额", "annual export value", "this year, 万元"),
        _fact(
            "foreign_capital_used_usd",
            FactType.USD,
            "实际使用外资",
            "foreign capital actually used",
            "US dollars",
        ),
        _fact(
            "headquarters_type",
            FactType.ENUM,
            "总部类型",
            "headquarters type",
            "kind of headquarters the project establishes",
            HEADQUARTERS_TYPES,
        ),
        _fact("good_credit", _B, "信用记录良好", "good credit record", "no bad credit record"),
        _fact(
            "registered_in_zone",
            _B,
            "在本区域注册",
            "registered in the zone",
            "registered (or will register) in the zone being evaluated",
        ),
        _fact(
            "is_financial_institution",
            _B,
            "持牌金融机构",
            "licensed financial institution",
            "a licensed financial institution",
        ),
        _fact(
            "talent_program",
            _B,
            "入选人才计划",
            "talent programme",
            "talent, team or project introduced or certified under a talent programme",
        ),
        # Keys added for seed measures (documented in docs/incentives.md).
        _fact(
            "major_achievement_transformation",
            _B,
            "重大科技成果转化项目",
            "major achievement-transformation project",
            "recognised as a major S&T achievement transformation project",
            in_issue=False,
        ),
        _fact(
            "university_achievement_transfer",
            _B,
            "转化高校院所科研成果",
            "implements university research",
            "implements S&T achievements of universities or institutes",
            in_issue=False,
        ),
        _fact(
            "builds_innovation_platform",
            _B,
            "建设创新平台",
            "builds an innovation platform",
            "builds an R&D platform, key laboratory, innovation centre or new R&D institution",
            in_issue=False,
        ),
        _fact(
            "new_titles",
            FactType.ENUM_LIST,
            "新认定荣誉资质",
            "newly recognised titles",
            "titles first recognised in the current year",
            TITLES,
            in_issue=False,
        ),
        _fact(
            "per_area_efficiency_outstanding",
            _B,
            "亩均效益评价优秀",
            "outstanding per-area efficiency",
            "rated outstanding in the per-unit-area efficiency (亩均效益) evaluation",
            in_issue=False,
        ),
        _fact(
            "production_foreign_trade",
            _B,
            "生产型外贸企业",
            "production-oriented foreign trade enterprise",
            "a production-oriented foreign trade enterprise",
            in_issue=False,
        ),
        _fact(
            "export_value_prev",
            _M,
            "上年出口额",
            "export value last year",
            "万元",
            in_issue=False,
        ),
        _fact(
            "newly_introduced",
            _B,
            "新引进项目",
            "newly introduced project",
            "introduced to the zone while the policy is in force",
            in_issue=False,
        ),
        _fact(
            "overseas_investment",
            _B,
            "开展境外投资",
            "invests overseas",
            "the enterprise makes overseas investments",
            in_issue=False,
        ),
        _fact(
            "is_investment_fund",
            _B,
            "投资基金",
            "investment fund",
            "a sci-tech, industrial or venture investment fund",
            in_issue=False,
        ),
        _fact(
            "industry_leader",
            _B,
            "行业龙头",
            "industry leader",
            "an industry leader, or a project that cultivates one",
            in_issue=False,
        ),
        _fact(
            "is_sme", _B, "中小企业", "SME", "a small or medium-sized enterprise", in_issue=False
        ),
        _fact(
            "is_small_micro",
            _B,
            "小型微利企业",
            "small or micro enterprise",
            "qualifies as a small or micro enterprise for tax purposes",
            in_issue=False,
        ),
        _fact(
            "is_startup",
            _B,
            "科技初创企业",
            "sci-tech start-up",
            "a sci-tech start-up or entrepreneurial team",
            in_issue=False,
        ),
        _fact(
            "quality_ip_project",
            _B,
            "质量品牌/知识产权项目",
            "quality or IP project",
            "a quality-management, standards or intellectual-property project",
            in_issue=False,
        ),
        _fact(
            "employs_foreign_talent",
            _B,
            "聘用外籍人才",
            "employs foreign talent",
            "employs or invites foreign high-level talent or graduates",
            in_issue=False,
        ),
        _fact(
            "owns_ip",
            _B,
            "拥有知识产权",
            "owns intellectual property",
            "holds patents or other IP usable for pledge financing",
            in_issue=False,
        ),
        _fact(
            "first_set_major_equipment",
            _B,
            "首台(套)重大技术装备",
            "first-set major equipment",
            "makes first (set) major technical equipment",
            in_issue=False,
        ),
    )
}

_CHAIN_CODE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_TRUE_STRINGS = {"true": True, "false": False}


def _to_decimal(value: object) -> Decimal | None:
    """A finite Decimal for numbers and numeric strings, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            return None
        result = Decimal(repr(value))
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip().replace(",", ""))
        except InvalidOperation:
            return None
    else:
        return None
    return result if result.is_finite() else None


def _normalise(fact: FactDef, value: object, chain_codes: Collection[str] | None) -> object:
    """The normalised value, or raise ValueError with a message for the user."""
    if fact.type in NUMERIC_TYPES:
        number = _to_decimal(value)
        if number is None:
            raise ValueError("must be a number")
        if number < 0:
            raise ValueError("must not be negative")
        if number >= MAX_NUMBER:
            raise ValueError("is too large")
        return number + 0  # drops a negative zero's sign
    if fact.type is FactType.BOOL:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE_STRINGS:
            return _TRUE_STRINGS[value.strip().lower()]
        raise ValueError("must be true or false")
    if fact.type is FactType.ENUM:
        if not isinstance(value, str) or value not in fact.allowed:
            raise ValueError(f"must be one of: {', '.join(c.code for c in fact.choices)}")
        return value
    if fact.type is FactType.ENUM_LIST:
        if isinstance(value, str) or not isinstance(value, Collection):
            raise ValueError("must be a list")
        unknown = [item for item in value if not isinstance(item, str) or item not in fact.allowed]
        if unknown:
            shown = ", ".join(repr(item) for item in unknown)
            raise ValueError(
                f"unknown value(s) {shown}; allowed: {', '.join(sorted(fact.allowed))}"
            )
        return frozenset(value)
    # chain code
    if not isinstance(value, str) or not _CHAIN_CODE.match(value):
        raise ValueError("must be a chain code such as 'construction-machinery'")
    if chain_codes is not None and value not in chain_codes:
        raise ValueError(f"unknown chain code {value!r}")
    return value


def validate_facts(
    raw: Mapping[str, object], *, chain_codes: Collection[str] | None = None
) -> tuple[dict[str, object], dict[str, str]]:
    """Check and normalise project facts.

    Returns `(facts, errors)`. `facts` holds every valid entry: money and numbers as
    `Decimal`, booleans as `bool`, enum lists as `frozenset`. Entries whose value is None or
    an empty string are treated as missing and left out (missing facts are allowed; the
    engine reports them as needed). `errors` maps each offending key to a message: an
    unknown key, a wrong type, a negative, non-finite or too large (10^12 or more) amount,
    a value outside an enum, or a chain code outside `chain_codes` when that collection is
    given.
    """
    facts: dict[str, object] = {}
    errors: dict[str, str] = {}
    for key, value in raw.items():
        fact = FACTS.get(key)
        if fact is None:
            errors[str(key)] = "unknown fact"
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        try:
            facts[key] = _normalise(fact, value, chain_codes)
        except ValueError as error:
            errors[key] = str(error)
    return facts, errors


def facts_to_json(facts: Mapping[str, object]) -> dict[str, object]:
    """Normalised facts as JSON-ready values: Decimals as strings, sets as sorted lists."""
    out: dict[str, object] = {}
    for key, value in facts.items():
        if isinstance(value, Decimal):
            out[key] = format(value, "f")
        elif isinstance(value, frozenset | set):
            out[key] = sorted(value)
        else:
            out[key] = value
    return out

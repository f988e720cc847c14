"""Parse what people type into a project ledger's cells: amounts, dates, yes/no, stages.

Every parser takes a raw cell value (whatever openpyxl or the CSV reader gave: ``str``,
``int``, ``float``, ``datetime``, ``bool`` or ``None``) and returns ``(value, error)``:
exactly one of them is set, or both are ``None`` for an empty cell. Parsers never raise
on bad input; the error is an English sentence for the user (the validation report adds
a machine-readable code so the app can translate it).

Amounts are returned in 万元 (how the app stores money) as ``Decimal`` rounded to 4
places (one yuan). Empty-looking placeholders (``-``, ``/``, ``无``, ``暂无``, ``待定`` ...)
count as empty for typed fields.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TypeAlias, TypeVar

from crm.enums import Stage

__all__ = [
    "ACCEPTED_DATE_FORMATS",
    "AREA_UNITS",
    "MONEY_UNITS",
    "USD_UNITS",
    "is_blank",
    "normalise_text",
    "parse_area",
    "parse_bool",
    "parse_date",
    "parse_int",
    "parse_money",
    "parse_money_detail",
    "parse_stage",
    "parse_text",
    "parse_top500",
]

#: Amount units and their value in 万元. Longest first, so "亿元" wins over "元".
MONEY_UNITS: dict[str, Decimal] = {
    "千万元": Decimal(1000),
    "百万元": Decimal(100),
    "亿元": Decimal(10000),
    "万元": Decimal(1),
    "千元": Decimal("0.1"),
    "千万": Decimal(1000),
    "百万": Decimal(100),
    "亿": Decimal(10000),
    "万": Decimal(1),
    "元": Decimal("0.0001"),
}
#: Units that mean a foreign currency: never converted silently.
USD_UNITS = ("万美元", "美元", "usd", "us$", "$")
#: Land-area units and their value in 亩 (1 亩 = 10000/15 m², 1 公顷 = 15 亩).
AREA_UNITS: dict[str, Decimal] = {
    "平方米": Decimal("0.0015"),
    "公顷": Decimal(15),
    "亩": Decimal(1),
    "m2": Decimal("0.0015"),
}

ACCEPTED_DATE_FORMATS = "2022-01-20, 2022/1/20, 2022.1.20, 2022年1月20日, 20220120 or an Excel date"
_ACCEPTED_MONEY = "a number such as 1234.5, 1,234.5, 1234.5万元, 12亿 or 12.5亿元"

_BLANKS = frozenset(
    {"", "-", "--", "—", "——", "―", "/", "\\", "无", "暂无", "待定", "n/a", "na", "none", "null"}
)
_TRUE = frozenset({"是", "y", "yes", "true", "t", "1", "√", "✓", "✔", "对", "有"})
_FALSE = frozenset({"否", "n", "no", "false", "f", "0", "×", "✗", "✘", "x", "不是", "无", "非"})
_QUANT = Decimal("0.0001")
_MAX_AMOUNT = Decimal(10) ** 12  # 万元: far beyond any project, keeps Decimal math bounded
_NUMBER = r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:e[+-]?[0-9]{1,3})?"
_MONEY_RE = re.compile(rf"({_NUMBER})({'|'.join(MONEY_UNITS)})?")
_AREA_RE = re.compile(rf"({_NUMBER})({'|'.join(AREA_UNITS)})?")
_INT_RE = re.compile(rf"({_NUMBER})(人|个|名)?")
_CURRENCY_MARKS = re.compile(r"人民币|rmb|cny|¥")
_DATE_SEPARATED = re.compile(
    r"([0-9]{4})([-/.])([0-9]{1,2})\2([0-9]{1,2})"
    r"(?:[ t][0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?)?"
)
_DATE_CHINESE = re.compile(r"([0-9]{4})年([0-9]{1,2})月([0-9]{1,2})[日号]?")
_DATE_COMPACT = re.compile(r"([0-9]{4})([0-9]{2})([0-9]{2})")
_DATE_SPACES = re.compile(r"\s*([年月日号/.-])\s*")
_SERIAL = re.compile(r"[0-9]{5}(?:\.0+)?")
_FIRST_DAY, _LAST_DAY = date(1950, 1, 1), date(2100, 12, 31)
_EXCEL_EPOCH = date(1899, 12, 30)  # serial 60 (1900-02-29) never occurs in our range

_STAGE_NAMES: dict[str, Stage] = {
    **dict.fromkeys(["线索", "意向"], Stage.LEAD),
    **dict.fromkeys(["洽谈", "在谈", "对接", "走访", "谈判"], Stage.NEGOTIATING),
    **dict.fromkeys(["签约", "已签约", "签订"], Stage.SIGNED),
    **dict.fromkeys(["落地", "已落地", "注册", "已注册"], Stage.LANDED),
    **dict.fromkeys(["开工", "已开工", "在建", "建设"], Stage.STARTED),
    **dict.fromkeys(
        ["投产", "已投产", "竣工投产", "竣工", "运营", "已运营", "投运"], Stage.OPERATING
    ),
    **dict.fromkeys(["暂缓", "搁置", "暂停"], Stage.ON_HOLD),
    **dict.fromkeys(["终止", "已终止", "放弃", "撤销"], Stage.DROPPED),
    **{stage.value: stage for stage in Stage},
    "on_hold": Stage.ON_HOLD,
    "hold": Stage.ON_HOLD,
    "negotiation": Stage.NEGOTIATING,
    "operation": Stage.OPERATING,
    "drop": Stage.DROPPED,
}
_STAGE_SUFFIXES = ("阶段", "项目", "中", "期")
_ACCEPTED_STAGES = (
    "线索, 洽谈/在谈, 签约, 落地/注册, 开工/在建, 投产/竣工投产/运营, 暂缓, 终止 "
    + ("(or " + ", ".join(s.value for s in Stage) + ")")
)

T = TypeVar("T")
#: ``(value, None)``, ``(None, error message)`` or ``(None, None)`` for an empty cell.
Parsed: TypeAlias = tuple[T | None, str | None]


def normalise_text(value: str) -> str:
    """NFKC (full-width to half-width), lower case, and no whitespace at all."""
    return "".join(unicodedata.normalize("NFKC", value).lower().split())


def is_blank(value: object) -> bool:
    """True for ``None``, blank strings and placeholders such as ``-``, ``/`` or ``无``."""
    if value is None:
        return True
    return isinstance(value, str) and normalise_text(value) in _BLANKS


def _show(value: object) -> str:
    text = value if isinstance(value, str) else str(value)
    return repr(text if len(text) <= 40 else text[:40] + "…")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _to_decimal(value: int | float | Decimal) -> Decimal | None:
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else None
    number = Decimal(value)
    return number if number.is_finite() else None


def _quantity(
    value: object, units: dict[str, Decimal], factor: Decimal, pattern: re.Pattern[str], what: str
) -> tuple[Decimal | None, str | None, bool]:
    """(amount in the base unit, error, whether the cell itself named a unit)."""
    if _is_number(value):
        number = _to_decimal(value)  # type: ignore[arg-type]
        if number is None:
            return None, f"{_show(value)} is not {what}", False
        explicit = False
    elif isinstance(value, str):
        text = _CURRENCY_MARKS.sub("", normalise_text(value)).replace(",", "")
        if text in _BLANKS:
            return None, None, False
        if any(mark in text for mark in USD_UNITS):
            return None, f"{_show(value)} is in US dollars: convert it to 万元 first", False
        match = pattern.fullmatch(text)
        if match is None:
            return None, f"{_show(value)} is not {what}", False
        number = Decimal(match.group(1))
        unit = match.group(2)
        explicit = unit in units
        if explicit:
            factor = units[unit]
    elif value is None:
        return None, None, False
    else:
        return None, f"{_show(value)} is not {what}", False
    if number < 0:
        return None, f"{_show(value)} is negative", explicit
    result = number * factor
    if result > _MAX_AMOUNT:
        return None, f"{_show(value)} is far too large", explicit
    return result, None, explicit


def parse_money_detail(
    value: object, column_factor: Decimal = Decimal(1)
) -> tuple[Decimal | None, str | None, bool]:
    """Like :func:`parse_money`, also saying whether the cell stated its own unit.

    ``column_factor`` is the value in 万元 of one unit of the column (10000 for a column
    headed 亿元); a unit written in the cell ("12亿") overrides it.
    """
    amount, error, explicit = _quantity(
        value, MONEY_UNITS, column_factor, _MONEY_RE, f"an amount ({_ACCEPTED_MONEY})"
    )
    if amount is not None:
        amount = amount.quantize(_QUANT, rounding=ROUND_HALF_UP)
    return amount, error, explicit


def parse_money(value: object, column_factor: Decimal = Decimal(1)) -> Parsed[Decimal]:
    """An amount in 万元: numbers, "1,234.5", "1234.5万元", "12亿", "12.5亿元", "1.2e4".

    Returns ``(Decimal rounded to 0.0001 万元, None)``, ``(None, message)`` for text that
    is not an amount, a negative amount or US dollars, and ``(None, None)`` when empty.
    Bare numbers are in the column's unit (``column_factor`` 万元 each). Never raises.
    """
    amount, error, _ = parse_money_detail(value, column_factor)
    return amount, error


def parse_area(value: object, column_factor: Decimal = Decimal(1)) -> Parsed[Decimal]:
    """Land area in 亩 (``Decimal``, 2 places): "50", "50亩", "2公顷", "3000平方米"."""
    area, error, _ = _quantity(value, AREA_UNITS, column_factor, _AREA_RE, "an area in 亩")
    if area is not None:
        area = area.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return area, error


def parse_int(value: object) -> Parsed[int]:
    """A whole non-negative number: 120, 120.0, "1,200", "1200人"."""
    number, error, _ = _quantity(value, {}, Decimal(1), _INT_RE, "a whole number")
    if number is None:
        return None, error
    if number != number.to_integral_value():
        return None, f"{_show(value)} is not a whole number"
    return int(number), None


def _checked_date(year: int, month: int, day: int, value: object) -> Parsed[date]:
    try:
        result = date(year, month, day)
    except ValueError as exc:
        return None, f"{_show(value)} is not a valid date: {exc}"
    if not _FIRST_DAY <= result <= _LAST_DAY:
        return None, f"{_show(value)} is outside {_FIRST_DAY.year}-{_LAST_DAY.year}"
    return result, None


def _from_serial(serial: float, value: object) -> Parsed[date]:
    first = (_FIRST_DAY - _EXCEL_EPOCH).days
    last = (_LAST_DAY - _EXCEL_EPOCH).days
    if not first <= serial <= last:
        return None, f"{_show(value)} is not a date (accepted: {ACCEPTED_DATE_FORMATS})"
    return _EXCEL_EPOCH + timedelta(days=int(serial)), None


def parse_date(value: object) -> Parsed[date]:
    """A calendar date from an Excel date, an Excel serial number or text.

    Text may be 2022-01-20, 2022/1/20, 2022.1.20 (a time after it is ignored),
    2022年1月20日 or 20220120. Impossible dates (2022-13-01) and dates outside
    1950-2100 are refused with a message naming the accepted formats.
    """
    if isinstance(value, datetime):
        return _checked_date(value.year, value.month, value.day, value)
    if isinstance(value, date):
        return _checked_date(value.year, value.month, value.day, value)
    if _is_number(value):
        exact = _to_decimal(value)  # type: ignore[arg-type]
        if exact is None:
            return None, f"{_show(value)} is not a date (accepted: {ACCEPTED_DATE_FORMATS})"
        number = float(exact)
        if number.is_integer() and 19000101 <= number <= 21001231:
            digits = str(int(number))
            return _checked_date(int(digits[:4]), int(digits[4:6]), int(digits[6:]), value)
        return _from_serial(number, value)
    if not isinstance(value, str):
        return (None, None) if value is None else (None, f"{_show(value)} is not a date")
    text = _DATE_SPACES.sub(r"\1", unicodedata.normalize("NFKC", value).strip().lower())
    if text in _BLANKS:
        return None, None
    for pattern in (_DATE_SEPARATED, _DATE_CHINESE, _DATE_COMPACT):
        match = pattern.fullmatch(text)
        if match:
            groups = [g for g in match.groups() if g and g not in "-/."]
            return _checked_date(int(groups[0]), int(groups[1]), int(groups[2]), value)
    if _SERIAL.fullmatch(text):
        return _from_serial(float(text), value)
    return (
        None,
        f"{_show(value)} is not a date in a known format (accepted: {ACCEPTED_DATE_FORMATS})",
    )


def parse_bool(value: object) -> Parsed[bool]:
    """Yes or no: 是/否, Y/N, yes/no, true/false, 1/0, √/×; Excel booleans too."""
    if isinstance(value, bool):
        return value, None
    if _is_number(value) and _to_decimal(value) in (0, 1):  # type: ignore[arg-type]
        return bool(value), None
    if isinstance(value, str):
        text = normalise_text(value)
        if text in _TRUE:
            return True, None
        if text in _FALSE:
            return False, None
        if text in _BLANKS:
            return None, None
    if value is None:
        return None, None
    return None, f"{_show(value)} is not yes or no (accepted: 是/否, Y/N, yes/no, 1/0, √/×)"


def parse_top500(value: object) -> Parsed[bool]:
    """Whether the investor is a Top-500 company: yes/no, or the list's name (世界500强)."""
    flag, error = parse_bool(value)
    if error is None or not isinstance(value, str):
        return flag, error
    text = normalise_text(value)
    if "500强" in text:
        return not text.startswith(("非", "不是", "否")), None
    return None, error


def parse_stage(value: object) -> Parsed[Stage]:
    """A pipeline stage from its Chinese name (签约, 在建, 竣工投产 ...) or English key."""
    if value is None:
        return None, None
    text = "_".join(re.split(r"[-\s]+", unicodedata.normalize("NFKC", str(value)).strip().lower()))
    if text in _BLANKS:
        return None, None
    stage = _STAGE_NAMES.get(text)
    for suffix in _STAGE_SUFFIXES:
        if stage is None and text.endswith(suffix) and len(text) > len(suffix):
            stage = _STAGE_NAMES.get(text[: -len(suffix)])
    if stage is None:
        return None, f"{_show(value)} is not a known stage (accepted: {_ACCEPTED_STAGES})"
    return stage, None


def parse_text(value: object, max_length: int | None = None) -> Parsed[str]:
    """Text as the user wrote it, trimmed; numbers and dates from Excel become text.

    Whole numbers lose Excel's ".0" (a phone number or an ID typed as a number), dates
    become ISO dates. Longer than ``max_length`` characters is an error.
    """
    if value is None:
        return None, None
    if isinstance(value, float) and value.is_integer():
        text = str(int(value))
    elif isinstance(value, datetime):
        text = value.date().isoformat() if value.time() == datetime.min.time() else str(value)
    elif isinstance(value, date):
        text = value.isoformat()
    else:
        text = str(value)
    text = " ".join(text.split()) if "\n" not in text else text.strip()
    if not text:
        return None, None
    if max_length is not None and len(text) > max_length:
        return None, f"is {len(text)} characters long; at most {max_length} are allowed"
    return text, None

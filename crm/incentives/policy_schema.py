"""The schema of a policy file: checks a located YAML document and compiles a `Policy`.

Used by `crm.incentives.policies`; every problem is recorded as a `PolicyIssue` with its
position, and nothing is built when there is any.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from crm.incentives.expressions import RuleSyntaxError, parse_expression
from crm.incentives.model import Benefit, BenefitKind, Frequency, Measure, Policy, PolicyLevel
from crm.incentives.rules import Always, Condition, RuleError, compile_condition
from crm.incentives.yamlsource import Located, Path, parse_date

MONEY_UNIT = "万元"
CENT = Decimal("0.01")
NO_CAP = "none_stated"
_ID = re.compile(r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$")
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")

_POLICY_KEYS = {
    "id": True,
    "version": True,
    "title": True,
    "issuer": True,
    "level": True,
    "covers": True,
    "effective_from": True,
    "effective_to": True,
    "source": True,
    "measures": True,
    "dates_confirmed": False,
    "areas": False,
    "eligibility": False,
}
_MEASURE_KEYS = {
    "id": True,
    "area": True,
    "summary_zh": True,
    "summary_en": True,
    "benefit": True,
    "conditions": False,
    "note": False,
}
_BENEFIT_KEYS: dict[BenefitKind, dict[str, bool]] = {
    BenefitKind.RATE: {
        "rate": True,
        "base": True,
        "frequency": True,
        "cap": False,
        "rate_up_to": False,
    },
    BenefitKind.FIXED: {"amount": True, "frequency": True},
    BenefitKind.BY_ASSESSMENT: {"cap": True, "frequency": False},
    BenefitKind.QUALITATIVE: {},
}


def format_path(path: Path) -> str:
    """A document path as text: `("measures", 3, "benefit")` -> `measures[3].benefit`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@dataclass(frozen=True, slots=True)
class PolicyIssue:
    """One problem in a policy file, with where it is."""

    source: str
    message: str
    path: str = ""
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        where = self.source
        if self.line is not None:
            where += f":{self.line}:{self.column}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class PolicyLoadError(ValueError):
    """A policy file (or several) refused; `issues` lists every problem found."""

    def __init__(self, issues: Collection[PolicyIssue]) -> None:
        self.issues = tuple(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


class PolicyValidator:
    """Checks one located document; `policy()` returns the Policy or None with `issues`."""

    def __init__(
        self,
        located: Located,
        source: str,
        zone_codes: Collection[str],
        zone_levels: Collection[str],
    ) -> None:
        self.located = located
        self.source = source
        self.zones = set(zone_codes) | set(zone_levels)
        self.issues: list[PolicyIssue] = []

    # -- reporting -------------------------------------------------------------------------
    def error(
        self, path: Path, message: str, *, at_key: bool = False, offset: int | None = None
    ) -> None:
        position = self.located.position(path, at_key=at_key)
        line = column = None
        if position is not None:
            line, column = position.line, position.column
            if offset is not None and position.style in (None, "'", '"'):
                column += offset + (1 if position.style else 0)
        self.issues.append(PolicyIssue(self.source, message, format_path(path), line, column))

    def check_keys(self, data: Mapping[str, object], path: Path, spec: Mapping[str, bool]) -> None:
        for key in data:
            if key not in spec:
                self.error((*path, key), f"unknown key {key!r}", at_key=True)
        for key, required in spec.items():
            if required and key not in data:
                self.error(path, f"missing {key!r}")

    # -- typed readers (return None after reporting a problem) ----------------------------
    def mapping(self, value: object, path: Path, what: str) -> Mapping[str, object] | None:
        if isinstance(value, Mapping):
            return value
        self.error(path, f"{what} must be a mapping")
        return None

    def text(self, value: object, path: Path) -> str | None:
        if isinstance(value, str) and value.strip():
            return value.strip()
        self.error(path, "must be non-empty text")
        return None

    def identifier(self, value: object, path: Path) -> str | None:
        if isinstance(value, str) and _ID.match(value):
            return value
        self.error(path, "must be an id of lower-case letters, digits, '-' or '_'")
        return None

    def bilingual(self, value: object, path: Path) -> tuple[str, str] | None:
        data = self.mapping(value, path, "must have zh and en; it")
        if data is None:
            return None
        self.check_keys(data, path, {"zh": True, "en": True})
        zh = self.text(data.get("zh"), (*path, "zh")) if "zh" in data else None
        en = self.text(data.get("en"), (*path, "en")) if "en" in data else None
        return (zh, en) if zh and en else None

    def date(self, value: object, path: Path) -> date | None:
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return parse_date(value)
            except ValueError as error:
                self.error(path, str(error))
                return None
        self.error(path, "malformed date: write YYYY-MM-DD")
        return None

    def money(self, value: object, path: Path, what: str) -> Decimal | None:
        if isinstance(value, int | Decimal) and not isinstance(value, bool):
            self.error(
                path, f"{what} without a unit: write {{amount: {value}, unit: {MONEY_UNIT}}}"
            )
            return None
        data = self.mapping(value, path, f"{what} ({{amount: N, unit: {MONEY_UNIT}}})")
        if data is None:
            return None
        for key in data:
            if key not in ("amount", "unit"):
                self.error((*path, key), f"unknown key {key!r}", at_key=True)
        if "unit" not in data:
            self.error(path, f"{what} without a unit: add unit: {MONEY_UNIT}")
            return None
        if data["unit"] != MONEY_UNIT:
            self.error((*path, "unit"), f"unit must be {MONEY_UNIT}, not {data['unit']!r}")
            return None
        amount = data.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int | Decimal) or amount <= 0:
            self.error((*path, "amount"), "amount must be a positive number")
            return None
        money = Decimal(amount)
        if money != money.quantize(CENT):
            self.error((*path, "amount"), f"amount has more than 2 decimals (0.01 {MONEY_UNIT})")
            return None
        return money.quantize(CENT)

    def condition(self, value: object, path: Path) -> Condition | None:
        try:
            return compile_condition(value, path)
        except RuleError as error:
            self.error(error.path, error.message, offset=error.offset)
            return None

    # -- the document ----------------------------------------------------------------------
    def policy(self) -> Policy | None:
        data = self.mapping(self.located.data, (), "a policy file")
        if data is None:
            return None
        self.check_keys(data, (), _POLICY_KEYS)
        policy_id = self.identifier(data.get("id"), ("id",)) if "id" in data else None
        version = data.get("version")
        if "version" in data and (
            isinstance(version, bool) or not isinstance(version, int) or version < 1
        ):
            self.error(("version",), "version must be a whole number, 1 or more")
        title = self.bilingual(data.get("title"), ("title",)) if "title" in data else None
        issuer = self.bilingual(data.get("issuer"), ("issuer",)) if "issuer" in data else None
        level = self.level(data.get("level")) if "level" in data else None
        covers = self.covers(data.get("covers")) if "covers" in data else None
        start = (
            self.date(data.get("effective_from"), ("effective_from",))
            if "effective_from" in data
            else None
        )
        end = None
        if data.get("effective_to") is not None:
            end = self.date(data["effective_to"], ("effective_to",))
            if start and end and end < start:
                self.error(("effective_to",), "effective_to is before effective_from")
        source = self.source_block(data.get("source")) if "source" in data else None
        confirmed = data.get("dates_confirmed", True)
        if not isinstance(confirmed, bool):
            self.error(("dates_confirmed",), "must be true or false")
        areas = self.areas(data.get("areas")) if "areas" in data else {}
        eligibility = self.condition(data.get("eligibility"), ("eligibility",))
        measures = self.measures(data.get("measures"), areas) if "measures" in data else None
        if self.issues:
            return None
        assert policy_id and title and issuer and level and covers and start and source
        assert measures is not None and eligibility is not None and isinstance(version, int)
        return Policy(
            id=policy_id,
            version=version,
            title_zh=title[0],
            title_en=title[1],
            issuer_zh=issuer[0],
            issuer_en=issuer[1],
            level=level,
            covers=covers,
            effective_from=start,
            effective_to=end,
            source_note=source[1],
            source_document=source[0],
            dates_confirmed=bool(confirmed),
            eligibility=eligibility,
            measures=measures,
            areas=areas,
            source_name=self.source,
        )

    def level(self, value: object) -> PolicyLevel | None:
        try:
            return PolicyLevel(value)
        except ValueError:
            allowed = ", ".join(level.value for level in PolicyLevel)
            self.error(("level",), f"unknown level {value!r} (allowed: {allowed})")
            return None

    def covers(self, value: object) -> tuple[str, ...] | None:
        if not isinstance(value, list) or not value:
            self.error(("covers",), "covers must be a non-empty list of zone codes or zone levels")
            return None
        ok = True
        for index, item in enumerate(value):
            if not isinstance(item, str) or item not in self.zones:
                self.error(("covers", index), f"unknown zone code or level {item!r}")
                ok = False
        return tuple(value) if ok else None

    def source_block(self, value: object) -> tuple[str | None, str] | None:
        data = self.mapping(value, ("source",), "source")
        if data is None:
            return None
        self.check_keys(data, ("source",), {"note": True, "document": False})
        note = self.text(data.get("note"), ("source", "note")) if "note" in data else None
        document = None
        if "document" in data:
            document = self.text(data["document"], ("source", "document"))
        return (document, note) if note else None

    def areas(self, value: object) -> dict[str, tuple[str, str]]:
        data = self.mapping(value, ("areas",), "areas")
        result: dict[str, tuple[str, str]] = {}
        for code, labels in (data or {}).items():
            if self.identifier(code, ("areas", code)):
                pair = self.bilingual(labels, ("areas", code))
                if pair:
                    result[code] = pair
        return result

    def measures(self, value: object, areas: Mapping[str, object]) -> tuple[Measure, ...] | None:
        if not isinstance(value, list) or not value:
            self.error(("measures",), "measures must be a non-empty list")
            return None
        seen: dict[str, int] = {}
        built: list[Measure] = []
        for index, item in enumerate(value):
            path: Path = ("measures", index)
            measure = self.measure(item, path, areas)
            if measure is None:
                continue
            if measure.id in seen:
                self.error(
                    (*path, "id"),
                    f"duplicate measure id {measure.id!r} (also measures[{seen[measure.id]}])",
                )
                continue
            seen[measure.id] = index
            built.append(measure)
        return tuple(built)

    def measure(self, value: object, path: Path, areas: Mapping[str, object]) -> Measure | None:
        data = self.mapping(value, path, "a measure")
        if data is None:
            return None
        before = len(self.issues)
        self.check_keys(data, path, _MEASURE_KEYS)
        measure_id = self.identifier(data.get("id"), (*path, "id")) if "id" in data else None
        area = self.identifier(data.get("area"), (*path, "area")) if "area" in data else None
        if area and areas and area not in areas:
            self.error((*path, "area"), f"area {area!r} is not listed under areas")
        summary_zh = (
            self.text(data.get("summary_zh"), (*path, "summary_zh"))
            if "summary_zh" in data
            else None
        )
        summary_en = (
            self.text(data.get("summary_en"), (*path, "summary_en"))
            if "summary_en" in data
            else None
        )
        condition = self.condition(data.get("conditions"), (*path, "conditions"))
        benefit = (
            self.benefit(data.get("benefit"), (*path, "benefit")) if "benefit" in data else None
        )
        note = data.get("note")
        if note is not None and not isinstance(note, str):
            self.error((*path, "note"), "note must be text")
        if len(self.issues) > before:
            return None
        assert measure_id and area and summary_zh and summary_en and benefit
        return Measure(
            id=measure_id,
            area=area,
            summary_zh=summary_zh,
            summary_en=summary_en,
            condition=condition or Always(),
            benefit=benefit,
            note=note,
        )

    def benefit(self, value: object, path: Path) -> Benefit | None:
        data = self.mapping(value, path, "benefit")
        if data is None:
            return None
        try:
            kind = BenefitKind(data.get("kind"))
        except ValueError:
            allowed = ", ".join(kind.value for kind in BenefitKind)
            self.error(
                (*path, "kind"), f"unknown benefit kind {data.get('kind')!r} (allowed: {allowed})"
            )
            return None
        before = len(self.issues)
        self.check_keys(data, path, {"kind": True, "note": False, **_BENEFIT_KEYS[kind]})
        frequency = self.frequency(
            data.get("frequency", Frequency.UNSTATED.value), (*path, "frequency")
        )
        cap = None
        if "cap" in data and data["cap"] != NO_CAP:
            cap = self.money(data["cap"], (*path, "cap"), "cap")
        elif "cap" in data and kind is not BenefitKind.BY_ASSESSMENT:
            self.error(
                (*path, "cap"), f"{NO_CAP!r} is only for by_assessment; omit the cap instead"
            )
        rate = self.rate(data["rate"], (*path, "rate")) if "rate" in data else None
        rate_up_to = data.get("rate_up_to", False)
        if not isinstance(rate_up_to, bool):
            self.error((*path, "rate_up_to"), "must be true or false")
        base = None
        if isinstance(data.get("base"), str):
            try:
                base = parse_expression(data["base"])
            except RuleSyntaxError as error:
                self.error((*path, "base"), error.message, offset=error.offset)
            if base is not None and base.unit not in (MONEY_UNIT, None):
                self.error((*path, "base"), f"base must be in {MONEY_UNIT}, not {base.unit}")
        elif "base" in data:
            self.error(
                (*path, "base"), "base must be an expression such as 'rd_expense - rd_expense_prev'"
            )
        amount = (
            self.money(data["amount"], (*path, "amount"), "amount") if "amount" in data else None
        )
        note = data.get("note")
        if note is not None and not isinstance(note, str):
            self.error((*path, "note"), "note must be text")
        if len(self.issues) > before or frequency is None:
            return None
        return Benefit(kind, frequency, rate, bool(rate_up_to), base, amount, cap, note)

    def frequency(self, value: object, path: Path) -> Frequency | None:
        try:
            return Frequency(value)
        except ValueError:
            allowed = ", ".join(item.value for item in Frequency)
            self.error(path, f"unknown frequency {value!r} (allowed: {allowed})")
            return None

    def rate(self, value: object, path: Path) -> Decimal | None:
        rate: Decimal | None = None
        if isinstance(value, str) and (match := _PERCENT.match(value)):
            rate = Decimal(match.group(1)) / 100
        elif isinstance(value, int | Decimal) and not isinstance(value, bool):
            rate = Decimal(value)
        if rate is None or not 0 < rate <= 1:
            self.error(
                path, "rate must be a fraction above 0 and at most 1 (0.1) or a percentage ('10%')"
            )
            return None
        return rate

"""Compiled incentive policies: what the loader produces and the engine reads.

All objects are immutable. Money is `Decimal` in 万元. Conditions and benefit bases are
compiled (see `crm.incentives.rules`), so evaluating them never parses text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from crm.incentives.expressions import Expr, format_number
from crm.incentives.rules import AllOf, Always, Condition


class PolicyLevel(StrEnum):
    """Who issued a policy."""

    NATIONAL = "national"
    PROVINCIAL = "provincial"
    CITY = "city"
    ZONE = "zone"


class BenefitKind(StrEnum):
    """How a measure's benefit is expressed."""

    RATE = "rate"  # rate × base, optionally capped
    FIXED = "fixed"  # a stated sum
    BY_ASSESSMENT = "by_assessment"  # decided by the zone, up to a cap (or no cap stated)
    QUALITATIVE = "qualitative"  # no money: tax treatment, visas, faster approval...


class Frequency(StrEnum):
    """How often a benefit is paid, as far as the source text says."""

    ONCE = "once"
    PER_YEAR = "per_year"
    ONCE_OR_PER_YEAR = "once_or_per_year"
    UNSTATED = "unstated"


@dataclass(frozen=True, slots=True, eq=False)
class Benefit:
    """A measure's benefit. Amounts and caps are in 万元; `rate` is a fraction (0.1 = 10%)."""

    kind: BenefitKind
    frequency: Frequency = Frequency.UNSTATED
    rate: Decimal | None = None
    rate_up_to: bool = False  # the text says "up to N%": the rate itself is a maximum
    base: Expr | None = None
    amount: Decimal | None = None
    cap: Decimal | None = None
    note: str | None = None

    @property
    def frequency_text(self) -> str:
        """The frequency's code (`per_year`...)."""
        return str.__str__(self.frequency)

    @property
    def facts_used(self) -> frozenset[str]:
        """The facts the amount is computed from."""
        return self.base.facts_used if self.base is not None else frozenset()

    @property
    def rate_text(self) -> str:
        """The rate as a percentage, e.g. `10%`."""
        return f"{format_number((self.rate or Decimal(0)) * 100)}%"

    def describe(self) -> str:
        """A one-line English description, e.g. `10% × (rd_expense - rd_expense_prev), cap 200`."""
        cap = f", cap {format_number(self.cap)} 万元" if self.cap is not None else ""
        if self.kind is BenefitKind.RATE:
            prefix = "up to " if self.rate_up_to else ""
            base = self.base.text if self.base is not None else "?"
            return f"{prefix}{self.rate_text} × ({base}){cap}"
        if self.kind is BenefitKind.FIXED:
            return f"{format_number(self.amount or Decimal(0))} 万元"
        if self.kind is BenefitKind.BY_ASSESSMENT:
            return f"by assessment{cap or ', no cap stated'}"
        return "qualitative (no money)"


@dataclass(frozen=True, slots=True, eq=False)
class Measure:
    """One incentive measure of a policy."""

    id: str
    area: str
    summary_zh: str
    summary_en: str
    condition: Condition
    benefit: Benefit
    note: str | None = None
    facts_used: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        used = self.condition.facts_used | self.benefit.facts_used
        object.__setattr__(self, "facts_used", used)


@dataclass(frozen=True, eq=False)
class Policy:
    """A policy document: who issued it, where and when it applies, and its measures."""

    id: str
    version: int
    title_zh: str
    title_en: str
    issuer_zh: str
    issuer_en: str
    level: PolicyLevel
    covers: tuple[str, ...]
    effective_from: date
    effective_to: date | None
    source_note: str
    measures: tuple[Measure, ...]
    eligibility: Condition = field(default_factory=Always)
    source_document: str | None = None
    dates_confirmed: bool = True
    areas: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    source_name: str = ""

    def covers_zone(self, zone_code: str, zone_level: str) -> bool:
        """True when the policy names the zone's code or its level in `covers`."""
        return zone_code in self.covers or zone_level in self.covers

    def in_force(self, as_of: date) -> bool:
        """True when `as_of` lies in the validity window, both ends included."""
        if as_of < self.effective_from:
            return False
        return self.effective_to is None or as_of <= self.effective_to

    def measure(self, measure_id: str) -> Measure:
        """The measure with this id; KeyError if there is none."""
        for measure in self.measures:
            if measure.id == measure_id:
                return measure
        raise KeyError(measure_id)

    @property
    def facts_used(self) -> frozenset[str]:
        """Every fact the policy's eligibility and measures read (for the evaluation form)."""
        return self.eligibility.facts_used.union(*(m.facts_used for m in self.measures))

    def window_text(self) -> str:
        """The validity window as text, e.g. `2024-11-15 to 2026-11-14`."""
        end = self.effective_to.isoformat() if self.effective_to else "open-ended"
        return f"{self.effective_from.isoformat()} to {end}"


def measure_condition(policy: Policy, measure: Measure) -> Condition:
    """The full condition of a measure: the policy's eligibility and the measure's own."""
    if isinstance(policy.eligibility, Always):
        return measure.condition
    if isinstance(measure.condition, Always):
        return policy.eligibility
    return AllOf((policy.eligibility, measure.condition))


def _money(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def measure_to_dict(measure: Measure) -> dict[str, object]:
    """A JSON-ready description of a measure (conditions as text)."""
    benefit = measure.benefit
    return {
        "id": measure.id,
        "area": measure.area,
        "summary_zh": measure.summary_zh,
        "summary_en": measure.summary_en,
        "conditions": measure.condition.text,
        "benefit": {
            "kind": benefit.kind.value,
            "frequency": benefit.frequency.value,
            "rate": _money(benefit.rate),
            "rate_up_to": benefit.rate_up_to,
            "base": benefit.base.text if benefit.base is not None else None,
            "amount": _money(benefit.amount),
            "cap": _money(benefit.cap),
            "unit": "万元",
            "description": benefit.describe(),
            "note": benefit.note,
        },
        "note": measure.note,
        "facts": sorted(measure.facts_used),
    }


def policy_to_dict(policy: Policy) -> dict[str, object]:
    """A JSON-ready description of a policy and its measures, for the API and admin pages."""
    return {
        "id": policy.id,
        "version": policy.version,
        "title": {"zh": policy.title_zh, "en": policy.title_en},
        "issuer": {"zh": policy.issuer_zh, "en": policy.issuer_en},
        "level": policy.level.value,
        "covers": list(policy.covers),
        "effective_from": policy.effective_from.isoformat(),
        "effective_to": policy.effective_to.isoformat() if policy.effective_to else None,
        "dates_confirmed": policy.dates_confirmed,
        "source": {"document": policy.source_document, "note": policy.source_note},
        "eligibility": None if isinstance(policy.eligibility, Always) else policy.eligibility.text,
        "areas": {code: {"zh": zh, "en": en} for code, (zh, en) in policy.areas.items()},
        "measures": [measure_to_dict(measure) for measure in policy.measures],
    }


def describe_changes(old: Policy, new: Policy) -> list[str]:
    """Human-readable differences between two versions of a policy (for the upload preview)."""
    changes: list[str] = []
    before, after = policy_to_dict(old), policy_to_dict(new)
    for key in (
        "version",
        "title",
        "issuer",
        "level",
        "covers",
        "effective_from",
        "effective_to",
        "eligibility",
        "source",
    ):
        if before[key] != after[key]:
            changes.append(f"{key}: {before[key]!r} -> {after[key]!r}")
    old_measures = {m["id"]: m for m in before["measures"]}  # type: ignore[attr-defined]
    new_measures = {m["id"]: m for m in after["measures"]}  # type: ignore[attr-defined]
    for measure_id in sorted(old_measures.keys() | new_measures.keys()):
        if measure_id not in new_measures:
            changes.append(f"measure {measure_id} removed")
        elif measure_id not in old_measures:
            changes.append(f"measure {measure_id} added")
        elif old_measures[measure_id] != new_measures[measure_id]:
            changes.append(f"measure {measure_id} changed")
    return changes

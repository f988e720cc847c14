"""The shapes of the report's numbers (computed by `metrics.compute`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from crm.enums import Stage
from crm.reports.scope import ReportScope
from crm.reports.targets import TargetRow
from crm.reports.weeks import Week

ZERO = Decimal("0.00")
EVENTS = ("lead", "signed", "landed", "started", "operating")
PERIODS = ("week", "last_week", "ytd", "last_ytd")
VISIT_WEEKS = 8
LEAD_TIME_DAYS = 365


@dataclass
class Count:
    count: int = 0
    amount: Decimal = ZERO  # 万元

    def add(self, count: int, amount: Decimal | None) -> None:
        self.count += int(count or 0)
        self.amount += amount or ZERO

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "amount": str(self.amount)}


@dataclass
class Rate:
    signed: int = 0
    started: int = 0
    honoured: int = 0

    @property
    def start_rate(self) -> Decimal | None:
        return _share(self.started, self.signed)

    @property
    def honoured_rate(self) -> Decimal | None:
        return _share(self.honoured, self.signed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "signed": self.signed,
            "started": self.started,
            "honoured": self.honoured,
            "start_rate": _str(self.start_rate),
            "honoured_rate": _str(self.honoured_rate),
        }


@dataclass
class Group:
    """A chain, zone or team: its active pipeline and this year's results."""

    key: str | None  # code; None for "not set"
    name_zh: str
    name_en: str
    active: Count = field(default_factory=Count)  # every stage but dropped
    signed_ytd: Count = field(default_factory=Count)
    started_ytd: int = 0
    key_active: int = 0
    key_signed_ytd: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.key,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "active": self.active.as_dict(),
            "signed_ytd": self.signed_ytd.as_dict(),
            "started_ytd": self.started_ytd,
            "key_active": self.key_active,
            "key_signed_ytd": self.key_signed_ytd,
        }


@dataclass
class LeadTime:
    """Days from signing to start for one zone (or all, key None)."""

    key: str | None
    name_zh: str
    name_en: str
    projects: int
    minimum: int
    p25: int
    median: Decimal
    p75: int
    maximum: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "zone": self.key,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "projects": self.projects,
            "min": self.minimum,
            "p25": self.p25,
            "median": str(self.median),
            "p75": self.p75,
            "max": self.maximum,
        }


@dataclass(frozen=True)
class VisitCell:
    team: str
    team_zh: str
    team_en: str
    region: str | None
    region_zh: str
    region_en: str
    count: int


@dataclass
class Metrics:
    week: Week
    scope: ReportScope
    computed_at: datetime
    as_of: date  # the day stalled projects are judged on
    events: dict[str, dict[str, Count]]  # event -> period -> Count
    by_stage: dict[str, Count]
    key_by_stage: dict[str, Count]
    rates: dict[str, Rate]  # "ytd" and "last_ytd"
    by_chain: list[Group]
    by_zone: list[Group]
    by_team: list[Group]
    targets: list[TargetRow]
    signings_by_month: list[Count]  # 12 entries, months after the week's end are zero
    lead_times: list[LeadTime]  # per zone, then the overall row (key None)
    visits_by_team_region: list[VisitCell]
    visits_per_team_week: dict[str, list[int]]  # team code -> counts of VISIT_WEEKS weeks
    visit_weeks: list[Week]
    team_names: dict[str, tuple[str, str]]
    stalled_by_team: list[tuple[str, str, str, Count]]  # team code, zh, en, count/amount

    @property
    def year(self) -> int:
        return self.week.end.year

    @property
    def key_active(self) -> Count:
        total = Count()
        for stage, c in self.key_by_stage.items():
            if stage != Stage.DROPPED.value:
                total.add(c.count, c.amount)
        return total

    @property
    def target_total(self) -> TargetRow | None:
        """The scope's overall target: its team's, or the sum of zone targets (leaders)."""
        rows = self.targets
        if self.scope.team_id is None:
            rows = [t for t in rows if t.kind == "zone"] or [t for t in rows if t.kind == "team"]
        if not rows:
            return None
        return TargetRow.total(rows)

    def as_dict(self) -> dict[str, Any]:
        """The numbers as JSON-ready data (amounts in 万元 as decimal strings)."""
        return {
            "week": self.week.label,
            "start": self.week.start.isoformat(),
            "end": self.week.end.isoformat(),
            "scope": self.scope.key,
            "computed_at": self.computed_at.isoformat(),
            "as_of": self.as_of.isoformat(),
            "events": {
                e: {p: c.as_dict() for p, c in periods.items()}
                for e, periods in self.events.items()
            },
            "by_stage": {s: c.as_dict() for s, c in self.by_stage.items()},
            "key_projects": {
                "active": self.key_active.as_dict(),
                "by_stage": {s: c.as_dict() for s, c in self.key_by_stage.items()},
            },
            "rates": {k: r.as_dict() for k, r in self.rates.items()},
            "by_chain": [g.as_dict() for g in self.by_chain],
            "by_zone": [g.as_dict() for g in self.by_zone],
            "by_team": [g.as_dict() for g in self.by_team],
            "targets": [t.as_dict() for t in self.targets],
            "signings_by_month": [
                {"month": i + 1, **c.as_dict()} for i, c in enumerate(self.signings_by_month)
            ],
            "signing_to_start_days": [lt.as_dict() for lt in self.lead_times],
            "visits_by_team_region": [
                {"team": v.team, "region": v.region, "count": v.count}
                for v in self.visits_by_team_region
            ],
            "visits_per_team_week": {
                "weeks": [w.label for w in self.visit_weeks],
                "teams": self.visits_per_team_week,
            },
            "stalled_by_team": [
                {"team": code, **c.as_dict()} for code, _zh, _en, c in self.stalled_by_team
            ],
        }


def _share(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"))


def _str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)

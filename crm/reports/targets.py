"""Annual targets per zone or team, and progress against them.

Four measures: projects signed (number and planned investment in 万元), key projects signed,
and projects started, each counted from 1 January to the report's end. A target left empty
is not tracked. A team lead's report shows their team's target; a leader's shows every
zone's and team's target, and its overall target is the sum of the zone targets (or of the
team targets when no zone has one).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.accounts.models import Team
from crm.audit import record
from crm.reference.models import Zone
from crm.reports.models import AnnualTarget
from crm.reports.scope import ReportScope

MEASURES = ("signed_count", "signed_amount", "key_count", "started_count")


class TargetError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class _Actuals(Protocol):
    @property
    def signed_ytd(self) -> Any: ...

    key_signed_ytd: int
    started_ytd: int


@dataclass
class TargetRow:
    kind: str  # "zone" or "team"
    code: str
    name_zh: str
    name_en: str
    signed_count: int | None = None
    signed_amount: Decimal | None = None
    key_count: int | None = None
    started_count: int | None = None
    actual_signed_count: int = 0
    actual_signed_amount: Decimal = Decimal("0.00")
    actual_key_count: int = 0
    actual_started_count: int = 0

    def progress(self, measure: str) -> Decimal | None:
        """Share of the target reached (0.5 = half), None without a target."""
        target = getattr(self, measure)
        if not target:
            return None
        return (Decimal(getattr(self, f"actual_{measure}")) / Decimal(target)).quantize(
            Decimal("0.0001")
        )

    @classmethod
    def total(cls, rows: list[TargetRow]) -> TargetRow:
        total = cls("total", "", "合计", "Total")
        for measure in MEASURES:
            values = [getattr(r, measure) for r in rows if getattr(r, measure) is not None]
            setattr(total, measure, sum(values) if values else None)
            actual = f"actual_{measure}"
            setattr(total, actual, sum((getattr(r, actual) for r in rows), getattr(total, actual)))
        return total

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "code": self.code,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "target": {
                "signed_count": self.signed_count,
                "signed_amount": None if self.signed_amount is None else str(self.signed_amount),
                "key_count": self.key_count,
                "started_count": self.started_count,
            },
            "actual": {
                "signed_count": self.actual_signed_count,
                "signed_amount": str(self.actual_signed_amount),
                "key_count": self.actual_key_count,
                "started_count": self.actual_started_count,
            },
        }


def list_targets(session: Session, year: int) -> list[TargetRow]:
    """Every zone's and team's target for `year` (zones first), actuals left at zero."""
    rows = session.execute(
        select(
            AnnualTarget,
            Zone.code,
            Zone.name_zh,
            Zone.name_en,
            Team.code,
            Team.name_zh,
            Team.name_en,
        )
        .outerjoin(Zone, Zone.id == AnnualTarget.zone_id)
        .outerjoin(Team, Team.id == AnnualTarget.team_id)
        .where(AnnualTarget.year == year)
        .order_by(AnnualTarget.team_id.is_not(None), Zone.id, Team.code)
    ).all()
    out = []
    for target, zcode, zzh, zen, tcode, tzh, ten in rows:
        kind, code, zh, en = (
            ("zone", zcode, zzh, zen) if target.zone_id else ("team", tcode, tzh, ten)
        )
        out.append(
            TargetRow(
                kind,
                code,
                zh,
                en,
                target.signed_count,
                target.signed_amount,
                target.key_count,
                target.started_count,
            )
        )
    return out


def targets_for(
    session: Session,
    scope: ReportScope,
    year: int,
    *,
    by_zone: dict[str, _Actuals],
    by_team: dict[str, _Actuals],
) -> list[TargetRow]:
    """The targets `scope` reports on, with the actuals filled in from the grouped numbers."""
    rows = list_targets(session, year)
    if scope.team_id is not None:
        rows = [r for r in rows if r.kind == "team" and r.code == scope.team_code]
    for row in rows:
        actual = (by_zone if row.kind == "zone" else by_team).get(row.code)
        if actual is None:
            continue
        row.actual_signed_count = actual.signed_ytd.count
        row.actual_signed_amount = actual.signed_ytd.amount
        row.actual_key_count = actual.key_signed_ytd
        row.actual_started_count = actual.started_ytd
    return rows


@dataclass
class TargetInput:
    kind: str
    code: str
    signed_count: int | None = None
    signed_amount: Decimal | None = None
    key_count: int | None = None
    started_count: int | None = None

    @property
    def empty(self) -> bool:
        return all(getattr(self, m) is None for m in MEASURES)


def save_targets(
    session: Session, year: int, items: list[TargetInput], actor_id: int | None
) -> list[TargetRow]:
    """Set `year`'s targets for the zones and teams named in `items`.

    A zone or team not named keeps its target; one named with every measure empty loses
    it. Refuses unknown codes and negative numbers (TargetError names the field).
    """
    if not 2000 <= year <= 2100:
        raise TargetError("year", "The year must be between 2000 and 2100.")
    zones = dict(session.execute(select(Zone.code, Zone.id)).all())
    teams = dict(session.execute(select(Team.code, Team.id)).all())
    existing = {
        (t.zone_id, t.team_id): t
        for t in session.scalars(select(AnnualTarget).where(AnnualTarget.year == year))
    }
    seen: set[tuple[str, str]] = set()
    for index, item in enumerate(items):
        where = f"items.{index}"
        if item.kind not in ("zone", "team"):
            raise TargetError(f"{where}.kind", "Kind must be 'zone' or 'team'.")
        if (item.kind, item.code) in seen:
            raise TargetError(f"{where}.code", f"'{item.code}' is given twice.")
        seen.add((item.kind, item.code))
        ids = zones if item.kind == "zone" else teams
        if item.code not in ids:
            raise TargetError(f"{where}.code", f"No {item.kind} with code '{item.code}'.")
        for measure in MEASURES:
            value = getattr(item, measure)
            if value is not None and value < 0:
                raise TargetError(f"{where}.{measure}", "A target cannot be negative.")
        key = (ids[item.code], None) if item.kind == "zone" else (None, ids[item.code])
        target = existing.get(key)
        before = {m: _plain(getattr(target, m)) for m in MEASURES} if target else {}
        if item.empty:
            if target is not None:
                session.delete(target)
                _audit(session, actor_id, target.id, "delete", before, {})
            continue
        if target is None:
            target = AnnualTarget(year=year, zone_id=key[0], team_id=key[1])
            session.add(target)
        for measure in MEASURES:
            setattr(target, measure, getattr(item, measure))
        target.updated_by_id = actor_id
        session.flush()
        after = {m: _plain(getattr(item, m)) for m in MEASURES}
        if after != before:
            _audit(session, actor_id, target.id, "update" if before else "create", before, after)
    session.flush()
    return list_targets(session, year)


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def _audit(
    session: Session,
    actor_id: int | None,
    target_id: int,
    action: str,
    before: dict[str, Any],
    after: dict[str, Any],
) -> None:
    changes = {m: [before.get(m), after.get(m)] for m in MEASURES if before.get(m) != after.get(m)}
    record(
        session,
        user_id=actor_id,
        entity_type="annual_target",
        entity_id=target_id,
        action=action,
        changes=changes,
    )

"""Every number of the weekly report, the dashboard and `GET /api/v1/dashboard`.

One function, `compute`, runs a fixed set of set-based queries (their number does not grow
with the data) and returns a `Metrics` object; the workbook, the dashboard page and the API
all read that object, so they cannot disagree. Definitions (also in docs/reports.md):

- A period's *new leads, signings, landings, starts, operations* count the projects whose
  `lead_on / signed_on / landed_on / started_on / operating_on` date falls in the period,
  whatever their stage today; the amount is the sum of their planned investment (万元).
- *Projects by stage* is each project's current stage when the report is computed.
- A project's *zone* is its landed zone, else its target zone.
- 开工率 (start rate): of the projects signed from 1 January to the period's end, the share
  started by that end. 履约率 (honoured rate): of the same projects, the share registered in
  the zone (landed) by that end and not dropped by then.
- *Key projects* are those flagged key (Top-500 investor, planned investment at or above the
  threshold, or marked by a lead); targets count key projects signed in the year.
- *Days from signing to start* cover projects started in the 365 days up to the period's end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, extract, func, literal, not_, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from crm.accounts.models import Team
from crm.db import utcnow
from crm.enums import ALL_STAGES, Stage
from crm.pipeline.models import Project
from crm.reference.models import IndustrialChain, Region, Zone
from crm.reports.figures import (
    EVENTS,
    LEAD_TIME_DAYS,
    PERIODS,
    VISIT_WEEKS,
    Count,
    Group,
    LeadTime,
    Metrics,
    Rate,
    VisitCell,
)
from crm.reports.scope import ReportScope
from crm.reports.sqlfuncs import days_between, quartiles_stmt
from crm.reports.stalled import stalls_subquery
from crm.reports.targets import targets_for
from crm.reports.weeks import Period, Week
from crm.visits.models import Visit

__all__ = [
    "EVENTS",
    "PERIODS",
    "Count",
    "Group",
    "LeadTime",
    "Metrics",
    "Names",
    "Rate",
    "VisitCell",
    "compute",
    "zone_of_project",
]


def _in(col: Any, period: Period) -> ColumnElement[bool]:
    return and_(col >= period.start, col <= period.end)


def _count_if(cond: ColumnElement[bool]) -> Any:
    return func.count(case((cond, 1)))


def _sum_if(cond: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((cond, Project.planned_investment))), 0)


def _amount(value: Any) -> Decimal:
    return Decimal(value or 0).quantize(Decimal("0.01"))


def zone_of_project() -> ColumnElement[Any]:
    return func.coalesce(Project.landed_zone_id, Project.target_zone_id)


def _periods(week: Week) -> dict[str, Period]:
    return {
        "week": week,
        "last_week": week.previous(),
        "ytd": week.year_to_date,
        "last_ytd": week.last_year_to_date,
    }


def _events(session: Session, scope: ColumnElement[bool], week: Week) -> dict[str, Any]:
    periods = _periods(week)
    columns = []
    for event in EVENTS:
        col = getattr(Project, f"{event}_on")
        for name in PERIODS:
            cond = _in(col, periods[name])
            columns += [_count_if(cond), _sum_if(cond)]
    for name in ("ytd", "last_ytd"):
        period = periods[name]
        cohort = _in(Project.signed_on, period)
        not_dropped = not_(
            and_(
                Project.stage == Stage.DROPPED,
                func.coalesce(Project.dropped_on, period.end) <= period.end,
            )
        )
        columns += [
            _count_if(cohort),
            _count_if(and_(cohort, Project.started_on <= period.end)),
            _count_if(and_(cohort, Project.landed_on <= period.end, not_dropped)),
        ]
    # Only projects with a date in the windows can count: skip the rest cheaply.
    earliest = min(p.start for p in periods.values())
    recent = or_(*(getattr(Project, f"{event}_on") >= earliest for event in EVENTS))
    row = list(session.execute(select(*columns).where(scope, recent)).one())
    events: dict[str, dict[str, Count]] = {}
    for event in EVENTS:
        events[event] = {}
        for name in PERIODS:
            count, amount = row.pop(0), row.pop(0)
            events[event][name] = Count(int(count), _amount(amount))
    rates = {}
    for name in ("ytd", "last_ytd"):
        signed, started, honoured = row.pop(0), row.pop(0), row.pop(0)
        rates[name] = Rate(int(signed), int(started), int(honoured))
    return {"events": events, "rates": rates}


def _stages(session: Session, scope: ColumnElement[bool]) -> dict[str, Any]:
    rows = session.execute(
        select(
            Project.stage,
            func.count(),
            func.coalesce(func.sum(Project.planned_investment), 0),
            _count_if(Project.is_key.is_(True)),
            _sum_if(Project.is_key.is_(True)),
        )
        .where(scope)
        .group_by(Project.stage)
    ).all()
    by_stage = {s.value: Count() for s in ALL_STAGES}
    key_by_stage = {s.value: Count() for s in ALL_STAGES}
    for stage, count, amount, key_count, key_amount in rows:
        by_stage[Stage(stage).value].add(count, _amount(amount))
        key_by_stage[Stage(stage).value].add(key_count, _amount(key_amount))
    return {"by_stage": by_stage, "key_by_stage": key_by_stage}


@dataclass(frozen=True)
class Names:
    """id -> (code, name_zh, name_en) of the reference rows the numbers are grouped by.

    Loaded once per computation; the aggregates group by ids and never join these tables,
    so the database can answer them from indexes alone.
    """

    chains: dict[int, tuple[str, str, str]]
    zones: dict[int, tuple[str, str, str]]
    teams: dict[int, tuple[str, str, str]]
    regions: dict[int, tuple[str, str, str]]

    @classmethod
    def load(cls, session: Session) -> Names:
        def rows(*columns: Any, order: Any) -> dict[int, tuple[str, str, str]]:
            return {
                rid: (code, zh, en)
                for rid, code, zh, en in session.execute(select(*columns).order_by(*order))
            }

        return cls(
            chains=rows(
                IndustrialChain.id,
                IndustrialChain.code,
                IndustrialChain.name_zh,
                IndustrialChain.name_en,
                order=(IndustrialChain.sort, IndustrialChain.id),
            ),
            zones=rows(Zone.id, Zone.code, Zone.name_zh, Zone.name_en, order=(Zone.id,)),
            teams=rows(Team.id, Team.code, Team.name_zh, Team.name_en, order=(Team.code,)),
            regions=rows(
                Region.id, Region.code, Region.name_zh, Region.name_en, order=(Region.sort,)
            ),
        )


NOT_SET = (None, "未设置", "Not set")


def _groups(session: Session, scope: ColumnElement[bool], week: Week, ref: Names) -> dict[str, Any]:
    """Chains, zones and teams from one grouped query (a small cube summed here)."""
    ytd = week.year_to_date
    active = Project.stage != Stage.DROPPED
    signed = _in(Project.signed_on, ytd)
    is_key = Project.is_key.is_(True)
    zone = zone_of_project()
    rows = session.execute(
        select(
            Project.chain_id,
            zone,
            Project.team_id,
            _count_if(active),
            _sum_if(active),
            _count_if(signed),
            _sum_if(signed),
            _count_if(_in(Project.started_on, ytd)),
            _count_if(and_(active, is_key)),
            _count_if(and_(signed, is_key)),
        )
        .where(scope)
        .group_by(Project.chain_id, zone, Project.team_id)
    ).all()
    out: dict[str, dict[Any, Group]] = {"chain": {}, "zone": {}, "team": {}}
    names: dict[str, dict[Any, tuple[Any, str, str]]] = {
        "chain": ref.chains,
        "zone": ref.zones,
        "team": ref.teams,
    }
    for chain_id, zone_id, team_id, *values in rows:
        for dim, key in (("chain", chain_id), ("zone", zone_id), ("team", team_id)):
            group = out[dim].get(key)
            if group is None:
                code, zh, en = names[dim].get(key, NOT_SET)
                group = out[dim][key] = Group(code, zh, en)
            a_count, a_amount, s_count, s_amount, started, key_active, key_signed = values
            group.active.add(a_count, _amount(a_amount))
            group.signed_ytd.add(s_count, _amount(s_amount))
            group.started_ytd += int(started)
            group.key_active += int(key_active)
            group.key_signed_ytd += int(key_signed)

    def ordered(dim: str) -> list[Group]:
        order = list(names[dim])
        groups = out[dim]
        known = [groups[i] for i in order if i in groups]
        return known + ([groups[None]] if None in groups else [])

    return {
        "by_chain": ordered("chain"),
        "by_zone": ordered("zone"),
        "by_team": ordered("team"),
        "team_names": {code: (zh, en) for code, zh, en in ref.teams.values()},
    }


def _signings_by_month(session: Session, scope: ColumnElement[bool], week: Week) -> list[Count]:
    month = extract("month", Project.signed_on)
    rows = session.execute(
        select(month, func.count(), func.coalesce(func.sum(Project.planned_investment), 0))
        .where(scope, _in(Project.signed_on, week.year_to_date))
        .group_by(month)
    ).all()
    months = [Count() for _ in range(12)]
    for m, count, amount in rows:
        months[int(m) - 1].add(count, _amount(amount))
    return months


def _lead_times(
    session: Session, scope: ColumnElement[bool], week: Week, ref: Names
) -> list[LeadTime]:
    window = Period(week.end - timedelta(days=LEAD_TIME_DAYS - 1), week.end)
    where = and_(
        scope,
        Project.signed_on.is_not(None),
        _in(Project.started_on, window),
        Project.started_on >= Project.signed_on,
    )
    days = days_between(Project.signed_on, Project.started_on)
    per_zone = session.execute(quartiles_stmt(days, zone_of_project(), where)).all()
    overall = session.execute(quartiles_stmt(days, literal(0), where)).all()
    result = []
    for zone_id, n, lo, p25, median, p75, hi in sorted(
        per_zone, key=lambda r: (r[0] is None, r[0] or 0)
    ):
        code, zh, en = ref.zones.get(zone_id, NOT_SET)
        result.append(
            LeadTime(code, zh, en, int(n), int(lo), int(p25), _half(median), int(p75), int(hi))
        )
    for _grp, n, lo, p25, median, p75, hi in overall:
        result.append(
            LeadTime(
                None, "全部", "All", int(n), int(lo), int(p25), _half(median), int(p75), int(hi)
            )
        )
    return result


def _half(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.1"))


def _visits(session: Session, scope: ReportScope, week: Week, ref: Names) -> dict[str, Any]:
    by_team_region = session.execute(
        select(Visit.team_id, Visit.region_id, func.count())
        .where(scope.visits(), _in(Visit.on, week))
        .group_by(Visit.team_id, Visit.region_id)
    ).all()
    weeks = [week]
    for _ in range(VISIT_WEEKS - 1):
        weeks.insert(0, weeks[0].previous())
    span = Period(weeks[0].start, week.end)
    per_day = session.execute(
        select(Visit.team_id, Visit.on, func.count())
        .where(scope.visits(), _in(Visit.on, span))
        .group_by(Visit.team_id, Visit.on)
    ).all()
    per_team: dict[str, list[int]] = {}
    for team_id, day, count in per_day:
        code = ref.teams.get(team_id, (str(team_id),))[0]
        per_team.setdefault(code, [0] * VISIT_WEEKS)[(day - span.start).days // 7] += int(count)
    cells = []
    for team_id, region_id, count in by_team_region:
        team_code, team_zh, team_en = ref.teams.get(team_id, (str(team_id), "", ""))
        region_code, region_zh, region_en = ref.regions.get(region_id, NOT_SET)
        cells.append(
            VisitCell(team_code, team_zh, team_en, region_code, region_zh, region_en, int(count))
        )
    region_order = {code: i for i, (code, _zh, _en) in enumerate(ref.regions.values())}
    cells.sort(key=lambda v: (v.team, v.region is None, region_order.get(v.region, 0)))
    return {
        "visits_by_team_region": cells,
        "visits_per_team_week": dict(sorted(per_team.items())),
        "visit_weeks": weeks,
    }


def _stalled_by_team(session: Session, scope: ReportScope, as_of: date, ref: Names) -> list[Any]:
    stalls = stalls_subquery(session, scope, as_of)
    rows = session.execute(
        select(
            Project.team_id,
            func.count(),
            func.coalesce(func.sum(Project.planned_investment), 0),
        )
        .where(Project.id.in_(select(stalls.c.project_id)))
        .group_by(Project.team_id)
    ).all()
    out = []
    for team_id, n, total in rows:
        code, zh, en = ref.teams.get(team_id, (str(team_id), "", ""))
        out.append((code, zh, en, Count(int(n), _amount(total))))
    return sorted(out, key=lambda r: r[0])


def compute(
    session: Session, scope: ReportScope, week: Week, *, as_of: date | None = None
) -> Metrics:
    """All the numbers for `scope` in `week` (a bounded number of queries).

    `as_of` (default: the week's end) is the day stalled projects are judged on; for the
    week in progress it is today.
    """
    where = scope.projects()
    as_of = min(as_of or week.end, week.end)
    ref = Names.load(session)
    groups = _groups(session, where, week, ref)
    targets = targets_for(
        session,
        scope,
        week.end.year,
        by_zone={g.key: g for g in groups["by_zone"] if g.key},
        by_team={g.key: g for g in groups["by_team"] if g.key},
    )
    return Metrics(
        week=week,
        scope=scope,
        computed_at=utcnow(),
        as_of=as_of,
        **_events(session, where, week),
        **_stages(session, where),
        by_chain=groups["by_chain"],
        by_zone=groups["by_zone"],
        by_team=groups["by_team"],
        team_names=groups["team_names"],
        targets=targets,
        signings_by_month=_signings_by_month(session, where, week),
        lead_times=_lead_times(session, where, week, ref),
        **_visits(session, scope, week, ref),
        stalled_by_team=_stalled_by_team(session, scope, as_of, ref),
    )

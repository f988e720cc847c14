"""A small, hand-checkable data set around the week 2025-W47 (17-23 November 2025)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from crm.accounts.models import Team, User
from crm.enums import Role, Stage
from crm.extensions import db
from crm.pipeline.models import Project, StageChange
from crm.reference.models import Region, Zone
from crm.reports.weeks import Week
from crm.visits.models import Visit
from tests import factories

WEEK = Week.parse("2025-W47")


def zone_id(code: str) -> int:
    return db.session.scalar(select(Zone.id).where(Zone.code == code))


def region_id(code: str) -> int:
    return db.session.scalar(select(Region.id).where(Region.code == code))


@dataclass
class Dataset:
    team_a: Team
    team_b: Team
    lead_a: User
    leader: User
    admin: User
    officer_a: User
    projects: dict[str, Project]


def visit(team: Team, author: User, on: date, region: str | None, **kw: Any) -> Visit:
    obj = Visit(
        on=on,
        type="visit",
        team_id=team.id,
        author_id=author.id,
        region_id=region_id(region) if region else None,
        **kw,
    )
    db.session.add(obj)
    db.session.flush()
    return obj


def project(team: Team, name: str, stage: Stage, amount: str | None, **kw: Any) -> Project:
    kw.setdefault("lead_on", None)
    return factories.project(team, name=name, stage=stage, amount=amount, **kw)


def build() -> Dataset:
    """Two teams' projects, visits and stage changes with dates around WEEK (see the test)."""
    team_a = factories.team("rpt-a", zone="changsha-etdz")
    team_b = factories.team("rpt-b", zone="wangcheng-etdz")
    lead_a = factories.user(Role.LEAD, team_a, name="甲队长")
    officer_a = factories.user(Role.OFFICER, team_a, name="甲专员")
    officer_b = factories.user(Role.OFFICER, team_b, name="乙专员")
    leader = factories.user(Role.LEADER)
    admin = factories.user(Role.ADMIN)
    etdz, wangcheng = zone_id("changsha-etdz"), zone_id("wangcheng-etdz")
    p: dict[str, Project] = {}
    p["A1"] = project(
        team_a, "甲一 签约本周", Stage.SIGNED, "50000", owner=officer_a,
        lead_on=date(2025, 6, 1), signed_on=date(2025, 11, 18), target_zone_id=etdz,
    )  # fmt: skip
    p["A2"] = project(
        team_a, "甲二 重点 开工本周", Stage.STARTED, "120000", owner=officer_a,
        chain="semiconductors-ic", signed_on=date(2025, 11, 12), landed_on=date(2025, 11, 19),
        started_on=date(2025, 11, 20), landed_zone_id=etdz, target_zone_id=etdz,
        is_key=True, key_reasons=["amount"],
    )  # fmt: skip
    p["A3"] = project(
        team_a, "甲三 签约未开工", Stage.SIGNED, "8000", owner=officer_a,
        signed_on=date(2025, 3, 1), target_zone_id=etdz,
    )  # fmt: skip
    p["A4"] = project(
        team_a, "甲四 落地后终止", Stage.DROPPED, "6000", signed_on=date(2025, 2, 1),
        landed_on=date(2025, 3, 1), dropped_on=date(2025, 5, 1), resume_stage=Stage.LANDED,
        drop_reason_code="other", landed_zone_id=etdz,
    )  # fmt: skip
    p["A5"] = project(team_a, "甲五 新线索", Stage.LEAD, None, lead_on=date(2025, 11, 17))
    p["A6"] = project(
        team_a, "甲六 投产本周", Stage.OPERATING, "20000", chain="ai-robotics",
        signed_on=date(2024, 5, 1), landed_on=date(2024, 6, 1), started_on=date(2024, 7, 1),
        operating_on=date(2025, 11, 21), landed_zone_id=etdz,
    )  # fmt: skip
    p["A7"] = project(
        team_a, "甲七 已删除", Stage.SIGNED, "99999", signed_on=date(2025, 11, 18),
        deleted_at=datetime(2025, 11, 20, tzinfo=UTC),
    )  # fmt: skip
    p["B1"] = project(
        team_b, "乙一 去年签约今年开工", Stage.STARTED, "30000", owner=officer_b,
        signed_on=date(2024, 11, 20), started_on=date(2025, 1, 10), landed_zone_id=wangcheng,
    )  # fmt: skip
    p["B2"] = project(
        team_b, "乙二 洽谈", Stage.NEGOTIATING, "1500", lead_on=date(2024, 3, 1),
        negotiating_on=date(2024, 4, 1), target_zone_id=wangcheng,
    )  # fmt: skip
    for key, on, before, after in (
        ("A1", date(2025, 11, 18), Stage.LEAD, Stage.SIGNED),
        ("A2", date(2025, 11, 19), Stage.SIGNED, Stage.LANDED),
        ("A2", date(2025, 11, 20), Stage.LANDED, Stage.STARTED),
        ("A6", date(2025, 11, 21), Stage.STARTED, Stage.OPERATING),
        ("B1", date(2025, 1, 10), Stage.SIGNED, Stage.STARTED),
    ):
        db.session.add(
            StageChange(
                project_id=p[key].id, from_stage=before, to_stage=after, on=on,
                user_id=officer_a.id,
            )
        )  # fmt: skip
    visit(team_a, officer_a, date(2025, 11, 17), "yangtze-delta")
    visit(team_a, officer_a, date(2025, 11, 19), "yangtze-delta")
    visit(team_a, lead_a, date(2025, 11, 23), None)
    visit(team_a, officer_a, date(2025, 11, 12), "jing-jin-ji")
    visit(team_b, officer_b, date(2025, 11, 18), "jing-jin-ji")
    visit(team_b, officer_b, date(2025, 11, 20), "jing-jin-ji")
    visit(team_b, officer_b, date(2025, 11, 21), "jing-jin-ji", deleted_at=datetime.now(UTC))
    db.session.flush()
    return Dataset(team_a, team_b, lead_a, leader, admin, officer_a, p)


def amount(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))

"""Helpers for the tests of incentives in the app (database, pages, API)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from crm.enums import Role, Stage
from crm.extensions import db
from crm.incentives.facts import facts_to_json, validate_facts
from crm.pipeline.models import Project
from crm.reference.models import Zone
from tests import factories

ROOT = Path(__file__).resolve().parents[2]
SEED_POLICIES = ROOT / "seed" / "policies"
MOFCOM = "mofcom-national-etdz-2025"
CHANGSHA_ETDZ = "changsha-etdz-manufacturing-2025"
CHANGNING = "shanghai-changning-industrial-system-2024"
HITECH = "guofa-2020-7-national-hitech"


def seed_text(policy_id: str) -> str:
    return (SEED_POLICIES / f"{policy_id}.yaml").read_text(encoding="utf-8")


def changed_policy_text(end: str = "2030-12-31") -> str:
    """The MOFCOM seed policy with an end date added (a real change, still valid)."""
    text = seed_text(MOFCOM)
    assert "effective_to: null" in text
    return text.replace("effective_to: null", f"effective_to: {end}", 1)


def zone_id(code: str) -> int:
    found = db.session.scalar(select(Zone.id).where(Zone.code == code))
    assert found is not None, code
    return found


def project_in(
    team: Any,
    *,
    landed: str | None = None,
    target: str | None = None,
    facts: dict[str, Any] | None = None,
    amount: str | None = "5000",
    **kw: Any,
) -> Project:
    """A project with zones and validated incentive facts."""
    normalised, errors = validate_facts(facts or {})
    assert not errors, errors
    return factories.project(
        team,
        amount=amount,
        stage=Stage.LANDED if landed else Stage.SIGNED,
        landed_zone_id=zone_id(landed) if landed else None,
        target_zone_id=zone_id(target or landed) if (target or landed) else None,
        facts=facts_to_json(normalised),
        **kw,
    )


def officer_with_team() -> tuple[Any, Any]:
    """An officer who reads the product's default language, Chinese."""
    team = factories.team()
    return factories.user(Role.OFFICER, team, locale="zh_CN"), team


def bearer(user: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {factories.token(user)}"}


def money(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)

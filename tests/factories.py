"""Factories for test data: plain functions that add rows and flush."""

from __future__ import annotations

import functools
import itertools
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from crm.accounts.models import ApiToken, Team, User
from crm.enums import Role, Stage
from crm.extensions import db
from crm.pipeline.models import Company, Project, ProjectShare
from crm.pipeline.names import normalize_company_name, search_blob
from crm.reference.models import IndustrialChain, Zone
from crm.security import hash_password, hash_token, new_token

_seq = itertools.count(1)


@functools.cache
def _password_hash() -> str:
    from tests.conftest import PASSWORD

    return hash_password(PASSWORD)


def team(code: str | None = None, zone: str | None = "changsha-etdz") -> Team:
    n = next(_seq)
    zone_id = db.session.scalar(select(Zone.id).where(Zone.code == zone)) if zone else None
    obj = Team(code=code or f"team-{n}", name_zh=f"招商{n}队", name_en=f"Team {n}", zone_id=zone_id)
    db.session.add(obj)
    db.session.flush()
    return obj


def user(role: Role = Role.OFFICER, team_obj: Team | None = None, **kw: Any) -> User:
    n = next(_seq)
    if team_obj is None and role in (Role.OFFICER, Role.LEAD):
        team_obj = team()
    # Tests read English pages unless they ask for Chinese (the product's default is
    # covered in tests/test_app.py).
    kw.setdefault("locale", "en")
    obj = User(
        email=kw.pop("email", f"user{n}@example.com"),
        name=kw.pop("name", f"用户{n}"),
        password_hash=_password_hash(),
        role=role,
        team_id=team_obj.id if team_obj else None,
        **kw,
    )
    db.session.add(obj)
    db.session.flush()
    return obj


def token(owner: User) -> str:
    secret = new_token()
    db.session.add(
        ApiToken(user_id=owner.id, name="test", token_hash=hash_token(secret), prefix=secret[:10])
    )
    db.session.flush()
    return secret


def company(name: str | None = None, **kw: Any) -> Company:
    name = name or f"测试{next(_seq)}科技有限公司"
    obj = Company(
        name=name,
        normalized_name=normalize_company_name(name),
        search_blob=search_blob(name, kw.get("aliases", []), kw.get("name_en")),
        **kw,
    )
    db.session.add(obj)
    db.session.flush()
    return obj


def project(
    team_obj: Team,
    *,
    owner: User | None = None,
    stage: Stage = Stage.LEAD,
    amount: str | None = "5000",
    chain: str | None = "automobile",
    company_obj: Company | None = None,
    **kw: Any,
) -> Project:
    company_obj = company_obj or company()
    chain_id = (
        db.session.scalar(select(IndustrialChain.id).where(IndustrialChain.code == chain))
        if chain
        else None
    )
    name = kw.pop("name", f"项目{next(_seq)}")
    obj = Project(
        name=name,
        company_id=company_obj.id,
        team_id=team_obj.id,
        owner_id=owner.id if owner else None,
        stage=stage,
        chain_id=chain_id,
        planned_investment=Decimal(amount) if amount is not None else None,
        lead_on=kw.pop("lead_on", date(2026, 1, 5)),
        search_blob=search_blob(name, [company_obj.name], None),
        **kw,
    )
    db.session.add(obj)
    db.session.flush()
    return obj


def share(project_obj: Project, team_obj: Team, can_edit: bool = False) -> ProjectShare:
    obj = ProjectShare(project_id=project_obj.id, team_id=team_obj.id, can_edit=can_edit)
    db.session.add(obj)
    db.session.flush()
    return obj

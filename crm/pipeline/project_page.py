"""What the project page, the change history and a refused save show, in a few queries.

`load_page` reads the project with every name it shows in one joined query, plus the shares
and (for a dropped project) the drop reason; nothing here grows with the number of projects.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from crm.accounts.models import Team, User
from crm.enums import Role
from crm.i18n import is_english, label, money_wan, stage_label
from crm.pipeline import keys, timeline
from crm.pipeline.access import can_lead, project_scope
from crm.pipeline.changes import FieldChange
from crm.pipeline.models import Company, Project, ProjectShare
from crm.reference.models import DropReason, IndustrialChain, Region, Zone

FIELD_LABELS: dict[str, Any] = {
    "name": _l("Project name"),
    "name_en": _l("English name"),
    "company_id": _l("Investor (id)"),
    "company_name": _l("Investor"),
    "chain": _l("Industrial chain"),
    "target_zone": _l("Target zone"),
    "landed_zone": _l("Landed in zone"),
    "planned_investment": _l("Planned investment (万元)"),
    "foreign_capital_usd": _l("Foreign capital (US dollars)"),
    "source_region": _l("Source region"),
    "owner_id": _l("Owner"),
    "team": _l("Team"),
    "notes": _l("Notes"),
    "external_id": _l("External id"),
    "stage": _l("Stage"),
    "is_key": _l("Key project"),
    "key_reasons": _l("Key-project reasons"),
    "key_manual": _l("Marked key by a lead"),
    "key_manual_reason": _l("Reason for the key mark"),
    "reason": _l("Reason"),
    "note": _l("Note"),
    "drop_reason": _l("Why it was dropped"),
    "resume_stage": _l("Stage before the side state"),
    "deleted_at": _l("Deleted"),
}
ACTION_LABELS: dict[str, Any] = {
    "create": _l("Created"),
    "update": _l("Edited"),
    "stage_change": _l("Stage changed"),
    "share": _l("Shared"),
    "unshare": _l("Sharing ended"),
    "reassign": _l("Reassigned"),
    "key_mark": _l("Marked as key"),
    "key_unmark": _l("Key mark removed"),
    "delete": _l("Deleted"),
    "restore": _l("Restored"),
    "chain_merge": _l("Chain merged into another"),
}


def field_label(field: str) -> str:
    if field in FIELD_LABELS:
        return str(FIELD_LABELS[field])
    if field.endswith("_on"):
        return str(_l("Date: %(stage)s", stage=stage_label(field[:-3])))
    if field.startswith("share:"):
        return str(_l("Shared with %(team)s", team=field.split(":", 1)[1]))
    return field


def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))


@dataclass(frozen=True)
class ProjectPage:
    project: Project
    company_name: str
    company_name_en: str | None
    chain: IndustrialChain | None
    target_zone: Zone | None
    landed_zone: Zone | None
    region: Region | None
    team: Team
    owner_name: str | None
    shares: list[tuple[ProjectShare, Team]]
    drop_reason: DropReason | None
    key_reasons: list[str]
    timeline: list[timeline.TimelineStep]
    signing_to_start: int | None
    can_edit: bool
    can_lead: bool


@functools.cache
def _page_stmt() -> Any:
    """The project with every name the page shows (built once: aliases are costly)."""
    target, landed = aliased(Zone), aliased(Zone)
    return (
        select(Project, Company.name, Company.name_en, IndustrialChain, target, landed, Region)
        .add_columns(Team, func.coalesce(func.nullif(User.name, ""), User.email))
        .join(Company, Company.id == Project.company_id)
        .join(Team, Team.id == Project.team_id)
        .outerjoin(IndustrialChain, IndustrialChain.id == Project.chain_id)
        .outerjoin(target, target.id == Project.target_zone_id)
        .outerjoin(landed, landed.id == Project.landed_zone_id)
        .outerjoin(Region, Region.id == Project.source_region_id)
        .outerjoin(User, User.id == Project.owner_id)
    )


def load_page(session: Session, user: Any, project_id: int) -> ProjectPage | None:
    """Everything the project page shows, or None when `user` may not see the project."""
    row = session.execute(_page_stmt().where(Project.id == project_id, project_scope(user))).first()
    if row is None:
        return None
    project, company_name, company_name_en, chain, tzone, lzone, region, team, owner = row
    shares = [
        (share, share_team)
        for share, share_team in session.execute(
            select(ProjectShare, Team)
            .join(Team, Team.id == ProjectShare.team_id)
            .where(ProjectShare.project_id == project.id)
            .order_by(Team.code)
        )
    ]
    drop = session.get(DropReason, project.drop_reason_code) if project.drop_reason_code else None
    editable = user.role != Role.LEADER and (
        user.role == Role.ADMIN
        or project.team_id == user.team_id
        or any(s.can_edit and s.team_id == user.team_id for s, _ in shares)
    )
    reasons = list(project.key_reasons or [])
    threshold = money_words(keys.key_threshold(session)) if "amount" in reasons else ""
    return ProjectPage(
        project=project,
        company_name=company_name,
        company_name_en=company_name_en,
        chain=chain,
        target_zone=tzone,
        landed_zone=lzone,
        region=region,
        team=team,
        owner_name=owner,
        shares=shares,
        drop_reason=drop,
        key_reasons=[
            keys.describe_reason(r, threshold, project.key_manual_reason) for r in reasons
        ],
        timeline=timeline.stage_timeline(project),
        signing_to_start=timeline.days_signing_to_start(project),
        can_edit=editable,
        can_lead=can_lead(user, project),
    )


def money_words(wan: Decimal) -> str:
    """An amount in 万元 as a reader says it: 10亿元 (1,000 M CNY in English)."""
    text = money_wan(wan)
    return text if is_english() else text.replace(" ", "")


# --- describing changed values -------------------------------------------------------------

_CODED = {
    "chain": IndustrialChain,
    "target_zone": Zone,
    "landed_zone": Zone,
    "source_region": Region,
    "team": Team,
}


def _names_for(session: Session, model: Any, codes: set[str]) -> dict[str, str]:
    if not codes:
        return {}
    return {
        obj.code: label(obj) for obj in session.scalars(select(model).where(model.code.in_(codes)))
    }


class ValueNames:
    """Turns stored values (codes, user ids, stage keys) into words, loading names in bulk."""

    def __init__(self, session: Session, pairs: Iterable[tuple[str, Any]]) -> None:
        pairs = list(pairs)
        self.users: dict[int, str] = {}
        user_ids = {v for f, v in pairs if f == "owner_id" and isinstance(v, int)}
        if user_ids:
            self.users = {
                uid: name or email
                for uid, name, email in session.execute(
                    select(User.id, User.name, User.email).where(User.id.in_(user_ids))
                )
            }
        self.codes: dict[str, dict[str, str]] = {}
        by_model: dict[Any, set[str]] = {}
        for f, v in pairs:
            if f in _CODED and isinstance(v, str):
                by_model.setdefault(_CODED[f], set()).add(v)
        for model, codes in by_model.items():
            self.codes[model.__name__] = _names_for(session, model, codes)

    def text(self, field: str, value: Any) -> str:
        if value is None or value == "" or value == []:
            return "—"
        if field == "owner_id":
            return self.users.get(value, f"#{value}")
        if field in _CODED:
            return self.codes.get(_CODED[field].__name__, {}).get(value, str(value))
        if field in ("stage", "resume_stage"):
            return stage_label(value)
        if field in ("planned_investment", "foreign_capital_usd"):
            return str(value)
        if isinstance(value, bool):
            return str(_l("yes")) if value else str(_l("no"))
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        if isinstance(value, date | datetime):
            return value.isoformat()
        if field.startswith("share:"):
            return str(_l("read and edit")) if value == "edit" else str(_l("read only"))
        return str(value)


@dataclass(frozen=True)
class ChangeLine:
    label: str
    value: str
    by: str | None
    at: datetime


def describe_conflict(session: Session, changes: list[FieldChange]) -> list[ChangeLine]:
    """What the others changed, field by field, in words for the form's message."""
    names = ValueNames(session, [(c.field, c.value) for c in changes])
    return [
        ChangeLine(field_label(c.field), names.text(c.field, c.value), c.user_name, c.at)
        for c in changes
        if c.field not in ("is_key", "key_reasons", "key_manual", "company_id")
    ]

"""Helpers shared by the feature's views: choices for forms, dates, errors onto fields."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.accounts.models import Team, User
from crm.i18n import is_english
from crm.pipeline.access import project_scope
from crm.pipeline.models import Company, Project
from crm.reference.models import Region, Zone
from crm.visits.event_models import Event
from crm.visits.leads import local_today
from crm.visits.models import Contact
from crm.web import MAX_ID

__all__ = ["local_today", "now_utc"]


def now_utc() -> datetime:
    return datetime.now(UTC)


def int_arg(name: str) -> int | None:
    value = request.args.get(name, type=int)
    return value if value and 0 < value <= MAX_ID else None


def as_int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if 0 < number <= MAX_ID else None


def field_error(form: FlaskForm, field: str, message: str) -> None:
    """Show a service's error beside the field it names, else at the top of the form."""
    target = getattr(form, field, None)
    if target is not None and hasattr(target, "errors"):
        if isinstance(target.errors, dict):  # a FieldList of subforms
            form.form_errors.append(message)
            return
        target.errors = [*target.errors, message]
    else:
        form.form_errors.append(message)


def user_choices(session: Session, me: User) -> list[tuple[int, str]]:
    """Active users, the user's own team first, labelled with their team."""
    rows = session.execute(
        select(
            User.id, func.coalesce(func.nullif(User.name, ""), User.email), Team.code, User.team_id
        )
        .outerjoin(Team, Team.id == User.team_id)
        .where(User.active.is_(True))
        .order_by((User.team_id == me.team_id).desc(), Team.code, User.name, User.id)
    ).all()
    return [(uid, f"{name} ({team})" if team else name) for uid, name, team, _ in rows]


def team_member_choices(session: Session, team_ids: set[int], me: User) -> list[tuple[int, str]]:
    rows = session.execute(
        select(User.id, func.coalesce(func.nullif(User.name, ""), User.email))
        .where(User.active.is_(True), (User.team_id.in_(team_ids)) | (User.id == me.id))
        .order_by((User.id == me.id).desc(), User.name, User.id)
    ).all()
    return [(uid, name) for uid, name in rows]


def region_choices(session: Session) -> list[tuple[str, str]]:
    regions = session.scalars(select(Region).order_by(Region.sort, Region.id)).all()
    english = is_english()
    return [("", str(_l("— suggest from the city —")))] + [
        (r.code, (r.name_en if english else r.name_zh) or r.code) for r in regions
    ]


def zone_choices(session: Session) -> list[tuple[int | None, str]]:
    zones = session.scalars(select(Zone).where(Zone.active.is_(True)).order_by(Zone.id)).all()
    english = is_english()
    return [(None, "—")] + [(z.id, (z.name_en if english else z.name_zh) or z.code) for z in zones]


def team_choices(session: Session) -> list[tuple[int, str]]:
    return [
        (tid, f"{name} ({code})")
        for tid, code, name in session.execute(
            select(Team.id, Team.code, Team.name_zh)
            .where(Team.active.is_(True))
            .order_by(Team.code)
        )
    ]


def event_choices(session: Session, selected: int | None = None) -> list[tuple[int | None, str]]:
    rows = session.execute(
        select(Event.id, Event.name, Event.on)
        .where(Event.deleted_at.is_(None))
        .order_by(Event.on.desc().nulls_last(), Event.id.desc())
        .limit(50)
    ).all()
    choices: list[tuple[int | None, str]] = [(None, "—")]
    ids = set()
    for eid, name, on in rows:
        ids.add(eid)
        choices.append((eid, f"{on.isoformat() if on else '?'} {name}"))
    if selected and selected not in ids:
        event = session.get(Event, selected)
        if event is not None:
            choices.append((event.id, event.name))
    return choices


def company_projects(
    session: Session, user: User, company_id: int | None, extra_ids: list[int] | None = None
) -> list[tuple[int, str]]:
    """Projects of a company the user may see (and any already chosen), for a select."""
    conditions = []
    if company_id:
        conditions.append(Project.company_id == company_id)
    if extra_ids:
        conditions.append(Project.id.in_(extra_ids))
    if not conditions:
        return []
    condition = conditions[0] if len(conditions) == 1 else conditions[0] | conditions[1]
    rows = session.execute(
        select(Project.id, Project.name)
        .where(condition, project_scope(user))
        .order_by(Project.updated_at.desc(), Project.id.desc())
        .limit(100)
    ).all()
    return [(pid, name) for pid, name in rows]


def company_contacts(
    session: Session, company_id: int | None, extra_ids: list[int] | None = None
) -> list[tuple[int, str]]:
    conditions = []
    if company_id:
        conditions.append(Contact.company_id == company_id)
    if extra_ids:
        conditions.append(Contact.id.in_(extra_ids))
    if not conditions:
        return []
    condition = conditions[0] if len(conditions) == 1 else conditions[0] | conditions[1]
    rows = session.execute(
        select(Contact.id, Contact.name, Contact.title)
        .where(condition, Contact.deleted_at.is_(None))
        .order_by(Contact.name, Contact.id)
        .limit(200)
    ).all()
    return [(cid, f"{name} · {title}" if title else name) for cid, name, title in rows]


def company_name(session: Session, company_id: int | None) -> str | None:
    if not company_id:
        return None
    return session.scalar(select(Company.name).where(Company.id == company_id))


def picked_company_id(session: Session, hidden_id: Any, typed_name: str | None) -> int | None:
    """The company chosen in a form: a candidate picked after a warning, else the hidden id
    the suggestions filled in, unless the typed name has since changed (then the name wins,
    and an empty name means no company)."""
    picked = as_int(request.form.get("company_pick"))
    if picked:
        return picked
    company_id = as_int(hidden_id)
    if company_id is None:
        return None
    name = company_name(session, company_id)
    typed = (typed_name or "").strip()
    if name is None or typed != name:
        return None
    return company_id

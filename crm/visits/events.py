"""Promotion events and signing ceremonies, and signing their projects in one action.

Signing at an event (`sign_at_event`) marks the chosen linked projects (default: all
linked projects the user may change) signed on the event's date, through the pipeline's
`transition`, so each project's history records it with a note naming the event.
Decisions:
- A chosen project the user may not see (another team's, unless shared with theirs) is
  answered exactly like a missing one (`ProjectNotVisible`, 404): nothing is signed,
  linked or unlinked, nothing is recorded.
- A lead project skips the negotiating stage; the skipped stage gets the event's date.
- Results are per project by default: each project is signed in its own savepoint, so one
  that cannot be signed (already past signing, dropped, a stage date after the event,
  no right to change it) is reported with the reason while the others are signed. With
  `all_or_nothing=True` nothing is signed unless every project can be.
- A project already signed on the event's date is reported as such and left unchanged.
- "Signed at the event" (the count and amount on the event page) means a linked project
  whose signing date is the event's date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from crm import audit
from crm.accounts.models import User
from crm.enums import MAIN_STAGES, Role, Stage
from crm.pipeline.access import can_edit, project_scope
from crm.pipeline.models import Company, Project, ProjectShare
from crm.pipeline.stages import TransitionError, plan, transition
from crm.reference.models import Zone
from crm.visits.event_models import Event, EventKind, event_project


class EventError(ValueError):
    def __init__(self, message: object, field: str) -> None:
        super().__init__(str(message))
        self.field = field


class ProjectNotVisible(EventError):
    """A chosen project does not exist or the user may not see it (answered 404 alike)."""

    def __init__(self, message: object = None) -> None:
        default = _l("One of the projects does not exist or is not visible to you.")
        super().__init__(message or default, "project_ids")


def _require_visible(session: Session, user: User, project_ids: set[int]) -> None:
    """Raise ProjectNotVisible unless `user` may see every one of `project_ids`."""
    if not project_ids:
        return
    visible = set(
        session.scalars(select(Project.id).where(Project.id.in_(project_ids), project_scope(user)))
    )
    if visible != project_ids:
        raise ProjectNotVisible()


@dataclass
class EventInput:
    name: str
    kind: str = EventKind.SIGNING.value
    on: date | None = None
    place: str | None = None
    organiser: str | None = None
    zone_id: int | None = None
    notes: str | None = None
    name_en: str | None = None
    reported_projects: int | None = None
    reported_total: Decimal | None = None


def _values(session: Session, data: EventInput) -> dict[str, Any]:
    name = (data.name or "").strip()
    if not name:
        raise EventError(_l("Give the event's name."), "name")
    if len(name) > 300:
        raise EventError(_l("At most %(n)d characters.", n=300), "name")
    if data.kind not in {k.value for k in EventKind}:
        raise EventError(_l("Choose the kind of event."), "kind")
    if data.zone_id is not None and session.get(Zone, data.zone_id) is None:
        raise EventError(_l("No such zone."), "zone_id")
    if data.reported_projects is not None and data.reported_projects < 0:
        raise EventError(_l("Give a positive number."), "reported_projects")
    if data.reported_total is not None and data.reported_total < 0:
        raise EventError(_l("Give a positive amount."), "reported_total")
    values: dict[str, Any] = {
        "name": name,
        "kind": data.kind,
        "on": data.on,
        "zone_id": data.zone_id,
        "reported_projects": data.reported_projects,
        "reported_total": data.reported_total,
    }
    for key, limit in (("place", 200), ("organiser", 200), ("name_en", 400)):
        text = (getattr(data, key) or "").strip()
        if len(text) > limit:
            raise EventError(_l("At most %(n)d characters.", n=limit), key)
        values[key] = text or None
    values["notes"] = (data.notes or "").strip() or None
    return values


def create_event(session: Session, user: User, data: EventInput, team_id: int) -> Event:
    event = Event(**_values(session, data), team_id=team_id, created_by_id=user.id)
    session.add(event)
    session.flush()
    audit.record(
        session,
        user_id=user.id,
        entity_type="event",
        entity_id=event.id,
        action="create",
        changes={"name": [None, event.name], "on": [None, _iso(event.on)]},
    )
    return event


def update_event(session: Session, user: User, event: Event, data: EventInput) -> Event:
    changes = {}
    for key, value in _values(session, data).items():
        old = getattr(event, key)
        if old != value:
            changes[key] = [_iso(old), _iso(value)]
            setattr(event, key, value)
    if changes:
        audit.record(
            session,
            user_id=user.id,
            entity_type="event",
            entity_id=event.id,
            action="update",
            changes=changes,
        )
    session.flush()
    return event


def _iso(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def link_projects(session: Session, user: User, event: Event, project_ids: list[int]) -> int:
    """Link projects the user may see to the event; returns how many were newly linked."""
    wanted = sorted(set(project_ids))
    if not wanted:
        raise EventError(_l("Choose at least one project."), "project_ids")
    _require_visible(session, user, set(wanted))
    already = set(
        session.scalars(
            select(event_project.c.project_id).where(
                event_project.c.event_id == event.id, event_project.c.project_id.in_(wanted)
            )
        )
    )
    new = [pid for pid in wanted if pid not in already]
    if new:
        session.execute(
            insert(event_project), [{"event_id": event.id, "project_id": pid} for pid in new]
        )
        audit.record(
            session,
            user_id=user.id,
            entity_type="event",
            entity_id=event.id,
            action="link_projects",
            changes={"project_ids": [None, new]},
        )
    session.flush()
    return len(new)


def unlink_project(session: Session, user: User, event: Event, project_id: int) -> None:
    """Unlink a project the user may see from the event (ProjectNotVisible when the project
    is hidden from them or not linked: nothing changes, nothing is recorded)."""
    _require_visible(session, user, {project_id})
    removed = session.execute(
        delete(event_project).where(
            event_project.c.event_id == event.id, event_project.c.project_id == project_id
        )
    )
    if not removed.rowcount:
        raise ProjectNotVisible(_l("The project is not linked to this event."))
    audit.record(
        session,
        user_id=user.id,
        entity_type="event",
        entity_id=event.id,
        action="unlink_project",
        changes={"project_id": [project_id, None]},
    )
    session.flush()


@dataclass(frozen=True)
class SignResult:
    project_id: int
    name: str
    status: str  # "signed", "already_signed" or "refused"
    message: str | None = None


def sign_at_event(
    session: Session,
    user: User,
    event: Event,
    *,
    today: date,
    project_ids: list[int] | None = None,
    all_or_nothing: bool = False,
) -> list[SignResult]:
    """Sign the event's linked projects on its date (see the module docstring)."""
    if event.on is None:
        raise EventError(_l("Give the event's date before signing at it."), "on")
    if event.on > today:
        raise EventError(_l("The event has not happened yet."), "on")
    stmt = (
        select(Project)
        .join(event_project, event_project.c.project_id == Project.id)
        .where(event_project.c.event_id == event.id, project_scope(user))
        .order_by(Project.id)
    )
    if project_ids is not None:
        wanted = set(project_ids)
        if not wanted:
            raise EventError(_l("Choose at least one project."), "project_ids")
        # Another team's project answers exactly like a missing one, before anything else.
        _require_visible(session, user, wanted)
        stmt = stmt.where(Project.id.in_(wanted))
    projects = list(session.scalars(stmt))
    if project_ids is not None and {p.id for p in projects} != set(project_ids):
        raise EventError(_l("One of the projects is not linked to this event."), "project_ids")
    if not projects:
        raise EventError(_l("No project is linked to this event."), "project_ids")

    note = str(_l("Signed at the event: %(name)s", name=event.name))
    outer = session.begin_nested() if all_or_nothing else None
    results = [_sign_one(session, user, project, event.on, note, today) for project in projects]
    refused = [r for r in results if r.status == "refused"]
    if outer is not None:
        if refused:
            outer.rollback()
            raise SignRefused(results)
        outer.commit()
    signed = [r.project_id for r in results if r.status == "signed"]
    audit.record(
        session,
        user_id=user.id,
        entity_type="event",
        entity_id=event.id,
        action="sign",
        changes={
            "signed_project_ids": [None, signed],
            "refused_project_ids": [None, [r.project_id for r in refused]],
        },
    )
    session.flush()
    return results


class SignRefused(Exception):
    """All-or-nothing signing found projects that cannot be signed (nothing was changed)."""

    def __init__(self, results: list[SignResult]) -> None:
        super().__init__("some projects cannot be signed")
        self.results = results


def _sign_one(
    session: Session, user: User, project: Project, on: date, note: str, today: date
) -> SignResult:
    def refused(message: object) -> SignResult:
        return SignResult(project.id, project.name, "refused", str(message))

    if project.stage == Stage.SIGNED and project.signed_on == on:
        return SignResult(project.id, project.name, "already_signed")
    if not can_edit(session, user, project):
        return refused(_l("You may not change this project."))
    if project.stage == Stage.DROPPED:
        return refused(_l("The project is dropped: reopen it first."))
    base = project.stage if project.stage in MAIN_STAGES else (project.resume_stage or Stage.LEAD)
    if MAIN_STAGES.index(base) >= MAIN_STAGES.index(Stage.SIGNED):
        return refused(_l("Already signed on %(day)s.", day=_iso(project.signed_on) or "?"))
    savepoint = session.begin_nested()
    try:
        steps = plan(project, Stage.SIGNED)
        transition(
            session,
            project,
            to=Stage.SIGNED,
            on=on,
            user_id=user.id,
            note=note,
            # Decision: a stage skipped on the way (negotiating) is dated the event's day.
            skipped_dates={stage: on for stage in steps.skipped},
            today=today,
        )
    except TransitionError as exc:
        savepoint.rollback()
        return refused(exc)
    savepoint.commit()
    return SignResult(project.id, project.name, "signed")


@dataclass(frozen=True)
class LinkedProject:
    project: Project
    company_name: str
    signed_here: bool
    can_edit: bool


@dataclass(frozen=True)
class EventSummary:
    projects: list[LinkedProject]
    signed_count: int
    signed_amount: Decimal
    hidden_count: int  # linked projects the viewer may not see


def event_summary(session: Session, user: User, event: Event) -> EventSummary:
    """The linked projects the viewer may see and the count and amount signed there."""
    rows = session.execute(
        select(Project, Company.name)
        .join(event_project, event_project.c.project_id == Project.id)
        .join(Company, Company.id == Project.company_id)
        .where(event_project.c.event_id == event.id, project_scope(user))
        .order_by(Project.signed_on.desc(), Project.id)
    ).all()
    linked_total = (
        session.scalar(
            select(func.count())
            .select_from(event_project)
            .join(Project, Project.id == event_project.c.project_id)
            .where(event_project.c.event_id == event.id, Project.deleted_at.is_(None))
        )
        or 0
    )
    editable_shares: set[int] = set()
    if user.role in (Role.OFFICER, Role.LEAD) and rows:
        editable_shares = set(
            session.scalars(
                select(ProjectShare.project_id).where(
                    ProjectShare.team_id == user.team_id,
                    ProjectShare.can_edit.is_(True),
                    ProjectShare.project_id.in_([p.id for p, _ in rows]),
                )
            )
        )
    projects = []
    for project, company_name in rows:
        signed_here = event.on is not None and project.signed_on == event.on
        editable = user.role == Role.ADMIN or (
            user.role != Role.LEADER
            and (project.team_id == user.team_id or project.id in editable_shares)
        )
        projects.append(LinkedProject(project, company_name, signed_here, editable))
    signed = [p.project for p in projects if p.signed_here]
    return EventSummary(
        projects=projects,
        signed_count=len(signed),
        signed_amount=sum((p.planned_investment or Decimal(0) for p in signed), Decimal(0)),
        hidden_count=linked_total - len(projects),
    )

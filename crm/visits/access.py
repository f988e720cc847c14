"""Who may see and change visits, tasks, events and attachments.

- A visit is visible to its team, to its participants, and to anyone who may see one of
  the projects it is linked to; leaders and admins see all. Its team, its author and
  admins may change it.
- A task is visible to its team, its owner, and anyone who may see its project. Its owner,
  its team and admins may complete or change it.
- Events are public happenings (a ceremony's name, date and place are announced): every
  signed-in user sees them, but the projects linked to an event are shown only where the
  viewer may see the project. The event's team and admins change it.
- An attachment is visible exactly when its parent record is; it is changed by those who
  may change the parent.
- A person's visit page (the visits they logged or took part in) is open to that person,
  to the lead of their team, and to leaders and admins; it lists only the visits the
  viewer may see.
Leaders read everything and change nothing. What a user may not see answers 404.
"""

from __future__ import annotations

from sqlalchemy import exists, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement
from werkzeug.exceptions import NotFound

from crm.accounts.models import User
from crm.enums import Role
from crm.pipeline.access import can_edit, project_scope
from crm.pipeline.models import Project
from crm.visits.event_models import Attachment, Event
from crm.visits.models import Task, Visit, visit_participant, visit_project


def visit_scope(user: User) -> ColumnElement[bool]:
    """A WHERE clause selecting the (non-deleted) visits `user` may see."""
    alive = Visit.deleted_at.is_(None)
    if user.sees_all_teams:
        return alive & true()
    participant = exists().where(
        visit_participant.c.visit_id == Visit.id, visit_participant.c.user_id == user.id
    )
    linked = exists().where(
        visit_project.c.visit_id == Visit.id,
        visit_project.c.project_id == Project.id,
        project_scope(user),
    )
    return alive & ((Visit.team_id == user.team_id) | participant | linked)


def task_scope(user: User) -> ColumnElement[bool]:
    """A WHERE clause selecting the (non-deleted) tasks `user` may see."""
    alive = Task.deleted_at.is_(None)
    if user.sees_all_teams:
        return alive & true()
    linked = exists().where(Project.id == Task.project_id, project_scope(user))
    return alive & ((Task.team_id == user.team_id) | (Task.owner_id == user.id) | linked)


def event_scope(user: User) -> ColumnElement[bool]:
    return Event.deleted_at.is_(None) & true()


def get_visible_visit(session: Session, user: User, visit_id: int) -> Visit:
    visit = session.scalar(select(Visit).where(Visit.id == visit_id, visit_scope(user)))
    if visit is None:
        raise NotFound()
    return visit


def get_visible_task(session: Session, user: User, task_id: int) -> Task:
    task = session.scalar(select(Task).where(Task.id == task_id, task_scope(user)))
    if task is None:
        raise NotFound()
    return task


def get_visible_event(session: Session, user: User, event_id: int) -> Event:
    event = session.scalar(select(Event).where(Event.id == event_id, event_scope(user)))
    if event is None:
        raise NotFound()
    return event


def _writer(user: User) -> bool:
    return user.role != Role.LEADER


def can_edit_visit(user: User, visit: Visit) -> bool:
    if user.role == Role.ADMIN:
        return True
    return _writer(user) and (visit.team_id == user.team_id or visit.author_id == user.id)


def can_change_task(user: User, task: Task) -> bool:
    if user.role == Role.ADMIN:
        return True
    return _writer(user) and (task.owner_id == user.id or task.team_id == user.team_id)


def can_edit_event(user: User, event: Event) -> bool:
    if user.role == Role.ADMIN:
        return True
    return _writer(user) and event.team_id == user.team_id


def attachment_parent_visible(session: Session, user: User, attachment: Attachment) -> bool:
    """Whether `user` may see the record `attachment` hangs on (one query)."""
    kind, parent_id = attachment.parent
    return parent_visible(session, user, kind, parent_id)


def parent_visible(session: Session, user: User, kind: str, parent_id: int) -> bool:
    if kind == "project":
        stmt = select(Project.id).where(Project.id == parent_id, project_scope(user))
    elif kind == "visit":
        stmt = select(Visit.id).where(Visit.id == parent_id, visit_scope(user))
    elif kind == "event":
        stmt = select(Event.id).where(Event.id == parent_id, event_scope(user))
    else:
        return False
    return session.scalar(stmt) is not None


def may_view_person(viewer: User, person: User) -> bool:
    """Whether `viewer` may open `person`'s visit page."""
    if viewer.id == person.id or viewer.sees_all_teams:
        return True
    return (
        viewer.role == Role.LEAD and viewer.team_id is not None and viewer.team_id == person.team_id
    )


def can_change_parent(session: Session, user: User, kind: str, parent_id: int) -> bool:
    """Whether `user` may attach files to (or remove them from) the record; assumes visible."""
    if kind == "project":
        project = session.get(Project, parent_id)
        return project is not None and can_edit(session, user, project)
    if kind == "visit":
        visit = session.get(Visit, parent_id)
        return visit is not None and can_edit_visit(user, visit)
    if kind == "event":
        event = session.get(Event, parent_id)
        return event is not None and can_edit_event(user, event)
    return False

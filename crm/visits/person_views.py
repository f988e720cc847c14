"""A person's visits, newest first: "My visits" and the page a lead opens for a member of
their team (leaders and admins for anyone)."""

from __future__ import annotations

from typing import Any

from flask import abort, render_template
from flask_login import current_user, login_required
from sqlalchemy import func, select

from crm.accounts.models import User
from crm.enums import Role
from crm.extensions import db
from crm.visits import queries
from crm.visits.access import may_view_person
from crm.visits.blueprint import bp
from crm.visits.forms import visit_type_labels
from crm.web import MAX_ID, page_number

__all__ = ["bp"]

PER_PAGE = 30


def _team_members(person: User) -> list[tuple[int, str]]:
    """The active members of the person's team, when the viewer oversees that team."""
    viewer = current_user
    oversees = viewer.sees_all_teams or (viewer.role == Role.LEAD and viewer.team_id is not None)
    if not oversees or person.team_id is None or not may_view_person(viewer, person):
        return []
    rows = db.session.execute(
        select(User.id, func.coalesce(func.nullif(User.name, ""), User.email))
        .where(User.team_id == person.team_id, User.active.is_(True))
        .order_by(User.name, User.id)
    ).all()
    return [(uid, name) for uid, name in rows]


def _render(person: User) -> Any:
    page = page_number()
    rows, total = queries.user_visits(
        db.session, current_user, person_id=person.id, page=page, per_page=PER_PAGE
    )
    return render_template(
        "visits/person_visits.html",
        person=person,
        is_me=person.id == current_user.id,
        members=_team_members(person),
        cap=queries.COUNT_CAP,
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        type_labels=visit_type_labels(),
    )


@bp.get("/me/visits")
@login_required
def my_visits() -> Any:
    return _render(current_user._get_current_object())


@bp.get("/users/<int:user_id>/visits")
@login_required
def person_visits(user_id: int) -> Any:
    """Someone's visits as the viewer may see them (404 for anyone else's team)."""
    person = db.session.get(User, user_id) if user_id <= MAX_ID else None
    if person is None or not may_view_person(current_user, person):
        abort(404)
    return _render(person)

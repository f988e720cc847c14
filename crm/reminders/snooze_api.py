"""Snoozing a project's reminders through the JSON API, as the project page's reminders
panel does: the active snoozes, snoozing one rule until a date with a reason, ending one.

Another team's project (and its snoozes) answers 404 like a missing one; snoozing and
ending need the right to change the project (leaders: 403). Both are recorded in the
project's history by the web's services.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import url_for
from pydantic import Field

from crm.api.framework import ApiError, Schema, api_user, route
from crm.extensions import db
from crm.pipeline.access import can_edit, get_visible_project
from crm.pipeline.models import Project
from crm.reminders import rules as R
from crm.reminders import services
from crm.reminders import settings as reminder_settings
from crm.reminders.models import ReminderSnooze


class SnoozeOut(Schema):
    id: int
    project_id: int
    rule: str
    rule_label: str
    until: dt.date = Field(description="inclusive")
    reason: str
    created_by_id: int | None
    created_at: dt.datetime
    cancelled_at: dt.datetime | None


class SnoozeList(Schema):
    items: list[SnoozeOut]


class SnoozeIn(Schema):
    rule: str = Field(description=f"one of {', '.join(R.RULE_CODES)}")
    until: dt.date = Field(description="inclusive; at most a year ahead")
    reason: str = Field(min_length=1, max_length=1000)


def snooze_out(row: ReminderSnooze) -> SnoozeOut:
    return SnoozeOut(
        id=row.id,
        project_id=row.project_id,
        rule=row.rule_code,
        rule_label=R.rule_label(row.rule_code),
        until=row.until,
        reason=row.reason,
        created_by_id=row.created_by_id,
        created_at=row.created_at,
        cancelled_at=row.cancelled_at,
    )


def _editable(project_id: int) -> Project:
    user = api_user()
    project = get_visible_project(db.session, user, project_id)  # 404 when hidden
    if not can_edit(db.session, user, project):
        raise ApiError(403, "You may read this project but not change it.")
    return project


@route(
    "/projects/<int:project_id>/snoozes",
    summary="A project's active snoozes (reminders of a rule paused until a date)",
    response=SnoozeList,
    tags=["reminders", "projects"],
)
def list_snoozes(project_id: int) -> SnoozeList:
    project = get_visible_project(db.session, api_user(), project_id)
    today = reminder_settings.current().today()
    active = services.active_snoozes(db.session, project.id, today)
    return SnoozeList(items=[snooze_out(row) for row in active])


@route(
    "/projects/<int:project_id>/snoozes",
    "POST",
    summary="Pause one rule's reminders about a project until a date, with a reason",
    body=SnoozeIn,
    response=SnoozeOut,
    status=201,
    tags=["reminders", "projects"],
    extra_responses=(403,),
)
def create_snooze(project_id: int, body: SnoozeIn) -> Any:
    project = _editable(project_id)
    try:
        row = services.snooze(
            db.session,
            project,
            rule_code=body.rule,
            until=body.until,
            reason=body.reason,
            actor_id=api_user().id,
            today=reminder_settings.current().today(),
        )
    except services.SnoozeError as exc:
        field = {"rule_code": "rule"}.get(exc.field, exc.field)
        raise ApiError(422, str(exc), [(field, str(exc))]) from exc
    db.session.commit()
    location = url_for("api.list_snoozes", project_id=project_id)
    return snooze_out(row), {"Location": location}


@route(
    "/projects/<int:project_id>/snoozes/<int:snooze_id>",
    "DELETE",
    summary="End a snooze: the rule's reminders resume",
    status=204,
    tags=["reminders", "projects"],
    extra_responses=(403,),
)
def delete_snooze(project_id: int, snooze_id: int) -> None:
    project = _editable(project_id)
    row = db.session.get(ReminderSnooze, snooze_id)
    if row is None or row.project_id != project.id:
        raise ApiError(404, "No such snooze.")
    services.cancel_snooze(db.session, row, api_user().id)
    db.session.commit()

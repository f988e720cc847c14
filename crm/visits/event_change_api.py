"""Changing an event through the JSON API, as its page does: editing its fields, linking
projects to it and unlinking them. The event's team and admins only (others 403, leaders
403); a project the caller may not see answers 404 like a missing one and nothing changes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field
from sqlalchemy import select

from crm.api.framework import Amount, ApiError, Schema, api_user, route
from crm.extensions import db
from crm.reference.models import Zone
from crm.visits import events as event_service
from crm.visits.event_api import (
    WRITERS,
    EventDetailOut,
    EventKindName,
    editable_event,
    event_detail_out,
    event_error,
)
from crm.visits.event_models import Event


class EventPatch(Schema):
    """Fields to change; those left out keep their value, null clears an optional one."""

    name: str | None = Field(None, min_length=1, max_length=300)
    kind: EventKindName | None = None
    date: dt.date | None = None
    place: str | None = Field(None, max_length=200)
    organiser: str | None = Field(None, max_length=200)
    zone: str | None = Field(None, description="zone code")
    reported_projects: int | None = Field(None, ge=0)
    reported_total: Amount | None = None
    notes: str | None = None


class LinkIn(Schema):
    project_ids: list[int] = Field(min_length=1, max_length=500)


class LinkOut(EventDetailOut):
    linked: int = Field(description="how many projects were newly linked")


def _patched_input(event: Event, body: EventPatch) -> event_service.EventInput:
    given = body.model_fields_set
    if "name" in given and body.name is None:
        raise ApiError(422, "Give the event's name.", [("name", "The name cannot be null.")])
    zone_id = event.zone_id
    if "zone" in given:
        zone_id = None
        if body.zone:
            zone_id = db.session.scalar(select(Zone.id).where(Zone.code == body.zone))
            if zone_id is None:
                raise ApiError(422, "Unknown zone.", [("zone", "No zone has this code.")])

    def pick(field: str, current: Any) -> Any:
        return getattr(body, field) if field in given else current

    return event_service.EventInput(
        name=pick("name", event.name),
        kind=pick("kind", event.kind) or event.kind,
        on=pick("date", event.on),
        place=pick("place", event.place),
        organiser=pick("organiser", event.organiser),
        zone_id=zone_id,
        notes=pick("notes", event.notes),
        name_en=event.name_en,
        reported_projects=pick("reported_projects", event.reported_projects),
        reported_total=pick("reported_total", event.reported_total),
    )


@route(
    "/events/<int:event_id>",
    "PATCH",
    summary="Change an event's fields (its team or an admin); recorded",
    body=EventPatch,
    response=EventDetailOut,
    roles=WRITERS,
    tags=["events"],
)
def update_event(event_id: int, body: EventPatch) -> EventDetailOut:
    event = editable_event(event_id)
    try:
        event_service.update_event(db.session, api_user(), event, _patched_input(event, body))
    except event_service.EventError as exc:
        raise event_error(exc) from exc
    db.session.commit()
    return event_detail_out(event)


@route(
    "/events/<int:event_id>/projects",
    "POST",
    summary="Link projects the caller may see to an event (404 for one they may not see)",
    body=LinkIn,
    response=LinkOut,
    roles=WRITERS,
    tags=["events"],
)
def link_event_projects(event_id: int, body: LinkIn) -> LinkOut:
    event = editable_event(event_id)
    try:
        added = event_service.link_projects(db.session, api_user(), event, body.project_ids)
    except event_service.EventError as exc:
        raise event_error(exc) from exc
    db.session.commit()
    return LinkOut(**event_detail_out(event).model_dump(), linked=added)


@route(
    "/events/<int:event_id>/projects/<int:project_id>",
    "DELETE",
    summary="Unlink a project from an event (404 when not linked or not visible)",
    status=204,
    roles=WRITERS,
    tags=["events"],
)
def unlink_event_project(event_id: int, project_id: int) -> None:
    event = editable_event(event_id)
    try:
        event_service.unlink_project(db.session, api_user(), event, project_id)
    except event_service.EventError as exc:
        raise event_error(exc) from exc
    db.session.commit()

"""Event and attachment endpoints of the JSON API."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field
from sqlalchemy import func, select

from crm.accounts.models import Team
from crm.api.framework import Amount, ApiError, Page, PageQuery, Schema, api_user, route
from crm.enums import Role
from crm.extensions import db
from crm.reference.models import Zone
from crm.visits import attachments as attachment_service
from crm.visits import events as event_service
from crm.visits.access import (
    attachment_parent_visible,
    can_change_parent,
    can_edit_event,
    event_scope,
    get_visible_event,
    parent_visible,
)
from crm.visits.event_models import Attachment, Event
from crm.visits.leads import local_today

WRITERS = (Role.ADMIN, Role.LEAD, Role.OFFICER)
EventKindName = Literal["signing", "promotion"]


class EventOut(Schema):
    id: int
    name: str
    kind: EventKindName
    date: dt.date | None
    place: str | None
    organiser: str | None
    zone: str | None = Field(description="zone code")
    team_id: int
    reported_projects: int | None = Field(description="announced by the organiser")
    reported_total: Decimal | None = Field(description="announced total, 万元")
    notes: str | None


class EventDetailOut(EventOut):
    project_ids: list[int] = Field(description="linked projects the caller may see")
    signed_count: int = Field(description="linked projects signed on the event's date")
    signed_amount: Decimal = Field(description="their planned investment, 万元")


class EventIn(Schema):
    name: str = Field(min_length=1, max_length=300)
    kind: EventKindName = "signing"
    date: dt.date | None = None
    place: str | None = Field(None, max_length=200)
    organiser: str | None = Field(None, max_length=200)
    zone: str | None = Field(None, description="zone code")
    team: str | None = Field(
        None, description="team code; only (and then required) for callers without a team"
    )
    project_ids: list[int] = Field([], description="projects to link")
    reported_projects: int | None = Field(None, ge=0)
    reported_total: Amount | None = Field(None, description="万元")
    notes: str | None = None


class SignIn(Schema):
    project_ids: list[int] | None = Field(
        None, description="default: every linked project the caller may change"
    )
    all_or_nothing: bool = Field(False, description="sign none unless all can be signed")


class SignResultOut(Schema):
    project_id: int
    name: str
    status: Literal["signed", "already_signed", "refused"]
    message: str | None


class SignOut(Schema):
    event_id: int
    date: dt.date
    results: list[SignResultOut]


def event_error(exc: event_service.EventError) -> ApiError:
    """A refused event change as a problem (nothing kept): a project the caller may not see
    is 404 like a missing one, anything else 422 naming the field."""
    db.session.rollback()
    field = {"on": "date", "zone_id": "zone"}.get(exc.field, exc.field)
    status = 404 if isinstance(exc, event_service.ProjectNotVisible) else 422
    return ApiError(status, str(exc), [(field, str(exc))])


def editable_event(event_id: int) -> Event:
    """The event (404 if missing) if the caller may change it (403 otherwise)."""
    user = api_user()
    event = get_visible_event(db.session, user, event_id)
    if not can_edit_event(user, event):
        raise ApiError(403, "You may not change this event.")
    return event


def _zone_codes(ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(db.session.execute(select(Zone.id, Zone.code).where(Zone.id.in_(ids))).all())


def event_out(event: Event, zone_code: str | None) -> dict[str, Any]:
    return {
        "id": event.id,
        "name": event.name,
        "kind": event.kind,
        "date": event.on,
        "place": event.place,
        "organiser": event.organiser,
        "zone": zone_code,
        "team_id": event.team_id,
        "reported_projects": event.reported_projects,
        "reported_total": event.reported_total,
        "notes": event.notes,
    }


def event_detail_out(event: Event) -> EventDetailOut:
    summary = event_service.event_summary(db.session, api_user(), event)
    zone = _zone_codes({event.zone_id} if event.zone_id else set()).get(event.zone_id or 0)
    return EventDetailOut(
        **event_out(event, zone),
        project_ids=[p.project.id for p in summary.projects],
        signed_count=summary.signed_count,
        signed_amount=summary.signed_amount,
    )


@route(
    "/events",
    summary="Events, newest first",
    query=PageQuery,
    response=Page[EventOut],
    tags=["events"],
)
def list_events(query: PageQuery) -> Page[EventOut]:
    where = event_scope(api_user())
    total = db.session.scalar(select(func.count()).select_from(Event).where(where)) or 0
    events = db.session.scalars(
        select(Event)
        .where(where)
        .order_by(Event.on.desc().nulls_last(), Event.id.desc())
        .limit(query.per_page)
        .offset((query.page - 1) * query.per_page)
    ).all()
    zones = _zone_codes({e.zone_id for e in events if e.zone_id})
    return Page[EventOut](
        items=[EventOut(**event_out(e, zones.get(e.zone_id or 0))) for e in events],
        total=total,
        page=query.page,
        per_page=query.per_page,
    )


@route(
    "/events",
    "POST",
    summary="Create an event (and link projects to it)",
    body=EventIn,
    response=EventDetailOut,
    status=201,
    roles=WRITERS,
    tags=["events"],
)
def create_event(body: EventIn) -> tuple[EventDetailOut, dict[str, str]]:
    user = api_user()
    team_id = user.team_id
    if body.team is not None:
        team_id = db.session.scalar(select(Team.id).where(Team.code == body.team))
        if team_id is None or (user.team_id is not None and team_id != user.team_id):
            raise ApiError(422, "Unknown team.", [("team", "Give your own team's code.")])
    if team_id is None:
        raise ApiError(422, "Which team keeps the event?", [("team", "Give a team code.")])
    zone_id = None
    if body.zone:
        zone_id = db.session.scalar(select(Zone.id).where(Zone.code == body.zone))
        if zone_id is None:
            raise ApiError(422, "Unknown zone.", [("zone", "No zone has this code.")])
    data = event_service.EventInput(
        name=body.name,
        kind=body.kind,
        on=body.date,
        place=body.place,
        organiser=body.organiser,
        zone_id=zone_id,
        notes=body.notes,
        reported_projects=body.reported_projects,
        reported_total=body.reported_total,
    )
    try:
        event = event_service.create_event(db.session, user, data, team_id)
        if body.project_ids:
            event_service.link_projects(db.session, user, event, body.project_ids)
    except event_service.EventError as exc:
        if isinstance(exc, event_service.ProjectNotVisible):  # a field of a new event: 422
            exc = event_service.EventError(str(exc), exc.field)
        raise event_error(exc) from exc
    db.session.commit()
    return event_detail_out(event), {"Location": f"/api/v1/events/{event.id}"}


@route(
    "/events/<int:event_id>",
    summary="One event with its linked projects and what was signed there",
    response=EventDetailOut,
    tags=["events"],
)
def get_event(event_id: int) -> EventDetailOut:
    return event_detail_out(get_visible_event(db.session, api_user(), event_id))


@route(
    "/events/<int:event_id>/sign",
    "POST",
    summary="Sign the event's linked projects on its date, in one action",
    body=SignIn,
    response=SignOut,
    roles=WRITERS,
    tags=["events"],
    extra_responses=(409,),
)
def sign_event(event_id: int, body: SignIn) -> SignOut:
    user = api_user()
    event = editable_event(event_id)
    try:
        results = event_service.sign_at_event(
            db.session,
            user,
            event,
            today=local_today(),
            project_ids=body.project_ids,
            all_or_nothing=body.all_or_nothing,
        )
    except event_service.SignRefused as exc:
        db.session.rollback()
        raise ApiError(
            409,
            "Nothing was signed: some projects cannot be signed.",
            [(f"project_ids.{r.project_id}", r.message or "") for r in exc.results if r.message],
        ) from exc
    except event_service.EventError as exc:
        raise event_error(exc) from exc
    db.session.commit()
    assert event.on is not None
    return SignOut(
        event_id=event.id,
        date=event.on,
        results=[
            SignResultOut(project_id=r.project_id, name=r.name, status=r.status, message=r.message)  # type: ignore[arg-type]
            for r in results
        ],
    )


# --- attachments ------------------------------------------------------------------------


class AttachmentOut(Schema):
    id: int
    parent: Literal["project", "visit", "event"]
    parent_id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by_id: int | None
    uploaded_at: dt.datetime


class AttachmentForm(Schema):
    parent: Literal["project", "visit", "event"]
    parent_id: int = Field(ge=1)


class AttachmentQuery(PageQuery):
    parent: Literal["project", "visit", "event"]
    parent_id: int = Field(ge=1)


def attachment_out(a: Attachment) -> AttachmentOut:
    kind, parent_id = a.parent
    return AttachmentOut(
        id=a.id,
        parent=kind,  # type: ignore[arg-type]
        parent_id=parent_id,
        filename=a.filename,
        content_type=a.content_type,
        size=a.size,
        sha256=a.sha256,
        uploaded_by_id=a.uploaded_by_id,
        uploaded_at=a.uploaded_at,
    )


@route(
    "/attachments",
    "POST",
    summary="Upload a file to a project, visit or event (multipart/form-data)",
    form=AttachmentForm,
    files=("file",),
    response=AttachmentOut,
    status=201,
    roles=WRITERS,
    tags=["attachments"],
    extra_responses=(413, 415, 503, 507),
)
def upload_attachment(form: AttachmentForm) -> tuple[AttachmentOut, dict[str, str]]:
    from crm.visits.attachment_views import store

    user = api_user()
    if not parent_visible(db.session, user, form.parent, form.parent_id):
        raise ApiError(404, f"No such {form.parent}.")
    if not can_change_parent(db.session, user, form.parent, form.parent_id):
        raise ApiError(403, f"You may not change this {form.parent}.")
    try:
        filename, data = _read_file()
        attachment = store(user, form.parent, form.parent_id, filename, data)
    except attachment_service.UploadError as exc:
        db.session.rollback()
        raise ApiError(exc.status, str(exc), [("file", str(exc))]) from exc
    return attachment_out(attachment), {"Location": f"/api/v1/attachments/{attachment.id}"}


def _read_file() -> tuple[str | None, bytes]:
    from crm.visits.attachment_views import read_upload

    filename, data = read_upload("file")
    if filename is None:
        raise attachment_service.UploadError("Send the file in the multipart part named 'file'.")
    return filename, data


@route(
    "/attachments",
    summary="Attachments of a project, visit or event",
    query=AttachmentQuery,
    response=Page[AttachmentOut],
    tags=["attachments"],
)
def list_attachments(query: AttachmentQuery) -> Page[AttachmentOut]:
    if not parent_visible(db.session, api_user(), query.parent, query.parent_id):
        raise ApiError(404, f"No such {query.parent}.")
    items = attachment_service.attachments_of(db.session, query.parent, query.parent_id)
    start = (query.page - 1) * query.per_page
    return Page[AttachmentOut](
        items=[attachment_out(a) for a in items[start : start + query.per_page]],
        total=len(items),
        page=query.page,
        per_page=query.per_page,
    )


def _visible(attachment_id: int) -> Attachment:
    attachment = db.session.scalar(
        select(Attachment).where(Attachment.id == attachment_id, Attachment.deleted_at.is_(None))
    )
    if attachment is None or not attachment_parent_visible(db.session, api_user(), attachment):
        raise ApiError(404, "No such attachment.")
    return attachment


@route(
    "/attachments/<int:attachment_id>",
    summary="An attachment's description",
    response=AttachmentOut,
    tags=["attachments"],
)
def get_attachment(attachment_id: int) -> AttachmentOut:
    return attachment_out(_visible(attachment_id))


@route(
    "/attachments/<int:attachment_id>/content",
    summary="Download an attachment (Content-Disposition: attachment)",
    binary="application/octet-stream",
    tags=["attachments"],
)
def download_attachment(attachment_id: int) -> Any:
    from crm.visits.attachment_views import send_attachment

    return send_attachment(_visible(attachment_id))


@route(
    "/attachments/<int:attachment_id>",
    "DELETE",
    summary="Remove an attachment (soft delete, kept in the history)",
    roles=WRITERS,
    status=204,
    tags=["attachments"],
)
def delete_attachment(attachment_id: int) -> None:
    from crm.visits.web import now_utc

    user = api_user()
    attachment = _visible(attachment_id)
    kind, parent_id = attachment.parent
    if not can_change_parent(db.session, user, kind, parent_id):
        raise ApiError(403, "You may not change this attachment.")
    attachment_service.delete_attachment(db.session, attachment, user_id=user.id, now=now_utc())
    db.session.commit()

"""Changing a logged visit through the JSON API, as its page does: editing it field by
field, and turning the interest it found into a lead project.

A visit the caller may not see answers 404 like a missing one; one they see but may not
change (another team's visit they took part in, leaders) 403. Links to projects the caller
may not see are kept as they are, exactly as on the web.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import url_for
from pydantic import Field

from crm.api.framework import Amount, ApiError, Schema, api_user, route
from crm.extensions import db
from crm.pipeline.api import ProjectOut, project_json
from crm.visits import queries, services
from crm.visits.access import can_edit_visit, get_visible_visit
from crm.visits.api import FIELD_NAMES, WRITERS, VisitOut, VisitTypeName, region_id_for, visit_out
from crm.visits.leads import local_today
from crm.visits.models import Visit
from crm.visits.web import now_utc


class VisitPatch(Schema):
    """Fields to change; those left out keep their value, null clears an optional one.
    The id lists replace the visit's links (projects you may not see stay linked)."""

    date: dt.date | None = None
    type: VisitTypeName | None = None
    city: str | None = Field(None, max_length=100)
    province: str | None = Field(None, max_length=100)
    region: str | None = Field(None, description="region code")
    company_id: int | None = None
    project_ids: list[int] | None = None
    participant_user_ids: list[int] | None = None
    contact_ids: list[int] | None = None
    event_id: int | None = None
    purpose: str | None = None
    learned: str | None = None
    intent: str | None = None
    intent_amount: Amount | None = None
    land_mu: Amount | None = None
    expected_output: Amount | None = None
    conditions_asked: str | None = None
    outcome: str | None = None
    next_steps: str | None = None


class LeadProjectIn(Schema):
    name: str = Field(min_length=1, max_length=300)


def _changeable(visit_id: int) -> Visit:
    user = api_user()
    visit = get_visible_visit(db.session, user, visit_id)  # 404 when hidden
    if not can_edit_visit(user, visit):
        raise ApiError(403, "You may not change this visit.")
    return visit


def _refused(exc: services.VisitError) -> ApiError:
    db.session.rollback()
    return ApiError(422, str(exc), [(FIELD_NAMES.get(exc.field, exc.field), str(exc))])


def _patched_input(visit: Visit, body: VisitPatch) -> services.VisitInput:
    given = body.model_fields_set
    for required in ("date", "type"):
        if required in given and getattr(body, required) is None:
            raise ApiError(422, f"A visit needs its {required}.", [(required, "Cannot be null.")])
    projects, users, contacts = services.linked_ids(db.session, visit.id)
    current: dict[str, Any] = {
        "date": visit.on,
        "project_ids": projects,
        "participant_user_ids": users,
        "contact_ids": contacts,
        **{
            name: getattr(visit, name)
            for name in ("type", "city", "province", "company_id", "event_id")
        },
        **{name: getattr(visit, name) for name in services.TEXT_FIELDS},
        **{name: getattr(visit, name) for name in services.NUMBER_FIELDS},
    }
    values = {**current, **body.model_dump(include=given - {"region"})}
    region_id = visit.region_id
    if "region" in given:
        region_id = region_id_for(body.region, None, None) if body.region else None
    date = values.pop("date")
    return services.VisitInput(on=date, region_id=region_id, **values)


@route(
    "/visits/<int:visit_id>",
    "PATCH",
    summary="Change a visit's facts and links (its team, its author or an admin); recorded",
    body=VisitPatch,
    response=VisitOut,
    roles=WRITERS,
    tags=["visits"],
)
def update_visit(visit_id: int, body: VisitPatch) -> VisitOut:
    visit = _changeable(visit_id)
    user = api_user()
    try:
        services.update_visit(
            db.session, visit, user, _patched_input(visit, body), now=now_utc(), today=local_today()
        )
    except services.VisitError as exc:
        raise _refused(exc) from exc
    db.session.commit()
    row = queries.visit_row(db.session, user, visit_id)
    assert row is not None
    return visit_out(row)


@route(
    "/visits/<int:visit_id>/lead-project",
    "POST",
    summary="Turn a visit's interest into a new lead project of your team, linked to it",
    body=LeadProjectIn,
    response=ProjectOut,
    status=201,
    roles=WRITERS,
    tags=["visits", "projects"],
)
def create_lead_from_visit(visit_id: int, body: LeadProjectIn) -> Any:
    visit = _changeable(visit_id)
    try:
        project = services.lead_from_visit(
            db.session, visit, api_user(), name=body.name, now=now_utc()
        )
    except services.VisitError as exc:
        raise _refused(exc) from exc
    db.session.commit()
    out, headers = project_json(project.id)
    location = url_for("api.get_project", project_id=project.id)
    return out, {**headers, "Location": location}

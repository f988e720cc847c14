"""Managing a project through the JSON API, as the sharing page and the key mark do on the
web: key marks, sharing with other teams and reassigning (a lead of the project's team or
an admin), deleting and restoring (admins). The services are the web's, so each change is
recorded in the history alike.

A project the caller may not see answers 404 (like a missing one) before any role check;
one they see but do not lead answers 403. Changes that step the project's version (key
marks, reassigning) honour an optional If-Match (412 when stale) and answer the project
with its new ETag.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from flask import Response
from pydantic import Field
from sqlalchemy import select

from crm.accounts.models import Team
from crm.api.framework import ApiError, Schema, api_user, route
from crm.enums import Role
from crm.extensions import db
from crm.pipeline import keys, sharing
from crm.pipeline.access import can_lead, get_visible_project
from crm.pipeline.api import ProjectOut, commit_if_match, project_json, refused
from crm.pipeline.errors import NotAllowed, ProjectError
from crm.pipeline.models import Project, ProjectShare

LEAD_ONLY = (403, 412)


def _led(project_id: int) -> Project:
    """The project if the caller may see it (else 404) and leads it (else 403)."""
    user = api_user()
    project = get_visible_project(db.session, user, project_id)
    if not can_lead(user, project):
        raise ApiError(403, "Only a lead of the project's team or an admin may do this.")
    return project


# --- key marks -------------------------------------------------------------------------------


class KeyMarkIn(Schema):
    reason: str = Field(min_length=1, max_length=2000, description="why (kept in the history)")


def _mark(project_id: int, body: KeyMarkIn, *, marked: bool) -> Any:
    project = _led(project_id)

    def change(_expected: int) -> None:
        keys.mark_key(db.session, project, api_user(), marked=marked, reason=body.reason)

    try:
        stale = commit_if_match(project, change, required=False)
    except (ProjectError, NotAllowed) as exc:
        raise refused(exc) from exc
    return stale or project_json(project_id)


@route(
    "/projects/<int:project_id>/key-mark",
    "PUT",
    summary="Mark a project as key by hand (a lead of its team or an admin), with a reason",
    body=KeyMarkIn,
    response=ProjectOut,
    tags=["projects"],
    extra_responses=LEAD_ONLY,
)
def put_key_mark(project_id: int, body: KeyMarkIn) -> Any:
    return _mark(project_id, body, marked=True)


@route(
    "/projects/<int:project_id>/key-mark",
    "DELETE",
    summary='Remove a lead\'s key mark; a reason is required (the body: {"reason": ...})',
    body=KeyMarkIn,
    response=ProjectOut,
    tags=["projects"],
    extra_responses=LEAD_ONLY,
)
def delete_key_mark(project_id: int, body: KeyMarkIn) -> Any:
    return _mark(project_id, body, marked=False)


# --- sharing -------------------------------------------------------------------------------


class ShareOut(Schema):
    team: str = Field(description="team code")
    team_name_zh: str
    team_name_en: str
    access: Literal["read", "edit"]
    created_by_id: int | None
    created_at: dt.datetime


class ShareList(Schema):
    items: list[ShareOut]


class ShareIn(Schema):
    team: str = Field(min_length=1, max_length=64, description="team code")
    access: Literal["read", "edit"] = "read"


def _shares(project_id: int, team_code: str | None = None) -> list[ShareOut]:
    stmt = (
        select(ProjectShare, Team)
        .join(Team, Team.id == ProjectShare.team_id)
        .where(ProjectShare.project_id == project_id)
        .order_by(Team.code)
    )
    if team_code is not None:
        stmt = stmt.where(Team.code == team_code)
    return [
        ShareOut(
            team=team.code,
            team_name_zh=team.name_zh,
            team_name_en=team.name_en,
            access="edit" if share.can_edit else "read",
            created_by_id=share.created_by_id,
            created_at=share.created_at,
        )
        for share, team in db.session.execute(stmt)
    ]


@route(
    "/projects/<int:project_id>/shares",
    summary="The teams a project is shared with (a lead of its team or an admin)",
    response=ShareList,
    tags=["projects"],
    extra_responses=(403,),
)
def list_shares(project_id: int) -> ShareList:
    return ShareList(items=_shares(_led(project_id).id))


@route(
    "/projects/<int:project_id>/shares",
    "POST",
    summary="Share a project with another team to read or edit: 201 when new, 200 when an "
    "existing share changed how; recorded",
    body=ShareIn,
    response=ShareOut,
    status=201,
    tags=["projects"],
    extra_responses=(403,),
)
def create_share(project_id: int, body: ShareIn) -> Any:
    project = _led(project_id)
    existed = bool(_shares(project_id, body.team))
    try:
        sharing.share_project(
            db.session, project, api_user(), team_code=body.team, can_edit=body.access == "edit"
        )
    except (ProjectError, NotAllowed) as exc:
        raise refused(exc) from exc
    db.session.commit()
    share = _shares(project_id, body.team)[0]
    if existed:
        return Response(share.model_dump_json(), status=200, mimetype="application/json")
    return share


@route(
    "/projects/<int:project_id>/shares/<team>",
    "DELETE",
    summary="Stop sharing a project with a team (by its code); recorded",
    status=204,
    tags=["projects"],
    extra_responses=(403,),
)
def delete_share(project_id: int, team: str) -> None:
    project = _led(project_id)
    team_id = db.session.scalar(select(Team.id).where(Team.code == team))
    if team_id is None:
        raise ApiError(404, "The project is not shared with this team.")
    try:
        sharing.unshare_project(db.session, project, api_user(), team_id=team_id)
    except ProjectError as exc:
        raise ApiError(404, str(exc)) from exc
    db.session.commit()


# --- reassigning -------------------------------------------------------------------------------


class ReassignIn(Schema):
    owner_id: int | None = Field(
        None,
        description="the new owner (a member of the project's team); null: no owner; "
        "leave out to keep the owner (dropped if not in the new team)",
    )
    team: str | None = Field(None, description="team code; leave out to keep the team")


@route(
    "/projects/<int:project_id>/reassign",
    "POST",
    summary="Give a project another owner and/or team (If-Match optional); recorded",
    body=ReassignIn,
    response=ProjectOut,
    tags=["projects"],
    extra_responses=LEAD_ONLY,
)
def reassign_project(project_id: int, body: ReassignIn) -> Any:
    """The answer shows the project as it now is, even when it left the caller's team (a
    lead's later reads of it then answer 404)."""
    project = _led(project_id)
    given = body.model_fields_set

    def change(_expected: int) -> None:
        sharing.reassign(
            db.session,
            project,
            api_user(),
            team_code=body.team,
            owner_id=body.owner_id,
            change_owner="owner_id" in given,
        )

    try:
        stale = commit_if_match(project, change, required=False)
    except (ProjectError, NotAllowed) as exc:
        raise refused(exc) from exc
    return stale or project_json(project_id, scoped=False)


# --- deleting and restoring (admins) ---------------------------------------------------------


@route(
    "/projects/<int:project_id>",
    "DELETE",
    summary="Delete a project (soft: an admin can restore it)",
    status=204,
    roles=(Role.ADMIN,),
    tags=["projects"],
)
def delete_project(project_id: int) -> None:
    project = get_visible_project(db.session, api_user(), project_id)
    sharing.soft_delete(db.session, project, api_user())
    db.session.commit()


@route(
    "/projects/<int:project_id>/restore",
    "POST",
    summary="Restore a deleted project",
    response=ProjectOut,
    roles=(Role.ADMIN,),
    tags=["projects"],
)
def restore_project(project_id: int) -> Any:
    project = db.session.get(Project, project_id)
    if project is None:
        raise ApiError(404, "No such project.")
    sharing.restore(db.session, project, api_user())
    db.session.commit()
    return project_json(project_id)

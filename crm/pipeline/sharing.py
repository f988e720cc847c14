"""Who holds a project: sharing it with other teams, reassigning it, deleting and restoring.

Sharing and reassigning are done by a lead of the project's team or an admin; deleting
(soft) and restoring by an admin. Each is recorded in the project's history.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.accounts.models import Team, User
from crm.enums import Role
from crm.pipeline.access import can_lead
from crm.pipeline.changes import record_project_change
from crm.pipeline.errors import NotAllowed, ProjectError
from crm.pipeline.models import Project, ProjectShare
from crm.pipeline.services import apply_values, set_owner, snapshot


def _require_lead(actor: User, project: Project) -> None:
    if not can_lead(actor, project):
        raise NotAllowed("Only a lead of the project's team or an admin may do this.")


def _require_admin(actor: User) -> None:
    if actor.role != Role.ADMIN:
        raise NotAllowed("Only an admin may do this.")


def share_project(
    session: Session, project: Project, actor: User, *, team_code: str, can_edit: bool
) -> ProjectShare:
    """Share the project with another team, to read or to edit (or change how)."""
    _require_lead(actor, project)
    team = session.scalar(select(Team).where(Team.code == team_code, Team.active.is_(True)))
    if team is None:
        raise ProjectError(_l("Unknown team."), "team")
    if team.id == project.team_id:
        raise ProjectError(_l("The project already belongs to this team."), "team")
    share = session.scalar(
        select(ProjectShare).where(
            ProjectShare.project_id == project.id, ProjectShare.team_id == team.id
        )
    )
    before = None if share is None else ("edit" if share.can_edit else "read")
    if share is None:
        share = ProjectShare(project_id=project.id, team_id=team.id, created_by_id=actor.id)
        session.add(share)
    share.can_edit = can_edit
    after = "edit" if can_edit else "read"
    if before != after:
        record_project_change(
            session,
            project,
            user_id=actor.id,
            action="share",
            changes={f"share:{team.code}": [before, after]},
        )
    session.flush()
    return share


def unshare_project(session: Session, project: Project, actor: User, *, team_id: int) -> None:
    """Stop sharing the project with a team."""
    _require_lead(actor, project)
    row = session.execute(
        select(ProjectShare, Team.code)
        .join(Team, Team.id == ProjectShare.team_id)
        .where(ProjectShare.project_id == project.id, ProjectShare.team_id == team_id)
    ).first()
    if row is None:
        raise ProjectError(_l("The project is not shared with this team."), "team")
    share, code = row
    before = "edit" if share.can_edit else "read"
    session.delete(share)
    record_project_change(
        session,
        project,
        user_id=actor.id,
        action="unshare",
        changes={f"share:{code}": [before, None]},
    )


def reassign(
    session: Session,
    project: Project,
    actor: User,
    *,
    team_code: str | None = None,
    owner_id: int | None = None,
    change_owner: bool = True,
) -> dict[str, list[Any]]:
    """Give the project another owner and/or team (a lead of its team or an admin).

    Moving it to another team drops an owner who is not in that team (unless a new owner
    of that team is given) and a share with the new team, which now owns it.
    """
    _require_lead(actor, project)
    version = project.version
    before = snapshot(session, project)
    values: dict[str, Any] = {}
    if team_code and team_code != before["team"]:
        values["team"] = team_code
    apply_values(session, project, values, actor)
    if change_owner:
        set_owner(session, project, owner_id)
    elif project.owner_id is not None:
        owner_team = session.scalar(select(User.team_id).where(User.id == project.owner_id))
        if owner_team != project.team_id:
            project.owner_id = None
    if "team" in values:
        share = session.scalar(
            select(ProjectShare).where(
                ProjectShare.project_id == project.id, ProjectShare.team_id == project.team_id
            )
        )
        if share is not None:
            session.delete(share)
    after = snapshot(session, project)
    changes = {k: [before[k], after[k]] for k in ("team", "owner_id") if before[k] != after[k]}
    if changes:
        record_project_change(
            session,
            project,
            user_id=actor.id,
            action="reassign",
            changes=changes,
            version_before=version,
        )
    return changes


def soft_delete(session: Session, project: Project, actor: User) -> None:
    """Hide the project everywhere (an admin can restore it); recorded."""
    _require_admin(actor)
    if project.deleted_at is not None:
        return
    project.deleted_at = datetime.now(UTC)
    record_project_change(
        session,
        project,
        user_id=actor.id,
        action="delete",
        changes={"deleted_at": [None, project.deleted_at.isoformat()]},
    )


def restore(session: Session, project: Project, actor: User) -> None:
    """Bring a deleted project back; recorded."""
    _require_admin(actor)
    if project.deleted_at is None:
        return
    before = project.deleted_at.isoformat()
    project.deleted_at = None
    record_project_change(
        session, project, user_id=actor.id, action="restore", changes={"deleted_at": [before, None]}
    )

"""Whose numbers a report or dashboard shows.

Leaders and admins see every team (or one team they pick); a team lead sees exactly their
own team's projects and visits (not projects merely shared with the team: the report is the
team's account of its own work). Officers have no dashboard or report.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from crm.accounts.models import Team, User
from crm.enums import Role
from crm.pipeline.models import Project
from crm.visits.models import Visit

REPORT_ROLES = (Role.ADMIN, Role.LEADER, Role.LEAD)


class ScopeError(LookupError):
    """The user may not see reports, or asked for a team outside their reach."""


@dataclass(frozen=True)
class ReportScope:
    team_id: int | None = None  # None: every team
    team_code: str | None = None
    team_name_zh: str | None = None
    team_name_en: str | None = None

    @property
    def all_teams(self) -> bool:
        return self.team_id is None

    @property
    def key(self) -> str:
        return self.team_code or "all"

    def projects(self) -> ColumnElement[bool]:
        """WHERE clause: live projects in this scope."""
        alive = Project.deleted_at.is_(None)
        if self.team_id is None:
            return alive & true()
        return alive & (Project.team_id == self.team_id)

    def visits(self) -> ColumnElement[bool]:
        alive = Visit.deleted_at.is_(None)
        if self.team_id is None:
            return alive & true()
        return alive & (Visit.team_id == self.team_id)

    def team_name(self, english: bool) -> str | None:
        if self.team_id is None:
            return None
        return (self.team_name_en or self.team_name_zh) if english else self.team_name_zh


def team_scope(session: Session, team_code: str | None) -> ReportScope:
    """The scope of one team by code (every team when `team_code` is empty)."""
    if not team_code:
        return ReportScope()
    team = session.scalar(select(Team).where(Team.code == team_code))
    if team is None:
        raise ScopeError(f"No team with code '{team_code}'.")
    return ReportScope(team.id, team.code, team.name_zh, team.name_en)


def scope_for(session: Session, user: User, team_code: str | None = None) -> ReportScope:
    """The scope `user` may see, narrowed to `team_code` when given.

    A lead asking for another team, or an officer asking at all, gets `ScopeError`.
    """
    if user.role not in REPORT_ROLES:
        raise ScopeError("Only team leads, leaders and administrators see reports.")
    if user.role == Role.LEAD:
        if user.team_id is None:
            raise ScopeError("A team lead without a team has no report.")
        own = session.get(Team, user.team_id)
        assert own is not None
        if team_code and team_code != own.code:
            raise ScopeError("A team lead sees only their own team.")
        return ReportScope(own.id, own.code, own.name_zh, own.name_en)
    return team_scope(session, team_code)

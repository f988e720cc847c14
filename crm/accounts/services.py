"""Account operations: users, teams, passwords, API tokens.

Functions take a session and plain values; they flush, and the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm import audit
from crm.accounts.models import ApiToken, Team, User
from crm.db import utcnow
from crm.enums import Role
from crm.reference.models import Zone
from crm.security import hash_password, hash_token, new_token, password_problem, verify_dummy
from crm.security import verify_password as _verify


class AccountError(ValueError):
    """A refused account operation; `field` names the input at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def normalize_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == normalize_email(email)))


def find_team(session: Session, code: str) -> Team | None:
    return session.scalar(select(Team).where(Team.code == code))


def create_user(
    session: Session,
    *,
    email: str,
    password: str,
    role: Role,
    team_code: str | None = None,
    name: str = "",
    actor_id: int | None = None,
) -> User:
    """Create an active user. Refuses a taken email, a weak password or an unknown team.

    Officers and leads must belong to a team: their scope is their team's projects.
    """
    email = normalize_email(email)
    if "@" not in email or len(email) > 254:
        raise AccountError("Enter a valid email address.", "email")
    if find_user_by_email(session, email):
        raise AccountError("A user with this email already exists.", "email")
    problem = password_problem(password, email)
    if problem:
        raise AccountError(problem, "password")
    team = None
    if team_code:
        team = find_team(session, team_code)
        if team is None:
            raise AccountError(f"No team with code '{team_code}'.", "team_code")
    if role in (Role.LEAD, Role.OFFICER) and team is None:
        raise AccountError("Officers and team leads must belong to a team.", "team_code")
    user = User(
        email=email,
        name=name.strip(),
        password_hash=hash_password(password),
        role=role,
        team_id=team.id if team else None,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        user_id=actor_id,
        entity_type="user",
        entity_id=user.id,
        action="create",
        changes={"email": [None, email], "role": [None, role.value]},
    )
    return user


def update_user(
    session: Session,
    user: User,
    *,
    name: str,
    role: Role,
    team_code: str | None,
    actor_id: int | None,
) -> None:
    team = find_team(session, team_code) if team_code else None
    if team_code and team is None:
        raise AccountError(f"No team with code '{team_code}'.", "team_code")
    if role in (Role.LEAD, Role.OFFICER) and team is None:
        raise AccountError("Officers and team leads must belong to a team.", "team_code")
    changes = {}
    new_team_id = team.id if team else None
    for field, new in (("name", name.strip()), ("role", role), ("team_id", new_team_id)):
        old = getattr(user, field)
        if old != new:
            changes[field] = [str(old) if old is not None else None, str(new) if new else None]
            setattr(user, field, new)
    if "role" in changes or "team_id" in changes:
        # A change of rights takes effect at once, in every open session.
        user.session_version += 1
    if changes:
        audit.record(
            session,
            user_id=actor_id,
            entity_type="user",
            entity_id=user.id,
            action="update",
            changes=changes,
        )


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with these credentials, or None (same cost whether or not it exists)."""
    user = find_user_by_email(session, email)
    if user is None:
        verify_dummy(password)
        return None
    if not _verify(user.password_hash, password) or not user.active:
        return None
    return user


def set_password(
    session: Session, user: User, new_password: str, actor_id: int | None = None
) -> None:
    """Change the password and end the user's other sessions."""
    problem = password_problem(new_password, user.email)
    if problem:
        raise AccountError(problem, "new_password")
    user.password_hash = hash_password(new_password)
    user.session_version += 1
    audit.record(
        session,
        user_id=actor_id,
        entity_type="user",
        entity_id=user.id,
        action="password_change",
    )


def set_active(session: Session, user: User, active: bool, actor_id: int | None = None) -> None:
    """Deactivate (ending every session at once) or reactivate a user; records stay."""
    if user.active == active:
        return
    if not active and user.role == Role.ADMIN:
        admins = session.scalar(
            select(func.count()).where(User.role == Role.ADMIN, User.active.is_(True))
        )
        if (admins or 0) <= 1:
            raise AccountError("The last active administrator cannot be deactivated.")
    user.active = active
    user.session_version += 1
    audit.record(
        session,
        user_id=actor_id,
        entity_type="user",
        entity_id=user.id,
        action="reactivate" if active else "deactivate",
    )


def save_team(
    session: Session,
    *,
    code: str,
    name_zh: str,
    name_en: str,
    zone_code: str | None,
    team: Team | None = None,
    actor_id: int | None = None,
) -> Team:
    """Create a team, or update `team`. Codes are unique and never change once set."""
    code = code.strip()
    zone = None
    if zone_code:
        zone = session.scalar(select(Zone).where(Zone.code == zone_code))
        if zone is None:
            raise AccountError(f"No zone with code '{zone_code}'.", "zone_code")
    if team is None:
        if find_team(session, code):
            raise AccountError("A team with this code already exists.", "code")
        team = Team(code=code, name_zh=name_zh.strip(), name_en=name_en.strip())
        session.add(team)
        action = "create"
    else:
        action = "update"
    team.name_zh = name_zh.strip()
    team.name_en = name_en.strip()
    team.zone_id = zone.id if zone else None
    session.flush()
    audit.record(
        session,
        user_id=actor_id,
        entity_type="team",
        entity_id=team.id,
        action=action,
        changes={"code": code, "name_zh": team.name_zh, "zone": zone_code},
    )
    return team


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    secret: str  # shown once, never stored


def issue_token(session: Session, user: User, name: str) -> IssuedToken:
    secret = new_token()
    token = ApiToken(
        user_id=user.id,
        name=name.strip() or "token",
        token_hash=hash_token(secret),
        prefix=secret[:10],
    )
    session.add(token)
    session.flush()
    audit.record(
        session, user_id=user.id, entity_type="api_token", entity_id=token.id, action="create"
    )
    return IssuedToken(token, secret)


def revoke_token(session: Session, token: ApiToken, actor_id: int) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        audit.record(
            session, user_id=actor_id, entity_type="api_token", entity_id=token.id, action="revoke"
        )


def user_for_token(session: Session, secret: str, now: datetime) -> User | None:
    """The active user owning an unrevoked token with this secret, or None."""
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(secret)))
    if token is None or token.revoked_at is not None:
        return None
    user = session.get(User, token.user_id)
    if user is None or not user.active:
        return None
    # Written at most once a minute per token to keep reads cheap.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        token.last_used_at = now
    return user

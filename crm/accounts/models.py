"""Users, teams, API tokens and login attempts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.db import utcnow
from crm.enums import Role, db_enum
from crm.extensions import db
from crm.reference.models import Zone


class Team(db.Model):
    """An investment team; it belongs to a zone or district."""

    __tablename__ = "team"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(300), default="")
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id"))
    active: Mapped[bool] = mapped_column(default=True)
    webhook_kind: Mapped[str | None] = mapped_column(String(16))
    webhook_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    zone: Mapped[Zone | None] = relationship(lazy="raise")


class User(db.Model):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(db_enum(Role, 16))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    # Bumped on password change and deactivation: cookies carrying an older value are refused.
    session_version: Mapped[int] = mapped_column(default=1)
    locale: Mapped[str | None] = mapped_column(String(10))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled: Mapped[bool] = mapped_column(default=False)
    # SHA-256 hashes of the unused recovery codes (crm/accounts/two_factor.py).
    recovery_codes: Mapped[list[str]] = mapped_column(default=list)
    # The time step of the last accepted TOTP code: a code is never accepted twice.
    totp_last_step: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]

    team: Mapped[Team | None] = relationship(lazy="raise")

    # Flask-Login protocol. The id carries the session version so a server-side bump
    # ends every other session of this user.
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}.{self.session_version}"

    @property
    def sees_all_teams(self) -> bool:
        """Admins and leaders read every team's projects."""
        return self.role in (Role.ADMIN, Role.LEADER)

    @property
    def can_write(self) -> bool:
        """Leaders read everything and change nothing."""
        return self.role != Role.LEADER

    @property
    def display_name(self) -> str:
        return self.name or self.email


class ApiToken(db.Model):
    """A personal API token; only its SHA-256 hash is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="raise")


class LoginAttempt(db.Model):
    """Failed logins, counted in the database so throttling holds across workers."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_ip_at", "ip", "at"),
        Index("ix_login_attempt_email_at", "email", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    ip: Mapped[str] = mapped_column(String(64))
    email: Mapped[str] = mapped_column(String(254))

"""Promotion events and signing ceremonies, and files attached to records."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import utcnow
from crm.extensions import db


class EventKind(enum.StrEnum):
    PROMOTION = "promotion"  # 推介会
    SIGNING = "signing"  # 签约仪式 (often both: 推介暨集中签约)


class Event(db.Model):
    """A promotion event or signing ceremony; `team_id` is the team that maintains it."""

    __tablename__ = "event"
    __table_args__ = (Index("ix_event_on", "on", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str | None] = mapped_column(String(400))
    kind: Mapped[str] = mapped_column(String(16), default=EventKind.SIGNING.value)
    on: Mapped[date | None]
    place: Mapped[str | None] = mapped_column(String(200))
    organiser: Mapped[str | None] = mapped_column(String(200))
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id"))
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"), index=True)
    # Figures the organiser announced (may cover projects not in this system).
    reported_projects: Mapped[int | None]
    reported_total: Mapped[Decimal | None]  # 万元
    reported_total_approximate: Mapped[bool | None]
    notes: Mapped[str | None] = mapped_column(Text)
    external_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(onupdate=utcnow)
    deleted_at: Mapped[datetime | None]


event_project = Table(
    "event_project",
    db.metadata,
    Column("event_id", ForeignKey("event.id"), primary_key=True),
    Column("project_id", ForeignKey("project.id"), primary_key=True, index=True),
)


class Attachment(db.Model):
    """A file attached to exactly one project, visit or event.

    The bytes live under CRM_UPLOAD_DIR with a random name (`stored_name`); `filename` is
    the cleaned original name, used only for the download's Content-Disposition.
    """

    __tablename__ = "attachment"
    __table_args__ = (
        CheckConstraint(
            "(CASE WHEN project_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN visit_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN event_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="one_parent",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("project.id"), index=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("event.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    stored_name: Mapped[str] = mapped_column(String(80), unique=True)
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None]
    deleted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    @property
    def parent(self) -> tuple[str, int]:
        if self.project_id is not None:
            return "project", self.project_id
        if self.visit_id is not None:
            return "visit", self.visit_id
        return "event", self.event_id  # type: ignore[return-value]

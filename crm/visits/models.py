"""Contacts at companies, visits and follow-up tasks (the daily work of an investment team).

Events and attachments live in `event_models.py`.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import JSON, Column, ForeignKey, Index, String, Table, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import utcnow
from crm.extensions import db


class VisitType(enum.StrEnum):
    COMPANY_VISIT = "company_visit"  # we visit the company
    COMPANY_CAME = "company_came"  # the company visits us
    ONLINE = "online"
    EVENT = "event"  # met at a promotion event or ceremony


class Contact(db.Model):
    """A person at a company. `company_id` is where they work now; history in ContactEmployment."""

    __tablename__ = "contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int | None] = mapped_column(ForeignKey("company.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    title: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(254))
    wechat: Mapped[str | None] = mapped_column(String(100))
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None]


class ContactEmployment(db.Model):
    """A period a contact worked at a company: a contact who moves keeps the old rows."""

    __tablename__ = "contact_employment"
    __table_args__ = (Index("ix_contact_employment_contact", "contact_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id"))
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id"), index=True)
    title: Mapped[str | None] = mapped_column(String(200))
    started_on: Mapped[date | None]
    ended_on: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


visit_project = Table(
    "visit_project",
    db.metadata,
    Column("visit_id", ForeignKey("visit.id"), primary_key=True),
    Column("project_id", ForeignKey("project.id"), primary_key=True, index=True),
)

visit_participant = Table(
    "visit_participant",
    db.metadata,
    Column("visit_id", ForeignKey("visit.id"), primary_key=True),
    Column("user_id", ForeignKey("user_account.id"), primary_key=True, index=True),
)

visit_contact = Table(
    "visit_contact",
    db.metadata,
    Column("visit_id", ForeignKey("visit.id"), primary_key=True),
    Column("contact_id", ForeignKey("contact.id"), primary_key=True, index=True),
)


class Visit(db.Model):
    __tablename__ = "visit"
    # Partial indexes (live visits only): the lists always ask for `deleted_at IS NULL`, so
    # counting a team's week is read from the index alone, without visiting the table.
    __table_args__ = (
        Index(
            "ix_visit_team_date",
            "team_id",
            "on",
            sqlite_where=text("deleted_at IS NULL"),
            postgresql_where=text("deleted_at IS NULL"),
        ),
        Index("ix_visit_company_date", "company_id", "on"),
        Index("ix_visit_region_date", "region_id", "on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    on: Mapped[date] = mapped_column(index=True)
    type: Mapped[str] = mapped_column(String(32))  # a VisitType value
    city: Mapped[str | None] = mapped_column(String(100))
    province: Mapped[str | None] = mapped_column(String(100))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))
    company_id: Mapped[int | None] = mapped_column(ForeignKey("company.id"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("event.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"))
    purpose: Mapped[str | None] = mapped_column(Text)
    # What was learned: free notes plus the structured facts leaders count.
    learned: Mapped[str | None] = mapped_column(Text)
    intent: Mapped[str | None] = mapped_column(Text)  # investment intent in the company's words
    intent_amount: Mapped[Decimal | None]  # 万元
    land_mu: Mapped[Decimal | None]
    expected_output: Mapped[Decimal | None]  # expected annual output, 万元
    conditions_asked: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(Text)
    next_steps: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(onupdate=utcnow)
    deleted_at: Mapped[datetime | None]


class VisitDefaults(db.Model):
    """What the visit form pre-fills for a user: the last place and participants."""

    __tablename__ = "visit_defaults"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True)
    city: Mapped[str | None] = mapped_column(String(100))
    province: Mapped[str | None] = mapped_column(String(100))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))
    participant_user_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Task(db.Model):
    """A follow-up: a next step with an owner and a due date, usually about a project."""

    __tablename__ = "task"
    __table_args__ = (
        Index("ix_task_owner_open", "owner_id", "done_at", "due_on"),
        Index("ix_task_team_open", "team_id", "done_at", "due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    owner_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"))
    project_id: Mapped[int | None] = mapped_column(ForeignKey("project.id"), index=True)
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit.id"))
    due_on: Mapped[date]
    done_at: Mapped[datetime | None]
    done_note: Mapped[str | None] = mapped_column(Text)
    done_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deleted_at: Mapped[datetime | None]

"""Annual targets and archived weekly reports."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import utcnow
from crm.extensions import db


class AnnualTarget(db.Model):
    """A year's targets for one zone or one team (exactly one of the two is set)."""

    __tablename__ = "annual_target"
    __table_args__ = (
        UniqueConstraint("year", "zone_id", name="uq_annual_target_year_zone"),
        UniqueConstraint("year", "team_id", name="uq_annual_target_year_team"),
        CheckConstraint("(zone_id IS NULL) <> (team_id IS NULL)", name="zone_or_team"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int]
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"))
    signed_count: Mapped[int | None]
    signed_amount: Mapped[Decimal | None]  # 万元
    key_count: Mapped[int | None]
    started_count: Mapped[int | None]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ReportArchive(db.Model):
    """A generated weekly report kept as a file; downloads serve these exact bytes."""

    __tablename__ = "report_archive"
    __table_args__ = (Index("ix_report_archive_week", "week_start", "team_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    week: Mapped[str] = mapped_column(String(10))  # 2026-W47
    week_start: Mapped[date]
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id"))  # None: every team
    language: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))  # relative to the reports directory
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))  # job, cli, web
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

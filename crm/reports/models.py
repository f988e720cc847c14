"""Annual targets and archived weekly reports."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import utcnow
from crm.extensions import db
from crm.visits.models import Visit


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


# The visit counts of the report and the dashboard read only (on, team, region, deleted):
# an index holding all four answers them without reading the visit rows themselves
# (1,000,000 visits in the benchmark: 8 weeks of counts in ~0.1 s instead of ~1.5 s).
Index("ix_visit_report", Visit.on, Visit.team_id, Visit.region_id, Visit.deleted_at)

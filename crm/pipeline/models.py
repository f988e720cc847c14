"""Companies, projects, their stage history and sharing between teams."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.accounts.models import Team, User
from crm.db import utcnow
from crm.enums import OwnershipType, Stage, db_enum
from crm.extensions import db
from crm.reference.models import IndustrialChain, Region, Zone


class Company(db.Model):
    """An investor or prospective investor."""

    __tablename__ = "company"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str | None] = mapped_column(String(300))
    aliases: Mapped[list[str]] = mapped_column(default=list)
    normalized_name: Mapped[str] = mapped_column(String(300), index=True)
    uscc: Mapped[str | None] = mapped_column(String(18), unique=True)
    ownership_type: Mapped[OwnershipType | None] = mapped_column(db_enum(OwnershipType))
    hq_city: Mapped[str | None] = mapped_column(String(100))
    hq_province: Mapped[str | None] = mapped_column(String(100))
    # Investor tags that are not year-bound: central_soe, listed, industry_leader, hq_*.
    tags: Mapped[list[str]] = mapped_column(default=list)
    search_blob: Mapped[str] = mapped_column(Text, default="")
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("company.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None]


class CompanyTop500(db.Model):
    """A confirmed match of a company on one Top-500 list for one year."""

    __tablename__ = "company_top500"
    __table_args__ = (UniqueConstraint("company_id", "list_code", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id"), index=True)
    list_code: Mapped[str] = mapped_column(String(32))
    year: Mapped[int]
    rank: Mapped[int | None]
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    confirmed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Project(db.Model):
    __tablename__ = "project"
    __table_args__ = (
        Index("ix_project_team_stage", "team_id", "stage"),
        Index("ix_project_stage_updated", "stage", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str | None] = mapped_column(String(300))
    company_id: Mapped[int] = mapped_column(ForeignKey("company.id"), index=True)
    chain_id: Mapped[int | None] = mapped_column(ForeignKey("industrial_chain.id"), index=True)
    target_zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id"))
    landed_zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id"), index=True)
    source_region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id"))
    planned_investment: Mapped[Decimal | None]  # 万元
    fixed_asset_investment: Mapped[Decimal | None]  # 万元
    foreign_capital_usd: Mapped[Decimal | None]  # US dollars
    funds_in_place_total: Mapped[Decimal | None]  # 万元
    land_mu: Mapped[Decimal | None]
    expected_annual_output: Mapped[Decimal | None]  # 万元
    expected_annual_tax: Mapped[Decimal | None]  # 万元
    jobs: Mapped[int | None]

    stage: Mapped[Stage] = mapped_column(db_enum(Stage, 16), default=Stage.LEAD)
    lead_on: Mapped[date | None]
    negotiating_on: Mapped[date | None]
    signed_on: Mapped[date | None] = mapped_column(index=True)
    landed_on: Mapped[date | None]
    started_on: Mapped[date | None]
    operating_on: Mapped[date | None]
    on_hold_on: Mapped[date | None]
    dropped_on: Mapped[date | None]
    planned_operating_on: Mapped[date | None]
    drop_reason_code: Mapped[str | None] = mapped_column(String(64))
    drop_reason_text: Mapped[str | None] = mapped_column(Text)
    # The main stage a side state (on hold, dropped) was entered from.
    resume_stage: Mapped[Stage | None] = mapped_column(db_enum(Stage, 16))

    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"))

    is_key: Mapped[bool] = mapped_column(default=False, index=True)
    key_reasons: Mapped[list[str]] = mapped_column(default=list)
    key_manual: Mapped[bool] = mapped_column(default=False)
    key_manual_reason: Mapped[str | None] = mapped_column(Text)

    # Inbound inquiries (a company contacted us) are logged as leads with a received date.
    is_inquiry: Mapped[bool] = mapped_column(default=False)
    inquiry_received_on: Mapped[date | None]
    inquiry_answered_on: Mapped[date | None]

    facts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    external_id: Mapped[str | None] = mapped_column(String(100), index=True)
    notes: Mapped[str | None] = mapped_column(Text)
    search_blob: Mapped[str] = mapped_column(Text, default="")
    last_activity_at: Mapped[datetime | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Indexed for the admin's list of deleted projects (few rows among many).
    deleted_at: Mapped[datetime | None] = mapped_column(index=True)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    company: Mapped[Company] = relationship(lazy="raise")
    chain: Mapped[IndustrialChain | None] = relationship(lazy="raise")
    target_zone: Mapped[Zone | None] = relationship(foreign_keys=[target_zone_id], lazy="raise")
    landed_zone: Mapped[Zone | None] = relationship(foreign_keys=[landed_zone_id], lazy="raise")
    source_region: Mapped[Region | None] = relationship(lazy="raise")
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id], lazy="raise")
    team: Mapped[Team] = relationship(lazy="raise")

    def stage_date(self, stage: Stage) -> date | None:
        """The date the project reached `stage`, if it did."""
        return getattr(self, f"{stage.value}_on")


class StageChange(db.Model):
    """One transition in a project's stage history (kept forever)."""

    __tablename__ = "stage_change"
    __table_args__ = (Index("ix_stage_change_project", "project_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"))
    from_stage: Mapped[Stage | None] = mapped_column(db_enum(Stage, 16))
    to_stage: Mapped[Stage] = mapped_column(db_enum(Stage, 16))
    on: Mapped[date] = mapped_column(index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    note: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ProjectShare(db.Model):
    """A project shared with another team, to read or to edit."""

    __tablename__ = "project_share"
    __table_args__ = (UniqueConstraint("project_id", "team_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("project.id"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"), index=True)
    can_edit: Mapped[bool] = mapped_column(default=False)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

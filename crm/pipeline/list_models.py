"""Saved project-list filters (per user), and indexes for the list's common filters and sorts.

The indexes are declared here, next to the queries that need them, rather than in
`crm/pipeline/models.py`; they belong to the `project` table all the same.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import utcnow
from crm.extensions import db
from crm.pipeline.models import Company, Project


class SavedFilter(db.Model):
    """A named project-list query string that one user saved to apply again."""

    __tablename__ = "saved_filter"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    name: Mapped[str] = mapped_column(String(100))
    # The canonical query string of the filter and sort (no page), e.g. "stage=signed&key=1".
    query: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProjectTotal(db.Model):
    """A change of the live projects' count and planned investment in one (team, stage,
    key flag): written only by database triggers on `project`, summed and folded by
    `crm.pipeline.totals`."""

    __tablename__ = "project_total"

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int]
    stage: Mapped[str] = mapped_column(String(16))
    is_key: Mapped[bool]
    projects: Mapped[int]
    # Planned investment in hundredths of 万元 (an integer, so sums are exact).
    amount_hundredths: Mapped[int] = mapped_column(BigInteger)


# Indexes for the list, the board and search at 100,000 projects (measured in
# docs/pipeline-finding.md). None leads with deleted_at: SQLite without statistics takes
# `deleted_at IS NULL` for a selective equality and would pick such an index for everything.
# Sorts (each ends with id, the list's tiebreak, so ORDER BY ... LIMIT reads 50 entries):
Index("ix_project_updated_id", Project.updated_at, Project.id)
Index("ix_project_name_id", Project.name, Project.id)
Index("ix_project_amount_id", Project.planned_investment, Project.id)
# Counts and sums per stage (board totals, list count/sum) read only these index entries;
# a team's board column picks its newest cards from the second one without the table:
Index("ix_project_stage_amount", Project.stage, Project.planned_investment, Project.deleted_at)
Index(
    "ix_project_team_stage_amount",
    Project.team_id,
    Project.stage,
    Project.planned_investment,
    Project.deleted_at,
    Project.updated_at,
)
# "Key projects only", the leaders' usual view, counted and grouped from the index alone:
Index(
    "ix_project_key_stage_amount",
    Project.is_key,
    Project.stage,
    Project.planned_investment,
    Project.deleted_at,
    Project.company_id,
)
# A chain and its stages (the most common filter), counted and summed from the index alone:
Index(
    "ix_project_chain_stage_amount",
    Project.chain_id,
    Project.stage,
    Project.planned_investment,
    Project.deleted_at,
)
# The zone filter (landed zone, else target zone) as two index ranges; the source region.
Index("ix_project_landed_target_zone", Project.landed_zone_id, Project.target_zone_id)
Index("ix_project_source_region", Project.source_region_id)
# Search scans this narrow index instead of the wide table (SQLite: 15 ms instead of 65 ms).
Index("ix_project_search", Project.search_blob, Project.team_id, Project.deleted_at)
Index("ix_company_name_id", Company.name, Company.id)
# PostgreSQL: trigram indexes answer `search_blob LIKE '%...%'` for three characters or more
# (pinyin, initials, longer names) without reading every row (pg_trgm, created by the
# migration when the server allows it). SQLite scans the narrow index above.
for _model in (Project, Company):
    Index(
        f"ix_{_model.__tablename__}_search_trgm",
        _model.search_blob,
        postgresql_using="gin",
        postgresql_ops={"search_blob": "gin_trgm_ops"},
        info={"dialect": "postgresql"},
    ).ddl_if(dialect="postgresql")

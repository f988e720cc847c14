"""Ledger imports: the upload, its result, each change it made (for undo), remembered mappings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import utcnow
from crm.extensions import db


class LedgerImport(db.Model):
    """One uploaded ledger: its file, who uploaded it, the validation and what applying did.

    Status: `invalid` (errors; nothing can be applied), `validated` (ready to apply),
    `applied`, `undone`.
    """

    __tablename__ = "ledger_import"
    __table_args__ = (Index("ix_ledger_import_team_created", "team_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(String(500))  # relative to the upload directory
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    file_type: Mapped[str] = mapped_column(String(10))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id"))
    status: Mapped[str] = mapped_column(String(16))
    header_signature: Mapped[str] = mapped_column(String(64))
    headers: Mapped[list[str]] = mapped_column(default=list)
    mapping: Mapped[dict[str, Any]] = mapped_column(default=dict)  # column index -> field
    rows_total: Mapped[int] = mapped_column(default=0)
    error_count: Mapped[int] = mapped_column(default=0)
    warning_count: Mapped[int] = mapped_column(default=0)
    create_count: Mapped[int] = mapped_column(default=0)
    update_count: Mapped[int] = mapped_column(default=0)
    unchanged_count: Mapped[int] = mapped_column(default=0)
    # {"issues": [...], "preview": [...]} as shown to the user.
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # The rows as validated ([row number, {field: value}]), applied without reading the
    # file again; loaded only when asked for.
    valid_rows: Mapped[list[Any]] = mapped_column(JSON, default=list, deferred=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    applied_at: Mapped[datetime | None]
    applied_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    undone_at: Mapped[datetime | None]
    undone_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))


class LedgerImportChange(db.Model):
    """A row created or updated by an applied import, with the values before (for undo)."""

    __tablename__ = "ledger_import_change"
    __table_args__ = (Index("ix_ledger_import_change_import", "import_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("ledger_import.id"))
    entity: Mapped[str] = mapped_column(String(16))  # project, company
    entity_id: Mapped[int]
    action: Mapped[str] = mapped_column(String(16))  # created, updated
    row: Mapped[int | None]  # the ledger row number
    before: Mapped[dict[str, Any]] = mapped_column(default=dict)
    after: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Stage-change rows written by the import for this entity (removed by undo).
    stage_change_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    version_after: Mapped[int | None]


class LedgerMapping(db.Model):
    """The column mapping last confirmed for a header layout (by header signature)."""

    __tablename__ = "ledger_mapping"

    signature: Mapped[str] = mapped_column(String(64), primary_key=True)
    headers: Mapped[list[str]] = mapped_column(default=list)
    mapping: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    note: Mapped[str | None] = mapped_column(Text)

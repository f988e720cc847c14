"""The audit log: who changed what, when, with field-level before and after values."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from crm.db import utcnow
from crm.extensions import db


class AuditLog(db.Model):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity_type", "entity_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    entity_type: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[int]
    action: Mapped[str] = mapped_column(String(50))
    # {"field": [before, after], ...} for updates; a summary dict for other actions.
    changes: Mapped[dict[str, Any]] = mapped_column(default=dict)


def record(
    session: Session,
    *,
    user_id: int | None,
    entity_type: str,
    entity_id: int,
    action: str,
    changes: dict[str, Any] | None = None,
) -> AuditLog:
    """Add an audit entry to the session (the caller commits)."""
    entry = AuditLog(
        user_id=user_id,
        entity_type=entity_type,
        entity_id=entity_id,
        action=action,
        changes=changes or {},
    )
    session.add(entry)
    return entry

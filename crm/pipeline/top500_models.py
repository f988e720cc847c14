"""Top-500 lists as imported: one list (code and year) with its entries.

Confirmed matches of entries to companies are `crm.pipeline.models.CompanyTop500` rows; a
list can be stored without any match being confirmed (as `crm seed` does).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from crm.db import utcnow
from crm.extensions import db


class Top500List(db.Model):
    """One year's edition of a Top-500 list (Fortune Global 500 2022, ...)."""

    __tablename__ = "top500_list"
    __table_args__ = (UniqueConstraint("list_code", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    list_code: Mapped[str] = mapped_column(String(32))
    year: Mapped[int]
    source_name: Mapped[str | None] = mapped_column(String(255))
    entry_count: Mapped[int] = mapped_column(default=0)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class Top500ListEntry(db.Model):
    """One company on a stored list, as the file gave it."""

    __tablename__ = "top500_list_entry"
    __table_args__ = (Index("ix_top500_list_entry_list_row", "list_id", "row"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("top500_list.id"))
    row: Mapped[int]
    rank: Mapped[int | None]
    name: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str | None] = mapped_column(String(300))
    aliases: Mapped[list[str]] = mapped_column(default=list)

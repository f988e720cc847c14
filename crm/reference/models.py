"""Reference data: cities, zones, chains (versioned sets), regions and stage labels."""

from __future__ import annotations

from datetime import date

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from crm.enums import ZoneLevel, db_enum
from crm.extensions import db


class City(db.Model):
    __tablename__ = "city"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(200))
    province_zh: Mapped[str | None] = mapped_column(String(100))


class Zone(db.Model):
    """A development zone, county or district where projects land."""

    __tablename__ = "zone"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(300))
    level: Mapped[ZoneLevel] = mapped_column(db_enum(ZoneLevel))
    city_id: Mapped[int | None] = mapped_column(ForeignKey("city.id"))
    host_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id"))
    source: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True)

    city: Mapped[City | None] = relationship(lazy="raise")


class ChainSet(db.Model):
    """A version of the city's list of industrial chains (22 in 2017, 17 later)."""

    __tablename__ = "chain_set"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(300))
    adopted_on: Mapped[date | None]
    current: Mapped[bool] = mapped_column(default=False)
    source: Mapped[str | None] = mapped_column(Text)


# The audit log's entity type for chains. Administrators' changes (crm.pipeline.chain_admin)
# are audited under it; `crm seed` leaves a chain with such entries as they made it.
CHAIN_AUDIT_ENTITY = "industrial_chain"


class IndustrialChain(db.Model):
    __tablename__ = "industrial_chain"
    __table_args__ = (UniqueConstraint("set_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("chain_set.id"))
    code: Mapped[str] = mapped_column(String(64), index=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(300))
    confirmed: Mapped[bool] = mapped_column(default=False)
    source: Mapped[str | None] = mapped_column(Text)
    aliases_zh: Mapped[list[str]] = mapped_column(default=list)
    sort: Mapped[int] = mapped_column(default=0)
    retired: Mapped[bool] = mapped_column(default=False)

    chain_set: Mapped[ChainSet] = relationship(lazy="raise")


class ChainMapping(db.Model):
    """Carries a chain tag from one chain-set version to the next."""

    __tablename__ = "chain_mapping"
    __table_args__ = (UniqueConstraint("from_chain_id", "to_chain_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    from_chain_id: Mapped[int] = mapped_column(ForeignKey("industrial_chain.id"))
    to_chain_id: Mapped[int] = mapped_column(ForeignKey("industrial_chain.id"))


class Region(db.Model):
    """A "4+N" source region."""

    __tablename__ = "region"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(200))
    sort: Mapped[int] = mapped_column(default=0)
    provinces_zh: Mapped[list[str]] = mapped_column(default=list)
    cities_zh: Mapped[list[str]] = mapped_column(default=list)


class StageLabel(db.Model):
    """Display labels of the fixed pipeline stages (the keys live in code)."""

    __tablename__ = "stage_label"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(50))
    name_en: Mapped[str] = mapped_column(String(100))
    order: Mapped[int] = mapped_column(default=0)
    kind: Mapped[str] = mapped_column(String(16), default="main")


class DropReason(db.Model):
    __tablename__ = "drop_reason"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(200))


class Setting(db.Model):
    """An admin-editable setting (thresholds and the like), stored as text."""

    __tablename__ = "setting"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)

"""Enumerations shared across features, stored by value."""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import Enum as SAEnum


class Role(enum.StrEnum):
    ADMIN = "admin"
    LEADER = "leader"
    LEAD = "lead"
    OFFICER = "officer"


class Stage(enum.StrEnum):
    LEAD = "lead"
    NEGOTIATING = "negotiating"
    SIGNED = "signed"
    LANDED = "landed"
    STARTED = "started"
    OPERATING = "operating"
    ON_HOLD = "on_hold"
    DROPPED = "dropped"


MAIN_STAGES: tuple[Stage, ...] = (
    Stage.LEAD,
    Stage.NEGOTIATING,
    Stage.SIGNED,
    Stage.LANDED,
    Stage.STARTED,
    Stage.OPERATING,
)
SIDE_STAGES: tuple[Stage, ...] = (Stage.ON_HOLD, Stage.DROPPED)
ALL_STAGES: tuple[Stage, ...] = MAIN_STAGES + SIDE_STAGES


class ZoneLevel(enum.StrEnum):
    NATIONAL_ETDZ = "national_etdz"
    NATIONAL_HITECH = "national_hitech"
    PROVINCIAL = "provincial"
    COUNTY = "county"
    DISTRICT = "district"


class InvestorTag(enum.StrEnum):
    FORTUNE_GLOBAL_500 = "fortune_global_500"
    CHINA_TOP_500 = "china_top_500"
    CHINA_PRIVATE_TOP_500 = "china_private_top_500"
    CENTRAL_SOE = "central_soe"
    LISTED = "listed"
    INDUSTRY_LEADER = "industry_leader"
    HQ_CORPORATE = "hq_corporate"
    HQ_REGIONAL = "hq_regional"
    HQ_FUNCTIONAL = "hq_functional"


TOP500_LISTS: tuple[InvestorTag, ...] = (
    InvestorTag.FORTUNE_GLOBAL_500,
    InvestorTag.CHINA_TOP_500,
    InvestorTag.CHINA_PRIVATE_TOP_500,
)


class OwnershipType(enum.StrEnum):
    CENTRAL_SOE = "central_soe"
    LOCAL_SOE = "local_soe"
    PRIVATE = "private"
    FOREIGN = "foreign"
    HK_MACAO_TAIWAN = "hk_macao_taiwan"
    JOINT_VENTURE = "joint_venture"
    OTHER = "other"


def db_enum(enum_cls: type[enum.Enum], length: int = 32) -> Any:
    """A portable column type storing an enum by its value (not its name)."""
    return SAEnum(
        enum_cls,
        native_enum=False,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )

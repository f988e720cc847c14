"""Key-project (重点项目) rules: why a project is key, recomputed whenever its inputs change."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm.enums import TOP500_LISTS
from crm.pipeline.models import CompanyTop500
from crm.reference.models import Setting

THRESHOLD_SETTING = "key_project_threshold_wan"
DEFAULT_THRESHOLD_WAN = Decimal("100000")  # 10亿元


def key_threshold(session: Session, default: Decimal = DEFAULT_THRESHOLD_WAN) -> Decimal:
    """The planned investment (万元) from which a project is key; an admin setting."""
    value = session.scalar(select(Setting.value).where(Setting.key == THRESHOLD_SETTING))
    return Decimal(value) if value else default


def key_reasons(
    *,
    planned_investment: Decimal | None,
    threshold: Decimal,
    top500: Iterable[tuple[str, int]],
    current_year: int,
    manual: bool,
    manual_reason: str | None,
) -> list[str]:
    """Machine-readable reasons a project is key; empty when it is not.

    Reasons: `top500:<list>:<year>` when the investor is on a Top-500 list of this or the
    previous year, `amount` when the planned investment reaches the threshold, and
    `manual` when a lead marked it.
    """
    reasons = []
    lists = {code for code in TOP500_LISTS}
    for list_code, year in sorted(set(top500)):
        if list_code in lists and year in (current_year, current_year - 1):
            reasons.append(f"top500:{list_code}:{year}")
    if planned_investment is not None and planned_investment >= threshold:
        reasons.append("amount")
    if manual:
        reasons.append("manual")
    return reasons


def company_top500(session: Session, company_id: int) -> list[tuple[str, int]]:
    return [
        (code, year)
        for code, year in session.execute(
            select(CompanyTop500.list_code, CompanyTop500.year).where(
                CompanyTop500.company_id == company_id
            )
        )
    ]

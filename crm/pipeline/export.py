"""The project list as an xlsx workbook: the same filter and order as the page, every row.

Rows are read from the database in batches (`yield_per`) and streamed into
`crm.reports.xlsx.XlsxBook`, which writes user text as text, never as a formula (cells
starting with = + - @ are neutralised), so memory stays flat with 100,000 projects.
"""

from __future__ import annotations

from datetime import date
from typing import IO, Any

from flask_babel import gettext as _
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, aliased

from crm.accounts.models import Team, User
from crm.enums import ALL_STAGES
from crm.i18n import stage_label
from crm.pipeline import list_queries, listing
from crm.pipeline.find_labels import investor_tag_label
from crm.pipeline.models import Company, Project
from crm.reference.models import IndustrialChain, Region, Zone
from crm.reports.xlsx import Column, XlsxBook


def _export_stmt(english: bool) -> Select[Any]:
    target = aliased(Zone)
    landed = aliased(Zone)

    def name(model: Any) -> Any:
        return model.name_en if english else model.name_zh

    return (
        select(
            Project.id,
            Project.name,
            Company.name,
            Company.uscc,
            name(IndustrialChain),
            Project.stage,
            Project.planned_investment,
            Project.foreign_capital_usd,
            name(target),
            name(landed),
            name(Region),
            Project.is_key,
            Project.key_reasons,
            *(getattr(Project, f"{s.value}_on") for s in ALL_STAGES),
            name(Team),
            func.coalesce(func.nullif(User.name, ""), User.email),
            Project.updated_at,
        )
        .join(Company, Company.id == Project.company_id)
        .join(Team, Team.id == Project.team_id)
        .outerjoin(IndustrialChain, IndustrialChain.id == Project.chain_id)
        .outerjoin(target, target.id == Project.target_zone_id)
        .outerjoin(landed, landed.id == Project.landed_zone_id)
        .outerjoin(User, User.id == Project.owner_id)
        .outerjoin(Region, Region.id == Project.source_region_id)
    )


def describe_reason(reason: str) -> str:
    """A key-project reason (`top500:<list>:<year>`, `amount`, `manual`) for people."""
    if reason.startswith("top500:"):
        _prefix, code, year = [*reason.split(":"), "", ""][:3]
        return f"{investor_tag_label(code)} {year}".strip()
    if reason == "amount":
        return _("Planned investment at or above the key-project threshold")
    if reason == "manual":
        return _("Marked key by a team lead")
    return reason


def _columns() -> list[Column]:
    columns = [
        Column("id", _("ID"), "int", width=8),
        Column("name", _("Project"), width=30, wrap=True),
        Column("company", _("Investor"), width=28, wrap=True),
        Column("uscc", _("Unified Social Credit Code"), width=21),
        Column("chain", _("Chain"), width=18),
        Column("stage", _("Stage"), width=10),
        Column("amount", _("Planned investment"), "money_wan"),
        Column("foreign", _("Foreign capital (USD)"), "number"),
        Column("target_zone", _("Target zone"), width=20),
        Column("landed_zone", _("Landed zone"), width=20),
        Column("region", _("Source region"), width=16),
        Column("key", _("Key project"), width=8),
        Column("reasons", _("Why key"), width=30, wrap=True),
    ]
    columns += [
        Column(f"{s.value}_on", _("%(stage)s on", stage=stage_label(s)), "date") for s in ALL_STAGES
    ]
    columns += [
        Column("team", _("Team"), width=20),
        Column("owner", _("Owner"), width=12),
        Column("updated", _("Last change"), "datetime"),
    ]
    return columns


def write_projects_xlsx(
    session: Session,
    user: User,
    f: listing.ProjectFilter,
    sort: listing.ListSort,
    *,
    target: IO[bytes],
    today: date,
    english: bool,
    tz: Any = None,
) -> int:
    """Write every project `user` may see that matches `f`, in `sort` order, to `target`.
    Returns the number of rows written."""
    stmt = (
        _export_stmt(english)
        .where(*list_queries.where_clauses(user, f, today))
        .order_by(*list_queries.order_by(sort))
        .execution_options(yield_per=1000)
    )
    yes, no = _("Yes"), _("No")
    count = 0
    with XlsxBook(target, lang="en" if english else "zh", tz=tz) as book:
        sheet = book.sheet(
            _("Projects"),
            _columns(),
            title_row=_("Projects exported on %(date)s", date=today.isoformat()),
            serial_column=_("No."),
        )
        for row in session.execute(stmt):
            (pid, name, company, uscc, chain, stage, amount, foreign, tzone, lzone, region) = row[
                :11
            ]
            is_key, reasons = row[11], row[12]
            dates = row[13 : 13 + len(ALL_STAGES)]
            team, owner, updated = row[13 + len(ALL_STAGES) :]
            values: dict[str, object] = {
                "id": pid,
                "name": name,
                "company": company,
                "uscc": uscc,
                "chain": chain,
                "stage": stage_label(stage),
                "amount": amount,
                "foreign": foreign,
                "target_zone": tzone,
                "landed_zone": lzone,
                "region": region,
                "key": yes if is_key else no,
                "reasons": "; ".join(describe_reason(r) for r in reasons or []),
                "team": team,
                "owner": owner,
                "updated": updated,
            }
            for stage_key, day in zip(ALL_STAGES, dates, strict=True):
                values[f"{stage_key.value}_on"] = day
            sheet.append(values)
            count += 1
    return count

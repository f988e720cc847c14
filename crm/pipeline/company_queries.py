"""Read queries for company pages: a bounded number of queries each, whatever the data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm.accounts.models import User
from crm.pipeline import list_queries, listing
from crm.pipeline.access import project_scope
from crm.pipeline.models import Company, CompanyTop500, Project
from crm.visits.models import Contact

CONTACTS_SHOWN = 200
PROJECTS_SHOWN = 20


def alive() -> list[Any]:
    return [Company.merged_into_id.is_(None), Company.deleted_at.is_(None)]


def list_companies(
    session: Session, q: str, *, page: int, per_page: int
) -> tuple[list[Company], int]:
    """A page of companies (by name), optionally matching search words; and the count."""
    conds = alive()
    if q:
        found = listing.search_condition(Company.search_blob, q)
        if found is None:
            return [], 0
        conds.append(found)
    total = session.scalar(select(func.count()).select_from(Company).where(*conds)) or 0
    rows = list(
        session.scalars(
            select(Company)
            .where(*conds)
            .order_by(Company.name, Company.id)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    return rows, int(total)


def visible_project_counts(session: Session, user: User, company_ids: list[int]) -> dict[int, int]:
    """Projects per company that `user` may see: one GROUP BY query."""
    if not company_ids:
        return {}
    rows = session.execute(
        select(Project.company_id, func.count())
        .where(Project.company_id.in_(company_ids), project_scope(user))
        .group_by(Project.company_id)
    ).all()
    return {cid: int(n) for cid, n in rows}


@dataclass
class CompanyPage:
    company: Company
    top500: list[CompanyTop500]
    contacts: list[Contact]
    projects: list_queries.ListPage
    merged_into: tuple[int, str] | None
    merged_from: list[tuple[int, str]]

    def top500_by_year(self) -> list[tuple[int, list[CompanyTop500]]]:
        years: dict[int, list[CompanyTop500]] = {}
        for tag in self.top500:
            years.setdefault(tag.year, []).append(tag)
        return sorted(years.items(), reverse=True)


def company_page(session: Session, user: User, company: Company, *, today: Any) -> CompanyPage:
    top500 = list(
        session.scalars(
            select(CompanyTop500)
            .where(CompanyTop500.company_id == company.id)
            .order_by(CompanyTop500.year.desc(), CompanyTop500.list_code)
        )
    )
    contacts = list(
        session.scalars(
            select(Contact)
            .where(Contact.company_id == company.id, Contact.deleted_at.is_(None))
            .order_by(Contact.name, Contact.id)
            .limit(CONTACTS_SHOWN)
        )
    )
    projects = list_queries.list_page(
        session,
        user,
        listing.ProjectFilter(company_id=company.id),
        listing.ListSort(),
        page=1,
        per_page=PROJECTS_SHOWN,
        today=today,
    )
    merged_into = None
    if company.merged_into_id is not None:
        target = session.execute(
            select(Company.id, Company.name).where(Company.id == company.merged_into_id)
        ).first()
        merged_into = (target[0], target[1]) if target else None
    merged_from = [
        (cid, name)
        for cid, name in session.execute(
            select(Company.id, Company.name)
            .where(Company.merged_into_id == company.id)
            .order_by(Company.id)
        )
    ]
    return CompanyPage(company, top500, contacts, projects, merged_into, merged_from)

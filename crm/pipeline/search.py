"""Search: projects and companies by any part of a Chinese name, pinyin, initials or English.

Every company and project keeps a `search_blob` (see `crm.pipeline.names.search_blob`):
the normalised name, the compact name, full pinyin and pinyin initials of each of its names,
and its English name, between `|` separators. A query becomes a few variants
(`query_variants`) and matches when one of them is part of one key: `LIKE '%variant%'`.
So "dsdc", "desai", "德赛" and "Desay" all find 德赛电池.

A project's blob holds its own names and its investor's (name, aliases, English name), so a
project is found by its company's name too. The blobs are kept current by
`refresh_search_blobs`, which the company services call on create, edit and merge, and which
project services call after changing a project's name or company.

The search is a scan of a narrow index (`ix_project_search`) bounded by LIMIT, without ORDER
BY, so a common query stops at the first hits; the hits are then sorted in Python. The full,
sorted, paged set of matching projects is the project list with `?q=`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session

from crm.accounts.models import User
from crm.enums import Stage
from crm.pipeline.access import project_scope
from crm.pipeline.listing import search_condition
from crm.pipeline.models import Company, Project
from crm.pipeline.names import SEARCH_SEPARATOR, search_blob

MAX_BLOB = 2000  # characters; keeps the search index entries well below index size limits
DEFAULT_LIMIT = 20


@dataclass(frozen=True)
class ProjectHit:
    id: int
    name: str
    company_id: int
    company_name: str
    stage: Stage
    planned_investment: Decimal | None
    is_key: bool


@dataclass(frozen=True)
class CompanyHit:
    id: int
    name: str
    name_en: str | None
    uscc: str | None
    hq_city: str | None


@dataclass
class SearchResult:
    projects: list[ProjectHit]
    companies: list[CompanyHit]
    more_projects: bool
    more_companies: bool


def search_projects(
    session: Session, user: User, q: str, limit: int = DEFAULT_LIMIT
) -> tuple[list[ProjectHit], bool]:
    """Up to `limit` projects `user` may see matching `q` (key projects first, then by
    name); and whether there are more."""
    found = search_condition(Project.search_blob, q)
    if found is None:
        return [], False
    stmt = (
        select(
            Project.id,
            Project.name,
            Project.company_id,
            Company.name,
            Project.stage,
            Project.planned_investment,
            Project.is_key,
        )
        .join(Company, Company.id == Project.company_id)
        # Matching ids first: the scan reads the narrow search index, not the wide table.
        .where(
            Project.id.in_(select(Project.id).where(found, project_scope(user)).limit(limit + 1))
        )
    )
    hits = [ProjectHit(*row) for row in session.execute(stmt)]
    more = len(hits) > limit
    hits = sorted(hits[:limit], key=lambda h: (not h.is_key, h.name, h.id))
    return hits, more


def search_companies(
    session: Session, q: str, limit: int = DEFAULT_LIMIT
) -> tuple[list[CompanyHit], bool]:
    """Up to `limit` companies (not merged away, not deleted) matching `q`, by name."""
    found = search_condition(Company.search_blob, q)
    if found is None:
        return [], False
    stmt = (
        select(Company.id, Company.name, Company.name_en, Company.uscc, Company.hq_city)
        .where(found, Company.merged_into_id.is_(None), Company.deleted_at.is_(None))
        .limit(limit + 1)
    )
    hits = [CompanyHit(*row) for row in session.execute(stmt)]
    more = len(hits) > limit
    return sorted(hits[:limit], key=lambda h: (h.name, h.id)), more


def search(session: Session, user: User, q: str, limit: int = DEFAULT_LIMIT) -> SearchResult:
    """Projects (in the user's scope) and companies matching `q`: two queries."""
    projects, more_projects = search_projects(session, user, q, limit)
    companies, more_companies = search_companies(session, q, limit)
    return SearchResult(projects, companies, more_projects, more_companies)


# --- keeping the blobs current ------------------------------------------------------------


def _cap(blob: str) -> str:
    if len(blob) <= MAX_BLOB:
        return blob
    cut = blob.rfind(SEARCH_SEPARATOR, 0, MAX_BLOB)
    return blob[: cut + 1] if cut > 0 else ""


def company_search_blob(name: str, aliases: Iterable[str] | None, name_en: str | None) -> str:
    """The search blob of a company."""
    return _cap(search_blob(name, list(aliases or []), name_en))


def project_search_blob(
    name: str,
    name_en: str | None,
    company_name: str,
    company_aliases: Iterable[str] | None,
    company_name_en: str | None,
) -> str:
    """The search blob of a project: its names and its investor's."""
    blob = search_blob(name, [company_name, *(company_aliases or [])], name_en)
    if company_name_en:
        extra = search_blob("", None, company_name_en)
        keys = [k for k in (blob + extra).split(SEARCH_SEPARATOR) if k]
        unique = list(dict.fromkeys(keys))
        blob = SEARCH_SEPARATOR + SEARCH_SEPARATOR.join(unique) + SEARCH_SEPARATOR if unique else ""
    return _cap(blob)


def refresh_search_blobs(
    session: Session,
    *,
    company_ids: Iterable[int] = (),
    project_ids: Iterable[int] = (),
) -> int:
    """Recompute the search blobs of these companies, of their projects, and of these
    projects; write only those that changed. Returns how many rows were written.

    Two reads and at most two bulk updates, whatever the number of rows. Blob updates do
    not count as edits: neither `updated_at` nor a project's `version` changes. The caller
    commits; objects already loaded in the session are expired so they read the new blob.
    """
    company_ids = sorted(set(company_ids))
    project_ids = sorted(set(project_ids))
    written = 0
    if company_ids:
        rows = session.execute(
            select(
                Company.id, Company.name, Company.aliases, Company.name_en, Company.search_blob
            ).where(Company.id.in_(company_ids))
        ).all()
        changes = [
            {"b_id": cid, "b_blob": blob}
            for cid, name, aliases, name_en, old in rows
            if (blob := company_search_blob(name, aliases, name_en)) != old
        ]
        written += _write(session, Company, changes)
    if company_ids or project_ids:
        which = []
        if company_ids:
            which.append(Project.company_id.in_(company_ids))
        if project_ids:
            which.append(Project.id.in_(project_ids))
        rows = session.execute(
            select(
                Project.id,
                Project.name,
                Project.name_en,
                Company.name,
                Company.aliases,
                Company.name_en,
                Project.search_blob,
            )
            .join(Company, Company.id == Project.company_id)
            .where(or_(*which))
        ).all()
        changes = [
            {"b_id": pid, "b_blob": blob}
            for pid, name, name_en, c_name, c_aliases, c_name_en, old in rows
            if (blob := project_search_blob(name, name_en, c_name, c_aliases, c_name_en)) != old
        ]
        written += _write(session, Project, changes)
    return written


def _write(
    session: Session, model: type[Company] | type[Project], changes: Sequence[dict[str, object]]
) -> int:
    if not changes:
        return 0
    table = model.__table__
    stmt = (
        update(table)
        .where(table.c.id == bindparam("b_id"))
        # Setting updated_at to itself keeps the column's onupdate default from firing.
        .values(search_blob=bindparam("b_blob"), updated_at=table.c.updated_at)
    )
    session.execute(stmt, list(changes))
    ids = {row["b_id"] for row in changes}
    for obj in list(session.identity_map.values()):
        if isinstance(obj, model) and obj.id in ids:
            session.expire(obj, ["search_blob"])
    return len(changes)

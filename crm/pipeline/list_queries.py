"""Project-list queries: scope and filter together, sort orders, the count and sum, pages.

Every page costs two statements: the count and planned-investment sum of the filter, and
the rows, read as a "deferred join" (the page's ids are chosen on narrow data, then the
columns a row shows, with their names, are read for those ids only, as plain values).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from crm.accounts.models import Team, User
from crm.enums import Stage
from crm.pipeline import totals
from crm.pipeline.access import project_scope
from crm.pipeline.listing import ListSort, ProjectFilter, filter_conditions, stage_order
from crm.pipeline.models import Company, Project
from crm.pipeline.sql_hints import in_subquery
from crm.reference.models import IndustrialChain


def _sort_columns(key: str) -> list[Any]:
    owner_name = func.coalesce(func.nullif(User.name, ""), User.email)
    return {
        "name": [Project.name],
        "company": [Company.name],
        "chain": [IndustrialChain.sort, IndustrialChain.code],
        "stage": [stage_order()],
        "amount": [Project.planned_investment],
        "team": [Team.code],
        "owner": [owner_name],
        "signed": [Project.signed_on],
        "updated": [Project.updated_at],
    }[key]


# Sorts whose value can be empty; only these say NULLS LAST, because PostgreSQL cannot use
# an ascending index backwards for `DESC NULLS LAST` (SQLite can).
_NULLABLE_SORTS = frozenset({"amount", "signed", "chain", "owner"})


def order_by(sort: ListSort) -> list[Any]:
    """ORDER BY for a sort: empty values last either way, then the id (a stable order)."""
    columns = []
    for column in _sort_columns(sort.key):
        ordered = column.desc() if sort.descending else column.asc()
        columns.append(ordered.nulls_last() if sort.key in _NULLABLE_SORTS else ordered)
    return [*columns, Project.id.desc() if sort.descending else Project.id.asc()]


@dataclass(frozen=True, slots=True)
class ListRow:
    """What a list row shows (plain values: no ORM object per row)."""

    id: int
    name: str
    is_key: bool
    company_id: int
    company_name: str
    stage: Stage
    planned_investment: Decimal | None
    signed_on: date | None
    updated_at: datetime
    chain_name_zh: str | None
    chain_name_en: str | None
    team_code: str
    owner_name: str | None


@functools.cache
def list_rows_stmt() -> Select[Any]:
    """The columns of `ListRow`: only the joins the row shows (fewer to plan)."""
    return (
        select(
            Project.id,
            Project.name,
            Project.is_key,
            Project.company_id,
            Company.name,
            Project.stage,
            Project.planned_investment,
            Project.signed_on,
            Project.updated_at,
            IndustrialChain.name_zh,
            IndustrialChain.name_en,
            Team.code,
            func.coalesce(func.nullif(User.name, ""), User.email),
        )
        .join(Company, Company.id == Project.company_id)
        .join(Team, Team.id == Project.team_id)
        .outerjoin(IndustrialChain, IndustrialChain.id == Project.chain_id)
        .outerjoin(User, User.id == Project.owner_id)
    )


@dataclass
class ListPage:
    rows: list[ListRow]
    total: int
    amount: Decimal
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def where_clauses(
    user: User, f: ProjectFilter, today: date, *extra: ColumnElement[bool]
) -> list[ColumnElement[bool]]:
    """Scope, filter and `extra` clauses together. A stalled filter comes last: the rules
    look only at the projects the other clauses let through."""
    clauses = [project_scope(user), *filter_conditions(f, user_id=user.id, today=today), *extra]
    if f.stalled:
        if f.stalled_context is None:
            raise RuntimeError("A stalled filter needs prepare_filter() first.")
        clauses.append(stalled_condition(f.stalled_context, f.stalled_rules, clauses))
    return clauses


def stalled_condition(
    ctx: Any, rule_codes: Sequence[str], narrow: Sequence[ColumnElement[bool]]
) -> ColumnElement[bool]:
    """`project.id IN (stalled projects)`, by the reminder rules (all, or `rule_codes`),
    computed only over the projects matching the `narrow` clauses. Snoozed rules, projects
    on hold, dropped or deleted never match."""
    from crm.reminders.detection import stalled_project_ids_subquery

    ids = stalled_project_ids_subquery(
        None, ctx=ctx, rule_codes=list(rule_codes) or None, where=and_(*narrow)
    )
    return Project.id.in_(ids)


def prepare_filter(session: Session, f: ProjectFilter) -> ProjectFilter:
    """The filter ready for the queries: a stalled filter gets today's reminder rules (read
    once per request)."""
    if not f.stalled or f.stalled_context is not None:
        return f
    from crm.reminders.detection import request_context
    from crm.reminders.sql import without_jit

    without_jit(session)  # (PostgreSQL: the rules' queries are not worth compiling)
    return replace(f, stalled_context=request_context(session))


def stalled_badges(session: Session, project_ids: Sequence[int]) -> dict[int, list[Any]]:
    """The stalled badges of a page's projects: one query (plus the rules' thresholds, once
    per request); `{project id: [Stall(rule, days_overdue), ...]}`, worst first."""
    if not project_ids:
        return {}
    from crm.reminders.detection import request_context, stalled_for_projects

    return stalled_for_projects(session, project_ids, ctx=request_context(session))


def count_and_sum(
    session: Session, user: User, f: ProjectFilter, today: date
) -> tuple[int, Decimal]:
    """How many projects match and the sum of their planned investment (万元): from the
    kept totals when the filter allows (crm.pipeline.totals), else one query."""
    kept = totals.totals_for(session, user, f)
    if kept is not None:
        return totals.overall(kept)
    total, amount = session.execute(
        select(func.count(), func.coalesce(func.sum(Project.planned_investment), 0)).where(
            *where_clauses(user, f, today)
        )
    ).one()
    return int(total), Decimal(amount)


def page_ids(
    user: User, f: ProjectFilter, sort: ListSort, *, limit: int, offset: int, today: date
) -> Select[Any]:
    """The ids of one page, in order: filtered and sorted on narrow data (indexes, and
    only the join the sort needs), so the wide rows are read for these ids alone."""
    stmt = select(Project.id).where(*where_clauses(user, f, today))
    if sort.key == "company":
        stmt = stmt.join(Company, Company.id == Project.company_id)
    elif sort.key == "chain":
        stmt = stmt.outerjoin(IndustrialChain, IndustrialChain.id == Project.chain_id)
    elif sort.key == "team":
        stmt = stmt.join(Team, Team.id == Project.team_id)
    elif sort.key == "owner":
        stmt = stmt.outerjoin(User, User.id == Project.owner_id)
    return stmt.order_by(*order_by(sort)).limit(limit).offset(offset)


def list_page(
    session: Session,
    user: User,
    f: ProjectFilter,
    sort: ListSort,
    *,
    page: int,
    per_page: int,
    today: date,
) -> ListPage:
    """A page of matching projects with the names a row shows: two queries in all (the
    count and sum; the rows, as a "deferred join" on the page's ids)."""
    total, amount = count_and_sum(session, user, f, today)
    ids = page_ids(user, f, sort, limit=per_page, offset=(page - 1) * per_page, today=today)
    stmt = list_rows_stmt().where(in_subquery(Project.id, ids)).order_by(*order_by(sort))
    return ListPage([ListRow(*row) for row in session.execute(stmt)], total, amount, page, per_page)

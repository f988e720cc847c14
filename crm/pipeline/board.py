"""Kanban board queries: per-stage totals in one GROUP BY, cards a column page at a time.

Each column reads its first cards with `ORDER BY updated_at DESC, id DESC LIMIT n` on the
(stage, updated_at) index, so the board costs the same with 100 or 100,000 projects (the
columns' pages are read in one statement); the next cards of a column are fetched on
demand ("load more").
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, case, func, select, union_all
from sqlalchemy.orm import Session

from crm.accounts.models import User
from crm.enums import ALL_STAGES, MAIN_STAGES, SIDE_STAGES, Stage
from crm.pipeline import list_queries, listing, totals
from crm.pipeline.models import Company, Project
from crm.pipeline.sql_hints import in_subquery

CARDS_PER_PAGE = 20
MAX_START = 100_000
COLLAPSED: tuple[Stage, ...] = SIDE_STAGES


@dataclass(frozen=True)
class Card:
    id: int
    name: str
    company_id: int
    company_name: str
    amount: Decimal | None
    owner_name: str | None
    stage: Stage
    stage_on: date | None
    is_key: bool
    team_id: int

    def days_in_stage(self, today: date) -> int | None:
        return (today - self.stage_on).days if self.stage_on else None


@dataclass
class Column:
    stage: Stage
    count: int
    amount: Decimal
    cards: list[Card]
    start: int
    has_more: bool

    @property
    def collapsed(self) -> bool:
        return self.stage in COLLAPSED

    @property
    def next_start(self) -> int:
        return self.start + len(self.cards)


def board_stages(f: listing.ProjectFilter) -> tuple[Stage, ...]:
    """The columns to show: every stage, or the stages the filter asks for."""
    if f.stages:
        return tuple(s for s in ALL_STAGES if s in f.stages)
    return MAIN_STAGES + SIDE_STAGES


def stage_totals(
    session: Session, user: User, f: listing.ProjectFilter, today: date
) -> dict[Stage, tuple[int, Decimal]]:
    """Count and planned investment (万元) per stage for the filter: from the kept totals
    when the filter allows (crm.pipeline.totals), else one GROUP BY query."""
    kept = totals.totals_for(session, user, f)
    if kept is not None:
        return totals.by_stage(kept)
    stage: Any = Project.stage
    if f.zones or f.regions or f.dates or f.q:
        # Filters no stage-led index covers: grouped by an expression, or SQLite walks the
        # stage index to skip the sort and then reads every row at random (180 ms instead
        # of 30 ms at 100,000 projects). Stage keys are lower case already.
        stage = func.lower(Project.stage)
    rows = session.execute(
        select(stage, func.count(), func.coalesce(func.sum(Project.planned_investment), 0))
        .where(*list_queries.where_clauses(user, f, today))
        .group_by(stage)
    ).all()
    return {Stage(stage): (int(count), Decimal(amount)) for stage, count, amount in rows}


def _stage_date_column() -> object:
    """The date the project reached its current stage (the stage's own date column)."""
    return case(
        {s.value: getattr(Project, f"{s.value}_on") for s in ALL_STAGES},
        value=Project.stage,
    )


def _column_ids(where: list[Any], stage: Stage, start: int, limit: int) -> Select[Any]:
    """The ids of a page of one column among the projects matching `where` (and one more,
    to tell whether more follow), most recently changed first, from narrow index entries."""
    return (
        select(Project.id)
        .where(*where, Project.stage == stage)
        .order_by(*_ORDER)
        .limit(limit + 1)
        .offset(start)
    )


_ORDER = (Project.updated_at.desc(), Project.id.desc())


@functools.cache
def _cards_stmt() -> Select[Any]:
    """The cards' columns (the ids are added by the caller)."""
    return (
        select(
            Project.id,
            Project.name,
            Project.company_id,
            Company.name,
            Project.planned_investment,
            func.coalesce(func.nullif(User.name, ""), User.email),
            Project.stage,
            _stage_date_column(),
            Project.is_key,
            Project.team_id,
        )
        .join(Company, Company.id == Project.company_id)
        .outerjoin(User, User.id == Project.owner_id)
    )


def column_cards(
    session: Session,
    user: User,
    f: listing.ProjectFilter,
    stage: Stage,
    today: date,
    *,
    start: int = 0,
    limit: int = CARDS_PER_PAGE,
) -> tuple[list[Card], bool]:
    """A page of one column's cards, most recently changed first; and whether more follow."""
    where = list_queries.where_clauses(user, f, today, Project.stage == stage)
    ids = _column_ids(where, stage, start, limit)
    stmt = _cards_stmt().where(in_subquery(Project.id, ids)).order_by(*_ORDER)
    cards = [Card(*row) for row in session.execute(stmt)]
    return cards[:limit], len(cards) > limit


def first_cards(
    session: Session, user: User, f: listing.ProjectFilter, stages: tuple[Stage, ...], today: date
) -> dict[Stage, tuple[list[Card], bool]]:
    """The first page of every column in one query (the columns' ids are chosen apart,
    each from its index entries, and read together). The filter's clauses are shared by
    the columns (a stalled filter's rules appear once in the statement)."""
    where = list_queries.where_clauses(user, f, today, Project.stage.in_(stages))
    pages = [_column_ids(where, stage, 0, CARDS_PER_PAGE).subquery() for stage in stages]
    ids = union_all(*(select(page.c.id) for page in pages))
    stmt = _cards_stmt().where(in_subquery(Project.id, ids)).order_by(*_ORDER)
    found: dict[Stage, list[Card]] = {stage: [] for stage in stages}
    for row in session.execute(stmt):
        card = Card(*row)
        found[card.stage].append(card)
    return {
        stage: (cards[:CARDS_PER_PAGE], len(cards) > CARDS_PER_PAGE)
        for stage, cards in found.items()
    }


def load_board(session: Session, user: User, f: listing.ProjectFilter, today: date) -> list[Column]:
    """Every column with its totals and first page of cards (two queries, or one and the
    kept totals)."""
    totals_by_stage = stage_totals(session, user, f, today)
    stages = board_stages(f)
    pages = first_cards(session, user, f, stages, today)
    columns = []
    for stage in stages:
        count, amount = totals_by_stage.get(stage, (0, Decimal(0)))
        cards, more = pages[stage]
        columns.append(Column(stage, count, amount, cards, 0, more))
    return columns

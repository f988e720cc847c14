"""Counts and planned-investment sums of live projects without reading every project.

Database triggers (migration a5fcc28ec255) append a row to `project_total` whenever a live
project appears, disappears or moves between (team, stage, key flag), or its planned
investment changes: -1 project and minus its amount for the old place, +1 and plus its
amount for the new one. Rows are only ever inserted by writers (no row is updated, so
concurrent writers never wait on each other or deadlock); the totals are the sums of the
rows. `compact_totals` folds the rows into one per (team, stage, key flag); it runs in a
writing transaction once readers have seen more than COMPACT_AFTER rows.

Amounts are counted in hundredths of 万元 (integers), so sums are exact on SQLite too.

Only filters on stage, team and the key flag (or none: the unfiltered list, the board, the
overview) can be answered from these totals; `totals_for` returns None for any other
filter and the caller counts the projects themselves. Projects shared with an officer's
team from other teams are counted live (a handful of rows through the share index).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from crm.accounts.models import User
from crm.enums import Stage
from crm.pipeline.list_models import ProjectTotal
from crm.pipeline.listing import ProjectFilter, filter_conditions
from crm.pipeline.models import Project, ProjectShare

COMPACT_AFTER = 1000  # rows of project_total a reader may sum before asking for a compaction
HUNDRED = Decimal(100)

# (stage, is_key) -> (projects, planned investment in 万元)
Totals = dict[tuple[Stage, bool], tuple[int, Decimal]]

_state = {"compact": False}  # set by a reader that summed too many rows (this process)


def countable(f: ProjectFilter) -> bool:
    """Whether the filter only narrows by stage, team (known ids) and the key flag."""
    rest = ProjectFilter(stages=f.stages, teams=f.teams, key_only=f.key_only, resolved=f.resolved)
    return rest == f and (not f.teams or f.ids_for("teams") is not None)


def totals_for(session: Session, user: User, f: ProjectFilter) -> Totals | None:
    """Projects and amount per (stage, key flag) in `user`'s scope for the filter, or None
    when the filter needs more than stage, team and key flag. Two small queries at most."""
    if not countable(f):
        return None
    teams = set(f.ids_for("teams") or ()) if f.teams else None
    if not user.sees_all_teams:
        own = user.team_id
        teams = set() if own is None or (teams is not None and own not in teams) else {own}
    found: Totals = defaultdict(lambda: (0, Decimal(0)))
    if teams is None or teams:
        _add_counted(session, found, _narrowing(f, teams))
    if not user.sees_all_teams and user.team_id is not None:
        _add_shared(session, found, user.team_id, f)
    return dict(found)


def _narrowing(f: ProjectFilter, teams: set[int] | None) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if f.stages:
        where.append(ProjectTotal.stage.in_([s.value for s in f.stages]))
    if f.key_only:
        where.append(ProjectTotal.is_key.is_(True))
    if teams is not None:
        where.append(ProjectTotal.team_id.in_(sorted(teams)))
    return where


def _add_counted(session: Session, found: Totals, where: list[ColumnElement[bool]]) -> None:
    rows = session.execute(
        select(
            ProjectTotal.stage,
            ProjectTotal.is_key,
            func.sum(ProjectTotal.projects),
            func.sum(ProjectTotal.amount_hundredths),
            func.count(),
        )
        .where(*where)
        .group_by(ProjectTotal.stage, ProjectTotal.is_key)
    ).all()
    if sum(int(r[4]) for r in rows) > COMPACT_AFTER:
        _state["compact"] = True
    for stage, is_key, projects, hundredths, _rows in rows:
        key = (Stage(stage), bool(is_key))
        count, amount = found[key]
        found[key] = (count + int(projects or 0), amount + Decimal(int(hundredths or 0)) / HUNDRED)


def _add_shared(session: Session, found: Totals, team_id: int, f: ProjectFilter) -> None:
    """Projects of other teams shared with `team_id`, counted from the projects."""
    shared = select(ProjectShare.project_id).where(ProjectShare.team_id == team_id)
    rows = session.execute(
        select(
            Project.stage,
            Project.is_key,
            func.count(),
            func.coalesce(func.sum(Project.planned_investment), 0),
        )
        .where(
            Project.id.in_(shared),
            Project.team_id != team_id,
            Project.deleted_at.is_(None),
            *filter_conditions(f, user_id=None, today=date.today()),  # no date-bound filter
        )
        .group_by(Project.stage, Project.is_key)
    ).all()
    for stage, is_key, projects, amount in rows:
        key = (Stage(stage), bool(is_key))
        count, total = found[key]
        found[key] = (count + int(projects), total + Decimal(amount))


def by_stage(totals: Totals) -> dict[Stage, tuple[int, Decimal]]:
    out: dict[Stage, tuple[int, Decimal]] = {}
    for (stage, _key), (count, amount) in totals.items():
        have = out.get(stage, (0, Decimal(0)))
        out[stage] = (have[0] + count, have[1] + amount)
    return {stage: value for stage, value in out.items() if value[0]}


def overall(totals: Totals) -> tuple[int, Decimal]:
    return sum(c for c, _ in totals.values()), sum((a for _, a in totals.values()), Decimal(0))


# --- folding the rows ----------------------------------------------------------------------

_FOLD_POSTGRESQL = text(
    "WITH gone AS (DELETE FROM project_total "
    "RETURNING team_id, stage, is_key, projects, amount_hundredths) "
    "INSERT INTO project_total (team_id, stage, is_key, projects, amount_hundredths) "
    "SELECT team_id, stage, is_key, sum(projects), sum(amount_hundredths) FROM gone "
    "GROUP BY team_id, stage, is_key HAVING sum(projects) <> 0 OR sum(amount_hundredths) <> 0"
)
_FOLD_SQLITE = (
    text(
        "INSERT INTO project_total (team_id, stage, is_key, projects, amount_hundredths) "
        "SELECT team_id, stage, is_key, sum(projects), sum(amount_hundredths) "
        "FROM project_total WHERE id <= :last GROUP BY team_id, stage, is_key "
        "HAVING sum(projects) <> 0 OR sum(amount_hundredths) <> 0"
    ),
    text("DELETE FROM project_total WHERE id <= :last"),
)


def compact_totals(session: Session) -> None:
    """Fold the rows into one per (team, stage, key flag); the sums do not change.

    On PostgreSQL one statement deletes exactly the rows it adds up (rows that concurrent
    writers add meanwhile stay); SQLite has a single writer, so the rows up to the last id
    are added up, then deleted.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_FOLD_POSTGRESQL)
    else:
        last = session.scalar(select(func.max(ProjectTotal.id)))
        if last is not None:
            for statement in _FOLD_SQLITE:
                session.execute(statement, {"last": last})
    _state["compact"] = False


# A session that wrote in its transaction (and so, on SQLite, holds the write lock) folds
# the rows before it commits, once a reader asked for it. Read-only sessions never write.
_WROTE = "crm_wrote"


@event.listens_for(Session, "after_flush")
def _wrote_by_flush(session: Session, _context: Any) -> None:
    session.info[_WROTE] = True


@event.listens_for(Session, "do_orm_execute")
def _wrote_by_statement(state: Any) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        state.session.info[_WROTE] = True


@event.listens_for(Session, "before_commit")
def _fold_if_asked(session: Session) -> None:
    if not _state["compact"]:
        return
    session.flush()  # what commit would flush next (it runs after this hook)
    if session.info.pop(_WROTE, False):
        compact_totals(session)


@event.listens_for(Session, "after_rollback")
@event.listens_for(Session, "after_commit")
def _forget_writes(session: Session) -> None:
    session.info.pop(_WROTE, None)

"""Portable SQL pieces the report queries need (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import expression
from sqlalchemy.sql.elements import ColumnElement


class days_between(expression.FunctionElement[int]):
    """Whole days from the first date to the second (`later - earlier`)."""

    type = Integer()
    inherit_cache = True
    name = "days_between"


@compiles(days_between)
def _days_between_default(element: days_between, compiler: Any, **kw: Any) -> str:
    earlier, later = list(element.clauses)
    return f"({compiler.process(later, **kw)} - {compiler.process(earlier, **kw)})"


@compiles(days_between, "sqlite")
def _days_between_sqlite(element: days_between, compiler: Any, **kw: Any) -> str:
    earlier, later = list(element.clauses)
    return (
        f"CAST(julianday({compiler.process(later, **kw)}) - "
        f"julianday({compiler.process(earlier, **kw)}) AS INTEGER)"
    )


def quartiles_stmt(value: ColumnElement[Any], group: ColumnElement[Any], where: Any) -> Any:
    """Per group: count, min, first quartile, median, third quartile and max of `value`.

    Computed in the database with window functions (no per-group query, no rows shipped to
    Python): ranks 1..n per group; the median averages ranks floor((n+1)/2) and
    floor((n+2)/2); quartiles use the nearest-rank method, ranks ceil(n/4) and ceil(3n/4).
    """
    ranked = (
        select(
            group.label("grp"),
            value.label("v"),
            func.row_number().over(partition_by=group, order_by=value).label("rn"),
            func.count().over(partition_by=group).label("n"),
        )
        .where(where)
        .subquery()
    )
    rn, n, v = ranked.c.rn, ranked.c.n, ranked.c.v
    return select(
        ranked.c.grp,
        n,
        func.min(v),
        func.max(expression.case((rn == (n + 3) // 4, v))),
        func.avg(expression.case((rn.in_([(n + 1) // 2, (n + 2) // 2]), v))),
        func.max(expression.case((rn == (3 * n + 3) // 4, v))),
        func.max(v),
    ).group_by(ranked.c.grp, n)

"""Small portable SQL pieces the check needs (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Integer, bindparam, case, literal, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

FLOOR_DATE = date(1900, 1, 1)


class greatest(FunctionElement[Any]):
    """GREATEST(a, b, ...) on PostgreSQL, max(a, b, ...) on SQLite (arguments not NULL)."""

    name = "greatest"
    inherit_cache = True


@compiles(greatest)
def _greatest_default(element: greatest, compiler: Any, **kw: Any) -> str:
    return f"GREATEST({compiler.process(element.clauses, **kw)})"


@compiles(greatest, "sqlite")
def _greatest_sqlite(element: greatest, compiler: Any, **kw: Any) -> str:
    return f"max({compiler.process(element.clauses, **kw)})"


class local_date(FunctionElement[date]):
    """The local calendar date of a UTC timestamp: local_date(ts, sqlite_modifier, tz_name)."""

    name = "local_date"
    type = Date()
    inherit_cache = True


@compiles(local_date)
def _local_date_default(element: local_date, compiler: Any, **kw: Any) -> str:
    ts, _modifier, tz = list(element.clauses)
    return f"CAST(({compiler.process(ts, **kw)} AT TIME ZONE {compiler.process(tz, **kw)}) AS DATE)"


@compiles(local_date, "sqlite")
def _local_date_sqlite(element: local_date, compiler: Any, **kw: Any) -> str:
    ts, modifier, _tz = list(element.clauses)
    return f"date({compiler.process(ts, **kw)}, {compiler.process(modifier, **kw)})"


def to_local_date(column: Any, tz_name: str, on: date) -> local_date:
    """`column` (UTC) as a date in `tz_name`; SQLite uses the zone's UTC offset on `on`."""
    offset = datetime.combine(on, time(12), ZoneInfo(tz_name)).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    return local_date(
        column,
        bindparam(None, f"{minutes:+d} minutes"),
        bindparam(None, tz_name),
    )


def without_jit(session: Session) -> None:
    """PostgreSQL: no JIT compilation for the rest of this transaction.

    The rules' correlated subqueries make the planner's cost estimates huge, which switches
    on JIT compilation with inlining and optimisation: two seconds of compiling for a query
    that runs in less. (No-op on SQLite.)"""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))


def floor_date() -> Any:
    return literal(FLOOR_DATE, Date())


def insert_ignoring_conflicts(session: Session, model: Any) -> Any:
    """An INSERT for `model` that does nothing for rows violating a unique key."""
    dialect = session.get_bind().dialect.name
    factory = pg_insert if dialect == "postgresql" else sqlite_insert
    return factory(model)


class day_number(FunctionElement[int]):
    """Days from 1900-01-01 (a Monday) to a date: day_number(d) % 7 is 0 on Mondays."""

    name = "day_number"
    type = Integer()
    inherit_cache = True


@compiles(day_number)
def _day_number_default(element: day_number, compiler: Any, **kw: Any) -> str:
    return f"(CAST({compiler.process(element.clauses, **kw)} AS DATE) - DATE '1900-01-01')"


@compiles(day_number, "sqlite")
def _day_number_sqlite(element: day_number, compiler: Any, **kw: Any) -> str:
    return f"CAST(julianday({compiler.process(element.clauses, **kw)}) - 2415020.5 AS INTEGER)"


def python_day_number(day: date) -> int:
    return (day - FLOOR_DATE).days


def weekdays_through(number: Any) -> Any:
    """Monday-to-Friday days from 1900-01-01 up to and including day `number`."""
    rest = number % 7
    return (number // 7) * 5 + case((rest >= 4, 5), else_=rest + 1)

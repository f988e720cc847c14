"""SQL written the way each database plans it best.

`in_subquery`: `column IN (subquery)` that stays cheap inside an OR. PostgreSQL plans
`x = ANY(ARRAY(subquery))` as a one-off InitPlan whose result can drive an index (a
BitmapOr with the other branch of the OR); a plain `IN (subquery)` there becomes a hashed
SubPlan tested on every row of a sequential scan. SQLite has no arrays and already answers
`IN (subquery)` from indexes (a MULTI-INDEX OR).

`unselective`: a range condition (an amount or date range) that SQLite should not pick an
index for when an equality on another indexed column is there. SQLite has no histograms and
takes any range for selective; `likelihood(x, 0.5)` corrects that (a board filtered on a
chain and a minimum amount: 480 ms -> 23 ms at 100,000 projects). PostgreSQL estimates
ranges from its statistics and gets the bare condition.

`scanned`: a column SQLite must not use an index for (`+column`, SQLite's documented way),
for a query over most of a table: reading every row in order beats an index lookup per row
(the daily reminder check's rules over 100,000 projects: 0.9 -> 0.45 s). Other databases
get the column.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal


class InSubquery(ColumnElement[bool]):
    """`column IN (subquery)`, compiled per dialect (see the module docstring)."""

    type = Boolean()
    inherit_cache = True
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("subquery", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: Any, subquery: Any) -> None:
        self.column = column
        self.subquery = subquery.scalar_subquery()

    @property
    def _from_objects(self) -> list[Any]:
        return self.column._from_objects  # type: ignore[no-any-return]

    def self_group(self, against: Any = None) -> ColumnElement[bool]:
        return self


@compiles(InSubquery)
def _compile_default(element: InSubquery, compiler: Any, **kw: Any) -> str:
    return f"{compiler.process(element.column, **kw)} IN {compiler.process(element.subquery, **kw)}"


@compiles(InSubquery, "postgresql")
def _compile_postgresql(element: InSubquery, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.column, **kw)
    return f"{column} = ANY(ARRAY{compiler.process(element.subquery, **kw)})"


def in_subquery(column: Any, subquery: Any) -> ColumnElement[bool]:
    """`column IN (subquery)`, planned well by both databases inside an OR."""
    return InSubquery(column, subquery)


class Unselective(ColumnElement[bool]):
    """A condition that SQLite should expect to hold for about half of the rows."""

    type = Boolean()
    inherit_cache = True
    _traverse_internals = [("condition", InternalTraversal.dp_clauseelement)]

    def __init__(self, condition: Any) -> None:
        self.condition = condition

    @property
    def _from_objects(self) -> list[Any]:
        return self.condition._from_objects  # type: ignore[no-any-return]

    def self_group(self, against: Any = None) -> ColumnElement[bool]:
        return self


@compiles(Unselective)
def _compile_unselective(element: Unselective, compiler: Any, **kw: Any) -> str:
    # Grouped as an AND operand: an OR inside keeps its parentheses.
    condition = element.condition.self_group(against=operators.and_)
    return compiler.process(condition, **kw)  # type: ignore[no-any-return]


@compiles(Unselective, "sqlite")
def _compile_unselective_sqlite(element: Unselective, compiler: Any, **kw: Any) -> str:
    return f"likelihood({compiler.process(element.condition, **kw)}, 0.5)"


def unselective(condition: Any) -> ColumnElement[bool]:
    """`condition`, marked for SQLite as matching about half of the rows."""
    return Unselective(condition)


class Scanned(ColumnElement[Any]):
    """A column SQLite reads without an index (see the module docstring)."""

    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: Any) -> None:
        self.column = column
        self.type = column.type

    @property
    def _from_objects(self) -> list[Any]:
        return self.column._from_objects  # type: ignore[no-any-return]


@compiles(Scanned)
def _compile_scanned(element: Scanned, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.column, **kw))


@compiles(Scanned, "sqlite")
def _compile_scanned_sqlite(element: Scanned, compiler: Any, **kw: Any) -> str:
    return f"+{compiler.process(element.column, **kw)}"


def scanned(column: Any) -> ColumnElement[Any]:
    """`column`, which SQLite is not to look up through an index."""
    return Scanned(column)

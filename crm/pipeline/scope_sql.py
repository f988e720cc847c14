"""`column IN (subquery)` written the way each database plans best inside an OR.

PostgreSQL plans `x = ANY(ARRAY(subquery))` as a one-off InitPlan whose result can drive an
index (a BitmapOr with the other branch of the OR); a plain `IN (subquery)` there becomes a
hashed SubPlan tested on every row of a sequential scan. SQLite has no arrays and already
answers `IN (subquery)` from indexes (a MULTI-INDEX OR).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean
from sqlalchemy.ext.compiler import compiles
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

"""Declarative base, shared column types and database-level settings."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Date, DateTime, MetaData, Numeric, Table, event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Session, registry
from sqlalchemy.pool import Pool
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (use as a callable default)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored as UTC on every database.

    SQLite has no time zones; storing naive UTC and re-attaching UTC on load gives the same
    values on SQLite and PostgreSQL.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Money(TypeDecorator[Decimal]):
    """An exact amount in 万元 (10,000 yuan) with two decimals."""

    impl = Numeric(16, 2, asdecimal=True)
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        if value is None:
            return None
        return Decimal(value).quantize(Decimal("0.01"))


class Base(DeclarativeBase):
    """Base of every model: naming convention and type map."""

    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={
            datetime: UTCDateTime(),
            Decimal: Money(),
            date: Date(),
            dict[str, Any]: JSON(),
            list[str]: JSON(),
        },
    )


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """WAL, a busy timeout and foreign keys on every SQLite connection."""
    module = type(dbapi_connection).__module__
    if not module.startswith("sqlite3"):
        return
    # Let SQLAlchemy manage transactions (the driver's own handling breaks SAVEPOINT).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # A 32 MB page cache per connection (the default 2 MB holds little of a database with
    # 100,000 projects; pooled connections keep it between requests).
    cursor.execute("PRAGMA cache_size=-32768")
    cursor.close()
    connection_record.info["checkins"] = 0


# psycopg turns each query's %(name)s placeholders into $n, caching the result only for
# queries under 4 KB with at most 50 parameters. The reminder rules behind the stalled
# badges are one statement of ~30 KB: parsed again on every list, board and project page,
# it cost 8-10 ms of CPU per request. Cache statements up to 64 KB and 2,000 parameters
# (psycopg's cache keeps 128 of them). Internal settings of psycopg 3: when they are
# gone, queries are parsed each time as before.
PSYCOPG_CACHED_QUERY_BYTES = 64 * 1024
PSYCOPG_CACHED_QUERY_PARAMS = 2000


def _cache_long_queries() -> None:
    try:
        from psycopg import _queries
    except ImportError:  # pragma: no cover (SQLite-only installs)
        return
    if hasattr(_queries, "MAX_CACHED_STATEMENT_LENGTH"):
        _queries.MAX_CACHED_STATEMENT_LENGTH = PSYCOPG_CACHED_QUERY_BYTES
    if hasattr(_queries, "MAX_CACHED_STATEMENT_PARAMS"):
        _queries.MAX_CACHED_STATEMENT_PARAMS = PSYCOPG_CACHED_QUERY_PARAMS


_cache_long_queries()


OPTIMIZE_EVERY = 1000  # checkins of a pooled SQLite connection between two PRAGMA optimize


@event.listens_for(Pool, "checkin")
def _sqlite_optimize(dbapi_connection: Any, connection_record: Any) -> None:
    """Keep SQLite's planner statistics current: `PRAGMA optimize` (ANALYZE of the tables
    whose statistics are missing or stale, bounded by analysis_limit) every OPTIMIZE_EVERY
    uses of a connection. SQLite plans the list's sorts badly without statistics."""
    if dbapi_connection is None or "checkins" not in connection_record.info:
        return  # not an SQLite connection (see _sqlite_pragmas)
    connection_record.info["checkins"] += 1
    if connection_record.info["checkins"] % OPTIMIZE_EVERY:
        return
    import sqlite3

    try:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA analysis_limit=1000")
        cursor.execute("PRAGMA optimize")
        cursor.close()
    except sqlite3.Error:
        return  # statistics are an optimisation, never a failure (e.g. the database is busy)


@event.listens_for(Engine, "begin")
def _sqlite_begin(connection: Any) -> None:
    """On SQLite, a request that may write takes the write lock when its transaction starts.

    A deferred transaction that reads and then writes cannot wait for the lock when another
    process wrote in between ("database is locked" at once, whatever the busy timeout), so
    POST/PUT/PATCH/DELETE requests begin IMMEDIATE and wait their turn instead; reads
    (GET) stay deferred so a long download never holds up anyone.
    """
    if connection.dialect.name != "sqlite":
        return
    from flask import g, has_request_context, request

    writes = has_request_context() and request.method not in ("GET", "HEAD", "OPTIONS")
    if writes and g.get(_READING_FIRST):
        writes = False  # inside reads_before_writes
    connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN")


def advance_id_sequences(target: Session | Connection, tables: Iterable[Table]) -> None:
    """After rows were inserted with explicit ids, let the next ordinary insert follow them.

    PostgreSQL's id sequences do not see explicit ids: each is set to its table's largest id
    (a table still empty starts again at 1). SQLite needs nothing: it takes max(rowid) + 1.
    """
    bind = target if isinstance(target, Connection) else target.get_bind()
    if bind.dialect.name != "postgresql":
        return
    for table in tables:
        name = table.name
        target.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "  # noqa: S608 - model names
                f"COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM {name}"
            )
        )


_READING_FIRST = "crm_sqlite_reading_first"


@contextmanager
def reads_before_writes(session: Any) -> Iterator[None]:
    """Run the block's reads in a transaction of their own that takes no write lock, for a
    request that does slow work before it writes (checking a password hash): on SQLite a
    writing request otherwise holds the database's single write lock from its first read,
    and every other writer waits meanwhile. The block must not write; its objects are
    expired at the end (the writes that follow read them again, under the lock)."""
    from flask import g, has_request_context

    session.commit()  # nothing written yet: ends a transaction begun before the block
    if has_request_context():
        g.setdefault(_READING_FIRST, True)
    try:
        yield
    finally:
        session.rollback()
        if has_request_context():
            g.pop(_READING_FIRST, None)


def close_session_safely(scoped: Any) -> None:
    """End the request's session even when its connection died under it (the database was
    restarted): the rollback on close then fails, so the connections are invalidated
    instead (the pool opens new ones) and the request keeps the answer it already has, a
    503 page, rather than turning into a bare 500 at teardown."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        scoped.remove()
    except SQLAlchemyError:
        scoped.registry().invalidate()
        scoped.registry.clear()

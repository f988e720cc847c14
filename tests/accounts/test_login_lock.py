"""On SQLite a writing request holds the single write lock from its first statement; the
login checks the (slow) password hash before that, so other writers are not held up."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from crm.db import reads_before_writes


@pytest.fixture
def sqlite_file(app, tmp_path):
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        pytest.skip("SQLite's write lock")
    path = tmp_path / "lock.sqlite3"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    yield engine, path
    engine.dispose()


def _another_writer_gets_the_lock(path) -> bool:
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


def test_reads_of_a_post_request_hold_the_write_lock_unless_asked_not_to(app, sqlite_file):
    engine, path = sqlite_file
    with app.test_request_context("/login", method="POST"), Session(engine) as session:
        session.execute(text("SELECT count(*) FROM t"))
        assert not _another_writer_gets_the_lock(path)  # BEGIN IMMEDIATE: held
        with reads_before_writes(session):
            session.execute(text("SELECT count(*) FROM t"))
            assert _another_writer_gets_the_lock(path)
        session.execute(text("INSERT INTO t VALUES (1)"))  # the writes: under the lock again
        assert not _another_writer_gets_the_lock(path)
        session.commit()

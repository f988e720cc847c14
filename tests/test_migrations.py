"""Migrations build the schema from empty to head on SQLite and PostgreSQL, and match the models."""

from __future__ import annotations

import os
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect

from crm.extensions import db
from tests.conftest import _postgres_database, make_app


def _fresh_url(tmp_path: Path) -> tuple[str, object]:
    base = os.environ.get("TEST_DATABASE_URL")
    if base and base.startswith("postgresql"):
        return _postgres_database(base)
    return f"sqlite:///{tmp_path}/fresh.sqlite3", lambda: None


def test_empty_database_to_head_then_down_and_up_again(tmp_path):
    url, drop = _fresh_url(tmp_path)
    try:
        app = make_app(url, tmp_path / "instance")
        with app.app_context():
            upgrade()
            tables = set(inspect(db.engine).get_table_names())
            assert {
                "project",
                "company",
                "user_account",
                "team",
                "zone",
                "visit",
                "audit_log",
                "stage_change",
                "alembic_version",
            } <= tables
            downgrade(revision="base")
            assert inspect(db.engine).get_table_names() == ["alembic_version"]
            upgrade()
            db.engine.dispose()
    finally:
        drop()  # type: ignore[operator]


def test_models_and_migrations_do_not_drift(app):
    """The equivalent of `alembic check`: autogenerate finds nothing to do."""
    with app.app_context():
        engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, db.metadata)
            dialect = conn.dialect.name
        engine.dispose()
    elsewhere = _indexes_of_other_databases(dialect)
    assert not [d for d in diff if not (d[0] == "add_index" and d[1].name in elsewhere)], diff


def _indexes_of_other_databases(dialect: str) -> set[str]:
    """Indexes the models declare for one database only (`info={"dialect": ...}`, created
    by its migration there only), seen from another database."""
    return {
        index.name
        for table in db.metadata.tables.values()
        for index in table.indexes
        if index.info.get("dialect") not in (None, dialect) and index.name
    }

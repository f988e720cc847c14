"""project totals kept by triggers, chain index, trigram search indexes (PostgreSQL)

Revision ID: a5fcc28ec255
Revises: d2d3ba1986e8
Create Date: 2026-11-22 10:46:00

`project_total` receives a row from triggers on `project` whenever a live project appears,
disappears, or changes team, stage, key flag or planned investment (see
crm/pipeline/totals.py), so counts and sums of unfiltered pages need not read every project.
On PostgreSQL, pg_trgm GIN indexes on the search blobs (only when the server lets the
extension be created; search works without them, scanning).
"""

import sqlalchemy as sa
from alembic import op

revision = "a5fcc28ec255"
down_revision = "d2d3ba1986e8"
branch_labels = None
depends_on = None

COLUMNS = "team_id, stage, is_key, projects, amount_hundredths"
WATCHED = "team_id, stage, is_key, planned_investment, deleted_at"


def _hundredths(row: str, postgresql: bool) -> str:
    if postgresql:
        return f"round(coalesce({row}.planned_investment, 0) * 100)::bigint"
    return f"CAST(round(coalesce({row}.planned_investment, 0) * 100) AS INTEGER)"


def _changed(postgresql: bool) -> str:
    op_ = "IS DISTINCT FROM" if postgresql else "IS NOT"
    return " OR ".join(f"OLD.{c} {op_} NEW.{c}" for c in WATCHED.split(", "))


def _sqlite_triggers() -> list[str]:
    def change(row: str, sign: str) -> str:
        return (
            f"INSERT INTO project_total ({COLUMNS}) SELECT {row}.team_id, {row}.stage, "
            f"{row}.is_key, {sign}1, {sign}{_hundredths(row, False)} "
            f"WHERE {row}.deleted_at IS NULL;"
        )

    return [
        "CREATE TRIGGER project_total_insert AFTER INSERT ON project "
        f"BEGIN {change('NEW', '')} END",
        "CREATE TRIGGER project_total_delete AFTER DELETE ON project "
        f"BEGIN {change('OLD', '-')} END",
        f"CREATE TRIGGER project_total_update AFTER UPDATE OF {WATCHED} ON project "
        f"WHEN {_changed(False)} "
        f"BEGIN {change('OLD', '-')} {change('NEW', '')} END",
    ]


def _postgresql_triggers() -> list[str]:
    def change(row: str, sign: str) -> str:
        return (
            f"INSERT INTO project_total ({COLUMNS}) VALUES ({row}.team_id, {row}.stage, "
            f"{row}.is_key, {sign}1, {sign}{_hundredths(row, True)});"
        )

    return [
        "CREATE FUNCTION project_total_track() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        f"IF TG_OP <> 'INSERT' AND OLD.deleted_at IS NULL THEN {change('OLD', '-')} END IF; "
        f"IF TG_OP <> 'DELETE' AND NEW.deleted_at IS NULL THEN {change('NEW', '')} END IF; "
        "RETURN NULL; END $$",
        "CREATE TRIGGER project_total_insert_delete AFTER INSERT OR DELETE ON project "
        "FOR EACH ROW EXECUTE FUNCTION project_total_track()",
        f"CREATE TRIGGER project_total_update AFTER UPDATE OF {WATCHED} ON project "
        f"FOR EACH ROW WHEN ({_changed(True)}) EXECUTE FUNCTION project_total_track()",
    ]


def _trigram_indexes() -> None:
    """pg_trgm and the GIN indexes, unless the server refuses the extension."""
    bind = op.get_bind()
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError:
        return  # no privilege: search scans, as on SQLite
    for table in ("project", "company"):
        op.create_index(
            f"ix_{table}_search_trgm",
            table,
            ["search_blob"],
            postgresql_using="gin",
            postgresql_ops={"search_blob": "gin_trgm_ops"},
        )


def upgrade():
    op.create_table(
        "project_total",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("team_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("is_key", sa.Boolean(), nullable=False),
        sa.Column("projects", sa.Integer(), nullable=False),
        sa.Column("amount_hundredths", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_project_total")),
    )
    op.create_index(
        "ix_project_chain_stage_amount",
        "project",
        ["chain_id", "stage", "planned_investment", "deleted_at"],
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in _postgresql_triggers() if postgresql else _sqlite_triggers():
        op.execute(statement)
    op.execute(
        f"INSERT INTO project_total ({COLUMNS}) "
        f"SELECT team_id, stage, is_key, count(*), sum({_hundredths('project', postgresql)}) "
        "FROM project WHERE deleted_at IS NULL GROUP BY team_id, stage, is_key"
    )
    if postgresql:
        _trigram_indexes()


def downgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute("DROP INDEX IF EXISTS ix_company_search_trgm")
        op.execute("DROP INDEX IF EXISTS ix_project_search_trgm")
        op.execute("DROP TRIGGER project_total_update ON project")
        op.execute("DROP TRIGGER project_total_insert_delete ON project")
        op.execute("DROP FUNCTION project_total_track()")
    else:
        for name in ("project_total_update", "project_total_delete", "project_total_insert"):
            op.execute(f"DROP TRIGGER {name}")
    op.drop_index("ix_project_chain_stage_amount", table_name="project")
    op.drop_table("project_total")

"""reminder check: visit dates from an index

Revision ID: 013cb06fa782
Revises: a5fcc28ec255
Create Date: 2026-11-22 11:40:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '013cb06fa782'
down_revision = 'a5fcc28ec255'
branch_labels = None
depends_on = None


def upgrade():
    # The latest visit of a project (the "no activity" rule) read from this index alone.
    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.create_index('ix_visit_id_live_on', ['id', 'deleted_at', 'on'], unique=False)


def downgrade():
    with op.batch_alter_table('visit', schema=None) as batch_op:
        batch_op.drop_index('ix_visit_id_live_on')

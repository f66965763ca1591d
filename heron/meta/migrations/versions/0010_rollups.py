"""Rollup rules of a database (storage engine): ``'5m:90d,1h:104w'``, empty for none.

Revision ID: 0010
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("databases") as batch:
        batch.add_column(sa.Column("rollups", sa.String(255), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("databases") as batch:
        batch.drop_column("rollups")

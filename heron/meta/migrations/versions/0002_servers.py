"""Servers: hosts registered by pushed data, heartbeats, agents or the API.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "servers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_active", sa.DateTime(timezone=True), nullable=True),
        sa.Column("host_ip", sa.String(64), nullable=False, server_default=""),
        sa.Column("os", sa.String(64), nullable=False, server_default=""),
        sa.Column("arch", sa.String(32), nullable=False, server_default=""),
        sa.Column("cpu_num", sa.Integer, nullable=False, server_default="0"),
        sa.Column("agent_version", sa.String(64), nullable=False, server_default=""),
        sa.Column("clock_offset_ms", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("labels", sa.String(4096), nullable=False, server_default="{}"),
    )


def downgrade() -> None:
    op.drop_table("servers")

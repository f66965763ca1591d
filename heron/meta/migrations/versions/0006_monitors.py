"""Service monitors (HTTP, TCP, ICMP, DNS, push): one row per monitor; results live in the TSDB.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "monitors",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(2048), nullable=False),
        sa.Column("interval_seconds", sa.Integer, nullable=False),
        sa.Column("timeout_seconds", sa.Float, nullable=False),
        sa.Column("retries", sa.Integer, nullable=False),
        sa.Column("min_latency_ms", sa.Float, nullable=False),
        sa.Column("max_latency_ms", sa.Float, nullable=False),
        sa.Column("latency_notify", sa.Boolean, nullable=False),
        sa.Column("notify", sa.Boolean, nullable=False),
        sa.Column("notification_group_id", sa.BigInteger, nullable=False),
        sa.Column("cover", sa.Integer, nullable=False),
        sa.Column("skip_servers", sa.String(65536), nullable=False),
        sa.Column("heron_vantage", sa.String(16), nullable=False),
        sa.Column("display_index", sa.Integer, nullable=False),
        sa.Column("hidden_for_guest", sa.Boolean, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("options", sa.String(65536), nullable=False),
        sa.Column("push_token", sa.String(64), nullable=True, unique=True),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_monitors_owner_id", "monitors", ["owner_id"])


def downgrade() -> None:
    op.drop_index("ix_monitors_owner_id", table_name="monitors")
    op.drop_table("monitors")

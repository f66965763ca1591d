"""Servers as the inventory shows them: owner, agent id, notes, display order, guest visibility, host info.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _columns() -> list[sa.Column]:  # type: ignore[type-arg]
    """Fresh column objects each call: a Column can belong to one table only."""
    return [
        sa.Column("owner_id", sa.Integer, nullable=True),
        sa.Column("agent_id", sa.String(128), nullable=True),
        sa.Column("secret_hash", sa.String(64), nullable=True),
        sa.Column("note", sa.String(4096), nullable=False, server_default=""),
        sa.Column("public_note", sa.String(4096), nullable=False, server_default=""),
        sa.Column("display_index", sa.Integer, nullable=False, server_default="0"),
        sa.Column("hidden_for_guest", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("host_info", sa.String(65536), nullable=False, server_default="{}"),
    ]


def upgrade() -> None:
    with op.batch_alter_table("servers") as batch:
        for column in _columns():
            batch.add_column(column)
        batch.create_foreign_key("fk_servers_owner", "users", ["owner_id"], ["id"], ondelete="SET NULL")
        batch.create_index("ix_servers_agent_id", ["agent_id"], unique=True)
        batch.create_index("ix_servers_owner_id", ["owner_id"])


def downgrade() -> None:
    with op.batch_alter_table("servers") as batch:
        batch.drop_index("ix_servers_owner_id")
        batch.drop_index("ix_servers_agent_id")
        batch.drop_constraint("fk_servers_owner", type_="foreignkey")
        for column in reversed(_columns()):
            batch.drop_column(column.name)

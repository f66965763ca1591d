"""Server groups (Nezha's): a name, an owner, and their servers (many-to-many).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "server_groups",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_server_groups_owner_id", "server_groups", ["owner_id"])
    op.create_table(
        "server_group_servers",
        sa.Column("group_id", sa.Integer, sa.ForeignKey("server_groups.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("server_id", sa.Integer, sa.ForeignKey("servers.id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_index("ix_server_group_servers_server_id", "server_group_servers", ["server_id"])


def downgrade() -> None:
    op.drop_index("ix_server_group_servers_server_id", table_name="server_group_servers")
    op.drop_table("server_group_servers")
    op.drop_index("ix_server_groups_owner_id", table_name="server_groups")
    op.drop_table("server_groups")

"""Web UI: public status pages with their entries, and the first admin's forced password change.

Revision ID: 0009
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "status_pages",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("slug", sa.String(64), nullable=False, unique=True),
        sa.Column("title", sa.String(255), nullable=False),
        sa.Column("description", sa.String(4096), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False, server_default="system"),
    )
    op.create_table(
        "status_page_items",
        sa.Column("page_id", sa.Integer, sa.ForeignKey("status_pages.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("ref_id", sa.Integer, primary_key=True),
        sa.Column("position", sa.Integer, nullable=False, server_default="0"),
    )
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("password_change_required", sa.Boolean, nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("password_change_required")
    op.drop_table("status_page_items")
    op.drop_table("status_pages")

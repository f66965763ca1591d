"""Remote operations: token scopes, cron tasks and runs, NAT, DDNS, the audit log.

Revision ID: 0008
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _now() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("scopes", sa.String(2048), nullable=True))
    op.create_table(
        "ops_audit",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("user_id", sa.Integer, nullable=True, index=True),
        sa.Column("username", sa.String(64), nullable=False, server_default=""),
        sa.Column("via", sa.String(16), nullable=False, server_default=""),
        sa.Column("ip", sa.String(64), nullable=False, server_default=""),
        sa.Column("server_id", sa.Integer, nullable=True, index=True),
        sa.Column("action", sa.String(64), nullable=False, index=True),
        sa.Column("target", sa.String(1024), nullable=False, server_default=""),
        sa.Column("outcome", sa.String(16), nullable=False, server_default="ok"),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_table(
        "ops_cron",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("task_type", sa.Integer, nullable=False, server_default="0"),
        sa.Column("scheduler", sa.String(255), nullable=False, server_default=""),
        sa.Column("command", sa.Text, nullable=False),
        sa.Column("servers", sa.Text, nullable=False),
        sa.Column("cover", sa.Integer, nullable=False, server_default="0"),
        sa.Column("push_successful", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("notification_group_id", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("last_executed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_result", sa.Boolean, nullable=False, server_default=sa.false()),
        _now(),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "ops_cron_runs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("cron_id", sa.Integer, sa.ForeignKey("ops_cron.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("server_id", sa.Integer, nullable=False),
        sa.Column("server_name", sa.String(255), nullable=False, server_default=""),
        sa.Column("trigger", sa.String(16), nullable=False, server_default="schedule"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("exit_code", sa.Integer, nullable=True),
        sa.Column("output", sa.Text, nullable=False),
        sa.Column("truncated", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("error", sa.String(1024), nullable=False, server_default=""),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_ms", sa.Float, nullable=False, server_default="0"),
    )
    op.create_table(
        "ops_nat",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("server_id", sa.Integer, sa.ForeignKey("servers.id", ondelete="CASCADE"), nullable=False, index=True),
        sa.Column("host", sa.String(300), nullable=False),
        sa.Column("domain", sa.String(255), nullable=False, unique=True),
        _now(),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "ops_ddns",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("owner_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("enable_ipv4", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("enable_ipv6", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("max_retries", sa.Integer, nullable=False, server_default="3"),
        sa.Column("domains", sa.Text, nullable=False),
        sa.Column("access_id", sa.String(255), nullable=False, server_default=""),
        sa.Column("access_secret", sa.String(1024), nullable=False, server_default=""),
        sa.Column("webhook_url", sa.String(2048), nullable=False, server_default=""),
        sa.Column("webhook_method", sa.Integer, nullable=False, server_default="1"),
        sa.Column("webhook_request_type", sa.Integer, nullable=False, server_default="1"),
        sa.Column("webhook_request_body", sa.Text, nullable=False),
        sa.Column("webhook_headers", sa.Text, nullable=False),
        sa.Column("dns_server", sa.String(255), nullable=False, server_default=""),
        sa.Column("zone", sa.String(255), nullable=False, server_default=""),
        sa.Column("tsig_algorithm", sa.String(32), nullable=False, server_default="hmac-sha256"),
        _now(),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "ops_server_ddns",
        sa.Column("server_id", sa.Integer, sa.ForeignKey("servers.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("profiles", sa.Text, nullable=False),
        sa.Column("override_domains", sa.Text, nullable=False),
        sa.Column("last_ipv4", sa.String(64), nullable=False, server_default=""),
        sa.Column("last_ipv6", sa.String(64), nullable=False, server_default=""),
    )


def downgrade() -> None:
    for table in ("ops_server_ddns", "ops_ddns", "ops_nat", "ops_cron_runs", "ops_cron", "ops_audit"):
        op.drop_table(table)
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("scopes")

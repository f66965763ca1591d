"""Alerting: notification methods and groups, rules, events, the delivery outbox, silences,
maintenance windows, and Nightingale's user groups and business groups.

Revision ID: 0007
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0009"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _owner() -> sa.Column:  # type: ignore[type-arg]
    return sa.Column("owner_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True)


def upgrade() -> None:
    op.create_table(
        "user_groups",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
    )
    op.create_table(
        "user_group_members",
        sa.Column("group_id", sa.Integer, sa.ForeignKey("user_groups.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
    )
    op.create_table(
        "busi_groups",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("label_enable", sa.Integer, nullable=False),
        sa.Column("label_value", sa.String(255), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
    )
    op.create_table(
        "busi_group_members",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "busi_group_id", sa.Integer, sa.ForeignKey("busi_groups.id", ondelete="CASCADE"), nullable=False, index=True
        ),
        sa.Column(
            "user_group_id", sa.Integer, sa.ForeignKey("user_groups.id", ondelete="CASCADE"), nullable=False, index=True
        ),
        sa.Column("perm_flag", sa.String(8), nullable=False),
        sa.UniqueConstraint("busi_group_id", "user_group_id"),
    )
    op.create_table(
        "server_busi_groups",
        sa.Column("server_id", sa.Integer, sa.ForeignKey("servers.id", ondelete="CASCADE"), primary_key=True),
        sa.Column(
            "busi_group_id",
            sa.Integer,
            sa.ForeignKey("busi_groups.id", ondelete="CASCADE"),
            primary_key=True,
            index=True,
        ),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer, primary_key=True),
        _owner(),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("request_method", sa.Integer, nullable=False),
        sa.Column("request_type", sa.Integer, nullable=False),
        sa.Column("request_header", sa.Text, nullable=False),
        sa.Column("request_body", sa.Text, nullable=False),
        sa.Column("verify_tls", sa.Boolean, nullable=False),
        sa.Column("format_metric_units", sa.Boolean, nullable=False),
        sa.Column("preset", sa.String(32), nullable=False),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("secrets", sa.Text, nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
    )
    op.create_table(
        "notification_groups",
        sa.Column("id", sa.Integer, primary_key=True),
        _owner(),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("group_by", sa.Text, nullable=False),
        sa.Column("group_wait_seconds", sa.Float, nullable=False),
        sa.Column("group_interval_seconds", sa.Float, nullable=False),
        sa.Column("repeat_interval_seconds", sa.Float, nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
    )
    op.create_table(
        "notification_group_members",
        sa.Column(
            "group_id", sa.Integer, sa.ForeignKey("notification_groups.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column(
            "notification_id",
            sa.Integer,
            sa.ForeignKey("notifications.id", ondelete="CASCADE"),
            primary_key=True,
            index=True,
        ),
    )
    op.create_table(
        "alert_rules",
        sa.Column("id", sa.Integer, primary_key=True),
        _owner(),
        sa.Column(
            "busi_group_id", sa.Integer, sa.ForeignKey("busi_groups.id", ondelete="CASCADE"), nullable=True, index=True
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column(
            "notification_group_id",
            sa.Integer,
            sa.ForeignKey("notification_groups.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("trigger_mode", sa.Integer, nullable=False),
        sa.Column("severity", sa.String(32), nullable=False),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("fail_trigger_tasks", sa.Text, nullable=False),
        sa.Column("recover_trigger_tasks", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
    )
    op.create_table(
        "alert_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "rule_id", sa.Integer, sa.ForeignKey("alert_rules.id", ondelete="SET NULL"), nullable=True, index=True
        ),
        sa.Column("rule_name", sa.String(255), nullable=False),
        sa.Column("rule_kind", sa.String(16), nullable=False),
        sa.Column("owner_id", sa.Integer, nullable=True, index=True),
        sa.Column("busi_group_id", sa.Integer, nullable=True, index=True),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("labels", sa.Text, nullable=False),
        sa.Column("annotations", sa.Text, nullable=False),
        sa.Column("severity", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("server_id", sa.Integer, nullable=True, index=True),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("values", sa.Text, nullable=False),
        _ts("started_at"),
        _ts("fired_at", nullable=True),
        _ts("resolved_at", nullable=True),
        _ts("updated_at"),
        sa.Column("flapping", sa.Boolean, nullable=False),
        sa.Column("silenced", sa.Boolean, nullable=False),
        sa.Column("acked_by", sa.String(64), nullable=False),
        _ts("acked_at", nullable=True),
        sa.Column("notify_count", sa.Integer, nullable=False),
    )
    op.create_index("ix_alert_events_state_fingerprint", "alert_events", ["state", "fingerprint"])
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "event_id", sa.Integer, sa.ForeignKey("alert_events.id", ondelete="CASCADE"), nullable=False, index=True
        ),
        sa.Column(
            "notification_id",
            sa.Integer,
            sa.ForeignKey("notifications.id", ondelete="SET NULL"),
            nullable=True,
            index=True,
        ),
        sa.Column("notification_group_id", sa.Integer, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(128), nullable=False, unique=True),
        sa.Column("group_key", sa.String(512), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        _ts("created_at"),
        _ts("next_attempt_at"),
        _ts("sent_at", nullable=True),
        sa.Column("last_error", sa.Text, nullable=False),
    )
    op.create_index("ix_alert_deliveries_status_next", "alert_deliveries", ["status", "next_attempt_at"])
    op.create_table(
        "alert_delivery_attempts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "delivery_id",
            sa.Integer,
            sa.ForeignKey("alert_deliveries.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        _ts("at"),
        sa.Column("ok", sa.Boolean, nullable=False),
        sa.Column("status_code", sa.Integer, nullable=False),
        sa.Column("response", sa.Text, nullable=False),
    )
    op.create_table(
        "silences",
        sa.Column("id", sa.Integer, primary_key=True),
        _owner(),
        sa.Column(
            "busi_group_id", sa.Integer, sa.ForeignKey("busi_groups.id", ondelete="CASCADE"), nullable=True, index=True
        ),
        sa.Column("matchers", sa.Text, nullable=False),
        _ts("starts_at"),
        _ts("ends_at"),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("extra", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
    )
    op.create_table(
        "maintenance_windows",
        sa.Column("id", sa.Integer, primary_key=True),
        _owner(),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("cron", sa.String(255), nullable=False),
        sa.Column("duration_seconds", sa.Float, nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("server_ids", sa.Text, nullable=False),
        sa.Column("server_group_ids", sa.Text, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
    )


def downgrade() -> None:
    for table in (
        "maintenance_windows",
        "silences",
        "alert_delivery_attempts",
        "alert_deliveries",
        "alert_events",
        "alert_rules",
        "notification_group_members",
        "notification_groups",
        "notifications",
        "server_busi_groups",
        "busi_group_members",
        "busi_groups",
        "user_group_members",
        "user_groups",
    ):
        op.drop_table(table)

"""Ids that are never reused on SQLite: every table with an ``id`` gets AUTOINCREMENT.

Without it SQLite hands the id of the deleted row with the highest id to the next new row, and
history kept elsewhere under that id (server status and service results in the TSDB, cron runs,
alert events, audit records) would then belong to the new object, possibly another user's.
PostgreSQL sequences never go back, so there the revision does nothing.

Each table is rebuilt with its columns, indexes and foreign keys (:func:`heron.meta.db.migrate`
turns SQLite's foreign key actions off meanwhile, so dropping the old table cascades nowhere),
and its sequence starts at the highest id it holds.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

#: Every table whose primary key is a generated ``id`` (the association tables have none).
TABLES = (
    "tenants",
    "databases",
    "users",
    "servers",
    "api_tokens",
    "api_keys",
    "login_sessions",
    "server_groups",
    "monitors",
    "status_pages",
    "notifications",
    "notification_groups",
    "alert_rules",
    "alert_events",
    "alert_deliveries",
    "alert_delivery_attempts",
    "silences",
    "maintenance_windows",
    "user_groups",
    "busi_groups",
    "busi_group_members",
    "ops_audit",
    "ops_cron",
    "ops_cron_runs",
    "ops_nat",
    "ops_ddns",
)


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": True}):
            pass
        _start_sequence_above_max(conn, table)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(table, recreate="always"):
            pass


def _start_sequence_above_max(conn: sa.Connection, table: str) -> None:
    """The next id is above every id the table holds (copying rows usually sets this already)."""
    top = conn.execute(sa.text(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')).scalar_one()
    seq = conn.execute(sa.text("SELECT seq FROM sqlite_sequence WHERE name = :t"), {"t": table}).scalar()
    if seq is None:
        conn.execute(sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES (:t, :s)"), {"t": table, "s": top})
    elif seq < top:
        conn.execute(sa.text("UPDATE sqlite_sequence SET seq = :s WHERE name = :t"), {"t": table, "s": top})

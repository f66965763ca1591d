"""Ids that are never reused on SQLite: every table with an ``id`` gets AUTOINCREMENT.

Without it SQLite hands the id of the deleted row with the highest id to the next new row, and
history kept elsewhere under that id (server status and service results in the TSDB, cron runs,
alert events, audit records) would then belong to the new object, possibly another user's.
PostgreSQL sequences never go back, so there the revision does nothing.

Each table is rebuilt with its columns, indexes and foreign keys (:func:`heron.meta.db.migrate`
turns SQLite's foreign key actions off meanwhile, so dropping the old table cascades nowhere),
and its sequence starts at the highest id it holds or that other rows still name without a
foreign key (:data:`KEPT_REFERENCES`): an object deleted just before the upgrade left no row
behind, but its audit records, cron runs or alerts did, and its id must not come back either.

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

#: Columns that keep an id after its row is deleted (no foreign key, on purpose: a record of what
#: happened outlives its object), with the condition that makes the column's value such an id.
KEPT_REFERENCES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "servers": (
        ("ops_audit", "server_id", ""),
        ("ops_cron_runs", "server_id", ""),
        ("alert_events", "server_id", ""),
        ("status_page_items", "ref_id", "kind = 'server'"),
    ),
    "users": (("ops_audit", "user_id", ""), ("alert_events", "owner_id", "")),
    "busi_groups": (("alert_events", "busi_group_id", ""),),
}


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        return
    for table in TABLES:
        # SQLite runs DDL outside a transaction until the first row is copied: a start stopped
        # right there leaves the first copy behind, which would stop every later start.
        op.execute(f'DROP TABLE IF EXISTS "_alembic_tmp_{table}"')
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
    """The next id is above every id the table holds and every id other rows still keep of it."""
    sources = [f'SELECT MAX(id) FROM "{table}"']
    for other, column, condition in KEPT_REFERENCES.get(table, ()):
        sources.append(f'SELECT MAX("{column}") FROM "{other}"' + (f" WHERE {condition}" if condition else ""))
    tops = [conn.execute(sa.text(query)).scalar() for query in sources]
    top = max((t for t in tops if t is not None), default=0)
    seq = conn.execute(sa.text("SELECT seq FROM sqlite_sequence WHERE name = :t"), {"t": table}).scalar()
    if seq is None:
        conn.execute(sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES (:t, :s)"), {"t": table, "s": top})
    elif seq < top:
        conn.execute(sa.text("UPDATE sqlite_sequence SET seq = :s WHERE name = :t"), {"t": table, "s": top})

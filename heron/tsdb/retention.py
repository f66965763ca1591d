"""Retention: delete what is older than a database's TTL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb

from heron.tsdb.names import qualified
from heron.tsdb.store import timed_tables


def expire(con: duckdb.DuckDBPyConnection, schema: str, *, ttl_seconds: int, now: datetime | None = None) -> int:
    """Delete rows older than ``ttl_seconds`` from every table of ``schema``; return how many."""
    if ttl_seconds <= 0:
        return 0
    cutoff = (now or datetime.now(UTC)) - timedelta(seconds=ttl_seconds)
    naive_cutoff = cutoff.astimezone(UTC).replace(tzinfo=None)
    deleted = 0
    for table in timed_tables(con, schema):
        rows = con.execute(
            f"DELETE FROM {qualified(schema, table)} WHERE time < CAST(? AS TIMESTAMP_NS)", [naive_cutoff]
        ).fetchall()
        deleted += int(rows[0][0]) if rows else 0
    return deleted

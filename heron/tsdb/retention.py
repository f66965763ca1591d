"""Retention: delete what is older than a database's TTL, and drop tables without a trace.

Rollup tiers (:mod:`heron.tsdb.rollups`) keep their own TTLs. Both run on the write
connection in the writer thread (:meth:`heron.tsdb.writer.Writer.call`), after everything
acknowledged is applied, so they never race the applier and the metric
store's registry (which maps series keys to ids) can be changed with the rows: a series
whose last sample expires loses its row in ``_heron_series`` and its id, so the same series
coming back later is a new one, and nothing of a dropped metric stays behind.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb

from heron.tsdb import metrics as ms
from heron.tsdb.names import qualified
from heron.tsdb.rollups import RollupRule, is_rollup, tier_of
from heron.tsdb.store import list_tables, timed_tables


@dataclass(frozen=True, slots=True)
class Expired:
    """What one retention run deleted: rows of every table, and series left without samples."""

    rows: int
    series: int = 0


def expire(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    *,
    ttl_seconds: int,
    now: datetime | None = None,
    registry: ms.Registry | None = None,
    rollups: tuple[RollupRule, ...] = (),
) -> Expired:
    """Delete rows older than ``ttl_seconds`` from every table of ``schema`` and rows of
    each rollup tier older than its own TTL, then the series whose last samples went with
    them (forgotten by ``registry`` too)."""
    moment = now or datetime.now(UTC)
    tier_ttl = {r.interval_seconds: r.ttl_seconds for r in rollups}
    deleted = 0
    samples_deleted = 0
    for table in timed_tables(con, schema):
        tier = tier_of(table)
        if tier is not None:
            ttl = tier_ttl.get(tier[0], 0)
        elif is_rollup(table):
            continue
        else:
            ttl = ttl_seconds
        if ttl <= 0:
            continue
        count = _delete_before(con, schema, table, moment - timedelta(seconds=ttl))
        deleted += count
        if table == ms.SAMPLES:
            samples_deleted = count
    if not samples_deleted or registry is None:
        # Series rows go only together with the registry's ids: a key still mapped to an id
        # whose row is gone would hide that series' later samples from its view.
        return Expired(deleted)
    gone = _delete_series(
        con, schema, f"{ms.SERIES_ID} NOT IN (SELECT DISTINCT {ms.SERIES_ID} FROM {qualified(schema, ms.SAMPLES)})"
    )
    for key in gone:
        registry.series.pop(key, None)
    return Expired(deleted, len(gone))


def _delete_before(con: duckdb.DuckDBPyConnection, schema: str, table: str, cutoff: datetime) -> int:
    naive_cutoff = cutoff.astimezone(UTC).replace(tzinfo=None)
    rows = con.execute(
        f"DELETE FROM {qualified(schema, table)} WHERE time < CAST(? AS TIMESTAMP_NS)", [naive_cutoff]
    ).fetchall()
    return int(rows[0][0]) if rows else 0


def drop_table(con: duckdb.DuckDBPyConnection, schema: str, name: str, *, registry: ms.Registry | None) -> bool:
    """Drop a table or a metric of ``schema``; False if there is none by that name.

    A metric takes its samples, its series (and their ids), its definition and its view
    with it; an ordinary table is dropped as a whole.
    """
    low = name.lower()
    mdef = registry.metrics.get(low) if registry is not None else None
    if mdef is not None and registry is not None:
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(f"DELETE FROM {qualified(schema, ms.SAMPLES)} WHERE {ms.METRIC_ID} = {mdef.id}")
            for tier in _tiers(con, schema, None):
                con.execute(f"DELETE FROM {qualified(schema, tier)} WHERE {ms.METRIC_ID} = {mdef.id}")
            gone = _delete_series(con, schema, f"{ms.METRIC_ID} = {mdef.id}")
            con.execute(f"DELETE FROM {qualified(schema, ms.METRICS)} WHERE {ms.METRIC_ID} = {mdef.id}")
            con.execute(f"DROP VIEW IF EXISTS {qualified(schema, mdef.name)}")
            con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                con.execute("ROLLBACK")
            raise
        for key in gone:
            registry.series.pop(key, None)
        del registry.metrics[low]
        return True
    for table in list_tables(con, schema):
        if table.lower() == low and low not in ms.INTERNAL_TABLES:
            con.execute(f"DROP TABLE {qualified(schema, table)}")
            for tier in _tiers(con, schema, low):
                con.execute(f"DROP TABLE {qualified(schema, tier)}")
            return True
    return False


def _tiers(con: duckdb.DuckDBPyConnection, schema: str, table: str | None) -> list[str]:
    """Rollup tables of ``table`` (lower case), or of the metric store for None."""
    out = []
    for name in list_tables(con, schema):
        tier = tier_of(name)
        if tier is not None and tier[1] == table:
            out.append(name)
    return out


def _delete_series(con: duckdb.DuckDBPyConnection, schema: str, where: str) -> list[str]:
    """Delete the series rows matching ``where``; their keys."""
    if ms.SERIES not in list_tables(con, schema):
        return []
    rows = con.execute(f"DELETE FROM {qualified(schema, ms.SERIES)} WHERE {where} RETURNING {ms.SERIES_KEY}").fetchall()
    return [str(key) for (key,) in rows]

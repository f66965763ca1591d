"""The SQL behind the history routes, over ``service_results`` (tenant cnosdb, database public).

Queries run through the SQL sandbox (time limit, row limit) and aggregate in DuckDB, so
Python sees one row per bucket, never one per result:

* :func:`history` — per vantage point, buckets of 30 s for ``1d``, 5 min for ``7d`` and
  30 min for ``30d`` (at most 2,880 points a curve), each with its average delay over the
  successful checks and its up and down counts; ``total_up``/``total_down`` are sums of
  counts, so ``up_percent`` is exact, not sampled. ``1d`` reads the raw results; ``7d`` and
  ``30d`` read the 5-minute and 30-minute rollups (:data:`heron.probes.board.ROLLUP_TABLES`)
  before the board's ``rolled_up_until`` and raw results after it: 30 days of one monitor
  seen from 10 places every 30 s are 864,000 results but 14,400 rows of 30-minute rollups.
* :func:`uptime` — exact up percentages over 24 h, 7 d, 30 d and 90 d from counts.
* :func:`daily_totals` — per monitor and UTC day for the overview, read once at start.
* :func:`daily_uptime` — per monitor and UTC day over up to 90 days, for uptime bars.
* :func:`state_changes` — a monitor's latest state changes (its incidents), newest first.
"""

from __future__ import annotations

import operator
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import duckdb

from heron.probes.board import DAY_SECONDS, EVENTS_TABLE, OVERVIEW_DAYS, RESULTS_TABLE, ROLLUP_TABLES
from heron.tsdb.sandbox import run_select

#: Each period's length and bucket, in seconds (as the server metrics history).
PERIODS: dict[str, tuple[int, int]] = {
    "1d": (86_400, 30),
    "7d": (7 * 86_400, 300),
    "30d": (30 * 86_400, 1_800),
}
UPTIME_WINDOWS: dict[str, int] = {"24h": 86_400, "7d": 7 * 86_400, "30d": 30 * 86_400, "90d": 90 * 86_400}


@dataclass(frozen=True, slots=True)
class Reader:
    """Where history lives and the sandbox's limits."""

    con: duckdb.DuckDBPyConnection
    schema: str
    tables: frozenset[str]
    timeout_seconds: float
    max_rows: int

    def rows(self, sql: str) -> Iterator[tuple[Any, ...]]:
        for columns in self.columns(sql):
            yield from zip(*columns, strict=True)

    def columns(self, sql: str) -> Iterator[list[list[Any]]]:
        """The answer's columns as Python lists, one batch at a time (no per-row Python work)."""
        if RESULTS_TABLE not in self.tables:
            return
        stream = run_select(
            self.con, self.schema, sql, timeout_seconds=self.timeout_seconds, max_rows=self.max_rows, tables=self.tables
        )
        try:
            for batch in stream:
                yield [c.to_pylist() for c in batch.columns]
        finally:
            stream.close()


@dataclass(slots=True)
class VantageHistory:
    """One curve as columns: bucket start (ms), average delay of the successes, ups, downs."""

    server_id: int
    ts: list[int] = field(default_factory=list)
    delay: list[float] = field(default_factory=list)
    ups: list[int] = field(default_factory=list)
    downs: list[int] = field(default_factory=list)

    @property
    def total_up(self) -> int:
        return sum(self.ups)

    @property
    def total_down(self) -> int:
        return sum(self.downs)

    @property
    def avg_delay(self) -> float:
        weight = self.total_up
        return round(sum(map(operator.mul, self.delay, self.ups)) / weight, 3) if weight else 0.0

    @property
    def up_percent(self) -> float:
        total = self.total_up + self.total_down
        return round(100.0 * self.total_up / total, 3) if total else 0.0


def _since(now: float, seconds: int) -> str:
    return f"make_timestamp({int((now - seconds) * 1_000_000)})"


def history_sql(
    *,
    bucket_seconds: int,
    since_seconds: int,
    now: float,
    service_id: int | None = None,
    server_id: int | None = None,
    rolled_up_until: float | None = None,
    rollup_table: str = "",
) -> str:
    """Buckets per (service, vantage point); every value in it is a number Heron made.

    With ``rolled_up_until``, results before it come from ``rollup_table`` and after it from
    the raw one (``bucket_seconds`` must then be a multiple of that table's bucket).
    """
    where = [f"time >= {_since(now, since_seconds)}"]
    if service_id is not None:
        where.append(f"service_id = '{int(service_id)}'")
    if server_id is not None:
        where.append(f"server_id = '{int(server_id)}'")
    raw_where = list(where)
    if rollup_table and rollup_table not in ROLLUP_TABLES.values():
        raise ValueError(f"not a rollup table: {rollup_table!r}")
    parts = []
    if rolled_up_until is not None and rollup_table:
        cut = f"make_timestamp({int(rolled_up_until * 1_000_000)})"
        raw_where.append(f"time >= {cut}")
        parts.append(
            "SELECT service_id, server_id, time, delay_sum, delay_count, ups, downs "
            f"FROM {rollup_table} WHERE {' AND '.join([*where, f'time < {cut}'])}"
        )
    parts.append(
        "SELECT service_id, server_id, time, CASE WHEN up = 1 THEN delay_ms END AS delay_sum, "
        "CAST(up = 1 AND delay_ms IS NOT NULL AS BIGINT) AS delay_count, up AS ups, 1 - up AS downs "
        f"FROM {RESULTS_TABLE} WHERE {' AND '.join(raw_where)}"
    )
    bucket_ms = int(bucket_seconds) * 1000
    return (
        "SELECT CAST(service_id AS BIGINT) AS service, CAST(server_id AS BIGINT) AS server, "
        f"epoch_ns(time) // {bucket_ms * 1_000_000} * {bucket_ms} AS ts, "
        "coalesce(round(sum(delay_sum) / nullif(sum(delay_count), 0), 3), 0.0) AS delay, "
        "CAST(sum(ups) AS BIGINT) AS ups, CAST(sum(downs) AS BIGINT) AS downs "
        f"FROM ({' UNION ALL '.join(parts)}) GROUP BY ALL ORDER BY service, server, ts"
    )


def _curves(reader: Reader, sql: str, key_column: int, server_id: int | None) -> dict[int, VantageHistory]:
    """Split the ordered answer into one curve per value of column ``key_column`` (0 service, 1 server)."""
    out: dict[int, VantageHistory] = {}
    for columns in reader.columns(sql):
        keys, ts, delay, ups, downs = columns[key_column], columns[2], columns[3], columns[4], columns[5]
        start = 0
        while start < len(keys):
            end = start
            while end < len(keys) and keys[end] == keys[start]:
                end += 1
            key = int(keys[start])
            curve = out.setdefault(key, VantageHistory(server_id if server_id is not None else key))
            curve.ts += ts[start:end]
            curve.delay += delay[start:end]
            curve.ups += ups[start:end]
            curve.downs += downs[start:end]
            start = end
    return out


def rollup_for(reader: Reader, bucket_seconds: int) -> str:
    """The coarsest rollup table whose bucket divides ``bucket_seconds`` (empty: read raw results)."""
    sizes = [size for size in ROLLUP_TABLES if bucket_seconds % size == 0 and ROLLUP_TABLES[size] in reader.tables]
    return ROLLUP_TABLES[max(sizes)] if sizes else ""


def history(
    reader: Reader, service_id: int, period: str, *, rolled_up_until: float, now: float | None = None
) -> dict[int, VantageHistory]:
    """One monitor's buckets over ``period``, by vantage point."""
    span, bucket = PERIODS[period]
    sql = history_sql(
        bucket_seconds=bucket,
        since_seconds=span,
        now=now or time.time(),
        service_id=service_id,
        rolled_up_until=rolled_up_until,
        rollup_table=rollup_for(reader, bucket),
    )
    return _curves(reader, sql, 1, None)


def server_history(
    reader: Reader,
    server_id: int,
    *,
    span_seconds: int,
    bucket_seconds: int,
    rolled_up_until: float | None,
    now: float | None = None,
) -> dict[int, VantageHistory]:
    """Every monitor's buckets as seen from one vantage point, by monitor (rollups when
    ``rolled_up_until`` is given and a rollup's bucket divides ``bucket_seconds``)."""
    sql = history_sql(
        bucket_seconds=bucket_seconds,
        since_seconds=span_seconds,
        now=now or time.time(),
        server_id=server_id,
        rolled_up_until=rolled_up_until,
        rollup_table=rollup_for(reader, bucket_seconds),
    )
    return _curves(reader, sql, 0, server_id)


def uptime(reader: Reader, service_id: int, *, now: float | None = None) -> dict[str, float | None]:
    """Exact up percentage per window (None where the window has no result)."""
    at = now or time.time()
    columns = ", ".join(
        f"sum(up) FILTER (WHERE time >= {_since(at, s)}), count(*) FILTER (WHERE time >= {_since(at, s)})"
        for s in UPTIME_WINDOWS.values()
    )
    sql = (
        f"SELECT {columns} FROM {RESULTS_TABLE} "
        f"WHERE service_id = '{int(service_id)}' AND time >= {_since(at, max(UPTIME_WINDOWS.values()))}"
    )
    found = next(iter(reader.rows(sql)), None)
    out: dict[str, float | None] = dict.fromkeys(UPTIME_WINDOWS)
    if found is None:
        return out
    for i, name in enumerate(UPTIME_WINDOWS):
        ups, count = found[2 * i], found[2 * i + 1]
        out[name] = round(100.0 * int(ups or 0) / int(count), 4) if count else None
    return out


def daily_totals(
    reader: Reader, *, until: float, now: float | None = None
) -> list[tuple[int, int, int, int, float, int]]:
    """(monitor, UTC day, ups, downs, delay sum, delay count) over the overview's days, for results
    before ``until`` (those after it the board counted itself)."""
    at = now or time.time()
    start_day = int(at // DAY_SECONDS) - OVERVIEW_DAYS + 1
    sql = (
        "SELECT CAST(service_id AS BIGINT), epoch_ns(time) // 86400000000000 AS day, "
        "sum(up), count(*) - sum(up), coalesce(sum(delay_ms) FILTER (WHERE up = 1), 0), "
        "count(delay_ms) FILTER (WHERE up = 1) "
        f"FROM {RESULTS_TABLE} WHERE time >= make_timestamp({start_day * DAY_SECONDS * 1_000_000}) "
        f"AND time < make_timestamp({int(until * 1_000_000)}) GROUP BY ALL"
    )
    return [
        (int(m), int(d), int(u or 0), int(dn or 0), float(s or 0.0), int(c or 0))
        for m, d, u, dn, s, c in reader.rows(sql)
    ]


#: Most days :func:`daily_uptime` covers (the status page's and the UI's bars).
MAX_DAILY_DAYS = 90


def _created(since: float) -> str:
    """Results since the monitor was created: the id of a deleted monitor may be given to a new one."""
    return f"make_timestamp({int(since * 1_000_000)})"


def daily_uptime(
    reader: Reader, created: dict[int, float], *, days: int, now: float | None = None
) -> dict[int, dict[int, tuple[int, int]]]:
    """Up and down counts per monitor and UTC day (day = Unix days), today included, from every
    result since each monitor's creation (``created``: monitor id -> Unix seconds)."""
    if not created:
        return {}
    at = now or time.time()
    start_day = int(at // DAY_SECONDS) - days + 1
    each = " OR ".join(f"(service_id = '{int(m)}' AND time >= {_created(t)})" for m, t in created.items())
    sql = (
        "SELECT CAST(service_id AS BIGINT), epoch_ns(time) // 86400000000000 AS day, sum(up), count(*) - sum(up) "
        f"FROM {RESULTS_TABLE} WHERE ({each}) "
        f"AND time >= make_timestamp({start_day * DAY_SECONDS * 1_000_000}) GROUP BY ALL"
    )
    out: dict[int, dict[int, tuple[int, int]]] = {}
    for m, d, up, down in reader.rows(sql):
        out.setdefault(int(m), {})[int(d)] = (int(up or 0), int(down or 0))
    return out


#: Most state changes :func:`state_changes` answers.
MAX_EVENTS = 500


def state_changes(reader: Reader, service_id: int, *, created: float, limit: int) -> list[dict[str, Any]]:
    """The monitor's latest state changes per vantage point since it was created, newest first
    (what incidents are made of)."""
    if EVENTS_TABLE not in reader.tables:
        return []
    sql = (
        "SELECT epoch_ns(time) // 1000000, CAST(server_id AS BIGINT), server_name, previous, state, reason "
        f"FROM {EVENTS_TABLE} WHERE service_id = '{int(service_id)}' AND time >= {_created(created)} "
        f"ORDER BY time DESC LIMIT {int(limit)}"
    )
    return [
        {"at": int(at), "server_id": int(sid), "server_name": name, "previous": prev, "state": state, "reason": reason}
        for at, sid, name, prev, state, reason in reader.rows(sql)
    ]

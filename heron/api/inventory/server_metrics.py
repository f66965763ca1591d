"""``GET /api/v1/server/{id}/metrics?metric=&period=``: a server's history in Nezha v1's shape.

History is the ``server_status`` table of tenant ``cnosdb``, database ``public`` (written by
the inventory, see :mod:`heron.inventory.live`), read through the SQL sandbox (time limit,
row limit) and averaged per time bucket: 30 seconds for ``1d``, 5 minutes for ``7d`` and
30 minutes for ``30d``, so a curve has at most about 2,900 points. Counters (transfer totals,
uptime) take the bucket's largest value instead of the mean. Buckets start on multiples of
their size (Unix time), the first one included whole.

Where the database has rollups (``ALTER DATABASE public SET ROLLUPS '5m:90d'``, see
docs/storage.md) whose interval divides the bucket and which are kept for the whole period,
the part of the curve that compaction has finished comes from the rollup table (a few rows
per bucket instead of one per report) and the rest from raw rows; both give the same
numbers, and a curve reaches back past the raw rows' TTL as far as the rollup does.

Who may read it: whoever may read the server (admins all, members their own, guests those
not hidden from guests), and guests only the ``1d`` period (Nezha's rule, in
:mod:`heron.auth.permissions`). A server without history answers an empty ``data_points``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from heron.api.deps import current_principal, services
from heron.api.inventory.server_list import server_resource
from heron.api.inventory.servers import current_view
from heron.api.schemas import ObjectId
from heron.api.services import Services
from heron.auth.permissions import Action, Resource, allowed, require
from heron.auth.users import Principal
from heron.core.errors import BadRequest, NotFound
from heron.inventory.live import STATUS_TABLE
from heron.inventory.view import ServerView
from heron.meta.namespaces import DEFAULT_DATABASE, DEFAULT_TENANT
from heron.tsdb.names import quote_ident, schema_for
from heron.tsdb.rollups import NS_PER_SECOND, rollup_table
from heron.tsdb.sandbox import run_select

router = APIRouter(tags=["heron"], dependencies=[Depends(current_principal)])

#: Nezha v1's metric names, the ``server_status`` column each reads, and how a bucket is summarised.
METRICS: dict[str, tuple[str, str]] = {
    "cpu": ("cpu", "avg"),
    "memory": ("mem_used", "avg"),
    "swap": ("swap_used", "avg"),
    "disk": ("disk_used", "avg"),
    "net_in_speed": ("net_in_speed", "avg"),
    "net_out_speed": ("net_out_speed", "avg"),
    "net_in_transfer": ("net_in_transfer", "max"),
    "net_out_transfer": ("net_out_transfer", "max"),
    "load1": ("load1", "avg"),
    "load5": ("load5", "avg"),
    "load15": ("load15", "avg"),
    "tcp_conn": ("tcp_conn", "avg"),
    "udp_conn": ("udp_conn", "avg"),
    "process_count": ("process_count", "avg"),
    "temperature": ("temperature", "avg"),
    "uptime": ("uptime", "max"),
    "gpu": ("gpu", "avg"),
}
#: Each period's length and bucket, in seconds.
PERIODS: dict[str, tuple[int, int]] = {
    "1d": (86_400, 30),
    "7d": (7 * 86_400, 300),
    "30d": (30 * 86_400, 1_800),
}


@dataclass(frozen=True, slots=True)
class RollupSource:
    """Read buckets before ``until_ns`` from ``table``, a rollup of ``server_status``."""

    table: str
    until_ns: int


def metrics_sql(server_id: int, metric: str, period: str, *, now: float, rollup: RollupSource | None = None) -> str:
    """The query for one curve; every value in it is a number or a name from the tables above."""
    column, summary = METRICS[metric]
    span, bucket = PERIODS[period]
    since_ns = (int(now) - span) // bucket * bucket * NS_PER_SECOND
    ts = f"epoch_ms(time_bucket(INTERVAL '{bucket} seconds', CAST(time AS TIMESTAMP)))"
    where = f"server_id = '{int(server_id)}' AND time >= make_timestamp_ns({since_ns})"
    if rollup is None:
        return (
            f"SELECT {ts} AS ts, {summary}({column}) AS value FROM {STATUS_TABLE} "
            f"WHERE {where} AND {column} IS NOT NULL GROUP BY ts ORDER BY ts"
        )
    # Sum and count (or the largest value) of each piece, so that the buckets' means are
    # the same whether a piece is a rollup interval or a raw row.
    cut = f"make_timestamp_ns({rollup.until_ns})"
    value = "sum(s) / sum(n)" if summary == "avg" else "max(m)"
    return (
        f"SELECT {ts} AS ts, {value} AS value FROM ("
        f"SELECT time, {column}_sum AS s, {column}_count AS n, {column}_max AS m FROM {quote_ident(rollup.table)} "
        f"WHERE {where} AND time < {cut} AND {column}_count > 0 "
        "UNION ALL "
        f"SELECT time, {column} AS s, 1 AS n, {column} AS m FROM {STATUS_TABLE} "
        f"WHERE {where} AND time >= {cut} AND {column} IS NOT NULL"
        ") GROUP BY ts ORDER BY ts"
    )


def rollup_source(
    svc: Services, schema: str, tables: frozenset[str], period: str, *, now: float
) -> RollupSource | None:
    """The coarsest rollup that answers ``period`` exactly, and up to where; None: raw rows only."""
    span, bucket = PERIODS[period]
    compactor = svc.writer.compactor
    usable = [
        rule
        for rule in compactor.rollups.get(schema, ())
        if bucket % rule.interval_seconds == 0 and (rule.ttl_seconds == 0 or rule.ttl_seconds >= span)
    ]
    if not usable:
        return None
    table = rollup_table(STATUS_TABLE, max(usable, key=lambda r: r.interval_seconds))
    clean = compactor.clean_before(schema, STATUS_TABLE)
    if table not in tables or clean is None:
        return None
    # The window being written now always comes from raw rows: its rollup lags by a step.
    current = int(now * NS_PER_SECOND) // compactor.window_ns * compactor.window_ns
    return RollupSource(table, min(clean, current))


def read_points(svc: Services, server_id: int, metric: str, period: str) -> list[dict[str, Any]]:
    # The inventory writes history to the default namespace (``LIVE_TENANT``/``LIVE_DATABASE`` in app.py).
    schema = schema_for(DEFAULT_TENANT, DEFAULT_DATABASE)
    tables = svc.writer.table_names(schema)
    if STATUS_TABLE not in tables:
        return []
    now = time.time()
    rollup = rollup_source(svc, schema, tables, period, now=now)
    stream = run_select(
        svc.tsdb,
        schema,
        metrics_sql(server_id, metric, period, now=now, rollup=rollup),
        timeout_seconds=svc.settings.query_timeout_seconds,
        max_rows=svc.settings.max_result_rows,
        tables=tables,
    )
    points: list[dict[str, Any]] = []
    try:
        for batch in stream:
            for ts, value in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True):
                points.append({"ts": int(ts), "value": round(float(value), 4)})
    finally:
        stream.close()
    return points


@router.get("/api/v1/server/{server_id}/metrics", summary="A server's history of one metric (Nezha v1)")
async def server_metrics(
    server_id: ObjectId,
    metric: str = Query(description="cpu, memory, swap, disk, net_in_speed, ... (Nezha v1's names)"),
    period: str = Query("1d", description="1d (30 s buckets), 7d (5 min) or 30d (30 min); guests: 1d only"),
    svc: Services = Depends(services),
    principal: Principal = Depends(current_principal),
) -> dict[str, Any]:
    if metric not in METRICS:
        raise BadRequest(f"unknown metric {metric!r}; one of: {', '.join(METRICS)}")
    if period not in PERIODS:
        raise BadRequest(f"unknown period {period!r}; one of: {', '.join(PERIODS)}")
    info = await run_in_threadpool(svc.hosts.by_id, server_id)
    view: ServerView | None = current_view(svc, info) if info is not None else None
    if view is None or not allowed(principal, Action.READ, server_resource(view)):
        # A server the caller may not see does not exist for them (its id says nothing).
        raise NotFound(f"no server with id {server_id}")
    require(principal, Action.READ, Resource("history", owner_id=view.info.owner_id, period=period))
    # Readers see every acknowledged write: apply what waits in the write-ahead log first.
    if not svc.writer.caught_up():
        await asyncio.wrap_future(svc.writer.sync())
    points = await run_in_threadpool(read_points, svc, server_id, metric, period)
    return {
        "success": True,
        "data": {"server_id": view.info.id, "server_name": view.info.name, "metric": metric, "data_points": points},
    }

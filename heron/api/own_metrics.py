"""Heron's own metrics over HTTP: counting requests, ``GET /metrics``, and storing them in the TSDB.

* :class:`MetricsMiddleware` counts every HTTP request by route template (never the raw
  path, so ids in paths cannot grow the label set), method and status, times it, and on
  ingest routes counts the body bytes and names the protocol for the write path
  (:data:`heron.core.telemetry.PROTOCOL`), which counts the points written.
* ``GET /metrics`` serves :data:`heron.core.telemetry.REGISTRY` in Prometheus's text format,
  to any Heron user (a scrape configuration gives ``basic_auth`` or a token).
* :func:`store_loop` writes the same samples into database ``public`` every
  ``self_metrics_interval_seconds``, as metrics PromQL reads (``heron_http_requests_total``...).
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
from fastapi import APIRouter, Depends
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from heron.api.deps import current_user
from heron.api.ingest.batches import write_batches
from heron.api.services import Services
from heron.core import telemetry
from heron.core.batch import Batch
from heron.meta.namespaces import DEFAULT_DATABASE, DEFAULT_TENANT

log = logging.getLogger(__name__)

#: Ingest routes by path, and the protocol each counts under.
INGEST_PROTOCOLS: dict[str, str] = {
    "/api/v1/write": "line_protocol",
    "/write": "line_protocol",
    "/api/v2/write": "line_protocol",
    "/opentsdb/put": "opentsdb",
    "/api/put": "opentsdb",
    "/api/v1/opentsdb/write": "opentsdb",
    "/api/v1/opentsdb/put": "opentsdb",
    "/openfalcon/push": "openfalcon",
    "/prometheus/v1/write": "remote_write",
    "/api/v1/prom/write": "remote_write",
    "/api/v1/es/_bulk": "es_bulk",
    "/loki/api/v1/push": "loki",
    "/api/v1/traces": "otlp",
    "/v1/traces": "otlp",
    "/v1/n9e/heartbeat": "heartbeat",
}
_PREFIXES = (("/datadog/", "datadog"),)


def protocol_of(path: str) -> str:
    found = INGEST_PROTOCOLS.get(path)
    if found is not None:
        return found
    return next((name for prefix, name in _PREFIXES if path.startswith(prefix)), "")


class MetricsMiddleware:
    """Counts and times HTTP requests; see the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        protocol = protocol_of(scope.get("path", ""))
        token = telemetry.PROTOCOL.set(protocol) if protocol else None
        counted = receive
        if protocol:
            bytes_in = telemetry.INGEST_BYTES.labels(protocol=protocol)

            async def counting() -> Message:
                message = await receive()
                if message["type"] == "http.request":
                    bytes_in.inc(len(message.get("body", b"")))
                return message

            counted = counting

        async def tracking(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, counted, tracking)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            telemetry.HTTP_REQUESTS.labels(route=template, method=scope.get("method", ""), status=str(status)).inc()
            telemetry.HTTP_SECONDS.labels(route=template).observe(time.perf_counter() - started)
            if token is not None:
                telemetry.PROTOCOL.reset(token)


#: Like every read of Heron's data, ``/metrics`` needs a user (a scrape config's ``basic_auth``).
router = APIRouter(tags=["heron"], dependencies=[Depends(current_user)])


@router.get("/metrics", response_class=Response, summary="Heron's own metrics, in Prometheus's text format")
async def own_metrics() -> Response:
    return Response(generate_latest(telemetry.REGISTRY), media_type=CONTENT_TYPE_LATEST)


def _directory_bytes(path: Path) -> float:
    try:
        return float(sum(p.stat().st_size for p in path.iterdir() if p.is_file()))
    except OSError:
        return 0.0


def watch_services(svc: Services) -> None:
    """The gauges read at scrape time: queue depth, WAL size, agents connected."""
    wal_dir = svc.settings.data_dir / "tsdb" / "wal"
    telemetry.watch(
        "heron_write_queue_rows", "Rows accepted and waiting for the writer's next group commit.",
        lambda: svc.writer.queued_rows,
    )  # fmt: skip
    telemetry.watch(
        "heron_wal_bytes", "Size of the write-ahead log's segments on disk.", lambda: _directory_bytes(wal_dir)
    )
    telemetry.watch(
        "heron_agents_connected", "Servers with an agent connected now.", lambda: svc.live.agents_connected()
    )


def registry_batches(now_ns: int) -> list[Batch]:
    """The registry's samples as metric batches (one per sample name), stamped ``now_ns``."""
    by_name: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in telemetry.REGISTRY.collect():
        for sample in family.samples:
            if sample.name.endswith("_created"):
                continue
            by_name.setdefault(sample.name, []).append((dict(sample.labels), float(sample.value)))
    batches = []
    for name, rows in by_name.items():
        label_names = sorted({k for labels, _ in rows for k in labels})
        tags = {k: pa.array([labels.get(k) for labels, _ in rows], pa.string()) for k in label_names}
        batches.append(
            Batch(
                table=name,
                time=pa.array([now_ns] * len(rows), pa.int64()),
                tags=tags,
                fields={"value": pa.array([v for _, v in rows], pa.float64())},
            )
        )
    return batches


async def store_loop(svc: Services) -> None:
    """Write Heron's own metrics into its TSDB every ``self_metrics_interval_seconds``."""
    interval = svc.settings.self_metrics_interval_seconds
    while True:
        await asyncio.sleep(interval)
        try:
            batches = await asyncio.to_thread(registry_batches, time.time_ns())
            await write_batches(
                svc, tenant=DEFAULT_TENANT, database=DEFAULT_DATABASE, batches=batches, atomic=False, metrics=True
            )
        except Exception:
            log.exception("storing Heron's own metrics failed; will retry")


__all__: list[Any] = ["MetricsMiddleware", "router", "store_loop", "watch_services"]

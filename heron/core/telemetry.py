"""Heron's own metrics: one ``prometheus-client`` registry every layer may count into.

This module does no I/O, so the store, the ingest routes and the background loops can
all import it (DESIGN.md §2: ``core`` is the bottom layer). Values that are read rather
than counted (queue depth, WAL size, agents connected) are gauges whose reading function
the API layer supplies with :func:`watch`, so the reading happens at scrape time.

The metric names are listed in ``docs/promql.md``; ``GET /metrics`` serves them in the
text exposition format, and ``self_metrics_interval_seconds`` stores them in Heron's own
TSDB so rules can alert on Heron itself.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

#: Buckets for durations from a fraction of a millisecond to a minute.
SECONDS_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

HTTP_REQUESTS = Counter(
    "heron_http_requests",
    "HTTP requests answered, by route template, method and status code.",
    ["route", "method", "status"],
    registry=REGISTRY,
)
HTTP_SECONDS = Histogram(
    "heron_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by route template.",
    ["route"],
    buckets=SECONDS_BUCKETS,
    registry=REGISTRY,
)
INGEST_POINTS = Counter(
    "heron_ingest_points",
    "Points (rows or samples) written, by ingest protocol.",
    ["protocol"],
    registry=REGISTRY,
)
INGEST_BYTES = Counter(
    "heron_ingest_bytes",
    "Request body bytes received on ingest routes, as sent (before decompression), by protocol.",
    ["protocol"],
    registry=REGISTRY,
)
WAL_FSYNC_SECONDS = Histogram(
    "heron_wal_fsync_duration_seconds",
    "Time one fsync of the write-ahead log took (one per group commit).",
    buckets=SECONDS_BUCKETS,
    registry=REGISTRY,
)
FLUSH_SECONDS = Histogram(
    "heron_tsdb_flush_duration_seconds",
    "Time one application of the write-ahead log to DuckDB took (one transaction).",
    buckets=SECONDS_BUCKETS,
    registry=REGISTRY,
)
ROWS_APPLIED = Counter(
    "heron_tsdb_rows_applied",
    "Rows applied to DuckDB, by table (the metric store's samples table for metric protocols).",
    ["table"],
    registry=REGISTRY,
)
QUARANTINED_RECORDS = Counter(
    "heron_tsdb_quarantined_records",
    "Logged records DuckDB refused and the writer moved to the quarantine (heron wal inspect).",
    registry=REGISTRY,
)
APPLY_FAILURES = Counter(
    "heron_tsdb_apply_failures",
    "Applications of the write-ahead log that failed for a reason not the records' own (retried).",
    registry=REGISTRY,
)
QUERY_SECONDS = Histogram(
    "heron_query_duration_seconds",
    "Time a PromQL API call took, by API (query, query_range, series, labels, label_values, read).",
    ["api"],
    buckets=SECONDS_BUCKETS,
    registry=REGISTRY,
)

#: The ingest protocol of the request being handled (set by the HTTP middleware), so the
#: one write path can count points per protocol without every route passing it down.
PROTOCOL: contextvars.ContextVar[str] = contextvars.ContextVar("heron_protocol", default="")


class _Watched(Collector):
    """Gauges whose values are read when the registry is collected."""

    def __init__(self) -> None:
        self._gauges: dict[str, tuple[str, Callable[[], float]]] = {}

    def add(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        self._gauges[name] = (documentation, read)

    def collect(self) -> Iterator[Metric]:
        for name, (documentation, read) in sorted(self._gauges.items()):
            yield GaugeMetricFamily(name, documentation, value=float(read()))

    def describe(self) -> Iterator[Metric]:
        return iter(())


_WATCHED = _Watched()
REGISTRY.register(_WATCHED)


def watch(name: str, documentation: str, read: Callable[[], float]) -> None:
    """Register (or replace) a gauge read by calling ``read`` at each scrape."""
    _WATCHED.add(name, documentation, read)
